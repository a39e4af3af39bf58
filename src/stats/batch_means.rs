//! Standard errors for one long correlated series.

use super::{Estimate, Method};

/// Integrated autocorrelation time `tau = 1 + 2 sum_{t>=1} rho(t)`, with Sokal's automatic window
/// (the smallest `W` with `W >= 5 tau(W)`).
pub fn integrated_autocorrelation_time(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 4 {
        return 1.0;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let c0 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    if c0 == 0.0 {
        return 1.0;
    }
    let mut tau = 1.0;
    for t in 1..n / 2 {
        let ct = x[..n - t].iter().zip(&x[t..]).map(|(a, b)| (a - mean) * (b - mean)).sum::<f64>()
            / n as f64;
        tau += 2.0 * ct / c0;
        if t as f64 >= 5.0 * tau {
            break;
        }
    }
    tau.max(1.0)
}

/// Mean of the series with a standard error from `batches` non-overlapping batch means. The
/// batches must be long against `tau_int` for the error to be honest; the caller can check it.
pub fn batch_means(x: &[f64], batches: usize) -> Estimate {
    let len = x.len() / batches;
    let means: Vec<f64> =
        (0..batches).map(|b| x[b * len..(b + 1) * len].iter().sum::<f64>() / len as f64).collect();
    let e = Estimate::from_replicas(&means);
    Estimate {
        method: Method::BatchMeans { batches, tau_int: integrated_autocorrelation_time(x) },
        ..e
    }
}
