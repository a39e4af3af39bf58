//! Network checks: SGD on a real model, started at its minimum θ*, measured against a prediction
//! of the quadratic model at θ* (`net::local_quadratic`), with the same row format, threshold and
//! negative controls as the quadratic checks.
//!
//! Kinds:
//! * `stationary`: the excess loss `E[L(θ_k)] - L(θ*)` against the chosen formula, |z| < threshold
//!   (or >= for a negative control). The first check that runs a regime also reports that run's
//!   Yaida FDR residual (centred at θ*) against 0.
//! * `ratio`: LR/BS invariance as a prediction: two regimes (eta, S) and (eta2, S2), the measured
//!   ratio of their excess losses against the formula's ratio (the continuous law predicts 1 when
//!   eta f is the same; the exact value predicts it from the 1/(1 - eta λ_i/2) factors).
//! * `extrapolation`: for where the quadratic model is exact only to leading order in eta (its
//!   neglected terms, third derivatives and θ-dependent noise, give relative corrections O(eta)):
//!   the relative deviation `δ(eta) = measured/predicted - 1` at several `etas` is fitted by
//!   weighted least squares as `δ = a + b eta`, and the intercept `a` (the deviation left as
//!   eta → 0) must be 0 within |z| < threshold. A wrong formula leaves `a ≠ 0`. When the line
//!   does not describe the points (chi2 per degree of freedom above 1) the intercept's error is
//!   scaled by the Birge ratio sqrt(chi2/dof).
//!
//! Yaida's FDR assumes fresh noise every step. Per-epoch reshuffling's noise is anti-correlated
//! within an epoch, so `E[(θ-θ*).ξ] ≠ 0` and the relation does not hold: for reshuffled runs the
//! FDR row is a negative control (it must be rejected). So it is for a model with `at_saddle`
//! whose θ* is not a minimum (a ReLU MLP's): SGD is not stationary about θ*.
//!
//! Fitted models and finished runs are cached for the whole suite, so negative controls that
//! reuse a run cost nothing. [`NetLab::prepare`] fits every model and then runs every distinct
//! regime of a suite at once, in parallel on the CPU: each run is one SGD chain with its own seed,
//! so its bits do not depend on which thread runs it or on what runs beside it.

use super::evaluate::{verdict, CheckRow};
use super::spec::Expect;
use crate::config::SamplingSpec;
use crate::net::backend::Resolved;
use crate::net::data::Dataset;
use crate::net::excess_loss::{measure, ExcessLoss, RunLength, BATCHES, MIN_BATCH_OVER_TAU};
use crate::net::experiments::DataChoice;
use crate::net::local_quadratic::{Formula, LocalQuadratic, Prediction, Regime, MAX_DENSE_PARAMS};
use crate::net::params::Params;
use crate::net::problem::NetNoise;
use crate::net::train::{run_shown, TrainSpec};
use crate::net::{Activation, Architecture, Model, NetworkProblem, NoiseMode};
use crate::observers::Series;
use crate::problems::Sampling;
use crate::problems::StochasticProblem;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;

/// The model of a network check: data, architecture, L2, and how θ* is reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetModelSpec {
    /// embedded (the Fashion-MNIST subset in the binary), fashion-mnist or mnist.
    #[serde(default = "embedded")]
    pub dataset: String,
    /// Keep only these classes, relabelled 0, 1, ... (two classes: binary logistic loss).
    #[serde(default)]
    pub classes: Vec<u8>,
    /// A stratified subset of this many training examples.
    #[serde(default)]
    pub n: Option<usize>,
    /// Average-pool the images over k x k blocks (28 x 28 with 4: 7 x 7).
    #[serde(default = "one")]
    pub pool: usize,
    /// Hidden layer widths (none: logistic regression).
    #[serde(default)]
    pub hidden: Vec<usize>,
    #[serde(default)]
    pub activation: Activation,
    pub l2: f64,
    /// Seed of the initial weights and of the subset.
    #[serde(default)]
    pub seed: u64,
    /// Epochs of heavy-ball SGD (eta 0.05, m 0.9, S 32) before Newton polishing.
    #[serde(default)]
    pub warmup_epochs: f64,
    /// When θ* is a saddle (a ReLU MLP's Newton polish can end on one of its smooth piece):
    /// predict from the positive-curvature modes alone and say so, instead of refusing.
    #[serde(default)]
    pub at_saddle: bool,
}

fn embedded() -> String {
    "embedded".into()
}
fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetCheckKind {
    #[default]
    Stationary,
    Ratio,
    Extrapolation,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetCheckSpec {
    pub id: String,
    pub claim: String,
    #[serde(default)]
    pub kind: NetCheckKind,
    pub model: NetModelSpec,
    pub eta: f64,
    pub batch: usize,
    #[serde(default)]
    pub sampling: Option<SamplingSpec>,
    #[serde(default)]
    pub momentum: f64,
    #[serde(default)]
    pub theory: Formula,
    #[serde(default)]
    pub expect: Expect,
    /// Steps averaged after the burn-in.
    #[serde(default = "window")]
    pub window: usize,
    /// Burn-in steps (default: until the model's transient is below 1e-3 of the stationary loss).
    #[serde(default)]
    pub burn_in: Option<usize>,
    /// Steps between loss evaluations.
    #[serde(default = "every")]
    pub every: usize,
    #[serde(default)]
    pub seed: u64,
    /// Ratio: the second regime.
    #[serde(default)]
    pub eta2: Option<f64>,
    #[serde(default)]
    pub batch2: Option<usize>,
    /// Extrapolation: the learning rates (the batch stays `batch`; `eta` is not used).
    #[serde(default)]
    pub etas: Vec<f64>,
}

fn window() -> usize {
    20_000
}
fn every() -> usize {
    5
}

impl NetCheckSpec {
    /// Refuses, before anything runs and named as the file names them: learning rates that are
    /// not finite and > 0 (a negative one would run until it diverged), a momentum outside
    /// [0, 1), `model.n` below 2, a batch size of 0 (or above `model.n`), an L2 or warm-up that
    /// is not a finite number >= 0, and a window and evaluation interval that leave the excess loss's
    /// [`BATCHES`] batch means without a record each (their value and error bar were NaN).
    pub fn check(&self) -> Result<(), crate::error::ProblemError> {
        use crate::error::{ensure, positive, ProblemError};
        positive("eta", self.eta)?;
        if let Some(e) = self.eta2 {
            positive("eta2", e)?;
        }
        for (i, &e) in self.etas.iter().enumerate() {
            positive(&format!("etas[{i}]"), e)?;
        }
        crate::error::momentum(self.momentum)
            .map_err(|e| ProblemError { parameter: "momentum".into(), ..e })?;
        if let Some(n) = self.model.n {
            ensure(n >= 2, || ProblemError::new("model.n", n, "N >= 2 examples"))?;
        }
        for (name, batch) in [("batch", Some(self.batch)), ("batch2", self.batch2)] {
            if let Some(b) = batch {
                crate::error::batch_size(b, self.model.n).map_err(|e| ProblemError {
                    parameter: name.into(),
                    valid: e.valid.replace("N = ", "N (model.n) = "),
                    ..e
                })?;
            }
        }
        let non_negative = |name: &str, v: f64, valid: &str| {
            ensure(v.is_finite() && v >= 0.0, || ProblemError::new(name, v, valid))
        };
        non_negative("model.l2", self.model.l2, "a finite number >= 0")?;
        let warmup = self.model.warmup_epochs;
        non_negative("model.warmup_epochs", warmup, "a finite number >= 0 (0: no warm-up)")?;
        // The records fall at the window's start and every `every` steps after it.
        let gaps = BATCHES - 1;
        ensure(self.window >= gaps, || {
            ProblemError::new(
                "window",
                self.window,
                format!(">= {gaps} steps (its records give the excess loss's {BATCHES} batch means one each at every = 1)"),
            )
        })?;
        ensure(self.every >= 1 && self.every <= self.window / gaps, || {
            ProblemError::new(
                "every",
                self.every,
                format!(
                    "1 <= every <= window / {gaps} = {} (the window's records, at its start and \
                     every `every` steps after it, must give the excess loss's {BATCHES} batch \
                     means one each)",
                    self.window / gaps
                ),
            )
        })
    }

    fn regime(&self, eta: f64, batch: usize) -> Regime {
        Regime {
            eta,
            batch,
            sampling: self.sampling.map_or(Sampling::WithReplacement, Sampling::from),
            momentum: self.momentum,
        }
    }

    /// The regimes this check runs, in order: one (stationary), two (ratio: `eta, batch` then
    /// `eta2, batch2`) or one per learning rate of `etas` (extrapolation, at least 3).
    pub fn regimes(&self) -> Result<Vec<Regime>, String> {
        Ok(match self.kind {
            NetCheckKind::Stationary => vec![self.regime(self.eta, self.batch)],
            NetCheckKind::Ratio => {
                let eta2 =
                    self.eta2.ok_or(format!("check {}: a ratio check needs eta2", self.id))?;
                let batch2 =
                    self.batch2.ok_or(format!("check {}: a ratio check needs batch2", self.id))?;
                vec![self.regime(self.eta, self.batch), self.regime(eta2, batch2)]
            }
            NetCheckKind::Extrapolation => {
                if self.etas.len() < 3 {
                    return Err(format!(
                        "invalid etas = {:?} in check {}: valid is at least 3 learning rates",
                        self.etas, self.id
                    ));
                }
                self.etas.iter().map(|&eta| self.regime(eta, self.batch)).collect()
            }
        })
    }
}

impl NetCheckSpec {
    /// The estimated cost of this check (see [`crate::budget`]): the shipped suites' totals come
    /// out at 150 s (`net`) and 944 s (`net-full`) against about 70 s and 170 s measured on 2
    /// cores, so this bounds absurd suite files, not ordinary ones. It counts the full data set
    /// when `n` is not given (2,000 embedded images, else 60,000), a burn-in as long as the window
    /// when it is computed from the model, and the fit at θ* counted for every check although a
    /// suite fits each model once.
    pub fn work(&self) -> crate::budget::Work {
        let m = &self.model;
        let n = self.examples();
        let side = 28 / m.pool.max(1);
        let outputs = match m.classes.len() {
            2 => 1,
            0 => 10,
            k => k,
        };
        let mut sizes = vec![side * side];
        sizes.extend(&m.hidden);
        sizes.push(outputs);
        let d = crate::net::experiments::params_of(&sizes) as f64;
        // Warm-up epochs, Newton steps and the dense Hessian (two full-batch gradients per
        // column); above MAX_DENSE_PARAMS the truncated model's Hessian-vector products instead
        // (conjugate-gradient Newton steps, Lanczos, Hutchinson: about 3,000, two gradients each).
        let dense = d <= MAX_DENSE_PARAMS as f64;
        let hessian = if dense { 2.0 * d * n } else { 6_000.0 * n };
        let fit = m.warmup_epochs.max(0.0) * n + hessian + 20.0 * n;
        let regimes = match self.kind {
            NetCheckKind::Stationary => 1.0,
            NetCheckKind::Ratio => 2.0,
            NetCheckKind::Extrapolation => self.etas.len() as f64,
        };
        let run = self.run_work(self.batch.max(self.batch2.unwrap_or(0)));
        crate::budget::Work::network(
            format!("check {} ({} steps x {} regimes, d = {d})", self.id, self.steps(), regimes),
            fit + regimes * run,
            d,
            8.0 * d * (if dense { d + n } else { n + 100.0 }),
        )
    }

    /// Training examples: `n`, else the whole set (2,000 embedded images, else 60,000).
    fn examples(&self) -> f64 {
        let full = if self.model.dataset == "embedded" { 2_000 } else { 60_000 };
        self.model.n.unwrap_or(full) as f64
    }

    /// Steps of one run, with a burn-in as long as the window when it comes from the model.
    fn steps(&self) -> f64 {
        self.burn_in.unwrap_or(self.window) as f64 + self.window as f64
    }

    /// One run's work at batch size `batch`: the examples its steps touch, and a full-data loss
    /// every `every` steps counted at a third of a step per example.
    fn run_work(&self, batch: usize) -> f64 {
        let steps = self.steps();
        steps * batch as f64 + steps / self.every.max(1) as f64 * self.examples() / 3.0
    }
}

/// A model with its data and the quadratic model at its minimum.
pub struct Fitted {
    pub data: Dataset,
    pub model: Model,
    pub local: LocalQuadratic,
}

/// Fitted models and finished runs, shared by the checks of one suite, and the device the runs
/// use (f64 on the CPU by default; f32 on CUDA with `--device cuda`, see
/// [`with_measurement_backend`](crate::with_measurement_backend)). Models are fitted on the CPU in f64.
#[derive(Default)]
pub struct NetLab {
    models: HashMap<String, Arc<Fitted>>,
    runs: HashMap<String, ExcessLoss>,
    /// Runs whose FDR row has been reported (by the first check that used them).
    reported: HashSet<String>,
    device: Resolved,
}

/// One regime's run that a suite needs: its cache key and what it takes to run it.
struct RunJob<'a> {
    key: String,
    check: &'a NetCheckSpec,
    regime: Regime,
    length: RunLength,
}

/// The data set and the model a spec describes.
pub fn build(spec: &NetModelSpec) -> Result<(Dataset, Model), String> {
    let (train, _) = DataChoice::parse(&spec.dataset, None)?.load(None, None, spec.seed)?;
    let data = if spec.classes.is_empty() {
        train
    } else {
        train.with_classes(&spec.classes).map_err(|e| e.to_string())?
    };
    let data = data.pooled(spec.pool).map_err(|e| e.to_string())?;
    let data = match spec.n {
        Some(n) => data.stratified_subset(n, spec.seed).map_err(|e| e.to_string())?,
        None => data,
    };
    let classes = data.classes();
    let mut sizes = vec![data.dim];
    sizes.extend(&spec.hidden);
    sizes.push(if classes == 2 { 1 } else { classes });
    let arch =
        Architecture::new(sizes).map_err(|e| e.to_string())?.with_activation(spec.activation);
    Ok((data, Model::new(arch)))
}

impl NetLab {
    /// A lab whose runs use `device`.
    pub fn on(device: Resolved) -> Self {
        Self { device, ..Self::default() }
    }

    /// The fitted model for a spec (fitted once per suite).
    pub fn fitted(
        &mut self,
        spec: &NetModelSpec,
        bar: &indicatif::ProgressBar,
    ) -> Result<Arc<Fitted>, String> {
        let key = model_key(spec);
        if let Some(f) = self.models.get(&key) {
            return Ok(f.clone());
        }
        let fitted = Arc::new(fit_spec(spec, bar)?);
        self.models.insert(key, fitted.clone());
        Ok(fitted)
    }

    /// The measured excess loss of one regime, run by [`prepare`](Self::prepare); `true` for
    /// the first check that asks (which reports the run's FDR row).
    fn run(&mut self, check: &NetCheckSpec, regime: &Regime) -> Result<(ExcessLoss, bool), String> {
        let (key, _) = run_key(check, regime);
        let r = *self.runs.get(&key).ok_or_else(|| {
            format!("check {}: its run at eta {} was not prepared", check.id, regime.eta)
        })?;
        Ok((r, self.reported.insert(key)))
    }

    fn measure(
        &self,
        check: &NetCheckSpec,
        fitted: &Fitted,
        regime: &Regime,
        length: &RunLength,
        bar: &indicatif::ProgressBar,
    ) -> Result<ExcessLoss, String> {
        let label = format!("{}: eta {}, S {}", check.id, regime.eta, regime.batch);
        crate::with_measurement_backend!(
            self.device,
            measure_from_minimum(check, fitted, regime, length, bar, label)
        )
    }

    /// Fits every model of `checks` and runs every regime they need that is not cached yet, in
    /// parallel on the CPU (one at a time on CUDA): each model's runs start as soon as it is
    /// fitted, the costliest first, each with a bar of its own. The checks then find their runs
    /// cached, with the same bits as when each runs alone.
    pub fn prepare(
        &mut self,
        checks: &[NetCheckSpec],
        bar: &indicatif::ProgressBar,
    ) -> Result<(), String> {
        // Per model: its key, the first check that uses it, and the runs it still needs.
        let mut groups: Vec<(String, &NetCheckSpec, Vec<RunJob>)> = Vec::new();
        for check in checks {
            let model = model_key(&check.model);
            let at = match groups.iter().position(|g| g.0 == model) {
                Some(at) => at,
                None => {
                    groups.push((model, check, Vec::new()));
                    groups.len() - 1
                }
            };
            for regime in check.regimes()? {
                let (key, length) = run_key(check, &regime);
                let new =
                    !self.runs.contains_key(&key) && !groups[at].2.iter().any(|j| j.key == key);
                if new {
                    groups[at].2.push(RunJob { key, check, regime, length });
                }
            }
        }
        // Costliest first, by the work estimate of the budget.
        let cost = |j: &RunJob| j.check.run_work(j.regime.batch);
        groups.iter_mut().for_each(|g| g.2.sort_by(|a, b| cost(b).total_cmp(&cost(a))));
        let shown = !bar.is_hidden();
        let shared = Preparation {
            lab: self,
            groups,
            multi: indicatif::MultiProgress::with_draw_target(if shown {
                indicatif::ProgressDrawTarget::stderr()
            } else {
                indicatif::ProgressDrawTarget::hidden()
            }),
            style: bar.style(),
            fits: Default::default(),
            runs: Default::default(),
            failed: Default::default(),
        };
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        if self.device == Resolved::Cpu {
            rayon::scope(|scope| shared.spawn(scope));
        } else {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .map_err(|e| format!("a thread for the network runs: {e}"))?
                .scope(|scope| shared.spawn(scope));
        }
        if shown {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        let (fits, runs, failed) = (shared.fits, shared.runs, shared.failed);
        if let Some(e) = failed.into_inner().expect(UNPOISONED) {
            return Err(e);
        }
        self.models.extend(fits.into_inner().expect(UNPOISONED));
        self.runs.extend(runs.into_inner().expect(UNPOISONED));
        Ok(())
    }
}

const UNPOISONED: &str = "no job panics while holding a lock";

/// What [`NetLab::prepare`]'s jobs share: the models to fit with their runs, and what they found.
struct Preparation<'a> {
    lab: &'a NetLab,
    groups: Vec<(String, &'a NetCheckSpec, Vec<RunJob<'a>>)>,
    multi: indicatif::MultiProgress,
    style: indicatif::ProgressStyle,
    fits: std::sync::Mutex<Vec<(String, Arc<Fitted>)>>,
    runs: std::sync::Mutex<Vec<(String, ExcessLoss)>>,
    /// The first error; jobs that have not started yet are skipped.
    failed: std::sync::Mutex<Option<String>>,
}

impl<'a> Preparation<'a> {
    /// One job per model (fit it unless cached), which spawns a job per run once it is fitted.
    fn spawn<'s>(&'s self, scope: &rayon::Scope<'s>) {
        for (key, first, jobs) in &self.groups {
            scope.spawn(move |scope| {
                let fitted = match self.lab.models.get(key) {
                    Some(f) => f.clone(),
                    None => match self.shown(|bar| fit_spec(&first.model, bar)) {
                        Ok(f) => {
                            let f = Arc::new(f);
                            self.fits.lock().expect(UNPOISONED).push((key.clone(), f.clone()));
                            f
                        }
                        Err(e) => return self.fail(format!("check {}: {e}", first.id)),
                    },
                };
                for job in jobs {
                    let fitted = fitted.clone();
                    scope.spawn(move |_| {
                        if self.failed.lock().expect(UNPOISONED).is_some() {
                            return;
                        }
                        let r = self.shown(|bar| {
                            self.lab.measure(job.check, &fitted, &job.regime, &job.length, bar)
                        });
                        match r {
                            Ok(r) => self.runs.lock().expect(UNPOISONED).push((job.key.clone(), r)),
                            Err(e) => self.fail(e),
                        }
                    });
                }
            });
        }
    }

    /// `job` with a progress bar of its own while it runs.
    fn shown<R>(&self, job: impl FnOnce(&indicatif::ProgressBar) -> R) -> R {
        let bar = self.multi.add(indicatif::ProgressBar::new(0).with_style(self.style.clone()));
        let r = job(&bar);
        self.multi.remove(&bar);
        r
    }

    fn fail(&self, e: String) {
        self.failed.lock().expect(UNPOISONED).get_or_insert(e);
    }
}

/// The cache key of a model.
fn model_key(spec: &NetModelSpec) -> String {
    serde_json::to_string(spec).expect("a model spec serialises")
}

/// A spec's data and model, fitted at θ* on the CPU in f64.
fn fit_spec(spec: &NetModelSpec, bar: &indicatif::ProgressBar) -> Result<Fitted, String> {
    let (data, model) = build(spec)?;
    let local = fit::<crate::net::CpuF64>(spec, &data, &model, bar)?;
    Ok(Fitted { data, model, local })
}

/// The cache key of one regime's run and its length.
fn run_key(check: &NetCheckSpec, regime: &Regime) -> (String, RunLength) {
    let length = RunLength {
        window: check.window,
        burn_in: check.burn_in,
        every: check.every,
        seed: check.seed,
    };
    (format!("{}|{regime:?}|{length:?}", model_key(&check.model)), length)
}

/// θ* of a spec's model on backend `B`: an optional SGD warm-up, then the local quadratic model
/// (Newton polishing, Hessian, per-example gradients).
fn fit<B: AutodiffBackend>(
    spec: &NetModelSpec,
    data: &Dataset,
    model: &Model,
    bar: &indicatif::ProgressBar,
) -> Result<LocalQuadratic, String>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = NetNoise>,
{
    let device = Default::default();
    let mut theta = model.init::<B>(spec.seed, &device);
    if spec.warmup_epochs > 0.0 {
        let batch = 32.min(data.len());
        let warm = NetworkProblem::<B>::new(
            model.clone(),
            data,
            batch,
            NoiseMode::Minibatch(Sampling::WithoutReplacement),
            spec.l2,
            &device,
        )
        .map_err(|e| e.to_string())?;
        let train = TrainSpec::sgd(0.05, 0.9, spec.warmup_epochs, spec.seed);
        let steps = train.steps(data.len(), batch).map_err(|e| {
            let parameter = "model.warmup_epochs".to_string();
            crate::error::ProblemError { parameter, ..e }.to_string()
        })?;
        run_shown(
            &warm,
            &mut theta,
            &train,
            steps,
            &mut Series::new(usize::MAX, 1),
            bar,
            "warm-up".into(),
        )
        .map_err(|e| format!("warm-up: {e}"))?;
    }
    bar.set_message("θ*: Newton polishing, Hessian, per-example gradients");
    let full = NetworkProblem::<B>::new(
        model.clone(),
        data,
        data.len(),
        NoiseMode::FullBatch,
        spec.l2,
        &device,
    )
    .map_err(|e| e.to_string())?;
    let local = LocalQuadratic::at_minimum(&full, &theta)?;
    Ok(if spec.at_saddle { local.positive_part() } else { local })
}

/// One regime's run from θ* on backend `B`.
fn measure_from_minimum<B: AutodiffBackend>(
    check: &NetCheckSpec,
    fitted: &Fitted,
    regime: &Regime,
    length: &RunLength,
    bar: &indicatif::ProgressBar,
    label: String,
) -> Result<ExcessLoss, String>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = NetNoise>,
    B::FloatElem: Send + Sync,
{
    let problem = NetworkProblem::<B>::new(
        fitted.model.clone(),
        &fitted.data,
        regime.batch,
        NoiseMode::Minibatch(regime.sampling),
        check.model.l2,
        &Default::default(),
    )
    .map_err(|e| e.to_string())?;
    measure(&problem, &fitted.local, regime, length, bar, label)
        .map_err(|e| format!("check {}: {e}", check.id))
}

fn describe_run(r: &ExcessLoss, local: &LocalQuadratic) -> String {
    format!(
        "{}; burn-in {} steps, window {} steps sampled every {}; θ*: |g| = {:.1e}, λ_min = {:.3e}, Hessian {}",
        r.estimate,
        r.burn_in,
        r.window,
        r.every,
        local.minimum.gradient_norm,
        local.lambda_min,
        match local.hessian {
            crate::net::local_quadratic::HessianSource::Analytic => "analytic".to_string(),
            crate::net::local_quadratic::HessianSource::FiniteDifference { relu_flips, .. } => format!("by finite differences ({relu_flips} ReLU flips)"),
            crate::net::local_quadratic::HessianSource::Lanczos { modes, steps, max_relative_residual, probes } => format!("truncated: top {modes} eigenpairs by {steps} Lanczos steps (relative residuals <= {max_relative_residual:.1e}), Tr(H) from {probes} Hutchinson probes"),
        }
    )
}

/// For a truncated model's prediction: the interval its unresolved modes allow, and why; for a
/// saddle's positive part: what was dropped.
fn describe_approximation(p: &Prediction, local: &LocalQuadratic) -> String {
    if let Some(s) = &local.saddle {
        return format!(
            "; θ* is not a minimum: {} of {} eigenvalues <= 0 (down to {:.2e}, {:.2}% of Tr C) dropped, and |g| = {:.2e} puts it up to 1/2 gᵀH₊⁻¹g = {:.2e} above the kept quadratic's minimum, so the prediction holds only if SGD stays near θ*",
            s.dropped,
            local.params,
            s.lambda_min,
            100.0 * s.trace_c_share,
            local.minimum.gradient_norm,
            0.5 * local.minimum.newton_decrement
        );
    }
    match (&local.bulk, p.point()) {
        (Some(b), None) => format!(
            "; truncated model: between {:.4e} and {:.4e}{} ({} unresolved modes carry {:.1}% of Tr C, λ in [{:.3e}, {:.3e}]); z counts the distance from that interval",
            p.lower,
            p.upper,
            if p.se > 0.0 { format!(" ± {:.1e} (Hutchinson)", p.se) } else { String::new() },
            b.modes,
            100.0 * b.trace_c / local.trace_c,
            b.lambda_lower,
            b.lambda_upper
        ),
        _ => String::new(),
    }
}

/// Batch means need batches longer than the correlation time; otherwise the row fails.
fn reliability(r: &ExcessLoss, pass: bool, criterion: String) -> (bool, String) {
    if r.reliable() {
        (pass, criterion)
    } else {
        (false, format!("{criterion}, and batches >= {MIN_BATCH_OVER_TAU} tau_int (violated: {} samples per batch, tau_int = {:.1}; lengthen the window)", r.samples / BATCHES, r.tau_int()))
    }
}

/// Runs one network check (its fit and runs through [`NetLab::prepare`], unless a suite
/// prepared them already). Its rows share its seconds: the runs it is the first to report and its
/// own evaluation; fits are not counted.
pub fn evaluate_net(
    spec: &NetCheckSpec,
    threshold: f64,
    lab: &mut NetLab,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<CheckRow>, String> {
    lab.prepare(std::slice::from_ref(spec), bar)?;
    let started = std::time::Instant::now();
    let fitted = lab.fitted(&spec.model, bar).map_err(|e| format!("check {}: {e}", spec.id))?;
    let local = &fitted.local;
    let regime = spec.regime(spec.eta, spec.batch);
    let predict =
        |r: &Regime| local.predict(spec.theory, r).map_err(|e| format!("check {}: {e}", spec.id));
    // Ratio and extrapolation checks divide by the prediction: they need it as an exact point.
    let predict_point = |r: &Regime| {
        let p = predict(r)?;
        p.point().ok_or_else(|| format!("check {}: a {:?} check needs an exact prediction, and the truncated quadratic model of this {}-parameter model bounds it to [{:.4e}, {:.4e}] ± {:.1e} (the dense model takes at most {MAX_DENSE_PARAMS} parameters)", spec.id, spec.kind, local.params, p.lower, p.upper, p.se))
    };
    let mut rows = Vec::new();
    // The seconds of the runs this check is the first to report (a suite runs them beforehand).
    let mut run_seconds = 0.0;
    let mut fdr_row = |id: String, r: &ExcessLoss, regime: &Regime| {
        run_seconds += r.seconds;
        let z = r.fdr.residual.value / r.fdr.residual.se;
        let reshuffled = regime.sampling == Sampling::Reshuffle;
        let off_minimum = local.saddle.is_some();
        let (pass, criterion) = verdict(
            z,
            threshold,
            if reshuffled || off_minimum { Expect::Reject } else { Expect::Agree },
        );
        let claim = if reshuffled {
            "NEGATIVE CONTROL: Yaida's FDR, which assumes fresh noise every step, is rejected under per-epoch reshuffling".to_string()
        } else if off_minimum {
            "NEGATIVE CONTROL: Yaida's FDR centred at a θ* that is not a minimum is rejected (SGD is not stationary about it)".to_string()
        } else {
            "Yaida's FDR <(θ-θ*).grad L> = (1+m)/(2 eta) <|Δθ|^2> holds at stationarity".to_string()
        };
        CheckRow {
            id: format!("{id}/fdr"),
            claim: format!(
                "{claim} (eta = {}, S = {}, m = {})",
                regime.eta, regime.batch, regime.momentum
            ),
            compared_with: "0 (exact at stationarity for any loss)".into(),
            theory: 0.0,
            measured: r.fdr.residual.value,
            se: r.fdr.residual.se,
            z,
            criterion,
            pass,
            method: format!("{} over {} sampled pairs", r.fdr.residual, r.fdr.samples),
            seconds: 0.0,
        }
    };
    match spec.kind {
        NetCheckKind::Stationary => {
            let prediction = predict(&regime)?;
            let theory = prediction.value();
            let (r, fresh) = lab.run(spec, &regime)?;
            let z = prediction.z(&r.estimate);
            let (pass, criterion) = verdict(z, threshold, spec.expect);
            let (pass, criterion) = reliability(&r, pass, criterion);
            rows.push(CheckRow {
                id: spec.id.clone(),
                claim: spec.claim.clone(),
                compared_with: format!(
                    "{} (eta λ_max = {:.3}, f = {:.4e}, Tr C/Tr H = {:.3}){}",
                    spec.theory.describe(),
                    spec.eta * local.lambda_max,
                    local.noise_factor(&regime).map_err(|e| e.to_string())?,
                    local.trace_c / local.trace_h,
                    describe_approximation(&prediction, local)
                ),
                theory,
                measured: r.estimate.value,
                se: r.estimate.se,
                z,
                criterion,
                pass,
                method: describe_run(&r, local),
                seconds: 0.0,
            });
            if fresh {
                rows.push(fdr_row(spec.id.clone(), &r, &regime));
            }
        }
        NetCheckKind::Ratio => {
            let second = spec.regimes()?[1];
            let eta2 = second.eta;
            let theory = predict_point(&second)? / predict_point(&regime)?;
            let (a, fresh_a) = lab.run(spec, &regime)?;
            let (b, fresh_b) = lab.run(spec, &second)?;
            let (ea, eb) = (a.estimate, b.estimate);
            let ratio = eb.value / ea.value;
            let se = ratio.abs() * ((ea.se / ea.value).powi(2) + (eb.se / eb.value).powi(2)).sqrt();
            let z = (ratio - theory) / se;
            let (pass, criterion) = verdict(z, threshold, spec.expect);
            let (pass, criterion) = reliability(&a, pass, criterion);
            let (pass, criterion) = reliability(&b, pass, criterion);
            rows.push(CheckRow {
                id: spec.id.clone(),
                claim: spec.claim.clone(),
                compared_with: format!(
                    "ratio from the {} (eta λ_max = {:.3} and {:.3})",
                    spec.theory.describe(),
                    spec.eta * local.lambda_max,
                    eta2 * local.lambda_max
                ),
                theory,
                measured: ratio,
                se,
                z,
                criterion,
                pass,
                method: format!(
                    "ratio of two independent runs, delta-method se; first: {}; second: {}",
                    describe_run(&a, local),
                    describe_run(&b, local)
                ),
                seconds: 0.0,
            });
            if fresh_a {
                rows.push(fdr_row(format!("{}[1]", spec.id), &a, &regime));
            }
            if fresh_b {
                rows.push(fdr_row(format!("{}[2]", spec.id), &b, &second));
            }
        }
        NetCheckKind::Extrapolation => {
            // (eta, δ, se of δ) per run.
            let mut points = Vec::new();
            let mut runs = Vec::new();
            for regime in spec.regimes()? {
                let eta = regime.eta;
                let p = predict_point(&regime)?;
                let (r, fresh) = lab.run(spec, &regime)?;
                points.push((eta, r.estimate.value / p - 1.0, r.estimate.se / p));
                if fresh {
                    rows.push(fdr_row(format!("{}[eta={eta}]", spec.id), &r, &regime));
                }
                runs.push(r);
            }
            let fit = weighted_line(&points);
            // A line that does not describe the points (chi2 above its degrees of freedom) has an
            // intercept less certain than the weights say: scale its error by the Birge ratio.
            let birge = (fit.chi2 / (points.len() - 2) as f64).sqrt().max(1.0);
            let intercept_se = fit.intercept_se * birge;
            let z = fit.intercept / intercept_se;
            let (mut pass, mut criterion) = verdict(z, threshold, spec.expect);
            for r in &runs {
                (pass, criterion) = reliability(r, pass, criterion);
            }
            let deviations = points
                .iter()
                .map(|(e, d, s)| format!("eta {e}: {d:+.4} ± {s:.4}"))
                .collect::<Vec<_>>()
                .join(", ");
            rows.insert(
                0,
                CheckRow {
                    id: spec.id.clone(),
                    claim: spec.claim.clone(),
                    compared_with: format!("0: the relative deviation from the {} extrapolated to eta → 0", spec.theory.describe()),
                    theory: 0.0,
                    measured: fit.intercept,
                    se: intercept_se,
                    z,
                    criterion,
                    pass,
                    method: format!("weighted least squares δ = a + b eta over δ = measured/predicted - 1 ({deviations}); slope b = {:.3} ± {:.3}, chi2 = {:.2} on {} dof (errors scaled by the Birge ratio {birge:.2})", fit.slope, fit.slope_se * birge, fit.chi2, points.len() - 2),
                    seconds: 0.0,
                },
            );
        }
    }
    let per_row = (started.elapsed().as_secs_f64() + run_seconds) / rows.len() as f64;
    rows.iter_mut().for_each(|r| r.seconds = per_row);
    Ok(rows)
}

/// A straight line fitted by weighted least squares, with standard errors from the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    pub intercept: f64,
    pub intercept_se: f64,
    pub slope: f64,
    pub slope_se: f64,
    pub chi2: f64,
}

/// Fits `y = a + b x` to `(x, y, se_y)` with weights `1/se_y^2`.
pub fn weighted_line(points: &[(f64, f64, f64)]) -> LineFit {
    let (mut s, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y, e) in points {
        let w = 1.0 / (e * e);
        s += w;
        sx += w * x;
        sy += w * y;
        sxx += w * x * x;
        sxy += w * x * y;
    }
    let det = s * sxx - sx * sx;
    let intercept = (sxx * sy - sx * sxy) / det;
    let slope = (s * sxy - sx * sy) / det;
    let chi2 = points.iter().map(|&(x, y, e)| ((y - intercept - slope * x) / e).powi(2)).sum();
    LineFit { intercept, intercept_se: (sxx / det).sqrt(), slope, slope_se: (s / det).sqrt(), chi2 }
}
