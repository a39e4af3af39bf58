use super::exact_hvp::ExactHessian;
use super::{dot, Direction};
use crate::net::backend::{flex_f64, host_f64, is_cpu_f64};
use crate::net::params::Params;
use crate::net::problem::NetworkProblem;
use crate::rng;
use crate::stats::Estimate;
use burn::backend::Flex;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use rand::Rng;

/// `H v` with the step actually used and the ReLU units that changed sign between `θ ± eps u`
/// (`eps = 0` and no flips for an exact product).
#[derive(Debug, Clone)]
pub struct Hvp<B: AutodiffBackend> {
    pub hv: Direction<B>,
    pub eps: f64,
    pub relu_flips: usize,
}

/// `v ↦ H v` at a fixed θ: exact ([`ExactHessian`]) for MLPs without batch norm, else [`hvp`]'s
/// central differences with step `eps`. Build it once per θ: the exact operator keeps the forward
/// pass at θ for all its products. θ is given as training left it; the directions and the
/// products are [`Direction`]s (inner tensors, no autodiff graph).
pub enum HessianOperator<'a, B: AutodiffBackend> {
    Exact(ExactHessian<B::InnerBackend>),
    /// [`CpuF64`](crate::net::CpuF64)'s exact products, computed in f64 on Flex
    /// ([`flex_f64`]), with `B`'s device to bring them back to.
    ExactOnFlexF64(Box<ExactHessian<Flex>>, B::Device),
    CentralDifference {
        problem: &'a NetworkProblem<B>,
        theta: Tensor<B, 1>,
        eps: f64,
    },
}

impl<'a, B: AutodiffBackend> HessianOperator<'a, B> {
    pub fn new(problem: &'a NetworkProblem<B>, theta: &Tensor<B, 1>, eps: f64) -> Self {
        let (model, l2) = (&problem.model, problem.l2);
        if model.arch.batch_norm {
            return Self::CentralDifference { problem, theta: theta.clone(), eps };
        }
        let exact = "no batch norm, so the exact operator exists";
        if is_cpu_f64::<B>() {
            let on_flex = |t: &Tensor<B, 2>| flex_f64(host_f64(t.clone().inner()), t.dims());
            let (x, t) = (on_flex(&problem.x), on_flex(&problem.targets));
            let th = flex_f64(host_f64(theta.clone().inner()), theta.dims());
            let op = ExactHessian::new(model, x, t, l2, &th).expect(exact);
            return Self::ExactOnFlexF64(Box::new(op), theta.device());
        }
        let (x, t) = (problem.x.clone().inner(), problem.targets.clone().inner());
        Self::Exact(ExactHessian::new(model, x, t, l2, &theta.clone().inner()).expect(exact))
    }
    pub fn apply(&self, v: &Direction<B>) -> Hvp<B> {
        match self {
            Self::Exact(op) => Hvp { hv: op.apply(v), eps: 0.0, relu_flips: 0 },
            Self::ExactOnFlexF64(op, device) => {
                let hv = host_f64(op.apply(&flex_f64(host_f64(v.clone()), v.dims())));
                let d = hv.len();
                Hvp {
                    hv: Tensor::from_data(TensorData::new(hv, [d]), device),
                    eps: 0.0,
                    relu_flips: 0,
                }
            }
            Self::CentralDifference { problem, theta, eps } => hvp(problem, theta, v, *eps),
        }
    }
}

/// The sign pattern of every hidden ReLU unit over the data (empty for smooth activations).
fn relu_signs<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Direction<B>,
) -> Vec<Tensor<B::InnerBackend, 2>> {
    if p.model.arch.activation != crate::net::Activation::Relu {
        return Vec::new();
    }
    let f = p.model.forward(theta, p.x.clone().inner(), None);
    let hidden = f.pre_activations.len() - 1;
    f.pre_activations.into_iter().take(hidden).map(|z| z.greater_elem(0.0).float()).collect()
}

/// `H v ≈ (g(θ + eps u) - g(θ - eps u)) / (2 eps) * |v|` with `u = v/|v|`, full-batch gradients.
/// If any hidden ReLU unit changes sign between the two points the difference is not a Hessian
/// product; the step is then divided by 10 (up to 3 times) and the flips of the last try reported.
pub fn hvp<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Tensor<B, 1>,
    v: &Direction<B>,
    eps: f64,
) -> Hvp<B> {
    let norm = dot(v, v).sqrt();
    let u = v.clone().div_scalar(norm);
    let theta = theta.clone().inner();
    let gradient = |t: &Direction<B>| p.full_gradient(&Tensor::from_inner(t.clone())).inner();
    let mut e = eps;
    let mut last = None;
    for _ in 0..4 {
        let tp = theta.clone() + u.clone().mul_scalar(e);
        let tm = theta.clone() - u.clone().mul_scalar(e);
        let flips: usize = relu_signs(p, &tp)
            .into_iter()
            .zip(relu_signs(p, &tm))
            .map(|(a, b)| (a - b).abs().sum().into_scalar().elem::<f64>() as usize)
            .sum();
        let hv = (gradient(&tp) - gradient(&tm)).mul_scalar(norm / (2.0 * e));
        last = Some(Hvp { hv, eps: e, relu_flips: flips });
        if flips == 0 {
            break;
        }
        e /= 10.0;
    }
    last.expect("at least one try")
}

/// A vector of `d` independent ±1 entries drawn from `r`.
pub(super) fn rademacher<K: Backend>(
    d: usize,
    r: &mut impl Rng,
    device: &K::Device,
) -> Tensor<K, 1> {
    // Built in the backend's own float type (±1 is exact in any), so no conversion pass.
    let (one, minus_one) = (1.0f64.elem::<K::FloatElem>(), (-1.0f64).elem::<K::FloatElem>());
    let v: Vec<K::FloatElem> =
        (0..d).map(|_| if r.random::<bool>() { one } else { minus_one }).collect();
    Tensor::from_data(TensorData::new(v, [d]), device)
}

/// Hutchinson estimates with Rademacher probes `v` (E v v^T = I): `Tr(H) = E[v^T H v]` and
/// `|H|_F^2 = E|H v|^2`, each with its standard error over the probes.
#[derive(Debug, Clone)]
pub struct HessianStats {
    pub trace: Estimate,
    /// The Frobenius norm `|H|_F`, with a delta-method standard error from `|H|_F^2`.
    pub frobenius: Estimate,
    pub probes: usize,
    /// ReLU sign flips summed over all probes' final tries (0 means every product was clean).
    pub relu_flips: usize,
}

pub fn hessian_stats<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    probes: usize,
    eps: f64,
    seed: u64,
) -> HessianStats {
    let d = theta.len();
    let device = theta.tensor.device();
    let mut traces = Vec::with_capacity(probes);
    let mut squares = Vec::with_capacity(probes);
    let mut flips = 0;
    let op = HessianOperator::new(p, &theta.tensor, eps);
    for i in 0..probes {
        let v = rademacher::<B::InnerBackend>(d, &mut rng::stream(seed, i as u64), &device);
        let h = op.apply(&v);
        flips += h.relu_flips;
        traces.push(dot(&v, &h.hv));
        squares.push(dot(&h.hv, &h.hv));
    }
    let f2 = Estimate::from_replicas(&squares);
    let f = f2.value.max(0.0).sqrt();
    HessianStats {
        trace: Estimate::from_replicas(&traces),
        frobenius: Estimate {
            value: f,
            se: f2.se / (2.0 * f.max(f64::MIN_POSITIVE)),
            method: f2.method,
        },
        probes,
        relu_flips: flips,
    }
}

/// The largest eigenvalue by power iteration. For a symmetric H, some eigenvalue lies within
/// `residual = |H v - lambda v|` of `lambda` (|v| = 1): that is the error bar reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerIteration {
    pub lambda: f64,
    pub residual: f64,
    pub iterations: usize,
    pub relu_flips: usize,
}

pub fn lambda_max<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    eps: f64,
    max_iter: usize,
    rel_tol: f64,
    seed: u64,
) -> PowerIteration {
    let d = theta.len();
    let device = theta.tensor.device();
    let mut v = rademacher::<B::InnerBackend>(d, &mut rng::stream(seed, u64::MAX), &device)
        .div_scalar((d as f64).sqrt());
    let mut out =
        PowerIteration { lambda: 0.0, residual: f64::INFINITY, iterations: 0, relu_flips: 0 };
    let op = HessianOperator::new(p, &theta.tensor, eps);
    for it in 1..=max_iter {
        let h = op.apply(&v);
        let lambda = dot(&v, &h.hv);
        let r = h.hv.clone() - v.clone().mul_scalar(lambda);
        let residual = dot(&r, &r).sqrt();
        out = PowerIteration { lambda, residual, iterations: it, relu_flips: h.relu_flips };
        if residual <= rel_tol * lambda.abs() {
            break;
        }
        let n = dot(&h.hv, &h.hv).sqrt();
        if n == 0.0 {
            break;
        }
        v = h.hv.div_scalar(n);
    }
    out
}
