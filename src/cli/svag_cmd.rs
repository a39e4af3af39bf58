//! `sgd-sde svag`: SVAG (Li, Malladi & Arora 2021) on a quadratic, against its exact discrete
//! theory at every amplification `l`, and its convergence to the continuous (SDE) law as `l` grows.
//!
//! SVAG at `(eta, l)` steps SGD at `eta / l` on the oracle `(1+s)/2 g(xi_1) + (1-s)/2 g(xi_2)`,
//! `s = sqrt(2l - 1)`. Its exact stationary loss is `eta f/4 sum C'_ii / (1 - eta lambda_i / 2l)`
//! (`theory::svag`), so its relative excess over the continuous law `eta f/4 Tr C` falls like
//! `1/l`. The checks: each `l` against the exact value (|z| < 5); the log-log slope of the
//! measured relative excess against the exact formula's slope over the same `l` (|z| < 5); and two
//! negative controls that must fail the same |z| check: SGD's discrete value (`l = 1`) at the
//! largest `l`, and the continuous law at `l = 1`.

use super::{progress, validate, CliError};
use crate::ensemble::Ensemble;
use crate::output::{plot, Outputs};
use crate::scenario::Scenario;
use crate::stats::{log_log_slope, Estimate};
use crate::suite::{CheckRow, Expect};
use serde::Serialize;
use std::path::PathBuf;

pub const DEFAULT_PROBLEM: &str = include_str!("../../sims/svag.toml");
const Z_MAX: f64 = 5.0;

#[derive(Debug, Clone)]
pub struct SvagOptions {
    pub problem: Option<PathBuf>,
    pub ls: Vec<f64>,
    pub paths: usize,
    /// The averaging window in SGD steps (each `l` runs `l` times as many SVAG steps).
    pub window: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SvagPoint {
    pub l: f64,
    pub step: f64,
    pub steps: usize,
    pub measured: f64,
    pub se: f64,
    /// SVAG's exact stationary loss at this `l`.
    pub exact: f64,
    pub z_exact: f64,
    /// The continuous law `eta f/4 Tr C` (the `l -> infinity` limit).
    pub continuous: f64,
    pub z_continuous: f64,
    /// `measured / continuous - 1` and its standard error.
    pub relative_excess: f64,
    pub relative_excess_se: f64,
    /// `exact / continuous - 1`.
    pub exact_relative_excess: f64,
}

pub fn run(o: &SvagOptions) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let outputs = Outputs::new(&o.out);
    outputs.ensure_writable()?;
    let (file, dir) =
        super::problem_or_default(o.problem.as_deref(), "sims/svag.toml", DEFAULT_PROBLEM)?;
    let scen = Scenario::build(&file, dir.as_deref())?;
    scen.check_svag()?;
    let ls =
        if o.ls.is_empty() { vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0] } else { o.ls.clone() };
    if ls.len() < 2 {
        return Err(CliError::Input(format!(
            "invalid --l = {ls:?}: valid is at least two values (a slope needs two points)"
        )));
    }
    if scen.model.quadratic().f_formula_modes().is_none() {
        return Err(CliError::Input(format!(
            "invalid noise.model = \"{}\" for svag: valid is \"gaussian\" or \"dataset\" (SVAG's exact theory needs additive noise)",
            scen.model.quadratic().name()
        )));
    }
    let th = scen.theory();
    let continuous = th.continuous_loss;
    let exacts: Vec<f64> = ls
        .iter()
        .map(|&l| {
            scen.svag_theory(l).ok_or_else(|| {
                CliError::Input(format!(
                    "invalid --l entry {l} for this problem: valid is eta lambda_max < 2 l (SVAG's stability limit; eta lambda_max = {:.4})",
                    th.eta_lambda_max
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let steps_of = |l: f64| (o.window as f64 * l).ceil() as usize;
    let parts: Vec<crate::budget::Work> = ls
        .iter()
        .map(|&l| {
            let w = scen.work(o.paths, steps_of(l) + steps_of(l));
            crate::budget::Work { seconds: 2.0 * w.seconds, ..w } // two gradients per step
        })
        .collect();
    crate::budget::Work::sequence(format!("SVAG at l = {ls:?} ({} paths)", o.paths), parts)
        .check()?;

    let bar = progress::bar((ls.len() * o.paths) as u64, "svag", o.quiet);
    let mut points = Vec::new();
    for (i, (&l, &exact)) in ls.iter().zip(&exacts).enumerate() {
        // Independent seeds per l: the slope's error bar assumes independent points.
        let ens = Ensemble::new(o.paths, o.seed.wrapping_add(i as u64)).with_progress(bar.clone());
        let est = scen
            .svag_stationary_estimate(l, &ens, None, steps_of(l))
            .map_err(|e| CliError::Diverged(format!("SVAG at l = {l}: {e}")))?;
        let rel = Estimate { value: est.value / continuous - 1.0, ..est.scaled(1.0 / continuous) };
        points.push(SvagPoint {
            l,
            step: scen.eta / l,
            steps: steps_of(l),
            measured: est.value,
            se: est.se,
            exact,
            z_exact: est.z(exact),
            continuous,
            z_continuous: est.z(continuous),
            relative_excess: rel.value,
            relative_excess_se: rel.se,
            exact_relative_excess: exact / continuous - 1.0,
        });
    }
    bar.finish_and_clear();
    let checks = checks(&scen, &points, o.paths);
    report(o, &scen, &points, &checks)?;
    outputs.manifest(
        Some(o.seed),
        serde_json::json!({ "problem": o.problem, "l": ls, "paths": o.paths, "window_sgd_steps": o.window, "eta": scen.eta, "batch": scen.batch }),
        started.elapsed().as_secs_f64(),
    )?;
    validate::print_summary(&checks, Z_MAX, started.elapsed().as_secs_f64());
    outln!("wrote {}/svag.{{csv,json,png,svg}} and manifest.json", o.out.display());
    let failed: Vec<&str> = checks.iter().filter(|c| !c.pass).map(|c| c.id.as_str()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::ChecksFailed(format!("svag: failed {}", failed.join(", "))))
    }
}

/// A row checked at |z| < 5; ids starting with `control` are negative controls (|z| >= 5).
fn row(id: String, claim: String, compared_with: String, theory: f64, est: &Estimate) -> CheckRow {
    let expect = if id.starts_with("control") { Expect::Reject } else { Expect::Agree };
    CheckRow::from_estimate(id, claim, compared_with, theory, est, Z_MAX, expect)
}

/// An estimate over `paths` independent replicas with a known mean and standard error.
fn replicas(paths: usize, value: f64, se: f64) -> Estimate {
    Estimate { value, se, method: crate::stats::Method::Replicas { n: paths } }
}

fn checks(scen: &Scenario, points: &[SvagPoint], paths: usize) -> Vec<CheckRow> {
    let est = |p: &SvagPoint| replicas(paths, p.measured, p.se);
    let mut rows: Vec<CheckRow> = points
        .iter()
        .map(|p| {
            row(
                format!("svag-l{}-exact", p.l),
                format!(
                    "SVAG's stationary loss at l = {} is eta f/4 sum C'_ii/(1 - eta lambda_i/(2l))",
                    p.l
                ),
                "SVAG's exact discrete value".into(),
                p.exact,
                &est(p),
            )
        })
        .collect();
    // The order in 1/l: the measured relative excess over the continuous law, fitted as a power
    // law in l over the three largest l where it is resolved (> 3 se), against the exact
    // formula's slope over the same l (-1 as l -> infinity; steeper where eta lambda_max / l is
    // not small); a second-order convergence (slope -2) must be rejected.
    let mut resolved: Vec<&SvagPoint> =
        points.iter().filter(|p| p.relative_excess > 3.0 * p.relative_excess_se).collect();
    resolved.sort_by(|a, b| a.l.total_cmp(&b.l));
    let tail = &resolved[resolved.len().saturating_sub(3)..];
    let xs: Vec<f64> = tail.iter().map(|p| p.l).collect();
    let measured: Vec<Estimate> =
        tail.iter().map(|p| replicas(paths, p.relative_excess, p.relative_excess_se)).collect();
    let exact: Vec<Estimate> = tail
        .iter()
        .map(|p| replicas(paths, p.exact_relative_excess, p.relative_excess_se))
        .collect();
    if let (Some(m), Some(e)) = (log_log_slope(&xs, &measured), log_log_slope(&xs, &exact)) {
        let slope = replicas(paths, m.slope, m.se);
        let method = format!(
            "weighted log-log fit of the relative excess over l = {xs:?} (the largest resolved, > 3 se)"
        );
        let mut order = row(
            "svag-order".into(),
            "SVAG's relative excess over the continuous law falls with l as the exact formula's does (first order in 1/l)".into(),
            "the exact formula's log-log slope over the same l (-1 as l -> infinity)".into(),
            e.slope,
            &slope,
        );
        order.method = method.clone();
        let mut second = row(
            "control-second-order".into(),
            "(must fail) SVAG converges to the continuous law at second order in 1/l".into(),
            "log-log slope -2".into(),
            -2.0,
            &slope,
        );
        second.method = method;
        rows.extend([order, second]);
    }
    let (first, last) = (&points[0], &points[points.len() - 1]);
    let sgd = scen.svag_theory(1.0).unwrap_or(f64::NAN);
    rows.push(row(
        format!("control-sgd-value-at-l{}", last.l),
        format!("(must fail) SVAG at l = {} keeps SGD's discrete value", last.l),
        "SGD's exact discrete value (l = 1)".into(),
        sgd,
        &est(last),
    ));
    rows.push(row(
        format!("control-continuous-at-l{}", first.l),
        format!("(must fail) SVAG at l = {} already has the continuous law", first.l),
        "the continuous law eta f/4 Tr C".into(),
        first.continuous,
        &est(first),
    ));
    rows
}

fn report(
    o: &SvagOptions,
    scen: &Scenario,
    points: &[SvagPoint],
    checks: &[CheckRow],
) -> Result<(), CliError> {
    outln!(
        "SVAG on {} (eta = {}, S = {}, eta lambda_max = {:.3}), {} paths, window {} SGD steps",
        scen.file.name.as_deref().unwrap_or("the problem"),
        scen.eta,
        scen.batch,
        scen.eta * scen.lambda_max(),
        o.paths,
        o.window
    );
    outln!(
        "{:>8} {:>10} {:>12} {:>12} {:>10} {:>8} {:>12} {:>9}",
        "l",
        "step",
        "exact",
        "measured",
        "se",
        "z_exact",
        "rel.excess",
        "z_cont"
    );
    for p in points {
        outln!(
            "{:>8} {:>10.4e} {:>12.5e} {:>12.5e} {:>10.2e} {:>+8.2} {:>12.4e} {:>+9.1}",
            p.l,
            p.step,
            p.exact,
            p.measured,
            p.se,
            p.z_exact,
            p.relative_excess,
            p.z_continuous
        );
    }
    outln!();
    for c in checks {
        validate::print_row(c);
    }
    let outputs = Outputs::new(&o.out);
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|p| {
            [p.l, p.step, p.exact, p.measured, p.se, p.z_exact, p.continuous, p.relative_excess]
                .iter()
                .map(|v| v.to_string())
                .collect()
        })
        .collect();
    outputs.csv(
        "svag.csv",
        &["l", "step", "exact", "measured", "se", "z_exact", "continuous", "relative_excess"],
        &rows,
    )?;
    outputs.json("svag.json", &serde_json::json!({ "points": points, "checks": checks }))?;
    let mut fig = plot::Figure {
        title: "SVAG: relative excess over the continuous law".into(),
        x_label: "l".into(),
        y_label: "E l / (eta f/4 Tr C) - 1".into(),
        log_x: true,
        log_y: true,
        ..Default::default()
    };
    let positive: Vec<&SvagPoint> = points.iter().filter(|p| p.relative_excess > 0.0).collect();
    fig.series.push(plot::Series::points(
        "measured",
        positive.iter().map(|p| (p.l, p.relative_excess)).collect(),
        Some(positive.iter().map(|p| p.relative_excess_se).collect()),
        0,
    ));
    fig.series.push(plot::Series::line(
        "exact SVAG theory",
        points.iter().map(|p| (p.l, p.exact_relative_excess)).collect(),
        1,
    ));
    if let Some(modes) = scen.model.quadratic().f_formula_modes() {
        fig.series.push(plot::Series::dashed(
            "leading order (eta/2l) sum lambda_i C'_ii / Tr C",
            points
                .iter()
                .map(|p| (p.l, crate::theory::svag::leading_relative_excess(&modes, scen.eta, p.l)))
                .collect(),
            2,
        ));
    }
    outputs.figure("svag", &[fig])?;
    Ok(())
}
