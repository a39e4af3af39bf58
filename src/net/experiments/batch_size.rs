//! Experiment 5a (Smith & Le 2018): the optimal batch size. Test accuracy after a fixed number of
//! epochs against batch size B, for several learning rates eps, training-set sizes N and momenta m
//! (seeds averaged). B_opt per setting is the vertex of a parabola through the best B and its two
//! neighbours in log2 B (reported as a bound when the best B is at the grid's edge). The noise-scale
//! theory predicts `B_opt ∝ eps N / (1 - m)`: the slope of log B_opt against log(eps N/(1-m)) over
//! the interior optima is 1, reported with its least-squares standard error.

use super::context::NetContext;
use super::curve::train_curve;
use super::error::ExperimentError;
use crate::net::train::EpochRecord;
use crate::net::train::TrainSpec;
use crate::net::{Architecture, Model, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct BatchSizeOptions {
    pub layers: Vec<usize>,
    pub etas: Vec<f64>,
    pub batches: Vec<usize>,
    /// Extra training-set sizes (at the middle learning rate).
    pub ns: Vec<usize>,
    /// Extra momenta (at the middle learning rate).
    pub momenta: Vec<f64>,
    pub epochs: f64,
    pub seeds: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub eta: f64,
    pub n: usize,
    pub momentum: f64,
    pub accuracy: Vec<(usize, f64)>,
    pub b_opt: f64,
    /// "interior", "at most" (best B is the smallest) or "at least" (the largest).
    pub kind: String,
    pub predicted_scale: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchSizeReport {
    pub settings: Vec<Setting>,
    pub slope: Option<f64>,
    pub slope_se: Option<f64>,
}

fn b_opt(acc: &[(usize, f64)]) -> (f64, String) {
    let j = (0..acc.len()).max_by(|&a, &b| acc[a].1.total_cmp(&acc[b].1)).unwrap_or(0);
    if j == 0 {
        return (acc[0].0 as f64, "at most".into());
    }
    if j + 1 == acc.len() {
        return (acc[j].0 as f64, "at least".into());
    }
    let (x0, x1, x2) =
        ((acc[j - 1].0 as f64).log2(), (acc[j].0 as f64).log2(), (acc[j + 1].0 as f64).log2());
    let (y0, y1, y2) = (acc[j - 1].1, acc[j].1, acc[j + 1].1);
    let denom = (x0 - x1) * (x0 - x2) * (x1 - x2);
    let a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom;
    let b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom;
    let vertex = if a < 0.0 { (-b / (2.0 * a)).clamp(x0, x2) } else { x1 };
    (2f64.powf(vertex), "interior".into())
}

impl super::Experiment for BatchSizeOptions {
    const NAME: &'static str = "batch-size";
    type Report = BatchSizeReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let mid = o.etas[o.etas.len() / 2];
        let n0 = ctx.train.len();
        let mut grid: Vec<(f64, usize, f64)> = o.etas.iter().map(|&e| (e, n0, 0.0)).collect();
        grid.extend(o.ns.iter().filter(|&&n| n != n0).map(|&n| (mid, n, 0.0)));
        grid.extend(o.momenta.iter().filter(|&&m| m != 0.0).map(|&m| (mid * (1.0 - m), n0, m)));
        let mut settings = Vec::new();
        for (eta, n, m) in grid {
            let train = if n < ctx.train.len() {
                ctx.train.stratified_subset(n, ctx.seed)?
            } else {
                ctx.train.clone()
            };
            let mut acc = Vec::new();
            for &b in o.batches.iter().filter(|&&b| b <= n) {
                let mut total = 0.0;
                for s in 0..o.seeds as u64 {
                    let run_ctx = NetContext {
                        train: train.clone(),
                        seed: ctx.seed + 100 * s,
                        ..ctx.clone()
                    };
                    let curve: Vec<EpochRecord> = if m == 0.0 {
                        train_curve::<B>(
                            &run_ctx,
                            &model,
                            TrainSpec::sgd(eta, 0.0, o.epochs, run_ctx.seed + 5),
                            b,
                            NoiseMode::Minibatch(Sampling::WithoutReplacement),
                            device,
                        )?
                    } else {
                        train_curve::<B>(
                            &run_ctx,
                            &model,
                            TrainSpec::sgd(eta, m, o.epochs, run_ctx.seed + 5),
                            b,
                            NoiseMode::Minibatch(Sampling::WithoutReplacement),
                            device,
                        )?
                    };
                    total += curve.last().map_or(0.0, |r| r.test_accuracy);
                }
                acc.push((b, total / o.seeds as f64));
            }
            let (bo, kind) = b_opt(&acc);
            // With momentum the step is eta; Smith & Le's eps is the effective eta/(1-m)... here the
            // grid keeps eta/(1-m) = mid fixed, so the prediction eps N/(1-m) uses eps = eta.
            let predicted = eta * n as f64 / (1.0 - m);
            if !ctx.quiet {
                ctx.bar.suspend(|| {
                    eprintln!(
                        "eta = {eta:.4}, N = {n}, m = {m}: accuracy {:?} -> B_opt {bo:.1} ({kind})",
                        acc.iter().map(|(b, a)| format!("{b}:{a:.3}")).collect::<Vec<_>>()
                    )
                });
            }
            settings.push(Setting {
                eta,
                n,
                momentum: m,
                accuracy: acc,
                b_opt: bo,
                kind,
                predicted_scale: predicted,
            });
        }
        let interior: Vec<Setting> =
            settings.iter().filter(|s| s.kind == "interior").cloned().collect();
        let (slope, slope_se) = if interior.len() >= 3 {
            let xs: Vec<f64> = interior.iter().map(|s| s.predicted_scale.ln()).collect();
            let ys: Vec<f64> = interior.iter().map(|s| s.b_opt.ln()).collect();
            let k = xs.len() as f64;
            let (mx, my) = (xs.iter().sum::<f64>() / k, ys.iter().sum::<f64>() / k);
            let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
            let b = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / sxx;
            let resid: f64 = xs.iter().zip(&ys).map(|(x, y)| (y - my - b * (x - mx)).powi(2)).sum();
            (Some(b), Some((resid / (k - 2.0) / sxx).sqrt()))
        } else {
            (None, None)
        };
        let r = BatchSizeReport { settings, slope, slope_se };
        Ok(r)
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let rows: Vec<Vec<String>> = r
            .settings
            .iter()
            .flat_map(|s| {
                s.accuracy.iter().map(move |(b, a)| {
                    vec![
                        s.eta.to_string(),
                        s.n.to_string(),
                        s.momentum.to_string(),
                        b.to_string(),
                        a.to_string(),
                        s.b_opt.to_string(),
                        s.kind.clone(),
                    ]
                })
            })
            .collect();
        ctx.outputs().csv(
            "batch_size.csv",
            &["eta", "N", "momentum", "B", "test_accuracy", "B_opt", "B_opt_kind"],
            &rows,
        )?;
        ctx.outputs().json("batch_size.json", &r)?;
        let curves = plot::Figure {
            title: "Test accuracy against batch size".into(),
            x_label: "batch size B".into(),
            y_label: "test accuracy".into(),
            log_x: true,
            series: r
                .settings
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    plot::Series::line(
                        format!("eta {:.3}, N {}, m {}", s.eta, s.n, s.momentum),
                        s.accuracy.iter().map(|(b, a)| (*b as f64, *a)).collect(),
                        i,
                    )
                })
                .collect(),
            ..Default::default()
        };
        let scaling = plot::Figure {
            title: format!(
                "B_opt against eps N/(1-m) (slope {})",
                r.slope
                    .map(|s| format!("{s:.2} ± {:.2}", r.slope_se.unwrap_or(f64::NAN)))
                    .unwrap_or("n/a".into())
            ),
            x_label: "eps N / (1 - m)".into(),
            y_label: "B_opt".into(),
            log_x: true,
            log_y: true,
            series: vec![plot::Series::points(
                "interior optima",
                r.settings
                    .iter()
                    .filter(|s| s.kind == "interior")
                    .map(|s| (s.predicted_scale, s.b_opt))
                    .collect(),
                None,
                0,
            )],
            ..Default::default()
        };
        ctx.outputs().figure("batch_size", &[curves, scaling])?;
        Ok(())
    }
    fn work(&self, n: usize) -> (f64, usize) {
        let runs = (self.etas.len() * self.batches.len() + self.momenta.len()) as f64
            * self.ns.len().max(1) as f64
            * self.seeds as f64;
        (runs * self.epochs * n as f64, super::params_of(&self.layers))
    }
}
