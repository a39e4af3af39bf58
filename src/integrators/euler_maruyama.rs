//! Euler-Maruyama: `x <- x - h g(x; xi)`. At `h = eta` this is SGD: with Gaussian noise it is the
//! SDE's EM scheme, on a data-set problem it is true minibatch SGD.

use super::{scratch, Integrator, Order};
use crate::problems::StochasticProblem;
use crate::state::State;

#[derive(Debug, Clone, Default)]
pub struct EulerMaruyama<S> {
    g: Option<S>,
}

impl<S> EulerMaruyama<S> {
    /// Declared convergence orders for additive noise.
    pub const ORDER: Order = Order { strong: 1.0, weak: 1.0, stationary: 1.0 };

    pub fn new() -> Self {
        Self { g: None }
    }
}

impl<S: State, P: StochasticProblem<S>> Integrator<S, P> for EulerMaruyama<S> {
    fn name(&self) -> &'static str {
        "euler_maruyama"
    }
    fn order(&self) -> Order {
        Self::ORDER
    }
    // Inlined down to the problem's kernel: on W (d = 100) the calls between the solve loop and
    // the kernels cost about 7% of the run (BENCHMARKS.md, 2026-12-07 late evening).
    #[inline(always)]
    fn step(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64) {
        let g = scratch(&mut self.g, x);
        problem.descend(x, noise, h, g);
    }
    #[inline(always)]
    fn step_then_loss(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64) -> f64 {
        let g = scratch(&mut self.g, x);
        problem.descend_then_loss(x, noise, h, g)
    }
}
