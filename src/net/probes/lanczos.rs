//! Stochastic Lanczos quadrature: the Hessian's spectral density from Hessian-vector products.
//! For a probe v (Rademacher, |v|^2 = d), k Lanczos steps give a tridiagonal T_k whose eigenpairs
//! (theta_j, s_j) define the Gauss quadrature `v^T g(H) v ≈ |v|^2 sum_j s_{j,1}^2 g(theta_j)`, exact
//! for polynomials g of degree < 2k. Averaging over probes estimates `Tr g(H) = sum_i g(lambda_i)`.
//! Full reorthogonalisation keeps the Krylov basis orthogonal in floating point.

use super::hessian::hvp;
use crate::net::params::Params;
use crate::net::problem::NetworkProblem;
use crate::rng;
use burn::tensor::{backend::AutodiffBackend, ElementConversion, Tensor, TensorData};
use nalgebra::DMatrix;
use rand::Rng;

/// Quadrature nodes and weights; the weights sum to d (the number of parameters), so
/// `sum_j w_j g(node_j)` estimates `Tr g(H)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralDensity {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
    pub probes: usize,
    pub relu_flips: usize,
}

impl SpectralDensity {
    /// `sum_j w_j g(node_j)`, an estimate of `Tr g(H)`.
    pub fn trace_of(&self, g: impl Fn(f64) -> f64) -> f64 {
        self.nodes.iter().zip(&self.weights).map(|(&x, &w)| w * g(x)).sum()
    }
}

fn dot<B: AutodiffBackend>(a: &Tensor<B, 1>, b: &Tensor<B, 1>) -> f64 {
    (a.clone() * b.clone()).sum().into_scalar().elem::<f64>()
}

/// `steps` Lanczos steps from each of `probes` Rademacher vectors.
pub fn spectral_density<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    steps: usize,
    probes: usize,
    eps: f64,
    seed: u64,
) -> SpectralDensity {
    let d = theta.len();
    let device = theta.tensor.device();
    let (mut nodes, mut weights, mut flips) = (Vec::new(), Vec::new(), 0);
    for probe in 0..probes {
        let mut r = rng::stream(seed, 0x051A_0000 + probe as u64);
        let v0: Vec<f64> = (0..d).map(|_| if r.random::<bool>() { 1.0 } else { -1.0 }).collect();
        let mut q = Tensor::<B, 1>::from_data(TensorData::new(v0, [d]), &device)
            .div_scalar((d as f64).sqrt());
        let mut basis: Vec<Tensor<B, 1>> = Vec::new();
        let (mut alpha, mut beta) = (Vec::new(), Vec::new());
        for k in 0..steps.min(d) {
            basis.push(q.clone());
            let h = hvp(p, &theta.tensor, &q, eps);
            flips += h.relu_flips;
            let mut w = h.hv;
            let a = dot(&w, &q);
            alpha.push(a);
            // Full reorthogonalisation (twice is enough).
            for _ in 0..2 {
                for b in &basis {
                    let c = dot(&w, b);
                    w = w - b.clone().mul_scalar(c);
                }
            }
            let bnorm = dot(&w, &w).sqrt();
            if k + 1 == steps.min(d) || bnorm < 1e-10 * a.abs().max(1e-300) {
                break;
            }
            beta.push(bnorm);
            q = w.div_scalar(bnorm);
        }
        let m = alpha.len();
        let t = DMatrix::from_fn(m, m, |i, j| {
            if i == j {
                alpha[i]
            } else if i + 1 == j {
                beta[i]
            } else if j + 1 == i {
                beta[j]
            } else {
                0.0
            }
        });
        let eig = nalgebra::SymmetricEigen::new(t);
        for j in 0..m {
            nodes.push(eig.eigenvalues[j]);
            weights.push(eig.eigenvectors[(0, j)].powi(2) * d as f64 / probes as f64);
        }
    }
    SpectralDensity { nodes, weights, probes, relu_flips: flips }
}
