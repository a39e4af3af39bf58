//! Heavy-ball momentum: `v <- m v - h g(x; xi)`, `x <- x + v`.
//!
//! Per eigenmode an AR(2); stable iff `0 < h lambda < 2(1 + m)`. Its stationary loss is
//! `h/(4(1-m)) sum V'_ii / (1 - h lambda_i / (2(1+m)))` (see `theory::momentum`).

use super::{scratch, Integrator, Order};
use crate::error::ProblemError;
use crate::problems::StochasticProblem;
use crate::state::State;

#[derive(Debug, Clone)]
pub struct HeavyBall<S> {
    momentum: f64,
    velocity: Option<S>,
    g: Option<S>,
}

impl<S> HeavyBall<S> {
    /// Declared convergence orders for additive noise.
    pub const ORDER: Order = Order { strong: 1.0, weak: 1.0, stationary: 1.0 };

    /// Momentum coefficient `0 <= m < 1`.
    pub fn new(m: f64) -> Result<Self, ProblemError> {
        Ok(Self { momentum: crate::error::momentum(m)?, velocity: None, g: None })
    }
    pub fn momentum(&self) -> f64 {
        self.momentum
    }
}

impl<S: State, P: StochasticProblem<S>> Integrator<S, P> for HeavyBall<S> {
    fn name(&self) -> &'static str {
        "heavy_ball"
    }
    /// As a scheme for the SDE with effective step `h/(1-m)`: first order.
    fn order(&self) -> Order {
        Self::ORDER
    }
    #[inline]
    fn step(&mut self, problem: &P, x: &mut S, noise: &P::Noise, h: f64) {
        let g = scratch(&mut self.g, x);
        let v = scratch(&mut self.velocity, x);
        problem.gradient_axpby(x, noise, -h, self.momentum, v, g);
        x.axpy(1.0, v);
    }
    fn reset(&mut self) {
        self.velocity = None;
    }
}
