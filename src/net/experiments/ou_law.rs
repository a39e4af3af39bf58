//! Experiment 1: the OU law on a network. Approach a minimum θ* (SGD, then heavy-ball gradient
//! descent at eta = 1/lambda_max). For each (eta, S), run SGD from θ* and, from the same point
//! with the same eta and steps, the noise-free full-batch trajectory. Gradient descent on a ReLU
//! network converges too slowly to know l(θ*) to the precision needed, so the noise-induced excess
//! loss is measured as the paired difference `l_SGD(k) - l_GD(k)` over the second half of the run
//! (batch means over time), and compared with `eta f/4 Tr(H)` and `eta f/4 Tr(C)` at θ*
//! (f = (N-S)/(S(N-1)), batches without replacement). Reports the ratios, Yaida's FDR residual of
//! the SGD run, Tr(C)/Tr(H) (whether C ≈ H held) and eta lambda_max (>= 2: past the quadratic
//! stability limit, where the GD reference itself is unstable and the comparison is void). A run
//! that diverges (SGD, or its GD reference) is listed under `diverged` and the grid goes on; runs
//! too short for the batch means are refused before anything is trained.

use super::context::NetContext;
use super::error::ExperimentError;
use super::grid::{DivergedRun, Grid};
use crate::net::probes::{gradient_noise, hessian_stats, lambda_max, Fdr};
use crate::net::train::{run_shown, TrainError, TrainSpec};
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode, Params};
use crate::observers::Series;
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::batch_means;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct OuLawOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Learning rates (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.02,0.04", value_parser = crate::cli::flags::positive)]
    pub etas: Vec<f64>,
    /// Batch sizes S (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "16,64", value_parser = crate::cli::flags::at_least_one)]
    pub batches: Vec<usize>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 40.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// L2 penalty l2/2 |theta|^2 in the loss (a strict minimum for the quadratic model).
    #[arg(long, default_value_t = 1e-2, value_parser = crate::cli::flags::non_negative)]
    pub l2: f64,
    /// Rademacher probes of the Hutchinson estimate of Tr(H) (at least 2, for its error bar).
    #[arg(long, default_value_t = 30, value_parser = crate::cli::flags::probes)]
    pub probes: usize,
    /// Heavy-ball full-batch GD steps that polish the warm-up's end into the minimum theta*.
    #[arg(long, default_value_t = 1000)]
    pub polish_steps: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct OuLawPoint {
    pub eta: f64,
    pub batch: usize,
    pub f: f64,
    pub excess_loss: f64,
    pub excess_se: f64,
    pub tau_int: f64,
    pub predicted_from_h: f64,
    pub predicted_from_c: f64,
    pub ratio_to_h: f64,
    pub ratio_to_c: f64,
    pub fdr_residual: f64,
    pub fdr_se: f64,
    pub eta_lambda_max: f64,
    /// Bounds on the exact discrete value eta f/4 Σ C'_ii/(1 - eta λ_i/2) from Tr(C) and
    /// λ_max alone (each mode factor lies in [1, 1/(1 - eta λ_max/2)] for 0 <= λ_i <= λ_max).
    pub exact_lower: f64,
    pub exact_upper: f64,
    /// z of the measurement against the nearer bound (0 inside the bounds).
    pub z_exact_bounds: f64,
    /// The exact discrete value from the dense quadratic model at θ*, when the model is small
    /// enough and θ* a minimum (`net::local_quadratic`), and its z.
    pub exact: Option<f64>,
    pub z_exact: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OuLawReport {
    pub n: usize,
    pub params: usize,
    pub l_star: f64,
    pub grad_norm_at_star: f64,
    /// The step of the heavy-ball GD that polished θ* (1/lambda_max at the warm-up's end,
    /// halved after each diverged try).
    pub polish_eta: f64,
    pub lambda_max: f64,
    pub lambda_max_residual: f64,
    pub trace_h: f64,
    pub trace_h_se: f64,
    pub trace_c: f64,
    pub c_over_h: f64,
    pub relu_flips: usize,
    /// Why no dense quadratic model (and so no exact value) was available, if none was.
    pub exact_unavailable: Option<String>,
    pub points: Vec<OuLawPoint>,
    /// The (eta, S) runs that diverged (SGD, or its noise-free GD reference), with why.
    pub diverged: Vec<DivergedRun>,
}

/// What every (eta, S) run needs of the minimum θ*: the point, its curvature and noise, and the
/// dense quadratic model there (or why there is none).
struct AtMinimum {
    star: Vec<f64>,
    lambda_max: f64,
    trace_h: f64,
    trace_c: f64,
    local: Result<crate::net::local_quadratic::LocalQuadratic, String>,
}

/// The batch means of the excess loss over the second half of each run.
const EXCESS_BATCHES: usize = 10;

/// The steps of one (eta, S) run and where its observers look: the loss every `every` steps (a
/// quarter epoch) and Yaida's FDR every `fdr_every` steps (an epoch), both from `half` to `steps`.
struct RunShape {
    steps: usize,
    half: usize,
    every: usize,
    fdr_every: usize,
}

impl RunShape {
    fn of(epochs: f64, n: usize, batch: usize) -> Self {
        let steps_per_epoch = (n as f64 / batch as f64).max(1.0);
        let steps = (epochs * steps_per_epoch).round() as usize;
        Self {
            steps,
            half: steps / 2,
            every: ((steps_per_epoch / 4.0).round() as usize).max(1),
            fdr_every: (steps_per_epoch.round() as usize).max(2),
        }
    }
    /// The losses recorded from `half` to `steps` (both included).
    fn loss_records(&self) -> usize {
        (self.steps - self.half) / self.every + 1
    }
    /// The FDR's samples: a gradient at each of its steps before `steps`, paired with the next.
    fn fdr_samples(&self) -> usize {
        if self.steps > self.half {
            (self.steps - 1 - self.half) / self.fdr_every + 1
        } else {
            0
        }
    }
    /// Long enough for an excess loss with an error bar (a loss record per batch mean) and an
    /// FDR residual with one (two samples).
    fn long_enough(&self) -> bool {
        self.loss_records() >= EXCESS_BATCHES && self.fdr_samples() >= 2
    }
}

/// The momentum of the heavy-ball GD that polishes the warm-up's end into θ*.
const POLISH_MOMENTUM: f64 = 0.97;
/// How many times a diverged polish is retried at half the step.
const POLISH_HALVINGS: usize = 6;

fn to_f64(theta: &[f64]) -> Params<CpuF64> {
    Params::from_vec(theta, &Default::default())
}

impl OuLawOptions {
    /// Refuses, before anything is trained, runs too short for an excess loss and an FDR residual
    /// with error bars, naming the least whole number of epochs that is long enough.
    fn check_epochs(&self, n: usize) -> Result<(), ExperimentError> {
        for &batch in &self.batches {
            let shape = RunShape::of(self.epochs, n, batch);
            if !shape.long_enough() {
                let least = (1..=100_000)
                    .find(|&e| RunShape::of(f64::from(e), n, batch).long_enough())
                    .unwrap_or(100_000);
                return Err(ExperimentError::Invalid(format!(
                    "invalid --epochs = {}: valid range is >= {least} at S = {batch}, N = {n}, where the second half of each run gives the {EXCESS_BATCHES} loss records of the excess loss's batch means and 2 FDR samples ({} gives {} and {})",
                    self.epochs,
                    self.epochs,
                    shape.loss_records(),
                    shape.fdr_samples()
                )));
            }
        }
        Ok(())
    }

    /// The training problem at batch size `batch` with this experiment's L2 penalty.
    fn problem<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        model: &Model,
        batch: usize,
        mode: NoiseMode,
        device: &B::Device,
    ) -> Result<NetworkProblem<B>, ExperimentError> {
        Ok(NetworkProblem::<B>::new(model.clone(), &ctx.train, batch, mode, self.l2, device)?)
    }

    /// SGD from θ* at `(eta, batch)` and, from the same point with the same eta and steps, the
    /// noise-free full-batch GD reference (on `full`, the full-batch problem, whose model both
    /// train); the excess loss is their paired difference over the second half of the run,
    /// against the predictions from θ*'s Tr(H), Tr(C) and λ_max.
    fn point<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        full: &NetworkProblem<B>,
        at: &AtMinimum,
        eta: f64,
        batch: usize,
        device: &B::Device,
    ) -> Result<OuLawPoint, ExperimentError> {
        let o = self;
        let n = ctx.train.len();
        let sgd = NoiseMode::Minibatch(Sampling::WithoutReplacement);
        let p = o.problem::<B>(ctx, &full.model, batch, sgd, device)?;
        let RunShape { steps, half, every, fdr_every } = RunShape::of(o.epochs, n, batch);
        let mut obs = (Series::new(half, every), Fdr::new(p.clone(), half, fdr_every, eta, 0.0));
        let mut th = Params::<B>::from_vec(&at.star, device);
        let spec =
            TrainSpec::sgd(eta, 0.0, o.epochs, ctx.seed ^ (batch as u64) << 20 ^ eta.to_bits());
        let message = format!("SGD eta {eta}, S {batch}");
        // a divergence is recorded by the grid with (eta, S)
        run_shown(&p, &mut th, &spec, steps, &mut obs, &ctx.bar, message)?;
        // The noise-free reference: full-batch GD, same eta, same steps, same start.
        let mut reference = Series::new(half, every);
        let mut th_gd = Params::<B>::from_vec(&at.star, device);
        let message = format!("GD reference eta {eta}");
        run_shown(full, &mut th_gd, &spec, steps, &mut reference, &ctx.bar, message).map_err(
            |e| {
                ExperimentError::from(e).at(format!(
                    "the noise-free GD reference, eta lambda_max = {:.3} at θ*",
                    eta * at.lambda_max
                ))
            },
        )?;
        let diff: Vec<f64> =
            obs.0.values.iter().zip(&reference.values).map(|(a, b)| a - b).collect();
        let est = batch_means(&diff, EXCESS_BATCHES);
        let tau = match est.method {
            crate::stats::Method::BatchMeans { tau_int, .. } => tau_int,
            _ => f64::NAN,
        };
        let f = crate::theory::noise_factor(batch, Some(n), Sampling::WithoutReplacement)?;
        let (ph, pc) = (eta * f / 4.0 * at.trace_h, eta * f / 4.0 * at.trace_c);
        let excess = est.value;
        let fdr = obs.1.result();
        let (exact_lower, exact_upper) = (
            pc,
            if eta * at.lambda_max < 2.0 {
                pc / (1.0 - eta * at.lambda_max / 2.0)
            } else {
                f64::INFINITY
            },
        );
        let z_exact_bounds = if excess < exact_lower {
            (excess - exact_lower) / est.se
        } else if excess > exact_upper {
            (excess - exact_upper) / est.se
        } else {
            0.0
        };
        let regime = crate::net::local_quadratic::Regime {
            eta,
            batch,
            sampling: Sampling::WithoutReplacement,
            momentum: 0.0,
        };
        let exact = at
            .local
            .as_ref()
            .ok()
            .and_then(|q| q.predict(crate::net::local_quadratic::Formula::Exact, &regime).ok())
            .map(|p| p.value());
        Ok(OuLawPoint {
            eta,
            batch,
            f,
            excess_loss: excess,
            excess_se: est.se,
            tau_int: tau,
            predicted_from_h: ph,
            predicted_from_c: pc,
            ratio_to_h: excess / ph,
            ratio_to_c: excess / pc,
            fdr_residual: fdr.residual.value,
            fdr_se: fdr.residual.se,
            eta_lambda_max: eta * at.lambda_max,
            exact_lower,
            exact_upper,
            z_exact_bounds,
            exact,
            z_exact: exact.map(|e| (excess - e) / est.se),
        })
    }
}

impl super::Experiment for OuLawOptions {
    const NAME: &'static str = "ou-law";
    type Report = OuLawReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let n = ctx.train.len();
        o.check_epochs(n)?;
        let mk = |batch: usize, mode: NoiseMode| o.problem::<B>(ctx, &model, batch, mode, device);
        let probe64 = NetworkProblem::<CpuF64>::new(
            model.clone(),
            &ctx.train,
            1,
            NoiseMode::FullBatch,
            o.l2,
            &Default::default(),
        )?;

        // 1. A minimum: SGD to get close, heavy-ball GD at eta = 1/lambda_max to polish.
        let mut theta = model.init::<B>(ctx.seed, device);
        let warm = mk(64.min(n), NoiseMode::Minibatch(Sampling::WithoutReplacement))?;
        let spec = TrainSpec::sgd(0.05, 0.9, 60.0, ctx.seed);
        run_shown(
            &warm,
            &mut theta,
            &spec,
            spec.steps(n, 64.min(n))?,
            &mut Series::new(usize::MAX, 1),
            &ctx.bar,
            "warm-up SGD".into(),
        )
        .map_err(|e| ExperimentError::from(e).at("warm-up"))?;
        let lm = lambda_max(&probe64, &to_f64(&theta.to_vec()), 1e-5, 50, 1e-3, ctx.seed);
        // The curvature can grow on the way (with few examples the L2 pull un-saturates the
        // softmax), so a polish that diverges restarts from the warm-up's end at half the step,
        // up to POLISH_HALVINGS times; the report gives the step that converged.
        let full = mk(n, NoiseMode::FullBatch)?;
        let start = theta.clone();
        let mut polish_eta = 1.0 / lm.lambda.max(1e-6);
        for halvings in 0.. {
            let gd = TrainSpec::sgd(polish_eta, POLISH_MOMENTUM, 0.0, ctx.seed);
            let message = "polishing (heavy-ball GD)".to_string();
            let series = &mut Series::new(usize::MAX, 1);
            match run_shown(&full, &mut theta, &gd, o.polish_steps, series, &ctx.bar, message) {
                Ok(()) => break,
                Err(TrainError::Diverged(d)) if halvings < POLISH_HALVINGS => {
                    if !ctx.quiet {
                        ctx.bar.suspend(|| eprintln!("note: polishing at eta = {polish_eta:.3e} diverged at step {}; restarting from the warm-up's end at half the step", d.step));
                    }
                    theta = start.clone();
                    polish_eta /= 2.0;
                }
                Err(e) => {
                    return Err(ExperimentError::from(e).at(format!(
                        "polishing (heavy-ball GD, m {POLISH_MOMENTUM}, eta = {polish_eta:.3e} after {halvings} halvings of 1/lambda_max at the warm-up's end)"
                    )))
                }
            }
        }
        let star = theta.to_vec();
        let star64 = to_f64(&star);
        let l_star = probe64.mean_loss(&star64.tensor);
        let g = probe64.full_gradient(&star64.tensor);
        let grad_norm = Params::new(g).norm_squared().sqrt();

        // 2. Curvature and noise at θ* (f64).
        let lm = lambda_max(&probe64, &star64, 1e-5, 100, 1e-4, ctx.seed);
        let hs = hessian_stats(&probe64, &star64, o.probes, 1e-5, ctx.seed);
        let noise = gradient_noise(&probe64, &star64).map_err(ExperimentError::Invalid)?;
        if !ctx.quiet {
            ctx.bar.suspend(|| eprintln!("θ*: l = {l_star:.6}, |grad| = {grad_norm:.2e}, lambda_max = {:.4} ± {:.1e}, Tr(H) = {}, Tr(C) = {:.4}", lm.lambda, lm.residual, hs.trace, noise.trace_c));
        }

        // The dense quadratic model at θ*, where the model is small enough and θ* a minimum.
        let local = if model.arch.n_params() <= crate::net::local_quadratic::MAX_DENSE_PARAMS {
            crate::net::local_quadratic::LocalQuadratic::at_minimum(&probe64, &star64)
        } else {
            Err(format!(
                "{} parameters: more than the {} of a dense Hessian",
                model.arch.n_params(),
                crate::net::local_quadratic::MAX_DENSE_PARAMS
            ))
        };

        // 3. SGD from θ* at each (eta, S); a diverged run is recorded and the grid goes on.
        let at = AtMinimum {
            star,
            lambda_max: lm.lambda,
            trace_h: hs.trace.value,
            trace_c: noise.trace_c,
            local,
        };
        let mut grid = Grid::default();
        for &batch in &o.batches {
            for &eta in &o.etas {
                let point = o.point::<B>(ctx, &full, &at, eta, batch, device);
                grid.push(eta, batch, point)?;
            }
        }
        let Grid { points, diverged } = grid.finished()?;
        let report = OuLawReport {
            n,
            params: model.arch.n_params(),
            l_star,
            grad_norm_at_star: grad_norm,
            polish_eta,
            lambda_max: lm.lambda,
            lambda_max_residual: lm.residual,
            trace_h: hs.trace.value,
            trace_h_se: hs.trace.se,
            trace_c: noise.trace_c,
            c_over_h: noise.trace_c / hs.trace.value,
            relu_flips: hs.relu_flips,
            exact_unavailable: at.local.err(),
            points,
            diverged,
        };
        Ok(report)
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let rows: Vec<Vec<String>> = r
            .points
            .iter()
            .map(|p| {
                [
                    p.eta,
                    p.batch as f64,
                    p.f,
                    p.excess_loss,
                    p.excess_se,
                    p.predicted_from_h,
                    p.predicted_from_c,
                    p.ratio_to_h,
                    p.ratio_to_c,
                    p.fdr_residual,
                    p.fdr_se,
                    p.exact_lower,
                    p.exact_upper,
                    p.z_exact_bounds,
                    p.exact.unwrap_or(f64::NAN),
                    p.z_exact.unwrap_or(f64::NAN),
                ]
                .iter()
                .map(|v| v.to_string())
                .collect()
            })
            .collect();
        ctx.outputs().csv(
            "ou_law.csv",
            &[
                "eta",
                "S",
                "f",
                "excess_loss",
                "se",
                "eta_f_trH_over_4",
                "eta_f_trC_over_4",
                "ratio_H",
                "ratio_C",
                "fdr_residual",
                "fdr_se",
                "exact_lower",
                "exact_upper",
                "z_exact_bounds",
                "exact",
                "z_exact",
            ],
            &rows,
        )?;
        ctx.outputs().json("ou_law.json", r)?;
        let pts = |pred: fn(&OuLawPoint) -> f64| {
            r.points
                .iter()
                .map(|p| (pred(p), p.excess_loss.max(f64::MIN_POSITIVE)))
                .collect::<Vec<_>>()
        };
        let all: Vec<f64> = r
            .points
            .iter()
            .flat_map(|p| [p.predicted_from_h, p.predicted_from_c, p.excess_loss])
            .filter(|v| *v > 0.0)
            .collect();
        let (lo, hi) = (
            all.iter().copied().fold(f64::INFINITY, f64::min),
            all.iter().copied().fold(0.0, f64::max),
        );
        let fig = plot::Figure {
            title: format!("OU law on a network ({} params, N = {})", r.params, r.n),
            x_label: "predicted eta f/4 Tr(.)".into(),
            y_label: "measured E[l_SGD - l_GD]".into(),
            log_x: true,
            log_y: true,
            series: vec![
                plot::Series::line("measured = predicted", vec![(lo, lo), (hi, hi)], 5),
                plot::Series::points(
                    "against Tr(H)",
                    pts(|p| p.predicted_from_h),
                    Some(r.points.iter().map(|p| p.excess_se).collect()),
                    0,
                ),
                plot::Series::points(
                    "against Tr(C)",
                    pts(|p| p.predicted_from_c),
                    Some(r.points.iter().map(|p| p.excess_se).collect()),
                    1,
                ),
            ],
            ..Default::default()
        };
        ctx.outputs().figure("ou_law", &[fig])?;
        Ok(())
    }
    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        self.batches.iter().map(|&s| ("--batches", s)).collect()
    }

    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.etas.len() * self.batches.len()) as f64;
        let per_run =
            2.0 * self.epochs * n as f64 + (self.polish_steps + 8 * self.probes) as f64 * n as f64;
        (runs * per_run, super::params_of(&self.layers))
    }
}
