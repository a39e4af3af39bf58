//! The sharpest directions along the SGD trajectory (Jastrzebski et al., "On the relation between
//! the sharpest directions of DNN loss and the SGD step length", ICLR 2019; the thesis's paper P3).
//!
//! For each (eta, S) of a grid, SGD trains from one initialisation, and every `1/probes_per_epoch`
//! of an epoch the top-k Hessian eigenpairs of the training loss (on a fixed `probe_n` subset, f64
//! HVPs, Lanczos) are measured with their residuals, together with the share of a fresh minibatch
//! gradient (the direction of the next SGD step) inside the top-k eigenspace,
//! `|U_k^T g|^2 / |g|^2`, against the share `k / d` of a random direction. Reported per run: the
//! peak of lambda_max and when it happens, its final value, `eta lambda_max` against 2 (the
//! stability limit of gradient descent on the local quadratic, which full-batch GD approaches: the
//! edge of stability), and the mean share after the first epoch.

use super::context::NetContext;
use super::error::ExperimentError;
use super::grid::Grid;
use crate::net::params::Params;
use crate::net::probes::top_eigenpairs;
use crate::net::train::{run_shown, TrainSpec};
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode};
use crate::observers::Observer;
use crate::output::plot;
use crate::problems::{Sampling, StochasticProblem};
use crate::state::State;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct SharpestOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rates (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.03,0.1", value_parser = crate::cli::flags::positive)]
    pub etas: Vec<f64>,
    /// Batch sizes S (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "16,128", value_parser = crate::cli::flags::at_least_one)]
    pub batches: Vec<usize>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Curvature measurements per epoch of training.
    #[arg(long, default_value_t = 4, value_parser = crate::cli::flags::at_least_one)]
    pub probes_per_epoch: usize,
    /// The top-k eigendirections tracked.
    #[arg(long, default_value_t = 5, value_parser = crate::cli::flags::at_least_one)]
    pub k: usize,
    /// Lanczos steps of each eigenvalue or spectral-density estimate.
    #[arg(long, default_value_t = 20, value_parser = crate::cli::flags::at_least_one)]
    pub lanczos_steps: usize,
    /// Training examples the Hessian is measured on (a stratified subset; all of them when fewer).
    #[arg(long, default_value_t = 512, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
}

/// One measurement along the trajectory.
#[derive(Debug, Clone, Serialize)]
pub struct SharpPoint {
    pub epoch: f64,
    pub train_loss: f64,
    /// Top-k Ritz values, descending, and their residuals.
    pub top: Vec<f64>,
    pub residuals: Vec<f64>,
    pub eta_lambda_max: f64,
    /// `|U_k^T g|^2 / |g|^2` for a fresh minibatch gradient `g`.
    pub step_share: f64,
    pub relu_flips: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharpRun {
    pub eta: f64,
    pub batch: usize,
    pub trace: Vec<SharpPoint>,
    pub peak_lambda_max: f64,
    pub peak_epoch: f64,
    pub final_lambda_max: f64,
    pub max_eta_lambda_max: f64,
    /// Mean step share after the first epoch, and the random-direction share `k / d`.
    pub mean_step_share: f64,
    pub random_share: f64,
}

/// Measures the top-k spectrum and the step share at the steps it wants.
#[derive(Clone)]
struct Tracker {
    probe: NetworkProblem<CpuF64>,
    minibatch: NetworkProblem<CpuF64>,
    every: usize,
    steps_per_epoch: f64,
    eta: f64,
    k: usize,
    lanczos_steps: usize,
    seed: u64,
    points: Vec<SharpPoint>,
}

impl<B: AutodiffBackend> Observer<Params<B>> for Tracker {
    fn wants(&self, step: usize) -> bool {
        step.is_multiple_of(self.every)
    }
    fn record(&mut self, step: usize, x: &Params<B>, loss: f64) {
        let theta = Params::<CpuF64>::from_vec(&x.to_vec(), &Default::default());
        let top = top_eigenpairs(&self.probe, &theta, self.k, self.lanczos_steps, 1e-5, self.seed);
        let mut noise = self.minibatch.new_noise();
        let mut rng = crate::rng::stream(self.seed ^ 0x5_7EB5, step as u64);
        self.minibatch.sample_noise(&mut rng, self.eta, &mut noise);
        let mut g = theta.zeros_like();
        self.minibatch.gradient(&theta, &noise, &mut g);
        let g2 = g.norm_squared();
        let inside: f64 = top
            .vectors
            .iter()
            .map(|y| {
                let c = crate::net::probes::dot(y, &g.tensor.clone().inner());
                c * c
            })
            .sum();
        self.points.push(SharpPoint {
            epoch: step as f64 / self.steps_per_epoch,
            train_loss: loss,
            eta_lambda_max: self.eta * top.values[0],
            top: top.values,
            residuals: top.residuals,
            step_share: if g2 > 0.0 { inside / g2 } else { 0.0 },
            relu_flips: top.relu_flips,
        });
    }
}

/// The claims in numbers: Spearman's correlation of the peak lambda_max with eta/S over the
/// runs (the claim: negative, a larger eta/S keeps the minimum flatter), and the smallest mean
/// share of a step's squared norm in the top-k subspace against a random direction's share k/d.
#[derive(Debug, Clone, Serialize)]
pub struct SharpestSummary {
    pub peak_lambda_max_vs_eta_over_s: crate::stats::RankCorrelation,
    pub max_eta_lambda_max: f64,
    pub min_mean_step_share: f64,
    pub random_share: f64,
}

impl SharpestSummary {
    pub fn of(runs: &[SharpRun]) -> Self {
        let ratio: Vec<f64> = runs.iter().map(|r| r.eta / r.batch as f64).collect();
        let peak: Vec<f64> = runs.iter().map(|r| r.peak_lambda_max).collect();
        Self {
            peak_lambda_max_vs_eta_over_s: crate::stats::rank_correlation(&ratio, &peak),
            max_eta_lambda_max: runs.iter().map(|r| r.max_eta_lambda_max).fold(f64::NAN, f64::max),
            min_mean_step_share: runs.iter().map(|r| r.mean_step_share).fold(f64::NAN, f64::min),
            random_share: runs.first().map_or(f64::NAN, |r| r.random_share),
        }
    }
}

impl SharpestOptions {
    /// Trains the run at `(eta, batch)` from the initialisation, tracking the top-k spectrum.
    fn run_at<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        probe: &NetworkProblem<CpuF64>,
        minibatch: &NetworkProblem<CpuF64>,
        p: &NetworkProblem<B>,
        (eta, batch): (f64, usize),
        device: &B::Device,
    ) -> Result<SharpRun, ExperimentError> {
        let o = self;
        let (n, d) = (ctx.train.len(), super::params_of(&o.layers));
        let spec = TrainSpec::sgd(eta, 0.0, o.epochs, ctx.seed + 5);
        let steps_per_epoch = spec.steps_per_epoch(n, batch);
        let mut tracker = Tracker {
            probe: probe.clone(),
            minibatch: minibatch.clone(),
            every: ((steps_per_epoch / o.probes_per_epoch as f64).round() as usize).max(1),
            steps_per_epoch,
            eta,
            k: o.k,
            lanczos_steps: o.lanczos_steps,
            seed: ctx.seed,
            points: Vec::new(),
        };
        let mut theta = p.model.init::<B>(ctx.seed, device);
        run_shown(
            p,
            &mut theta,
            &spec,
            spec.steps(n, batch)?,
            &mut tracker,
            &ctx.bar,
            format!("eta {eta}, S {batch}"),
        )?; // a divergence is recorded by the grid with (eta, S)
        let run = summarise(eta, batch, tracker.points, o.k, d);
        if !ctx.quiet {
            ctx.bar.suspend(|| eprintln!("eta = {eta}, S = {batch}: lambda_max peak {:.3} at epoch {:.2}, final {:.3}, max eta*lambda_max {:.3}, step share in top-{} {:.3} (random {:.1e})", run.peak_lambda_max, run.peak_epoch, run.final_lambda_max, run.max_eta_lambda_max, o.k, run.mean_step_share, run.random_share));
        }
        Ok(run)
    }
}

impl super::Experiment for SharpestOptions {
    const NAME: &'static str = "sharpest";
    type Report = Grid<SharpRun>;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let d = super::params_of(&o.layers);
        super::check_top_k(o.k, o.lanczos_steps, d)?;
        let (_, probe) = super::probe_set(&model, &ctx.train, o.probe_n, ctx.seed)?;
        let cpu = Default::default();
        let mut runs = Grid::default();
        for &batch in &o.batches {
            let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
            let minibatch =
                NetworkProblem::<CpuF64>::new(model.clone(), &ctx.train, batch, mode, 0.0, &cpu)?;
            let p = NetworkProblem::<B>::new(model.clone(), &ctx.train, batch, mode, 0.0, device)?;
            for &eta in &o.etas {
                let run = o.run_at::<B>(ctx, &probe, &minibatch, &p, (eta, batch), device);
                runs.push(eta, batch, run)?;
            }
        }
        runs.finished()
    }

    fn write(&self, grid: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let runs = &grid.points;
        let rows: Vec<Vec<String>> = runs
            .iter()
            .flat_map(|r| {
                r.trace.iter().map(move |p| {
                    vec![
                        r.eta.to_string(),
                        r.batch.to_string(),
                        p.epoch.to_string(),
                        p.train_loss.to_string(),
                        p.top[0].to_string(),
                        p.residuals[0].to_string(),
                        p.eta_lambda_max.to_string(),
                        p.step_share.to_string(),
                    ]
                })
            })
            .collect();
        ctx.outputs().csv(
            "sharpest.csv",
            &[
                "eta",
                "S",
                "epoch",
                "train_loss",
                "lambda_max",
                "residual",
                "eta_lambda_max",
                "step_share_topk",
            ],
            &rows,
        )?;
        let summary = SharpestSummary::of(runs);
        ctx.outputs().json(
            "sharpest.json",
            &serde_json::json!({ "summary": summary, "runs": runs, "diverged": grid.diverged }),
        )?;
        let panel = |title: &str, y: &str, f: fn(&SharpPoint) -> f64, log_y: bool| plot::Figure {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: y.into(),
            log_y,
            series: runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    plot::Series::line(
                        format!("eta {}, S {}", r.eta, r.batch),
                        r.trace.iter().map(|p| (p.epoch, f(p))).collect(),
                        i,
                    )
                })
                .collect(),
            ..Default::default()
        };
        let mut edge = panel(
            "eta * lambda_max (edge of stability at 2)",
            "eta lambda_max",
            |p| p.eta_lambda_max,
            true,
        );
        if let Some(end) =
            runs.iter().flat_map(|r| r.trace.last()).map(|p| p.epoch).reduce(f64::max)
        {
            edge.series.push(plot::Series::dashed("2", vec![(0.0, 2.0), (end, 2.0)], runs.len()));
        }
        ctx.outputs().figure(
            "sharpest",
            &[
                panel("lambda_max along training", "lambda_max", |p| p.top[0], true),
                edge,
                panel(
                    &format!("share of the step in the top-{} eigenspace", self.k),
                    "|U_k^T g|^2 / |g|^2",
                    |p| p.step_share,
                    false,
                ),
            ],
        )?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        self.batches.iter().map(|&s| ("--batches", s)).collect()
    }

    /// Training (one gradient per example per epoch) plus, per probe point, the Lanczos steps'
    /// HVPs (two full-batch gradients on probe_n examples each, and two sign checks).
    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.etas.len() * self.batches.len()) as f64;
        let points = self.epochs * self.probes_per_epoch as f64 + 1.0;
        let per_point = 4.0 * self.lanczos_steps as f64 * self.probe_n.min(n) as f64;
        (runs * (self.epochs * n as f64 + points * per_point), super::params_of(&self.layers))
    }
}

fn summarise(eta: f64, batch: usize, trace: Vec<SharpPoint>, k: usize, d: usize) -> SharpRun {
    let (peak_i, peak) = trace
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.top[0]))
        .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
    let later: Vec<f64> = trace.iter().filter(|p| p.epoch >= 1.0).map(|p| p.step_share).collect();
    let shares =
        if later.is_empty() { trace.iter().map(|p| p.step_share).collect() } else { later };
    SharpRun {
        eta,
        batch,
        peak_lambda_max: peak,
        peak_epoch: trace[peak_i].epoch,
        final_lambda_max: trace.last().map_or(f64::NAN, |p| p.top[0]),
        max_eta_lambda_max: trace
            .iter()
            .map(|p| p.eta_lambda_max)
            .fold(f64::NEG_INFINITY, f64::max),
        mean_step_share: shares.iter().sum::<f64>() / shares.len().max(1) as f64,
        random_share: k as f64 / d as f64,
        trace,
    }
}
