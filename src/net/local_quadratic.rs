//! The quadratic model of a network at its minimum: the theory's inputs, measured on the network.
//!
//! Near a minimum θ* of the training objective L (data term plus L2), SGD is, to leading order,
//! the quadratic problem `l = 1/2 x^T H x`, `x = θ - θ*`, with additive noise of covariance
//! `V = f C` (DESIGN.md section 8). This module measures, in f64 on the host:
//! * θ*: warm-up training, then damped Newton steps until the gradient is at rounding level;
//! * `H = ∇²L(θ*)`, dense: exact for logistic regression (`(1/N) Σ x̃x̃ᵀ ⊗ (diag p - p pᵀ) + l2 I`),
//!   otherwise from Hessian-vector products against unit vectors (central differences of two
//!   gradients), symmetrised, with the ReLU sign flips counted;
//! * `C`, the population covariance of one example's gradient, and its diagonal in H's
//!   eigenbasis, `C'_ii = (1/N) Σ_n ((Uᵀ(g_n - ḡ))_i)^2`;
//!
//! It hands `(λ_i, C'_ii)` to the existing `theory` modules as [`Modes`]: no formula is copied.
//!
//! A prediction is refused when θ* is not a minimum good enough for it: H must be positive
//! definite, and the loss of θ* above the quadratic's own minimum, `1/2 gᵀH⁻¹g`, must be below
//! [`MAX_START_BIAS`] of the predicted excess loss.

use super::params::Params;
use super::probes::{hvp, per_example_gradients};
use super::problem::NetworkProblem;
use crate::error::ProblemError;
use crate::problems::Sampling;
use crate::theory::{self, Modes};
use burn::tensor::{backend::AutodiffBackend, Tensor, TensorData};
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// The largest parameter count for which H is formed densely (d x d doubles and one
/// symmetric eigendecomposition, O(d^3)).
pub const MAX_DENSE_PARAMS: usize = 2500;
/// The largest share of a prediction that θ*'s residual gradient may bias it by.
pub const MAX_START_BIAS: f64 = 1e-3;
/// Newton steps at most (a smooth model converges in a handful; a ReLU network's kinks can stall it).
const MAX_NEWTON_STEPS: usize = 20;
/// Memory allowed for the N x d per-example gradients.
const MAX_GRADIENT_BYTES: usize = 2_000_000_000;

/// How H was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HessianSource {
    /// The closed form of logistic regression's Hessian.
    Analytic,
    /// Columns `H e_j` by central differences of gradients at step `eps`, symmetrised;
    /// `relu_flips` ReLU units changed sign between `θ ± eps e_j` over all columns, and
    /// `asymmetry = |H - Hᵀ|_F / |H|_F` before symmetrising.
    FiniteDifference { eps: f64, relu_flips: usize, asymmetry: f64 },
}

/// θ*, with how good a minimum it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Minimum {
    pub loss: f64,
    pub gradient_norm: f64,
    /// `gᵀ H⁻¹ g`: twice the loss of θ* above the quadratic model's minimum.
    pub newton_decrement: f64,
    pub newton_steps: usize,
}

/// The quadratic model at θ*: H's spectrum and the per-example gradient covariance per mode.
#[derive(Debug, Clone, Serialize)]
pub struct LocalQuadratic {
    #[serde(skip)]
    pub theta_star: Vec<f64>,
    pub minimum: Minimum,
    pub n: usize,
    pub params: usize,
    pub hessian: HessianSource,
    /// Eigenvalues of H (ascending) and `C'_ii` along each eigenvector.
    #[serde(skip)]
    pub modes: Modes,
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub trace_h: f64,
    pub trace_c: f64,
}

/// Which stationary value of the quadratic model to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Formula {
    /// The exact discrete value for the run's sampling and momentum:
    /// `eta f/(4(1-m)) Σ C'_ii / (1 - eta λ_i/(2(1+m)))`, or the exact reshuffling epoch formula.
    #[default]
    Exact,
    /// The continuous law `eta f/(4(1-m)) Tr(C)` (f of a fresh batch for reshuffling).
    Continuous,
    /// Jastrzebski et al.'s form with C = H: `eta f/(4(1-m)) Tr(H)`.
    CEqualsH,
    /// The f-formula with the run's f, applied to reshuffled runs too (with the fresh-batch f),
    /// where it is wrong: reshuffling's noise is anti-correlated within an epoch.
    FFormula,
}

impl Formula {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Exact => "exact discrete value of the quadratic model",
            Self::Continuous => "continuous law eta f/(4(1-m)) Tr(C)",
            Self::CEqualsH => "C = H form eta f/(4(1-m)) Tr(H)",
            Self::FFormula => "f-formula (fresh-batch f for reshuffling)",
        }
    }
}

/// One SGD regime: learning rate, batch size, sampling and heavy-ball momentum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Regime {
    pub eta: f64,
    pub batch: usize,
    pub sampling: Sampling,
    pub momentum: f64,
}

impl LocalQuadratic {
    /// Measures the quadratic model of `problem` at a minimum reached from `theta` (f64
    /// throughout; `problem`'s batch and noise mode are not used).
    pub fn at_minimum<B: AutodiffBackend>(
        problem: &NetworkProblem<B>,
        theta: &Params<B>,
    ) -> Result<Self, String> {
        let d = problem.model.arch.n_params();
        if d > MAX_DENSE_PARAMS {
            return Err(format!("the model has {d} parameters; the dense quadratic model needs at most {MAX_DENSE_PARAMS} (d x d Hessian and its eigendecomposition)"));
        }
        let (theta_star, minimum, hessian, source) = newton_polish(problem, theta.to_vec())?;
        let star = Params::<B>::from_vec(&theta_star, &theta.tensor.device());
        let eig = nalgebra::SymmetricEigen::new(hessian);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        let lambda = DVector::from_iterator(d, order.iter().map(|&i| eig.eigenvalues[i]));
        let basis = DMatrix::from_fn(d, d, |r, c| eig.eigenvectors[(r, order[c])]);
        let mut g = per_example_gradients(problem, &star, MAX_GRADIENT_BYTES)?;
        let n = g.nrows();
        let mean = g.row_mean();
        for mut row in g.row_iter_mut() {
            row -= &mean;
        }
        let trace_c = g.iter().map(|v| v * v).sum::<f64>() / n as f64;
        let projected = g * &basis;
        let c = DVector::from_iterator(
            d,
            projected.column_iter().map(|col| col.norm_squared() / n as f64),
        );
        let modes = Modes { lambda, c };
        Ok(Self {
            theta_star,
            minimum,
            n,
            params: d,
            hessian: source,
            lambda_min: modes.lambda[0],
            lambda_max: modes.lambda_max(),
            trace_h: modes.lambda.sum(),
            trace_c,
            modes,
        })
    }

    /// The finite-N factor of a regime (`f` of a fresh batch for reshuffling, whose exact
    /// theory is not an f-formula).
    pub fn noise_factor(&self, r: &Regime) -> Result<f64, ProblemError> {
        let sampling = if r.sampling == Sampling::Reshuffle {
            Sampling::WithoutReplacement
        } else {
            r.sampling
        };
        theory::noise_factor(r.batch, Some(self.n), sampling)
    }

    /// The stability limit on eta: `2(1+m)/λ_max`.
    pub fn stability_limit(&self, momentum: f64) -> f64 {
        theory::momentum_limit(self.lambda_max, momentum)
    }

    /// The stationary excess loss `E[L(θ)] - L(θ*)` that `formula` predicts for `regime`.
    /// Refused (with the reason) when θ* is not a minimum good enough for it.
    pub fn predict(&self, formula: Formula, r: &Regime) -> Result<f64, String> {
        if self.lambda_min <= 0.0 {
            return Err(format!(
                "θ* is not a minimum: the smallest Hessian eigenvalue is {:.3e} <= 0",
                self.lambda_min
            ));
        }
        let f = self.noise_factor(r).map_err(|e| e.to_string())?;
        let leading = r.eta * f / (4.0 * (1.0 - r.momentum));
        let value = match formula {
            Formula::Continuous => leading * self.trace_c,
            Formula::CEqualsH => leading * self.trace_h,
            Formula::Exact if r.sampling == Sampling::Reshuffle => {
                if r.momentum > 0.0 {
                    return Err(
                        "the exact reshuffling theory is for plain SGD (momentum = 0)".into()
                    );
                }
                theory::reshuffle::stationary_loss(&self.modes, r.eta, r.batch, self.n)
                    .map_err(|e| e.to_string())?
            }
            Formula::Exact | Formula::FFormula => if r.momentum > 0.0 {
                theory::momentum::stationary_loss(&self.modes, r.eta, r.momentum, f)
            } else {
                theory::sgd::stationary_loss(&self.modes, r.eta, f)
            }
            .map_err(|e| e.to_string())?,
        };
        let bias = 0.5 * self.minimum.newton_decrement;
        if bias > MAX_START_BIAS * value.abs() {
            return Err(format!(
                "θ* is not close enough to a minimum: its loss lies 1/2 gᵀH⁻¹g = {bias:.3e} above the quadratic's minimum, more than {MAX_START_BIAS} of the prediction {value:.3e} (|g| = {:.3e})",
                self.minimum.gradient_norm
            ));
        }
        Ok(value)
    }

    /// Steps after which the transient from `x = 0` is below `tolerance` of the stationary
    /// loss: the smallest B with `Σ_i w_i ρ_i^{2B} <= tolerance Σ_i w_i`, `w_i = C'_ii / (1 -
    /// eta λ_i/(2(1+m)))`, `ρ_i` heavy ball's per-mode contraction (|1 - eta λ_i| without momentum).
    pub fn burn_in(&self, r: &Regime, tolerance: f64) -> usize {
        let per_mode: Vec<(f64, f64)> = self
            .modes
            .lambda
            .iter()
            .zip(self.modes.c.iter())
            .map(|(&l, &c)| {
                (
                    c / (1.0 - r.eta * l / (2.0 * (1.0 + r.momentum))),
                    theory::momentum::contraction(r.eta * l, r.momentum),
                )
            })
            .filter(|(w, _)| *w > 0.0)
            .collect();
        let total: f64 = per_mode.iter().map(|(w, _)| w).sum();
        let left =
            |b: usize| per_mode.iter().map(|(w, rho)| w * rho.powf(2.0 * b as f64)).sum::<f64>();
        let mut hi = 16usize;
        while left(hi) > tolerance * total && hi < 1 << 40 {
            hi *= 2;
        }
        let mut lo = hi / 2;
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if left(mid) > tolerance * total {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

/// The full-batch gradient and loss on the host.
fn gradient_and_loss<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    device: &B::Device,
) -> (DVector<f64>, f64) {
    let t = Tensor::<B, 1>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device);
    let g = Params::new(p.full_gradient(&t)).to_vec();
    (DVector::from_vec(g), p.mean_loss(&t))
}

/// H at θ, dense and symmetric.
pub fn dense_hessian<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    device: &B::Device,
) -> (DMatrix<f64>, HessianSource) {
    if p.model.arch.sizes.len() == 2 {
        return (logistic_hessian(p, theta, device), HessianSource::Analytic);
    }
    let d = theta.len();
    let t = Tensor::<B, 1>::from_data(TensorData::new(theta.to_vec(), [d]), device);
    let eps = 1e-5;
    let mut h = DMatrix::zeros(d, d);
    let mut flips = 0;
    for j in 0..d {
        let mut e = vec![0.0; d];
        e[j] = 1.0;
        let col = hvp(p, &t, &Tensor::from_data(TensorData::new(e, [d]), device), eps);
        flips += col.relu_flips;
        h.set_column(j, &DVector::from_vec(Params::new(col.hv).to_vec()));
    }
    let asymmetry = (&h - h.transpose()).norm() / h.norm().max(f64::MIN_POSITIVE);
    let sym = (&h + h.transpose()) * 0.5;
    (sym, HessianSource::FiniteDifference { eps, relu_flips: flips, asymmetry })
}

/// Logistic regression's Hessian in θ's layout (W row-major `d_in x K`, then the K biases):
/// with `x̃ = (x, 1)` and `A_n = diag(p_n) - p_n p_nᵀ` (`p(1-p)` for one output),
/// `H[(i,k),(j,l)] = (1/N) Σ_n x̃_ni x̃_nj A_n[k,l] + l2 δ`.
fn logistic_hessian<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    device: &B::Device,
) -> DMatrix<f64> {
    let t = Tensor::<B, 1>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device);
    let logits = p.model.forward(&t, p.x.clone(), None).logits;
    let k = p.model.arch.outputs();
    let z: Vec<f64> = logits.to_data().convert::<f64>().to_vec::<f64>().expect("float logits");
    let x: Vec<f64> = p.x.to_data().convert::<f64>().to_vec::<f64>().expect("float inputs");
    let (n, din) = (p.n, p.model.arch.sizes[0]);
    let xt = DMatrix::from_fn(n, din + 1, |r, c| if c < din { x[r * din + c] } else { 1.0 });
    // Per-example curvature of the loss in the logits.
    let probs: Vec<Vec<f64>> = (0..n)
        .map(|r| {
            let zr = &z[r * k..(r + 1) * k];
            if k == 1 {
                vec![1.0 / (1.0 + (-zr[0]).exp())]
            } else {
                let m = zr.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = zr.iter().map(|v| (v - m).exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            }
        })
        .collect();
    let a = |r: usize, i: usize, j: usize| {
        let pr = &probs[r];
        if k == 1 {
            pr[0] * (1.0 - pr[0])
        } else {
            (if i == j { pr[i] } else { 0.0 }) - pr[i] * pr[j]
        }
    };
    let d = (din + 1) * k;
    let mut h = DMatrix::zeros(d, d);
    for ki in 0..k {
        for li in ki..k {
            let w = DVector::from_fn(n, |r, _| a(r, ki, li) / n as f64);
            let mut weighted = xt.clone();
            for (mut row, wr) in weighted.row_iter_mut().zip(w.iter()) {
                row *= *wr;
            }
            let block = xt.transpose() * weighted;
            for i in 0..=din {
                for j in 0..=din {
                    h[(i * k + ki, j * k + li)] = block[(i, j)];
                    h[(j * k + li, i * k + ki)] = block[(i, j)];
                }
            }
        }
    }
    for i in 0..d {
        h[(i, i)] += p.l2;
    }
    h
}

/// Damped Newton steps with a backtracking line search from `theta` until the gradient stops
/// shrinking (rounding level), then H at the result.
fn newton_polish<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    mut theta: Vec<f64>,
) -> Result<(Vec<f64>, Minimum, DMatrix<f64>, HessianSource), String> {
    let device = p.x.device();
    let (mut g, mut loss) = gradient_and_loss(p, &theta, &device);
    let mut steps = 0;
    for _ in 0..MAX_NEWTON_STEPS {
        let (h, _) = dense_hessian(p, &theta, &device);
        // Levenberg damping until H + mu I is positive definite.
        let mut mu = 0.0;
        let chol = loop {
            let damped = &h + DMatrix::identity(h.nrows(), h.ncols()) * mu;
            if let Some(c) = nalgebra::Cholesky::new(damped) {
                break c;
            }
            mu = if mu == 0.0 { 1e-6 * h.diagonal().abs().max().max(1e-12) } else { mu * 10.0 };
            if !mu.is_finite() || mu > 1e12 {
                return Err(
                    "Newton polishing failed: the Hessian could not be made positive definite"
                        .into(),
                );
            }
        };
        let step = chol.solve(&g);
        let mut t = 1.0;
        let mut improved = None;
        for _ in 0..40 {
            let trial: Vec<f64> = theta.iter().zip(step.iter()).map(|(a, s)| a - t * s).collect();
            let (g2, l2) = gradient_and_loss(p, &trial, &device);
            if l2 < loss || (l2 <= loss + 1e-15 * loss.abs() && g2.norm() < g.norm()) {
                improved = Some((trial, g2, l2));
                break;
            }
            t *= 0.5;
        }
        let Some((trial, g2, l2)) = improved else { break };
        steps += 1;
        let converged = g2.norm() >= 0.5 * g.norm() && g2.norm() < 1e-8 * (1.0 + loss.abs());
        theta = trial;
        g = g2;
        loss = l2;
        if converged || g.norm() < 1e-13 {
            break;
        }
    }
    let (h, source) = dense_hessian(p, &theta, &device);
    let decrement = match nalgebra::Cholesky::new(h.clone()) {
        Some(c) => g.dot(&c.solve(&g)),
        None => f64::INFINITY,
    };
    let minimum =
        Minimum { loss, gradient_norm: g.norm(), newton_decrement: decrement, newton_steps: steps };
    Ok((theta, minimum, h, source))
}
