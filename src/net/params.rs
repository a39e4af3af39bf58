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

impl<B: Backend> State for Params<B> {
    fn zeros_like(&self) -> Self {
        Self { tensor: self.tensor.zeros_like() }
    }
    fn axpy(&mut self, a: f64, x: &Self) {
        self.tensor = self.tensor.clone() + x.tensor.clone().mul_scalar(a);
    }
    fn axpby(&mut self, a: f64, x: &Self, b: f64) {
        self.tensor = x.tensor.clone().mul_scalar(a) + self.tensor.clone().mul_scalar(b);
    }
    fn copy_from(&mut self, x: &Self) {
        self.tensor = x.tensor.clone();
    }
    fn dot(&self, x: &Self) -> f64 {
        (self.tensor.clone() * x.tensor.clone()).sum().into_scalar().into_f64_lossy()
    }
    fn is_finite(&self) -> bool {
        self.tensor.clone().sum().into_scalar().into_f64_lossy().is_finite()
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
