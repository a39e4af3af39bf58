//! Experiment 2: LR/BS invariance. Learning curves per epoch from one initialisation for a base
//! (eta0, S0), for (k eta0, k S0) (eta/S fixed: the SDE's temperature) and (sqrt(k) eta0, k S0)
//! (eta/sqrt(S) fixed), and for the base with another seed, whose distance to the base is the
//! noise floor. The curve distance is the RMS over epochs of the difference to the base curve.

use super::context::NetContext;
use super::curve::{rms, train_curve};
use super::error::ExperimentError;

use crate::net::train::{EpochRecord, TrainSpec};
use crate::net::{Architecture, Model, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct InvarianceOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,64,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// The base run's learning rate.
    #[arg(long, default_value_t = 0.01, value_parser = crate::cli::flags::positive)]
    pub eta0: f64,
    /// The base run's batch size S0.
    #[arg(long, default_value_t = 16, value_parser = crate::cli::flags::at_least_one)]
    pub batch0: usize,
    /// k: the other runs are (k eta0, k S0) (eta/S fixed) and (sqrt(k) eta0, k S0) (eta/sqrt(S) fixed).
    #[arg(long, default_value_t = 4, value_parser = crate::cli::flags::factor)]
    pub factor: usize,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 20.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub label: String,
    pub eta: f64,
    pub batch: usize,
    pub seed: u64,
    pub curve: Vec<EpochRecord>,
    /// RMS over epochs of (this - base) in training loss and in test accuracy.
    pub distance_train_loss: f64,
    pub distance_test_accuracy: f64,
}

impl super::Experiment for InvarianceOptions {
    const NAME: &'static str = "invariance";
    type Report = Vec<Run>;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let k = o.factor as f64;
        let configs = [
            ("base".to_string(), o.eta0, o.batch0, ctx.seed + 1),
            (format!("eta/S fixed (x{})", o.factor), k * o.eta0, o.factor * o.batch0, ctx.seed + 1),
            (
                format!("eta/sqrt(S) fixed (x{})", o.factor),
                k.sqrt() * o.eta0,
                o.factor * o.batch0,
                ctx.seed + 1,
            ),
            ("base, other seed (noise floor)".to_string(), o.eta0, o.batch0, ctx.seed + 2),
        ];
        let mut runs: Vec<Run> = Vec::new();
        for (label, eta, batch, seed) in configs {
            let curve = train_curve::<B>(
                ctx,
                &model,
                TrainSpec::sgd(eta, 0.0, o.epochs, seed),
                batch,
                NoiseMode::Minibatch(Sampling::WithoutReplacement),
                device,
            )?;
            let (dl, da) = match runs.first() {
                Some(base) => (
                    rms(&curve, &base.curve, |r| r.train_loss),
                    rms(&curve, &base.curve, |r| r.test_accuracy),
                ),
                None => (0.0, 0.0),
            };
            if !ctx.quiet {
                ctx.bar.suspend(|| eprintln!("{label:<32} eta = {eta:.4}, S = {batch:>4}: distance to base: train loss {dl:.4}, test accuracy {da:.4}"));
            }
            runs.push(Run {
                label,
                eta,
                batch,
                seed,
                curve,
                distance_train_loss: dl,
                distance_test_accuracy: da,
            });
        }
        Ok(runs)
    }

    fn write(&self, runs: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let curves = runs.iter().map(|r| {
            (vec![r.label.clone(), r.eta.to_string(), r.batch.to_string()], r.curve.as_slice())
        });
        super::curve::write_curves(ctx, "invariance.csv", &["run", "eta", "S"], curves)?;
        ctx.outputs().json("invariance.json", &runs)?;
        let panel = |title: &str, y: &str, f: fn(&EpochRecord) -> f64, log_y: bool| plot::Figure {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: y.into(),
            log_y,
            series: runs
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if i == 3 {
                        plot::Series::dashed(
                            r.label.clone(),
                            r.curve.iter().map(|c| (c.epoch, f(c))).collect(),
                            i,
                        )
                    } else {
                        plot::Series::line(
                            format!("{} (eta {:.3}, S {})", r.label, r.eta, r.batch),
                            r.curve.iter().map(|c| (c.epoch, f(c))).collect(),
                            i,
                        )
                    }
                })
                .collect(),
            ..Default::default()
        };
        ctx.outputs().figure(
            "invariance",
            &[
                panel("Training loss", "train loss", |c| c.train_loss, true),
                panel("Test accuracy", "test accuracy", |c| c.test_accuracy, false),
            ],
        )?;
        Ok(())
    }
    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("--batch0", self.batch0),
            ("--batch0 x --factor", self.factor.saturating_mul(self.batch0)),
        ]
    }

    fn work(&self, n: usize) -> (f64, usize) {
        (3.0 * self.epochs * n as f64, super::params_of(&self.layers))
    }
}
