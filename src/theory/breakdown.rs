//! The breakdown map along `eta = beta eta0`, `S = beta S0`: the continuous law
//! `eta/(4S) Tr(C)` is constant, while the exact discrete value grows by `1/(1 - eta lambda_i/2)`
//! per mode and the finite-N factor `S f = (N-S)/(N-1)` pulls it to zero as `S -> N`.

use super::{noise_factor, reshuffle, sgd, Modes};
use crate::problems::Sampling;

/// One point of the map. `exact` is `None` past the stability limit.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakdownPoint {
    pub beta: f64,
    pub eta: f64,
    pub s: usize,
    /// `eta/(4S) Tr(C)`: the law being tested.
    pub continuous: f64,
    pub exact: Option<f64>,
    /// `exact / continuous`.
    pub ratio: Option<f64>,
    pub eta_lambda_max: f64,
}

/// The exact stationary loss for a noise model: Gaussian (`n = None`), with or without
/// replacement, or reshuffling.
pub fn exact_loss(
    modes: &Modes,
    eta: f64,
    s: usize,
    n: Option<usize>,
    sampling: Sampling,
) -> Result<f64, crate::error::ProblemError> {
    match (sampling, n) {
        (Sampling::Reshuffle, Some(n)) => reshuffle::stationary_loss(modes, eta, s, n),
        _ => sgd::stationary_loss(modes, eta, noise_factor(s, n, sampling)?),
    }
}

/// The map at the given betas (`S = round(beta S0)`, clipped to `[1, N]`).
pub fn curve(
    modes: &Modes,
    eta0: f64,
    s0: usize,
    n: Option<usize>,
    sampling: Sampling,
    betas: &[f64],
) -> Vec<BreakdownPoint> {
    betas
        .iter()
        .map(|&beta| {
            let eta = beta * eta0;
            let mut s = ((beta * s0 as f64).round() as usize).max(1);
            if let Some(n) = n {
                s = s.min(n);
            }
            let continuous = eta / (4.0 * s as f64) * modes.c.sum();
            let exact = exact_loss(modes, eta, s, n, sampling).ok();
            BreakdownPoint {
                beta,
                eta,
                s,
                continuous,
                exact,
                ratio: exact.map(|e| e / continuous),
                eta_lambda_max: eta * modes.lambda_max(),
            }
        })
        .collect()
}
