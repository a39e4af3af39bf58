//! The gradient noise scale along training (McCandlish et al., "An empirical model of large-batch
//! training", 2018): `B_simple = Tr(C)/|G|^2` and `B_noise = Tr(HC)/(G^T H G)` measured every
//! `1/probes_per_epoch` of an epoch on a fixed `probe_n` subset (f64, exact Tr(C), Tr(HC) from `k`
//! examples with its standard error; see [`noise_scales`]). Their claims: the noise scale grows as
//! the loss falls (so larger batches become useful later in training), and `B_simple` tracks
//! `B_noise` within a small factor when H is close to a multiple of the identity on C's span.

use super::context::NetContext;
use super::error::ExperimentError;
use crate::net::params::Params;
use crate::net::probes::{noise_scales, NoiseScales};
use crate::net::train::{run_shown, TrainSpec};
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode};
use crate::observers::Observer;
use crate::output::plot;
use crate::problems::Sampling;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct NoiseScaleOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05, value_parser = crate::cli::flags::positive)]
    pub eta: f64,
    /// Batch size S.
    #[arg(long, default_value_t = 32, value_parser = crate::cli::flags::at_least_one)]
    pub batch: usize,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Curvature measurements per epoch of training.
    #[arg(long, default_value_t = 2, value_parser = crate::cli::flags::at_least_one)]
    pub probes_per_epoch: usize,
    /// Training examples the scales are measured on (a stratified subset; all of them when fewer).
    #[arg(long, default_value_t = 1000, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
    /// Examples behind each Tr(HC) estimate (one HVP each).
    #[arg(long, default_value_t = 32, value_parser = crate::cli::flags::at_least_one)]
    pub k: usize,
}

/// One measurement along the trajectory.
#[derive(Debug, Clone, Serialize)]
pub struct NoisePoint {
    pub epoch: f64,
    pub train_loss: f64,
    pub scales: NoiseScales,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoiseScaleReport {
    pub eta: f64,
    pub batch: usize,
    pub trace: Vec<NoisePoint>,
    /// Spearman rank correlation of B_simple with the training loss along the run (the claim:
    /// negative, the noise scale grows as the loss falls).
    pub rank_correlation_b_simple_loss: f64,
    /// Its t statistic `rho sqrt((n-2)/(1-rho^2))` (Student t with n - 2 degrees of freedom under
    /// no correlation; |t| > 2.1 is 5% two-sided for n = 21 points).
    pub rank_correlation_t: f64,
    /// Geometric mean of B_noise / B_simple over the run.
    pub mean_ratio_noise_simple: f64,
}

#[derive(Clone)]
struct Tracker {
    probe: NetworkProblem<CpuF64>,
    probe_data: crate::net::data::Dataset,
    every: usize,
    steps_per_epoch: f64,
    k: usize,
    seed: u64,
    points: Vec<NoisePoint>,
    error: Option<String>,
}

impl<B: AutodiffBackend> Observer<Params<B>> for Tracker {
    fn wants(&self, step: usize) -> bool {
        step.is_multiple_of(self.every)
    }
    fn record(&mut self, step: usize, x: &Params<B>, loss: f64) {
        if self.error.is_some() {
            return;
        }
        let theta = Params::<CpuF64>::from_vec(&x.to_vec(), &Default::default());
        let seed = self.seed.wrapping_add(step as u64);
        match noise_scales(&self.probe, &self.probe_data, &theta, self.k, seed) {
            Ok(scales) => self.points.push(NoisePoint {
                epoch: step as f64 / self.steps_per_epoch,
                train_loss: loss,
                scales,
            }),
            Err(e) => self.error = Some(e),
        }
    }
}

impl super::Experiment for NoiseScaleOptions {
    const NAME: &'static str = "noise-scale";
    type Report = NoiseScaleReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let (probe_data, probe) = super::probe_set(&model, &ctx.train, o.probe_n, ctx.seed)?;
        let n = ctx.train.len();
        let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
        let p = NetworkProblem::<B>::new(model.clone(), &ctx.train, o.batch, mode, 0.0, device)?;
        let spec = TrainSpec::sgd(o.eta, 0.0, o.epochs, ctx.seed + 5);
        let steps_per_epoch = spec.steps_per_epoch(n, o.batch);
        let mut tracker = Tracker {
            probe,
            probe_data,
            every: ((steps_per_epoch / o.probes_per_epoch as f64).round() as usize).max(1),
            steps_per_epoch,
            k: o.k,
            seed: ctx.seed,
            points: Vec::new(),
            error: None,
        };
        let mut theta = model.init::<B>(ctx.seed, device);
        run_shown(
            &p,
            &mut theta,
            &spec,
            spec.steps(n, o.batch)?,
            &mut tracker,
            &ctx.bar,
            format!("eta {}, S {}", o.eta, o.batch),
        )
        .map_err(ExperimentError::from)?;
        if let Some(e) = tracker.error {
            return Err(ExperimentError::Invalid(e));
        }
        let trace = tracker.points;
        let crate::stats::RankCorrelation { rho, t } = crate::stats::rank_correlation(
            &trace.iter().map(|p| p.scales.b_simple).collect::<Vec<_>>(),
            &trace.iter().map(|p| p.train_loss).collect::<Vec<_>>(),
        );
        let ratios: Vec<f64> =
            trace.iter().map(|p| (p.scales.b_noise / p.scales.b_simple).ln()).collect();
        Ok(NoiseScaleReport {
            eta: o.eta,
            batch: o.batch,
            rank_correlation_b_simple_loss: rho,
            rank_correlation_t: t,
            mean_ratio_noise_simple: (ratios.iter().sum::<f64>() / ratios.len().max(1) as f64)
                .exp(),
            trace,
        })
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let rows: Vec<Vec<String>> = r
            .trace
            .iter()
            .map(|p| {
                let s = &p.scales;
                [
                    p.epoch,
                    p.train_loss,
                    s.trace_c,
                    s.gradient_norm2,
                    s.b_simple,
                    s.curvature_along_g,
                    s.trace_hc,
                    s.trace_hc_se,
                    s.b_noise,
                    s.b_noise_se,
                ]
                .iter()
                .map(|v| v.to_string())
                .chain([s.relu_flips.to_string()])
                .collect()
            })
            .collect();
        ctx.outputs().csv(
            "noise_scale.csv",
            &[
                "epoch",
                "train_loss",
                "trace_c",
                "gradient_norm2",
                "b_simple",
                "gHg_over_g2",
                "trace_hc",
                "trace_hc_se",
                "b_noise",
                "b_noise_se",
                "relu_flips",
            ],
            &rows,
        )?;
        ctx.outputs().json("noise_scale.json", r)?;
        let line = |name: &str, f: fn(&NoisePoint) -> f64, i| {
            plot::Series::line(
                name.to_string(),
                r.trace.iter().map(|p| (p.epoch, f(p))).collect(),
                i,
            )
        };
        ctx.outputs().figure(
            "noise_scale",
            &[
                plot::Figure {
                    title: format!("noise scales along training (eta {}, S {})", r.eta, r.batch),
                    x_label: "epoch".into(),
                    y_label: "batch size".into(),
                    log_y: true,
                    series: vec![
                        line("B_simple = Tr(C)/|G|^2", |p| p.scales.b_simple, 0),
                        line("B_noise = Tr(HC)/G'HG", |p| p.scales.b_noise, 1),
                        plot::Series::dashed(
                            format!("S = {}", r.batch),
                            r.trace.iter().map(|p| (p.epoch, r.batch as f64)).collect(),
                            2,
                        ),
                    ],
                    ..Default::default()
                },
                plot::Figure {
                    title: "training loss".into(),
                    x_label: "epoch".into(),
                    y_label: "loss".into(),
                    log_y: true,
                    series: vec![line("train loss", |p| p.train_loss, 0)],
                    ..Default::default()
                },
            ],
        )?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![("--batch", self.batch)]
    }

    /// Training (one gradient per example per epoch) plus, per probe point, the per-example
    /// gradient pass and 1 + k HVPs (two full-batch gradients on probe_n examples, up to 4 tries).
    fn work(&self, n: usize) -> (f64, usize) {
        let points = self.epochs * self.probes_per_epoch as f64 + 1.0;
        let per_point = (2.0 + 8.0 * (1 + self.k) as f64) * self.probe_n.min(n) as f64;
        (self.epochs * n as f64 + points * per_point, super::params_of(&self.layers))
    }
}
