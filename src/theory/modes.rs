use crate::problems::FiniteSumQuadratic;
use crate::spd::SpdMatrix;
use nalgebra::DVector;

/// The theory's input per eigenmode of H: `lambda_i` and `c_i = (U^T C U)_ii`, the per-example
/// gradient variance along eigenvector i. Only this diagonal enters the stationary loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Modes {
    pub lambda: DVector<f64>,
    pub c: DVector<f64>,
}

impl Modes {
    /// From `H` and `C` (O(d) when they share eigenvectors, one GEMM otherwise).
    pub fn new(hessian: &SpdMatrix, noise_covariance: &SpdMatrix) -> Self {
        Self {
            lambda: hessian.eigenvalues().clone(),
            c: hessian.eigenbasis_diagonal(noise_covariance),
        }
    }
    /// From a finite data set of quadratics: `C_pop = H Cov_n(c) H`.
    pub fn from_dataset(problem: &FiniteSumQuadratic) -> Self {
        Self {
            lambda: problem.hessian().eigenvalues().clone(),
            c: problem.per_example_variance_eigenbasis(),
        }
    }
    pub fn lambda_max(&self) -> f64 {
        self.lambda.max()
    }
    pub fn dim(&self) -> usize {
        self.lambda.len()
    }
}
