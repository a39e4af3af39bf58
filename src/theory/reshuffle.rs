//! Per-epoch reshuffling, exactly. With `K = N/S` batches per epoch, each batch's noise has the
//! fresh-batch covariance `V = f_wor C` (`f_wor = (N-S)/(S(N-1))`), and distinct batches of one
//! epoch are exchangeable with `Cov(xi_i, xi_j) = -V/(K-1)` because they sum to zero. Epochs are
//! independent. Per eigenmode, with `a = 1 - eta lambda`, `rho = -1/(K-1)`, `v = f_wor c`:
//!   `S_k = v [(1 - rho) G2(k) + rho G1(k)^2]`, `G1 = sum_{j<k} a^j`, `G2 = sum_{j<k} a^{2j}`,
//!   epoch start `s_0 = eta^2 S_K / (1 - a^{2K})`, in-epoch `s_k = a^{2k} s_0 + eta^2 S_k`,
//! and the time-averaged loss is `1/2 sum_i lambda_i (1/K) sum_{k<K} s_{k,i}`.
//! The f-formula of `theory::sgd` does not apply: this noise is anti-correlated in time.

use super::{check_sgd_stable, geometric_sum, noise_factor, Modes};
use crate::error::{ensure, ProblemError};
use crate::problems::Sampling;

/// The exact time-averaged stationary loss of per-epoch reshuffling (requires `S | N`).
pub fn stationary_loss(modes: &Modes, eta: f64, s: usize, n: usize) -> Result<f64, ProblemError> {
    check_sgd_stable(eta, modes.lambda_max())?;
    let v_factor = noise_factor(s, Some(n), Sampling::WithoutReplacement)?;
    ensure(n.is_multiple_of(s), || {
        ProblemError::new("S", s, format!("a divisor of N = {n} (every epoch is N/S full batches)"))
    })?;
    let k = n / s;
    if k == 1 {
        return Ok(0.0); // the batch is the whole data set: no noise
    }
    let rho = -1.0 / (k as f64 - 1.0);
    let mut total = 0.0;
    for (&l, &c) in modes.lambda.iter().zip(modes.c.iter()) {
        let v = v_factor * c;
        let a = 1.0 - eta * l;
        let noise_sum = |j: usize| {
            v * ((1.0 - rho) * geometric_sum(a * a, j) + rho * geometric_sum(a, j).powi(2))
        };
        let s0 = eta * eta * noise_sum(k) / (1.0 - super::pow_steps(a * a, k));
        let avg: f64 =
            (0..k).map(|j| super::pow_steps(a * a, j) * s0 + eta * eta * noise_sum(j)).sum::<f64>()
                / k as f64;
        total += 0.5 * l * avg;
    }
    Ok(total)
}
