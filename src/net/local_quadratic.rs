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
//! Above [`MAX_DENSE_PARAMS`] parameters the model is *truncated* (logistic regression only, where
//! L2 bounds the spectrum below): θ* by Newton steps solved with conjugate gradients on
//! Hessian-vector products, the top [`TRUNCATED_MODES`] eigenpairs by Lanczos with their `C'_ii`,
//! and the rest as a [`Bulk`]: its share of `Tr(C)`, `R = Tr(C) - Σ_top C'_ii`, and bounds on its
//! eigenvalues, `l2 <= λ <= λ_k + r_k` (the k-th Ritz value plus its residual). Every stationary
//! formula is a sum over modes `Σ_i C'_ii φ(λ_i)`, so the bulk adds between `R min φ` and `R max φ`
//! over that range, and the prediction is an interval ([`Prediction`]); `Tr(H)` is a Hutchinson
//! estimate with its standard error.
//!
//! A prediction is refused when θ* is not a minimum good enough for it: H must be positive
//! definite, and the loss of θ* above the quadratic's own minimum, `1/2 gᵀH⁻¹g`, must be below
//! [`MAX_START_BIAS`] of the predicted excess loss.

use super::backend::host_f64;
use super::params::Params;
use super::probes::{hessian_stats, hvp, per_example_gradients, top_eigenpairs, Direction};
use super::problem::NetworkProblem;
use crate::error::ProblemError;
use crate::problems::Sampling;
use crate::stats::Estimate;
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
/// Eigenpairs the truncated model resolves, from this many Lanczos steps.
pub const TRUNCATED_MODES: usize = 20;
const LANCZOS_STEPS: usize = 100;
/// The largest relative residual `r_i / λ_i` accepted for a resolved mode.
const MAX_RITZ_RESIDUAL: f64 = 1e-3;
/// Rademacher probes of the truncated model's Hutchinson estimate of `Tr(H)`.
const TRACE_PROBES: usize = 100;
/// Hessian-vector products one conjugate-gradient solve may take.
const MAX_CG_PRODUCTS: usize = 3000;
/// The finite-difference step of every Hessian-vector product here (f64).
const HVP_EPS: f64 = 1e-5;
/// The forward-difference step of the Newton polish's Hessian (about the square root of f64's
/// precision, for parameters of order 1).
const NEWTON_FD_EPS: f64 = 1e-7;

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
    /// The truncated model: the top `modes` eigenpairs from `steps` Lanczos steps (the largest
    /// relative residual `r_i/λ_i` among them), `Tr(H)` from `probes` Hutchinson probes.
    Lanczos { modes: usize, steps: usize, max_relative_residual: f64, probes: usize },
}

/// The modes a truncated model does not resolve: their share of `Tr(C)` and bounds on their
/// eigenvalues (`lambda_lower <= λ <= lambda_upper`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bulk {
    pub modes: usize,
    pub trace_c: f64,
    pub lambda_lower: f64,
    pub lambda_upper: f64,
}

/// A prediction of the quadratic model: the interval `[lower, upper]` its unresolved modes allow
/// (a point for the dense model) and the standard error of any stochastic estimate in it (0 when
/// it is computed exactly).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    pub lower: f64,
    pub upper: f64,
    pub se: f64,
}

impl Prediction {
    pub fn exact(value: f64) -> Self {
        Self { lower: value, upper: value, se: 0.0 }
    }

    /// The middle of the interval (the value itself for a point).
    pub fn value(&self) -> f64 {
        0.5 * (self.lower + self.upper)
    }

    /// The value, when this is an exact point.
    pub fn point(&self) -> Option<f64> {
        (self.lower == self.upper && self.se == 0.0).then_some(self.lower)
    }

    /// z of a measurement: its distance from the interval over the combined standard error
    /// (for a point, `(m - value)/se_m`).
    pub fn z(&self, m: &Estimate) -> f64 {
        if let Some(v) = self.point() {
            return m.z(v);
        }
        let gap = if m.value < self.lower {
            m.value - self.lower
        } else if m.value > self.upper {
            m.value - self.upper
        } else {
            0.0
        };
        gap / m.se.hypot(self.se)
    }
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
    /// The smallest eigenvalue (for the truncated model: its lower bound, the L2 coefficient).
    pub lambda_min: f64,
    pub lambda_max: f64,
    pub trace_h: f64,
    /// The standard error of `trace_h` (0 when it is exact).
    pub trace_h_se: f64,
    pub trace_c: f64,
    /// The unresolved modes of a truncated model (`modes` then holds the resolved ones).
    pub bulk: Option<Bulk>,
    /// Set when θ* is a saddle whose non-positive modes were dropped ([`Self::positive_part`]).
    pub saddle: Option<Saddle>,
}

/// What [`LocalQuadratic::positive_part`] dropped: the modes with `λ <= 0`, and their `C'_ii`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Saddle {
    pub dropped: usize,
    pub lambda_min: f64,
    /// The share of `Tr C` on the dropped modes.
    pub trace_c_share: f64,
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
    /// throughout; `problem`'s batch and noise mode are not used): dense up to
    /// [`MAX_DENSE_PARAMS`] parameters, truncated above.
    pub fn at_minimum<B: AutodiffBackend>(
        problem: &NetworkProblem<B>,
        theta: &Params<B>,
    ) -> Result<Self, String> {
        if problem.model.arch.n_params() > MAX_DENSE_PARAMS {
            return Self::truncated(problem, theta);
        }
        let device = problem.x.device();
        // A smooth MLP's finite-difference Hessian is the cost of the fit: it is built by
        // forward differences and kept while Newton converges fast. Logistic regression's is
        // analytic and cheap; a ReLU net's needs central differences that step around its kinks,
        // and its polish wanders off (to |g| = 4e-2 in validation/net_relu.toml) on a kept one.
        let arch = &problem.model.arch;
        let smooth_mlp = arch.sizes.len() > 2 && arch.activation != crate::net::Activation::Relu;
        let reuse = if smooth_mlp { Reuse::WhileContracting } else { Reuse::Never };
        let (theta_star, g, loss, steps) =
            newton_polish(problem, theta.to_vec(), reuse, |t, g| {
                let h = if smooth_mlp {
                    forward_difference_hessian(problem, t, g, &device)
                } else {
                    dense_hessian(problem, t, &device).0
                };
                damped_newton_solve(&h)
            })?;
        let (hessian, source) = dense_hessian(problem, &theta_star, &device);
        let newton_decrement = match nalgebra::Cholesky::new(hessian.clone()) {
            Some(c) => g.dot(&c.solve(&g)),
            None => f64::INFINITY,
        };
        let minimum =
            Minimum { loss, gradient_norm: g.norm(), newton_decrement, newton_steps: steps };
        let d = theta_star.len();
        let star = Params::<B>::from_vec(&theta_star, &theta.tensor.device());
        let eig = nalgebra::SymmetricEigen::new(hessian);
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        let lambda = DVector::from_iterator(d, order.iter().map(|&i| eig.eigenvalues[i]));
        let basis = DMatrix::from_fn(d, d, |r, c| eig.eigenvectors[(r, order[c])]);
        let (c, trace_c, n) = noise_along(problem, &star, &basis)?;
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
            trace_h_se: 0.0,
            trace_c,
            bulk: None,
            saddle: None,
            modes,
        })
    }

    /// The truncated model (see the module doc), whatever the parameter count (the tests compare
    /// it with the dense model): logistic regression only, whose data term is convex, so that
    /// `λ >= l2` bounds the unresolved modes below.
    pub fn truncated<B: AutodiffBackend>(
        problem: &NetworkProblem<B>,
        theta: &Params<B>,
    ) -> Result<Self, String> {
        let d = problem.model.arch.n_params();
        if problem.model.arch.sizes.len() != 2 || problem.l2 <= 0.0 {
            return Err(format!("the model has {d} parameters (a dense Hessian takes at most {MAX_DENSE_PARAMS}); the truncated model needs a lower bound on the Hessian's spectrum, known here only for logistic regression with L2 > 0 (λ >= L2)"));
        }
        let (theta_star, g, loss, steps) =
            newton_polish(problem, theta.to_vec(), Reuse::Never, |t, _| {
                let t = t.to_vec();
                // Inexact Newton: a relative residual of min(1/2, sqrt|g|) keeps the
                // convergence superlinear.
                Ok(Box::new(move |g: &DVector<f64>| {
                    conjugate_gradient(problem, &t, g, g.norm().sqrt().min(0.5)).map(|(s, _)| s)
                }))
            })?;
        let newton_decrement = match conjugate_gradient(problem, &theta_star, &g, 1e-6)? {
            (s, true) => g.dot(&s),
            (_, false) => f64::INFINITY,
        };
        let minimum =
            Minimum { loss, gradient_norm: g.norm(), newton_decrement, newton_steps: steps };
        let star = Params::<B>::from_vec(&theta_star, &theta.tensor.device());
        let top = top_eigenpairs(problem, &star, TRUNCATED_MODES, LANCZOS_STEPS, HVP_EPS, 0);
        let k = top.values.len();
        let max_relative_residual =
            top.values.iter().zip(&top.residuals).map(|(l, r)| r / l.abs()).fold(0.0, f64::max);
        if max_relative_residual.is_nan() || max_relative_residual > MAX_RITZ_RESIDUAL {
            return Err(format!("Lanczos did not resolve the top {k} eigenpairs in {LANCZOS_STEPS} steps: the largest relative residual is {max_relative_residual:.1e}, above {MAX_RITZ_RESIDUAL:.0e}"));
        }
        // Ascending, like the dense model's modes.
        let vectors: Vec<Vec<f64>> =
            top.vectors.iter().rev().map(|v| host_f64(v.clone())).collect();
        let lambda = DVector::from_iterator(k, top.values.iter().rev().copied());
        let basis = DMatrix::from_fn(d, k, |r, c| vectors[c][r]);
        let (c, trace_c, n) = noise_along(problem, &star, &basis)?;
        let bulk = Bulk {
            modes: d - k,
            trace_c: (trace_c - c.sum()).max(0.0),
            lambda_lower: problem.l2,
            lambda_upper: top.values[k - 1] + top.residuals[k - 1],
        };
        let trace_h = hessian_stats(problem, &star, TRACE_PROBES, HVP_EPS, 0).trace;
        let modes = Modes { lambda, c };
        Ok(Self {
            theta_star,
            minimum,
            n,
            params: d,
            hessian: HessianSource::Lanczos {
                modes: k,
                steps: LANCZOS_STEPS,
                max_relative_residual,
                probes: TRACE_PROBES,
            },
            lambda_min: problem.l2,
            lambda_max: modes.lambda_max(),
            trace_h: trace_h.value,
            trace_h_se: trace_h.se,
            trace_c,
            bulk: Some(bulk),
            saddle: None,
            modes,
        })
    }

    /// At a saddle (`λ_min <= 0`, dense model), the quadratic model of its positive-curvature
    /// modes alone, so that a prediction can be made and shown to hold or fail: the modes with
    /// `λ <= 0` and their `C'_ii` are dropped (and reported in [`Saddle`]), `Tr H` and `Tr C` are
    /// those of the modes kept, and θ*'s distance from the kept quadratic's minimum is bounded by
    /// `gᵀH₊⁻¹g <= |g|^2 / λ_min₊` and reported, not refused: the point is to measure how far the
    /// prediction fails there. Unchanged at a minimum or for a truncated model.
    pub fn positive_part(mut self) -> Self {
        if self.lambda_min > 0.0 || self.bulk.is_some() {
            return self;
        }
        let keep: Vec<usize> =
            (0..self.modes.dim()).filter(|&i| self.modes.lambda[i] > 0.0).collect();
        let pick =
            |v: &DVector<f64>| DVector::from_iterator(keep.len(), keep.iter().map(|&i| v[i]));
        let kept = Modes { lambda: pick(&self.modes.lambda), c: pick(&self.modes.c) };
        let kept_c = kept.c.sum();
        self.saddle = Some(Saddle {
            dropped: self.modes.dim() - keep.len(),
            lambda_min: self.lambda_min,
            trace_c_share: 1.0 - kept_c / self.trace_c,
        });
        self.lambda_min = kept.lambda.min();
        self.trace_h = kept.lambda.sum();
        self.trace_c = kept_c;
        self.minimum.newton_decrement = self.minimum.gradient_norm.powi(2) / self.lambda_min;
        self.modes = kept;
        self
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
    pub fn predict(&self, formula: Formula, r: &Regime) -> Result<Prediction, String> {
        if self.lambda_min <= 0.0 {
            let negative = self.modes.lambda.iter().filter(|&&l| l <= 0.0).count();
            let kinks = match self.hessian {
                HessianSource::FiniteDifference { relu_flips, .. } if relu_flips > 0 => format!("; {relu_flips} ReLU units changed sign inside the finite differences, so the loss has kinks there and H is not its second derivative"),
                _ => String::new(),
            };
            return Err(format!(
                "θ* is not a minimum: the smallest Hessian eigenvalue is {:.3e} <= 0 ({negative} of {} eigenvalues <= 0{kinks})",
                self.lambda_min,
                self.modes.lambda.len()
            ));
        }
        let f = self.noise_factor(r).map_err(|e| e.to_string())?;
        let leading = r.eta * f / (4.0 * (1.0 - r.momentum));
        // The exact discrete value (or the f-formula) of a set of modes.
        let of_modes = |modes: &Modes| -> Result<f64, String> {
            if formula == Formula::Exact && r.sampling == Sampling::Reshuffle {
                if r.momentum > 0.0 {
                    return Err(
                        "the exact reshuffling theory is for plain SGD (momentum = 0)".into()
                    );
                }
                theory::reshuffle::stationary_loss(modes, r.eta, r.batch, self.n)
            } else if r.momentum > 0.0 {
                theory::momentum::stationary_loss(modes, r.eta, r.momentum, f)
            } else {
                theory::sgd::stationary_loss(modes, r.eta, f)
            }
            .map_err(|e| e.to_string())
        };
        let prediction = match formula {
            Formula::Continuous => Prediction::exact(leading * self.trace_c),
            Formula::CEqualsH => Prediction {
                lower: leading * self.trace_h,
                upper: leading * self.trace_h,
                se: leading * self.trace_h_se,
            },
            Formula::Exact | Formula::FFormula => {
                let resolved = of_modes(&self.modes)?;
                match &self.bulk {
                    None => Prediction::exact(resolved),
                    Some(bulk) => {
                        let (lo, hi) = bulk_share(bulk, &of_modes)?;
                        Prediction { lower: resolved + lo, upper: resolved + hi, se: 0.0 }
                    }
                }
            }
        };
        let value = prediction.value();
        let bias = 0.5 * self.minimum.newton_decrement;
        if bias > MAX_START_BIAS * value.abs() && self.saddle.is_none() {
            return Err(format!(
                "θ* is not close enough to a minimum: its loss lies 1/2 gᵀH⁻¹g = {bias:.3e} above the quadratic's minimum, more than {MAX_START_BIAS} of the prediction {value:.3e} (|g| = {:.3e})",
                self.minimum.gradient_norm
            ));
        }
        Ok(prediction)
    }

    /// Steps after which the transient from `x = 0` is below `tolerance` of the stationary
    /// loss: the smallest B with `Σ_i w_i ρ_i^{2B} <= tolerance Σ_i w_i`, `w_i = C'_ii / (1 -
    /// eta λ_i/(2(1+m)))`, `ρ_i` heavy ball's per-mode contraction (|1 - eta λ_i| without momentum).
    pub fn burn_in(&self, r: &Regime, tolerance: f64) -> usize {
        let per_mode: Vec<(f64, f64)> = self
            .modes
            .lambda
            .iter()
            .copied()
            .zip(self.modes.c.iter().copied())
            // A truncated model's bulk transient is bounded by its slowest possible mode.
            .chain(self.bulk.map(|b| (b.lambda_lower, b.trace_c)))
            .map(|(l, c)| {
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

/// The bulk's share of a modal sum `Σ_i C'_ii φ(λ_i)` (linear in `C'_ii`, one term per mode):
/// between `R min φ` and `R max φ` over `λ` in the bulk's range, `φ` evaluated through
/// `of_modes` on one mode of unit `C'` at 129 points (the ends included; the formulas here are
/// monotone in `λ`, so the ends decide, and the grid guards the rest).
fn bulk_share(
    bulk: &Bulk,
    of_modes: &dyn Fn(&Modes) -> Result<f64, String>,
) -> Result<(f64, f64), String> {
    const POINTS: usize = 129;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for j in 0..POINTS {
        let t = j as f64 / (POINTS - 1) as f64;
        let lambda = bulk.lambda_lower + t * (bulk.lambda_upper - bulk.lambda_lower);
        let phi = of_modes(&Modes {
            lambda: DVector::from_element(1, lambda),
            c: DVector::from_element(1, 1.0),
        })?;
        lo = lo.min(phi);
        hi = hi.max(phi);
    }
    Ok((bulk.trace_c * lo, bulk.trace_c * hi))
}

/// `C'_ii` along each (orthonormal) column of `basis`, `Tr(C)` and N, for `C` the population
/// covariance of one example's gradient at θ.
fn noise_along<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    basis: &DMatrix<f64>,
) -> Result<(DVector<f64>, f64, usize), String> {
    let mut g = per_example_gradients(p, theta, MAX_GRADIENT_BYTES)?;
    let n = g.nrows();
    let mean = g.row_mean();
    for mut row in g.row_iter_mut() {
        row -= &mean;
    }
    let trace_c = g.iter().map(|v| v * v).sum::<f64>() / n as f64;
    let projected = g * basis;
    let c = DVector::from_iterator(
        basis.ncols(),
        projected.column_iter().map(|col| col.norm_squared() / n as f64),
    );
    Ok((c, trace_c, n))
}

/// Solves `H(θ) s = g` by conjugate gradients on Hessian-vector products, from `s = 0`, until the
/// residual is below `tolerance |g|` (`true`) or [`MAX_CG_PRODUCTS`] products are spent (`false`,
/// with the last iterate, still a descent direction). Curvature `qᵀHq <= 0` along a search
/// direction means θ is not near a minimum: an error.
fn conjugate_gradient<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    g: &DVector<f64>,
    tolerance: f64,
) -> Result<(DVector<f64>, bool), String> {
    let device = p.x.device();
    let d = theta.len();
    let t = Tensor::<B, 1>::from_data(TensorData::new(theta.to_vec(), [d]), &device);
    let apply = |v: &DVector<f64>| {
        let v = Tensor::from_data(TensorData::new(v.as_slice().to_vec(), [d]), &device);
        DVector::from_vec(host_f64(hvp(p, &t, &v, HVP_EPS).hv))
    };
    let mut s = DVector::zeros(d);
    let mut r = g.clone();
    let mut q = r.clone();
    let mut rr = r.norm_squared();
    let target = tolerance * tolerance * rr;
    for _ in 0..MAX_CG_PRODUCTS {
        if rr <= target {
            return Ok((s, true));
        }
        let hq = apply(&q);
        let curvature = q.dot(&hq);
        if curvature.is_nan() || curvature <= 0.0 {
            return Err(format!("θ is not near a minimum: the curvature along a conjugate-gradient direction is {:.3e} <= 0", curvature / q.norm_squared()));
        }
        let a = rr / curvature;
        s.axpy(a, &q, 1.0);
        r.axpy(-a, &hq, 1.0);
        let next = r.norm_squared();
        q = &r + &q * (next / rr);
        rr = next;
    }
    Ok((s, rr <= target))
}

/// The Newton solve `g ↦ (H + mu I)^{-1} g` by a Cholesky factor, with Levenberg damping `mu`
/// raised from 0 until the matrix is positive definite.
fn damped_newton_solve(h: &DMatrix<f64>) -> Result<NewtonSolve<'static>, String> {
    let mut mu = 0.0;
    loop {
        let damped = h + DMatrix::identity(h.nrows(), h.ncols()) * mu;
        if let Some(c) = nalgebra::Cholesky::new(damped) {
            return Ok(Box::new(move |g: &DVector<f64>| Ok(c.solve(g))));
        }
        mu = if mu == 0.0 { 1e-6 * h.diagonal().abs().max().max(1e-12) } else { mu * 10.0 };
        if !mu.is_finite() || mu > 1e12 {
            return Err(
                "Newton polishing failed: the Hessian could not be made positive definite".into()
            );
        }
    }
}

/// The full-batch gradient and loss on the host.
fn gradient_and_loss<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    device: &B::Device,
) -> (DVector<f64>, f64) {
    let t = Tensor::<B, 1>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device);
    (host_gradient(p, &t), p.mean_loss(&t))
}

/// The full-batch gradient on the host.
fn host_gradient<B: AutodiffBackend>(p: &NetworkProblem<B>, theta: &Tensor<B, 1>) -> DVector<f64> {
    DVector::from_vec(Params::new(p.full_gradient(theta)).to_vec())
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
        h.set_column(j, &DVector::from_vec(host_f64(col.hv)));
    }
    let asymmetry = (&h - h.transpose()).norm() / h.norm().max(f64::MIN_POSITIVE);
    let sym = (&h + h.transpose()) * 0.5;
    (sym, HessianSource::FiniteDifference { eps, relu_flips: flips, asymmetry })
}

/// A smooth MLP's Hessian for a Newton step: forward differences of the full gradient
/// `(g(θ + ε e_j) - g(θ)) / ε` (ε = [`NEWTON_FD_EPS`]), symmetrised. Half the gradients of
/// [`dense_hessian`]'s central differences, at an O(ε) error that only slows the polish's last
/// step (the Hessian at θ* is [`dense_hessian`]'s).
fn forward_difference_hessian<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    g: &DVector<f64>,
    device: &B::Device,
) -> DMatrix<f64> {
    let d = theta.len();
    let h = DMatrix::from_columns(
        &(0..d)
            .map(|j| {
                let mut shifted = theta.to_vec();
                shifted[j] += NEWTON_FD_EPS;
                let shifted = Tensor::<B, 1>::from_data(TensorData::new(shifted, [d]), device);
                (host_gradient(p, &shifted) - g) / NEWTON_FD_EPS
            })
            .collect::<Vec<_>>(),
    );
    (&h + h.transpose()) * 0.5
}

/// Logistic regression's Hessian in θ's layout (W row-major `d_in x K`, then the K biases):
/// with `x̃ = (x, 1)` and `A_n = diag(p_n) - p_n p_nᵀ` (`p(1-p)` for one output),
/// `H[(i,k),(j,l)] = (1/N) Σ_n x̃_ni x̃_nj A_n[k,l] + l2 δ`.
fn logistic_hessian<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &[f64],
    device: &B::Device,
) -> DMatrix<f64> {
    let t = Direction::<B>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device);
    let x = p.x.clone().inner();
    let z = host_f64(p.model.forward(&t, x.clone(), None).logits);
    let x = host_f64(x);
    let k = p.model.arch.outputs();
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

/// Newton's linear solve at one θ: `g ↦` about `H(θ)^{-1} g`.
type NewtonSolve<'a> = Box<dyn Fn(&DVector<f64>) -> Result<DVector<f64>, String> + 'a>;

/// When [`newton_polish`] may solve with a Hessian from an earlier θ (the chord method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reuse {
    /// A fresh solve at every step (when building one costs no more than using it).
    Never,
    /// Keep the solve while each full step shrinks |g| at least [`CHORD_CONTRACTION`]-fold.
    WhileContracting,
}

/// A kept Hessian must have shrunk the gradient by this factor on its last full step.
const CHORD_CONTRACTION: f64 = 0.25;

/// Damped Newton steps with a backtracking line search from `theta` until the gradient stops
/// shrinking (rounding level): `solve_at(θ, g)` gives the Newton solve at θ, which
/// [`Reuse::WhileContracting`] keeps for the next step while it converges fast (a stale solve
/// is replaced, never trusted for the stopping rule). Returns θ*, its gradient and loss, and the
/// steps taken.
fn newton_polish<'a, B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    mut theta: Vec<f64>,
    reuse: Reuse,
    mut solve_at: impl FnMut(&[f64], &DVector<f64>) -> Result<NewtonSolve<'a>, String>,
) -> Result<(Vec<f64>, DVector<f64>, f64, usize), String> {
    let device = p.x.device();
    let (mut g, mut loss) = gradient_and_loss(p, &theta, &device);
    let mut steps = 0;
    // A solve kept from an earlier θ.
    let mut kept: Option<NewtonSolve> = None;
    for _ in 0..MAX_NEWTON_STEPS {
        let (newton, fresh) = match kept.take() {
            Some(s) => (s, false),
            None => (solve_at(&theta, &g)?, true),
        };
        let direction = newton(&g)?;
        let mut t = 1.0;
        let mut improved = None;
        for _ in 0..40 {
            let trial: Vec<f64> =
                theta.iter().zip(direction.iter()).map(|(a, s)| a - t * s).collect();
            let (g2, l2) = gradient_and_loss(p, &trial, &device);
            if l2 < loss || (l2 <= loss + 1e-15 * loss.abs() && g2.norm() < g.norm()) {
                improved = Some((trial, g2, l2));
                break;
            }
            t *= 0.5;
        }
        let Some((trial, g2, l2)) = improved else {
            if fresh {
                break;
            }
            continue;
        };
        steps += 1;
        let ratio = g2.norm() / g.norm();
        let converged = fresh && ratio >= 0.5 && g2.norm() < 1e-8 * (1.0 + loss.abs());
        if reuse == Reuse::WhileContracting && t == 1.0 && ratio <= CHORD_CONTRACTION {
            kept = Some(newton);
        }
        theta = trial;
        g = g2;
        loss = l2;
        if converged || g.norm() < 1e-13 {
            break;
        }
    }
    Ok((theta, g, loss, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made model at a saddle: refused as it is; its positive part keeps the two modes
    /// with λ > 0, reports what it dropped, and predicts what the theory gives for those modes.
    #[test]
    fn the_positive_part_of_a_saddle_keeps_and_reports() {
        let modes = Modes {
            lambda: DVector::from_vec(vec![-0.5, 0.0, 1.0, 2.0]),
            c: DVector::from_vec(vec![0.1, 0.2, 0.3, 0.4]),
        };
        let saddle = LocalQuadratic {
            theta_star: vec![0.0; 4],
            minimum: Minimum {
                loss: 1.0,
                gradient_norm: 1e-3,
                newton_decrement: f64::INFINITY,
                newton_steps: 3,
            },
            n: 100,
            params: 4,
            hessian: HessianSource::FiniteDifference { eps: 1e-5, relu_flips: 0, asymmetry: 0.0 },
            lambda_min: -0.5,
            lambda_max: 2.0,
            trace_h: 2.5,
            trace_h_se: 0.0,
            trace_c: 1.0,
            bulk: None,
            saddle: None,
            modes,
        };
        let r = Regime { eta: 0.5, batch: 10, sampling: Sampling::WithReplacement, momentum: 0.0 };
        let refused = saddle.predict(Formula::Exact, &r).unwrap_err();
        assert!(refused.contains("2 of 4 eigenvalues <= 0"), "{refused}");
        let kept = saddle.positive_part();
        let s = kept.saddle.unwrap();
        assert_eq!((s.dropped, s.lambda_min), (2, -0.5));
        assert!((s.trace_c_share - 0.3).abs() < 1e-12);
        assert_eq!((kept.lambda_min, kept.trace_h, kept.modes.dim()), (1.0, 3.0, 2));
        assert!((kept.trace_c - 0.7).abs() < 1e-12);
        assert!((kept.minimum.newton_decrement - 1e-6).abs() < 1e-18);
        let exact = kept.predict(Formula::Exact, &r).unwrap().value();
        let theory = 0.5 * 0.1 / 4.0 * (0.3 / (1.0 - 0.25) + 0.4 / (1.0 - 0.5));
        assert!((exact - theory).abs() < 1e-12 * theory, "{exact} vs {theory}");
    }

    /// The chord polish (forward-difference Hessians kept while Newton contracts fast) reaches
    /// the minimum the fresh central-difference Newton reaches, on a tanh MLP from a rough start,
    /// with fewer Hessians.
    #[test]
    fn the_chord_polish_finds_the_fresh_newton_minimum() {
        use crate::net::{Activation, Architecture, CpuF64, Model};
        let (train, _) = crate::net::data::embedded_fashion_mnist();
        let data = train.pooled(7).unwrap().stratified_subset(100, 1).unwrap();
        let arch = Architecture::new(vec![16, 3, 10]).unwrap().with_activation(Activation::Tanh);
        let model = Model::new(arch);
        let device = Default::default();
        let p = NetworkProblem::<CpuF64>::new(
            model.clone(),
            &data,
            data.len(),
            crate::net::NoiseMode::FullBatch,
            1e-2,
            &device,
        )
        .unwrap();
        // A rough start: 200 full-batch gradient steps from the initialisation.
        let mut theta = model.init::<CpuF64>(1, &device).to_vec();
        for _ in 0..200 {
            let t = Tensor::<CpuF64, 1>::from_data(
                TensorData::new(theta.clone(), [theta.len()]),
                &device,
            );
            let g = host_gradient(&p, &t);
            theta.iter_mut().zip(g.iter()).for_each(|(a, b)| *a -= 0.5 * b);
        }
        let hessians = std::cell::Cell::new(0);
        let (p, hessians, device) = (&p, &hessians, &device);
        let solve = |smooth: bool| {
            move |t: &[f64], g: &DVector<f64>| -> Result<NewtonSolve<'static>, String> {
                hessians.set(hessians.get() + 1);
                let h = if smooth {
                    forward_difference_hessian(p, t, g, device)
                } else {
                    dense_hessian(p, t, device).0
                };
                damped_newton_solve(&h)
            }
        };
        let (fresh, g_fresh, _, _) =
            newton_polish(p, theta.clone(), Reuse::Never, solve(false)).unwrap();
        let fresh_hessians = hessians.replace(0);
        let (chord, g_chord, _, _) =
            newton_polish(p, theta, Reuse::WhileContracting, solve(true)).unwrap();
        assert!(
            g_fresh.norm() < 1e-12 && g_chord.norm() < 1e-12,
            "{} {}",
            g_fresh.norm(),
            g_chord.norm()
        );
        let distance = fresh.iter().zip(&chord).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        assert!(distance < 1e-9, "the two polishes end {distance:.1e} apart");
        assert!(
            hessians.get() < fresh_hessians,
            "{} Hessians against {fresh_hessians}",
            hessians.get()
        );
    }
}
