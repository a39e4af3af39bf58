//! The continuous OU process `dx = -H x dt + sqrt(eta f) C^{1/2} dW` (time `t = k eta`).
//! Lyapunov: `H Sigma + Sigma H = eta f C`, hence `E l = 1/2 Tr(H Sigma) = eta f/4 Tr(C)` for any C;
//! with `f = 1/S` and `C = H` this is Jastrzebski et al.'s `E l = eta/(4S) Tr(H)`.

use super::Modes;
use crate::spd::SpdMatrix;
use nalgebra::DMatrix;

/// `E l = eta f / 4 * sum_i c_i`.
pub fn stationary_loss(modes: &Modes, eta: f64, f: f64) -> f64 {
    eta * f / 4.0 * modes.c.sum()
}

/// `E l(t) = 1/2 sum lambda_i x0'_i^2 e^{-2 lambda_i t} + eta f/4 sum c_i (1 - e^{-2 lambda_i t})`,
/// with `x0'` the start in eigen-coordinates.
pub fn transient_loss(modes: &Modes, x0_eigen: &[f64], eta: f64, f: f64, t: f64) -> f64 {
    modes
        .lambda
        .iter()
        .zip(modes.c.iter())
        .zip(x0_eigen)
        .map(|((&l, &c), &x)| {
            let decay = (-2.0 * l * t).exp();
            0.5 * l * x * x * decay + eta * f / 4.0 * c * (-(-2.0 * l * t).exp_m1())
        })
        .sum()
}

/// The stationary covariance in original coordinates: `Sigma'_ij = eta f C'_ij / (lambda_i + lambda_j)`.
pub fn stationary_covariance(
    hessian: &SpdMatrix,
    noise_covariance: &SpdMatrix,
    eta: f64,
    f: f64,
) -> DMatrix<f64> {
    let l = hessian.eigenvalues();
    let c = hessian.rotate_into_eigenbasis(&noise_covariance.dense());
    let s = DMatrix::from_fn(l.len(), l.len(), |i, j| eta * f * c[(i, j)] / (l[i] + l[j]));
    match hessian.basis() {
        None => s,
        Some(u) => u * s * u.transpose(),
    }
}
