//! The noise scales of McCandlish et al. (2018), "An empirical model of large-batch training":
//! with G the full-batch gradient, H the Hessian of the training objective and C the population
//! covariance of one example's gradient,
//!
//! * `B_simple = Tr(C) / |G|^2`: the batch size at which the minibatch noise `Tr(C)/S` equals the
//!   signal `|G|^2` (exact over the examples, from [`gradient_noise`]);
//! * `B_noise = Tr(H C) / (G^T H G)`: the batch size that the optimal step's loss decrease
//!   `|G|^4 / (2 G^T H G (1 + B_noise/S))` halves at; their "critical batch size" prediction.
//!
//! `G^T H G` is one Hessian-vector product. `Tr(H C) = mean_n (g_n - G_d)^T H (g_n - G_d)` (G_d
//! the data term of G) is estimated from `k` examples drawn without replacement, each one HVP,
//! with the standard error of the mean; with `k = N` it is exact up to the HVP's finite
//! difference.

use super::{dot, gradient_noise, per_example_gradients, Direction, HessianOperator};
use crate::net::data::Dataset;
use crate::net::params::Params;
use crate::net::problem::{NetworkProblem, NoiseMode};
use burn::tensor::{backend::AutodiffBackend, TensorData};
use rand::seq::index::sample;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseScales {
    pub trace_c: f64,
    pub gradient_norm2: f64,
    pub b_simple: f64,
    /// `G^T H G / |G|^2`: the curvature along the gradient.
    pub curvature_along_g: f64,
    pub trace_hc: f64,
    pub trace_hc_se: f64,
    pub b_noise: f64,
    pub b_noise_se: f64,
    /// Examples behind the `Tr(H C)` estimate.
    pub k: usize,
    /// ReLU units that flipped sign inside the HVPs' last finite differences (0: all clean).
    pub relu_flips: usize,
}

/// The noise scales of the full-batch objective `p` (batch norm refused) on its data `data`, at
/// θ, with `Tr(H C)` from `k` examples drawn by stream `seed`.
pub fn noise_scales<B: AutodiffBackend>(
    p: &NetworkProblem<B>,
    data: &Dataset,
    theta: &Params<B>,
    k: usize,
    seed: u64,
) -> Result<NoiseScales, String> {
    let k = k.clamp(1, p.n);
    let gn = gradient_noise(p, theta)?;
    let device = p.x.device();
    let g = p.full_gradient(&theta.tensor).inner();
    let op = HessianOperator::new(p, &theta.tensor, 1e-5);
    let along = op.apply(&g);
    let g_h_g = dot(&g, &along.hv);
    let mut flips = along.relu_flips;
    let mut rng = crate::rng::stream(seed, 0x4E0_15E);
    let idx = sample(&mut rng, p.n, k).into_vec();
    let picked = NetworkProblem::<B>::new(
        p.model.clone(),
        &data.select(&idx, "noise-scale examples"),
        1,
        NoiseMode::FullBatch,
        0.0,
        &device,
    )
    .map_err(|e| e.to_string())?;
    let rows = per_example_gradients(&picked, theta, 1 << 30)?;
    let data_mean = g.clone() - theta.tensor.clone().inner().mul_scalar(p.l2);
    let quad: Vec<f64> = (0..k)
        .map(|n| {
            let row: Vec<f64> = rows.row(n).iter().copied().collect();
            let d = row.len();
            let u =
                Direction::<B>::from_data(TensorData::new(row, [d]), &device) - data_mean.clone();
            let hu = op.apply(&u);
            flips += hu.relu_flips;
            dot(&u, &hu.hv)
        })
        .collect();
    let mean = quad.iter().sum::<f64>() / k as f64;
    let se = if k > 1 {
        let var = quad.iter().map(|q| (q - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
        // Drawn without replacement from N: the finite-population correction.
        (var / k as f64 * (1.0 - k as f64 / p.n as f64)).sqrt()
    } else {
        f64::NAN
    };
    Ok(NoiseScales {
        trace_c: gn.trace_c,
        gradient_norm2: gn.gradient_norm2,
        b_simple: gn.b_simple,
        curvature_along_g: g_h_g / gn.gradient_norm2,
        trace_hc: mean,
        trace_hc_se: se,
        b_noise: mean / g_h_g,
        b_noise_se: se / g_h_g.abs(),
        k,
        relu_flips: flips,
    })
}
