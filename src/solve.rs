//! The one solve loop: draw noise, step, observe, check for divergence.

use crate::integrators::Integrator;
use crate::observers::Observer;
use crate::problems::StochasticProblem;
use crate::rng::PathRng;
use crate::state::State;
use std::fmt;

/// Loss above which a path counts as diverged (besides NaN and infinity).
pub const DIVERGED_LOSS: f64 = 1e100;
/// The state is checked for divergence (a non-finite coordinate) at least this often, even when
/// no observer wants the loss; a wanted loss is checked every time it is computed.
pub const DIVERGENCE_CHECK_EVERY: usize = 64;

/// A path whose loss became non-finite or exceeded [`DIVERGED_LOSS`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diverged {
    pub step: usize,
    pub loss: f64,
}

impl fmt::Display for Diverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.loss.is_nan() {
            write!(f, "diverged at step {} (non-finite parameters)", self.step)
        } else {
            write!(f, "diverged at step {} (loss = {:.3e})", self.step, self.loss)
        }
    }
}

impl std::error::Error for Diverged {}

/// The step size of each step: a constant `f64`, or a table `&[f64]` with `h[k - 1]` for step `k`
/// (a learning-rate schedule's [`StepPlan`](crate::schedule::StepPlan)).
pub trait StepSizes: Copy {
    /// The size of step `k >= 1`.
    fn at(self, k: usize) -> f64;
}

impl StepSizes for f64 {
    #[inline]
    fn at(self, _k: usize) -> f64 {
        self
    }
}

impl StepSizes for &[f64] {
    #[inline]
    fn at(self, k: usize) -> f64 {
        self[k - 1]
    }
}

/// Runs `steps` steps of size `h` (one size, or one per step) from `x` (step 0 is the initial point), feeding `observer` the
/// state and loss at the steps it wants. Stops at the first divergence (a wanted loss that is not
/// finite or exceeds [`DIVERGED_LOSS`], or a non-finite state); the observer keeps what it saw.
pub fn solve<S, P, I, O, H>(
    problem: &P,
    integrator: &mut I,
    x: &mut S,
    h: H,
    steps: usize,
    rng: &mut PathRng,
    observer: &mut O,
) -> Result<(), Diverged>
where
    S: State,
    P: StochasticProblem<S>,
    I: Integrator<S, P>,
    O: Observer<S>,
    H: StepSizes,
{
    let mut noise = problem.new_noise();
    integrator.reset();
    for k in 0..=steps {
        let wants_loss = observer.wants(k) && observer.needs_loss(k);
        let mut loss = None;
        if k > 0 {
            let h = h.at(k);
            problem.sample_noise(rng, h, &mut noise);
            if wants_loss {
                loss = Some(integrator.step_then_loss(problem, x, &noise, h));
            } else {
                integrator.step(problem, x, &noise, h);
            }
        }
        if wants_loss {
            let loss = loss.unwrap_or_else(|| problem.loss(x));
            if !(loss.is_finite() && loss < DIVERGED_LOSS) {
                return Err(Diverged { step: k, loss });
            }
            observer.record(k, x, loss);
        } else if observer.wants(k) {
            observer.record(k, x, f64::NAN);
        }
        if (k % DIVERGENCE_CHECK_EVERY == 0 || k == steps) && !x.is_finite() {
            return Err(Diverged { step: k, loss: f64::NAN });
        }
    }
    Ok(())
}
