//! Back-propagation written out for MLPs without batch norm, on a plain (non-autodiff) backend.
//!
//! For `z_l = a_{l-1} W_l + b_l`, `a_l = sigma(z_l)` (hidden layers), `a_0 = X` and the weighted
//! loss `sum_i w_i l(z_L,i)`:
//!
//! ```text
//! δ_L     = w ⊙ l'(z_L)              softmax: p - t (t one-hot);  one output: s(z) - y
//! δ_{l-1} = (δ_l W_l^T) ⊙ sigma'(z_{l-1})
//! ∂/∂W_l  = a_{l-1}^T δ_l,    ∂/∂b_l = 1^T δ_l
//! ```
//!
//! with `sigma' = 1[z > 0]` for ReLU (burn's autodiff uses the same convention at 0) and
//! `1 - a^2` for tanh. The same matrix products as autodiff's, without its graph: training
//! ([`NetworkProblem::weighted_gradient`](super::NetworkProblem::weighted_gradient)) and the
//! exact Hessian-vector products ([`ExactHessian`](super::probes::ExactHessian)) share it.
//! Every tensor it makes takes its dtype from its inputs, so it runs in f64 on Flex (whose
//! default dtype is f32) when given f64 tensors ([`backend::flex_f64`](super::backend::flex_f64)).

use super::flex_matmul::matmul;
use super::model::{Activation, Layer, Model};
use burn::tensor::{activation, backend::Backend, Tensor};

/// The weights `w_i` of the examples in the loss.
#[derive(Debug, Clone)]
pub enum ExampleWeights<B: Backend> {
    /// The same weight for every example (`1/n` for a mean).
    Uniform(f64),
    /// One weight per example.
    Each(Tensor<B, 1>),
}

/// The forward quantities and back-propagated errors of one pass at θ.
pub struct Backprop<B: Backend> {
    /// The input `a_{l-1}` of every layer (so `inputs[l + 1] = a_l` for hidden layers).
    pub inputs: Vec<Tensor<B, 2>>,
    /// `sigma'(z_l)` of every hidden layer.
    pub slopes: Vec<Tensor<B, 2>>,
    /// `δ_l` of every layer.
    pub deltas: Vec<Tensor<B, 2>>,
    /// The output layer's `l''` data: softmax probabilities (K >= 2 outputs), or `s (1 - s)`.
    pub output: Tensor<B, 2>,
}

impl<B: Backend> Backprop<B> {
    /// One pass over the rows `x` with targets `t` (one-hot, or n x 1 in {0, 1}) through the
    /// model's `layers` at θ ([`Model::layers`]).
    pub fn new(
        model: &Model,
        layers: &[Layer<B>],
        x: Tensor<B, 2>,
        t: Tensor<B, 2>,
        w: &ExampleWeights<B>,
    ) -> Self {
        debug_assert!(!model.arch.batch_norm, "batch norm needs the autodiff path");
        let last = layers.len() - 1;
        let mut a = x;
        let mut inputs = Vec::with_capacity(layers.len());
        let mut slopes = Vec::with_capacity(last);
        for (l, layer) in layers.iter().enumerate() {
            let z = matmul(a.clone(), layer.weight.clone()) + layer.bias.clone();
            inputs.push(a);
            if l == last {
                a = z;
                break;
            }
            a = match model.arch.activation {
                Activation::Relu => {
                    // 1[z > 0] as max(sign z, 0): float ops keep the input's dtype, where a
                    // bool-to-float conversion would take the device's default (f32 on Flex).
                    slopes.push(z.clone().sign().clamp_min(0.0));
                    activation::relu(z)
                }
                Activation::Tanh => {
                    let th = z.tanh();
                    slopes.push(th.clone().powi_scalar(2).neg().add_scalar(1.0));
                    th
                }
            };
        }
        let (output, error) = if model.arch.outputs() == 1 {
            // 1 / (1 + e^{-z}) in the tensor's own precision: burn 0.21's `activation::sigmoid`
            // computes in f32 whatever the dtype (its default `FloatTensorOps::sigmoid` casts).
            let s = a.neg().exp().add_scalar(1.0).recip();
            (s.clone() * s.clone().neg().add_scalar(1.0), s - t)
        } else {
            let p = activation::softmax(a, 1);
            (p.clone(), p - t)
        };
        let error = match w {
            ExampleWeights::Uniform(c) => error.mul_scalar(*c),
            ExampleWeights::Each(w) => {
                let n = w.dims()[0];
                error * w.clone().reshape([n, 1])
            }
        };
        let mut deltas = vec![error];
        for l in (1..layers.len()).rev() {
            let back = matmul(deltas[0].clone(), layers[l].weight.clone().transpose());
            deltas.insert(0, back * slopes[l - 1].clone());
        }
        Self { inputs, slopes, deltas, output }
    }

    /// The gradient of the weighted loss in θ's layout (per layer `W_l` then `b_l`, flattened).
    pub fn gradient(&self) -> Tensor<B, 1> {
        Tensor::cat(self.gradient_blocks(), 0)
    }

    /// The same gradient as θ's blocks, in θ's order, before they are concatenated.
    pub fn gradient_blocks(&self) -> Vec<Tensor<B, 1>> {
        let blocks = self.inputs.iter().zip(&self.deltas).flat_map(|(a, d)| {
            [
                matmul(a.clone().transpose(), d.clone()).flatten(0, 1),
                d.clone().sum_dim(0).flatten(0, 1),
            ]
        });
        blocks.collect()
    }
}
