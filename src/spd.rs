//! Symmetric positive-definite matrices, given either as eigenvalues plus a rotation or densely.
//!
//! `M = U diag(lambda) U^T` with `U` orthogonal (columns are eigenvectors). Keeping the
//! eigendecomposition is what makes the exact theory O(d) for `C = H` and O(d^3) otherwise.

use crate::error::{ensure, ProblemError};
use crate::rng;
use nalgebra::{DMatrix, DVector};
use rand_distr::{Distribution, StandardNormal};

/// How the eigenvectors are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// `U = I`: the matrix is diagonal.
    Identity,
    /// A Haar-random orthogonal matrix drawn from this seed.
    Seeded(u64),
    /// The Householder reflection `P = I - 2 u u^T / u^T u`.
    Householder(Vec<f64>),
    /// An explicit orthogonal matrix whose columns are the eigenvectors.
    Matrix(DMatrix<f64>),
}

/// A symmetric positive-definite matrix with its eigendecomposition.
#[derive(Debug, Clone, PartialEq)]
pub struct SpdMatrix {
    eigenvalues: DVector<f64>,
    /// Eigenvectors as columns; `None` means the identity.
    basis: Option<DMatrix<f64>>,
}

const ORTHO_TOL: f64 = 1e-8;

impl SpdMatrix {
    /// `U diag(eigenvalues) U^T`. Every eigenvalue must be finite and > 0.
    pub fn from_eigen(eigenvalues: &[f64], rotation: Rotation) -> Result<Self, ProblemError> {
        let d = eigenvalues.len();
        ensure(d >= 1, || ProblemError::new("eigenvalues", "[]", "at least one eigenvalue"))?;
        for (i, &l) in eigenvalues.iter().enumerate() {
            ensure(l.is_finite() && l > 0.0, || {
                ProblemError::new(
                    format!("eigenvalues[{i}]"),
                    l,
                    "a finite number > 0 (H and C must be positive definite)",
                )
            })?;
        }
        let basis = match rotation {
            Rotation::Identity => None,
            Rotation::Seeded(seed) => Some(haar_orthogonal(d, seed)),
            Rotation::Householder(u) => Some(householder(&u, d)?),
            Rotation::Matrix(q) => {
                ensure(q.nrows() == d && q.ncols() == d, || {
                    ProblemError::new(
                        "rotation.matrix",
                        format!("{}x{} matrix", q.nrows(), q.ncols()),
                        format!("a {d}x{d} orthogonal matrix"),
                    )
                })?;
                let err = (q.transpose() * &q - DMatrix::identity(d, d)).amax();
                ensure(err < ORTHO_TOL, || {
                    ProblemError::new(
                        "rotation.matrix",
                        format!("matrix with max|Q^T Q - I| = {err:.3e}"),
                        format!("orthogonal, max|Q^T Q - I| < {ORTHO_TOL:e}"),
                    )
                })?;
                Some(q)
            }
        };
        Ok(Self { eigenvalues: DVector::from_column_slice(eigenvalues), basis })
    }

    /// A dense matrix, which must be symmetric and positive definite.
    pub fn from_dense(name: &str, m: DMatrix<f64>) -> Result<Self, ProblemError> {
        let d = m.nrows();
        ensure(d >= 1 && m.ncols() == d, || {
            ProblemError::new(
                name,
                format!("{}x{} matrix", m.nrows(), m.ncols()),
                "a non-empty square matrix",
            )
        })?;
        ensure(m.iter().all(|v| v.is_finite()), || {
            ProblemError::new(name, "a matrix with NaN or infinite entries", "finite entries")
        })?;
        let scale = m.amax().max(f64::MIN_POSITIVE);
        let asym = (&m - m.transpose()).amax();
        ensure(asym <= 1e-10 * scale, || {
            ProblemError::new(
                name,
                format!("matrix with max|M - M^T| = {asym:.3e}"),
                "symmetric, max|M - M^T| <= 1e-10 max|M|",
            )
        })?;
        let eig = nalgebra::SymmetricEigen::new(m);
        let min = eig.eigenvalues.min();
        ensure(min > 0.0, || {
            ProblemError::new(
                name,
                format!("matrix with smallest eigenvalue {min:.6e}"),
                "positive definite (all eigenvalues > 0)",
            )
        })?;
        Ok(Self { eigenvalues: eig.eigenvalues, basis: Some(eig.eigenvectors) })
    }

    pub fn dim(&self) -> usize {
        self.eigenvalues.len()
    }
    pub fn eigenvalues(&self) -> &DVector<f64> {
        &self.eigenvalues
    }
    /// Eigenvectors as columns, or `None` for the identity.
    pub fn basis(&self) -> Option<&DMatrix<f64>> {
        self.basis.as_ref()
    }
    pub fn trace(&self) -> f64 {
        self.eigenvalues.sum()
    }
    pub fn max_eigenvalue(&self) -> f64 {
        self.eigenvalues.max()
    }
    pub fn min_eigenvalue(&self) -> f64 {
        self.eigenvalues.min()
    }
    /// Whether this matrix is diagonal in the standard basis.
    pub fn is_diagonal(&self) -> bool {
        self.basis.is_none()
    }

    /// The dense matrix `U diag(lambda) U^T`.
    pub fn dense(&self) -> DMatrix<f64> {
        match &self.basis {
            None => DMatrix::from_diagonal(&self.eigenvalues),
            Some(u) => {
                let mut ul = u.clone();
                for (j, mut col) in ul.column_iter_mut().enumerate() {
                    col *= self.eigenvalues[j];
                }
                ul * u.transpose()
            }
        }
    }

    /// `U^T M U`: another matrix written in this matrix's eigenbasis.
    pub fn rotate_into_eigenbasis(&self, m: &DMatrix<f64>) -> DMatrix<f64> {
        match &self.basis {
            None => m.clone(),
            Some(u) => u.transpose() * m * u,
        }
    }

    /// `diag(U^T M U)` in O(d^3) with one GEMM (no full triple product).
    pub fn eigenbasis_diagonal(&self, m: &SpdMatrix) -> DVector<f64> {
        if self.basis.is_none() && m.basis.is_none() {
            return m.eigenvalues.clone();
        }
        if self.basis == m.basis {
            return m.eigenvalues.clone();
        }
        let md = m.dense();
        match &self.basis {
            None => md.diagonal(),
            Some(u) => {
                let mu = &md * u;
                DVector::from_iterator(
                    self.dim(),
                    (0..self.dim()).map(|i| u.column(i).dot(&mu.column(i))),
                )
            }
        }
    }

    /// `U^T x`: a vector in eigen-coordinates.
    pub fn to_eigen_coordinates(&self, x: &[f64]) -> Vec<f64> {
        match &self.basis {
            None => x.to_vec(),
            Some(u) => (u.transpose() * DVector::from_column_slice(x)).as_slice().to_vec(),
        }
    }
}

/// A Haar-distributed orthogonal matrix: QR of a Gaussian matrix with the signs of diag(R) fixed.
fn haar_orthogonal(d: usize, seed: u64) -> DMatrix<f64> {
    let mut r = rng::stream(seed, u64::MAX);
    let g = DMatrix::from_fn(d, d, |_, _| StandardNormal.sample(&mut r));
    let qr = g.qr();
    let (mut q, rr) = (qr.q(), qr.r());
    for j in 0..d {
        if rr[(j, j)] < 0.0 {
            q.column_mut(j).neg_mut();
        }
    }
    q
}

fn householder(u: &[f64], d: usize) -> Result<DMatrix<f64>, ProblemError> {
    ensure(u.len() == d, || {
        ProblemError::new(
            "rotation.householder",
            format!("vector of length {}", u.len()),
            format!("length {d} (the dimension)"),
        )
    })?;
    let u = DVector::from_column_slice(u);
    let n2 = u.norm_squared();
    ensure(n2.is_finite() && n2 > 0.0, || {
        ProblemError::new(
            "rotation.householder",
            "a zero or non-finite vector",
            "a finite non-zero vector",
        )
    })?;
    Ok(DMatrix::identity(d, d) - (&u * u.transpose()) * (2.0 / n2))
}

/// Lower Cholesky factor of an SPD matrix given densely (used for noise factors).
pub(crate) fn cholesky_lower(m: &DMatrix<f64>) -> DMatrix<f64> {
    nalgebra::Cholesky::new(m.clone()).expect("caller guarantees a positive-definite matrix").l()
}
