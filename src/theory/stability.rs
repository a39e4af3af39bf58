use crate::error::{positive, ProblemError};

/// SGD's stability limit on eta: `eta lambda_max < 2`.
pub fn sgd_limit(lambda_max: f64) -> f64 {
    2.0 / lambda_max
}

/// Heavy ball's limit on eta: `eta lambda_max < 2 (1 + m)`.
pub fn momentum_limit(lambda_max: f64, m: f64) -> f64 {
    2.0 * (1.0 + m) / lambda_max
}

/// Errs, naming the limit, unless `0 < eta lambda_max < 2`.
pub fn check_sgd_stable(eta: f64, lambda_max: f64) -> Result<(), ProblemError> {
    positive("eta", eta)?;
    if eta * lambda_max < 2.0 {
        Ok(())
    } else {
        Err(ProblemError::new(
            "eta",
            eta,
            format!("eta*lambda_max < 2, i.e. eta < {:.6e} (lambda_max = {lambda_max:.6e}, eta*lambda_max = {:.4}); no stationary distribution exists beyond it", sgd_limit(lambda_max), eta * lambda_max),
        ))
    }
}

/// Errs, naming the limit, unless `0 < eta lambda_max < 2 (1 + m)`.
pub fn check_momentum_stable(eta: f64, m: f64, lambda_max: f64) -> Result<(), ProblemError> {
    positive("eta", eta)?;
    crate::error::momentum(m)?;
    if eta * lambda_max < 2.0 * (1.0 + m) {
        Ok(())
    } else {
        Err(ProblemError::new(
            "eta",
            eta,
            format!("eta*lambda_max < 2(1+m) = {:.4}, i.e. eta < {:.6e} (lambda_max = {lambda_max:.6e}, m = {m}); no stationary distribution exists beyond it", 2.0 * (1.0 + m), momentum_limit(lambda_max, m)),
        ))
    }
}
