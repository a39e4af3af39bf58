//! Estimates with standard errors, z-scores against theory, and the weak-order slope.

mod batch_means;
mod estimate;
mod weak_order;

pub use batch_means::{batch_means, integrated_autocorrelation_time};
pub use estimate::{Estimate, Method};
pub use weak_order::{weak_order_slope, Slope};
