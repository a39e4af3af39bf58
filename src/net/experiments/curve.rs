//! A learning curve: train from the context's initialisation and record the training loss and
//! test accuracy per epoch; and the distance between two curves. Shared by the experiments that
//! compare training runs (invariance, width, Gaussian-vs-SGD, breakdown, batch size).

use super::context::NetContext;
use super::error::ExperimentError;
use crate::net::train::{EpochRecord, EvalSet, LearningCurve, TrainSpec};
use crate::net::{Model, NetworkProblem, NoiseMode, Params};
use burn::tensor::backend::AutodiffBackend;

/// Trains from the context's initialisation and returns the per-epoch learning curve.
pub fn train_curve<B: AutodiffBackend>(
    ctx: &NetContext,
    model: &Model,
    spec: TrainSpec,
    batch: usize,
    mode: NoiseMode,
    device: &B::Device,
) -> Result<Vec<EpochRecord>, ExperimentError> {
    Ok(train_run::<B>(ctx, model, spec, batch, mode, device)?.0)
}

/// [`train_curve`], also returning the trained parameters; a divergence names `(eta, S)`.
pub fn train_run<B: AutodiffBackend>(
    ctx: &NetContext,
    model: &Model,
    spec: TrainSpec,
    batch: usize,
    mode: NoiseMode,
    device: &B::Device,
) -> Result<(Vec<EpochRecord>, Params<B>), ExperimentError> {
    let (eta, marks) = (spec.eta, crate::net::train::epoch_marks);
    train_marked::<B>(ctx, model, spec, batch, mode, marks, device)
        .map_err(|e| e.at(format!("eta = {eta}, S = {batch}")))
}

/// Trains from the context's initialisation, evaluating at `marks(steps, steps_per_epoch)`
/// (e.g. [`epoch_marks`](crate::net::train::epoch_marks) or
/// [`end_marks`](crate::net::train::end_marks)); returns the records and the trained parameters.
/// A divergence comes back without context, for a caller that records it itself.
pub fn train_marked<B: AutodiffBackend>(
    ctx: &NetContext,
    model: &Model,
    spec: TrainSpec,
    batch: usize,
    mode: NoiseMode,
    marks: fn(usize, f64) -> Vec<(usize, f64)>,
    device: &B::Device,
) -> Result<(Vec<EpochRecord>, Params<B>), ExperimentError> {
    let (eta, n) = (spec.eta, ctx.train.len());
    let p = NetworkProblem::<B>::new(model.clone(), &ctx.train, batch, mode, 0.0, device)?;
    let steps = spec.steps(n, batch)?;
    let mut curve = LearningCurve {
        model: model.clone(),
        test: EvalSet::new(model, &ctx.test, &ctx.train, device),
        marks: marks(steps, spec.steps_per_epoch(n, batch)),
        records: Vec::new(),
    };
    let mut theta = model.init::<B>(ctx.seed, device);
    crate::net::train::run_shown(
        &p,
        &mut theta,
        &spec,
        steps,
        &mut curve,
        &ctx.bar,
        format!("eta {eta}, S {batch}"),
    )?;
    Ok((curve.records, theta))
}

/// RMS over epochs (after the first) of `f(a) - f(b)`: the distance between two learning curves.
pub fn rms(a: &[EpochRecord], b: &[EpochRecord], f: fn(&EpochRecord) -> f64) -> f64 {
    let k = a.len().min(b.len());
    ((1..k).map(|i| (f(&a[i]) - f(&b[i])).powi(2)).sum::<f64>() / (k.max(2) - 1) as f64).sqrt()
}

/// The mean over runs of `f` at each record (runs recorded at the same epochs), against the first
/// run's epochs.
pub fn mean_curve(runs: &[Vec<EpochRecord>], f: fn(&EpochRecord) -> f64) -> Vec<(f64, f64)> {
    let len = runs.iter().map(Vec::len).min().unwrap_or(0);
    (0..len)
        .map(|i| (runs[0][i].epoch, runs.iter().map(|v| f(&v[i])).sum::<f64>() / runs.len() as f64))
        .collect()
}

/// Learning curves as one CSV file `name`: per epoch record, the run's own key columns (headed
/// `key_headers`), then the record's epoch, step, training loss, test loss and test accuracy.
pub fn write_curves<'a>(
    ctx: &NetContext,
    name: &str,
    key_headers: &[&str],
    curves: impl IntoIterator<Item = (Vec<String>, &'a [EpochRecord])>,
) -> Result<(), ExperimentError> {
    const COLUMNS: [&str; 5] = ["epoch", "step", "train_loss", "test_loss", "test_accuracy"];
    let rows: Vec<Vec<String>> = curves
        .into_iter()
        .flat_map(|(keys, curve)| {
            curve.iter().map(move |c| {
                let mut row = keys.clone();
                row.extend([
                    c.epoch.to_string(),
                    c.step.to_string(),
                    c.train_loss.to_string(),
                    c.test_loss.to_string(),
                    c.test_accuracy.to_string(),
                ]);
                row
            })
        })
        .collect();
    let header: Vec<&str> = key_headers.iter().copied().chain(COLUMNS).collect();
    Ok(ctx.outputs().csv(name, &header, &rows)?)
}
