//! Least squares `l_n = 1/2 (x_n^T theta - y_n)^2` trained by minibatch SGD.
//!
//! The minibatch gradient is `H_B e + b_B` with `e = theta - theta*`, `H_B = mean_B x x^T` and
//! `b_B = mean_B x_n r_n`, `r_n = x_n^T theta* - y_n`: the noise depends on theta (multiplicative).

use super::sampling::{self, Batch, Sampling};
use super::StochasticProblem;
use crate::error::{ensure, ProblemError};
use crate::rng::PathRng;
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
