//! Training a network with the core's solve loop, recording a learning curve per epoch.

use super::data::Dataset;
use super::model::Model;
use super::params::Params;
use super::problem::{tensors, NetworkProblem};
use crate::config::IntegratorKind;
use crate::observers::Observer;
use crate::problems::StochasticProblem;
use crate::solve::{solve, Diverged, StepSizes};
use burn::tensor::{backend::AutodiffBackend, backend::Backend, ElementConversion, Tensor};
use serde::Serialize;

/// One point of a learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EpochRecord {
    pub epoch: f64,
    pub step: usize,
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// A held-out set on the device, with the training inputs when batch norm needs their statistics.
#[derive(Debug, Clone)]
pub struct EvalSet<B: Backend> {
    pub x: Tensor<B, 2>,
    pub targets: Tensor<B, 2>,
    pub labels: Vec<u8>,
    pub reference: Option<Tensor<B, 2>>,
}

impl<B: Backend> EvalSet<B> {
    /// `data` evaluated for `model`; with batch norm, normalised by `train`'s statistics.
    pub fn new(model: &Model, data: &Dataset, train: &Dataset, device: &B::Device) -> Self {
        let (x, targets) = tensors::<B>(data, model.arch.outputs(), device);
        let reference =
            model.arch.batch_norm.then(|| tensors::<B>(train, model.arch.outputs(), device).0);
        Self { x, targets, labels: data.labels.clone(), reference }
    }
}

impl<B: AutodiffBackend> EvalSet<B> {
    /// Mean loss and accuracy of `theta` on this set, on the inner backend (no autodiff graph:
    /// see [`Params`]'s `State` operations).
    pub fn evaluate(&self, model: &Model, theta: &Tensor<B, 1>) -> (f64, f64) {
        let theta = theta.clone().inner();
        let x = self.x.clone().inner();
        let f = match &self.reference {
            Some(train) => {
                let stats = model.forward(&theta, train.clone().inner(), None).norm_stats;
                model.forward_with(&theta, x, None, super::model::Norm::Given(&stats))
            }
            None => model.forward(&theta, x, None),
        };
        let loss = model
            .per_example_loss(f.logits.clone(), self.targets.clone().inner())
            .mean()
            .into_scalar()
            .elem::<f64>();
        let pred = model.predict(f.logits);
        let correct = pred.iter().zip(&self.labels).filter(|(p, l)| **p == **l as usize).count();
        (loss, correct as f64 / self.labels.len() as f64)
    }
}

/// Records the full training loss and the test metrics at the marked steps.
#[derive(Debug, Clone)]
pub struct LearningCurve<B: Backend> {
    pub model: Model,
    pub test: EvalSet<B>,
    /// `(step, epoch)`, in increasing step order: where to record, and the epoch reached there
    /// ([`epoch_marks`], [`end_marks`], or a schedule's [`StepPlan::epoch_marks`](crate::schedule::StepPlan)).
    pub marks: Vec<(usize, f64)>,
    pub records: Vec<EpochRecord>,
}

/// Where a learning curve of `steps` steps records, each step with its epoch
/// `step / steps_per_epoch`: step 0, the step nearest each whole epoch `j` (`round(j
/// steps_per_epoch)`) before the end, and the last step. So the end of training is always
/// recorded, and runs at other batch sizes (other steps per epoch) are recorded at the same
/// epochs, record for record: `j` for every whole epoch, then the end.
///
/// # Panics
/// If `steps_per_epoch` is not a finite number > 0 (callers pass `n / S` of a validated run).
pub fn epoch_marks(steps: usize, steps_per_epoch: f64) -> Vec<(usize, f64)> {
    assert!(
        steps_per_epoch.is_finite() && steps_per_epoch > 0.0,
        "steps per epoch must be a finite number > 0, not {steps_per_epoch}"
    );
    let mut marks: Vec<usize> = Vec::new();
    for j in 0u64.. {
        let k = (j as f64 * steps_per_epoch).round() as usize;
        if k >= steps {
            break;
        }
        if marks.last() != Some(&k) {
            marks.push(k);
        }
    }
    if marks.last() != Some(&steps) {
        marks.push(steps);
    }
    marks.into_iter().map(|k| (k, k as f64 / steps_per_epoch)).collect()
}

/// The start and the end of a run of `steps` steps, with their epochs: for runs that need only
/// the trained state's record.
pub fn end_marks(steps: usize, steps_per_epoch: f64) -> Vec<(usize, f64)> {
    vec![(0, 0.0), (steps, steps as f64 / steps_per_epoch)]
}

impl<B: AutodiffBackend> Observer<Params<B>> for LearningCurve<B> {
    fn wants(&self, step: usize) -> bool {
        self.marks.binary_search_by_key(&step, |m| m.0).is_ok()
    }
    fn record(&mut self, step: usize, x: &Params<B>, loss: f64) {
        let (test_loss, test_accuracy) = self.test.evaluate(&self.model, &x.tensor);
        let at = self.marks.binary_search_by_key(&step, |m| m.0).expect("wanted steps are marked");
        self.records.push(EpochRecord {
            epoch: self.marks[at].1,
            step,
            train_loss: loss,
            test_loss,
            test_accuracy,
        });
    }
}

/// How to train: the update rule and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainSpec {
    pub eta: f64,
    pub momentum: f64,
    pub integrator: IntegratorKind,
    pub epochs: f64,
    pub seed: u64,
    /// SVAG's amplification `l` (1: the plain oracle). With `l > 1` the rule is SGD at step
    /// `eta / l` on [`Svag`](crate::problems::Svag)'s oracle, `l` steps per SGD step of time.
    pub svag: f64,
}

impl TrainSpec {
    /// SGD at learning rate `eta` with momentum `momentum` (heavy ball when > 0; see
    /// [`IntegratorKind::rule`](crate::integrators::IntegratorKind::rule)).
    pub fn sgd(eta: f64, momentum: f64, epochs: f64, seed: u64) -> Self {
        Self { eta, momentum, integrator: IntegratorKind::Sgd, epochs, seed, svag: 1.0 }
    }
    /// SVAG with amplification `l >= 1` at learning rate `eta` (momentum 0).
    pub fn svag(eta: f64, l: f64, epochs: f64, seed: u64) -> Self {
        Self { svag: l, ..Self::sgd(eta, 0.0, epochs, seed) }
    }
    /// Steps per epoch of `n` examples at batch size `batch` (`l` times SGD's under SVAG).
    pub fn steps_per_epoch(&self, n: usize, batch: usize) -> f64 {
        self.svag * n as f64 / batch as f64
    }
    /// The steps of `epochs` epochs, or the refusal of epochs that round to no step (a run of
    /// no step would report the initial θ as trained).
    pub fn steps(&self, n: usize, batch: usize) -> Result<usize, crate::error::ProblemError> {
        let per_epoch = self.steps_per_epoch(n, batch);
        match (self.epochs * per_epoch).round() as usize {
            0 => Err(too_few_epochs(self.epochs, per_epoch, batch, n)),
            steps => Ok(steps),
        }
    }
    /// The step size of the update rule: `eta`, or `eta / l` under SVAG.
    pub fn step_size(&self) -> f64 {
        self.eta / self.svag
    }
}

/// The refusal of `epochs` that round to no step at `per_epoch` steps per epoch: a run of no
/// step would report the initial θ as trained. One step needs `epochs * per_epoch >= 1/2`.
pub(crate) fn too_few_epochs(
    epochs: f64,
    per_epoch: f64,
    batch: usize,
    n: usize,
) -> crate::error::ProblemError {
    crate::error::ProblemError::new(
        "--epochs",
        epochs,
        format!(">= {:.3e}: at least one step of batch {batch} over {n} examples", 0.5 / per_epoch),
    )
}

/// Why training stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainError {
    Problem(crate::error::ProblemError),
    Diverged(Diverged),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Problem(e) => e.fmt(f),
            Self::Diverged(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for TrainError {}

/// Runs the core solve loop on the network with the chosen integrator (no copy of the rule).
pub fn run<B: AutodiffBackend, O: Observer<Params<B>>>(
    problem: &NetworkProblem<B>,
    theta: &mut Params<B>,
    spec: &TrainSpec,
    steps: usize,
    observer: &mut O,
) -> Result<(), TrainError>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = super::problem::NetNoise>,
{
    run_with(problem, theta, spec, spec.step_size(), steps, observer)
}

/// [`run`] with the step size of each step from a learning-rate schedule: `h[k - 1]` at step `k`,
/// `h.len()` steps (`spec.eta` is not used). With a batch-size schedule as well, `problem`
/// carries it ([`NetworkProblem::with_batch_sizes`]).
pub fn run_scheduled<B: AutodiffBackend, O: Observer<Params<B>>>(
    problem: &NetworkProblem<B>,
    theta: &mut Params<B>,
    spec: &TrainSpec,
    h: &[f64],
    observer: &mut O,
) -> Result<(), TrainError>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = super::problem::NetNoise>,
{
    if spec.svag != 1.0 {
        return Err(TrainError::Problem(crate::error::ProblemError::new(
            "svag",
            spec.svag,
            "1 with a learning-rate schedule (SVAG rescales one constant step size)",
        )));
    }
    run_with(problem, theta, spec, h, h.len(), observer)
}

fn run_with<B: AutodiffBackend, O: Observer<Params<B>>, H: StepSizes>(
    problem: &NetworkProblem<B>,
    theta: &mut Params<B>,
    spec: &TrainSpec,
    h: H,
    steps: usize,
    observer: &mut O,
) -> Result<(), TrainError>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = super::problem::NetNoise>,
{
    spec.integrator.check(spec.momentum, false).map_err(TrainError::Problem)?;
    let rng = crate::rng::stream(spec.seed, 0);
    let task = Solve { theta, h, steps, rng, observer };
    if spec.svag != 1.0 {
        let refuse = |value: String, valid: &str| {
            TrainError::Problem(crate::error::ProblemError::new("svag", value, valid))
        };
        if spec.momentum != 0.0 || spec.integrator != IntegratorKind::Sgd {
            return Err(refuse(
                format!("l = {} with momentum {}", spec.svag, spec.momentum),
                "SGD without momentum under SVAG",
            ));
        }
        if matches!(
            problem.mode,
            super::problem::NoiseMode::Minibatch(crate::problems::Sampling::Reshuffle)
        ) {
            return Err(refuse(
                format!("l = {} with reshuffling", spec.svag),
                "with or without replacement (SVAG's two draws must be independent)",
            ));
        }
        let svag = crate::problems::Svag::new(problem, spec.svag).map_err(TrainError::Problem)?;
        let sgd = crate::integrators::EulerMaruyama::new();
        return crate::integrators::IntegratorTask::run(task, &svag, sgd)
            .map_err(TrainError::Diverged);
    }
    spec.integrator
        .dispatch(problem, spec.momentum, task)
        .map_err(TrainError::Problem)?
        .map_err(TrainError::Diverged)
}

/// The core solve loop as an integrator task.
struct Solve<'a, S, O, H> {
    theta: &'a mut S,
    h: H,
    steps: usize,
    rng: crate::rng::PathRng,
    observer: &'a mut O,
}

impl<S: crate::state::State, P: StochasticProblem<S>, O: Observer<S>, H: StepSizes>
    crate::integrators::IntegratorTask<S, P> for Solve<'_, S, O, H>
{
    type Output = Result<(), Diverged>;
    fn run<I: crate::integrators::Integrator<S, P> + Sync>(
        mut self,
        problem: &P,
        mut integrator: I,
    ) -> Self::Output {
        solve(
            problem,
            &mut integrator,
            self.theta,
            self.h,
            self.steps,
            &mut self.rng,
            self.observer,
        )
    }
}

/// [`run`] with a progress bar over the steps (the bar is hidden under `--quiet`).
pub fn run_shown<B: AutodiffBackend, O: Observer<Params<B>>>(
    problem: &NetworkProblem<B>,
    theta: &mut Params<B>,
    spec: &TrainSpec,
    steps: usize,
    observer: &mut O,
    bar: &indicatif::ProgressBar,
    message: String,
) -> Result<(), TrainError>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = super::problem::NetNoise>,
{
    shown(observer, bar, steps, message, |o| run(problem, theta, spec, steps, o))
}

/// Runs `train` (a run of `steps` steps) with `observer` and a progress bar beside it.
pub fn shown<S, O: Observer<S>, R>(
    observer: &mut O,
    bar: &indicatif::ProgressBar,
    steps: usize,
    message: String,
    train: impl FnOnce(&mut (crate::observers::Progress, O)) -> R,
) -> R {
    let mut both = (crate::observers::Progress::new(bar.clone(), steps, message), observer.clone());
    let result = train(&mut both);
    *observer = both.1;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At N = 2000 and S = 32 (62.5 steps per epoch) the learning curves used to record every
    /// round(62.5) = 63 steps, so the last record of a 20-epoch run (1250 steps) was step 1197,
    /// epoch 19.15: the "final" accuracy was not the trained state's. The marks now fall on the
    /// step nearest each whole epoch and end at the last step.
    #[test]
    fn epoch_marks_fall_on_whole_epochs_and_end_at_the_last_step() {
        let marks = epoch_marks(1250, 62.5);
        assert_eq!(marks.len(), 21);
        for (j, &(k, e)) in marks.iter().enumerate() {
            assert!((k as f64 - 62.5 * j as f64).abs() <= 0.5, "mark {j} at step {k}");
            assert_eq!(e, k as f64 / 62.5);
        }
        assert_eq!(marks.last(), Some(&(1250, 20.0)));
        // A fractional number of epochs: the whole epochs, then the end.
        assert_eq!(epoch_marks(25, 10.0), vec![(0, 0.0), (10, 1.0), (20, 2.0), (25, 2.5)]);
        // Less than an epoch: the start and the end.
        assert_eq!(epoch_marks(62, 125.0), vec![(0, 0.0), (62, 0.496)]);
        // Two batch sizes of one run length: the same epochs, record for record.
        let (a, b) = (epoch_marks(2500, 125.0), epoch_marks(625, 31.25));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x.1 - y.1).abs() <= 0.5 / 31.25 + 1e-12, "epochs {} and {}", x.1, y.1);
        }
        assert_eq!(end_marks(1250, 62.5), vec![(0, 0.0), (1250, 20.0)]);
    }
}
