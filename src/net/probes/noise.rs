//! The gradient-noise covariance through its trace, from per-example gradient norms.
//!
//! One backward pass gives every example's gradient norm: add zero leaf tensors e_l to each
//! layer's pre-activation, back-propagate the SUM of the per-example losses, and read
//! `delta_{l,n} = d l_n / d z_{l,n}` from the leaves' gradients. Example n's gradient for layer l
//! is `a_{l-1,n} (x) delta_{l,n}` (weights) and `delta_{l,n}` (bias), so
//! `|g_n|^2 = sum_l (|a_{l-1,n}|^2 + 1) |delta_{l,n}|^2` without forming any outer product.

use super::Direction;
use crate::net::backprop::ExampleWeights;
use crate::net::model::{Norm, ThetaLeaves};
use crate::net::params::Params;
use crate::net::problem::NetworkProblem;
use burn::tensor::{backend::AutodiffBackend, ElementConversion, Tensor};

/// `Tr(C) = mean_n |g_n|^2 - |mean_n g_n|^2` (C population-normalised, data term only), the full
/// gradient (including any L2 term) and the simple noise scale `B_simple = Tr(C) / |g|^2`.
/// Exact over the N training examples (no sampling error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientNoise {
    pub trace_c: f64,
    pub mean_example_norm2: f64,
    pub gradient_norm2: f64,
    pub b_simple: f64,
}

pub fn gradient_noise<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
) -> Result<GradientNoise, String> {
    if p.model.arch.batch_norm {
        return Err("the gradient-noise probe needs per-example gradients, which batch norm does not define (examples interact through the batch statistics)".into());
    }
    let chunk = 4096;
    let mut sum_norm2 = 0.0;
    let mut grad_sum: Option<Tensor<B, 1>> = None;
    let mut start = 0;
    while start < p.n {
        let len = chunk.min(p.n - start);
        let th = ThetaLeaves::new(&p.model.arch, &theta.tensor);
        let x = p.x.clone().narrow(0, start, len);
        let t = p.targets.clone().narrow(0, start, len);
        let device = x.device();
        let leaves: Vec<Tensor<B, 2>> = p.model.arch.sizes[1..]
            .iter()
            .map(|&w| Tensor::zeros([len, w], &device).require_grad())
            .collect();
        let f = p.model.forward_layers(&p.model.layers(&th.blocks), x, Some(&leaves), Norm::Batch);
        let loss = p.model.per_example_loss(f.logits, t).sum();
        let grads = loss.backward();
        let mut norm2: Option<Tensor<B::InnerBackend, 1>> = None;
        for (leaf, a) in leaves.iter().zip(&f.inputs) {
            let delta = leaf.grad(&grads).expect("leaf requires grad");
            let a = a.clone().inner();
            let a2 = (a.clone() * a).sum_dim(1).reshape([len]) + 1.0;
            let d2 = (delta.clone() * delta).sum_dim(1).reshape([len]);
            let term = a2 * d2;
            norm2 = Some(match norm2 {
                Some(n) => n + term,
                None => term,
            });
        }
        sum_norm2 += norm2.expect("at least one layer").sum().into_scalar().elem::<f64>();
        let g = th.gradient(&grads);
        grad_sum = Some(match grad_sum {
            Some(s) => s + g,
            None => g,
        });
        start += len;
    }
    let mean_grad = grad_sum.expect("n >= 1").div_scalar(p.n as f64);
    let mean_example_norm2 = sum_norm2 / p.n as f64;
    let data_norm2 = (mean_grad.clone() * mean_grad.clone()).sum().into_scalar().elem::<f64>();
    let full = mean_grad + theta.tensor.clone().mul_scalar(p.l2);
    let gradient_norm2 = (full.clone() * full).sum().into_scalar().elem::<f64>();
    let trace_c = mean_example_norm2 - data_norm2;
    Ok(GradientNoise {
        trace_c,
        mean_example_norm2,
        gradient_norm2,
        b_simple: trace_c / gradient_norm2,
    })
}

/// A random vector with covariance C, the population covariance of one example's gradient (data
/// term): `u = N^{-1/2} sum_n xi_n (g_n - G)` with Rademacher `xi` drawn from `rng`, so
/// `E[u u^T] = (1/N) sum_n (g_n - G)(g_n - G)^T = C` exactly. One weighted backward pass:
/// `sum_n xi_n g_n` is the gradient of `sum_n xi_n l_n`. `mean` is G, the data term's mean
/// gradient (the full gradient when `p` has no L2).
pub fn covariance_probe<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    mean: &Direction<B>,
    rng: &mut impl rand::Rng,
) -> Direction<B> {
    let xi = super::hessian::rademacher::<B::InnerBackend>(p.n, rng, &theta.tensor.device());
    let root = (p.n as f64).sqrt();
    let sum = xi.clone().sum().into_scalar().elem::<f64>() / root;
    let w = xi.div_scalar(root);
    let mut data_term = p.weighted_gradient(&theta.tensor, None, ExampleWeights::Each(w)).inner();
    if p.l2 > 0.0 {
        data_term = data_term - theta.tensor.clone().inner().mul_scalar(p.l2);
    }
    data_term - mean.clone().mul_scalar(sum)
}

/// Every example's gradient of its own loss (the data term; no L2), as the rows of an N x d
/// matrix on the host, from one backward pass per chunk: the leaf trick above gives
/// `delta_{l,n}`, and the weight block of example n is the outer product `a_{l-1,n} (x) delta_{l,n}`
/// in θ's row-major layout (bias: `delta_{l,n}`). Refused with batch norm, and when the matrix
/// would exceed `max_bytes`.
pub fn per_example_gradients<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
    max_bytes: usize,
) -> Result<nalgebra::DMatrix<f64>, String> {
    if p.model.arch.batch_norm {
        return Err("per-example gradients are not defined with batch norm (examples interact through the batch statistics)".into());
    }
    let d = p.model.arch.n_params();
    let bytes = p.n.saturating_mul(d).saturating_mul(8);
    if bytes > max_bytes {
        return Err(format!("the per-example gradients of {} examples x {d} parameters need {:.1} GB (limit {:.1} GB)", p.n, bytes as f64 / 1e9, max_bytes as f64 / 1e9));
    }
    let host = crate::net::backend::host_f64::<B::InnerBackend, 2>;
    let mut g = nalgebra::DMatrix::<f64>::zeros(p.n, d);
    let chunk = 4096;
    let mut start = 0;
    while start < p.n {
        let len = chunk.min(p.n - start);
        let th = theta.tensor.clone().detach();
        let x = p.x.clone().narrow(0, start, len);
        let t = p.targets.clone().narrow(0, start, len);
        let device = x.device();
        let leaves: Vec<Tensor<B, 2>> = p.model.arch.sizes[1..]
            .iter()
            .map(|&w| Tensor::zeros([len, w], &device).require_grad())
            .collect();
        let f = p.model.forward(&th, x, Some(&leaves));
        let grads = p.model.per_example_loss(f.logits, t).sum().backward();
        for (((leaf, a), (w_off, b_off, _)), w) in leaves
            .iter()
            .zip(&f.inputs)
            .zip(p.model.arch.offsets())
            .zip(p.model.arch.sizes.windows(2))
        {
            let delta = host(leaf.grad(&grads).expect("leaf requires grad"));
            let a = host(a.clone().inner());
            let (fan_in, fan_out) = (w[0], w[1]);
            for r in 0..len {
                let (ar, dr) =
                    (&a[r * fan_in..(r + 1) * fan_in], &delta[r * fan_out..(r + 1) * fan_out]);
                for (i, &ai) in ar.iter().enumerate() {
                    for (j, &dj) in dr.iter().enumerate() {
                        g[(start + r, w_off + i * fan_out + j)] = ai * dj;
                    }
                }
                for (j, &dj) in dr.iter().enumerate() {
                    g[(start + r, b_off + j)] = dj;
                }
            }
        }
        start += len;
    }
    Ok(g)
}

/// Every example's gradient by its own backward pass (slow; for checking the trick above).
pub fn per_example_gradients_loop<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    theta: &Params<B>,
) -> Vec<Vec<f64>> {
    let l2 = NetworkProblem { l2: 0.0, ..p.clone() };
    (0..p.n)
        .map(|i| {
            let g = l2.weighted_gradient(&theta.tensor, Some(&[i]), ExampleWeights::Uniform(1.0));
            Params::new(g).to_vec()
        })
        .collect()
}
