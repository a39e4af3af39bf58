//! An estimate always carries its standard error and how that error was obtained.

use std::fmt;

/// How a standard error was computed.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// `sd / sqrt(n)` over `n` independent replicas (paths).
    Replicas { n: usize },
    /// Batch means on one correlated series: `batches` batches, with the series' integrated
    /// autocorrelation time `tau_int` (in samples) reported for context.
    BatchMeans { batches: usize, tau_int: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    pub value: f64,
    pub se: f64,
    pub method: Method,
}

impl Estimate {
    /// Mean and standard error of independent replicas, summed in the given order.
    pub fn from_replicas(values: &[f64]) -> Self {
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            f64::NAN
        };
        Self { value: mean, se: (var / n as f64).sqrt(), method: Method::Replicas { n } }
    }

    /// `(value - theory) / se`.
    pub fn z(&self, theory: f64) -> f64 {
        (self.value - theory) / self.se
    }

    /// The check every simulation-vs-theory comparison uses: `|z| < z_max`. With `z_max = 5` a
    /// correct theory fails it with probability 5.7e-7 per check (normal approximation).
    pub fn agrees_with(&self, theory: f64, z_max: f64) -> bool {
        self.z(theory).abs() < z_max
    }

    /// The estimate scaled by a constant (its error scales too).
    pub fn scaled(&self, c: f64) -> Self {
        Self { value: self.value * c, se: self.se * c.abs(), method: self.method }
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            Method::Replicas { n } => {
                write!(f, "{:.6e} ± {:.2e} (se over {n} independent replicas)", self.value, self.se)
            }
            Method::BatchMeans { batches, tau_int } => write!(
                f,
                "{:.6e} ± {:.2e} (batch means, {batches} batches, tau_int = {tau_int:.1})",
                self.value, self.se
            ),
        }
    }
}
