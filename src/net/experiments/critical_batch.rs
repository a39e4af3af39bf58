//! The critical batch size (McCandlish et al. 2018, "An empirical model of large-batch
//! training"): with the learning rate tuned for each batch size B, the steps S and examples
//! E = B S to reach a target training loss trade off as
//!
//! `S = S_min (1 + B_crit / B)`, i.e. `S = S_min + E_min / B` with `B_crit = E_min / S_min`,
//!
//! and the prediction is `B_crit ≈ B_noise = Tr(H C) / (G^T H G)` measured where training
//! reaches the target (the batch size at which the optimal step's progress halves).
//!
//! For each B of the grid, SGD (batches without replacement) trains from one initialisation at
//! each eta of the grid, with `seeds` streams, until the full training loss first falls to the
//! target (checked `checks_per_epoch` times an epoch; a run that diverges or runs out of epochs
//! has not reached it). The steps of (B, eta) are the mean over seeds when all reach the target;
//! S_B is the least over eta. `S_B = S_min + E_min (1/B)` is fitted by least squares in relative
//! terms (weights `1/S_B^2`: the steps' resolution, a fixed fraction of an epoch, and their seed
//! scatter grow with S_B) with standard errors from the residuals, and `B_crit = E_min / S_min` by the delta method. B_noise
//! is measured (f64, on a fixed probe subset) at the point where each B's best run reached the
//! target; the prediction is their mean with its standard error over B. The negative control is
//! the same prediction made at the initialisation, where the noise scale is not that of the
//! target (it grows as the loss falls).
//!
//! The second prediction is Zhang et al.'s (2019) noisy quadratic model ([`NoisyQuadratic`]) fed
//! what the network measures at each target point θ_T (f64, on the probe subset): the noise's
//! spectral measure `Tr(C g(H))` by Gauss quadrature from Lanczos runs started at
//! `u = N^{-1/2} sum_n xi_n (g_n - G)` (Rademacher xi, so `E u u^T = C`), averaged over
//! `nqm_probes` of them, and the start's measure `d^T g(H) d` along the displacement training made,
//! `d = θ_0 - θ_T`, rescaled so that the model's initial loss is the network's measured
//! `L(θ_0) - L_floor` (`L_floor` = 0, cross-entropy's infimum, which a network with more
//! parameters than examples approaches). With `f` the without-replacement factor of each B, the
//! model's steps to `target - L_floor` with eta tuned per B are fitted exactly as the network's
//! are. The prediction is the mean of the model's B_crit over the target points with its standard
//! error; the control is the same model built at the initialisation, with the displacement of the
//! middle batch size.

use super::context::NetContext;
use super::error::ExperimentError;
use crate::net::params::Params;
use crate::net::probes::{
    covariance_probe, noise_scales, quadrature_along, Direction, HessianOperator, NoiseScales,
};
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::{weighted_linear_fit, Estimate, LinearFit};
use crate::theory::nqm::{NoisyQuadratic, Tuned};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct CriticalBatchOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Batch sizes S (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32,64,128,256", value_parser = crate::cli::flags::at_least_one)]
    pub batches: Vec<usize>,
    /// Learning rates (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.025,0.05,0.1,0.2,0.4,0.8", value_parser = crate::cli::flags::positive)]
    pub etas: Vec<f64>,
    /// The training loss to reach.
    #[arg(long, default_value_t = 0.6, value_parser = crate::cli::flags::positive)]
    pub target: f64,
    /// Epochs after which a (B, eta) that has not reached the target gives up.
    #[arg(long, default_value_t = 40.0, value_parser = crate::cli::flags::positive)]
    pub max_epochs: f64,
    /// Loss checks per epoch (the resolution of the steps to the target).
    #[arg(long, default_value_t = 8, value_parser = crate::cli::flags::at_least_one)]
    pub checks_per_epoch: usize,
    /// SGD streams (seeds) per setting.
    #[arg(long, default_value_t = 2, value_parser = crate::cli::flags::at_least_one)]
    pub seeds: usize,
    /// Training examples the noise scales are measured on, and examples behind `Tr(H C)` (a
    /// stratified subset; all of them when fewer).
    #[arg(long, default_value_t = 1000, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
    /// Examples behind each Tr(H C) estimate.
    #[arg(long, default_value_t = 64, value_parser = crate::cli::flags::at_least_one)]
    pub k: usize,
    /// Lanczos steps of each of the noisy quadratic model's quadratures.
    #[arg(long, default_value_t = 40, value_parser = crate::cli::flags::at_least_one)]
    pub nqm_steps: usize,
    /// Noise vectors whose quadratures the noisy quadratic model averages.
    #[arg(long, default_value_t = 6, value_parser = crate::cli::flags::at_least_one)]
    pub nqm_probes: usize,
}

/// The loss the noisy quadratic model descends to: cross-entropy's infimum.
const LOSS_FLOOR: f64 = 0.0;

/// One (B, eta): the steps each seed took to reach the target (`None`: it did not).
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub batch: usize,
    pub eta: f64,
    pub steps: Vec<Option<usize>>,
    /// The mean over seeds when every seed reached the target.
    pub mean_steps: Option<f64>,
}

/// The best eta of one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct BatchResult {
    pub batch: usize,
    pub best_eta: f64,
    pub steps: f64,
    pub examples: f64,
    /// The noise scales where the best run (first seed) reached the target.
    pub at_target: NoiseScales,
    /// The noisy quadratic model built there.
    pub nqm: NqmPrediction,
}

/// The noisy quadratic model built at one point, and the critical batch size it predicts.
#[derive(Debug, Clone, Serialize)]
pub struct NqmPrediction {
    /// The model's tuned eta and steps to the target for each batch size of the grid.
    pub tuned: Vec<(usize, Tuned)>,
    pub s_min: f64,
    pub e_min: f64,
    pub b_crit: Option<f64>,
    pub b_crit_se: Option<f64>,
    /// The largest Ritz value: the model's stability limit is `2 / lambda_max`.
    pub lambda_max: f64,
    /// `Tr(C)` from the noise's quadrature (the sum of its weights).
    pub trace_c: f64,
    /// The share of `|d^T H d|` on negative Ritz values, which the model drops.
    pub negative_share: f64,
    pub relu_flips: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CriticalBatchReport {
    pub attempts: Vec<Attempt>,
    pub batches: Vec<BatchResult>,
    /// `S_B = S_min + E_min / B`.
    pub fit: LinearFit,
    pub s_min: f64,
    pub e_min: f64,
    /// `E_min / S_min`, with its standard error from the fit (delta method); `None` when S_min
    /// is not above zero by 2 standard errors (the steps fall like 1/B over the whole grid, so
    /// B_crit lies beyond its largest batch).
    pub b_crit: Option<f64>,
    pub b_crit_se: Option<f64>,
    /// The prediction: B_noise at the target, mean over batch sizes.
    pub b_noise_at_target: Estimate,
    pub b_simple_at_target: Estimate,
    /// The control: the noise scales at the initialisation.
    pub at_init: NoiseScales,
    /// The noisy quadratic model's B_crit: mean over the target points with its standard error.
    pub nqm_b_crit: Estimate,
    /// Its control: the model built at the initialisation.
    pub nqm_at_init: NqmPrediction,
    /// The network's training loss at the initialisation (the model's initial loss above
    /// `L_floor`).
    pub initial_loss: f64,
}

impl super::Experiment for CriticalBatchOptions {
    const NAME: &'static str = "critical-batch";
    type Report = CriticalBatchReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let n = ctx.train.len();
        if o.batches.len() < 3 {
            return Err(ExperimentError::Invalid(format!(
                "invalid --batches with {} entries: valid is at least 3 (a line and its scatter)",
                o.batches.len()
            )));
        }
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let (probe_data, probe) = super::probe_set(&model, &ctx.train, o.probe_n, ctx.seed)?;
        // The probes run on the CPU in f64: each point is copied there once.
        let cpu =
            |theta: &Params<B>| Params::<CpuF64>::from_vec(&theta.to_vec(), &Default::default());
        let scales_at = |theta: &Params<CpuF64>, salt: u64| {
            noise_scales(&probe, &probe_data, theta, o.k, ctx.seed ^ salt)
                .map_err(ExperimentError::Invalid)
        };
        let theta0 = model.init::<B>(ctx.seed, device);
        let initial_loss = NetworkProblem::<B>::new(
            model.clone(),
            &ctx.train,
            1,
            NoiseMode::FullBatch,
            0.0,
            device,
        )?
        .mean_loss(&theta0.tensor);
        let theta0_cpu = cpu(&theta0);
        let nqm_at = |at: &Params<CpuF64>, to: &Params<CpuF64>, salt: u64| {
            let displacement = theta0_cpu.tensor.clone().inner() - to.tensor.clone().inner();
            nqm_prediction(o, &probe, at, displacement, initial_loss, n, ctx.seed ^ salt)
        };
        let mut attempts = Vec::new();
        let mut targets = Vec::new();
        let mut batches = Vec::new();
        for &batch in &o.batches {
            let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
            let p = NetworkProblem::<B>::new(model.clone(), &ctx.train, batch, mode, 0.0, device)?;
            let per_epoch = n as f64 / batch as f64;
            let check = ((per_epoch / o.checks_per_epoch as f64).round() as usize).max(1);
            let max_steps = (o.max_epochs * per_epoch).ceil() as usize;
            let mut best: Option<(f64, f64, Params<B>)> = None;
            for &eta in &o.etas {
                let mut steps = Vec::new();
                let mut first = None;
                for s in 0..o.seeds {
                    ctx.bar.set_message(format!(
                        "S {batch}, eta {eta}, seed {}/{}",
                        s + 1,
                        o.seeds
                    ));
                    let reached = steps_to_target(
                        &p,
                        &theta0,
                        eta,
                        check,
                        max_steps,
                        o.target,
                        ctx.seed + 1 + s as u64,
                    );
                    steps.push(reached.as_ref().map(|r| r.0));
                    if s == 0 {
                        first = reached.map(|r| r.1);
                    }
                }
                let mean_steps = steps
                    .iter()
                    .copied()
                    .collect::<Option<Vec<usize>>>()
                    .map(|v| v.iter().sum::<usize>() as f64 / v.len() as f64);
                if let (Some(m), Some(theta)) = (mean_steps, first) {
                    if best.as_ref().is_none_or(|b| m < b.1) {
                        best = Some((eta, m, theta));
                    }
                }
                attempts.push(Attempt { batch, eta, steps, mean_steps });
            }
            let Some((best_eta, steps, theta)) = best else {
                return Err(ExperimentError::Invalid(format!(
                    "S = {batch}: no learning rate of --etas reached the --target {} within --max-epochs {} (raise --max-epochs, or the target)",
                    o.target, o.max_epochs
                )));
            };
            let theta = cpu(&theta);
            let at_target = scales_at(&theta, batch as u64)?;
            ctx.bar.set_message(format!("S {batch}: the noisy quadratic model at the target"));
            let nqm = nqm_at(&theta, &theta, batch as u64)?;
            if !ctx.quiet {
                ctx.bar.suspend(|| eprintln!("S {batch:>5}: best eta {best_eta}, {steps:.1} steps ({:.0} examples) to loss {}; B_noise there {:.1} ± {:.1}, B_simple {:.1}", steps * batch as f64, o.target, at_target.b_noise, at_target.b_noise_se, at_target.b_simple));
            }
            batches.push(BatchResult {
                batch,
                best_eta,
                steps,
                examples: steps * batch as f64,
                at_target,
                nqm,
            });
            targets.push(theta);
        }
        let (fit, b_crit, b_crit_se) =
            critical_batch_fit(&batches.iter().map(|b| (b.batch, b.steps)).collect::<Vec<_>>())?;
        let over_b = |f: fn(&NoiseScales) -> f64| {
            Estimate::from_replicas(&batches.iter().map(|b| f(&b.at_target)).collect::<Vec<_>>())
        };
        let init = scales_at(&theta0_cpu, 0x1A17)?;
        ctx.bar.set_message("the noisy quadratic model at the initialisation");
        let nqm_at_init = nqm_at(&theta0_cpu, &targets[targets.len() / 2], 0x1A17)?;
        let resolved: Vec<f64> = batches.iter().filter_map(|b| b.nqm.b_crit).collect();
        Ok(CriticalBatchReport {
            s_min: fit.intercept,
            e_min: fit.slope,
            b_crit,
            b_crit_se,
            b_noise_at_target: over_b(|s| s.b_noise),
            b_simple_at_target: over_b(|s| s.b_simple),
            at_init: init,
            nqm_b_crit: Estimate::from_replicas(&resolved),
            nqm_at_init,
            initial_loss,
            fit,
            attempts,
            batches,
        })
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let rows: Vec<Vec<String>> = r
            .attempts
            .iter()
            .map(|a| {
                let steps: Vec<String> =
                    a.steps.iter().map(|s| s.map_or("-".into(), |s| s.to_string())).collect();
                vec![
                    a.batch.to_string(),
                    a.eta.to_string(),
                    a.mean_steps.map_or(String::new(), |m| m.to_string()),
                    steps.join(";"),
                ]
            })
            .collect();
        ctx.outputs().csv(
            "critical_batch.csv",
            &["S", "eta", "mean_steps_to_target", "steps_per_seed"],
            &rows,
        )?;
        ctx.outputs().json("critical_batch.json", r)?;
        let measured: Vec<(f64, f64)> = r.batches.iter().map(|b| (b.examples, b.steps)).collect();
        let (lo, hi) = (
            r.batches.iter().map(|b| b.batch as f64).fold(f64::INFINITY, f64::min),
            r.batches.iter().map(|b| b.batch as f64).fold(0.0, f64::max),
        );
        let model: Vec<(f64, f64)> = (0..=40)
            .map(|i| lo * (hi / lo).powf(i as f64 / 40.0))
            .map(|b| (r.s_min * b + r.e_min, r.s_min + r.e_min / b))
            .collect();
        let tradeoff = plot::Figure {
            title: format!(
                "steps vs examples to loss {} (B_crit = {:.0} ± {:.0}; B_noise at target {:.0} ± {:.0})",
                self.target, r.b_crit.unwrap_or(f64::NAN), r.b_crit_se.unwrap_or(f64::NAN), r.b_noise_at_target.value, r.b_noise_at_target.se
            ),
            x_label: "examples E = S B".into(),
            y_label: "steps S".into(),
            log_x: true,
            log_y: true,
            series: vec![
                plot::Series::points("measured (best eta per B)", measured, None, 0),
                plot::Series::line("S = S_min + E_min / B", model, 1),
            ],
            ..Default::default()
        };
        let best_eta = plot::Figure {
            title: "the tuned learning rate".into(),
            x_label: "batch size B".into(),
            y_label: "best eta".into(),
            log_x: true,
            log_y: true,
            series: vec![plot::Series::line(
                "best eta",
                r.batches.iter().map(|b| (b.batch as f64, b.best_eta)).collect(),
                0,
            )],
            ..Default::default()
        };
        ctx.outputs().figure("critical_batch", &[tradeoff, best_eta])?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        self.batches.iter().map(|&s| ("--batches", s)).collect()
    }

    /// Every (B, eta, seed) may train up to `max_epochs`, plus the loss checks (forward passes
    /// over N) and the probes' HVPs.
    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.batches.len() * self.etas.len() * self.seeds) as f64;
        let per_run = self.max_epochs * n as f64 * (1.0 + self.checks_per_epoch as f64 / 3.0);
        let probes = (self.batches.len() + 1) as f64 * 4.0 * (self.k + n) as f64;
        (runs * per_run + probes, super::params_of(&self.layers))
    }
}

/// SGD from `theta0` at `eta` until the full training loss falls to `target` (checked every
/// `check` steps): the steps taken and the parameters there, or `None` when it diverged or
/// `max_steps` ran out first.
fn steps_to_target<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta0: &Params<B>,
    eta: f64,
    check: usize,
    max_steps: usize,
    target: f64,
    seed: u64,
) -> Option<(usize, Params<B>)> {
    let mut theta = theta0.clone();
    let mut rng = crate::rng::stream(seed, 0);
    let mut sgd = crate::integrators::EulerMaruyama::new();
    let mut done = 0;
    while done < max_steps {
        let steps = check.min(max_steps - done);
        let mut none = crate::observers::Snapshots::new(vec![]);
        crate::solve::solve(p, &mut sgd, &mut theta, eta, steps, &mut rng, &mut none).ok()?;
        done += steps;
        let loss = p.mean_loss(&theta.tensor);
        if !loss.is_finite() {
            return None;
        }
        if loss <= target {
            return Some((done, theta));
        }
    }
    None
}

/// `S_B = S_min + E_min / B` fitted in relative terms (weights `1/S_B^2`), and
/// `B_crit = E_min / S_min` with its delta-method error when S_min is above zero by 2 standard
/// errors.
fn critical_batch_fit(
    steps: &[(usize, f64)],
) -> Result<(LinearFit, Option<f64>, Option<f64>), ExperimentError> {
    let xs: Vec<f64> = steps.iter().map(|&(b, _)| 1.0 / b as f64).collect();
    let ys: Vec<f64> = steps.iter().map(|&(_, s)| s).collect();
    let ws: Vec<f64> = ys.iter().map(|y| y.powi(-2)).collect();
    let fit = weighted_linear_fit(&xs, &ys, &ws).ok_or_else(|| {
        ExperimentError::Invalid(
            "invalid --batches: valid is at least 3 different batch sizes".into(),
        )
    })?;
    let (b_crit, se) = fit.slope_over_intercept();
    Ok(if fit.intercept > 2.0 * fit.intercept_se {
        (fit, Some(b_crit), Some(se))
    } else {
        (fit, None, None)
    })
}

/// The noisy quadratic model at `at` (see the module's docs): the start's measure along
/// `displacement`, rescaled to the initial loss, the noise's from `o.nqm_probes` vectors
/// `u = N^{-1/2} sum_n xi_n (g_n - G)` of the probe set, and the model's tuned steps per batch
/// size (`n` training examples, batches without replacement) fitted like the network's.
fn nqm_prediction(
    o: &CriticalBatchOptions,
    probe: &NetworkProblem<CpuF64>,
    at: &Params<CpuF64>,
    displacement: Direction<CpuF64>,
    initial_loss: f64,
    n: usize,
    seed: u64,
) -> Result<NqmPrediction, ExperimentError> {
    const EPS: f64 = 1e-5;
    let pairs = |q: &crate::net::probes::SpectralDensity, scale: f64| -> Vec<(f64, f64)> {
        q.nodes.iter().zip(&q.weights).map(|(&h, &w)| (h, w * scale)).collect()
    };
    let op = HessianOperator::new(probe, &at.tensor, EPS);
    let start = quadrature_along(&op, &displacement, o.nqm_steps);
    let half_dhd = |keep: fn(f64) -> bool| -> f64 {
        start
            .nodes
            .iter()
            .zip(&start.weights)
            .filter(|(&h, _)| keep(h))
            .map(|(&h, &w)| 0.5 * w * h.abs())
            .sum()
    };
    let (positive, negative) = (half_dhd(|h| h > 0.0), half_dhd(|h| h < 0.0));
    if positive.is_nan() || positive <= 0.0 {
        return Err(ExperimentError::Invalid(
            "the noisy quadratic model has no positive curvature along the displacement".into(),
        ));
    }
    let mut relu_flips = start.relu_flips;
    let start = pairs(&start, (initial_loss - LOSS_FLOOR) / positive);
    let g = probe.full_gradient(&at.tensor).inner();
    let mut noise = Vec::new();
    let mut rng = crate::rng::stream(seed, 0x0A0_C0DE);
    for _ in 0..o.nqm_probes {
        let u = covariance_probe(probe, at, &g, &mut rng);
        let q = quadrature_along(&op, &u, o.nqm_steps);
        relu_flips += q.relu_flips;
        noise.extend(pairs(&q, 1.0 / o.nqm_probes as f64));
    }
    let trace_c = noise.iter().map(|&(_, w)| w).sum();
    let model = NoisyQuadratic::from_measures(&start, &noise).ok_or_else(|| {
        ExperimentError::Invalid("the noisy quadratic model has no positive curvature".into())
    })?;
    let max_steps = 1 << 30;
    let mut tuned = Vec::new();
    for &b in &o.batches {
        let f = crate::theory::noise_factor(b, Some(n), Sampling::WithoutReplacement)?;
        let t = model.tuned(o.target - LOSS_FLOOR, f, max_steps).ok_or_else(|| {
            ExperimentError::Invalid(format!(
                "S = {b}: the noisy quadratic model does not reach the --target {} at any eta below its stability limit",
                o.target
            ))
        })?;
        tuned.push((b, t));
    }
    let (fit, b_crit, b_crit_se) =
        critical_batch_fit(&tuned.iter().map(|&(b, t)| (b, t.steps as f64)).collect::<Vec<_>>())?;
    Ok(NqmPrediction {
        tuned,
        s_min: fit.intercept,
        e_min: fit.slope,
        b_crit,
        b_crit_se,
        lambda_max: model.lambda_max(),
        trace_c,
        negative_share: negative / (positive + negative),
        relu_flips,
    })
}
