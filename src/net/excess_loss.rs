//! The measurement a network check compares with its quadratic model: SGD on the real network,
//! started at the minimum θ*, and its stationary excess loss `E[L(θ_k)] - L(θ*)`.
//!
//! The run starts at θ* (x = 0), skips a burn-in after which the transient is below
//! [`BURN_IN_TOLERANCE`] of the stationary value (from the model's own per-mode contraction), then
//! records the full training loss every `every` steps over a window. The standard error comes
//! from batch means over that one correlated series, with its integrated autocorrelation time
//! reported; it is trusted only when each batch spans at least [`MIN_BATCH_OVER_TAU`] times
//! `tau_int` (see [`ExcessLoss::reliable`]). Yaida's fluctuation-dissipation residual, centred at
//! θ*, is measured on the same run.

use super::local_quadratic::{LocalQuadratic, Regime};
use super::params::Params;
use super::probes::{Fdr, FdrResult};
use super::problem::{NetNoise, NetworkProblem};
use super::train::{run_shown, TrainError, TrainSpec};
use crate::observers::Series;
use crate::problems::StochasticProblem;
use crate::stats::{batch_means, Estimate, Method};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

/// The transient left after the burn-in, relative to the stationary loss.
pub const BURN_IN_TOLERANCE: f64 = 1e-3;
/// Batches of the batch-means estimate.
pub const BATCHES: usize = 20;
/// Each batch must span this many autocorrelation times for its standard error to be honest.
pub const MIN_BATCH_OVER_TAU: f64 = 5.0;

/// How long to run and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunLength {
    /// Steps averaged after the burn-in.
    pub window: usize,
    /// Burn-in steps (None: from the quadratic model, [`LocalQuadratic::burn_in`]).
    pub burn_in: Option<usize>,
    /// Steps between loss evaluations.
    pub every: usize,
    pub seed: u64,
}

/// The measured excess loss with its error bar, and the run's FDR residual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExcessLoss {
    pub estimate: Estimate,
    pub burn_in: usize,
    pub window: usize,
    pub every: usize,
    pub samples: usize,
    pub fdr: FdrResult,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

impl ExcessLoss {
    /// The integrated autocorrelation time of the loss series, in samples.
    pub fn tau_int(&self) -> f64 {
        match self.estimate.method {
            Method::BatchMeans { tau_int, .. } => tau_int,
            Method::Replicas { .. } => 1.0,
        }
    }
    /// Whether every batch spans at least [`MIN_BATCH_OVER_TAU`] autocorrelation times.
    pub fn reliable(&self) -> bool {
        (self.samples / BATCHES) as f64 >= MIN_BATCH_OVER_TAU * self.tau_int()
    }
}

/// Runs SGD (heavy ball when `regime.momentum > 0`) from θ* on `problem`, whose batch size and
/// sampling must be the regime's.
pub fn measure<B: AutodiffBackend>(
    problem: &NetworkProblem<B>,
    local: &LocalQuadratic,
    regime: &Regime,
    length: &RunLength,
    bar: &indicatif::ProgressBar,
    label: String,
) -> Result<ExcessLoss, TrainError>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = NetNoise>,
    B::FloatElem: Send + Sync,
{
    let started = std::time::Instant::now();
    let burn_in = length.burn_in.unwrap_or_else(|| local.burn_in(regime, BURN_IN_TOLERANCE));
    let every = length.every.max(1);
    let steps = burn_in + length.window;
    let device = problem.x.device();
    let star = Params::<B>::from_vec(&local.theta_star, &device);
    let spec = TrainSpec::sgd(regime.eta, regime.momentum, 0.0, length.seed);
    let fdr = Fdr::new(problem.clone(), burn_in, (4 * every).max(2), regime.eta, regime.momentum)
        .centred_at(star.clone());
    let mut observer = (Series::new(burn_in, every), fdr);
    let mut theta = star;
    run_shown(problem, &mut theta, &spec, steps, &mut observer, bar, label)?;
    let excess: Vec<f64> = observer.0.values.iter().map(|l| l - local.minimum.loss).collect();
    Ok(ExcessLoss {
        estimate: batch_means(&excess, BATCHES),
        burn_in,
        window: length.window,
        every,
        samples: excess.len(),
        fdr: observer.1.result(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
