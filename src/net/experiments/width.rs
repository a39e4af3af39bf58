//! Experiment 3 (ICANN 2018 Fig. 3, scaled to a CPU): the width of the minimum reached against
//! eta/S. Train the 4-layer ReLU MLP from one initialisation over a grid of (eta, S), then measure
//! lambda_max (power iteration, with its residual bound), the Hessian's Frobenius norm (Hutchinson,
//! with its standard error) and the test accuracy.

use super::context::NetContext;
use super::curve::train_marked;
use super::error::ExperimentError;
use super::grid::Grid;
use crate::net::probes::{hessian_stats, lambda_max};
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode, Params};
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::{rank_correlation, RankCorrelation};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct WidthOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,128,128,128,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rates (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.05,0.1", value_parser = crate::cli::flags::positive)]
    pub etas: Vec<f64>,
    /// Batch sizes S (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "16,128", value_parser = crate::cli::flags::at_least_one)]
    pub batches: Vec<usize>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 15.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Rademacher probes of the Hutchinson estimate of Tr(H) (at least 2, for its error bar).
    #[arg(long, default_value_t = 10, value_parser = crate::cli::flags::probes)]
    pub probes: usize,
    /// Examples used by the curvature probes (a stratified subset of the training set; all of
    /// it when smaller).
    #[arg(long, default_value_t = 500, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
    /// Batch norm after each hidden layer (the ICANN network's option).
    #[arg(long)]
    pub batch_norm: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WidthPoint {
    pub eta: f64,
    pub batch: usize,
    pub eta_over_s: f64,
    pub lambda_max: f64,
    pub lambda_max_residual: f64,
    pub frobenius: f64,
    pub frobenius_se: f64,
    pub trace: f64,
    pub trace_se: f64,
    pub test_accuracy: f64,
    pub train_loss: f64,
    pub relu_flips: usize,
}

/// Spearman's rank correlation with eta/S (rho, and its t on n - 2 degrees of freedom) of the
/// three width measures: the claim is that lambda_max and |H|_F fall (rho < 0) and the test
/// accuracy does not fall as eta/S grows.
#[derive(Debug, Clone, Serialize)]
pub struct WidthTrends {
    pub lambda_max: RankCorrelation,
    pub frobenius: RankCorrelation,
    pub test_accuracy: RankCorrelation,
}

impl WidthTrends {
    pub fn of(points: &[WidthPoint]) -> Self {
        let x: Vec<f64> = points.iter().map(|p| p.eta_over_s).collect();
        let by = |f: fn(&WidthPoint) -> f64| {
            rank_correlation(&x, &points.iter().map(f).collect::<Vec<_>>())
        };
        Self {
            lambda_max: by(|p| p.lambda_max),
            frobenius: by(|p| p.frobenius),
            test_accuracy: by(|p| p.test_accuracy),
        }
    }
}

impl WidthOptions {
    /// Trains the run at `(eta, batch)` and measures its minimum's width on the probe set.
    fn point<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        model: &Model,
        probe: &NetworkProblem<CpuF64>,
        eta: f64,
        batch: usize,
        device: &B::Device,
    ) -> Result<WidthPoint, ExperimentError> {
        let o = self;
        let spec = crate::net::train::TrainSpec::sgd(eta, 0.0, o.epochs, ctx.seed + 3);
        let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
        let marks = crate::net::train::end_marks;
        // a divergence is recorded by the grid with (eta, S)
        let (records, theta) = train_marked::<B>(ctx, model, spec, batch, mode, marks, device)?;
        let last = *records.last().ok_or_else(|| {
            ExperimentError::Invalid(format!(
                "invalid --epochs = {}: valid is long enough for one evaluation (> 0)",
                o.epochs
            ))
        })?;
        let th64 = Params::<CpuF64>::from_vec(&theta.to_vec(), &Default::default());
        let lm = lambda_max(probe, &th64, 1e-5, 60, 1e-3, ctx.seed);
        let hs = hessian_stats(probe, &th64, o.probes, 1e-5, ctx.seed);
        if !ctx.quiet {
            ctx.bar.suspend(|| eprintln!("eta = {eta:.4}, S = {batch:>4} (eta/S = {:.2e}): lambda_max = {:.3} ± {:.2}, |H|_F = {:.3} ± {:.2}, test acc = {:.4}", eta / batch as f64, lm.lambda, lm.residual, hs.frobenius.value, hs.frobenius.se, last.test_accuracy));
        }
        Ok(WidthPoint {
            eta,
            batch,
            eta_over_s: eta / batch as f64,
            lambda_max: lm.lambda,
            lambda_max_residual: lm.residual,
            frobenius: hs.frobenius.value,
            frobenius_se: hs.frobenius.se,
            trace: hs.trace.value,
            trace_se: hs.trace.se,
            test_accuracy: last.test_accuracy,
            train_loss: last.train_loss,
            relu_flips: hs.relu_flips + lm.relu_flips,
        })
    }
}

impl super::Experiment for WidthOptions {
    const NAME: &'static str = "width";
    type Report = Grid<WidthPoint>;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?.with_batch_norm(o.batch_norm));
        let (_, probe) = super::probe_set(&model, &ctx.train, o.probe_n, ctx.seed)?;
        let mut grid = Grid::default();
        for &batch in &o.batches {
            for &eta in &o.etas {
                grid.push(eta, batch, self.point::<B>(ctx, &model, &probe, eta, batch, device))?;
            }
        }
        grid.finished()
    }

    fn write(&self, grid: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let points = &grid.points;
        let rows: Vec<Vec<String>> = points
            .iter()
            .map(|p| {
                [
                    p.eta,
                    p.batch as f64,
                    p.eta_over_s,
                    p.lambda_max,
                    p.lambda_max_residual,
                    p.frobenius,
                    p.frobenius_se,
                    p.trace,
                    p.trace_se,
                    p.test_accuracy,
                    p.train_loss,
                ]
                .iter()
                .map(|v| v.to_string())
                .collect()
            })
            .collect();
        ctx.outputs().csv(
            "width.csv",
            &[
                "eta",
                "S",
                "eta_over_S",
                "lambda_max",
                "lambda_max_residual",
                "frobenius",
                "frobenius_se",
                "trace",
                "trace_se",
                "test_accuracy",
                "train_loss",
            ],
            &rows,
        )?;
        let trends = WidthTrends::of(points);
        ctx.outputs().json(
            "width.json",
            &serde_json::json!({ "points": points, "diverged": grid.diverged, "rank_correlation_with_eta_over_s": trends }),
        )?;
        let mut batches: Vec<usize> = points.iter().map(|p| p.batch).collect();
        batches.dedup();
        let panel = |title: &str, f: fn(&WidthPoint) -> (f64, f64)| plot::Figure {
            title: title.into(),
            x_label: "eta / S".into(),
            y_label: title.into(),
            log_x: true,
            series: batches
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let pts: Vec<&WidthPoint> = points.iter().filter(|p| p.batch == *s).collect();
                    plot::Series::points(
                        format!("S = {s}"),
                        pts.iter().map(|p| (p.eta_over_s, f(p).0)).collect(),
                        Some(pts.iter().map(|p| f(p).1).collect()),
                        i,
                    )
                })
                .collect(),
            ..Default::default()
        };
        ctx.outputs().figure(
            "width",
            &[
                panel("lambda_max", |p| (p.lambda_max, p.lambda_max_residual)),
                panel("Frobenius norm of H", |p| (p.frobenius, p.frobenius_se)),
                panel("test accuracy", |p| (p.test_accuracy, 0.0)),
            ],
        )?;
        Ok(())
    }
    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        self.batches.iter().map(|&s| ("--batches", s)).collect()
    }

    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.etas.len() * self.batches.len()) as f64;
        let probes = 8.0 * (self.probes + 20) as f64 * self.probe_n as f64;
        (runs * (self.epochs * n as f64 + probes), super::params_of(&self.layers))
    }
}
