//! `sgd-sde breakdown`: the breakdown map. Along `eta = beta eta0`, `S = beta S0` the continuous
//! law `eta/(4S) Tr(C)` is constant; the exact discrete loss grows by `1/(1 - eta lambda_i/2)` per
//! mode up to the stability limit, and finite N pulls it to zero as `S -> N`. Drawn for the
//! Gaussian, without-replacement and reshuffling models, exact curves and simulations together.

use super::{progress, CliError};
use crate::config::{IntegratorKind, MatrixSpec, NoiseModel, ProblemFile, SamplingSpec};
use crate::ensemble::Ensemble;
use crate::output::{plot, write_csv, write_json, Manifest};
use crate::scenario::{Model, Scenario};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_PROBLEM: &str = include_str!("../../sims/breakdown.toml");

#[derive(Debug, Clone)]
pub struct BreakdownOptions {
    pub problem: Option<PathBuf>,
    pub betas: Vec<f64>,
    pub paths: usize,
    pub window: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreakdownRow {
    pub model: String,
    pub beta: f64,
    pub eta: f64,
    pub s: usize,
    pub s_over_n: f64,
    pub eta_lambda_max: f64,
    pub continuous: f64,
    pub exact_ratio: Option<f64>,
    pub measured_ratio: Option<f64>,
    pub measured_se: Option<f64>,
    pub z: Option<f64>,
    pub note: String,
}

const MODELS: [(&str, Option<SamplingSpec>); 3] = [
    ("gaussian", None),
    ("without_replacement", Some(SamplingSpec::WithoutReplacement)),
    ("reshuffle", Some(SamplingSpec::Reshuffle)),
];

/// The base file as a data set, and its Gaussian twin with C = C_pop.
fn variants(
    base: &ProblemFile,
    base_dir: Option<&Path>,
) -> Result<Vec<(String, ProblemFile)>, CliError> {
    let mut data = base.clone();
    if data.noise.model != NoiseModel::Dataset {
        return Err(CliError::Input("invalid noise.model for breakdown: valid is \"dataset\" (the Gaussian model is derived from it with C = C_pop)".into()));
    }
    data.noise.sampling = Some(SamplingSpec::WithoutReplacement);
    let scen = Scenario::build(&data, base_dir)?;
    let Model::Dataset(p) = &scen.model else { unreachable!("dataset model checked above") };
    // C_pop in original coordinates: U diag-free form U (Lambda Cov' Lambda) U^T.
    let u = p
        .hessian()
        .basis()
        .cloned()
        .unwrap_or_else(|| nalgebra::DMatrix::identity(p.hessian().dim(), p.hessian().dim()));
    let c_eig = p.per_example_covariance_eigenbasis();
    let c = &u * c_eig * u.transpose();
    let mut out = Vec::new();
    for (name, sampling) in MODELS {
        let mut f = data.clone();
        match sampling {
            Some(s) => f.noise.sampling = Some(s),
            None => {
                f.noise = Default::default();
                f.noise.covariance = Some(MatrixSpec {
                    matrix: Some(c.row_iter().map(|r| r.iter().copied().collect()).collect()),
                    ..Default::default()
                });
            }
        }
        out.push((name.to_string(), f));
    }
    Ok(out)
}

/// The file at scale beta: `eta = beta eta0`, `S = round(beta S0)` (at least 1).
fn scaled(f: &ProblemFile, beta: f64) -> (ProblemFile, usize) {
    let mut g = f.clone();
    g.optimizer.eta *= beta;
    let s = ((f.optimizer.batch as f64 * beta).round() as usize).max(1);
    g.optimizer.batch = s;
    (g, s)
}

pub fn run(o: &BreakdownOptions) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    crate::output::Outputs::new(&o.out).ensure_writable()?;
    let (base, dir) =
        super::problem_or_default(o.problem.as_deref(), "sims/breakdown.toml", DEFAULT_PROBLEM)?;
    let variants = variants(&base, dir.as_deref())?;
    let first = Scenario::build(&variants[1].1, dir.as_deref())?;
    let n = first.n().expect("data-set model");
    let (s0, eta0, lmax) = (base.optimizer.batch, base.optimizer.eta, first.lambda_max());
    let beta_limit = 2.0 / (eta0 * lmax);
    let betas = if o.betas.is_empty() {
        let mut b: Vec<f64> = (0..)
            .map(|j| 2f64.powi(j) / s0 as f64)
            .take_while(|b| b * s0 as f64 <= n as f64)
            .collect();
        b.extend([0.9 * beta_limit, 0.97 * beta_limit]);
        b.sort_by(f64::total_cmp);
        b
    } else {
        o.betas.clone()
    };
    for &b in &betas {
        if !(b.is_finite() && b > 0.0) {
            return Err(CliError::Input(format!(
                "invalid --betas entry {b}: valid is a finite number > 0"
            )));
        }
    }
    let mut parts = Vec::new();
    for (_, file) in &variants {
        for &beta in &betas {
            if let Ok(scen) = Scenario::build(&scaled(file, beta).0, dir.as_deref()) {
                parts.push(scen.work(o.paths, scen.default_burn_in() + o.window));
            }
        }
    }
    let what = format!(
        "the breakdown map ({} runs x {} paths x burn-in + {} steps)",
        parts.len(),
        o.paths,
        o.window
    );
    crate::budget::Work::sequence(what, parts).check()?;
    let bar = progress::bar((betas.len() * variants.len() * o.paths) as u64, "breakdown", o.quiet);
    let mut rows = Vec::new();
    for (name, file) in &variants {
        for &beta in &betas {
            let (f, s) = scaled(file, beta);
            let mut row = BreakdownRow {
                model: name.clone(),
                beta,
                eta: f.optimizer.eta,
                s,
                s_over_n: s as f64 / n as f64,
                eta_lambda_max: f.optimizer.eta * lmax,
                continuous: f64::NAN,
                exact_ratio: None,
                measured_ratio: None,
                measured_se: None,
                z: None,
                note: String::new(),
            };
            if name != "gaussian" && s > n {
                row.note = format!("skipped: S = {s} > N = {n}");
                bar.inc(o.paths as u64);
                rows.push(row);
                continue;
            }
            if name == "reshuffle" && n % s != 0 {
                row.note = format!("skipped: S = {s} does not divide N = {n}");
                bar.inc(o.paths as u64);
                rows.push(row);
                continue;
            }
            let scen = Scenario::build(&f, dir.as_deref())?;
            let th = scen.theory();
            row.continuous = th.continuous_loss;
            row.exact_ratio = th.discrete_loss.map(|e| e / th.continuous_loss);
            if !th.stable {
                row.note = "past the stability limit: no stationary distribution".into();
                bar.inc(o.paths as u64);
            } else if th.discrete_loss == Some(0.0) {
                row.note = "S = N: no noise, the loss is exactly 0".into();
                row.measured_ratio = Some(0.0);
                row.measured_se = Some(0.0);
                bar.inc(o.paths as u64);
            } else {
                let ens = Ensemble::new(o.paths, o.seed).with_progress(bar.clone());
                let est = scen
                    .stationary_estimate(IntegratorKind::Sgd, &ens, None, o.window)
                    .map_err(|e| CliError::Diverged(format!("{name} at beta = {beta}: {e}")))?;
                row.measured_ratio = Some(est.value / th.continuous_loss);
                row.measured_se = Some(est.se / th.continuous_loss);
                row.z = th.discrete_loss.map(|e| est.z(e));
            }
            rows.push(row);
        }
    }
    bar.finish_and_clear();
    print_rows(&rows, beta_limit);
    let curves = exact_curves(&variants, dir.as_deref(), &betas, n, beta_limit)?;
    write(&o.out, &rows, &curves, beta_limit, n, o, started.elapsed().as_secs_f64())?;
    outln!("wrote {}/breakdown.{{csv,json,png,svg}} and manifest.json", o.out.display());
    Ok(())
}

/// Exact ratio curves on a fine grid: every beta for Gaussian noise, every integer S for the
/// finite-N models (reshuffling: the divisors of N).
/// A labelled exact curve: `(beta, value, ...)` points.
type Curve = (String, Vec<(f64, f64, f64)>);

fn exact_curves(
    variants: &[(String, ProblemFile)],
    dir: Option<&Path>,
    betas: &[f64],
    n: usize,
    beta_limit: f64,
) -> Result<Vec<Curve>, CliError> {
    let lo = betas.iter().copied().fold(f64::INFINITY, f64::min);
    let mut out = Vec::new();
    for (name, file) in variants {
        let s0 = file.optimizer.batch as f64;
        let grid: Vec<f64> = if name == "gaussian" {
            let hi = 0.985 * beta_limit;
            (0..=200).map(|i| lo * (hi / lo).powf(i as f64 / 200.0)).collect()
        } else {
            (1..=n)
                .filter(|s| name != "reshuffle" || n.is_multiple_of(*s))
                .map(|s| s as f64 / s0)
                .filter(|b| *b < beta_limit)
                .collect()
        };
        let mut pts = Vec::new();
        for beta in grid {
            let (f, s) = scaled(file, beta);
            let th = Scenario::build(&f, dir)?.theory();
            if let Some(e) = th.discrete_loss {
                pts.push((beta, s as f64 / n as f64, e / th.continuous_loss));
            }
        }
        out.push((name.clone(), pts));
    }
    Ok(out)
}

fn print_rows(rows: &[BreakdownRow], beta_limit: f64) {
    outln!("breakdown map: E(l) / (eta/(4S) Tr C) along eta = beta eta0, S = beta S0 (stability limit at beta = {beta_limit:.3})");
    outln!(
        "{:<20} {:>7} {:>8} {:>5} {:>7} {:>10} {:>16} {:>7}  note",
        "model",
        "beta",
        "eta",
        "S",
        "S/N",
        "exact",
        "measured ± se",
        "z"
    );
    for r in rows {
        let m = match (r.measured_ratio, r.measured_se) {
            (Some(m), Some(se)) => format!("{m:.4} ± {se:.4}"),
            _ => "-".into(),
        };
        outln!(
            "{:<20} {:>7.3} {:>8.4} {:>5} {:>7.3} {:>10} {:>16} {:>7}  {}",
            r.model,
            r.beta,
            r.eta,
            r.s,
            r.s_over_n,
            r.exact_ratio.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
            m,
            r.z.map(|z| format!("{z:+.2}")).unwrap_or("-".into()),
            r.note
        );
    }
}

fn write(
    dir: &Path,
    rows: &[BreakdownRow],
    curves: &[Curve],
    beta_limit: f64,
    n: usize,
    o: &BreakdownOptions,
    elapsed: f64,
) -> Result<(), CliError> {
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let csv: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.model.clone(),
                r.beta.to_string(),
                r.eta.to_string(),
                r.s.to_string(),
                r.s_over_n.to_string(),
                r.eta_lambda_max.to_string(),
                r.continuous.to_string(),
                opt(r.exact_ratio),
                opt(r.measured_ratio),
                opt(r.measured_se),
                opt(r.z),
                r.note.clone(),
            ]
        })
        .collect();
    write_csv(
        &dir.join("breakdown.csv"),
        &[
            "model",
            "beta",
            "eta",
            "S",
            "S_over_N",
            "eta_lambda_max",
            "continuous_loss",
            "exact_ratio",
            "measured_ratio",
            "measured_se",
            "z",
            "note",
        ],
        &csv,
    )?;
    write_json(
        &dir.join("breakdown.json"),
        &serde_json::json!({ "rows": rows, "beta_stability_limit": beta_limit, "n": n }),
    )?;
    let mut by_beta = plot::Figure {
        title: "Breakdown along eta = beta eta0, S = beta S0".into(),
        x_label: "beta".into(),
        y_label: "E(l) / continuous law".into(),
        log_x: true,
        log_y: true,
        vlines: vec![(beta_limit, "stability limit (eta lambda_max = 2)".into())],
        ..Default::default()
    };
    let mut by_sn = plot::Figure {
        title: format!("Finite data set (N = {n})"),
        x_label: "S / N".into(),
        y_label: "E(l) / continuous law".into(),
        ..Default::default()
    };
    for (i, (name, pts)) in curves.iter().enumerate() {
        by_beta.series.push(plot::Series::line(
            format!("{name}: exact"),
            pts.iter().map(|p| (p.0, p.2)).collect(),
            i,
        ));
        if name != "gaussian" {
            by_sn.series.push(plot::Series::line(
                format!("{name}: exact"),
                pts.iter().map(|p| (p.1, p.2)).collect(),
                i,
            ));
        }
        let measured: Vec<&BreakdownRow> =
            rows.iter().filter(|r| &r.model == name && r.measured_ratio.is_some()).collect();
        let pts_b =
            measured.iter().map(|r| (r.beta, r.measured_ratio.unwrap_or(f64::NAN))).collect();
        let errs: Vec<f64> = measured.iter().map(|r| r.measured_se.unwrap_or(0.0)).collect();
        by_beta.series.push(plot::Series::points(
            format!("{name}: simulated"),
            pts_b,
            Some(errs.clone()),
            i,
        ));
        if name != "gaussian" {
            by_sn.series.push(plot::Series::points(
                format!("{name}: simulated"),
                measured
                    .iter()
                    .map(|r| (r.s_over_n, r.measured_ratio.unwrap_or(f64::NAN)))
                    .collect(),
                Some(errs),
                i,
            ));
        }
    }
    crate::output::Outputs::new(dir).figure("breakdown", &[by_beta, by_sn])?;
    write_json(
        &dir.join("manifest.json"),
        &Manifest::new(
            Some(o.seed),
            serde_json::json!({ "problem": o.problem.as_ref().map(|p| p.display().to_string()).unwrap_or("embedded sims/breakdown.toml".into()), "betas": rows.iter().map(|r| r.beta).collect::<Vec<_>>(), "paths": o.paths, "window": o.window }),
            elapsed,
        ),
    )?;
    Ok(())
}
