//! What every quadratic model (Gaussian noise, a finite data set, linear regression) tells the
//! rest of the toolkit: its size and sampling, its stability rule, its exact theory and its
//! transients. `scenario.rs` asks these questions through [`QuadraticModel`] and never matches on
//! the model, so a new model is one file: its problem, its `StochasticProblem` and this trait.

use crate::integrators::{ExactLaw, IntegratorKind};
use crate::problems::Sampling;
use crate::theory::{self, Modes};
use nalgebra::DMatrix;

/// Which condition bounds the learning rate, with what it needs to be stated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StabilityRule {
    /// Linear noise-free dynamics per eigenmode: `eta lambda_max < 2`.
    Sgd,
    /// Heavy ball per eigenmode: `eta lambda_max < 2(1 + m)`.
    HeavyBall { momentum: f64 },
    /// Multiplicative noise: the spectral radius of the second-moment map (of `(e_k, e_{k-1})`
    /// with momentum) must be below 1.
    MeanSquare { momentum: f64 },
}

impl StabilityRule {
    /// The rule in words, as `sgd-sde theory` prints it.
    pub fn describe(&self) -> String {
        match self {
            Self::Sgd => "eta*lambda_max < 2".into(),
            Self::HeavyBall { momentum } => {
                format!("eta*lambda_max < 2(1+m) = {:.4}", 2.0 * (1.0 + momentum))
            }
            Self::MeanSquare { momentum } if *momentum > 0.0 => format!(
                "mean-square, heavy ball m = {momentum}: spectral radius of the second-moment map of (e_k, e_k-1) < 1"
            ),
            Self::MeanSquare { .. } => {
                "mean-square: spectral radius of the second-moment map < 1".into()
            }
        }
    }

    /// The broken limit as a divergence message quotes it.
    pub fn limit_phrase(&self, limit: f64) -> String {
        match self {
            Self::Sgd => "2".into(),
            Self::HeavyBall { momentum } => format!("2(1+m) = {:.4}", 2.0 * (1.0 + momentum)),
            Self::MeanSquare { .. } => format!("eta < {limit:.4e}, mean-square"),
        }
    }
}

/// The largest stable eta and the rule that sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stability {
    pub limit: f64,
    pub rule: StabilityRule,
}

impl Stability {
    /// The rule for a model whose every mode is a linear (possibly heavy-ball) recursion.
    pub fn linear(lambda_max: f64, momentum: f64) -> Self {
        if momentum > 0.0 {
            Self {
                limit: theory::momentum_limit(lambda_max, momentum),
                rule: StabilityRule::HeavyBall { momentum },
            }
        } else {
            Self { limit: theory::sgd_limit(lambda_max), rule: StabilityRule::Sgd }
        }
    }
}

/// A model's exact stationary theory at one (eta, S, m).
#[derive(Debug, Clone)]
pub struct ModelTheory {
    /// `(lambda_i, C'_ii)`: the Hessian's eigenvalues and the one-example gradient covariance's
    /// diagonal in its eigenbasis (the continuous law uses `Σ C'_ii`).
    pub modes: Modes,
    /// The finite-N factor in `V = f C` (None where it does not apply).
    pub f: Option<f64>,
    /// The exact stationary loss of the discrete process (None when unstable or unknown).
    pub discrete: Option<f64>,
    /// The stationary covariance of `x - x*` in the original coordinates (small models).
    pub covariance: Option<DMatrix<f64>>,
    pub trace_h: f64,
    pub note: String,
}

/// `theta*` in the original coordinates and `l_min = l(theta*)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Optimum {
    pub theta_star: Vec<f64>,
    pub l_min: f64,
}

/// The questions the scenario, the CLI and the suites ask of a quadratic model.
pub trait QuadraticModel: Sync {
    /// `gaussian`, `dataset` or `regression`.
    fn name(&self) -> &'static str;
    fn dim(&self) -> usize;
    /// The minibatch sampling (None for Gaussian noise).
    fn sampling(&self) -> Option<Sampling>;
    /// The number of examples (None for Gaussian noise).
    fn n(&self) -> Option<usize>;
    /// `lambda_max` of the Hessian of the mean loss.
    fn lambda_max(&self) -> f64;
    /// The stability limit on eta at momentum `m`.
    fn stability(&self, momentum: f64) -> Stability {
        Stability::linear(self.lambda_max(), momentum)
    }
    /// A start point given in the file's coordinates, in the simulation's.
    fn to_simulation_frame(&self, x0: &[f64]) -> Vec<f64>;
    /// The minimiser of the mean loss and the loss there (the losses reported are excess losses
    /// `l(theta) - l_min`, and a file's `x0` is relative to `theta*`).
    fn optimum(&self) -> Optimum;
    /// The exact stationary theory.
    fn theory(&self, eta: f64, batch: usize, momentum: f64) -> ModelTheory;
    /// The exact mean loss after `k` steps from `x0` (simulation coordinates) for this
    /// integrator, and whether it is exact (`false`: the continuous law at `t = k eta`).
    fn transient(
        &self,
        kind: IntegratorKind,
        eta: f64,
        batch: usize,
        momentum: f64,
        x0: &[f64],
        k: usize,
    ) -> Option<(f64, bool)>;
    /// The slowest per-step contraction of the mean (or second moment) at this eta (>= 1:
    /// no contraction).
    fn contraction(&self, eta: f64, momentum: f64) -> f64;
    /// The modes the `V = f C` formulas act on (None where C is not constant, as in regression).
    fn f_formula_modes(&self) -> Option<Modes>;
}

/// The stationary loss of a linear model with `V = f C`: SGD or heavy ball.
pub(crate) fn f_formula_loss(
    modes: &Modes,
    eta: f64,
    momentum: f64,
    f: f64,
) -> Result<f64, crate::error::ProblemError> {
    if momentum > 0.0 {
        theory::momentum::stationary_loss(modes, eta, momentum, f)
    } else {
        theory::sgd::stationary_loss(modes, eta, f)
    }
}

/// The transient of a linear model with `V = f C`, per integrator: exact for SGD, heavy ball and
/// the exact OU transition, the continuous law (not exact) for Heun and Leimkuhler-Matthews.
pub(crate) fn f_formula_transient(
    modes: &Modes,
    f: f64,
    kind: IntegratorKind,
    eta: f64,
    momentum: f64,
    x0: &[f64],
    k: usize,
) -> Option<(f64, bool)> {
    match kind.transient_law() {
        ExactLaw::Discrete if momentum > 0.0 => {
            Some((theory::momentum::transient_loss(modes, x0, eta, momentum, f, k), true))
        }
        ExactLaw::Discrete => Some((theory::sgd::transient_loss(modes, x0, eta, f, k), true)),
        ExactLaw::Continuous { exact } => {
            Some((theory::ou::transient_loss(modes, x0, eta, f, k as f64 * eta), exact))
        }
    }
}

/// The slowest heavy-ball (or SGD, m = 0) contraction over the given eigenvalues.
pub(crate) fn linear_contraction(eigenvalues: &[f64], eta: f64, momentum: f64) -> f64 {
    eigenvalues
        .iter()
        .map(|&l| theory::momentum::contraction(eta * l, momentum))
        .fold(0.0, f64::max)
}
