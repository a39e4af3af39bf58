//! A power law `y = c x^p` fitted to independent estimates: weighted least squares of `ln y` on
//! `ln x`, each point weighted by `1 / (se_y / y)^2` (the delta method's variance of `ln y`).
//! The slope's standard error is `1 / sqrt(sum w (ln x - mean_w)^2)`, exact for independent
//! normal errors and good while every `y` is several standard errors from zero.

use super::{Estimate, Slope};

/// Fits `ln y = ln c + p ln x`; `None` with fewer than two points or any `y <= 0`.
pub fn log_log_slope(xs: &[f64], ys: &[Estimate]) -> Option<Slope> {
    if xs.len() < 2 || xs.len() != ys.len() || ys.iter().any(|y| !(y.value > 0.0 && y.se > 0.0)) {
        return None;
    }
    let lx: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let ly: Vec<f64> = ys.iter().map(|y| y.value.ln()).collect();
    let w: Vec<f64> = ys.iter().map(|y| (y.value / y.se).powi(2)).collect();
    let sw: f64 = w.iter().sum();
    let mx = lx.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / sw;
    let my = ly.iter().zip(&w).map(|(y, w)| y * w).sum::<f64>() / sw;
    let sxx: f64 = lx.iter().zip(&w).map(|(x, w)| w * (x - mx).powi(2)).sum();
    let sxy: f64 = lx.iter().zip(&ly).zip(&w).map(|((x, y), w)| w * (x - mx) * (y - my)).sum();
    Some(Slope { slope: sxy / sxx, se: sxx.sqrt().recip(), groups: xs.len() })
}
