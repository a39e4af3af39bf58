//! Experiment 4 (ICANN 2018 Fig. 5, scaled to a CPU): fix eta/S and scale eta = beta eta0,
//! S = beta S0 on two training-set sizes. Learning curves that coincide at small beta part once
//! the discretisation or the finite data set matters; a seed-to-seed control gives the noise floor
//! the distances are judged against. Beside them: the exact quadratic breakdown ratio for the
//! measured spectrum, `sum_i lambda_i / (1 - eta lambda_i / 2) / sum_i lambda_i * (N - S)/(N - 1)`
//! (C = H, batches without replacement), with the spectrum from stochastic Lanczos quadrature at
//! the beta = 1 solution and the stability limit from power iteration.

use super::context::NetContext;
use super::curve::train_curve;
use super::error::ExperimentError;
use crate::net::probes::{lambda_max, spectral_density};
use crate::net::train::EpochRecord;
use crate::net::train::TrainSpec;
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode, Params};
use crate::output::plot;
use crate::problems::Sampling;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct BreakdownNetOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// The learning rate at beta = 1.
    #[arg(long, default_value_t = 0.005, value_parser = crate::cli::flags::positive)]
    pub eta0: f64,
    /// The batch size at beta = 1 (each run uses beta eta0 and beta batch0).
    #[arg(long, default_value_t = 4, value_parser = crate::cli::flags::at_least_one)]
    pub batch0: usize,
    /// The scales beta (comma separated; must contain 1; by 64 both default N have parted).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64", value_parser = crate::cli::flags::positive)]
    pub betas: Vec<f64>,
    /// Training-set sizes N (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "500,2000", value_parser = crate::cli::flags::at_least_one)]
    pub ns: Vec<usize>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Lanczos steps of each eigenvalue or spectral-density estimate.
    #[arg(long, default_value_t = 30, value_parser = crate::cli::flags::at_least_one)]
    pub lanczos_steps: usize,
    /// Random start vectors of the stochastic Lanczos quadrature of the spectrum.
    #[arg(long, default_value_t = 2, value_parser = crate::cli::flags::at_least_one)]
    pub probes: usize,
    /// Training examples the curvature probes use (a stratified subset; all of them when fewer).
    #[arg(long, default_value_t = 500, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownNetRow {
    pub n: usize,
    pub beta: f64,
    pub eta: f64,
    pub batch: usize,
    pub final_train_loss: f64,
    pub final_test_accuracy: f64,
    /// RMS distance of the training-loss curve to beta = 1's.
    pub distance: f64,
    /// The seed-to-seed distance at beta = 1 (the noise floor).
    pub noise_floor: f64,
    /// The distance exceeds 3 noise floors, or the run diverged.
    pub parted: bool,
    /// Why the run stopped, when it diverged (its curve and final values are then NaN).
    pub diverged: Option<String>,
    /// The quadratic theory's E(l) / eta/(4S) Tr(C) for the measured spectrum (None past the limit).
    pub quadratic_ratio: Option<f64>,
    pub eta_lambda_max: f64,
}

/// Where the curves part, per training-set size: the smallest beta whose curve is more than 3
/// noise floors from beta = 1's (None when none parts). The claim (ICANN 2018 Fig. 5): they part
/// at large beta, at a smaller beta for the smaller N.
#[derive(Debug, Clone, Serialize)]
pub struct Parting {
    pub n: usize,
    pub beta: Option<f64>,
}

impl BreakdownNetReport {
    pub fn parting(&self) -> Vec<Parting> {
        let mut ns: Vec<usize> = self.rows.iter().map(|r| r.n).collect();
        ns.sort_unstable();
        ns.dedup();
        ns.into_iter()
            .map(|n| Parting {
                n,
                beta: self
                    .rows
                    .iter()
                    .filter(|r| r.n == n && r.parted)
                    .map(|r| r.beta)
                    .min_by(f64::total_cmp),
            })
            .collect()
    }
}

fn rms(a: &[EpochRecord], b: &[EpochRecord]) -> f64 {
    super::curve::rms(a, b, |r| r.train_loss)
}

/// A beta's run: its learning curve, or why it diverged. A run that diverges has left beta = 1's
/// curve, so it parts (with an empty curve); any other error stops the experiment.
fn curve_or_divergence(
    run: Result<Vec<EpochRecord>, ExperimentError>,
) -> Result<(Vec<EpochRecord>, Option<String>), ExperimentError> {
    match run {
        Ok(curve) => Ok((curve, None)),
        Err(ExperimentError::Diverged(m)) => Ok((Vec::new(), Some(m))),
        Err(e) => Err(e),
    }
}

/// The rows of the table and every learning curve behind them, `(N, beta, curve)`.
#[derive(Debug, Clone, Serialize)]
pub struct BreakdownNetReport {
    pub rows: Vec<BreakdownNetRow>,
    pub curves: Vec<(usize, f64, Vec<EpochRecord>)>,
    /// `(N, beta, S)` of the scales not run because `S = beta S0` exceeds `N`.
    pub skipped: Vec<(usize, f64, usize)>,
}

impl super::Experiment for BreakdownNetOptions {
    const NAME: &'static str = "breakdown";
    type Report = BreakdownNetReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        // The beta = 1 run is the reference each other beta is compared with.
        if !o.betas.contains(&1.0) || o.betas.iter().all(|&b| b == 1.0) || o.ns.is_empty() {
            return Err(ExperimentError::Invalid("invalid --betas/--ns: valid is a list of betas containing 1 and another beta, and at least one N".into()));
        }
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
        let mut rows = Vec::new();
        let mut curves: Vec<(usize, f64, Vec<EpochRecord>)> = Vec::new();
        let mut skipped = Vec::new();
        for &n in &o.ns {
            let train = if n < ctx.train.len() {
                ctx.train.stratified_subset(n, ctx.seed)?
            } else {
                ctx.train.clone()
            };
            let n = train.len();
            let c = NetContext { train: train.clone(), ..ctx.clone() };
            let base = train_curve::<B>(
                &c,
                &model,
                TrainSpec::sgd(o.eta0, 0.0, o.epochs, ctx.seed + 1),
                o.batch0,
                mode,
                device,
            )?;
            let other = train_curve::<B>(
                &c,
                &model,
                TrainSpec::sgd(o.eta0, 0.0, o.epochs, ctx.seed + 2),
                o.batch0,
                mode,
                device,
            )?;
            let floor = rms(&base, &other);
            // The spectrum at the beta = 1 solution (f64, a stratified probe subset).
            let theta = {
                let p =
                    NetworkProblem::<B>::new(model.clone(), &train, o.batch0, mode, 0.0, device)?;
                let mut th = model.init::<B>(ctx.seed, device);
                let spec = TrainSpec::sgd(o.eta0, 0.0, o.epochs, ctx.seed + 1);
                crate::net::train::run_shown(
                    &p,
                    &mut th,
                    &spec,
                    spec.steps(n, o.batch0)?,
                    &mut crate::observers::Series::new(usize::MAX, 1),
                    &ctx.bar,
                    format!("N {n}: the beta = 1 solution"),
                )?;
                Params::<CpuF64>::from_vec(&th.to_vec(), &Default::default())
            };
            let (_, probe) = super::probe_set(&model, &train, o.probe_n, ctx.seed)?;
            let sd = spectral_density(&probe, &theta, o.lanczos_steps, o.probes, 1e-5, ctx.seed);
            let lm = lambda_max(&probe, &theta, 1e-5, 60, 1e-3, ctx.seed)
                .lambda
                .max(sd.nodes.iter().copied().fold(0.0, f64::max));
            let tr = sd.trace_of(|x| x);
            if !ctx.quiet {
                ctx.bar.suspend(|| eprintln!("N = {n}: noise floor {floor:.4}; spectrum: Tr(H) ≈ {tr:.3} ({} Lanczos steps x {} probes), lambda_max = {lm:.3} (limit beta = {:.2})", o.lanczos_steps, o.probes, 2.0 / (o.eta0 * lm)));
            }
            for &beta in &o.betas {
                let (eta, batch) =
                    (beta * o.eta0, ((beta * o.batch0 as f64).round() as usize).max(1));
                if batch > n {
                    skipped.push((n, beta, batch));
                    continue;
                }
                let (curve, diverged) = if beta == 1.0 {
                    (base.clone(), None)
                } else {
                    let run = train_curve::<B>(
                        &c,
                        &model,
                        TrainSpec::sgd(eta, 0.0, o.epochs, ctx.seed + 1),
                        batch,
                        mode,
                        device,
                    );
                    let (curve, diverged) = curve_or_divergence(run)
                        .map_err(|e| e.at(format!("N = {n}, beta = {beta}")))?;
                    if let (Some(m), false) = (&diverged, ctx.quiet) {
                        ctx.bar.suspend(|| {
                            eprintln!("N = {n}, beta = {beta}: diverged ({m}); counted as parted")
                        });
                    }
                    (curve, diverged)
                };
                let finite_n = (n - batch) as f64 / (n - 1) as f64;
                let quadratic = (eta * lm < 2.0)
                    .then(|| sd.trace_of(|x| x / (1.0 - eta * x / 2.0)) / tr * finite_n);
                let last = curve.last().copied();
                let distance = if curve.is_empty() { f64::NAN } else { rms(&curve, &base) };
                rows.push(BreakdownNetRow {
                    n,
                    beta,
                    eta,
                    batch,
                    final_train_loss: last.map_or(f64::NAN, |r| r.train_loss),
                    final_test_accuracy: last.map_or(f64::NAN, |r| r.test_accuracy),
                    distance,
                    noise_floor: floor,
                    parted: diverged.is_some() || distance > 3.0 * floor,
                    diverged,
                    quadratic_ratio: quadratic,
                    eta_lambda_max: eta * lm,
                });
                curves.push((n, beta, curve));
            }
        }
        Ok(BreakdownNetReport { rows, curves, skipped })
    }

    fn write(&self, report: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let (rows, curves) = (&report.rows, &report.curves);
        let o = self;
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let csv: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.n.to_string(),
                    r.beta.to_string(),
                    r.eta.to_string(),
                    r.batch.to_string(),
                    r.final_train_loss.to_string(),
                    r.final_test_accuracy.to_string(),
                    r.distance.to_string(),
                    r.noise_floor.to_string(),
                    r.parted.to_string(),
                    r.diverged.clone().unwrap_or_default(),
                    opt(r.quadratic_ratio),
                    r.eta_lambda_max.to_string(),
                ]
            })
            .collect();
        ctx.outputs().csv(
            "breakdown_net.csv",
            &[
                "N",
                "beta",
                "eta",
                "S",
                "final_train_loss",
                "final_test_accuracy",
                "distance",
                "noise_floor",
                "parted",
                "diverged",
                "quadratic_ratio",
                "eta_lambda_max",
            ],
            &csv,
        )?;
        ctx.outputs().json("breakdown_net.json", &serde_json::json!({ "parting_by_n": report.parting(), "rows": rows, "skipped": report.skipped.iter().map(|(n, b, s)| serde_json::json!({ "n": n, "beta": b, "batch": s })).collect::<Vec<_>>(), "curves": curves.iter().map(|(n, b, c)| serde_json::json!({ "n": n, "beta": b, "curve": c })).collect::<Vec<_>>() }))?;
        let by_n = |f: fn(&BreakdownNetRow) -> Option<f64>, title: &str, y: &str, log_y: bool| {
            plot::Figure {
                title: title.into(),
                x_label: "beta (eta = beta eta0, S = beta S0)".into(),
                y_label: y.into(),
                log_x: true,
                log_y,
                series: o
                    .ns
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        plot::Series::line(
                            format!("N = {n}"),
                            rows.iter()
                                .filter(|r| r.n == *n || (r.n < *n && o.ns.len() == 1))
                                .filter_map(|r| f(r).map(|v| (r.beta, v)))
                                .collect(),
                            i,
                        )
                    })
                    .collect(),
                ..Default::default()
            }
        };
        let mut dist = by_n(
            |r| (r.beta != 1.0).then_some(r.distance),
            "Distance to the beta = 1 curve",
            "RMS train-loss distance",
            true,
        );
        for (i, n) in o.ns.iter().enumerate() {
            if let Some(r) = rows.iter().find(|r| r.n == *n) {
                dist.series.push(plot::Series::dashed(
                    format!("N = {n}: 3 x noise floor"),
                    vec![
                        (o.betas[0], 3.0 * r.noise_floor),
                        (*o.betas.last().unwrap_or(&1.0), 3.0 * r.noise_floor),
                    ],
                    i,
                ));
            }
        }
        ctx.outputs().figure(
            "breakdown_net",
            &[
                by_n(
                    |r| Some(r.final_test_accuracy),
                    "Final test accuracy",
                    "test accuracy",
                    false,
                ),
                dist,
                by_n(
                    |r| r.quadratic_ratio,
                    "Quadratic theory, measured spectrum",
                    "E(l) / continuous law",
                    true,
                ),
            ],
        )?;
        Ok(())
    }
    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.betas.len() * self.ns.len().max(1)) as f64;
        let probes = (self.lanczos_steps + self.probes) as f64 * 8.0 * self.probe_n as f64;
        (runs * (self.epochs * n as f64 + probes), super::params_of(&self.layers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diverged_run_parts_and_any_other_error_stops_the_experiment() {
        let (curve, why) =
            curve_or_divergence(Err(ExperimentError::Diverged("diverged at step 3".into())))
                .unwrap();
        assert!(curve.is_empty());
        assert_eq!(why.as_deref(), Some("diverged at step 3"));
        let bad = ExperimentError::Invalid("invalid --layers".into());
        assert_eq!(curve_or_divergence(Err(bad.clone())), Err(bad));
        assert_eq!(curve_or_divergence(Ok(Vec::new())), Ok((Vec::new(), None)));
    }
}
