//! Nudged SGD (Jastrzebski et al., "On the relation between the sharpest directions of DNN loss
//! and the SGD step length", ICLR 2019, Sec. 5): the stochastic gradient with its component in a
//! k-dimensional subspace rescaled by `gamma`,
//!
//! `g_nudged = g + (gamma - 1) U U^T g`,
//!
//! with `U` (d x k, orthonormal columns) the top-k Hessian eigenvectors, refreshed by the driver
//! every so often. So SGD on this problem steps `eta gamma` along the sharpest directions and
//! `eta` elsewhere; `gamma = 1` is plain SGD. A problem, not an integrator: any update rule steps
//! it, and the noise (the minibatch) is the inner problem's.

use super::params::Params;
use super::problem::{NetNoise, NetworkProblem};
use crate::problems::StochasticProblem;
use crate::rng::PathRng;
use crate::state::State;
use burn::tensor::backend::AutodiffBackend;

/// A network problem whose gradient is nudged along `directions` by `gamma`.
#[derive(Debug, Clone)]
pub struct Nudged<'a, B: AutodiffBackend> {
    pub inner: &'a NetworkProblem<B>,
    /// Orthonormal directions (the columns of `U`).
    pub directions: Vec<Params<B>>,
    pub gamma: f64,
}

impl<B: AutodiffBackend> StochasticProblem<Params<B>> for Nudged<'_, B>
where
    NetworkProblem<B>: StochasticProblem<Params<B>, Noise = NetNoise>,
{
    type Noise = NetNoise;

    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn new_noise(&self) -> NetNoise {
        self.inner.new_noise()
    }
    fn sample_noise(&self, rng: &mut PathRng, h: f64, noise: &mut NetNoise) {
        self.inner.sample_noise(rng, h, noise)
    }
    fn gradient(&self, x: &Params<B>, noise: &NetNoise, out: &mut Params<B>) {
        self.inner.gradient(x, noise, out);
        if self.gamma != 1.0 {
            // The projections all come from the un-nudged g (U's columns are orthonormal).
            let coefficients: Vec<f64> = self.directions.iter().map(|u| u.dot(out)).collect();
            for (u, c) in self.directions.iter().zip(coefficients) {
                out.axpy((self.gamma - 1.0) * c, u);
            }
        }
    }
    fn loss(&self, x: &Params<B>) -> f64 {
        self.inner.loss(x)
    }
}

/// `k` orthonormal directions in `d` dimensions from Gaussian draws: the random subspace of the
/// negative control.
pub fn random_orthonormal(d: usize, k: usize, rng: &mut PathRng) -> Vec<Vec<f64>> {
    let draws: Vec<Vec<f64>> = (0..k.min(d))
        .map(|_| {
            let mut v = vec![0.0; d];
            crate::rng::fill_normals(rng, &mut v);
            v
        })
        .collect();
    orthonormalise(draws)
}

/// Gram-Schmidt (each vector twice, for accuracy); vectors that are (nearly) dependent on the
/// earlier ones are dropped.
pub fn orthonormalise(vectors: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(vectors.len());
    for mut v in vectors {
        let before = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        for _ in 0..2 {
            for b in &basis {
                let c: f64 = v.iter().zip(b).map(|(x, y)| x * y).sum();
                v.iter_mut().zip(b).for_each(|(x, y)| *x -= c * y);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-8 * before {
            v.iter_mut().for_each(|x| *x /= norm);
            basis.push(v);
        }
    }
    basis
}
