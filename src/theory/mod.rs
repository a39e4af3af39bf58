//! Exact theory, each result derived independently of the simulator (DESIGN.md section 3).
//!
//! Conventions: loss `1/2 x^T H x`; `C` is one example's gradient covariance; the minibatch noise
//! covariance is `V = f C` with the finite-N factor `f` ([`noise_factor`]); SGD time `t = k eta`.

pub mod breakdown;
mod finite_n;
pub mod lyapunov;
mod modes;
pub mod momentum;
pub mod nqm;
pub mod ou;
pub mod regression;
pub mod reshuffle;
pub mod sgd;
mod stability;
pub mod svag;

pub use finite_n::noise_factor;
pub use modes::Modes;
pub use stability::{check_momentum_stable, check_sgd_stable, momentum_limit, sgd_limit};

/// Dimensions up to which the theory reports the full stationary covariance (callers check it
/// before forming the d x d noise matrix).
pub const MAX_COVARIANCE_DIM: usize = 10;

/// The stationary covariance of x - x* under additive noise `f C` (original coordinates): SGD's,
/// or heavy ball's when `momentum > 0`. `None` past the stability limit.
pub fn additive_noise_covariance(
    hessian: &crate::spd::SpdMatrix,
    noise_covariance: &nalgebra::DMatrix<f64>,
    eta: f64,
    momentum: f64,
    f: f64,
) -> Option<nalgebra::DMatrix<f64>> {
    if momentum > 0.0 {
        momentum::stationary_covariance(hessian, noise_covariance, eta, momentum, f).ok()
    } else {
        sgd::stationary_covariance(hessian, noise_covariance, eta, f).ok()
    }
}

/// `q^k` for any step count: `powi` (exact repeated squaring) while `k` fits its `i32`
/// exponent, `powf` beyond, where `k as i32` would wrap to a negative power.
pub(crate) fn pow_steps(q: f64, k: usize) -> f64 {
    match i32::try_from(k) {
        Ok(k) => q.powi(k),
        Err(_) => q.powf(k as f64),
    }
}

/// `sum_{j<k} q^j`, exact also at `q = 1`.
pub(crate) fn geometric_sum(q: f64, k: usize) -> f64 {
    if (1.0 - q).abs() < 1e-12 {
        k as f64
    } else {
        (1.0 - pow_steps(q, k)) / (1.0 - q)
    }
}
