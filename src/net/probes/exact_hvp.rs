//! Exact Hessian-vector products of an MLP's training loss by Pearlmutter's R-operator.
//!
//! For the loss `L(θ) = (1/n) sum_i l(z_L,i) + l2/2 |θ|^2` of an MLP without batch norm
//! (`z_l = a_{l-1} W_l + b_l`, `a_l = sigma(z_l)` for hidden layers, `a_0 = X`), back-propagation
//! gives `δ_L = ∂L/∂z_L`, `δ_{l-1} = (δ_l W_l^T) ⊙ sigma'(z_{l-1})` and `∂L/∂W_l = a_{l-1}^T δ_l`,
//! `∂L/∂b_l = 1^T δ_l`. `H v` is the derivative of that gradient along `v = (V_l, c_l)`,
//! `R{f} = d/dt f(θ + t v)` at `t = 0`, pushed through the same passes:
//!
//! ```text
//! R{z_l}     = R{a_{l-1}} W_l + a_{l-1} V_l + c_l          R{a_0} = 0
//! R{a_l}     = sigma'(z_l) ⊙ R{z_l}
//! R{δ_L}     = (1/n) l''(z_L) R{z_L}      softmax: p ⊙ R{z} - p (p^T R{z});  binary: s(1-s) R{z}
//! R{∂L/∂W_l} = a_{l-1}^T R{δ_l} + R{a_{l-1}}^T δ_l,          R{∂L/∂b_l} = 1^T R{δ_l}
//! R{δ_{l-1}} = (R{δ_l} W_l^T + δ_l V_l^T) ⊙ sigma'(z_{l-1}) + (δ_l W_l^T) ⊙ sigma''(z_{l-1}) ⊙ R{z_{l-1}}
//! H v        = R{∇L} + l2 v
//! ```
//!
//! with `sigma' = 1[z > 0]`, `sigma'' = 0` for ReLU (the Hessian of the piecewise-quadratic loss
//! on the piece that contains θ, as double back-propagation gives it) and `sigma' = 1 - a^2`,
//! `sigma'' = -2 a (1 - a^2)` for tanh. Invariant: no finite difference, so no step to choose, no
//! cancellation (f32 is as good as the gradient) and no ReLU unit can flip inside the product.
//!
//! The forward quantities at θ (inputs, `sigma'`, `δ`) are computed once and reused by every
//! product, chunk by chunk over the examples; they are kept between products only while they fit
//! in [`CACHE_ELEMENTS`] numbers, and recomputed per product otherwise. Per product the cost is
//! about 1.4 full-batch gradients (the R passes only), against 2 for a central difference.

use crate::net::backprop::{Backprop, ExampleWeights};
use crate::net::flex_matmul::matmul;
use crate::net::model::{Activation, Layer, Model};
use burn::tensor::{backend::Backend, Tensor};

/// The most numbers the cached forward quantities may hold (2^26: 512 MiB in f64).
pub const CACHE_ELEMENTS: usize = 1 << 26;
/// Examples per chunk of the forward and R passes.
const CHUNK: usize = 4096;

/// One chunk's forward quantities at θ: the back-propagation pass, and for tanh
/// `(δ_{l+1} W_{l+1}^T) ⊙ sigma''(z_l) = -2 a_l ⊙ δ_l` of every hidden layer.
struct ChunkState<B: Backend> {
    pass: Backprop<B>,
    curvatures: Vec<Tensor<B, 2>>,
}

/// `v ↦ H v` at a fixed θ for an MLP without batch norm.
pub struct ExactHessian<B: Backend> {
    model: Model,
    x: Tensor<B, 2>,
    targets: Tensor<B, 2>,
    l2: f64,
    /// `W_l` and `b_l` at θ.
    layers: Vec<Layer<B>>,
    chunks: Vec<std::ops::Range<usize>>,
    cached: Option<Vec<ChunkState<B>>>,
}

impl<B: Backend> ExactHessian<B> {
    /// The operator at θ for `model` on the rows `x` (targets one-hot, or n x 1 in {0, 1}), or
    /// `None` with batch norm (examples interact through the batch statistics; use a finite
    /// difference there).
    pub fn new(
        model: &Model,
        x: Tensor<B, 2>,
        targets: Tensor<B, 2>,
        l2: f64,
        theta: &Tensor<B, 1>,
    ) -> Option<Self> {
        Self::with_chunk(model, x, targets, l2, theta, CHUNK)
    }

    fn with_chunk(
        model: &Model,
        x: Tensor<B, 2>,
        targets: Tensor<B, 2>,
        l2: f64,
        theta: &Tensor<B, 1>,
        chunk: usize,
    ) -> Option<Self> {
        if model.arch.batch_norm {
            return None;
        }
        let n = x.dims()[0];
        let layers = model.layers_of(theta);
        let chunks = (0..n).step_by(chunk.max(1)).map(|s| s..(s + chunk).min(n)).collect();
        let mut op = Self { model: model.clone(), x, targets, l2, layers, chunks, cached: None };
        let hidden: usize = model.arch.sizes[1..model.arch.sizes.len() - 1].iter().sum();
        let per_example = model.arch.sizes[0] + 4 * hidden + 2 * model.arch.outputs();
        if n.saturating_mul(per_example) <= CACHE_ELEMENTS {
            op.cached = Some(op.chunks.clone().into_iter().map(|r| op.chunk_state(r)).collect());
        }
        Some(op)
    }

    /// The forward pass and back-propagated errors of the rows `rows` at θ.
    fn chunk_state(&self, rows: std::ops::Range<usize>) -> ChunkState<B> {
        let n = self.x.dims()[0] as f64;
        let pass = Backprop::new(
            &self.model,
            &self.layers,
            self.x.clone().slice([rows.clone()]),
            self.targets.clone().slice([rows]),
            &ExampleWeights::Uniform(1.0 / n),
        );
        let curvatures = match self.model.arch.activation {
            Activation::Tanh => (0..pass.slopes.len())
                .map(|l| pass.inputs[l + 1].clone() * pass.deltas[l].clone().mul_scalar(-2.0))
                .collect(),
            Activation::Relu => Vec::new(),
        };
        ChunkState { pass, curvatures }
    }

    /// `H v` for `v` in θ's layout.
    pub fn apply(&self, v: &Tensor<B, 1>) -> Tensor<B, 1> {
        let dirs = self.model.layers_of(v);
        let mut sum: Option<Vec<Tensor<B, 2>>> = None;
        for (k, rows) in self.chunks.iter().enumerate() {
            let fresh;
            let state = match &self.cached {
                Some(states) => &states[k],
                None => {
                    fresh = self.chunk_state(rows.clone());
                    &fresh
                }
            };
            let part = self.r_pass(state, &dirs);
            sum = Some(match sum {
                None => part,
                Some(s) => s.into_iter().zip(part).map(|(a, b)| a + b).collect(),
            });
        }
        let blocks = sum.expect("at least one example").into_iter().map(|t| t.flatten(0, 1));
        let hv = Tensor::cat(blocks.collect(), 0);
        if self.l2 > 0.0 {
            hv + v.clone().mul_scalar(self.l2)
        } else {
            hv
        }
    }

    /// One chunk's `R{∇L}` blocks in layout order (`W_1, b_1, W_2, ...`).
    fn r_pass(&self, state: &ChunkState<B>, dirs: &[Layer<B>]) -> Vec<Tensor<B, 2>> {
        let (s, layers) = (&state.pass, self.layers.len());
        let tanh = self.model.arch.activation == Activation::Tanh;
        // R forward.
        let mut r_inputs: Vec<Option<Tensor<B, 2>>> = vec![None];
        let mut r_pre = Vec::with_capacity(layers);
        for l in 0..layers {
            let mut rz = matmul(s.inputs[l].clone(), dirs[l].weight.clone()) + dirs[l].bias.clone();
            if let Some(ra) = &r_inputs[l] {
                rz = rz + matmul(ra.clone(), self.layers[l].weight.clone());
            }
            if l + 1 < layers {
                r_inputs.push(Some(rz.clone() * s.slopes[l].clone()));
            }
            r_pre.push(rz);
        }
        // R of the output error.
        let rz = r_pre.pop().expect("at least one layer");
        let n = self.x.dims()[0] as f64;
        let mut r_delta = if self.model.arch.outputs() == 1 {
            rz * s.output.clone()
        } else {
            let p = s.output.clone();
            let pr = p.clone() * rz;
            pr.clone() - p * pr.sum_dim(1)
        }
        .div_scalar(n);
        // R backward, last layer first.
        let mut blocks = Vec::with_capacity(2 * layers);
        for l in (0..layers).rev() {
            let mut rgw = matmul(s.inputs[l].clone().transpose(), r_delta.clone());
            if let Some(ra) = &r_inputs[l] {
                rgw = rgw + matmul(ra.clone().transpose(), s.deltas[l].clone());
            }
            blocks.push(r_delta.clone().sum_dim(0));
            blocks.push(rgw);
            if l > 0 {
                let back = matmul(r_delta, self.layers[l].weight.clone().transpose())
                    + matmul(s.deltas[l].clone(), dirs[l].weight.clone().transpose());
                r_delta = back * s.slopes[l - 1].clone();
                if tanh {
                    r_delta = r_delta + state.curvatures[l - 1].clone() * r_pre[l - 1].clone();
                }
            }
        }
        blocks.reverse();
        blocks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::probes::{dot, hvp};
    use crate::net::{Activation, Architecture, CpuF64, NetworkProblem, NoiseMode};
    use burn::tensor::TensorData;

    fn problem(arch: Architecture, classes: Option<&[u8]>, l2: f64) -> NetworkProblem<CpuF64> {
        let (train, _) = crate::net::data::embedded_fashion_mnist();
        let mut data = train.pooled(7).unwrap().stratified_subset(120, 3).unwrap();
        if let Some(c) = classes {
            data = data.with_classes(c).unwrap();
        }
        let model = Model::new(arch);
        NetworkProblem::new(model, &data, data.len(), NoiseMode::FullBatch, l2, &Default::default())
            .unwrap()
    }

    type Inner = burn::backend::NdArray<f64>;

    fn vector(d: usize, seed: u64) -> Tensor<Inner, 1> {
        let v: Vec<f64> = (0..d)
            .map(|i| ((i as u64 * 7919 + seed * 104729) % 1000) as f64 / 500.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(v, [d]), &Default::default())
    }

    /// The operator on NdArray in f64 (CpuF64's inner backend) at θ.
    fn exact_at(p: &NetworkProblem<CpuF64>, theta: &Tensor<CpuF64, 1>) -> ExactHessian<Inner> {
        let (x, t) = (p.x.clone().inner(), p.targets.clone().inner());
        ExactHessian::new(&p.model, x, t, p.l2, &theta.clone().inner()).expect("no batch norm")
    }

    fn norm(t: &Tensor<Inner, 1>) -> f64 {
        dot(t, t).sqrt()
    }

    /// The exact product against the central difference of two f64 gradients (error ~1e-10 at
    /// eps = 1e-5, DESIGN.md section 6) at a point away from the minimum, for a direction with
    /// every block non-zero. Returns `|exact - fd| / |fd|` and the exact product.
    fn against_central_difference(p: &NetworkProblem<CpuF64>) -> (f64, Tensor<Inner, 1>) {
        let theta = p.model.init::<CpuF64>(5, &Default::default()).tensor;
        let v = vector(p.model.arch.n_params(), 1);
        let fd = hvp(p, &theta, &v, 1e-5);
        assert_eq!(fd.relu_flips, 0, "a clean central difference is the reference");
        let op = exact_at(p, &theta);
        let exact = op.apply(&v);
        (norm(&(exact.clone() - fd.hv.clone())) / norm(&fd.hv), exact)
    }

    #[test]
    fn tanh_mlp_with_l2_matches_the_central_difference() {
        let arch = Architecture::new(vec![16, 5, 4, 10]).unwrap().with_activation(Activation::Tanh);
        let (err, _) = against_central_difference(&problem(arch, None, 1e-2));
        assert!(err < 1e-7, "relative error {err:.2e}");
    }

    #[test]
    fn relu_mlp_matches_the_central_difference() {
        let (err, _) = against_central_difference(&problem(
            Architecture::new(vec![16, 6, 10]).unwrap(),
            None,
            0.0,
        ));
        assert!(err < 1e-7, "relative error {err:.2e}");
    }

    #[test]
    fn binary_logistic_outputs_match_the_central_difference() {
        for arch in [Architecture::logistic(16, 2), Architecture::new(vec![16, 4, 1]).unwrap()] {
            let (err, _) = against_central_difference(&problem(arch, Some(&[0, 6]), 1e-3));
            assert!(err < 1e-7, "relative error {err:.2e}");
        }
    }

    /// The negative control of the check above: leaving out tanh's `sigma''` term (the
    /// Gauss-Newton-like part alone) misses the central difference by far more than the tolerance.
    #[test]
    fn without_the_second_derivative_term_the_check_fails() {
        let arch = Architecture::new(vec![16, 5, 4, 10]).unwrap().with_activation(Activation::Tanh);
        let p = problem(arch, None, 1e-2);
        let theta = p.model.init::<CpuF64>(5, &Default::default()).tensor;
        let v = vector(p.model.arch.n_params(), 1);
        let fd = hvp(&p, &theta, &v, 1e-5).hv;
        let mut op = exact_at(&p, &theta);
        for s in op.cached.as_mut().unwrap() {
            assert!(!s.curvatures.is_empty());
            s.curvatures = s.curvatures.iter().map(|c| c.zeros_like()).collect();
        }
        let wrong = op.apply(&v);
        let err = norm(&(wrong - fd.clone())) / norm(&fd);
        assert!(err > 1e-4, "relative error {err:.2e}");
    }

    /// Chunks, and recomputing the forward pass per product instead of keeping it, give the
    /// same product (to rounding: the chunks' sums are added in another order).
    #[test]
    fn chunked_and_uncached_products_agree() {
        let arch = Architecture::new(vec![16, 5, 4, 10]).unwrap().with_activation(Activation::Tanh);
        let p = problem(arch, None, 1e-2);
        let theta = p.model.init::<CpuF64>(5, &Default::default()).tensor.inner();
        let v = vector(p.model.arch.n_params(), 2);
        let (x, t) = (p.x.clone().inner(), p.targets.clone().inner());
        let whole = ExactHessian::new(&p.model, x.clone(), t.clone(), p.l2, &theta).unwrap();
        let mut chunked = ExactHessian::with_chunk(&p.model, x, t, p.l2, &theta, 7).unwrap();
        assert_eq!(chunked.chunks.len(), 18);
        let a = whole.apply(&v);
        let b = chunked.apply(&v);
        chunked.cached = None;
        let c = chunked.apply(&v);
        assert!(norm(&(a.clone() - b.clone())) < 1e-13 * norm(&a));
        assert_eq!(b.to_data().to_vec::<f64>().unwrap(), c.to_data().to_vec::<f64>().unwrap());
    }

    /// `CpuF64`'s products run on Flex with an F64 dtype: they equal NdArray's f64 products to
    /// rounding (1e-13), where any f32 step on the way (Flex's default dtype) would leave ~1e-7.
    #[test]
    fn cpu_f64_products_on_flex_are_f64() {
        for arch in [
            Architecture::new(vec![16, 5, 4, 10]).unwrap().with_activation(Activation::Tanh),
            Architecture::new(vec![16, 6, 10]).unwrap(),
            Architecture::new(vec![16, 4, 1]).unwrap(),
        ] {
            let binary = arch.outputs() == 1;
            let p = problem(arch, binary.then_some(&[0u8, 6][..]), 1e-3);
            let theta = p.model.init::<CpuF64>(5, &Default::default()).tensor;
            let v = vector(p.model.arch.n_params(), 1);
            let op = crate::net::probes::HessianOperator::new(&p, &theta, 1e-5);
            assert!(matches!(op, crate::net::probes::HessianOperator::ExactOnFlexF64(..)));
            let on_flex = op.apply(&v).hv;
            let nd = exact_at(&p, &theta);
            let on_ndarray = nd.apply(&v);
            let err = norm(&(on_flex - on_ndarray.clone())) / norm(&on_ndarray);
            assert!(err < 1e-13, "{:?}: relative difference {err:.1e}", p.model.arch);
        }
    }

    /// Symmetry: `u^T H v = v^T H u` to rounding (a sign or transpose slip in a cross term breaks it).
    #[test]
    fn the_product_is_symmetric() {
        let arch = Architecture::new(vec![16, 5, 4, 10]).unwrap().with_activation(Activation::Tanh);
        let p = problem(arch, None, 0.0);
        let op = exact_at(&p, &p.model.init::<CpuF64>(5, &Default::default()).tensor);
        let d = p.model.arch.n_params();
        let (u, v) = (vector(d, 3), vector(d, 4));
        let (uhv, vhu) = (dot(&u, &op.apply(&v)), dot(&v, &op.apply(&u)));
        assert!((uhv - vhu).abs() < 1e-12 * uhv.abs().max(1.0), "{uhv} vs {vhu}");
    }
}
