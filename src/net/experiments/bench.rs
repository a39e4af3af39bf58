//! The speed figures of the network layer: one training epoch of the 4-layer MLP
//! (784-512-512-512-10, batch 128) in f32 on the chosen device, and the cost of one
//! Hessian-vector product (f64, CPU) and one Hutchinson Tr(H) estimate, in f64 on the CPU and in
//! the training precision on the training device (f32, the precision PyTorch's reference uses).
//! Without batch norm the products are exact (R-operator); with it, central differences. Each
//! workload's matrix products are also timed alone on the same backend ([`product_floor`]), to
//! tell the products' speed from everything else's.

use super::context::NetContext;
use super::error::ExperimentError;
use crate::net::backend::host_f64;
use crate::net::probes::{hessian_stats, HessianOperator};
use crate::net::product_floor::{self, Workload};
use crate::net::train::TrainSpec;
use crate::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode, Params};
use crate::observers::Series;
use crate::stats::median;

use crate::problems::Sampling;
use burn::backend::Flex;
use burn::tensor::{backend::AutodiffBackend, DType};
use serde::Serialize;
use std::time::Instant;

/// Timed Hessian-vector products (after 2 untimed ones), as in PyTorch's reference.
pub const HVP_REPS: usize = 10;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct BenchOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,512,512,512,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Batch size S.
    #[arg(long, default_value_t = 128, value_parser = crate::cli::flags::at_least_one)]
    pub batch: usize,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 1.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Training examples behind the timed Hessian-vector product and Tr(H) (a stratified subset;
    /// all of them when fewer).
    #[arg(long, default_value_t = 1000, value_parser = crate::cli::flags::at_least_one)]
    pub hvp_n: usize,
    /// Rademacher probes of the Hutchinson estimate of Tr(H).
    #[arg(long, default_value_t = 10, value_parser = crate::cli::flags::at_least_one)]
    pub probes: usize,
    /// Batch norm after each hidden layer.
    #[arg(long)]
    pub batch_norm: bool,
    /// Heavy-ball momentum m of the timed epoch (0: plain SGD, the headline workload).
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::flags::momentum)]
    pub momentum: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub device: String,
    pub train_examples: usize,
    pub params: usize,
    pub batch: usize,
    pub momentum: f64,
    pub steps: usize,
    pub seconds: f64,
    pub steps_per_second: f64,
    pub seconds_per_epoch: f64,
    pub hvp_examples: usize,
    /// The median of [`HVP_REPS`] products, each from scratch at θ, after 2 warm-ups.
    pub hvp_seconds: f64,
    pub hvp_times: Vec<f64>,
    /// The central-difference step the product used (divided by 10 per retry after ReLU flips);
    /// 0 for an exact product.
    pub hvp_step: f64,
    pub trace_probes: usize,
    /// Tr(H) in f64 on the CPU: the time, and the estimate with its standard error.
    pub trace_seconds: f64,
    pub trace: f64,
    pub trace_se: f64,
    /// ReLU units that changed sign within the probes' final steps (0: every product clean).
    pub trace_relu_flips: usize,
    /// Tr(H) with the same probes in the training precision on the training device.
    pub trace_train_precision_seconds: f64,
    pub trace_train_precision: f64,
    pub trace_train_precision_se: f64,
    /// The epoch's matrix products alone on the training backend ([`product_floor`]).
    pub epoch_products: Products,
    /// The HVP's and the f64 trace's matrix products alone on the CPU in f64, and the trace's in
    /// the training precision on the training device; absent with batch norm (central
    /// differences, not the R-operator).
    pub hvp_products: Option<Products>,
    pub trace_products: Option<Products>,
    pub trace_train_precision_products: Option<Products>,
}

/// A workload's matrix products ([`product_floor`]): their arithmetic, and the time the same
/// backend takes for them alone, the floor under the workload's time (`seconds` over the
/// workload's measured time is the share the products alone would fill).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Products {
    pub gflop: f64,
    pub seconds: f64,
}

impl super::Experiment for BenchOptions {
    const NAME: &'static str = "bench";
    type Report = BenchReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?.with_batch_norm(o.batch_norm));
        let n = ctx.train.len();
        let p = NetworkProblem::<B>::new(
            model.clone(),
            &ctx.train,
            o.batch,
            NoiseMode::Minibatch(if n.is_multiple_of(o.batch) {
                Sampling::Reshuffle
            } else {
                Sampling::WithoutReplacement
            }),
            0.0,
            device,
        )?;
        let mut theta = model.init::<B>(ctx.seed, device);
        let spec = TrainSpec::sgd(0.01, o.momentum, o.epochs, ctx.seed);
        let steps = spec.steps(n, o.batch)?;
        // Warm up (allocation, kernel compilation on GPUs) before timing.
        crate::net::train::run_shown(
            &p,
            &mut theta,
            &spec,
            5,
            &mut Series::new(usize::MAX, 1),
            &ctx.bar,
            "warm-up".into(),
        )?;
        let t = Instant::now();
        crate::net::train::run_shown(
            &p,
            &mut theta,
            &spec,
            steps,
            &mut Series::new(usize::MAX, 1),
            &ctx.bar,
            "timed epoch".into(),
        )?;
        let _ = theta.to_vec(); // wait for the device
        let seconds = t.elapsed().as_secs_f64();
        let (sub, probe) = super::probe_set(&model, &ctx.train, o.hvp_n, ctx.seed)?;
        let th64 = Params::<CpuF64>::from_vec(&theta.to_vec(), &Default::default());
        // One product from scratch at θ (the operator's forward pass included), timed as
        // PyTorch's reference times its double backprop: the median of 10 after 2 warm-ups.
        let one_hvp = || {
            let t = Instant::now();
            let v = th64.tensor.clone().inner();
            let one = HessianOperator::new(&probe, &th64.tensor, 1e-5).apply(&v);
            let _ = host_f64(one.hv); // wait for the device
            (t.elapsed().as_secs_f64(), one.eps)
        };
        let (_, hvp_step) = one_hvp();
        one_hvp();
        let hvp_times: Vec<f64> = (0..HVP_REPS).map(|_| one_hvp().0).collect();
        let hvp_seconds = median(&hvp_times);
        let t = Instant::now();
        let f64_stats = hessian_stats(&probe, &th64, o.probes, 1e-5, ctx.seed);
        let trace_seconds = t.elapsed().as_secs_f64();
        let probe_train =
            NetworkProblem::<B>::new(model.clone(), &sub, 1, NoiseMode::FullBatch, 0.0, device)?;
        let t = Instant::now();
        let train_stats = hessian_stats(&probe_train, &theta, o.probes, 1e-5, ctx.seed);
        let trace_train_precision_seconds = t.elapsed().as_secs_f64();
        // The same workloads' matrix products alone, on the same backends and dtypes (the f64
        // products on Flex in f64, where HessianOperator sends CpuF64's exact products).
        let sizes = &model.arch.sizes;
        let [step] = product_floor::seconds::<B::InnerBackend, 1>(
            sizes,
            o.batch,
            [Workload::TrainingStep],
            device,
            DType::F32,
        );
        let steps_per_epoch = steps as f64 / o.epochs;
        let epoch_products = Products {
            gflop: product_floor::flops(sizes, o.batch, Workload::TrainingStep) * steps_per_epoch
                / 1e9,
            seconds: step * steps_per_epoch,
        };
        let (hvp_products, trace_products, trace_train_precision_products) = if o.batch_norm {
            (None, None, None)
        } else {
            let (rows, probes) = (sub.len(), o.probes);
            let pair = [Workload::HessianForward, Workload::RPass];
            let [forward, r_pass] = product_floor::seconds::<Flex, 2>(
                sizes,
                rows,
                pair,
                &Default::default(),
                DType::F64,
            );
            let [forward_32, r_pass_32] =
                product_floor::seconds::<B::InnerBackend, 2>(sizes, rows, pair, device, DType::F32);
            let flop = |w| product_floor::flops(sizes, rows, w);
            // The kept forward pass once, then `k` R-passes.
            let of = |k: f64, forward: f64, r_pass: f64| Products {
                gflop: (flop(Workload::HessianForward) + k * flop(Workload::RPass)) / 1e9,
                seconds: forward + k * r_pass,
            };
            (
                Some(of(1.0, forward, r_pass)),
                Some(of(probes as f64, forward, r_pass)),
                Some(of(probes as f64, forward_32, r_pass_32)),
            )
        };
        let r = BenchReport {
            device: format!("{:?}", ctx.device),
            train_examples: n,
            params: model.arch.n_params(),
            batch: o.batch,
            momentum: o.momentum,
            steps,
            seconds,
            steps_per_second: steps as f64 / seconds,
            seconds_per_epoch: seconds / o.epochs,
            hvp_examples: sub.len(),
            hvp_seconds,
            hvp_times,
            hvp_step,
            trace_probes: o.probes,
            trace_seconds,
            trace: f64_stats.trace.value,
            trace_se: f64_stats.trace.se,
            trace_relu_flips: f64_stats.relu_flips,
            trace_train_precision_seconds,
            trace_train_precision: train_stats.trace.value,
            trace_train_precision_se: train_stats.trace.se,
            epoch_products,
            hvp_products,
            trace_products,
            trace_train_precision_products,
        };
        Ok(r)
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        ctx.outputs().json("bench.json", &r)?;
        Ok(())
    }
    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![("--batch", self.batch)]
    }

    fn work(&self, n: usize) -> (f64, usize) {
        // The epoch, then 1 + 2 probes Hessian-vector products of up to 4 tries x 2 gradients
        // (central differences, with batch norm; exact products cost less).
        let probes = (1 + 2 * self.probes) as f64 * 8.0 * self.hvp_n.min(n) as f64;
        (self.epochs * n as f64 + probes, super::params_of(&self.layers))
    }
}
