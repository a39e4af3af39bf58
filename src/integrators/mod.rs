//! Integrators: update rules that receive each step's noise and never draw it.
//!
//! Every rule is written against [`State`] and [`StochasticProblem`], so the same code steps a
//! quadratic's `Vec<f64>` and a network's parameters. Feeding the same noise to different rules
//! (or to nested step sizes) couples them, which is how the order tests work.

mod choice;
mod euler_maruyama;
mod exact_ou;
mod heavy_ball;
mod leimkuhler_matthews;
mod stochastic_heun;

pub use choice::{ExactLaw, ExactOuSupport, IntegratorKind, IntegratorTask, Rule, Support};
pub use euler_maruyama::EulerMaruyama;
pub use exact_ou::ExactOu;
pub use heavy_ball::HeavyBall;
pub use leimkuhler_matthews::LeimkuhlerMatthews;
pub use stochastic_heun::StochasticHeun;

use crate::problems::StochasticProblem;
use crate::state::State;

/// Convergence orders for additive noise, as `h -> 0` (`f64::INFINITY` = no discretisation error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Strong order: `E|X_h(T) - X(T)| = O(h^strong)`.
    pub strong: f64,
    /// Weak order on finite time: `|E f(X_h(T)) - E f(X(T))| = O(h^weak)`.
    pub weak: f64,
    /// Weak order of the invariant measure: `|E_h f - E f| = O(h^stationary)` at stationarity.
    pub stationary: f64,
}

/// One step of an update rule. `reset` starts a fresh path (clears momentum and history).
pub trait Integrator<S: State, P: StochasticProblem<S>>: Clone + Send {
    fn name(&self) -> &'static str;
    /// The declared orders (each rule's `ORDER` constant, also read by [`IntegratorKind::order`]).
    fn order(&self) -> Order;
    /// Advances `x` by one step of size `h`, using the given noise sample.
    fn step(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64);
    /// `step`, then the problem's loss at the new `x` (for the steps whose loss an observer
    /// wants); a rule whose step ends in one `descend` lets the problem sum the loss in that pass.
    #[inline]
    fn step_then_loss(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64) -> f64 {
        self.step(problem, x, noise, h);
        problem.loss(x)
    }
    fn reset(&mut self) {}
}

/// A scratch buffer shaped like `x`, allocated on first use.
#[inline]
pub(crate) fn scratch<'a, S: State>(slot: &'a mut Option<S>, like: &S) -> &'a mut S {
    slot.get_or_insert_with(|| like.zeros_like())
}
