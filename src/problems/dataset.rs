//! A finite data set of per-example quadratics `l_n = 1/2 (theta - c_n)^T H (theta - c_n)`.
//!
//! The minibatch gradient is `H (theta - mean_B c)`: true minibatch SGD. Its noise does not depend
//! on theta, so the second moment follows the Gaussian theory with `V = f C_pop`,
//! `C_pop = H Cov_n(c) H` (population-normalised). Simulated in H's eigenbasis, relative to the
//! minimiser `mean_n c_n`, which leaves the law of the loss unchanged.

use super::quadratic_model::{
    f_formula_loss, f_formula_transient, linear_contraction, ModelTheory, Optimum, QuadraticModel,
};
use super::sampling::{self, Batch, Sampling};
use super::StochasticProblem;
use crate::error::{ensure, ProblemError};
use crate::integrators::IntegratorKind;
use crate::rng::PathRng;
use crate::spd::SpdMatrix;
use crate::theory::{self, Modes};
use nalgebra::{DMatrix, DVector};

#[derive(Debug, Clone)]
pub struct FiniteSumQuadratic {
    hessian: SpdMatrix,
    lambda: Vec<f64>,
    /// Centres in eigen-coordinates minus their mean; row-major, N x d.
    centred: Vec<f64>,
    /// `mean_n c_n` in the original coordinates: the minimiser.
    theta_star: Vec<f64>,
    n: usize,
    batch: usize,
    sampling: Sampling,
}

impl FiniteSumQuadratic {
    /// `centers[n]` is `c_n` in the original coordinates.
    pub fn new(
        hessian: SpdMatrix,
        centers: &[Vec<f64>],
        batch: usize,
        sampling: Sampling,
    ) -> Result<Self, ProblemError> {
        let d = hessian.dim();
        let n = centers.len();
        sampling::validate(n, batch, sampling)?;
        for (i, c) in centers.iter().enumerate() {
            ensure(c.len() == d, || {
                ProblemError::new(
                    format!("centers[{i}]"),
                    format!("length {}", c.len()),
                    format!("length {d} (the dimension of H)"),
                )
            })?;
            ensure(c.iter().all(|v| v.is_finite()), || {
                ProblemError::new(
                    format!("centers[{i}]"),
                    "a vector with NaN or infinite entries",
                    "finite entries",
                )
            })?;
        }
        let rotated: Vec<Vec<f64>> =
            centers.iter().map(|c| hessian.to_eigen_coordinates(c)).collect();
        let mut mean = vec![0.0; d];
        for c in &rotated {
            for (m, v) in mean.iter_mut().zip(c) {
                *m += v / n as f64;
            }
        }
        let centred = rotated
            .iter()
            .flat_map(|c| c.iter().zip(&mean).map(|(v, m)| v - m).collect::<Vec<_>>())
            .collect();
        let lambda = hessian.eigenvalues().as_slice().to_vec();
        let mut theta_star = vec![0.0; d];
        for c in centers {
            theta_star.iter_mut().zip(c).for_each(|(m, v)| *m += v / n as f64);
        }
        Ok(Self { hessian, lambda, centred, theta_star, n, batch, sampling })
    }

    pub fn hessian(&self) -> &SpdMatrix {
        &self.hessian
    }
    pub fn n(&self) -> usize {
        self.n
    }
    pub fn batch(&self) -> usize {
        self.batch
    }
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }
    fn center(&self, i: usize) -> &[f64] {
        let d = self.lambda.len();
        &self.centred[i * d..(i + 1) * d]
    }

    /// `U^T C_pop U = Lambda Cov_n(c') Lambda`: the per-example gradient covariance
    /// (population-normalised) in H's eigenbasis.
    pub fn per_example_covariance_eigenbasis(&self) -> DMatrix<f64> {
        let d = self.lambda.len();
        DMatrix::from_fn(d, d, |a, b| {
            self.lambda[a]
                * self.lambda[b]
                * (0..self.n).map(|i| self.center(i)[a] * self.center(i)[b]).sum::<f64>()
                / self.n as f64
        })
    }

    /// Its diagonal: the per-example gradient variance along each eigenvector.
    pub fn per_example_variance_eigenbasis(&self) -> DVector<f64> {
        self.per_example_covariance_eigenbasis().diagonal()
    }
}

impl StochasticProblem<Vec<f64>> for FiniteSumQuadratic {
    type Noise = Batch;

    fn dim(&self) -> usize {
        self.lambda.len()
    }
    fn new_noise(&self) -> Batch {
        Batch::new(self.n, self.batch)
    }
    fn sample_noise(&self, rng: &mut PathRng, _h: f64, noise: &mut Batch) {
        noise.draw(self.sampling, rng);
    }
    /// `out = H (x - mean_B c~)` in eigen-coordinates.
    fn gradient(&self, x: &Vec<f64>, batch: &Batch, out: &mut Vec<f64>) {
        out.copy_from_slice(x);
        let w = 1.0 / batch.indices.len() as f64;
        for &i in &batch.indices {
            for (o, c) in out.iter_mut().zip(self.center(i)) {
                *o -= w * c;
            }
        }
        for (o, l) in out.iter_mut().zip(&self.lambda) {
            *o *= l;
        }
    }
    fn loss(&self, x: &Vec<f64>) -> f64 {
        0.5 * self.lambda.iter().zip(x).map(|(l, v)| l * v * v).sum::<f64>()
    }
}

impl QuadraticModel for FiniteSumQuadratic {
    fn name(&self) -> &'static str {
        "dataset"
    }
    fn dim(&self) -> usize {
        self.lambda.len()
    }
    fn sampling(&self) -> Option<Sampling> {
        Some(self.sampling)
    }
    fn n(&self) -> Option<usize> {
        Some(self.n)
    }
    fn lambda_max(&self) -> f64 {
        self.hessian().max_eigenvalue()
    }
    fn to_simulation_frame(&self, x0: &[f64]) -> Vec<f64> {
        self.hessian().to_eigen_coordinates(x0)
    }
    /// `theta* = mean_n c_n`; `l_min = mean_n 1/2 (c_n - theta*)^T H (c_n - theta*)`, summed per
    /// eigenmode from the centred centres.
    fn optimum(&self) -> Optimum {
        let d = self.lambda.len();
        let total: f64 = self
            .centred
            .chunks(d)
            .map(|c| 0.5 * c.iter().zip(&self.lambda).map(|(v, l)| l * v * v).sum::<f64>())
            .sum();
        Optimum { theta_star: self.theta_star.clone(), l_min: total / self.n as f64 }
    }
    /// Fresh minibatches: the f-formula with `f = noise_factor(S, N, sampling)`; per-epoch
    /// reshuffling: the exact epoch-averaged formula (no f), none with momentum.
    fn theory(&self, eta: f64, batch: usize, momentum: f64) -> ModelTheory {
        let modes = Modes::from_dataset(self);
        let mut note = String::new();
        let (f, discrete) = match self.sampling {
            Sampling::Reshuffle if momentum > 0.0 => {
                note =
                    "per-epoch reshuffling with momentum has no exact result here: simulation only"
                        .into();
                (None, None)
            }
            Sampling::Reshuffle => {
                note = "per-epoch reshuffling: exact epoch-averaged formula (theory::reshuffle); the f-formula does not apply".into();
                (None, theory::reshuffle::stationary_loss(&modes, eta, batch, self.n).ok())
            }
            sampling => {
                let f = theory::noise_factor(batch, Some(self.n), sampling)
                    .expect("validated when built");
                (Some(f), f_formula_loss(&modes, eta, momentum, f).ok())
            }
        };
        // Fresh batches give additive noise f C (C the per-example gradient covariance), so the
        // Gaussian model's stationary covariance applies.
        let covariance =
            f.filter(|_| self.lambda.len() <= theory::MAX_COVARIANCE_DIM).and_then(|f| {
                let c = self.per_example_covariance_eigenbasis();
                let c = match self.hessian().basis() {
                    Some(u) => u * c * u.transpose(),
                    None => c,
                };
                theory::additive_noise_covariance(self.hessian(), &c, eta, momentum, f)
            });
        ModelTheory { modes, f, discrete, covariance, trace_h: self.hessian().trace(), note }
    }
    fn transient(
        &self,
        kind: IntegratorKind,
        eta: f64,
        batch: usize,
        momentum: f64,
        x0: &[f64],
        k: usize,
    ) -> Option<(f64, bool)> {
        if self.sampling == Sampling::Reshuffle {
            return None;
        }
        let f = theory::noise_factor(batch, Some(self.n), self.sampling).ok()?;
        f_formula_transient(&Modes::from_dataset(self), f, kind, eta, momentum, x0, k)
    }
    fn contraction(&self, eta: f64, momentum: f64) -> f64 {
        linear_contraction(self.hessian().eigenvalues().as_slice(), eta, momentum)
    }
    fn f_formula_modes(&self) -> Option<Modes> {
        Some(Modes::from_dataset(self))
    }
}
