//! θ as one flat tensor, with the in-place vector operations the integrators need.

use crate::state::State;
use burn::tensor::{backend::Backend, Tensor, TensorData};

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
    pub fn to_vec(&self) -> Vec<f64> {
        self.tensor
            .to_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("a float tensor converts to f64")
    }
    pub fn len(&self) -> usize {
        self.tensor.dims()[0]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn norm_squared(&self) -> f64 {
        self.dot(self)
    }
}

/// The [`State`] operations on the device. "In place" here means: the result replaces `self`'s
/// tensor through [`Tensor::inplace`], so a backend reuses `self`'s buffer when nothing else holds
/// it (burn's ndarray and CubeCL backends do); the scaled operand `a x` is one temporary per
/// call, as burn has no fused axpy. Bits match the `Vec<f64>` formulas evaluated in the backend's
/// float type (`self + a x`, `b self + a x`; IEEE addition is commutative), which
/// `tests/all/state_seams.rs` checks.
impl<B: Backend> State for Params<B> {
    fn zeros_like(&self) -> Self {
        Self { tensor: self.tensor.zeros_like() }
    }
    fn axpy(&mut self, a: f64, x: &Self) {
        self.tensor.inplace(|t| t + x.tensor.clone().mul_scalar(a));
    }
    fn axpby(&mut self, a: f64, x: &Self, b: f64) {
        self.tensor.inplace(|t| t.mul_scalar(b) + x.tensor.clone().mul_scalar(a));
    }
    /// Shares `x`'s buffer (burn tensors are copy-on-write), so no data moves.
    fn copy_from(&mut self, x: &Self) {
        self.tensor = x.tensor.clone();
    }
    fn dot(&self, x: &Self) -> f64 {
        (self.tensor.clone() * x.tensor.clone()).sum().into_scalar().into_f64_lossy()
    }
    /// Element-wise: a sum could overflow to infinity on finite entries (or let +inf and -inf
    /// cancel to NaN and back), so every coordinate is tested and the non-finite ones counted.
    fn is_finite(&self) -> bool {
        let bad = self.tensor.clone().is_finite().bool_not().int().sum().into_scalar();
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
