//! The one place that maps an integrator's name to its type: parsing, the name it reports, its
//! declared orders, which problems it supports, and the construction of the concrete rule.
//!
//! Callers never match on [`IntegratorKind`] to build a rule. They write what they want done with
//! *some* integrator as an [`IntegratorTask`] and hand it to [`IntegratorKind::dispatch`], so an
//! added integrator touches this file (and its own), nothing else.
//!
//! Momentum is a property of the optimizer, not of the rule's name: `sgd` with
//! `optimizer.momentum = m > 0` *is* SGD with momentum, which is the heavy-ball recursion
//! `v <- m v - h g, x <- x + v` (PyTorch's `SGD(momentum = m)` with dampening 0, up to the
//! `eta` scaling of `v`). [`IntegratorKind::rule`] states that resolution, once.

use super::{
    EulerMaruyama, ExactOu, HeavyBall, Integrator, LeimkuhlerMatthews, Order, StochasticHeun,
};
use crate::error::ProblemError;
use crate::problems::{FiniteSumQuadratic, GaussianProblem, LinearRegression, StochasticProblem};
use crate::state::State;
use serde::{Deserialize, Serialize};

/// Which update rule a simulation uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegratorKind {
    /// Euler-Maruyama, i.e. SGD; with momentum > 0 the heavy-ball recursion (see [`Self::rule`]).
    #[default]
    Sgd,
    HeavyBall,
    StochasticHeun,
    LeimkuhlerMatthews,
    ExactOu,
}

/// What one integrator kind needs from the problem it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Any stochastic problem, with or without momentum.
    WithMomentum,
    /// Any stochastic problem, momentum 0 only.
    NoMomentum,
    /// Additive Gaussian noise on a quadratic only (the exact OU transition), momentum 0.
    GaussianNoiseOnly,
}

/// Something to do with a concrete integrator, written once for all of them.
pub trait IntegratorTask<S: State, P: StochasticProblem<S>> {
    type Output;
    fn run<I: Integrator<S, P> + Sync>(self, problem: &P, integrator: I) -> Self::Output;
}

/// Problems on which the exact OU transition is defined. Only Gaussian-noise quadratics run it;
/// every other problem says so with an empty impl (below), so a dispatch can name it.
pub trait ExactOuSupport<S: State>: StochasticProblem<S> + Sized {
    /// Runs the task with [`ExactOu`], or `None` when this problem has no exact OU transition.
    fn with_exact_ou<T: IntegratorTask<S, Self>>(&self, _task: T) -> Option<T::Output> {
        None
    }
}

impl ExactOuSupport<Vec<f64>> for GaussianProblem {
    fn with_exact_ou<T: IntegratorTask<Vec<f64>, Self>>(&self, task: T) -> Option<T::Output> {
        Some(task.run(self, ExactOu::new()))
    }
}
impl ExactOuSupport<Vec<f64>> for FiniteSumQuadratic {}
impl ExactOuSupport<Vec<f64>> for LinearRegression {}
impl ExactOuSupport<Vec<f64>> for crate::problems::RegressionModel {}
impl<B: burn::tensor::backend::AutodiffBackend> ExactOuSupport<crate::net::Params<B>>
    for crate::net::NetworkProblem<B>
{
}

/// Which exact law a rule's iterates follow on a quadratic with additive Gaussian noise: what the
/// theory modules can predict for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactLaw {
    /// The discrete recursion itself (SGD, heavy ball): the exact discrete theory.
    Discrete,
    /// The continuous OU process; `exact: false` when the rule only approximates it.
    Continuous { exact: bool },
}

/// A concrete rule after momentum is taken into account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    EulerMaruyama,
    HeavyBall(f64),
    StochasticHeun,
    LeimkuhlerMatthews,
    ExactOu,
}

impl IntegratorKind {
    /// Every kind, in the order the CLI lists them.
    pub const ALL: [Self; 5] =
        [Self::Sgd, Self::HeavyBall, Self::StochasticHeun, Self::LeimkuhlerMatthews, Self::ExactOu];

    /// Parses a name as the user writes it (`--integrator`, `integrator = "..."`).
    pub fn parse(name: &str) -> Result<Self, ProblemError> {
        match name {
            "sgd" | "em" | "euler_maruyama" => Ok(Self::Sgd),
            "heavy_ball" | "momentum" => Ok(Self::HeavyBall),
            "heun" | "stochastic_heun" => Ok(Self::StochasticHeun),
            "lm" | "leimkuhler_matthews" => Ok(Self::LeimkuhlerMatthews),
            "exact_ou" | "ou" => Ok(Self::ExactOu),
            _ => Err(ProblemError::new(
                "integrator",
                name,
                "one of sgd (em), heavy_ball, heun, lm, exact_ou",
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::HeavyBall => "heavy_ball",
            Self::StochasticHeun => "stochastic_heun",
            Self::LeimkuhlerMatthews => "leimkuhler_matthews",
            Self::ExactOu => "exact_ou",
        }
    }

    /// The declared orders, read from the rule's own constant (never repeated elsewhere).
    pub fn order(self) -> Order {
        match self {
            Self::Sgd => EulerMaruyama::<Vec<f64>>::ORDER,
            Self::HeavyBall => HeavyBall::<Vec<f64>>::ORDER,
            Self::StochasticHeun => StochasticHeun::<Vec<f64>>::ORDER,
            Self::LeimkuhlerMatthews => LeimkuhlerMatthews::<Vec<f64>, ()>::ORDER,
            Self::ExactOu => ExactOu::ORDER,
        }
    }

    /// Which problems and optimizers the kind runs on.
    pub fn support(self) -> Support {
        match self {
            Self::Sgd | Self::HeavyBall => Support::WithMomentum,
            Self::StochasticHeun | Self::LeimkuhlerMatthews => Support::NoMomentum,
            Self::ExactOu => Support::GaussianNoiseOnly,
        }
    }

    /// Whether the kind is a discretisation of the SDE `dx = -grad L dt + sqrt(eta f C) dW` (the
    /// rules whose weak order is measured); heavy ball is a second-order-in-time recursion.
    pub fn is_sde_scheme(self) -> bool {
        self != Self::HeavyBall
    }

    /// The law of the stationary distribution on additive Gaussian noise, where one is exact:
    /// exact OU has no discretisation error and Leimkuhler-Matthews samples the OU invariant
    /// measure exactly on quadratics; Heun's O(h^2) stationary bias is not derived (None).
    pub fn stationary_law(self) -> Option<ExactLaw> {
        match self {
            Self::Sgd | Self::HeavyBall => Some(ExactLaw::Discrete),
            Self::ExactOu | Self::LeimkuhlerMatthews => Some(ExactLaw::Continuous { exact: true }),
            Self::StochasticHeun => None,
        }
    }

    /// The law of the transient (the mean loss after k steps) on additive Gaussian noise.
    pub fn transient_law(self) -> ExactLaw {
        match self {
            Self::Sgd | Self::HeavyBall => ExactLaw::Discrete,
            Self::ExactOu => ExactLaw::Continuous { exact: true },
            Self::StochasticHeun | Self::LeimkuhlerMatthews => {
                ExactLaw::Continuous { exact: false }
            }
        }
    }

    /// Refuses a kind on a problem it does not support, naming the field and the valid choices.
    pub fn check(self, momentum: f64, gaussian_noise: bool) -> Result<(), ProblemError> {
        match self.support() {
            Support::WithMomentum => Ok(()),
            Support::GaussianNoiseOnly if !gaussian_noise => Err(ProblemError::new(
                "integrator",
                self.name(),
                "sgd, heavy_ball, heun or lm for data-set, regression and network models (exact_ou needs Gaussian noise)",
            )),
            _ if momentum > 0.0 => Err(ProblemError::new(
                "integrator",
                self.name(),
                format!("sgd or heavy_ball when optimizer.momentum = {momentum} > 0"),
            )),
            _ => Ok(()),
        }
    }

    /// The concrete rule for this kind at momentum `m`: `sgd` at `m > 0` is heavy ball.
    pub fn rule(self, momentum: f64) -> Rule {
        match self {
            Self::Sgd if momentum == 0.0 => Rule::EulerMaruyama,
            Self::Sgd | Self::HeavyBall => Rule::HeavyBall(momentum),
            Self::StochasticHeun => Rule::StochasticHeun,
            Self::LeimkuhlerMatthews => Rule::LeimkuhlerMatthews,
            Self::ExactOu => Rule::ExactOu,
        }
    }

    /// Builds the rule and runs `task` with it on `problem`.
    pub fn dispatch<S, P, T>(
        self,
        problem: &P,
        momentum: f64,
        task: T,
    ) -> Result<T::Output, ProblemError>
    where
        S: State + Sync,
        P: ExactOuSupport<S>,
        T: IntegratorTask<S, P>,
    {
        Ok(match self.rule(momentum) {
            Rule::EulerMaruyama => task.run(problem, EulerMaruyama::new()),
            Rule::HeavyBall(m) => task.run(problem, HeavyBall::new(m)?),
            Rule::StochasticHeun => task.run(problem, StochasticHeun::new()),
            Rule::LeimkuhlerMatthews => task.run(problem, LeimkuhlerMatthews::new()),
            Rule::ExactOu => problem.with_exact_ou(task).ok_or_else(|| {
                ProblemError::new("integrator", "exact_ou", "a Gaussian-noise model")
            })?,
        })
    }
}
