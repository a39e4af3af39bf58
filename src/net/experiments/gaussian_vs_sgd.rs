//! Experiment 6: Gaussian-noise gradient descent (the SDE SGD is supposed to approximate, with the
//! empirical gradient covariance C/S) against true minibatch SGD at the same eta and S, on the same
//! network from the same initialisations, over several seeds. Reports the final gaps with
//! standard errors over seeds.

use super::context::NetContext;
use super::curve::{mean_curve, train_curve};
use super::error::ExperimentError;
use crate::net::train::EpochRecord;
use crate::net::train::TrainSpec;
use crate::net::{Architecture, Model, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::Estimate;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct GaussianVsSgdOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rate.
    #[arg(long, default_value_t = 0.05, value_parser = crate::cli::flags::positive)]
    pub eta: f64,
    /// Batch size S.
    #[arg(long, default_value_t = 16, value_parser = crate::cli::flags::at_least_one)]
    pub batch: usize,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 15.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// SGD streams (seeds) per setting (at least 2, for the error bars).
    #[arg(long, default_value_t = 4, value_parser = crate::cli::flags::paths)]
    pub seeds: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct GapReport {
    pub eta: f64,
    pub batch: usize,
    pub seeds: usize,
    pub sgd_final_train_loss: Estimate,
    pub gaussian_final_train_loss: Estimate,
    pub sgd_final_test_accuracy: Estimate,
    pub gaussian_final_test_accuracy: Estimate,
    /// Gaussian minus SGD, paired by seed.
    pub gap_train_loss: Estimate,
    pub gap_test_accuracy: Estimate,
    pub sgd_curves: Vec<Vec<EpochRecord>>,
    pub gaussian_curves: Vec<Vec<EpochRecord>>,
}

impl super::Experiment for GaussianVsSgdOptions {
    const NAME: &'static str = "gaussian-vs-sgd";
    type Report = GapReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let mut sgd = Vec::new();
        let mut gauss = Vec::new();
        for s in 0..o.seeds as u64 {
            let run_ctx = NetContext { seed: ctx.seed + 100 * s, ..ctx.clone() };
            sgd.push(train_curve::<B>(
                &run_ctx,
                &model,
                TrainSpec::sgd(o.eta, 0.0, o.epochs, run_ctx.seed + 7),
                o.batch,
                NoiseMode::Minibatch(Sampling::WithoutReplacement),
                device,
            )?);
            gauss.push(train_curve::<B>(
                &run_ctx,
                &model,
                TrainSpec::sgd(o.eta, 0.0, o.epochs, run_ctx.seed + 7),
                o.batch,
                NoiseMode::GaussianGd,
                device,
            )?);
            if !ctx.quiet {
                let (a, b) = (
                    sgd.last().and_then(|c| c.last()).copied(),
                    gauss.last().and_then(|c| c.last()).copied(),
                );
                if let (Some(a), Some(b)) = (a, b) {
                    ctx.bar.suspend(|| eprintln!("seed {s}: SGD train loss {:.4} acc {:.4} | Gaussian GD train loss {:.4} acc {:.4}", a.train_loss, a.test_accuracy, b.train_loss, b.test_accuracy));
                }
            }
        }
        let fin = |c: &[Vec<EpochRecord>], f: fn(&EpochRecord) -> f64| {
            c.iter().map(|v| f(v.last().expect("at least one epoch"))).collect::<Vec<f64>>()
        };
        let paired = |f: fn(&EpochRecord) -> f64| {
            Estimate::from_replicas(
                &fin(&gauss, f).iter().zip(fin(&sgd, f)).map(|(g, s)| g - s).collect::<Vec<_>>(),
            )
        };
        let r = GapReport {
            eta: o.eta,
            batch: o.batch,
            seeds: o.seeds,
            sgd_final_train_loss: Estimate::from_replicas(&fin(&sgd, |r| r.train_loss)),
            gaussian_final_train_loss: Estimate::from_replicas(&fin(&gauss, |r| r.train_loss)),
            sgd_final_test_accuracy: Estimate::from_replicas(&fin(&sgd, |r| r.test_accuracy)),
            gaussian_final_test_accuracy: Estimate::from_replicas(&fin(&gauss, |r| {
                r.test_accuracy
            })),
            gap_train_loss: paired(|r| r.train_loss),
            gap_test_accuracy: paired(|r| r.test_accuracy),
            sgd_curves: sgd,
            gaussian_curves: gauss,
        };
        Ok(r)
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let curves = [("sgd", &r.sgd_curves), ("gaussian_gd", &r.gaussian_curves)]
            .into_iter()
            .flat_map(|(name, curves)| {
                curves
                    .iter()
                    .enumerate()
                    .map(move |(s, c)| (vec![name.to_string(), s.to_string()], c.as_slice()))
            });
        super::curve::write_curves(ctx, "gaussian_vs_sgd.csv", &["method", "seed"], curves)?;
        ctx.outputs().json("gaussian_vs_sgd.json", &r)?;
        let panel = |title: &str, f: fn(&EpochRecord) -> f64, log_y: bool| plot::Figure {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: title.into(),
            log_y,
            series: vec![
                plot::Series::line(
                    format!("minibatch SGD (mean of {})", r.seeds),
                    mean_curve(&r.sgd_curves, f),
                    0,
                ),
                plot::Series::line("Gaussian-noise GD, C/S", mean_curve(&r.gaussian_curves, f), 1),
            ],
            ..Default::default()
        };
        ctx.outputs().figure(
            "gaussian_vs_sgd",
            &[
                panel("train loss", |e| e.train_loss, true),
                panel("test accuracy", |e| e.test_accuracy, false),
            ],
        )?;
        Ok(())
    }
    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![("--batch", self.batch)]
    }

    fn work(&self, n: usize) -> (f64, usize) {
        // Per seed: SGD (one batch per step) and Gaussian-noise GD (all n examples per step).
        let steps = self.epochs * n as f64 / self.batch.max(1) as f64;
        let per_seed = steps * (self.batch as f64 + n as f64);
        (self.seeds as f64 * per_seed, super::params_of(&self.layers))
    }
}
