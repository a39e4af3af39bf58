//! SVAG against SGD on a network (Li, Malladi & Arora 2021): does SGD at this (eta, S) behave like
//! its SDE? SVAG at amplification `l` (SGD at `eta / l` on an oracle with `l` times the gradient
//! covariance; `problems::Svag`) converges to the SDE as `l` grows, so if SGD's final training loss
//! and test accuracy match SVAG's at the largest `l`, the SDE describes SGD here; if they do not,
//! the finite-eta corrections matter.
//!
//! Per seed, from the context's initialisation: SGD at eta, SVAG at each `l`, and a control, SGD at
//! `2 eta` (twice the SDE's temperature eta/S), all with that seed's noise. The comparison is the
//! paired difference of final values (means over the last quarter of the epochs; run minus SGD,
//! same seed) over seeds, mean ± se, judged by
//! Student's t at 95% with `seeds - 1` degrees of freedom. The verdict, stated before running: the
//! SDE describes SGD here if SVAG at the largest `l` is within that interval on both the training
//! loss and the test accuracy while the control is outside it on at least one (otherwise the test
//! has no power: inconclusive).

use super::context::NetContext;
use super::curve::{rms, train_curve};
use super::error::ExperimentError;
use crate::net::train::{EpochRecord, TrainSpec};
use crate::net::{Architecture, Model, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::Estimate;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct SvagNetOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05, value_parser = crate::cli::flags::positive)]
    pub eta: f64,
    /// Batch size S.
    #[arg(long, default_value_t = 16, value_parser = crate::cli::flags::at_least_one)]
    pub batch: usize,
    /// SVAG amplifications l > 1 (comma separated); SGD (l = 1) always runs.
    #[arg(long = "l", value_delimiter = ',', default_value = "2,4,8", value_parser = crate::cli::flags::amplification)]
    pub ls: Vec<f64>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// SGD streams (seeds) per setting.
    #[arg(long, default_value_t = 4, value_parser = crate::cli::flags::at_least_one)]
    pub seeds: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SvagRun {
    pub label: String,
    /// 1 for SGD.
    pub l: f64,
    pub eta: f64,
    pub seed: u64,
    pub curve: Vec<EpochRecord>,
}

/// A run kind against SGD: paired differences of the final values over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub label: String,
    pub l: f64,
    pub eta: f64,
    pub final_train_loss_difference: Estimate,
    pub final_test_accuracy_difference: Estimate,
    /// Student's t quantile (97.5%, seeds - 1 degrees of freedom) the differences are judged by.
    pub t_critical: f64,
    /// Both differences within `t_critical` standard errors of zero.
    pub consistent_with_sgd: bool,
    /// Mean over seeds of the RMS distance between this run's training-loss curve and SGD's.
    pub curve_distance_train_loss: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SvagNetReport {
    pub runs: Vec<SvagRun>,
    pub comparisons: Vec<Comparison>,
    /// Mean RMS distance between SGD's training-loss curves of consecutive seeds.
    pub noise_floor_train_loss: f64,
    pub verdict: String,
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (table to 30, then 1.96 + ...).
fn t_975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

/// The mean of `f` over the last quarter of the records (at least the final one): the "final"
/// value, less noisy than the last epoch alone.
fn tail_mean(curve: &[EpochRecord], f: fn(&EpochRecord) -> f64) -> f64 {
    let k = (curve.len() / 4).max(1);
    curve[curve.len() - k..].iter().map(f).sum::<f64>() / k as f64
}

impl super::Experiment for SvagNetOptions {
    const NAME: &'static str = "svag";
    type Report = SvagNetReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        if o.seeds < 2 {
            return Err(ExperimentError::Invalid(format!(
                "invalid --seeds = {}: valid is >= 2 (the error bars are over seeds)",
                o.seeds
            )));
        }
        if let Some(bad) = o.ls.iter().find(|l| !(l.is_finite() && **l > 1.0 && **l <= 1e4)) {
            return Err(ExperimentError::Invalid(format!(
                "invalid --l entry {bad}: valid range is 1 < l <= 1e4 (SGD, l = 1, always runs)"
            )));
        }
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
        let mut kinds: Vec<(String, f64, f64)> = vec![("SGD".into(), 1.0, o.eta)];
        kinds.extend(o.ls.iter().map(|&l| (format!("SVAG l = {l}"), l, o.eta)));
        kinds.push(("control: SGD at 2 eta".into(), 1.0, 2.0 * o.eta));
        let mut runs = Vec::new();
        for s in 0..o.seeds {
            let seed = ctx.seed + 1 + s as u64;
            for (label, l, eta) in &kinds {
                let spec = TrainSpec::svag(*eta, *l, o.epochs, seed);
                let curve = train_curve::<B>(ctx, &model, spec, o.batch, mode, device)
                    .map_err(|e| e.at(format!("{label}, seed {seed}")))?;
                runs.push(SvagRun { label: label.clone(), l: *l, eta: *eta, seed, curve });
            }
        }
        let per_seed = kinds.len();
        let t = t_975(o.seeds - 1);
        let sgd = |s: usize| &runs[s * per_seed];
        let comparisons: Vec<Comparison> = (1..per_seed)
            .map(|k| {
                let seeds = 0..o.seeds;
                let pair = |f: fn(&EpochRecord) -> f64| {
                    Estimate::from_replicas(
                        &seeds
                            .clone()
                            .map(|s| {
                                tail_mean(&runs[s * per_seed + k].curve, f)
                                    - tail_mean(&sgd(s).curve, f)
                            })
                            .collect::<Vec<_>>(),
                    )
                };
                let loss = pair(|r| r.train_loss);
                let acc = pair(|r| r.test_accuracy);
                let within = |e: &Estimate| e.value.abs() < t * e.se || e.value == 0.0;
                let distance = seeds
                    .clone()
                    .map(|s| rms(&runs[s * per_seed + k].curve, &sgd(s).curve, |r| r.train_loss))
                    .sum::<f64>()
                    / o.seeds as f64;
                let (label, l, eta) = &kinds[k];
                Comparison {
                    label: label.clone(),
                    l: *l,
                    eta: *eta,
                    consistent_with_sgd: within(&loss) && within(&acc),
                    final_train_loss_difference: loss,
                    final_test_accuracy_difference: acc,
                    t_critical: t,
                    curve_distance_train_loss: distance,
                }
            })
            .collect();
        let floor = (1..o.seeds)
            .map(|s| rms(&sgd(s).curve, &sgd(s - 1).curve, |r| r.train_loss))
            .sum::<f64>()
            / (o.seeds - 1) as f64;
        let largest = &comparisons[comparisons.len() - 2];
        let control = &comparisons[comparisons.len() - 1];
        let verdict = match (largest.consistent_with_sgd, control.consistent_with_sgd) {
            (_, true) => format!("inconclusive: the control (SGD at 2 eta) is not distinguished from SGD with {} seeds; more seeds or epochs would decide", o.seeds),
            (true, false) => format!("supported: SGD at eta = {}, S = {} matches SVAG at l = {} (the SDE) within the seed-to-seed error, while doubling eta is detected", o.eta, o.batch, largest.l),
            (false, false) => format!("not supported: SVAG at l = {} (the SDE) differs from SGD at eta = {}, S = {}: finite-eta corrections matter here", largest.l, o.eta, o.batch),
        };
        Ok(SvagNetReport { runs, comparisons, noise_floor_train_loss: floor, verdict })
    }

    fn write(&self, report: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let curves = report.runs.iter().map(|r| {
            let keys =
                vec![r.label.clone(), r.l.to_string(), r.eta.to_string(), r.seed.to_string()];
            (keys, r.curve.as_slice())
        });
        super::curve::write_curves(ctx, "svag.csv", &["run", "l", "eta", "seed"], curves)?;
        ctx.outputs().json("svag.json", report)?;
        let first_seed = report.runs[0].seed;
        let panel = |title: &str, y: &str, f: fn(&EpochRecord) -> f64, log_y: bool| plot::Figure {
            title: format!("{title} (seed {first_seed})"),
            x_label: "epoch (SGD time)".into(),
            y_label: y.into(),
            log_y,
            series: report
                .runs
                .iter()
                .filter(|r| r.seed == first_seed)
                .enumerate()
                .map(|(i, r)| {
                    let pts = r.curve.iter().map(|c| (c.epoch, f(c))).collect();
                    if r.label.starts_with("control") {
                        plot::Series::dashed(r.label.clone(), pts, i)
                    } else {
                        plot::Series::line(r.label.clone(), pts, i)
                    }
                })
                .collect(),
            ..Default::default()
        };
        ctx.outputs().figure(
            "svag",
            &[
                panel("Training loss", "train loss", |c| c.train_loss, true),
                panel("Test accuracy", "test accuracy", |c| c.test_accuracy, false),
            ],
        )?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![("--batch", self.batch)]
    }

    /// Per seed: SGD and the control (one gradient per step), SVAG at l (2 l per SGD step).
    fn work(&self, n: usize) -> (f64, usize) {
        let per_seed = 2.0 + self.ls.iter().map(|l| 2.0 * l).sum::<f64>();
        (self.seeds as f64 * per_seed * self.epochs * n as f64, super::params_of(&self.layers))
    }
}
