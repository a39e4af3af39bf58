//! Networks: the same integrators train real networks through burn (on the CPU by default: Flex
//! in f32, NdArray in f64; CUDA with the `cuda` feature), and probes measure curvature and
//! gradient noise.
//!
//! A network's parameters are one flat vector θ ([`Params`]); the model reads its weight matrices
//! as slices of θ. So the core's update rules (SGD/EM, heavy ball, Heun) step θ through the same
//! [`State`](crate::State) trait as a quadratic's `Vec<f64>`, and every probe (Hessian-vector
//! products, Hutchinson traces, power iteration) is plain vector algebra on θ.

pub mod backend;
pub mod backprop;
pub mod data;
pub mod excess_loss;
pub mod experiments;
pub mod flex_matmul;
pub mod flex_update;
pub mod local_quadratic;
pub mod model;
pub mod nudged;
pub mod params;
pub mod probes;
pub mod problem;
pub mod product_floor;
pub mod train;

pub use backend::{CpuF32, CpuF64, DeviceChoice};
pub use model::{Activation, Architecture, Layer, Model, ThetaLeaves};
pub use params::Params;
pub use problem::{NetNoise, NetworkProblem, NoiseMode};
