//! SVAG, the stochastic variance amplified gradient (Li, Malladi & Arora 2021), as a gradient
//! oracle built from two independent draws of another problem's oracle:
//!
//! `g_l(x) = (1 + s)/2 g(x; xi_1) + (1 - s)/2 g(x; xi_2)`, `s = sqrt(2 l - 1)`, `l >= 1`.
//!
//! Invariants: `E g_l = grad L` and `Cov g_l = l Cov g` (the weights sum to 1 and their squares
//! sum to `l`). Stepped by SGD at `h = eta / l`, `l` steps carry the drift of one SGD step
//! (`l h = eta`) and its noise variance (`l h^2 l Sigma = eta^2 Sigma`): the time `t = k h` is
//! SGD's, and as `l -> infinity` the iterates converge weakly to the SDE
//! `dX = -grad L dt + sqrt(eta Sigma) dW` with an error of first order in `1/l`, whatever the
//! noise's law (minibatches, not only Gaussians). `l = 1` is SGD itself.
//!
//! The inner oracle is always asked for the noise of SGD at step `eta = l h`, so a Gaussian
//! problem (whose noise is scaled by its step) supplies SGD's gradient noise, not the SDE's.

use super::StochasticProblem;
use crate::error::ProblemError;
use crate::rng::PathRng;
use crate::state::State;
use std::sync::Mutex;

/// The SVAG oracle of `inner` with amplification `l`.
#[derive(Debug)]
pub struct Svag<'a, P> {
    inner: &'a P,
    l: f64,
    weights: (f64, f64),
}

impl<'a, P> Svag<'a, P> {
    /// `l >= 1` (finite); `l = 1` gives SGD's oracle back.
    pub fn new(inner: &'a P, l: f64) -> Result<Self, ProblemError> {
        if !(l.is_finite() && l >= 1.0) {
            return Err(ProblemError::new("l", l, "l >= 1 (finite)"));
        }
        let s = (2.0 * l - 1.0).sqrt();
        Ok(Self { inner, l, weights: ((1.0 + s) / 2.0, (1.0 - s) / 2.0) })
    }
    pub fn l(&self) -> f64 {
        self.l
    }
    /// The weights `((1 + s)/2, (1 - s)/2)` of the two draws.
    pub fn weights(&self) -> (f64, f64) {
        self.weights
    }
}

/// Two independent draws of the inner noise, and a scratch vector for the second gradient (each
/// path owns its noise, so the lock is never contended).
#[derive(Debug)]
pub struct SvagNoise<N, S> {
    pub first: N,
    pub second: N,
    scratch: Mutex<Option<S>>,
}

impl<N: Clone, S> Clone for SvagNoise<N, S> {
    fn clone(&self) -> Self {
        Self { first: self.first.clone(), second: self.second.clone(), scratch: Mutex::new(None) }
    }
}

impl<S: State + Sync, P: StochasticProblem<S>> StochasticProblem<S> for Svag<'_, P> {
    type Noise = SvagNoise<P::Noise, S>;

    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn new_noise(&self) -> Self::Noise {
        SvagNoise {
            first: self.inner.new_noise(),
            second: self.inner.new_noise(),
            scratch: Mutex::new(None),
        }
    }
    /// Both draws are SGD's noise at step `l h`, first then second, from the path's stream.
    fn sample_noise(&self, rng: &mut PathRng, h: f64, noise: &mut Self::Noise) {
        self.inner.sample_noise(rng, self.l * h, &mut noise.first);
        self.inner.sample_noise(rng, self.l * h, &mut noise.second);
    }
    fn gradient(&self, x: &S, noise: &Self::Noise, out: &mut S) {
        self.inner.gradient(x, &noise.first, out);
        let (a, b) = self.weights;
        if b == 0.0 {
            return;
        }
        let mut slot = noise.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let g2 = crate::integrators::scratch(&mut *slot, x);
        self.inner.gradient(x, &noise.second, g2);
        out.axpby(b, g2, a);
    }
    fn loss(&self, x: &S) -> f64 {
        self.inner.loss(x)
    }
}
