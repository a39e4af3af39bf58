//! `sgd-sde law`: the headline plot of the OU law. Over a grid of (eta, S), the measured stationary
//! loss against eta/S with the continuous law `eta/(4S) Tr(C)`, and the ratio to the law against
//! `eta lambda_max` with the exact discrete factor (which for Gaussian noise depends on eta only).

use super::{progress, CliError};
use crate::config::{IntegratorKind, NoiseModel, ProblemFile};
use crate::ensemble::Ensemble;
use crate::output::{plot, write_csv, write_json, Manifest};
use crate::scenario::Scenario;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_PROBLEM: &str = include_str!("../../sims/law.toml");

#[derive(Debug, Clone)]
pub struct LawOptions {
    pub problem: Option<PathBuf>,
    pub etas: Vec<f64>,
    pub batches: Vec<usize>,
    pub paths: usize,
    pub window: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LawPoint {
    pub eta: f64,
    pub batch: usize,
    pub eta_over_s: f64,
    pub eta_lambda_max: f64,
    pub continuous: f64,
    pub exact: f64,
    pub measured: f64,
    pub se: f64,
    pub z_exact: f64,
    pub z_continuous: f64,
}

pub fn run(o: &LawOptions) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    crate::output::Outputs::new(&o.out).ensure_writable()?;
    let (base, dir) =
        super::problem_or_default(o.problem.as_deref(), "sims/law.toml", DEFAULT_PROBLEM)?;
    if base.noise.model != NoiseModel::Gaussian || base.optimizer.momentum != 0.0 {
        return Err(CliError::Input("invalid problem for law: valid is noise.model = \"gaussian\" with momentum = 0 (the plot collapses on eta alone only then)".into()));
    }
    let lmax = Scenario::build(&base, dir.as_deref())?.lambda_max();
    let etas = if o.etas.is_empty() {
        [0.01, 0.03, 0.1, 0.3, 0.6, 0.9].iter().map(|f| f * 2.0 / lmax).collect()
    } else {
        o.etas.clone()
    };
    let batches = if o.batches.is_empty() { vec![1, 4, 16, 64] } else { o.batches.clone() };
    let mut parts = Vec::new();
    for &s in &batches {
        for &eta in &etas {
            let mut f = base.clone();
            (f.optimizer.eta, f.optimizer.batch) = (eta, s);
            if let Ok(scen) = Scenario::build(&f, dir.as_deref()) {
                parts.push(scen.work(o.paths, scen.default_burn_in() + o.window));
            }
        }
    }
    let what = format!(
        "the law grid ({} points x {} paths x burn-in + {} steps)",
        parts.len(),
        o.paths,
        o.window
    );
    crate::budget::Work::sequence(what, parts).check()?;
    let bar = progress::bar((etas.len() * batches.len() * o.paths) as u64, "law grid", o.quiet);
    let mut points = Vec::new();
    for &s in &batches {
        for &eta in &etas {
            let mut f = base.clone();
            f.optimizer.eta = eta;
            f.optimizer.batch = s;
            let scen = Scenario::build(&f, dir.as_deref())?;
            let th = scen.theory();
            let exact = th.discrete_loss.ok_or_else(|| {
                CliError::Input(format!(
                    "invalid --etas entry {eta}: valid range is eta < {:.6e} ({})",
                    th.stability_limit, th.stability_rule
                ))
            })?;
            let ens = Ensemble::new(o.paths, o.seed).with_progress(bar.clone());
            let est = scen
                .stationary_estimate(IntegratorKind::Sgd, &ens, None, o.window)
                .map_err(|e| CliError::Diverged(e.to_string()))?;
            points.push(LawPoint {
                eta,
                batch: s,
                eta_over_s: eta / s as f64,
                eta_lambda_max: eta * lmax,
                continuous: th.continuous_loss,
                exact,
                measured: est.value,
                se: est.se,
                z_exact: est.z(exact),
                z_continuous: est.z(th.continuous_loss),
            });
        }
    }
    bar.finish_and_clear();
    outln!(
        "{:>10} {:>5} {:>10} {:>8} {:>12} {:>12} {:>12} {:>10} {:>8} {:>9}",
        "eta",
        "S",
        "eta/S",
        "eta*lmax",
        "continuous",
        "exact",
        "measured",
        "se",
        "z_exact",
        "z_cont"
    );
    for p in &points {
        outln!("{:>10.4e} {:>5} {:>10.3e} {:>8.3} {:>12.5e} {:>12.5e} {:>12.5e} {:>10.2e} {:>+8.2} {:>+9.1}", p.eta, p.batch, p.eta_over_s, p.eta_lambda_max, p.continuous, p.exact, p.measured, p.se, p.z_exact, p.z_continuous);
    }
    write(o, &points, &base, dir.as_deref(), lmax, started.elapsed().as_secs_f64())?;
    outln!("wrote {}/law.{{csv,json,png,svg}} and manifest.json", o.out.display());
    Ok(())
}

fn write(
    o: &LawOptions,
    points: &[LawPoint],
    base: &ProblemFile,
    dir: Option<&Path>,
    lmax: f64,
    elapsed: f64,
) -> Result<(), CliError> {
    let csv: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            [
                p.eta,
                p.batch as f64,
                p.eta_over_s,
                p.eta_lambda_max,
                p.continuous,
                p.exact,
                p.measured,
                p.se,
                p.z_exact,
                p.z_continuous,
            ]
            .iter()
            .map(|v| v.to_string())
            .collect()
        })
        .collect();
    write_csv(
        &o.out.join("law.csv"),
        &[
            "eta",
            "S",
            "eta_over_S",
            "eta_lambda_max",
            "continuous",
            "exact",
            "measured",
            "se",
            "z_exact",
            "z_continuous",
        ],
        &csv,
    )?;
    write_json(&o.out.join("law.json"), points)?;
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), p| (lo.min(p.eta_over_s), hi.max(p.eta_over_s)));
    let per_unit = points[0].continuous / points[0].eta_over_s; // Tr(C)/4
    let mut by_ratio = plot::Figure {
        title: "OU law: E(l) against eta/S".into(),
        x_label: "eta / S".into(),
        y_label: "stationary E(l)".into(),
        log_x: true,
        log_y: true,
        ..Default::default()
    };
    by_ratio.series.push(plot::Series::line(
        "continuous law eta/(4S) Tr(C)",
        vec![(lo, lo * per_unit), (hi, hi * per_unit)],
        5,
    ));
    let mut by_eta = plot::Figure {
        title: "Discretisation: E(l) / law against eta lambda_max".into(),
        x_label: "eta lambda_max".into(),
        y_label: "E(l) / (eta/(4S) Tr C)".into(),
        log_y: true,
        vlines: vec![(2.0, "stability limit".into())],
        ..Default::default()
    };
    let top = points.iter().map(|p| p.eta).fold(0.0, f64::max);
    let curve: Vec<(f64, f64)> = (1..=200)
        .filter_map(|i| {
            let eta = (top.max(1.9 / lmax) * i as f64 / 200.0).min(1.98 / lmax);
            let mut f = base.clone();
            f.optimizer.eta = eta;
            let th = Scenario::build(&f, dir).ok()?.theory();
            th.discrete_over_continuous.map(|r| (eta * lmax, r))
        })
        .collect();
    by_eta.series.push(plot::Series::line("exact discrete theory", curve, 5));
    let mut batches: Vec<usize> = points.iter().map(|p| p.batch).collect();
    batches.dedup();
    for (i, s) in batches.iter().enumerate() {
        let pts: Vec<&LawPoint> = points.iter().filter(|p| p.batch == *s).collect();
        by_ratio.series.push(plot::Series::points(
            format!("S = {s} (measured ± se)"),
            pts.iter().map(|p| (p.eta_over_s, p.measured)).collect(),
            Some(pts.iter().map(|p| p.se).collect()),
            i,
        ));
        by_eta.series.push(plot::Series::points(
            format!("S = {s}"),
            pts.iter().map(|p| (p.eta_lambda_max, p.measured / p.continuous)).collect(),
            Some(pts.iter().map(|p| p.se / p.continuous).collect()),
            i,
        ));
    }
    crate::output::Outputs::new(&o.out).figure("law", &[by_ratio, by_eta])?;
    write_json(
        &o.out.join("manifest.json"),
        &Manifest::new(
            Some(o.seed),
            serde_json::json!({ "problem": o.problem.as_ref().map(|p| p.display().to_string()).unwrap_or("embedded sims/law.toml".into()), "etas": points.iter().map(|p| p.eta).collect::<Vec<_>>(), "paths": o.paths, "window": o.window }),
            elapsed,
        ),
    )?;
    Ok(())
}
