//! θ as one flat tensor, with the in-place vector operations the integrators need.

use super::backend::host_f64;
use super::flex_update::{self, Rule};
use crate::state::State;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

/// All trainable parameters of a network, concatenated (see [`Architecture`](super::Architecture)
/// for the layout). Lives on the backend's device; the integrators never leave it.
#[derive(Debug, Clone)]
pub struct Params<B: Backend> {
    pub tensor: Tensor<B, 1>,
}

impl<B: Backend> Params<B> {
    pub fn new(tensor: Tensor<B, 1>) -> Self {
        Self { tensor }
    }
    pub fn from_vec(v: &[f64], device: &B::Device) -> Self {
        Self { tensor: Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device) }
    }
    pub fn len(&self) -> usize {
        self.tensor.dims()[0]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<B: AutodiffBackend> Params<B> {
    /// θ's values on the host ([`host_f64`]).
    pub fn to_vec(&self) -> Vec<f64> {
        host_f64(self.tensor.clone().inner())
    }
    pub fn norm_squared(&self) -> f64 {
        self.dot(self)
    }
}

/// The [`State`] operations on the device, done on the autodiff backend's inner tensors: burn
/// 0.21's autodiff registers every operation on its tensors in a graph (tracked or not) and frees
/// that graph only in `backward`, which written-out back-propagation never calls, so operations
/// on the autodiff tensors themselves would grow memory by a few KB every step. "In place" here
/// means: the result replaces `self`'s tensor through [`Tensor::inplace`]. On Flex, with `self`'s
/// buffer held by nothing else, `axpy` and `axpby` are one pass over it ([`flex_update`]);
/// otherwise burn's operations reuse the buffer where they can, with `a x` one temporary per call
/// (burn has no fused axpy). Bits match the `Vec<f64>` formulas evaluated in the backend's float
/// type (`self + a x`, `b self + a x`; IEEE addition is commutative), which
/// `tests/all/state_seams.rs` checks.
impl<B: AutodiffBackend> State for Params<B> {
    fn zeros_like(&self) -> Self {
        Self { tensor: Tensor::from_inner(self.tensor.clone().inner().zeros_like()) }
    }
    fn axpy(&mut self, a: f64, x: &Self) {
        let x = x.tensor.clone().inner();
        self.tensor.inplace(|t| {
            let t = flex_update::update(t.inner(), Rule::Axpy { a }, std::slice::from_ref(&x))
                .unwrap_or_else(|t| t + x.mul_scalar(a));
            Tensor::from_inner(t)
        });
    }
    fn axpby(&mut self, a: f64, x: &Self, b: f64) {
        let x = x.tensor.clone().inner();
        self.tensor.inplace(|t| {
            let t = flex_update::update(t.inner(), Rule::Axpby { a, b }, std::slice::from_ref(&x))
                .unwrap_or_else(|t| t.mul_scalar(b) + x.mul_scalar(a));
            Tensor::from_inner(t)
        });
    }
    /// Shares `x`'s buffer (burn tensors are copy-on-write), so no data moves.
    fn copy_from(&mut self, x: &Self) {
        self.tensor = x.tensor.clone();
    }
    fn dot(&self, x: &Self) -> f64 {
        crate::net::probes::dot(&self.tensor.clone().inner(), &x.tensor.clone().inner())
    }
    /// Element-wise: a sum could overflow to infinity on finite entries (or let +inf and -inf
    /// cancel to NaN and back), so every coordinate is tested and the non-finite ones counted.
    fn is_finite(&self) -> bool {
        let inner = self.tensor.clone().inner();
        let bad = inner.is_finite().bool_not().int().sum().into_scalar();
        bad.into_f64_lossy() == 0.0
    }
}

/// Element to f64 without naming the element type.
trait IntoF64 {
    fn into_f64_lossy(self) -> f64;
}

impl<E: burn::tensor::ElementConversion> IntoF64 for E {
    fn into_f64_lossy(self) -> f64 {
        self.elem::<f64>()
    }
}
