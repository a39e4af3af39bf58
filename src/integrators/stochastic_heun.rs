//! Stochastic Heun for additive noise: predictor `x~ = x - h g(x; xi)`, corrector
//! `x <- x - h/2 (g(x; xi) + g(x~; xi))` with the same noise. Weak order 2 for additive noise.

use super::{scratch, Integrator, Order};
use crate::problems::StochasticProblem;
use crate::state::State;

#[derive(Debug, Clone, Default)]
pub struct StochasticHeun<S> {
    g1: Option<S>,
    g2: Option<S>,
    predictor: Option<S>,
}

impl<S> StochasticHeun<S> {
    /// Declared convergence orders for additive noise.
    pub const ORDER: Order = Order { strong: 1.0, weak: 2.0, stationary: 2.0 };

    pub fn new() -> Self {
        Self { g1: None, g2: None, predictor: None }
    }
}

impl<S: State, P: StochasticProblem<S>> Integrator<S, P> for StochasticHeun<S> {
    fn name(&self) -> &'static str {
        "stochastic_heun"
    }
    fn order(&self) -> Order {
        Self::ORDER
    }
    #[inline]
    fn step(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64) {
        let g1 = scratch(&mut self.g1, x);
        problem.gradient(x, noise, g1);
        let p = scratch(&mut self.predictor, x);
        p.copy_from(x);
        p.axpy(-h, g1);
        let g2 = scratch(&mut self.g2, x);
        problem.gradient(p, noise, g2);
        x.axpy(-0.5 * h, g1);
        x.axpy(-0.5 * h, g2);
    }
}
