//! Nudged SGD (the thesis's paper P3, Sec. 5): does a smaller step along the sharpest directions
//! steer SGD to sharper regions? The paper reports regions an order of magnitude sharper with
//! similar test accuracy.
//!
//! Arms, all from one initialisation at the same (eta, S): plain SGD (`gamma = 1`); Nudged SGD
//! for each `gamma` of the grid, whose gradient's component in the top-k Hessian eigenspace is
//! multiplied by `gamma` ([`Nudged`]); and the negative control, the smallest `gamma` applied
//! along k random orthonormal directions instead. The subspace is recomputed every `refresh`
//! epochs (Lanczos, f64 HVPs on a fixed `probe_n` subset), and each replicate's segments use the
//! same SGD streams in every arm, so arms are compared paired by replicate: the claim is
//! `ln(lambda_max(gamma) / lambda_max(SGD)) > 0` by 3 standard errors over replicates, and the
//! control must not pass the same check.

use super::context::NetContext;
use super::error::ExperimentError;
use crate::net::backend::host_f64;
use crate::net::nudged::{orthonormalise, random_orthonormal, Nudged};
use crate::net::params::Params;
use crate::net::probes::top_eigenpairs;
use crate::net::train::{EvalSet, TrainError};
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::Estimate;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct NudgedOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1, value_parser = crate::cli::flags::positive)]
    pub eta: f64,
    /// Batch size S.
    #[arg(long, default_value_t = 16, value_parser = crate::cli::flags::at_least_one)]
    pub batch: usize,
    /// Step multipliers along the top-k directions (plain SGD, gamma 1, always runs).
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.1", value_parser = crate::cli::flags::positive)]
    pub gammas: Vec<f64>,
    /// Top Hessian directions the step is nudged along.
    #[arg(long, default_value_t = 5, value_parser = crate::cli::flags::at_least_one)]
    pub k: usize,
    /// Epochs between recomputations of the top-k directions.
    #[arg(long, default_value_t = 1.0, value_parser = crate::cli::flags::positive)]
    pub refresh: f64,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 10.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Replicates per arm (SGD streams, shared across arms; at least 2 for error bars).
    #[arg(long, default_value_t = 4, value_parser = crate::cli::flags::paths)]
    pub seeds: usize,
    /// Lanczos steps of each eigenvalue or spectral-density estimate.
    #[arg(long, default_value_t = 20, value_parser = crate::cli::flags::at_least_one)]
    pub lanczos_steps: usize,
    /// Training examples the curvature probes use (a stratified subset; all of them when fewer).
    #[arg(long, default_value_t = 512, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
}

/// One arm's replicate.
#[derive(Debug, Clone, Serialize)]
pub struct NudgedRun {
    pub seed: u64,
    /// `(epoch, lambda_max)` at each refresh and at the end.
    pub trace: Vec<(f64, f64)>,
    pub lambda_max: f64,
    pub train_loss: f64,
    pub test_accuracy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NudgedArm {
    pub label: String,
    pub gamma: f64,
    /// Nudged along k random directions (the control) instead of the top-k.
    pub random: bool,
    pub runs: Vec<NudgedRun>,
    pub lambda_max: Estimate,
    pub train_loss: Estimate,
    pub test_accuracy: Estimate,
    /// `ln(lambda_max / lambda_max of SGD)`, paired by replicate (0 for SGD itself).
    pub log_ratio_to_sgd: Estimate,
    /// `test accuracy - SGD's`, paired by replicate.
    pub accuracy_gap_to_sgd: Estimate,
}

impl NudgedOptions {
    /// (label, gamma, random): SGD first, then the grid, then the control.
    fn arms(&self) -> Vec<(String, f64, bool)> {
        let mut arms = vec![("SGD".to_string(), 1.0, false)];
        arms.extend(
            self.gammas
                .iter()
                .filter(|&&g| g != 1.0)
                .map(|&g| (format!("nudged top-{}, gamma {g}", self.k), g, false)),
        );
        let smallest = self.gammas.iter().copied().fold(1.0, f64::min);
        arms.push((
            format!("nudged random {}, gamma {smallest} (control)", self.k),
            smallest,
            true,
        ));
        arms
    }
}

impl super::Experiment for NudgedOptions {
    const NAME: &'static str = "nudged";
    type Report = Vec<NudgedArm>;

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
        let n = ctx.train.len();
        let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
        let p = NetworkProblem::<B>::new(model.clone(), &ctx.train, o.batch, mode, 0.0, device)?;
        let test = EvalSet::new(&model, &ctx.test, &ctx.train, device);
        let total = (o.epochs * n as f64 / o.batch as f64).round() as usize;
        if total == 0 {
            let per_epoch = n as f64 / o.batch as f64;
            return Err(crate::net::train::too_few_epochs(o.epochs, per_epoch, o.batch, n).into());
        }
        let refresh = ((o.refresh * n as f64 / o.batch as f64).round() as usize).max(1);
        let cpu = Default::default();
        let top = |theta: &Params<B>, k: usize, salt: u64| {
            let theta = Params::<CpuF64>::from_vec(&theta.to_vec(), &cpu);
            top_eigenpairs(&probe, &theta, k, o.lanczos_steps, 1e-5, ctx.seed ^ salt)
        };
        let mut arms = Vec::new();
        for (label, gamma, random) in o.arms() {
            let mut runs = Vec::new();
            for r in 0..o.seeds {
                let seed = ctx.seed + 1 + r as u64;
                let mut theta = model.init::<B>(ctx.seed, device);
                let mut trace = Vec::new();
                let mut done = 0;
                while done < total {
                    let eig = top(&theta, o.k, done as u64);
                    trace.push((done as f64 * o.batch as f64 / n as f64, eig.values[0]));
                    let directions = if random {
                        random_orthonormal(
                            d,
                            o.k,
                            &mut crate::rng::stream(seed ^ 0xD1_2EC7, done as u64),
                        )
                    } else {
                        orthonormalise(eig.vectors.iter().map(|v| host_f64(v.clone())).collect())
                    };
                    let nudged = Nudged {
                        inner: &p,
                        directions: directions
                            .iter()
                            .map(|v| Params::<B>::from_vec(v, device))
                            .collect(),
                        gamma,
                    };
                    let steps = refresh.min(total - done);
                    let mut rng = crate::rng::stream(seed, done as u64);
                    let mut bar = crate::observers::Progress::new(
                        ctx.bar.clone(),
                        total,
                        format!("{label}, replicate {}/{}", r + 1, o.seeds),
                    );
                    bar.bar.set_position(done as u64);
                    crate::solve::solve(
                        &nudged,
                        &mut crate::integrators::EulerMaruyama::new(),
                        &mut theta,
                        o.eta,
                        steps,
                        &mut rng,
                        &mut bar,
                    )
                    .map_err(|e| {
                        ExperimentError::from(TrainError::Diverged(e))
                            .at(format!("{label}, replicate {r}"))
                    })?;
                    done += steps;
                }
                let lambda_max = top(&theta, 1, u64::MAX).values[0];
                trace.push((o.epochs, lambda_max));
                let (_, test_accuracy) = test.evaluate(&model, &theta.tensor);
                runs.push(NudgedRun {
                    seed,
                    trace,
                    lambda_max,
                    train_loss: p.mean_loss(&theta.tensor),
                    test_accuracy,
                });
            }
            let of = |f: fn(&NudgedRun) -> f64| {
                Estimate::from_replicas(&runs.iter().map(f).collect::<Vec<_>>())
            };
            // Paired by replicate with SGD, the first arm (SGD's own pairs are with itself).
            let sgd = arms.first().map_or(&runs, |a: &NudgedArm| &a.runs);
            let paired = |f: fn(&NudgedRun, &NudgedRun) -> f64| {
                Estimate::from_replicas(
                    &runs.iter().zip(sgd).map(|(a, s)| f(a, s)).collect::<Vec<_>>(),
                )
            };
            let arm = NudgedArm {
                label: label.clone(),
                gamma,
                random,
                lambda_max: of(|r| r.lambda_max),
                train_loss: of(|r| r.train_loss),
                test_accuracy: of(|r| r.test_accuracy),
                log_ratio_to_sgd: paired(|a, s| (a.lambda_max / s.lambda_max).ln()),
                accuracy_gap_to_sgd: paired(|a, s| a.test_accuracy - s.test_accuracy),
                runs,
            };
            arms.push(arm);
            if !ctx.quiet {
                let a = arms.last().expect("just pushed");
                ctx.bar.suspend(|| {
                    eprintln!(
                        "{label:<40} lambda_max {:.3} ± {:.3}, train loss {:.4}, test accuracy {:.4}",
                        a.lambda_max.value, a.lambda_max.se, a.train_loss.value, a.test_accuracy.value
                    )
                });
            }
        }
        Ok(arms)
    }

    fn write(&self, arms: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let mut rows = Vec::new();
        for a in arms {
            for r in &a.runs {
                rows.push(vec![
                    a.label.clone(),
                    a.gamma.to_string(),
                    a.random.to_string(),
                    r.seed.to_string(),
                    r.lambda_max.to_string(),
                    r.train_loss.to_string(),
                    r.test_accuracy.to_string(),
                ]);
            }
        }
        ctx.outputs().csv(
            "nudged.csv",
            &["arm", "gamma", "random", "seed", "lambda_max", "train_loss", "test_accuracy"],
            &rows,
        )?;
        ctx.outputs().json("nudged.json", &serde_json::json!({ "arms": arms }))?;
        let series = arms
            .iter()
            .enumerate()
            .map(|(i, a)| {
                // The mean over replicates at each refresh (all replicates refresh together).
                let len = a.runs.iter().map(|r| r.trace.len()).min().unwrap_or(0);
                let points = (0..len)
                    .map(|j| {
                        let mean =
                            a.runs.iter().map(|r| r.trace[j].1).sum::<f64>() / a.runs.len() as f64;
                        (a.runs[0].trace[j].0, mean)
                    })
                    .collect();
                if a.random {
                    plot::Series::dashed(a.label.clone(), points, i)
                } else {
                    plot::Series::line(a.label.clone(), points, i)
                }
            })
            .collect();
        let figure = plot::Figure {
            title: format!(
                "lambda_max along training (mean of {} replicates), eta {}, S {}",
                self.seeds, self.eta, self.batch
            ),
            x_label: "epoch".into(),
            y_label: "lambda_max".into(),
            log_y: true,
            series,
            ..Default::default()
        };
        ctx.outputs().figure("nudged", &[figure])?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![("--batch", self.batch)]
    }

    /// Training plus, per refresh, the Lanczos steps' HVPs (about four probe-set gradients each).
    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.arms().len() * self.seeds) as f64;
        let refreshes = (self.epochs / self.refresh).ceil() + 1.0;
        let per_refresh = 4.0 * self.lanczos_steps as f64 * self.probe_n.min(n) as f64;
        (runs * (self.epochs * n as f64 + refreshes * per_refresh), super::params_of(&self.layers))
    }
}
