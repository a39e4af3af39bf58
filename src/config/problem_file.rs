use super::matrix_spec::MatrixSpec;
use super::read::{parse, read_text, InputError};
use crate::problems::Sampling;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole problem file. See README.md ("Problem files") for an example per model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemFile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// H, the Hessian of the mean loss. Not used by `regression` (H = X^T X / N there).
    #[serde(default)]
    pub hessian: Option<MatrixSpec>,
    #[serde(default)]
    pub noise: NoiseSpec,
    pub optimizer: OptimizerSpec,
    /// Start point in the original coordinates, relative to the minimiser (default: the minimiser).
    #[serde(default)]
    pub x0: Option<Vec<f64>>,
    /// Or the start point itself, theta0 = theta* + x0 (data-set and regression problems, whose
    /// minimiser is computed from the data).
    #[serde(default)]
    pub theta0: Option<Vec<f64>>,
    #[serde(default)]
    pub simulation: SimulationSpec,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseModel {
    /// Gaussian gradient noise with covariance C/S.
    #[default]
    Gaussian,
    /// N per-example quadratics 1/2 (theta - c_n)^T H (theta - c_n).
    Dataset,
    /// Least squares 1/2 (x_n^T theta - y_n)^2 (multiplicative noise).
    Regression,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplingSpec {
    WithReplacement,
    WithoutReplacement,
    Reshuffle,
}

impl From<SamplingSpec> for Sampling {
    fn from(s: SamplingSpec) -> Self {
        match s {
            SamplingSpec::WithReplacement => Sampling::WithReplacement,
            SamplingSpec::WithoutReplacement => Sampling::WithoutReplacement,
            SamplingSpec::Reshuffle => Sampling::Reshuffle,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseSpec {
    #[serde(default)]
    pub model: NoiseModel,
    /// gaussian: the per-example gradient covariance C (default: C = H).
    #[serde(default)]
    pub covariance: Option<MatrixSpec>,
    /// dataset, regression: how minibatches are drawn (default with_replacement).
    #[serde(default)]
    pub sampling: Option<SamplingSpec>,
    /// dataset: the centres c_n, one row per example.
    #[serde(default)]
    pub centers: Option<Vec<Vec<f64>>>,
    /// regression: features x_n, one row per example, and targets y_n.
    #[serde(default)]
    pub features: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    pub targets: Option<Vec<f64>>,
    /// dataset or regression data from a CSV (regression: the last column is y),
    /// relative to the problem file's folder.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Synthetic data instead: `{ n = 100, seed = 1, scale = 1.0 }`.
    #[serde(default)]
    pub generate: Option<GenerateSpec>,
}

/// Synthetic data: dataset centres `c_n ~ N(0, scale^2 I)`; regression features `x_n ~ N(0, I_d)`,
/// targets `y_n = sum_j x_nj + 0.5 x_n1^2 + scale * eps_n` (a misspecified model, so the noise at
/// the optimum is not zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    pub n: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "one")]
    pub scale: f64,
    /// regression only: the number of features.
    #[serde(default)]
    pub d: Option<usize>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    pub eta: f64,
    #[serde(default = "one_usize")]
    pub batch: usize,
    #[serde(default)]
    pub momentum: f64,
}

fn one_usize() -> usize {
    1
}

pub use crate::integrators::IntegratorKind;

/// Defaults for `sgd-sde sim`; command-line flags override them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationSpec {
    pub paths: Option<usize>,
    pub steps: Option<usize>,
    pub burn_in: Option<usize>,
    pub seed: Option<u64>,
    pub integrator: Option<IntegratorKind>,
    #[serde(default)]
    pub transient_at: Vec<usize>,
}

impl ProblemFile {
    /// Reads and parses a problem file (TOML, or JSON by extension).
    pub fn load(path: &Path) -> Result<Self, InputError> {
        let text = read_text(path, "--problem")?;
        Self::parse(path, &text)
    }

    /// Parses problem text; `path` is used for the format and in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, InputError> {
        parse(path, text)
    }
}
