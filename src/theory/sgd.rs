//! Discrete SGD with noise covariance `V = f C`: `Sigma = A Sigma A^T + eta^2 V`, `A = I - eta H`.
//! Closed form `Sigma'_ij = eta V'_ij / (lambda_i + lambda_j - eta lambda_i lambda_j)`, so
//! `E l = eta/4 sum_i V'_ii / (1 - eta lambda_i / 2)`; stable iff `0 < eta lambda_i < 2`.

use super::{check_sgd_stable, geometric_sum, Modes};
use crate::error::ProblemError;
use crate::spd::SpdMatrix;
use nalgebra::{DMatrix, DVector};

/// The per-mode factor `1 / (1 - eta lambda / 2)` by which the discrete loss exceeds the continuous.
pub fn mode_factor(lambda: f64, eta: f64) -> f64 {
    1.0 / (1.0 - eta * lambda / 2.0)
}

/// `E l = eta f/4 sum_i c_i / (1 - eta lambda_i / 2)`; an error naming the limit if unstable.
pub fn stationary_loss(modes: &Modes, eta: f64, f: f64) -> Result<f64, ProblemError> {
    check_sgd_stable(eta, modes.lambda_max())?;
    Ok(eta * f / 4.0
        * modes
            .lambda
            .iter()
            .zip(modes.c.iter())
            .map(|(&l, &c)| c * mode_factor(l, eta))
            .sum::<f64>())
}

/// All per-mode factors `1 / (1 - eta lambda_i / 2)`.
pub fn mode_factors(modes: &Modes, eta: f64) -> DVector<f64> {
    modes.lambda.map(|l| mode_factor(l, eta))
}

/// `E l_k = 1/2 sum lambda_i x0'^2 a_i^{2k} + eta^2 f/2 sum lambda_i c_i sum_{j<k} a_i^{2j}`,
/// `a_i = 1 - eta lambda_i`. Valid for any eta (it is a finite sum).
pub fn transient_loss(modes: &Modes, x0_eigen: &[f64], eta: f64, f: f64, k: usize) -> f64 {
    modes
        .lambda
        .iter()
        .zip(modes.c.iter())
        .zip(x0_eigen)
        .map(|((&l, &c), &x)| {
            let a2 = (1.0 - eta * l).powi(2);
            0.5 * l * x * x * super::pow_steps(a2, k)
                + 0.5 * eta * eta * f * l * c * geometric_sum(a2, k)
        })
        .sum()
}

/// The stationary covariance in original coordinates, from the eigenbasis closed form.
/// The noise covariance need only be positive semi-definite (a data set's may be singular).
pub fn stationary_covariance(
    hessian: &SpdMatrix,
    noise_covariance: &DMatrix<f64>,
    eta: f64,
    f: f64,
) -> Result<DMatrix<f64>, ProblemError> {
    check_sgd_stable(eta, hessian.max_eigenvalue())?;
    let l = hessian.eigenvalues();
    let c = hessian.rotate_into_eigenbasis(noise_covariance);
    let s = DMatrix::from_fn(l.len(), l.len(), |i, j| {
        eta * f * c[(i, j)] / (l[i] + l[j] - eta * l[i] * l[j])
    });
    Ok(match hessian.basis() {
        None => s,
        Some(u) => u * s * u.transpose(),
    })
}

/// The same loss from dense matrices without an eigendecomposition:
/// `sum_i C'_ii / (1 - eta lambda_i / 2) = Tr((I - eta H / 2)^{-1} C)`, so
/// `E l = eta f/4 Tr((I - eta H/2)^{-1} C)`. The Cholesky factorisation of `I - eta H / 2` exists
/// iff `eta lambda_max < 2`, so it doubles as the stability check. O(d^3 / 3).
pub fn stationary_loss_dense(
    hessian: &DMatrix<f64>,
    noise_covariance: &DMatrix<f64>,
    eta: f64,
    f: f64,
) -> Result<f64, ProblemError> {
    crate::error::positive("eta", eta)?;
    let d = hessian.nrows();
    let a = DMatrix::identity(d, d) - hessian * (eta / 2.0);
    let chol = nalgebra::Cholesky::new(a).ok_or_else(|| {
        ProblemError::new("eta", eta, "eta*lambda_max < 2 (I - eta H/2 is not positive definite, so no stationary distribution exists)")
    })?;
    Ok(eta * f / 4.0 * chol.solve(noise_covariance).trace())
}
