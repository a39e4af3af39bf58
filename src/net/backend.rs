//! Backends and device choice. The CPU (Flex in f32, NdArray in f64, and Flex with an F64 dtype
//! for the exact Hessian products, [`flex_f64`]) is the default; `--device cuda` needs the `cuda`
//! feature and a working driver, probed once with any panic caught, so a missing GPU gives one
//! clear message instead of a backtrace.

//!
//! The f32 and f64 CPU backends must run on different device types: burn keeps one default float
//! dtype per device (its device-settings registry, filled by the first backend that asks), so
//! `NdArray<f32>` training followed by `NdArray<f64>` probes in one process made the "f64" probes
//! compute in f32. Flex and NdArray have distinct devices; `tests/all/network.rs` checks the
//! dtypes after f32 training.

use burn::backend::{Autodiff, Flex, NdArray};

/// Training on the CPU in f32 (Flex: gemm-based matrix products, SIMD, rayon).
pub type CpuF32 = Autodiff<Flex>;
/// Probes that need accuracy (finite-difference Hessian-vector products) run in f64 on the CPU.
pub type CpuF64 = Autodiff<NdArray<f64>>;
/// Training on an NVIDIA GPU in f32.
#[cfg(feature = "cuda")]
pub type CudaF32 = Autodiff<burn::backend::Cuda<f32, i32>>;

/// Calls the generic function `f::<B>(args)` with `B` the backend that *measures* on a
/// [`Resolved`] device in the network validation suite: [`CpuF64`] on the CPU, `CudaF32` on
/// CUDA, because burn 0.21's CUDA matrix products (cubek-matmul) refuse f64 operands ("Types
/// lhs=F64 ... not supported", seen on an H100). The suite's predictions (θ*, the Hessian, C) are
/// always computed on the CPU in f64.
#[macro_export]
macro_rules! with_measurement_backend {
    ($device:expr, $f:ident ( $($arg:expr),* $(,)? )) => {
        match $device {
            $crate::net::backend::Resolved::Cpu => $f::<$crate::net::backend::CpuF64>($($arg),*),
            #[cfg(feature = "cuda")]
            $crate::net::backend::Resolved::Cuda => {
                $f::<$crate::net::backend::CudaF32>($($arg),*)
            }
            #[cfg(not(feature = "cuda"))]
            $crate::net::backend::Resolved::Cuda => {
                unreachable!("resolve() refuses cuda without the feature")
            }
        }
    };
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Cuda,
    /// CUDA when it works, otherwise the CPU (with a message).
    Auto,
}

impl DeviceChoice {
    pub fn parse(s: &str) -> Result<Self, crate::error::ProblemError> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            "auto" => Ok(Self::Auto),
            _ => Err(crate::error::ProblemError::new("--device", s, "cpu, cuda or auto")),
        }
    }
}

/// The device a run will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolved {
    #[default]
    Cpu,
    Cuda,
}

/// Whether a CUDA device can be used: the `cuda` feature is compiled in and a tiny kernel runs.
pub fn cuda_available() -> Result<(), String> {
    #[cfg(feature = "cuda")]
    {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let probe = std::panic::catch_unwind(|| {
            let device = burn::backend::cuda::CudaDevice::default();
            let t = burn::tensor::Tensor::<burn::backend::Cuda<f32, i32>, 1>::from_floats(
                [1.0f32, 2.0],
                &device,
            );
            t.sum().into_scalar()
        });
        std::panic::set_hook(prev);
        match probe {
            Ok(v) if (v - 3.0).abs() < 1e-6 => Ok(()),
            Ok(v) => Err(format!("the CUDA device computed 1 + 2 = {v}")),
            Err(e) => Err(e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the CUDA runtime failed to start".into())
                .lines()
                .next()
                .unwrap_or("")
                .to_string()),
        }
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err("this binary was built without the `cuda` feature (cargo build --release --features cuda)".into())
    }
}

/// Resolves a choice, printing one line when `auto` falls back to the CPU.
pub fn resolve(choice: DeviceChoice) -> Result<Resolved, String> {
    match choice {
        DeviceChoice::Cpu => Ok(Resolved::Cpu),
        DeviceChoice::Cuda => cuda_available().map(|_| Resolved::Cuda).map_err(|e| format!("invalid --device = cuda: no usable CUDA device ({e}); valid is cpu, or auto to fall back to the CPU")),
        DeviceChoice::Auto => match cuda_available() {
            Ok(()) => Ok(Resolved::Cuda),
            Err(e) => {
                eprintln!("note: --device auto: no usable CUDA device ({e}); running on the CPU");
                Ok(Resolved::Cpu)
            }
        },
    }
}

/// A Flex tensor's values as bit patterns (f32 widened without rounding), for the tests that
/// compare bits with burn's own operations.
#[cfg(test)]
pub(crate) fn flex_bits<const D: usize>(t: burn::tensor::Tensor<Flex, D>) -> Vec<u64> {
    let d = t.into_data();
    match d.dtype {
        burn::tensor::DType::F32 => {
            d.to_vec::<f32>().unwrap().iter().map(|v| v.to_bits() as u64).collect()
        }
        _ => d.to_vec::<f64>().unwrap().iter().map(|v| v.to_bits()).collect(),
    }
}

/// A tensor of f64 values on Flex with an explicit F64 dtype. Flex's f64 matrix products (gemm)
/// took half the time of NdArray's (matrixmultiply) on the 2-core EPYC in a scratch measurement
/// (17.6 against 33.9 ms for 1000 x 512 x 512), and 20 Hutchinson probes 20% less (BENCHMARKS.md). Flex's *default* dtype stays f32, so only code whose every
/// tensor takes its dtype from its inputs may run on such tensors: [`super::backprop`] and the
/// exact Hessian products do ([`super::probes::HessianOperator`] sends CPU f64 products there).
pub fn flex_f64<const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
) -> burn::tensor::Tensor<Flex, D> {
    burn::tensor::Tensor::from_data(
        burn::tensor::TensorData::new(values, shape),
        (&Default::default(), burn::tensor::DType::F64),
    )
}

/// A plain (non-autodiff) tensor's values as f64 on the host, in one vectorised pass. burn-ndarray
/// hands an array over without a copy only when nothing else holds it, and otherwise walks a
/// shared one element by element through a dynamic-rank iterator: 24 ms for 932,362 f64 values
/// against 0.7 ms this way, on the 2-core EPYC. `x * 1` (exact, signed zeros and infinities
/// included) makes the owned array. Pass `.inner()` of an autodiff tensor: an operation on the
/// autodiff tensor itself would leave an entry in burn's graph.
pub fn host_f64<K: burn::tensor::backend::Backend, const D: usize>(
    t: burn::tensor::Tensor<K, D>,
) -> Vec<f64> {
    t.mul_scalar(1.0)
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("a float tensor converts to f64")
}

/// Whether `B` is [`CpuF64`], whose f64 products run faster on Flex ([`flex_f64`]).
pub fn is_cpu_f64<B: burn::tensor::backend::Backend>() -> bool {
    std::any::TypeId::of::<B>() == std::any::TypeId::of::<CpuF64>()
}
