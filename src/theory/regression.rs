//! Minibatch SGD on least squares: exact second moments despite multiplicative noise.
//!
//! With `e = theta - theta*`, one step is `e' = (I - eta H_B) e - eta b_B`, `H_B = mean_B x x^T`,
//! `b_B = mean_B x_n r_n`, `r_n = x_n^T theta* - y_n` (so `mean_n x_n r_n = 0`). Because the batch is
//! independent of `e`, the mean `mu = E e` and second moment `M = E e e^T` obey exactly
//!   `mu' = (I - eta H) mu`,
//!   `M'  = T(M) + eta^2 alpha (G + K(mu) + K(mu)^T)`,
//!   `T(M) = M - eta (H M + M H) + eta^2 [alpha F(M) + beta H M H]`,
//! with the data's fourth moments `F(M) = mean_n (x_n^T M x_n) x_n x_n^T`,
//! `G = mean_n r_n^2 x_n x_n^T`, `K(mu) = mean_n (x_n^T mu) r_n x_n x_n^T`, and
//! `alpha = 1/S, beta = 1 - 1/S` with replacement, `alpha = (N-S)/(S(N-1)), beta = N(S-1)/(S(N-1))`
//! without. The stationary `M` solves `(I - T) M = eta^2 alpha G` (a d^2 x d^2 system);
//! it exists iff the spectral radius of `T` is < 1 (mean-square stability), which happens at an
//! eta well below `2/lambda_max` when the data's fourth moments are large. `E l - l* = 1/2 Tr(H M)`.

use crate::error::{ensure, positive, ProblemError};
use crate::problems::{LinearRegression, Sampling};
use nalgebra::{DMatrix, DVector};

/// The moment recursion for one data set, batch size and sampling scheme.
#[derive(Debug, Clone)]
pub struct RegressionMoments {
    d: usize,
    h: DMatrix<f64>,
    /// `mean_n (x x^T) (x) (x x^T)`: F as a d^2 x d^2 matrix on vec(M).
    fourth: DMatrix<f64>,
    g: DMatrix<f64>,
    /// `K(mu)` is linear in mu: `K = sum_j mu_j K_j`.
    k_parts: Vec<DMatrix<f64>>,
    alpha: f64,
    beta: f64,
}

impl RegressionMoments {
    pub fn new(problem: &LinearRegression) -> Result<Self, ProblemError> {
        let (n, s) = (problem.n(), problem.batch());
        let (alpha, beta) = match problem.sampling() {
            Sampling::WithReplacement => (1.0 / s as f64, 1.0 - 1.0 / s as f64),
            Sampling::WithoutReplacement => ((n - s) as f64 / (s as f64 * (n - 1) as f64), n as f64 * (s - 1) as f64 / (s as f64 * (n - 1) as f64)),
            Sampling::Reshuffle => return Err(ProblemError::new("sampling", "reshuffle", "with_replacement or without_replacement (the moment recursion assumes a fresh batch each step)")),
        };
        let d = problem.hessian().nrows();
        let mut fourth = DMatrix::zeros(d * d, d * d);
        let mut g = DMatrix::zeros(d, d);
        let mut k_parts = vec![DMatrix::zeros(d, d); d];
        for i in 0..n {
            let x = DVector::from_column_slice(problem.feature(i));
            let xx = &x * x.transpose();
            fourth += xx.kronecker(&xx);
            let r = problem.residual(i);
            g += &xx * (r * r);
            for (j, kj) in k_parts.iter_mut().enumerate() {
                *kj += &xx * (x[j] * r);
            }
        }
        let nf = n as f64;
        fourth /= nf;
        g /= nf;
        k_parts.iter_mut().for_each(|k| *k /= nf);
        Ok(Self { d, h: problem.hessian().clone(), fourth, g, k_parts, alpha, beta })
    }

    /// The linear map `T` on vec(M) as a d^2 x d^2 matrix.
    pub fn operator(&self, eta: f64) -> DMatrix<f64> {
        let eye = DMatrix::<f64>::identity(self.d, self.d);
        let hh = self.h.kronecker(&self.h);
        DMatrix::identity(self.d * self.d, self.d * self.d)
            - (eye.kronecker(&self.h) + self.h.kronecker(&eye)) * eta
            + (&self.fourth * self.alpha + hh * self.beta) * (eta * eta)
    }

    /// Spectral radius of `T`: mean-square stable iff < 1.
    pub fn spectral_radius(&self, eta: f64) -> f64 {
        spectral_radius_of(&self.operator(eta))
    }

    /// The mean-square stability limit: the eta in `(0, 2/lambda_max]` where the spectral radius
    /// reaches 1, by bisection (relative precision 1e-10).
    pub fn stability_limit(&self) -> f64 {
        let lmax = nalgebra::SymmetricEigen::new(self.h.clone()).eigenvalues.max();
        limit_by_bisection(2.0 / lmax, |eta| self.spectral_radius(eta))
    }

    /// The second-moment map of heavy ball, `v <- m v - eta g`, `theta <- theta + v`, on the
    /// state `z = (e_k, e_{k-1})`: `z' = A_B z + c_B` with `A_B = A0 - eta P H_B Q`,
    /// `A0 = [[(1+m) I, -m I], [I, 0]]`, `P = [I; 0]`, `Q = [I, 0]`, so that
    /// `E[A_B (x) A_B] = A0 (x) A0 - eta (A0 (x) PHQ + PHQ (x) A0) + eta^2 (P (x) P) E[H_B (x) H_B] (Q (x) Q)`
    /// as a `4d^2 x 4d^2` matrix on `vec(E z z^T)`. At `m = 0` its spectrum is `T`'s plus zeros.
    pub fn momentum_operator(&self, eta: f64, m: f64) -> DMatrix<f64> {
        let d = self.d;
        let eye = DMatrix::<f64>::identity(d, d);
        let mut a0 = DMatrix::<f64>::zeros(2 * d, 2 * d);
        a0.view_mut((0, 0), (d, d)).copy_from(&(&eye * (1.0 + m)));
        a0.view_mut((0, d), (d, d)).copy_from(&(&eye * -m));
        a0.view_mut((d, 0), (d, d)).copy_from(&eye);
        let mut p = DMatrix::<f64>::zeros(2 * d, d);
        p.view_mut((0, 0), (d, d)).copy_from(&eye);
        let q = p.transpose();
        let phq = &p * &self.h * &q;
        let second = &self.fourth * self.alpha + self.h.kronecker(&self.h) * self.beta;
        a0.kronecker(&a0) - (a0.kronecker(&phq) + phq.kronecker(&a0)) * eta
            + p.kronecker(&p) * second * q.kronecker(&q) * (eta * eta)
    }

    /// Spectral radius of the heavy-ball second-moment map: mean-square stable iff < 1.
    pub fn momentum_spectral_radius(&self, eta: f64, m: f64) -> f64 {
        spectral_radius_of(&self.momentum_operator(eta, m))
    }

    /// The mean-square stability limit of heavy ball with momentum `m`: the eta in
    /// `(0, 2(1+m)/lambda_max]` where [`Self::momentum_spectral_radius`] reaches 1, by bisection.
    /// At `m = 0` it is [`Self::stability_limit`].
    pub fn momentum_stability_limit(&self, m: f64) -> f64 {
        if m == 0.0 {
            return self.stability_limit();
        }
        let lmax = nalgebra::SymmetricEigen::new(self.h.clone()).eigenvalues.max();
        limit_by_bisection(2.0 * (1.0 + m) / lmax, |eta| self.momentum_spectral_radius(eta, m))
    }

    fn check_stable(&self, eta: f64) -> Result<(), ProblemError> {
        positive("eta", eta)?;
        let rho = self.spectral_radius(eta);
        ensure(rho < 1.0, || {
            ProblemError::new("eta", eta, format!("eta < {:.6e}, the mean-square stability limit (spectral radius of the second-moment map is {rho:.6} >= 1)", self.stability_limit()))
        })
    }

    /// The stationary second moment `M` of `e = theta - theta*`.
    pub fn stationary_second_moment(&self, eta: f64) -> Result<DMatrix<f64>, ProblemError> {
        self.check_stable(eta)?;
        let dd = self.d * self.d;
        let lhs = DMatrix::identity(dd, dd) - self.operator(eta);
        let rhs = DVector::from_column_slice(self.g.as_slice()) * (eta * eta * self.alpha);
        let m = lhs.lu().solve(&rhs).ok_or_else(|| {
            ProblemError::new("eta", eta, "a mean-square stable eta (singular moment system)")
        })?;
        Ok(DMatrix::from_column_slice(self.d, self.d, m.as_slice()))
    }

    /// Stationary excess loss `1/2 Tr(H M)`.
    pub fn stationary_loss(&self, eta: f64) -> Result<f64, ProblemError> {
        Ok(0.5 * (&self.h * self.stationary_second_moment(eta)?).trace())
    }

    /// Excess loss after each of steps `0..=k` from `theta0` (exact iteration of the recursion).
    pub fn transient_loss(&self, eta: f64, e0: &[f64], k: usize) -> Vec<f64> {
        let d = self.d;
        let t = self.operator(eta);
        let a = DMatrix::<f64>::identity(d, d) - &self.h * eta;
        let mut mu = DVector::from_column_slice(e0);
        let mut m = &mu * mu.transpose();
        let mut out = vec![0.5 * (&self.h * &m).trace()];
        for _ in 0..k {
            let kmu: DMatrix<f64> = self
                .k_parts
                .iter()
                .zip(mu.iter())
                .fold(DMatrix::zeros(d, d), |acc, (kj, &mj)| acc + kj * mj);
            let src = (&self.g + &kmu + kmu.transpose()) * (eta * eta * self.alpha);
            let next = &t * DVector::from_column_slice(m.as_slice());
            m = DMatrix::from_column_slice(d, d, next.as_slice()) + src;
            mu = &a * mu;
            out.push(0.5 * (&self.h * &m).trace());
        }
        out
    }
}

/// The largest modulus of a (non-symmetric) matrix's eigenvalues.
fn spectral_radius_of(t: &DMatrix<f64>) -> f64 {
    t.complex_eigenvalues().iter().map(|z| z.norm()).fold(0.0, f64::max)
}

/// The eta in `(0, hi]` where `radius(eta)` reaches 1 (`hi` itself when it stays below), by
/// bisection to relative precision 1e-10; the largest eta found stable is returned.
fn limit_by_bisection(hi: f64, radius: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (0.0, hi);
    if radius(hi) < 1.0 {
        return hi;
    }
    while hi - lo > 1e-10 * hi {
        let mid = 0.5 * (lo + hi);
        if radius(mid) < 1.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}
