//! SVAG's exact stationary loss on a quadratic with additive noise.
//!
//! SVAG at `(eta, l)` is SGD at step `eta / l` with noise covariance `l V` (see
//! `problems::svag`), so the discrete formula of `theory::sgd` gives, exactly,
//!
//! `E l = eta f/4 sum_i C'_ii / (1 - eta lambda_i / (2 l))`,
//!
//! stable iff `eta lambda_max < 2 l`. As `l -> infinity` it tends to the continuous (OU) law
//! `eta f/4 Tr C` with relative excess `(eta / (2 l)) sum lambda_i C'_ii / Tr C + O(l^-2)`: first
//! order in `1/l`.

use super::Modes;
use crate::error::ProblemError;

/// The exact stationary excess loss of SVAG with amplification `l >= 1` (an error when unstable).
pub fn stationary_loss(modes: &Modes, eta: f64, f: f64, l: f64) -> Result<f64, ProblemError> {
    super::sgd::stationary_loss(modes, eta / l, f * l)
}

/// The leading-order relative excess over the continuous law, `(eta / 2l) sum lambda_i C'_ii /
/// Tr C` (the coefficient of `1/l` that the convergence check fits).
pub fn leading_relative_excess(modes: &Modes, eta: f64, l: f64) -> f64 {
    let weighted: f64 = modes.lambda.iter().zip(modes.c.iter()).map(|(a, c)| a * c).sum();
    eta / (2.0 * l) * weighted / modes.c.sum()
}
