//! The network experiments (`sgd-sde net ...`): each has a CPU-sized default that finishes in
//! minutes on 2 cores, and flags to scale it up. Results are written as JSON, CSV, PNG + SVG and a
//! manifest, like every other command.

mod batch_optimum;
mod batch_size;
mod bench;
mod breakdown_net;
mod context;
mod critical_batch;
mod curve;
mod error;
mod evidence;
mod gaussian_vs_sgd;
mod grid;
mod interpolation;
mod invariance;
mod noise_scale;
mod nudged;
mod ou_law;
mod schedules;
mod sharpest;
mod svag_net;
mod width;

pub use batch_optimum::{OptimumKind, ScalingFit};
pub use batch_size::{BatchSizeOptions, BatchSizeReport};
pub use bench::{BenchOptions, Products};
pub use breakdown_net::{BreakdownNetOptions, BreakdownNetReport, BreakdownNetRow};
pub use context::{DataChoice, NetContext};
pub use critical_batch::{CriticalBatchOptions, CriticalBatchReport};
pub use error::ExperimentError;
pub use evidence::{EvidenceOptions, EvidencePoint, EvidenceSummary};
pub use gaussian_vs_sgd::GaussianVsSgdOptions;
pub use grid::{DivergedRun, Grid};
pub use interpolation::{InterpolationOptions, PairReport};
pub use invariance::InvarianceOptions;
pub use noise_scale::{NoiseScaleOptions, NoiseScaleReport};
pub use nudged::{NudgedArm, NudgedOptions, NudgedRun};
pub use ou_law::OuLawOptions;
pub use schedules::{SchedulesOptions, SchedulesReport};
pub use sharpest::{SharpRun, SharpestOptions, SharpestSummary};
pub use svag_net::{SvagNetOptions, SvagNetReport};
pub use width::{WidthOptions, WidthTrends};

use burn::tensor::backend::AutodiffBackend;

/// One network experiment: serialisable options in (the implementing type), a serialisable report
/// out. [`run_experiment`] runs it, writes the report through the shared writer and records a
/// manifest made from the options themselves; adding an experiment is one file implementing this.
pub trait Experiment: serde::Serialize {
    /// The experiment's name in its manifest.
    const NAME: &'static str;
    type Report: serde::Serialize;
    /// Trains and measures; writes nothing.
    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError>;
    /// The report's tables, JSON and figures, through `ctx.outputs()`.
    fn write(&self, report: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError>;
    /// About how many one-example gradients (forward + backward passes) the run takes with
    /// `n` training examples, and the parameter count: checked against the time limit before
    /// anything is trained ([`crate::budget`]).
    fn work(&self, n: usize) -> (f64, usize);
    /// The batch sizes the run trains with, each with the flag that sets it as the user writes
    /// it: [`run_experiment`] refuses one above the `n` training examples before anything is
    /// trained, so that a bad last entry of a list loses no finished run. Experiments that skip
    /// such sizes by design (breakdown, batch-size) list none.
    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }
}

/// Parameters of an MLP with these layer sizes (0 for sizes the run will refuse anyway).
pub(crate) fn params_of(layers: &[usize]) -> usize {
    layers
        .windows(2)
        .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
        .fold(0, usize::saturating_add)
}

/// Refuses a top-k request that Lanczos cannot serve: `k` Ritz pairs need `lanczos_steps >= k`
/// steps, and no more than the `d` parameters.
fn check_top_k(k: usize, lanczos_steps: usize, d: usize) -> Result<(), ExperimentError> {
    if k > d || lanczos_steps < k {
        return Err(ExperimentError::Invalid(format!(
            "invalid --k = {k} with --lanczos-steps = {lanczos_steps}: valid is 1 <= k <= lanczos_steps and k <= {d} (the parameter count)"
        )));
    }
    Ok(())
}

/// The curvature probe of an experiment: `probe_n` stratified examples of `train` (all of them
/// when there are fewer) as a full-batch f64 problem on the CPU, returned with its data.
fn probe_set(
    model: &crate::net::Model,
    train: &crate::net::data::Dataset,
    probe_n: usize,
    seed: u64,
) -> Result<
    (crate::net::data::Dataset, crate::net::NetworkProblem<crate::net::CpuF64>),
    ExperimentError,
> {
    let data =
        if probe_n < train.len() { train.stratified_subset(probe_n, seed)? } else { train.clone() };
    let problem = crate::net::NetworkProblem::new(
        model.clone(),
        &data,
        1,
        crate::net::NoiseMode::FullBatch,
        0.0,
        &Default::default(),
    )?;
    Ok((data, problem))
}

/// Runs an experiment, writes its outputs and its manifest, and returns the report.
pub fn run_experiment<E: Experiment, B: AutodiffBackend>(
    experiment: &E,
    ctx: &NetContext,
    device: &B::Device,
) -> Result<E::Report, ExperimentError> {
    let started = std::time::Instant::now();
    let n = ctx.train.len();
    if let Some((flag, s)) = experiment.batch_sizes().into_iter().find(|&(_, s)| s > n) {
        return Err(ExperimentError::Invalid(format!(
            "invalid {flag} = {s}: valid range is 1 <= S <= N (--n) = {n}, the training examples"
        )));
    }
    let (gradients, params) = experiment.work(n);
    crate::budget::Work::network(
        format!(
            "net {}: about {gradients:.3e} example gradients of a {params}-parameter network",
            E::NAME
        ),
        gradients,
        params as f64,
        0.0,
    )
    .check()
    .map_err(|e| ExperimentError::Invalid(e.to_string()))?;
    ctx.outputs().ensure_writable()?;
    let report = experiment.run::<B>(ctx, device)?;
    experiment.write(&report, ctx)?;
    ctx.write_manifest(E::NAME, experiment, started)?;
    Ok(report)
}
