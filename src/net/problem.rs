//! A network's training objective as a [`StochasticProblem`]: the core's integrators train it.
//!
//! Noise modes:
//! * `Minibatch(sampling)`: true minibatch SGD, batches drawn as in the core's data-set problems
//!   (with or without replacement, or per-epoch reshuffling).
//! * `GaussianGd`: the full-batch gradient plus Gaussian noise with the empirical per-example
//!   gradient covariance C/S: `g + (1/sqrt(S N)) sum_n z_n (g_n - g)`, `z ~ N(0, I_N)`. Because
//!   gradients are linear in the per-example losses this is `grad sum_n w_n l_n` with
//!   `w_n = 1/N + (z_n - mean z)/sqrt(S N)`: one backward pass, no d x d matrix, no per-example
//!   gradients. This is the SDE that SGD is supposed to approximate, on the real network.
//! * `FullBatch`: plain gradient descent (no noise).
//!
//! The loss is `mean_n l_n(θ) + l2/2 |θ|^2`.

use super::backprop::{Backprop, ExampleWeights};
use super::data::Dataset;
use super::flex_update::{self, Rule};
use super::model::{Model, Norm, ThetaLeaves};
use super::params::Params;
use crate::error::ProblemError;
use crate::problems::{Batch, Sampling, StochasticProblem};
use crate::rng::{fill_normals, PathRng};
use crate::state::State;
use burn::tensor::{backend::AutodiffBackend, backend::Backend, Int, Tensor, TensorData};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseMode {
    Minibatch(Sampling),
    GaussianGd,
    FullBatch,
}

/// One step's randomness: a minibatch or the N standard normals of Gaussian-noise GD, and the
/// number of steps drawn so far (which a batch-size schedule reads).
#[derive(Debug, Clone)]
pub struct NetNoise {
    pub batch: Batch,
    pub z: Vec<f64>,
    pub step: usize,
}

/// A model, its training data on the device, and how gradient noise arises.
#[derive(Debug, Clone)]
pub struct NetworkProblem<B: Backend> {
    pub model: Model,
    pub x: Tensor<B, 2>,
    pub targets: Tensor<B, 2>,
    pub n: usize,
    pub batch: usize,
    pub mode: NoiseMode,
    pub l2: f64,
    /// A batch-size schedule: the batch size of step `k` is `batch_sizes[k - 1]` (`batch` when
    /// `None`). See [`with_batch_sizes`](Self::with_batch_sizes).
    pub batch_sizes: Option<std::sync::Arc<[usize]>>,
}

/// Rows of a data set as device tensors: inputs (n x d) and targets (one-hot, or n x 1 binary).
pub fn tensors<B: Backend>(
    data: &Dataset,
    outputs: usize,
    device: &B::Device,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let n = data.len();
    let x = Tensor::from_data(TensorData::new(data.features.clone(), [n, data.dim]), device);
    let t: Vec<f32> = if outputs == 1 {
        data.labels.iter().map(|&y| y as f32).collect()
    } else {
        data.labels
            .iter()
            .flat_map(|&y| (0..outputs).map(move |k| if k == y as usize { 1.0 } else { 0.0 }))
            .collect()
    };
    (x, Tensor::from_data(TensorData::new(t, [n, outputs]), device))
}

impl<B: Backend> NetworkProblem<B> {
    pub fn new(
        model: Model,
        data: &Dataset,
        batch: usize,
        mode: NoiseMode,
        l2: f64,
        device: &B::Device,
    ) -> Result<Self, ProblemError> {
        let n = data.len();
        if let NoiseMode::Minibatch(s) = mode {
            crate::problems::sampling_validate(n, batch, s)?;
        } else {
            crate::error::batch_size(batch, Some(n))?;
        }
        if data.dim != model.arch.sizes[0] {
            return Err(ProblemError::new(
                "layers[0]",
                model.arch.sizes[0],
                format!("the input size of the data, {}", data.dim),
            ));
        }
        let classes = data.classes();
        let outputs = model.arch.outputs();
        if (outputs == 1 && classes > 2) || (outputs > 1 && outputs < classes) {
            let valid = if classes <= 2 {
                format!("1 (binary: one logit) or >= {classes} (the number of classes)")
            } else {
                format!(">= {classes} (the number of classes)")
            };
            return Err(ProblemError::new("layers[last]", outputs, valid));
        }
        if model.arch.batch_norm && mode == NoiseMode::GaussianGd {
            return Err(ProblemError::new("noise", "gaussian with batch norm", "minibatch or full-batch noise: with batch norm examples interact through the batch statistics, so per-example gradients (and their covariance C) are not defined"));
        }
        if !(l2.is_finite() && l2 >= 0.0) {
            return Err(ProblemError::new("l2", l2, "a finite number >= 0"));
        }
        let (x, targets) = tensors::<B>(data, outputs, device);
        Ok(Self { model, x, targets, n, batch, mode, l2, batch_sizes: None })
    }

    /// The problem with batch size `sizes[k - 1]` at step `k` (a batch-size schedule's
    /// [`StepPlan`](crate::schedule::StepPlan)); minibatch noise only, sizes in `1..=N`. Under
    /// reshuffling a batch may straddle two epochs.
    pub fn with_batch_sizes(mut self, sizes: &[usize]) -> Result<Self, ProblemError> {
        if !matches!(self.mode, NoiseMode::Minibatch(_)) {
            return Err(ProblemError::new(
                "batch schedule",
                "with Gaussian or full-batch noise",
                "minibatch noise (the batch size of the other modes is a constant of the noise)",
            ));
        }
        if sizes.is_empty() {
            return Err(ProblemError::new("batch schedule", "no steps", "at least one step"));
        }
        if let Some(&s) = sizes.iter().find(|&&s| s == 0 || s > self.n) {
            return Err(ProblemError::new(
                "batch schedule",
                s,
                format!("batch sizes from 1 to N = {}", self.n),
            ));
        }
        self.batch = sizes.first().copied().unwrap_or(self.batch);
        self.batch_sizes = Some(sizes.into());
        Ok(self)
    }
}

use burn::tensor::ElementConversion;

impl<B: AutodiffBackend> NetworkProblem<B> {
    /// Full-data mean loss (in chunks; with batch norm in one pass, whose statistics are those of
    /// the whole training set), computed on the inner backend: no autodiff graph (see
    /// [`Params`]'s `State` operations for why that matters).
    pub fn mean_loss(&self, theta: &Tensor<B, 1>) -> f64 {
        let theta = theta.clone().inner();
        let chunk = if self.model.arch.batch_norm { self.n } else { 8192 };
        let mut total = 0.0;
        let mut start = 0;
        while start < self.n {
            let len = chunk.min(self.n - start);
            let x = self.x.clone().inner().narrow(0, start, len);
            let t = self.targets.clone().inner().narrow(0, start, len);
            let f = self.model.forward(&theta, x, None);
            total += self.model.per_example_loss(f.logits, t).sum().into_scalar().elem::<f64>();
            start += len;
        }
        total / self.n as f64
            + 0.5 * self.l2 * (theta.clone() * theta).sum().into_scalar().elem::<f64>()
    }

    /// `grad_θ [ sum_n w_n l_n(θ) + l2/2 |θ|^2 ]` over the rows `rows` (all rows when `None`).
    /// The weights live on the inner backend (no autodiff graph; see [`Params`]).
    pub fn weighted_gradient(
        &self,
        theta: &Tensor<B, 1>,
        rows: Option<&[usize]>,
        weights: ExampleWeights<B::InnerBackend>,
    ) -> Tensor<B, 1> {
        if self.model.arch.batch_norm {
            self.autodiff_gradient(theta, rows, weights)
        } else {
            self.backprop_gradient(theta, rows, weights)
        }
    }

    /// The rows `rows` (all when `None`) of the inputs and targets.
    fn rows<K: Backend>(
        x: &Tensor<K, 2>,
        t: &Tensor<K, 2>,
        rows: Option<&[usize]>,
    ) -> (Tensor<K, 2>, Tensor<K, 2>) {
        match rows {
            Some(r) => {
                let idx = Tensor::<K, 1, Int>::from_data(
                    TensorData::new(r.iter().map(|&i| i as i64).collect::<Vec<_>>(), [r.len()]),
                    &x.device(),
                );
                (x.clone().select(0, idx.clone()), t.clone().select(0, idx))
            }
            None => (x.clone(), t.clone()),
        }
    }

    /// Back-propagation written out ([`Backprop`]): the same products as autodiff's, without
    /// its graph (an epoch of the 784-512-512-512-10 MLP 10-15% faster). No batch norm.
    fn backprop_gradient(
        &self,
        theta: &Tensor<B, 1>,
        rows: Option<&[usize]>,
        weights: ExampleWeights<B::InnerBackend>,
    ) -> Tensor<B, 1> {
        self.gradient_from_blocks(self.loss_gradient_blocks(theta, rows, weights), theta)
    }

    /// The training objective's gradient `g + l2 θ` from the loss gradient's blocks (as
    /// [`Self::loss_gradient_blocks`] returns them): their concatenation `g`, plus the L2 term's.
    fn gradient_from_blocks(
        &self,
        blocks: Vec<Tensor<B::InnerBackend, 1>>,
        theta: &Tensor<B, 1>,
    ) -> Tensor<B, 1> {
        let g = Tensor::cat(blocks, 0);
        let th = theta.clone().inner();
        Tensor::from_inner(if self.l2 > 0.0 { g + th.mul_scalar(self.l2) } else { g })
    }

    /// The gradient of `sum_n w_n l_n(θ)` (no L2 term) by [`Backprop`], as θ's blocks in θ's
    /// order. No batch norm. Nothing it returns holds θ's buffer.
    fn loss_gradient_blocks(
        &self,
        theta: &Tensor<B, 1>,
        rows: Option<&[usize]>,
        weights: ExampleWeights<B::InnerBackend>,
    ) -> Vec<Tensor<B::InnerBackend, 1>> {
        let th = theta.clone().inner();
        let (x, t) = Self::rows(&self.x.clone().inner(), &self.targets.clone().inner(), rows);
        let layers = self.model.layers_of(&th);
        Backprop::new(&self.model, &layers, x, t, &weights).gradient_blocks()
    }

    /// The rows and example weights of one step's gradient under `noise` (see [`NoiseMode`]).
    fn rows_and_weights<'a>(
        &self,
        noise: &'a NetNoise,
    ) -> (Option<&'a [usize]>, ExampleWeights<B::InnerBackend>) {
        match self.mode {
            NoiseMode::Minibatch(_) => {
                let s = noise.batch.indices.len();
                (Some(&noise.batch.indices), ExampleWeights::Uniform(1.0 / s as f64))
            }
            NoiseMode::GaussianGd => {
                let mean = noise.z.iter().sum::<f64>() / self.n as f64;
                let scale = 1.0 / ((self.batch * self.n) as f64).sqrt();
                let w: Vec<f64> =
                    noise.z.iter().map(|z| 1.0 / self.n as f64 + (z - mean) * scale).collect();
                let device = self.x.device();
                let w = Tensor::from_data(TensorData::new(w, [self.n]), &device);
                (None, ExampleWeights::Each(w))
            }
            NoiseMode::FullBatch => (None, ExampleWeights::Uniform(1.0 / self.n as f64)),
        }
    }

    /// The gradient by burn's autodiff (any model, batch norm included).
    fn autodiff_gradient(
        &self,
        theta: &Tensor<B, 1>,
        rows: Option<&[usize]>,
        weights: ExampleWeights<B::InnerBackend>,
    ) -> Tensor<B, 1> {
        let (x, t) = Self::rows(&self.x, &self.targets, rows);
        let weights = Tensor::<B, 1>::from_inner(match weights {
            ExampleWeights::Uniform(c) => {
                Tensor::<B::InnerBackend, 1>::ones([x.dims()[0]], &x.device()).mul_scalar(c)
            }
            ExampleWeights::Each(w) => w,
        });
        let leaves = ThetaLeaves::new(&self.model.arch, theta);
        let layers = self.model.layers(&leaves.blocks);
        let f = self.model.forward_layers(&layers, x, None, Norm::Batch);
        let mut loss = (self.model.per_example_loss(f.logits, t) * weights).sum();
        if self.l2 > 0.0 {
            loss = loss + leaves.half_norm_squared().mul_scalar(self.l2);
        }
        leaves.gradient(&loss.backward())
    }

    /// The full-batch gradient of the training objective.
    pub fn full_gradient(&self, theta: &Tensor<B, 1>) -> Tensor<B, 1> {
        self.weighted_gradient(theta, None, ExampleWeights::Uniform(1.0 / self.n as f64))
    }
}

impl<B: AutodiffBackend> StochasticProblem<Params<B>> for NetworkProblem<B>
where
    Tensor<B, 2>: Sync,
{
    type Noise = NetNoise;

    fn dim(&self) -> usize {
        self.model.arch.n_params()
    }
    fn new_noise(&self) -> NetNoise {
        NetNoise { batch: Batch::new(self.n, self.batch), z: Vec::new(), step: 0 }
    }
    fn sample_noise(&self, rng: &mut PathRng, _h: f64, noise: &mut NetNoise) {
        noise.step += 1;
        match self.mode {
            NoiseMode::Minibatch(s) => {
                if let Some(sizes) = &self.batch_sizes {
                    let size = sizes[(noise.step - 1).min(sizes.len() - 1)];
                    if size != noise.batch.indices.len() {
                        noise.batch.resize(size);
                    }
                }
                noise.batch.draw(s, rng)
            }
            NoiseMode::GaussianGd => {
                noise.z.resize(self.n, 0.0);
                fill_normals(rng, &mut noise.z);
            }
            NoiseMode::FullBatch => {}
        }
    }
    fn gradient(&self, x: &Params<B>, noise: &NetNoise, out: &mut Params<B>) {
        let (rows, weights) = self.rows_and_weights(noise);
        out.tensor = self.weighted_gradient(&x.tensor, rows, weights);
    }
    /// Without batch norm, the layers' gradient blocks go straight into θ on Flex
    /// ([`super::flex_update`], `θ <- θ - h (g + l2 θ)` in one pass, no concatenated
    /// gradient); elsewhere, and where θ's buffer is shared, the gradient then `axpy`. Same bits.
    fn descend(&self, x: &mut Params<B>, noise: &NetNoise, h: f64, scratch: &mut Params<B>) {
        let (rows, weights) = self.rows_and_weights(noise);
        if self.model.arch.batch_norm {
            scratch.tensor = self.weighted_gradient(&x.tensor, rows, weights);
        } else {
            let blocks = self.loss_gradient_blocks(&x.tensor, rows, weights);
            let rule = if self.l2 > 0.0 {
                Rule::Decay { a: -h, l2: self.l2 }
            } else {
                Rule::Axpy { a: -h }
            };
            if update_in_one_pass(x, rule, &blocks) {
                return;
            }
            scratch.tensor = self.gradient_from_blocks(blocks, &x.tensor);
        }
        x.axpy(-h, scratch);
    }
    /// Without batch norm or L2, the layers' gradient blocks go straight into `v` on Flex
    /// (`v <- b v + a g` in one pass, no concatenated gradient); elsewhere, and where `v`'s buffer
    /// is shared, the gradient then `axpby`. Same bits. (With L2 the term `l2 θ` would make the
    /// pass read a third vector; that case keeps the two passes.)
    fn gradient_axpby(
        &self,
        x: &Params<B>,
        noise: &NetNoise,
        a: f64,
        b: f64,
        v: &mut Params<B>,
        scratch: &mut Params<B>,
    ) {
        let (rows, weights) = self.rows_and_weights(noise);
        if self.model.arch.batch_norm || self.l2 > 0.0 {
            scratch.tensor = self.weighted_gradient(&x.tensor, rows, weights);
        } else {
            let blocks = self.loss_gradient_blocks(&x.tensor, rows, weights);
            if update_in_one_pass(v, Rule::Axpby { a, b }, &blocks) {
                return;
            }
            scratch.tensor = self.gradient_from_blocks(blocks, &x.tensor);
        }
        v.axpby(a, scratch, b);
    }
    /// The full training loss (there is no known minimum to subtract for a network).
    fn loss(&self, x: &Params<B>) -> f64 {
        self.mean_loss(&x.tensor)
    }
}

/// `target <- rule(target, g)`, `g` the concatenation of `blocks`, in one pass over `target`'s
/// buffer ([`flex_update::update`]); whether it was done (if not, `target` is unchanged).
fn update_in_one_pass<B: AutodiffBackend>(
    target: &mut Params<B>,
    rule: Rule,
    blocks: &[Tensor<B::InnerBackend, 1>],
) -> bool {
    let mut done = false;
    target.tensor.inplace(|t| match flex_update::update(t.inner(), rule, blocks) {
        Ok(t) => {
            done = true;
            Tensor::from_inner(t)
        }
        Err(t) => Tensor::from_inner(t),
    });
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Activation, Architecture, CpuF64};

    /// The written-out back-propagation and burn's autodiff give the same gradient (f64, to
    /// rounding) for ReLU and tanh MLPs, softmax and binary outputs, with L2 and per-example
    /// weights, on a minibatch of rows.
    #[test]
    fn backprop_matches_autodiff() {
        let (train, _) = crate::net::data::embedded_fashion_mnist();
        let data = train.pooled(7).unwrap().stratified_subset(60, 2).unwrap();
        let binary = data.with_classes(&[1, 8]).unwrap();
        let cases = [
            (Architecture::new(vec![16, 6, 5, 10]).unwrap(), &data),
            (Architecture::new(vec![16, 6, 10]).unwrap().with_activation(Activation::Tanh), &data),
            (Architecture::new(vec![16, 4, 1]).unwrap(), &binary),
        ];
        let device = Default::default();
        for (arch, data) in cases {
            let model = Model::new(arch);
            let mode = NoiseMode::Minibatch(Sampling::WithReplacement);
            let p =
                NetworkProblem::<CpuF64>::new(model.clone(), data, 8, mode, 0.03, &device).unwrap();
            let theta = model.init::<CpuF64>(4, &device).tensor;
            let rows = [3, 7, 7, 0, 11, 5];
            let w = Tensor::<<CpuF64 as AutodiffBackend>::InnerBackend, 1>::from_data(
                TensorData::new(vec![0.1, -0.2, 0.3, 0.05, 0.5, 0.25], [6]),
                &device,
            );
            let host = |t: Tensor<CpuF64, 1>| t.to_data().to_vec::<f64>().unwrap();
            for weights in [ExampleWeights::Each(w), ExampleWeights::Uniform(0.125)] {
                let a = host(p.backprop_gradient(&theta, Some(&rows), weights.clone()));
                let b = host(p.autodiff_gradient(&theta, Some(&rows), weights));
                let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let err = a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
                assert!(
                    err < 1e-13 * scale,
                    "{:?}: max error {err:.1e} of {scale:.1e}",
                    model.arch
                );
            }
        }
    }

    /// `descend` and `gradient_axpby` (the layers' gradient blocks straight into θ or the
    /// velocity on Flex) give the bits of `gradient` then `axpy` or `axpby`, with and without L2,
    /// under minibatch and Gaussian noise, and take the one-pass path where they should: the
    /// scratch buffer they would otherwise fill is left as it was.
    #[test]
    fn descend_and_gradient_axpby_give_the_bits_of_their_two_passes() {
        use crate::net::CpuF32;
        let (train, _) = crate::net::data::embedded_fashion_mnist();
        let data = train.pooled(7).unwrap().stratified_subset(60, 2).unwrap();
        let model = Model::new(Architecture::new(vec![16, 6, 5, 10]).unwrap());
        let device = Default::default();
        let theta = model.init::<CpuF32>(4, &device).to_vec();
        let bits = |p: &Params<CpuF32>| p.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let h = 0.07;
        for l2 in [0.0, 0.03] {
            for mode in [NoiseMode::Minibatch(Sampling::WithReplacement), NoiseMode::GaussianGd] {
                let p = NetworkProblem::<CpuF32>::new(model.clone(), &data, 8, mode, l2, &device)
                    .unwrap();
                let mut noise = p.new_noise();
                p.sample_noise(&mut crate::rng::stream(1, 0), h, &mut noise);
                // Fresh buffers: a clone of θ would share its buffer and force the slow path.
                let mut fused = Params::<CpuF32>::from_vec(&theta, &device);
                let mut scratch = fused.zeros_like();
                p.descend(&mut fused, &noise, h, &mut scratch);
                let mut reference = Params::<CpuF32>::from_vec(&theta, &device);
                let mut g = reference.zeros_like();
                p.gradient(&reference, &noise, &mut g);
                reference.axpy(-h, &g);
                assert_eq!(bits(&fused), bits(&reference), "l2 {l2}, {mode:?}");
                assert_ne!(bits(&fused), bits(&Params::from_vec(&theta, &device)), "a step");
                assert!(scratch.to_vec().iter().all(|&v| v == 0.0), "l2 {l2}, {mode:?}: slow path");

                // Heavy ball's velocity update, from a velocity that is not zero.
                let velocity: Vec<f64> = theta.iter().map(|t| 0.5 - t).collect();
                let at = Params::<CpuF32>::from_vec(&theta, &device);
                let (a, b) = (-h, 0.9);
                let mut fused = Params::<CpuF32>::from_vec(&velocity, &device);
                let mut scratch = fused.zeros_like();
                p.gradient_axpby(&at, &noise, a, b, &mut fused, &mut scratch);
                let mut reference = Params::<CpuF32>::from_vec(&velocity, &device);
                reference.axpby(a, &g, b);
                assert_eq!(bits(&fused), bits(&reference), "velocity, l2 {l2}, {mode:?}");
                let one_pass = scratch.to_vec().iter().all(|&v| v == 0.0);
                assert_eq!(one_pass, l2 == 0.0, "velocity, l2 {l2}, {mode:?}: which path");
            }
        }
    }
}
