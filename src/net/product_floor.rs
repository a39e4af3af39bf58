//! The matrix products an MLP workload cannot avoid, timed alone on a backend: the floor under
//! that workload's time there, and the arithmetic behind its rate in GFLOP/s.
//!
//! Layer `l` maps `in_l` to `out_l` features on `r` rows. Written-out back-propagation
//! ([`super::backprop`]) and the R-operator ([`super::probes::ExactHessian`]) use three products:
//!
//! ```text
//! F_l = (r x in)(in x out)    forward           a_{l-1} W_l,   R{a_{l-1}} W_l,   a_{l-1} V_l
//! G_l = (in x r)(r x out)     weight gradient   a_{l-1}^T δ_l  (the left operand a transposed view)
//! E_l = (r x out)(out x in)   error, backwards  δ_l W_l^T      (the right operand a transposed view)
//! ```
//!
//! each `2 r in_l out_l` flop. How many of each a workload needs per layer ([`Workload::counts`]):
//! a training step `F + G` for every layer and `E` for every layer but the first (nothing needs the
//! input's gradient); the forward pass the exact Hessian products keep, `F` for every layer and `E`
//! for all but the first; one R-pass `F + G` for the first layer and `2F + 2G + 2E` for the others
//! (`R{z_l}` and `R{∂L/∂W_l}` have two terms each beyond the first layer, `R{δ_{l-1}}` two).
//! Element-wise work (activations, softmax, bias sums, the update) is not counted: the floor is
//! what a backend would take if that work were free.

use super::flex_matmul::matmul;
use burn::tensor::{backend::Backend, DType, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// A workload whose matrix products [`flops`] counts and [`seconds`] times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One SGD step's gradient by back-propagation.
    TrainingStep,
    /// The forward and backward pass kept by the exact Hessian-vector products.
    HessianForward,
    /// One exact Hessian-vector product given that pass.
    RPass,
}

impl Workload {
    /// `[F, G, E]` products of layer `l` (0-based).
    pub fn counts(self, l: usize) -> [usize; 3] {
        let first = l == 0;
        match self {
            Self::TrainingStep => [1, 1, usize::from(!first)],
            Self::HessianForward => [1, 0, usize::from(!first)],
            Self::RPass if first => [1, 1, 0],
            Self::RPass => [2, 2, 2],
        }
    }
}

/// The flop of `workload`'s matrix products on `rows` rows through layers `sizes`.
pub fn flops(sizes: &[usize], rows: usize, workload: Workload) -> f64 {
    sizes
        .windows(2)
        .enumerate()
        .map(|(l, w)| {
            let per_product = 2.0 * rows as f64 * w[0] as f64 * w[1] as f64;
            workload.counts(l).iter().sum::<usize>() as f64 * per_product
        })
        .sum()
}

/// Products of each shape per timed batch, and timed batches (the median is kept).
const REPS: usize = 4;
const BATCHES: usize = 3;

/// Seconds that each of `workloads`' matrix products take on `rows` rows through layers `sizes`
/// on `K` (operands of `dtype` on `device`, random values in [-1, 1)): every distinct product
/// that some workload needs is timed alone, once (the median of 3 batches of 4 after one warm-up,
/// each batch waited for by reading one value of its last result), and weighted by
/// [`Workload::counts`].
pub fn seconds<K: Backend, const N: usize>(
    sizes: &[usize],
    rows: usize,
    workloads: [Workload; N],
    device: &K::Device,
    dtype: DType,
) -> [f64; N] {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(0);
    let mut random = |shape: [usize; 2]| {
        let v: Vec<f64> = (0..shape[0] * shape[1]).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::<K, 2>::from_data(TensorData::new(v, shape), (device, dtype))
    };
    let mut totals = [0.0; N];
    for (l, w) in sizes.windows(2).enumerate() {
        let (input, weight, delta) =
            (random([rows, w[0]]), random([w[0], w[1]]), random([rows, w[1]]));
        let products: [&dyn Fn() -> Tensor<K, 2>; 3] = [
            &|| matmul(input.clone(), weight.clone()),
            &|| matmul(input.clone().transpose(), delta.clone()),
            &|| matmul(delta.clone(), weight.clone().transpose()),
        ];
        for (kind, product) in products.iter().enumerate() {
            if workloads.iter().all(|wl| wl.counts(l)[kind] == 0) {
                continue;
            }
            let t = time_one(product);
            for (total, wl) in totals.iter_mut().zip(&workloads) {
                *total += wl.counts(l)[kind] as f64 * t;
            }
        }
    }
    totals
}

/// The median over [`BATCHES`] of the time per product in a batch of [`REPS`].
fn time_one<K: Backend>(product: &dyn Fn() -> Tensor<K, 2>) -> f64 {
    let wait = |t: Tensor<K, 2>| t.slice([0..1, 0..1]).into_data();
    wait(product());
    let times: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            let mut last = product();
            for _ in 1..REPS {
                last = product();
            }
            wait(last);
            start.elapsed().as_secs_f64() / REPS as f64
        })
        .collect();
    crate::stats::median(&times)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts against the MLP 784-512-512-512-10 by hand: P1 = Σ in·out = 930,816 and
    /// P2 = the same without the first layer = 529,408.
    #[test]
    fn the_counts_add_up_for_the_benchmark_mlp() {
        let sizes = [784, 512, 512, 512, 10];
        let (p1, p2) = (930_816.0, 529_408.0);
        let r = 128.0;
        assert_eq!(flops(&sizes, 128, Workload::TrainingStep), 2.0 * r * (2.0 * p1 + p2));
        assert_eq!(flops(&sizes, 128, Workload::HessianForward), 2.0 * r * (p1 + p2));
        assert_eq!(flops(&sizes, 128, Workload::RPass), 2.0 * r * (2.0 * p1 + 4.0 * p2));
    }

    /// Each distinct product is timed once and shared: on one layer a training step and an R-pass
    /// need the same `F + G`, so their times are equal to the bit, and the forward pass (`F`
    /// alone) takes less.
    #[test]
    fn each_product_is_timed_once_and_weighed_by_its_count() {
        type K = burn::backend::NdArray<f32>;
        let dev = Default::default();
        let asked = [Workload::TrainingStep, Workload::RPass, Workload::HessianForward];
        let t = seconds::<K, 3>(&[64, 32], 256, asked, &dev, DType::F32);
        assert_eq!(t[0], t[1]);
        assert!(0.0 < t[2] && t[2] < t[0], "{t:?}");
    }
}
