//! Leimkuhler-Matthews (the "BAOAB limit" method): `x <- x - h/2 (g(x; xi_k) + g(x; xi_{k+1}))`,
//! i.e. drift at `x_k` plus the mean of two consecutive noise samples. Weak order 1 on finite
//! time but order 2 in the invariant measure; for a quadratic with additive noise it gets every
//! mode's stationary variance, hence the stationary loss, exactly, for any stable `h`.
//! The first step of a path has no previous sample and is an Euler-Maruyama step.

use super::{scratch, Integrator, Order};
use crate::problems::StochasticProblem;
use crate::state::State;

#[derive(Debug, Clone)]
pub struct LeimkuhlerMatthews<S, N> {
    previous: Option<N>,
    g1: Option<S>,
    g2: Option<S>,
}

impl<S, N> LeimkuhlerMatthews<S, N> {
    /// Declared convergence orders for additive noise.
    pub const ORDER: Order = Order { strong: 0.5, weak: 1.0, stationary: 2.0 };

    pub fn new() -> Self {
        Self { previous: None, g1: None, g2: None }
    }
}

impl<S, N> Default for LeimkuhlerMatthews<S, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: State, P: StochasticProblem<S>> Integrator<S, P> for LeimkuhlerMatthews<S, P::Noise> {
    fn name(&self) -> &'static str {
        "leimkuhler_matthews"
    }
    fn order(&self) -> Order {
        Self::ORDER
    }
    #[inline]
    fn step(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64) {
        let g1 = scratch(&mut self.g1, x);
        problem.gradient(x, noise, g1);
        match &mut self.previous {
            None => {
                x.axpy(-h, g1);
                self.previous = Some(noise.clone());
            }
            Some(prev) => {
                let g2 = scratch(&mut self.g2, x);
                problem.gradient(x, prev, g2);
                x.axpy(-0.5 * h, g1);
                x.axpy(-0.5 * h, g2);
                prev.clone_from(noise);
            }
        }
    }
    fn reset(&mut self) {
        self.previous = None;
    }
}
