//! Experiment 5a (Smith & Le 2018): the optimal batch size. Test accuracy after a fixed number of
//! epochs against batch size B, for several learning rates eps, training-set sizes N and momenta m,
//! each seed's final accuracy kept. B_opt per setting and the slope of ln B_opt against
//! ln(eps N/(1-m)) over the interior optima (predicted: 1), with an error bar from a bootstrap over
//! the seeds and the fit's residuals: see [`super::batch_optimum`]. The slope is also fitted over
//! the learning rates alone and over the training-set sizes alone.

use super::batch_optimum::{
    batch_optimum, ln_optimum_se, scaling_fit, OptimumKind, ScalingFit, SeedCurves,
};
use super::context::NetContext;
use super::curve::train_curve;
use super::error::ExperimentError;
use crate::net::train::EpochRecord;
use crate::net::train::TrainSpec;
use crate::net::{Architecture, Model, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct BatchSizeOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Training-set size of the learning-rate and momentum settings (at most the context's).
    #[arg(skip)]
    pub n: usize,
    /// Learning rates (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.02,0.05,0.1", value_parser = crate::cli::flags::positive)]
    pub etas: Vec<f64>,
    /// Batch sizes S (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16,32,64,128,256", value_parser = crate::cli::flags::at_least_one)]
    pub batches: Vec<usize>,
    /// Extra training-set sizes, run at the middle learning rate (--n is the others' N; the
    /// data set must hold the largest).
    #[arg(long, value_delimiter = ',', default_value = "500", value_parser = crate::cli::flags::at_least_one)]
    pub ns: Vec<usize>,
    /// Extra momenta, run with eta (1-m) = the middle learning rate.
    #[arg(long, value_delimiter = ',', default_value = "0.5", value_parser = crate::cli::flags::momentum)]
    pub momenta: Vec<f64>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 8.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// SGD streams (seeds) per setting (at least 2, for the error bars).
    #[arg(long, default_value_t = 2, value_parser = crate::cli::flags::paths)]
    pub seeds: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub eta: f64,
    pub n: usize,
    pub momentum: f64,
    /// Seed-averaged test accuracy per batch size.
    pub accuracy: Vec<(usize, f64)>,
    /// Per batch size, the final test accuracy of each seed.
    pub seed_accuracy: Vec<(usize, Vec<f64>)>,
    pub b_opt: f64,
    /// The seed bootstrap's standard deviation of ln B_opt (`None` with one seed).
    pub ln_b_opt_se: Option<f64>,
    pub kind: OptimumKind,
    pub predicted_scale: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchSizeReport {
    pub settings: Vec<Setting>,
    /// The slope of ln B_opt against ln(eps N/(1-m)) over every interior optimum, and its error
    /// bar (`scaling.se`, the larger of the seed bootstrap and the residual error).
    pub slope: Option<f64>,
    pub slope_se: Option<f64>,
    pub scaling: Option<ScalingFit>,
    /// The same fit over the learning-rate settings alone (N and m fixed): B_opt against eps.
    pub eps_scaling: Option<ScalingFit>,
    /// Over the training-set sizes at the middle learning rate (m = 0): B_opt against N.
    pub n_scaling: Option<ScalingFit>,
}

/// Bootstrap replicates behind each slope's error bar.
const REPLICATES: usize = 2000;

impl super::Experiment for BatchSizeOptions {
    const NAME: &'static str = "batch-size";
    type Report = BatchSizeReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let mid = o.etas[o.etas.len() / 2];
        let n0 = o.n;
        let mut grid: Vec<(f64, usize, f64)> = o.etas.iter().map(|&e| (e, n0, 0.0)).collect();
        grid.extend(o.ns.iter().filter(|&&n| n != n0).map(|&n| (mid, n, 0.0)));
        grid.extend(o.momenta.iter().filter(|&&m| m != 0.0).map(|&m| (mid * (1.0 - m), n0, m)));
        let mut settings = Vec::new();
        for (eta, n, m) in grid {
            let train = if n == ctx.train.len() {
                ctx.train.clone()
            } else {
                ctx.train.stratified_subset(n, ctx.seed)?
            };
            let mut seed_accuracy = Vec::new();
            for &b in o.batches.iter().filter(|&&b| b <= n) {
                let mut finals = Vec::with_capacity(o.seeds);
                for s in 0..o.seeds as u64 {
                    let run_ctx = NetContext {
                        train: train.clone(),
                        seed: ctx.seed + 100 * s,
                        ..ctx.clone()
                    };
                    let curve: Vec<EpochRecord> = train_curve::<B>(
                        &run_ctx,
                        &model,
                        TrainSpec::sgd(eta, m, o.epochs, run_ctx.seed + 5),
                        b,
                        NoiseMode::Minibatch(Sampling::WithoutReplacement),
                        device,
                    )?;
                    finals.push(curve.last().map_or(0.0, |r| r.test_accuracy));
                }
                seed_accuracy.push((b, finals));
            }
            // With momentum the step is eta; Smith & Le's eps is the effective eta/(1-m)... here the
            // grid keeps eta/(1-m) = mid fixed, so the prediction eps N/(1-m) uses eps = eta.
            let predicted = eta * n as f64 / (1.0 - m);
            let curves = SeedCurves { x: predicted.ln(), per_seed: seed_accuracy };
            let acc = curves.mean();
            let (bo, kind) = batch_optimum(&acc);
            let ln_b_opt_se = ln_optimum_se(&curves, REPLICATES, ctx.seed);
            if !ctx.quiet {
                ctx.bar.suspend(|| {
                    eprintln!(
                        "eta = {eta:.4}, N = {n}, m = {m}: accuracy {:?} -> B_opt {bo:.1} ({})",
                        acc.iter().map(|(b, a)| format!("{b}:{a:.3}")).collect::<Vec<_>>(),
                        kind.label()
                    )
                });
            }
            settings.push(Setting {
                eta,
                n,
                momentum: m,
                accuracy: acc,
                seed_accuracy: curves.per_seed,
                b_opt: bo,
                ln_b_opt_se,
                kind,
                predicted_scale: predicted,
            });
        }
        let fit = |keep: &dyn Fn(&Setting) -> bool| {
            let chosen: Vec<SeedCurves> = settings
                .iter()
                .filter(|s| s.kind == OptimumKind::Interior && keep(s))
                .map(|s| SeedCurves {
                    x: s.predicted_scale.ln(),
                    per_seed: s.seed_accuracy.clone(),
                })
                .collect();
            scaling_fit(&chosen, REPLICATES, ctx.seed)
        };
        let scaling = fit(&|_| true);
        let eps_scaling = fit(&|s| s.n == n0 && s.momentum == 0.0);
        let n_scaling = fit(&|s| s.eta == mid && s.momentum == 0.0);
        Ok(BatchSizeReport {
            settings,
            slope: scaling.map(|f| f.slope),
            slope_se: scaling.map(|f| f.se),
            scaling,
            eps_scaling,
            n_scaling,
        })
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let rows: Vec<Vec<String>> = r
            .settings
            .iter()
            .flat_map(|s| {
                s.accuracy.iter().map(move |(b, a)| {
                    vec![
                        s.eta.to_string(),
                        s.n.to_string(),
                        s.momentum.to_string(),
                        b.to_string(),
                        a.to_string(),
                        s.b_opt.to_string(),
                        s.kind.label().to_string(),
                    ]
                })
            })
            .collect();
        ctx.outputs().csv(
            "batch_size.csv",
            &["eta", "N", "momentum", "B", "test_accuracy", "B_opt", "B_opt_kind"],
            &rows,
        )?;
        ctx.outputs().json("batch_size.json", &r)?;
        // The learning-rate settings as lines, the training-set sizes and momenta dashed.
        let curves = plot::Figure {
            title: "Test accuracy against batch size".into(),
            x_label: "batch size B".into(),
            y_label: "test accuracy".into(),
            log_x: true,
            series: r
                .settings
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let label = format!("eta {:.4}, N {}, m {}", s.eta, s.n, s.momentum);
                    let points = s.accuracy.iter().map(|(b, a)| (*b as f64, *a)).collect();
                    if s.n == self.n && s.momentum == 0.0 {
                        plot::Series::line(label, points, i)
                    } else {
                        plot::Series::dashed(label, points, i)
                    }
                })
                .collect(),
            ..Default::default()
        };
        let interior: Vec<&Setting> =
            r.settings.iter().filter(|s| s.kind == OptimumKind::Interior).collect();
        let (lo, hi) = interior.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), s| {
            (lo.min(s.predicted_scale), hi.max(s.predicted_scale))
        });
        let mut series = vec![plot::Series::points(
            "interior optima (± 1 s.e., seed bootstrap)",
            interior.iter().map(|s| (s.predicted_scale, s.b_opt)).collect(),
            Some(interior.iter().map(|s| s.b_opt * s.ln_b_opt_se.unwrap_or(f64::NAN)).collect()),
            0,
        )];
        if let Some(f) = r.scaling {
            // The fitted line, and slope 1 (the prediction) through the same centroid.
            let line = |slope: f64| {
                let centre = f.intercept + f.slope * f.mean_x;
                [lo, hi]
                    .iter()
                    .map(|&x| (x, (centre + slope * (x.ln() - f.mean_x)).exp()))
                    .collect::<Vec<_>>()
            };
            series.push(plot::Series::line(
                format!("fit: slope {:.2} ± {:.2}", f.slope, f.se),
                line(f.slope),
                0,
            ));
            series.push(plot::Series::dashed("theory: slope 1", line(1.0), 1));
        }
        let scaling = plot::Figure {
            title: "B_opt against eps N/(1-m)".into(),
            x_label: "eps N / (1 - m)".into(),
            y_label: "B_opt".into(),
            log_x: true,
            log_y: true,
            series,
            ..Default::default()
        };
        ctx.outputs().figure("batch_size", &[curves, scaling])?;
        Ok(())
    }
    fn work(&self, _n: usize) -> (f64, usize) {
        // Each setting trains every batch size up to its N, each seed, for `epochs` epochs.
        let per_setting = |n: usize| {
            (self.batches.iter().filter(|&&b| b <= n).count() * n) as f64
                * self.seeds as f64
                * self.epochs
        };
        let extra_momenta = self.momenta.iter().filter(|&&m| m != 0.0).count() as f64;
        let examples = (self.etas.len() as f64 + extra_momenta) * per_setting(self.n)
            + self.ns.iter().filter(|&&n| n != self.n).map(|&n| per_setting(n)).sum::<f64>();
        (examples, super::params_of(&self.layers))
    }
}
