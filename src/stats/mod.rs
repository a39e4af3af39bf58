//! Estimates with standard errors, z-scores against theory, the weak-order slope and power-law fits.

mod batch_means;
mod estimate;
mod linear_fit;
mod log_slope;
mod median;
mod normal;
mod rank_correlation;
mod weak_order;

pub use batch_means::{batch_means, integrated_autocorrelation_time};
pub use estimate::{Estimate, Method};
pub use linear_fit::{linear_fit, weighted_linear_fit, LinearFit};
pub use log_slope::log_log_slope;
pub use median::median;
pub use normal::{erfc, normal_cdf};
pub use rank_correlation::{rank_correlation, RankCorrelation};
pub use weak_order::{weak_order_slope, Slope};
