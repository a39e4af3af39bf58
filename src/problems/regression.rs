//! Least squares `l_n = 1/2 (x_n^T theta - y_n)^2` trained by minibatch SGD.
//!
//! The minibatch gradient is `H_B e + b_B` with `e = theta - theta*`, `H_B = mean_B x x^T` and
//! `b_B = mean_B x_n r_n`, `r_n = x_n^T theta* - y_n`: the noise depends on theta (multiplicative).

use super::quadratic_model::{ModelTheory, Optimum, QuadraticModel, Stability, StabilityRule};
use super::sampling::{self, Batch, Sampling};
use super::StochasticProblem;
use crate::error::{ensure, ProblemError};
use crate::integrators::{IntegratorKind, Rule};
use crate::rng::PathRng;
use crate::theory::{regression::RegressionMoments, Modes};
use nalgebra::{DMatrix, DVector};

#[derive(Debug, Clone)]
pub struct LinearRegression {
    /// Features, row-major N x d.
    features: Vec<f64>,
    targets: Vec<f64>,
    d: usize,
    hessian: DMatrix<f64>,
    theta_star: DVector<f64>,
    batch: usize,
    sampling: Sampling,
}

impl LinearRegression {
    pub fn new(
        features: &[Vec<f64>],
        targets: &[f64],
        batch: usize,
        sampling: Sampling,
    ) -> Result<Self, ProblemError> {
        let n = features.len();
        ensure(targets.len() == n, || {
            ProblemError::new(
                "y",
                format!("{} targets", targets.len()),
                format!("one per example, {n}"),
            )
        })?;
        sampling::validate(n, batch, sampling)?;
        let d = features[0].len();
        ensure(d >= 1, || {
            ProblemError::new("x[0]", "an empty feature vector", "at least one feature")
        })?;
        for (i, x) in features.iter().enumerate() {
            ensure(x.len() == d, || {
                ProblemError::new(
                    format!("x[{i}]"),
                    format!("length {}", x.len()),
                    format!("length {d}, as x[0]"),
                )
            })?;
            ensure(x.iter().all(|v| v.is_finite()), || {
                ProblemError::new(
                    format!("x[{i}]"),
                    "a vector with NaN or infinite entries",
                    "finite entries",
                )
            })?;
        }
        for (i, y) in targets.iter().enumerate() {
            ensure(y.is_finite(), || ProblemError::new(format!("y[{i}]"), y, "a finite number"))?;
        }
        let x = DMatrix::from_fn(n, d, |i, j| features[i][j]);
        let hessian = x.transpose() * &x / n as f64;
        let min_eig = nalgebra::SymmetricEigen::new(hessian.clone()).eigenvalues.min();
        ensure(min_eig > 1e-12 * hessian.amax(), || {
            ProblemError::new(
                "x",
                format!("features whose Hessian X^T X / N has smallest eigenvalue {min_eig:.3e}"),
                "full column rank (a positive-definite Hessian; needs N >= d)",
            )
        })?;
        let rhs = x.transpose() * DVector::from_column_slice(targets) / n as f64;
        let theta_star = nalgebra::Cholesky::new(hessian.clone())
            .expect("positive definite checked above")
            .solve(&rhs);
        Ok(Self {
            features: features.concat(),
            targets: targets.to_vec(),
            d,
            hessian,
            theta_star,
            batch,
            sampling,
        })
    }

    pub fn n(&self) -> usize {
        self.targets.len()
    }
    pub fn batch(&self) -> usize {
        self.batch
    }
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }
    /// `H = X^T X / N`.
    pub fn hessian(&self) -> &DMatrix<f64> {
        &self.hessian
    }
    pub fn theta_star(&self) -> &DVector<f64> {
        &self.theta_star
    }
    pub fn feature(&self, i: usize) -> &[f64] {
        &self.features[i * self.d..(i + 1) * self.d]
    }
    /// `r_n = x_n^T theta* - y_n`.
    pub fn residual(&self, i: usize) -> f64 {
        self.feature(i).iter().zip(self.theta_star.iter()).map(|(a, b)| a * b).sum::<f64>()
            - self.targets[i]
    }
}

impl StochasticProblem<Vec<f64>> for LinearRegression {
    type Noise = Batch;

    fn dim(&self) -> usize {
        self.d
    }
    fn new_noise(&self) -> Batch {
        Batch::new(self.n(), self.batch)
    }
    fn sample_noise(&self, rng: &mut PathRng, _h: f64, noise: &mut Batch) {
        noise.draw(self.sampling, rng);
    }
    /// `out = mean_B x_n (x_n^T theta - y_n)`.
    fn gradient(&self, theta: &Vec<f64>, batch: &Batch, out: &mut Vec<f64>) {
        out.iter_mut().for_each(|o| *o = 0.0);
        let w = 1.0 / batch.indices.len() as f64;
        for &i in &batch.indices {
            let x = self.feature(i);
            let r = x.iter().zip(theta).map(|(a, b)| a * b).sum::<f64>() - self.targets[i];
            for (o, xi) in out.iter_mut().zip(x) {
                *o += w * r * xi;
            }
        }
    }
    /// `1/2 e^T H e`, exactly `L(theta) - L(theta*)`.
    fn loss(&self, theta: &Vec<f64>) -> f64 {
        let e = DVector::from_iterator(
            self.d,
            theta.iter().zip(self.theta_star.iter()).map(|(a, b)| a - b),
        );
        0.5 * e.dot(&(&self.hessian * &e))
    }
}

/// Linear regression with its exact second-moment recursion (the fourth moments of the data).
/// Per-epoch reshuffling has no such recursion (the batches of an epoch are dependent): it runs as
/// simulation only, with the mean's stability limit.
#[derive(Debug, Clone)]
pub struct RegressionModel {
    pub problem: LinearRegression,
    /// None for per-epoch reshuffling.
    pub moments: Option<RegressionMoments>,
}

impl RegressionModel {
    pub fn new(problem: LinearRegression) -> Result<Self, ProblemError> {
        let moments = match problem.sampling() {
            Sampling::Reshuffle => None,
            _ => Some(RegressionMoments::new(&problem)?),
        };
        Ok(Self { problem, moments })
    }

    fn eigenvalues(&self) -> Vec<f64> {
        nalgebra::SymmetricEigen::new(self.problem.hessian().clone())
            .eigenvalues
            .as_slice()
            .to_vec()
    }
}

impl QuadraticModel for RegressionModel {
    fn name(&self) -> &'static str {
        "regression"
    }
    fn dim(&self) -> usize {
        StochasticProblem::<Vec<f64>>::dim(&self.problem)
    }
    fn sampling(&self) -> Option<Sampling> {
        Some(self.problem.sampling())
    }
    fn n(&self) -> Option<usize> {
        Some(self.problem.n())
    }
    fn lambda_max(&self) -> f64 {
        nalgebra::SymmetricEigen::new(self.problem.hessian().clone()).eigenvalues.max()
    }
    /// The mean-square limit of plain SGD, or of heavy ball on `(e_k, e_{k-1})` when m > 0.
    fn stability(&self, momentum: f64) -> Stability {
        match &self.moments {
            Some(moments) => Stability {
                limit: moments.momentum_stability_limit(momentum),
                rule: StabilityRule::MeanSquare { momentum },
            },
            None => Stability::linear(self.lambda_max(), momentum),
        }
    }
    /// `theta*` solves the normal equations; `l_min = mean_n 1/2 r_n^2`.
    fn optimum(&self) -> Optimum {
        let p = &self.problem;
        let l_min = (0..p.n()).map(|i| 0.5 * p.residual(i).powi(2)).sum::<f64>() / p.n() as f64;
        Optimum { theta_star: p.theta_star().iter().copied().collect(), l_min }
    }
    /// The file gives `x0` relative to `θ*`; the simulation runs in `θ`.
    fn to_simulation_frame(&self, x0: &[f64]) -> Vec<f64> {
        x0.iter().zip(self.problem.theta_star().iter()).map(|(a, b)| a + b).collect()
    }
    fn theory(&self, eta: f64, batch: usize, momentum: f64) -> ModelTheory {
        let p = &self.problem;
        let d = QuadraticModel::dim(self);
        let eig = nalgebra::SymmetricEigen::new(p.hessian().clone());
        // C at the optimum: G = mean r_n^2 x_n x_n^T, written per eigenmode of H.
        let g = (0..p.n()).fold(DMatrix::zeros(d, d), |acc, i| {
            let x = DVector::from_column_slice(p.feature(i));
            acc + &x * x.transpose() * (p.residual(i).powi(2) / p.n() as f64)
        });
        let c = (eig.eigenvectors.transpose() * &g * &eig.eigenvectors).diagonal();
        let modes = Modes { lambda: eig.eigenvalues.clone(), c };
        let note = if self.moments.is_none() {
            "linear regression with per-epoch reshuffling: no exact moment recursion (the batches of an epoch are dependent), so the stationary loss is simulation only; the stability limit shown is the mean's, necessary but not sufficient".into()
        } else if momentum > 0.0 {
            "linear regression with momentum: the mean-square stability limit is exact (heavy ball on (e_k, e_k-1)); the stationary loss is simulation only".into()
        } else {
            "multiplicative noise: exact second-moment recursion (fourth moments of the data); C is the gradient covariance at the optimum".into()
        };
        let moments = self.moments.as_ref().filter(|_| momentum == 0.0);
        let discrete = moments.and_then(|m| m.stationary_loss(eta).ok());
        let covariance = moments
            .filter(|_| d <= crate::theory::MAX_COVARIANCE_DIM)
            .and_then(|m| m.stationary_second_moment(eta).ok());
        let f = crate::theory::noise_factor(batch, Some(p.n()), p.sampling()).ok();
        ModelTheory { modes, f, discrete, covariance, trace_h: eig.eigenvalues.sum(), note }
    }
    /// Exact for plain SGD only (the second-moment recursion from `x0 - θ*`).
    fn transient(
        &self,
        kind: IntegratorKind,
        eta: f64,
        _batch: usize,
        momentum: f64,
        x0: &[f64],
        k: usize,
    ) -> Option<(f64, bool)> {
        if kind.rule(momentum) != Rule::EulerMaruyama {
            return None;
        }
        let e0: Vec<f64> =
            x0.iter().zip(self.problem.theta_star().iter()).map(|(a, b)| a - b).collect();
        self.moments.as_ref()?.transient_loss(eta, &e0, k).last().map(|v| (*v, true))
    }
    /// The square root of the second-moment map's spectral radius (>= 1 past the limit).
    /// (Reshuffling: the mean's contraction.)
    fn contraction(&self, eta: f64, momentum: f64) -> f64 {
        let Some(moments) = &self.moments else {
            return super::quadratic_model::linear_contraction(&self.eigenvalues(), eta, momentum);
        };
        if momentum > 0.0 {
            let rho = moments.momentum_spectral_radius(eta, momentum);
            return if rho < 1.0 { rho.sqrt() } else { 1.0 };
        }
        if eta < moments.stability_limit() {
            moments.spectral_radius(eta).sqrt()
        } else {
            1.0
        }
    }
    fn f_formula_modes(&self) -> Option<Modes> {
        None
    }
}

impl StochasticProblem<Vec<f64>> for RegressionModel {
    type Noise = <LinearRegression as StochasticProblem<Vec<f64>>>::Noise;
    fn dim(&self) -> usize {
        self.problem.dim()
    }
    fn new_noise(&self) -> Self::Noise {
        self.problem.new_noise()
    }
    fn sample_noise(&self, rng: &mut PathRng, h: f64, noise: &mut Self::Noise) {
        self.problem.sample_noise(rng, h, noise)
    }
    fn gradient(&self, x: &Vec<f64>, noise: &Self::Noise, out: &mut Vec<f64>) {
        self.problem.gradient(x, noise, out)
    }
    fn loss(&self, x: &Vec<f64>) -> f64 {
        self.problem.loss(x)
    }
}
