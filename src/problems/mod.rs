//! Stochastic-gradient problems: a loss plus a noise model.
//!
//! A problem hands an integrator the stochastic gradient `g(x; noise)` for a noise sample that the
//! *driver* drew (a vector of standard normals, or a minibatch). Integrators never draw randomness.

mod dataset;
mod gaussian;
mod quadratic_model;
mod regression;
mod sampling;
mod svag;

pub use dataset::FiniteSumQuadratic;
pub use gaussian::{Frame, GaussianBlockNoise, GaussianNoise, GaussianProblem, PathBlock};
pub(crate) use quadratic_model::f_formula_loss;
pub use quadratic_model::{ModelTheory, Optimum, QuadraticModel, Stability, StabilityRule};
pub use regression::{LinearRegression, RegressionModel};
pub use sampling::{validate as sampling_validate, Batch, Sampling};
pub use svag::{Svag, SvagNoise};

use crate::rng::PathRng;
use crate::state::State;

/// A loss with a stochastic gradient whose randomness is an explicit input.
pub trait StochasticProblem<S: State>: Sync {
    /// One step's randomness (standard normals, a minibatch, ...).
    type Noise: Clone + Send + Sync;
    /// Dimension of the parameter vector.
    fn dim(&self) -> usize;
    /// A noise buffer to be filled by `sample_noise`.
    fn new_noise(&self) -> Self::Noise;
    /// Draws the randomness for one step of size `h` from the path's own stream.
    fn sample_noise(&self, rng: &mut PathRng, h: f64, noise: &mut Self::Noise);
    /// The stochastic gradient `out <- g(x; noise)`, with `E g = grad L(x)`.
    fn gradient(&self, x: &S, noise: &Self::Noise, out: &mut S);
    /// One gradient step `x <- x - h g(x; noise)` (Euler-Maruyama's, SGD's). The default is
    /// `gradient` into `scratch` (a buffer shaped like `x`; its contents afterwards are
    /// unspecified) then `axpy`; a problem may fuse the two passes into one, giving the same bits.
    #[inline]
    fn descend(&self, x: &mut S, noise: &Self::Noise, h: f64, scratch: &mut S) {
        self.gradient(x, noise, scratch);
        x.axpy(-h, scratch);
    }
    /// `descend`, then the `loss` of the updated `x` (for the steps whose loss an observer
    /// wants); a problem may sum the loss in the step's pass, giving the same bits.
    #[inline]
    fn descend_then_loss(&self, x: &mut S, noise: &Self::Noise, h: f64, scratch: &mut S) -> f64 {
        self.descend(x, noise, h, scratch);
        self.loss(x)
    }
    /// Heavy ball's velocity update `v <- b v + a g(x; noise)`. The default is `gradient` into
    /// `scratch` (as in `descend`) then `axpby`; a problem may fuse the two passes, giving the same
    /// bits.
    #[inline]
    fn gradient_axpby(
        &self,
        x: &S,
        noise: &Self::Noise,
        a: f64,
        b: f64,
        v: &mut S,
        scratch: &mut S,
    ) {
        self.gradient(x, noise, scratch);
        v.axpby(a, scratch, b);
    }
    /// The excess loss `L(x) - L(x*)` of the mean objective (the quantity the theory predicts).
    fn loss(&self, x: &S) -> f64;
}
