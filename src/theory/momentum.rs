//! Heavy ball `v <- m v - eta g`, `x <- x + v` with noise `V = f C`. Per eigenmode `z = (x, v)`
//! evolves as `z <- M z + (-eta, -eta) xi`, `M = [[1 - eta lambda, m], [-eta lambda, m]]`.
//! Closed form: `E l = eta f/(4(1-m)) sum c_i / (1 - eta lambda_i / (2(1+m)))`, stable iff
//! `eta lambda_i < 2(1+m)`. Smith & Le's temperature `eta/(1-m)` is the leading term.

use super::{check_momentum_stable, lyapunov, Modes};
use crate::error::ProblemError;
use crate::spd::SpdMatrix;
use nalgebra::{DMatrix, Matrix2, Vector2};

/// The closed form above.
pub fn stationary_loss(modes: &Modes, eta: f64, m: f64, f: f64) -> Result<f64, ProblemError> {
    check_momentum_stable(eta, m, modes.lambda_max())?;
    let per_mode: f64 = modes
        .lambda
        .iter()
        .zip(modes.c.iter())
        .map(|(&l, &c)| c / (1.0 - eta * l / (2.0 * (1.0 + m))))
        .sum();
    Ok(eta * f / (4.0 * (1.0 - m)) * per_mode)
}

/// The per-step contraction of one mode: the largest root modulus of heavy ball's AR(2)
/// `z^2 - (1 + m - eta lambda) z + m` (for m = 0, `|1 - eta lambda|`). A transient decays like its
/// power; the mode is stable iff it is below 1.
pub fn contraction(eta_lambda: f64, m: f64) -> f64 {
    let b = 1.0 + m - eta_lambda;
    let disc = b * b - 4.0 * m;
    if disc < 0.0 {
        m.sqrt()
    } else {
        (b.abs() + disc.sqrt()) / 2.0
    }
}

fn mode_transition(l: f64, eta: f64, m: f64) -> Matrix2<f64> {
    Matrix2::new(1.0 - eta * l, m, -eta * l, m)
}

/// The same quantity from each mode's 2x2 discrete Lyapunov equation (an independent check).
pub fn stationary_loss_lyapunov(
    modes: &Modes,
    eta: f64,
    m: f64,
    f: f64,
) -> Result<f64, ProblemError> {
    check_momentum_stable(eta, m, modes.lambda_max())?;
    let mut total = 0.0;
    for (&l, &c) in modes.lambda.iter().zip(modes.c.iter()) {
        let a = DMatrix::from_column_slice(2, 2, mode_transition(l, eta, m).as_slice());
        let q = DMatrix::from_element(2, 2, eta * eta * f * c);
        let sigma = lyapunov::discrete(&a, &q)
            .ok_or_else(|| ProblemError::new("eta", eta, "a stable heavy-ball step"))?;
        total += 0.5 * l * sigma[(0, 0)];
    }
    Ok(total)
}

/// The stationary covariance of x from the full 2d x 2d Lyapunov equation (dense; small d).
pub fn stationary_covariance(
    hessian: &SpdMatrix,
    noise_covariance: &DMatrix<f64>,
    eta: f64,
    m: f64,
    f: f64,
) -> Result<DMatrix<f64>, ProblemError> {
    check_momentum_stable(eta, m, hessian.max_eigenvalue())?;
    let d = hessian.dim();
    let h = hessian.dense();
    let eye = DMatrix::<f64>::identity(d, d);
    let mut a = DMatrix::zeros(2 * d, 2 * d);
    a.view_mut((0, 0), (d, d)).copy_from(&(&eye - &h * eta));
    a.view_mut((0, d), (d, d)).copy_from(&(&eye * m));
    a.view_mut((d, 0), (d, d)).copy_from(&(&h * -eta));
    a.view_mut((d, d), (d, d)).copy_from(&(&eye * m));
    let v = noise_covariance * (eta * eta * f);
    let mut q = DMatrix::zeros(2 * d, 2 * d);
    for (r, c) in [(0, 0), (0, d), (d, 0), (d, d)] {
        q.view_mut((r, c), (d, d)).copy_from(&v);
    }
    let sigma = lyapunov::discrete(&a, &q)
        .ok_or_else(|| ProblemError::new("eta", eta, "a stable heavy-ball step"))?;
    Ok(sigma.view((0, 0), (d, d)).into_owned())
}

/// `E l_k` from `x0` with `v0 = 0`, by iterating each mode's exact mean and covariance recursion.
pub fn transient_loss(modes: &Modes, x0_eigen: &[f64], eta: f64, m: f64, f: f64, k: usize) -> f64 {
    let mut total = 0.0;
    for ((&l, &c), &x0) in modes.lambda.iter().zip(modes.c.iter()).zip(x0_eigen) {
        let a = mode_transition(l, eta, m);
        let q = Matrix2::from_element(eta * eta * f * c);
        let mut mean = Vector2::new(x0, 0.0);
        let mut cov = Matrix2::zeros();
        for _ in 0..k {
            mean = a * mean;
            cov = a * cov * a.transpose() + q;
        }
        total += 0.5 * l * (cov[(0, 0)] + mean[0] * mean[0]);
    }
    total
}
