//! Interpolation between minima (ICANN 2018 Fig. 4) and filter-normalised slices (Li et al. 2018).
//!
//! For each pair of runs (eta_A, S_A) and (eta_B, S_B), trained from the same initialisation:
//! - the loss along `theta(alpha) = (1 - alpha) theta_A + alpha theta_B`, alpha in [-0.5, 1.5];
//! - the curvature along that line at each end, `u'H u / |u|^2` with `u = theta_B - theta_A`
//!   (one f64 Hessian-vector product on the probe set);
//! - the curvature in filter-normalised random directions, `d'H d` averaged over K directions
//!   with its standard error. Each d is Gaussian, rescaled per filter (the weights into one
//!   unit) to the norm of that filter in theta, biases zero: a measure of width that rescaling
//!   a ReLU network's layers cannot fool, unlike `u'H u` or `lambda_max`.
//!
//! The claim (ICANN 2018): the minimum found at the larger eta/S is the wider one.

use super::context::NetContext;
use super::curve::train_run;
use super::error::ExperimentError;
use crate::net::backend::host_f64;
use crate::net::probes::{Direction, HessianOperator};
use crate::net::train::{EvalSet, TrainSpec};
use crate::net::{Architecture, CpuF64, Model, NoiseMode, Params};
use crate::output::plot;
use crate::problems::Sampling;
use crate::stats::Estimate;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData};
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

/// One pair of runs: `(eta_A, S_A, eta_B, S_B)`.
pub type Pair = (f64, usize, f64, usize);

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct InterpolationOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,32,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Pairs of runs eta_A:S_A:eta_B:S_B (comma separated; default: one eta at S = 128 and
    /// 16, an eta/S 8 times larger, then two runs with the same eta/S).
    #[arg(long, value_delimiter = ',', default_value = "0.1:128:0.1:16,0.0125:16:0.1:128", value_parser = crate::cli::flags::run_pair)]
    pub pairs: Vec<Pair>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 50.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// Filter-normalised random directions per minimum.
    #[arg(long, default_value_t = 10, value_parser = crate::cli::flags::at_least_one)]
    pub directions: usize,
    /// Examples used by the curvature probes (a stratified subset of the training set; all of
    /// it when smaller).
    #[arg(long, default_value_t = 1000, value_parser = crate::cli::flags::at_least_one)]
    pub probe_n: usize,
    /// Points on the line and on each slice (at least 3).
    #[arg(long, default_value_t = 21, value_parser = crate::cli::flags::at_least_one)]
    pub points: usize,
}

/// One trained minimum and its widths.
#[derive(Debug, Clone, Serialize)]
pub struct Minimum {
    pub eta: f64,
    pub batch: usize,
    pub eta_over_s: f64,
    pub train_loss: f64,
    pub test_accuracy: f64,
    /// `u'H u / |u|^2` along the line to the other minimum.
    pub line_curvature: f64,
    /// `d'H d` over filter-normalised random directions.
    pub slice_curvature: Estimate,
    /// The loss along the first direction, `(t, L(theta + t d))` for t in [-1, 1].
    pub slice: Vec<(f64, f64)>,
    pub relu_flips: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinePoint {
    pub alpha: f64,
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairReport {
    pub a: Minimum,
    pub b: Minimum,
    /// `|theta_B - theta_A|`.
    pub distance: f64,
    pub line: Vec<LinePoint>,
    /// B's widths over A's (below 1: B is the wider).
    pub line_curvature_ratio: f64,
    pub slice_curvature_ratio: f64,
}

/// A filter-normalised Gaussian direction for `theta` (stream `(seed, i)`).
fn filter_normalised(arch: &Architecture, theta: &[f64], seed: u64, i: u64) -> Vec<f64> {
    let mut r = crate::rng::stream(seed, i);
    let mut d = vec![0.0; theta.len()];
    for (l, (w, _, _)) in arch.offsets().into_iter().enumerate() {
        let (fan_in, units) = (arch.sizes[l], arch.sizes[l + 1]);
        for v in &mut d[w..w + fan_in * units] {
            *v = StandardNormal.sample(&mut r);
        }
        // Filter j is column j of the (fan_in x units) row-major block: the weights into unit j.
        for j in 0..units {
            let norm =
                |x: &[f64]| (0..fan_in).map(|k| x[w + k * units + j].powi(2)).sum::<f64>().sqrt();
            let scale = norm(theta) / norm(&d).max(f64::MIN_POSITIVE);
            (0..fan_in).for_each(|k| d[w + k * units + j] *= scale);
        }
    }
    d
}

fn tensor(v: &[f64]) -> Direction<CpuF64> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Default::default())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl super::Experiment for InterpolationOptions {
    const NAME: &'static str = "interpolation";
    type Report = Vec<PairReport>;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let arch = Architecture::new(o.layers.clone())?;
        let model = Model::new(arch.clone());
        let (_, probe) = super::probe_set(&model, &ctx.train, o.probe_n, ctx.seed)?;
        let train_set = EvalSet::<B>::new(&model, &ctx.train, &ctx.train, device);
        let test_set = EvalSet::<B>::new(&model, &ctx.test, &ctx.train, device);
        let on_device = |v: &[f64]| Params::<B>::from_vec(v, device).tensor;
        let grid = |lo: f64, hi: f64| -> Vec<f64> {
            (0..o.points).map(|k| lo + (hi - lo) * k as f64 / (o.points - 1) as f64).collect()
        };
        let train = |eta: f64, batch: usize| -> Result<Vec<f64>, ExperimentError> {
            let spec = TrainSpec::sgd(eta, 0.0, o.epochs, ctx.seed + 3);
            let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
            Ok(train_run::<B>(ctx, &model, spec, batch, mode, device)?.1.to_vec())
        };
        // The widths of the minimum `theta` with `u` the direction to the other minimum.
        let widths = |eta: f64, batch: usize, theta: &[f64], u: &[f64]| {
            let t64 = tensor(theta);
            let op = HessianOperator::new(&probe, &Tensor::from_inner(t64), 1e-5);
            let line = op.apply(&tensor(u));
            let hv = host_f64(line.hv);
            let mut flips = line.relu_flips;
            let mut curvatures = Vec::with_capacity(o.directions);
            let mut slice = Vec::new();
            for i in 0..o.directions {
                let d = filter_normalised(&arch, theta, ctx.seed, 1000 + i as u64);
                let h = op.apply(&tensor(&d));
                flips += h.relu_flips;
                curvatures.push(dot(&d, &host_f64(h.hv)));
                if i == 0 {
                    for t in grid(-1.0, 1.0) {
                        let p: Vec<f64> = theta.iter().zip(&d).map(|(x, y)| x + t * y).collect();
                        slice.push((t, train_set.evaluate(&model, &on_device(&p)).0));
                    }
                }
            }
            Minimum {
                eta,
                batch,
                eta_over_s: eta / batch as f64,
                train_loss: train_set.evaluate(&model, &on_device(theta)).0,
                test_accuracy: test_set.evaluate(&model, &on_device(theta)).1,
                line_curvature: dot(u, &hv) / dot(u, u),
                slice_curvature: Estimate::from_replicas(&curvatures),
                slice,
                relu_flips: flips,
            }
        };
        let mut reports = Vec::new();
        for &(eta_a, s_a, eta_b, s_b) in &o.pairs {
            let (theta_a, theta_b) = (train(eta_a, s_a)?, train(eta_b, s_b)?);
            let u: Vec<f64> = theta_b.iter().zip(&theta_a).map(|(b, a)| b - a).collect();
            let line = grid(-0.5, 1.5)
                .into_iter()
                .map(|alpha| {
                    let p: Vec<f64> =
                        theta_a.iter().zip(&u).map(|(a, du)| a + alpha * du).collect();
                    let p = on_device(&p);
                    let (train_loss, _) = train_set.evaluate(&model, &p);
                    let (test_loss, test_accuracy) = test_set.evaluate(&model, &p);
                    LinePoint { alpha, train_loss, test_loss, test_accuracy }
                })
                .collect();
            let a = widths(eta_a, s_a, &theta_a, &u);
            let b = widths(eta_b, s_b, &theta_b, &u);
            reports.push(PairReport {
                line_curvature_ratio: b.line_curvature / a.line_curvature,
                slice_curvature_ratio: b.slice_curvature.value / a.slice_curvature.value,
                distance: dot(&u, &u).sqrt(),
                line,
                a,
                b,
            });
        }
        Ok(reports)
    }

    fn write(&self, pairs: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let mut rows = Vec::new();
        for (k, p) in pairs.iter().enumerate() {
            for l in &p.line {
                rows.push(
                    [k as f64, l.alpha, l.train_loss, l.test_loss, l.test_accuracy]
                        .iter()
                        .map(|v| v.to_string())
                        .collect(),
                );
            }
        }
        ctx.outputs().csv(
            "interpolation.csv",
            &["pair", "alpha", "train_loss", "test_loss", "test_accuracy"],
            &rows,
        )?;
        ctx.outputs().json("interpolation.json", &serde_json::json!({ "pairs": pairs }))?;
        let name = |m: &Minimum| format!("eta {} S {}", m.eta, m.batch);
        let line = plot::Figure {
            title: "train loss along (1 - alpha) theta_A + alpha theta_B".into(),
            x_label: "alpha".into(),
            y_label: "train loss".into(),
            series: pairs
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    plot::Series::line(
                        format!("A = {}, B = {}", name(&p.a), name(&p.b)),
                        p.line.iter().map(|l| (l.alpha, l.train_loss)).collect(),
                        k,
                    )
                })
                .collect(),
            ..Default::default()
        };
        let slices = plot::Figure {
            title: "filter-normalised slice through each minimum".into(),
            x_label: "t".into(),
            y_label: "train loss".into(),
            series: pairs
                .iter()
                .flat_map(|p| [&p.a, &p.b])
                .enumerate()
                .map(|(k, m)| plot::Series::line(name(m), m.slice.clone(), k))
                .collect(),
            ..Default::default()
        };
        ctx.outputs().figure("interpolation", &[line, slices])?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        self.pairs.iter().flat_map(|&(_, a, _, b)| [("--pairs", a), ("--pairs", b)]).collect()
    }

    /// Four trainings per pair, plus per minimum 1 + K HVPs (two full-batch gradients on
    /// probe_n examples, up to 4 tries) and the loss on the line and slices (forward passes).
    fn work(&self, n: usize) -> (f64, usize) {
        let pairs = self.pairs.len() as f64;
        let hvps = 2.0 * (1 + self.directions) as f64 * 8.0 * self.probe_n as f64;
        let evals = 3.0 * self.points as f64 * n as f64;
        (pairs * (2.0 * self.epochs * n as f64 + hvps + evals), super::params_of(&self.layers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_normalised_directions_match_each_filters_norm() {
        let arch = Architecture::new(vec![3, 2, 2]).unwrap();
        let theta: Vec<f64> = (0..arch.n_params()).map(|i| (i as f64 * 0.37).sin()).collect();
        let d = filter_normalised(&arch, &theta, 1, 0);
        for (l, (w, b, _)) in arch.offsets().into_iter().enumerate() {
            let (fan_in, units) = (arch.sizes[l], arch.sizes[l + 1]);
            for j in 0..units {
                let norm = |x: &[f64]| {
                    (0..fan_in).map(|k| x[w + k * units + j].powi(2)).sum::<f64>().sqrt()
                };
                assert!((norm(&d) - norm(&theta)).abs() < 1e-12, "layer {l} unit {j}");
            }
            assert!(d[b..b + units].iter().all(|&x| x == 0.0), "biases are not moved");
        }
        assert_ne!(d, filter_normalised(&arch, &theta, 1, 1), "each i its own direction");
    }
}
