//! A linear map that is either diagonal or dense; the hot loops of the Gaussian problems.

use nalgebra::DMatrix;

#[derive(Debug, Clone, PartialEq)]
pub enum LinearMap {
    Diagonal(Vec<f64>),
    Dense(DMatrix<f64>),
}

impl LinearMap {
    /// A factor `L` with `L L^T = c` for an SPD matrix: the diagonal square root when `c` is
    /// diagonal (to 1e-14 relative), otherwise its lower Cholesky factor.
    pub fn square_root_of(c: &DMatrix<f64>) -> Self {
        let d = c.nrows();
        let off = c
            .iter()
            .enumerate()
            .filter(|(k, _)| k % d != k / d)
            .map(|(_, v)| v.abs())
            .fold(0.0, f64::max);
        if off <= 1e-14 * c.amax() {
            LinearMap::Diagonal(c.diagonal().iter().map(|v| v.sqrt()).collect())
        } else {
            LinearMap::Dense(crate::spd::cholesky_lower(c))
        }
    }

    /// `out <- M x + b * out` (b = 0 overwrites, ignoring NaNs in `out`).
    #[inline]
    pub fn apply(&self, x: &[f64], b: f64, out: &mut [f64]) {
        match self {
            LinearMap::Diagonal(m) => {
                if b == 0.0 {
                    for ((o, &mi), &xi) in out.iter_mut().zip(m).zip(x) {
                        *o = mi * xi;
                    }
                } else {
                    for ((o, &mi), &xi) in out.iter_mut().zip(m).zip(x) {
                        *o = mi * xi + b * *o;
                    }
                }
            }
            LinearMap::Dense(m) => {
                if b == 0.0 {
                    out.iter_mut().for_each(|o| *o = 0.0);
                } else if b != 1.0 {
                    out.iter_mut().for_each(|o| *o *= b);
                }
                // Column-major: out += sum_j M[:, j] x_j, a vectorisable axpy per column.
                let n = m.nrows();
                for (j, &xj) in x.iter().enumerate() {
                    let col = &m.as_slice()[j * n..(j + 1) * n];
                    for (o, &c) in out.iter_mut().zip(col) {
                        *o += c * xj;
                    }
                }
            }
        }
    }

    /// `out <- M X + b * out` for a block of column vectors (a GEMM when dense).
    pub fn apply_block(&self, x: &DMatrix<f64>, b: f64, out: &mut DMatrix<f64>) {
        match self {
            LinearMap::Dense(m) => out.gemm(1.0, m, x, b),
            LinearMap::Diagonal(_) => {
                let n = x.nrows();
                for (xc, oc) in
                    x.as_slice().chunks_exact(n).zip(out.as_mut_slice().chunks_exact_mut(n))
                {
                    self.apply(xc, b, oc);
                }
            }
        }
    }

    /// `x^T M x`.
    pub fn quadratic_form(&self, x: &[f64]) -> f64 {
        match self {
            LinearMap::Diagonal(m) => m.iter().zip(x).map(|(mi, xi)| mi * xi * xi).sum(),
            LinearMap::Dense(m) => {
                let n = m.nrows();
                x.iter()
                    .enumerate()
                    .map(|(j, &xj)| {
                        xj * m.as_slice()[j * n..(j + 1) * n]
                            .iter()
                            .zip(x)
                            .map(|(c, xi)| c * xi)
                            .sum::<f64>()
                    })
                    .sum()
            }
        }
    }
}
