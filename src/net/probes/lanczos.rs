//! Stochastic Lanczos quadrature: the Hessian's spectral density from Hessian-vector products.
//! For a probe v (Rademacher, |v|^2 = d), k Lanczos steps give a tridiagonal T_k whose eigenpairs
//! (theta_j, s_j) define the Gauss quadrature `v^T g(H) v ≈ |v|^2 sum_j s_{j,1}^2 g(theta_j)`, exact
//! for polynomials g of degree < 2k. Averaging over probes estimates `Tr g(H) = sum_i g(lambda_i)`.
//! Full reorthogonalisation keeps the Krylov basis orthogonal in floating point.

use super::hessian::HessianOperator;
use super::{dot, Direction};
use crate::net::params::Params;
use crate::net::problem::NetworkProblem;
use burn::tensor::backend::AutodiffBackend;
use nalgebra::DMatrix;

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

/// One Lanczos run with full reorthogonalisation: the orthonormal Krylov basis, the tridiagonal
/// `T` (diagonal `alpha`, off-diagonal `beta`), the norm `beta_m` of the residual left after the
/// last step (0 when the space closed) and the ReLU flips of the Hessian-vector products.
struct Krylov<B: AutodiffBackend> {
    basis: Vec<Direction<B>>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    last_beta: f64,
    relu_flips: usize,
}

impl<B: AutodiffBackend> Krylov<B> {
    /// `min(steps, d)` steps from the unit vector `q`.
    fn run(op: &HessianOperator<'_, B>, d: usize, mut q: Direction<B>, steps: usize) -> Self {
        let mut k = Self {
            basis: Vec::new(),
            alpha: Vec::new(),
            beta: Vec::new(),
            last_beta: 0.0,
            relu_flips: 0,
        };
        for step in 0..steps.min(d) {
            k.basis.push(q.clone());
            let h = op.apply(&q);
            k.relu_flips += h.relu_flips;
            let mut w = h.hv;
            let a = dot(&w, &q);
            k.alpha.push(a);
            // Full reorthogonalisation (twice is enough).
            for _ in 0..2 {
                for b in &k.basis {
                    let c = dot(&w, b);
                    w = w - b.clone().mul_scalar(c);
                }
            }
            let bnorm = dot(&w, &w).sqrt();
            if step + 1 == steps.min(d) || bnorm < 1e-10 * a.abs().max(1e-300) {
                k.last_beta = if step + 1 == steps.min(d) { bnorm } else { 0.0 };
                break;
            }
            k.beta.push(bnorm);
            q = w.div_scalar(bnorm);
        }
        k
    }

    /// The eigen-decomposition of `T`: Ritz values, ascending, and the eigenvectors of `T`.
    fn ritz(&self) -> nalgebra::SymmetricEigen<f64, nalgebra::Dyn> {
        let (alpha, beta) = (&self.alpha, &self.beta);
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
        nalgebra::SymmetricEigen::new(t)
    }
}

/// A Rademacher vector scaled to unit length.
fn rademacher_unit<B: AutodiffBackend>(
    d: usize,
    seed: u64,
    id: u64,
    device: &B::Device,
) -> Direction<B> {
    let mut r = crate::rng::stream(seed, id);
    super::hessian::rademacher::<B::InnerBackend>(d, &mut r, device).div_scalar((d as f64).sqrt())
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
    let op = HessianOperator::new(p, &theta.tensor, eps);
    for probe in 0..probes {
        let q = rademacher_unit::<B>(d, seed, 0x051A_0000 + probe as u64, &device);
        let one = quadrature_along(&op, &q, steps);
        flips += one.relu_flips;
        nodes.extend(one.nodes);
        weights.extend(one.weights.iter().map(|w| w * d as f64 / probes as f64));
    }
    SpectralDensity { nodes, weights, probes, relu_flips: flips }
}

/// The Gauss quadrature of one quadratic form, `v^T g(H) v ≈ sum_j w_j g(theta_j)`: `steps`
/// Lanczos steps from `v / |v|`, the Ritz values `theta_j` as nodes and `w_j = |v|^2 s_{j,1}^2`
/// (they sum to `|v|^2`). Exact for polynomials g of degree below `2 steps`. `op` is H at one θ,
/// built once for all the forms taken there.
pub fn quadrature_along<B: AutodiffBackend>(
    op: &HessianOperator<'_, B>,
    v: &Direction<B>,
    steps: usize,
) -> SpectralDensity {
    let norm2 = dot(v, v);
    let k = Krylov::run(op, v.dims()[0], v.clone().div_scalar(norm2.sqrt()), steps);
    let eig = k.ritz();
    let m = k.alpha.len();
    SpectralDensity {
        nodes: (0..m).map(|j| eig.eigenvalues[j]).collect(),
        weights: (0..m).map(|j| norm2 * eig.eigenvectors[(0, j)].powi(2)).collect(),
        probes: 1,
        relu_flips: k.relu_flips,
    }
}

/// The top Ritz pairs of one Lanczos run: `values` descending, unit `vectors` in θ's space, and
/// each pair's residual `|H y - theta y| = beta_m |s_mj|` (some eigenvalue of H lies within it;
/// H here is the [`HessianOperator`]: exact to rounding without batch norm; with it, central
/// differences whose own error, about 1e-9 relative in f64, adds to the bound).
#[derive(Debug, Clone)]
pub struct TopEigenpairs<B: AutodiffBackend> {
    pub values: Vec<f64>,
    pub vectors: Vec<Direction<B>>,
    pub residuals: Vec<f64>,
    pub relu_flips: usize,
}

/// The `k` largest eigenpairs of the Hessian by `steps >= k` Lanczos steps from a Rademacher
/// start (the extreme eigenvalues converge first; the residuals say how far).
pub fn top_eigenpairs<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    k: usize,
    steps: usize,
    eps: f64,
    seed: u64,
) -> TopEigenpairs<B> {
    let d = theta.len();
    let q = rademacher_unit::<B>(d, seed, 0x70_9E16, &theta.tensor.device());
    let kr = Krylov::run(&HessianOperator::new(p, &theta.tensor, eps), d, q, steps.max(k));
    let eig = kr.ritz();
    let m = kr.alpha.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let mut out = TopEigenpairs {
        values: Vec::new(),
        vectors: Vec::new(),
        residuals: Vec::new(),
        relu_flips: kr.relu_flips,
    };
    for &j in order.iter().take(k.min(m)) {
        let y = kr
            .basis
            .iter()
            .enumerate()
            .map(|(i, b)| b.clone().mul_scalar(eig.eigenvectors[(i, j)]))
            .reduce(|a, b| a + b)
            .expect("at least one Lanczos step");
        out.values.push(eig.eigenvalues[j]);
        out.vectors.push(y);
        out.residuals.push((kr.last_beta * eig.eigenvectors[(m - 1, j)]).abs());
    }
    out
}
