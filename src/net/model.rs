//! Multilayer perceptrons read from a flat parameter vector θ.
//!
//! Layout: for each layer l (input size `a`, output size `b`) the weight matrix W_l (a x b,
//! row-major, so z = x W + b) followed by its bias (b entries), and with batch norm, for hidden
//! layers, its scale gamma and shift beta (b entries each). Logistic regression is the MLP with no
//! hidden layer: one output unit gives the binary logistic loss, K >= 2 outputs softmax
//! cross-entropy. Hidden layers use ReLU (the default) or tanh (smooth, so the loss has a
//! Hessian everywhere and the local quadratic model of `net::local_quadratic` is exact to
//! second order).
//!
//! Batch norm, `gamma (z - mu) / sqrt(var + 1e-5) + beta`, normalises with the statistics of the
//! examples in the forward pass ([`Norm::Batch`]): a minibatch when training, the whole training set
//! for full-batch losses and gradients (a deterministic function of θ). Evaluation on other data
//! uses statistics taken from the training set ([`Norm::Given`]).

use super::params::Params;
use crate::error::{ensure, ProblemError};
use crate::rng;
use burn::tensor::{activation, backend::AutodiffBackend, backend::Backend, Tensor};
use rand_distr::{Distribution, StandardNormal};

/// Layer sizes: input, hidden..., output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Architecture {
    pub sizes: Vec<usize>,
    /// Batch norm after every hidden layer's linear map (before the ReLU).
    #[serde(default)]
    pub batch_norm: bool,
    /// The hidden layers' nonlinearity.
    #[serde(default)]
    pub activation: Activation,
}

/// A hidden layer's nonlinearity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(z, 0)`: piecewise linear, so the Hessian jumps where a unit changes sign.
    #[default]
    Relu,
    /// `tanh(z)`: smooth.
    Tanh,
}

impl Activation {
    pub fn parse(s: &str) -> Result<Self, ProblemError> {
        match s {
            "relu" => Ok(Self::Relu),
            "tanh" => Ok(Self::Tanh),
            _ => Err(ProblemError::new("activation", s, "relu or tanh")),
        }
    }
    fn apply<B: Backend>(self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Self::Relu => activation::relu(z),
            Self::Tanh => z.tanh(),
        }
    }
}

impl Architecture {
    pub fn new(sizes: Vec<usize>) -> Result<Self, ProblemError> {
        ensure(sizes.len() >= 2, || {
            ProblemError::new(
                "layers",
                format!("{sizes:?}"),
                "at least an input and an output size",
            )
        })?;
        ensure(sizes.iter().all(|&s| s >= 1), || {
            ProblemError::new("layers", format!("{sizes:?}"), "sizes >= 1")
        })?;
        Ok(Self { sizes, batch_norm: false, activation: Activation::Relu })
    }
    /// The same layers with another hidden nonlinearity.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }
    /// The same layers with batch norm on the hidden ones.
    pub fn with_batch_norm(mut self, on: bool) -> Self {
        self.batch_norm = on;
        self
    }
    /// Logistic regression: `d` inputs, `classes` outputs (1 for binary).
    pub fn logistic(d: usize, classes: usize) -> Self {
        Self {
            sizes: vec![d, if classes == 2 { 1 } else { classes }],
            batch_norm: false,
            activation: Activation::Relu,
        }
    }
    /// The ICANN 2018 Fig. 3 network: 784-512-512-512-10 (scaled widths allowed).
    pub fn icann_mlp(width: usize) -> Self {
        Self {
            sizes: vec![784, width, width, width, 10],
            batch_norm: false,
            activation: Activation::Relu,
        }
    }
    fn hidden(&self, l: usize) -> bool {
        l + 2 < self.sizes.len()
    }
    pub fn n_params(&self) -> usize {
        self.sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                w[0] * w[1] + w[1] + if self.batch_norm && self.hidden(l) { 2 * w[1] } else { 0 }
            })
            .sum()
    }
    pub fn outputs(&self) -> usize {
        *self.sizes.last().expect("validated non-empty")
    }
    /// θ's contiguous blocks in layout order: per layer W, b, and with batch norm gamma, beta.
    pub fn block_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges = Vec::new();
        let mut off = 0;
        let mut push = |len: usize| {
            ranges.push(off..off + len);
            off += len;
        };
        for (l, w) in self.sizes.windows(2).enumerate() {
            push(w[0] * w[1]);
            push(w[1]);
            if self.batch_norm && self.hidden(l) {
                push(w[1]);
                push(w[1]);
            }
        }
        ranges
    }
    /// `(weight offset, bias offset, batch-norm offset)` of each layer in θ.
    pub fn offsets(&self) -> Vec<(usize, usize, Option<usize>)> {
        let mut off = 0;
        self.sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                let bn = (self.batch_norm && self.hidden(l)).then_some(off + w[0] * w[1] + w[1]);
                let o = (off, off + w[0] * w[1], bn);
                off += w[0] * w[1] + w[1] + if bn.is_some() { 2 * w[1] } else { 0 };
                o
            })
            .collect()
    }
}

/// `θ[range]` as a `rows x cols` matrix, without a copy where the offset allows one: burn-flex
/// copies the reshape of a view that starts inside its buffer, so a block whose offset is a
/// multiple of `cols` is taken as rows of θ's first `range.end` entries reshaped to width `cols`
/// (a view of θ on every backend, and a graph node when θ requires grad). Every other block (in
/// practice the output layer's few numbers) is sliced and reshaped. Same values either way.
pub fn block_matrix<B: Backend>(
    theta: &Tensor<B, 1>,
    range: std::ops::Range<usize>,
    rows: usize,
    cols: usize,
) -> Tensor<B, 2> {
    debug_assert_eq!(range.len(), rows * cols, "block {range:?} is not {rows} x {cols}");
    if range.start.is_multiple_of(cols) {
        let grid = theta.clone().slice(0..range.end).reshape([range.end / cols, cols]);
        grid.narrow(0, range.start / cols, rows)
    } else {
        theta.clone().slice(range).reshape([rows, cols])
    }
}

/// One layer's tensors: `z = a W + b`, then with batch norm `gamma (z - mu) / sigma + beta`.
#[derive(Debug, Clone)]
pub struct Layer<B: Backend> {
    pub weight: Tensor<B, 2>,
    pub bias: Tensor<B, 2>,
    pub norm: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
}

/// θ cut into its layout's blocks *outside* the autodiff graph, one leaf per block, and the
/// gradient joined back by one concatenation. The same θ sliced under autodiff would make every
/// slice's backward allocate a zero tensor the size of all of θ (8 full-size gradients per step
/// for a 4-layer MLP, then summed); here each block's gradient is its own size. Values are the
/// same: the gradient of every coordinate is computed by the same operations.
pub struct ThetaLeaves<B: AutodiffBackend> {
    pub blocks: Vec<Tensor<B, 1>>,
}

impl<B: AutodiffBackend> ThetaLeaves<B> {
    pub fn new(arch: &Architecture, theta: &Tensor<B, 1>) -> Self {
        let inner = theta.clone().inner();
        let blocks = arch
            .block_ranges()
            .into_iter()
            .map(|r| Tensor::from_inner(inner.clone().slice(r)).require_grad())
            .collect();
        Self { blocks }
    }
    /// `|θ|^2 / 2` as a graph node (for an L2 term).
    pub fn half_norm_squared(&self) -> Tensor<B, 1> {
        let mut sum: Option<Tensor<B, 1>> = None;
        for b in &self.blocks {
            let s = (b.clone() * b.clone()).sum();
            sum = Some(match sum {
                Some(t) => t + s,
                None => s,
            });
        }
        sum.expect("at least one block").mul_scalar(0.5)
    }
    /// The gradient with respect to θ, in θ's layout.
    pub fn gradient(&self, grads: &B::Gradients) -> Tensor<B, 1> {
        let parts = self
            .blocks
            .iter()
            .map(|b| b.grad(grads).unwrap_or_else(|| b.clone().inner().zeros_like()))
            .collect();
        Tensor::from_inner(Tensor::cat(parts, 0))
    }
}

/// A forward pass: the logits and, per layer, its input and pre-activation (for probes), and the
/// batch-norm statistics (mean, variance) used by each normalised layer.
pub struct ForwardPass<B: Backend> {
    pub logits: Tensor<B, 2>,
    pub inputs: Vec<Tensor<B, 2>>,
    pub pre_activations: Vec<Tensor<B, 2>>,
    pub norm_stats: Vec<(Tensor<B, 2>, Tensor<B, 2>)>,
}

/// Which statistics batch norm uses.
#[derive(Clone, Copy)]
pub enum Norm<'a, B: Backend> {
    /// Those of the examples in this forward pass.
    Batch,
    /// Given per normalised layer, e.g. taken from the training set for evaluation.
    Given(&'a [(Tensor<B, 2>, Tensor<B, 2>)]),
}

/// An architecture with its loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub arch: Architecture,
}

impl Model {
    pub fn new(arch: Architecture) -> Self {
        Self { arch }
    }

    /// He-normal weights (variance 2/fan-in; 1/fan-in for the output layer), zero biases, from a
    /// named stream: the same seed gives the same θ on every backend.
    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> Params<B> {
        let mut r = rng::stream(seed, 0x1A1);
        let mut v = Vec::with_capacity(self.arch.n_params());
        let layers = self.arch.sizes.len() - 1;
        for (l, w) in self.arch.sizes.windows(2).enumerate() {
            let gain = if l + 1 == layers { 1.0 } else { 2.0 };
            let sd = (gain / w[0] as f64).sqrt();
            v.extend((0..w[0] * w[1]).map(|_| {
                sd * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r)
            }));
            v.extend(std::iter::repeat_n(0.0, w[1]));
            if self.arch.batch_norm && l + 1 < layers {
                v.extend(std::iter::repeat_n(1.0, w[1])); // gamma
                v.extend(std::iter::repeat_n(0.0, w[1])); // beta
            }
        }
        Params::from_vec(&v, device)
    }

    /// `z_l = a_{l-1} W_l + b_l (+ leaf_l)`, `a_l = relu(z_l)` for hidden layers. `leaves` are
    /// zero tensors added to the pre-activations, whose gradients are the per-example
    /// back-propagated errors (the one-backward per-example-gradient trick).
    pub fn forward<B: Backend>(
        &self,
        theta: &Tensor<B, 1>,
        x: Tensor<B, 2>,
        leaves: Option<&[Tensor<B, 2>]>,
    ) -> ForwardPass<B> {
        self.forward_with(theta, x, leaves, Norm::Batch)
    }

    /// The forward pass with a choice of batch-norm statistics.
    pub fn forward_with<B: Backend>(
        &self,
        theta: &Tensor<B, 1>,
        x: Tensor<B, 2>,
        leaves: Option<&[Tensor<B, 2>]>,
        norm: Norm<'_, B>,
    ) -> ForwardPass<B> {
        self.forward_layers(&self.layers_of(theta), x, leaves, norm)
    }

    /// The layers' tensors from θ's blocks in layout order ([`Architecture::block_ranges`]), given
    /// as separate tensors (the autodiff leaves of [`ThetaLeaves`]).
    pub fn layers<B: Backend>(&self, blocks: &[Tensor<B, 1>]) -> Vec<Layer<B>> {
        let mut blocks = blocks.iter();
        self.layers_from(|_, rows, cols| {
            blocks.next().expect("one block per layout entry").clone().reshape([rows, cols])
        })
    }

    /// The layers' tensors as views of θ itself ([`block_matrix`]).
    pub fn layers_of<B: Backend>(&self, theta: &Tensor<B, 1>) -> Vec<Layer<B>> {
        self.layers_from(|range, rows, cols| block_matrix(theta, range, rows, cols))
    }

    /// The layers, each block made by `block(range in θ, rows, cols)`, in layout order.
    fn layers_from<B: Backend>(
        &self,
        mut block: impl FnMut(std::ops::Range<usize>, usize, usize) -> Tensor<B, 2>,
    ) -> Vec<Layer<B>> {
        let mut ranges = self.arch.block_ranges().into_iter();
        let mut next = |rows, cols| block(ranges.next().expect("one range per block"), rows, cols);
        let layers = self.arch.sizes.len() - 1;
        self.arch
            .sizes
            .windows(2)
            .enumerate()
            .map(|(l, w)| {
                let weight = next(w[0], w[1]);
                let bias = next(1, w[1]);
                let norm = (self.arch.batch_norm && l + 1 < layers)
                    .then(|| (next(1, w[1]), next(1, w[1])));
                Layer { weight, bias, norm }
            })
            .collect()
    }

    /// The forward pass through given layer tensors.
    pub fn forward_layers<B: Backend>(
        &self,
        layers: &[Layer<B>],
        x: Tensor<B, 2>,
        leaves: Option<&[Tensor<B, 2>]>,
        norm: Norm<'_, B>,
    ) -> ForwardPass<B> {
        let last = layers.len() - 1;
        let mut a = x;
        let mut inputs = Vec::with_capacity(layers.len());
        let mut pre = Vec::with_capacity(layers.len());
        let mut stats = Vec::new();
        for (l, layer) in layers.iter().enumerate() {
            let mut z =
                super::flex_matmul::matmul(a.clone(), layer.weight.clone()) + layer.bias.clone();
            if let Some((gamma, beta)) = &layer.norm {
                let (mean, var) = match norm {
                    Norm::Batch => {
                        let mean = z.clone().mean_dim(0);
                        let var = (z.clone() - mean.clone()).powi_scalar(2).mean_dim(0);
                        (mean, var)
                    }
                    Norm::Given(s) => s[stats.len()].clone(),
                };
                z = (z - mean.clone()) / (var.clone() + 1e-5).sqrt() * gamma.clone() + beta.clone();
                stats.push((mean, var));
            }
            if let Some(leaves) = leaves {
                z = z + leaves[l].clone();
            }
            inputs.push(a);
            pre.push(z.clone());
            a = if l == last { z } else { self.arch.activation.apply(z) };
        }
        ForwardPass { logits: a, inputs, pre_activations: pre, norm_stats: stats }
    }

    /// Per-example losses. `targets` is one-hot (n x K) for K >= 2 outputs, or n x 1 with values
    /// in {0, 1} for the binary logistic loss `softplus(z) - y z`.
    pub fn per_example_loss<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        targets: Tensor<B, 2>,
    ) -> Tensor<B, 1> {
        let n = logits.dims()[0];
        if self.arch.outputs() == 1 {
            // softplus(z) - y z, computed stably as max(z, 0) - y z + log(1 + e^{-|z|}).
            let pos = logits.clone().clamp_min(0.0);
            let soft = pos + (logits.clone().abs().neg().exp() + 1.0).log();
            (soft - targets * logits).reshape([n])
        } else {
            (activation::log_softmax(logits, 1) * targets).sum_dim(1).neg().reshape([n])
        }
    }

    /// Predicted classes.
    pub fn predict<B: Backend>(&self, logits: Tensor<B, 2>) -> Vec<usize> {
        let n = logits.dims()[0];
        if self.arch.outputs() == 1 {
            logits
                .to_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .expect("float logits")
                .iter()
                .map(|&z| usize::from(z > 0.0))
                .collect()
        } else {
            logits
                .argmax(1)
                .reshape([n])
                .to_data()
                .convert::<i64>()
                .to_vec::<i64>()
                .expect("int classes")
                .iter()
                .map(|&c| c as usize)
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_flex::Flex;

    /// With θ = (0, 1, 2, ...), a block at offset `o` holds `o, o + 1, ...` in row-major order
    /// (entry (i, j) of a block with `c` columns is `o + i c + j`). In 2-3-4 the second weight
    /// matrix (3 x 4 at offset 9) starts off its row grid, so both ways of [`block_matrix`] are
    /// checked.
    #[test]
    fn layers_of_theta_hold_its_blocks_in_layout_order() {
        let model = Model::new(Architecture::new(vec![2, 3, 4]).unwrap());
        let n = 2 * 3 + 3 + 3 * 4 + 4;
        let values: Vec<f32> = (0..n).map(|k| k as f32).collect();
        let theta = Tensor::<Flex, 1>::from_floats(values.as_slice(), &Default::default());
        let layers = model.layers_of(&theta);
        let expect = |offset: usize, rows: usize, cols: usize| -> Vec<f32> {
            (offset..offset + rows * cols).map(|k| k as f32).collect()
        };
        let got = |t: &Tensor<Flex, 2>| t.clone().into_data().to_vec::<f32>().unwrap();
        assert_eq!(layers[0].weight.dims(), [2, 3]);
        assert_eq!(got(&layers[0].weight), expect(0, 2, 3));
        assert_eq!(got(&layers[0].bias), expect(6, 1, 3));
        assert_eq!(layers[1].weight.dims(), [3, 4]);
        assert_eq!(got(&layers[1].weight), expect(9, 3, 4));
        assert_eq!(got(&layers[1].bias), expect(21, 1, 4));
    }
}
