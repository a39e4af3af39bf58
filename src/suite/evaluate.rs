use super::spec::{CheckKind, CheckSpec, Expect, TheoryChoice};
use crate::config::{IntegratorKind, ProblemFile};
use crate::ensemble::Ensemble;
use crate::problems::Sampling;
use crate::scenario::{Model, Scenario};
use crate::stats::{weak_order_slope, Estimate};
use crate::theory;
use serde::Serialize;

/// One line of a suite's report.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub id: String,
    pub claim: String,
    /// What the measurement is compared with, in words.
    pub compared_with: String,
    pub theory: f64,
    pub measured: f64,
    pub se: f64,
    pub z: f64,
    /// The pass criterion, e.g. `|z| < 5` or `|z| >= 5 (negative control)`.
    pub criterion: String,
    pub pass: bool,
    pub method: String,
    pub seconds: f64,
}

impl CheckRow {
    /// A row comparing an estimate with a theory value by `|z|` against `threshold` (agree, or
    /// reject for a negative control); the method is the estimate's own description.
    pub fn from_estimate(
        id: String,
        claim: String,
        compared_with: String,
        theory: f64,
        est: &Estimate,
        threshold: f64,
        expect: Expect,
    ) -> Self {
        let z = est.z(theory);
        let (pass, criterion) = verdict(z, threshold, expect);
        Self {
            id,
            claim,
            compared_with,
            theory,
            measured: est.value,
            se: est.se,
            z,
            criterion,
            pass,
            method: est.to_string(),
            seconds: 0.0,
        }
    }
}

/// Runs one check; a check may expand into several rows (one per beta or step).
pub fn evaluate(
    spec: &CheckSpec,
    threshold: f64,
    progress: Option<indicatif::ProgressBar>,
) -> Result<Vec<CheckRow>, String> {
    let started = std::time::Instant::now();
    let mut rows = match spec.kind {
        CheckKind::Stationary => {
            vec![stationary(spec, &spec.problem, threshold, &spec.id, progress)?]
        }
        CheckKind::Breakdown => breakdown(spec, threshold, progress)?,
        CheckKind::Transient => transient(spec, threshold, progress)?,
        CheckKind::WeakOrder => vec![weak_order(spec, progress)?],
    };
    let per_row = started.elapsed().as_secs_f64() / rows.len().max(1) as f64;
    rows.iter_mut().for_each(|r| r.seconds = per_row);
    Ok(rows)
}

fn scenario(file: &ProblemFile, id: &str) -> Result<Scenario, String> {
    Scenario::build(file, None).map_err(|e| format!("check {id}: {e}"))
}

pub(super) fn verdict(z: f64, threshold: f64, expect: Expect) -> (bool, String) {
    match expect {
        Expect::Agree => (z.abs() < threshold, format!("|z| < {threshold}")),
        Expect::Reject => (z.abs() >= threshold, format!("|z| >= {threshold} (negative control)")),
    }
}

fn theory_value(
    s: &Scenario,
    kind: IntegratorKind,
    choice: TheoryChoice,
) -> Result<(f64, String), String> {
    let report = s.theory();
    let modes_f = |f: f64| -> Result<f64, String> {
        let modes = s
            .model
            .quadratic()
            .f_formula_modes()
            .ok_or("the f-formulas apply to quadratic models only")?;
        crate::problems::f_formula_loss(&modes, s.eta, s.momentum, f).map_err(|e| e.to_string())
    };
    match choice {
        TheoryChoice::Exact => report
            .stationary_for(kind)
            .map(|v| (v, "exact".to_string()))
            .ok_or_else(|| format!("no exact stationary value for {} on this model", kind.name())),
        TheoryChoice::Continuous => Ok((report.continuous_loss, "continuous law".into())),
        TheoryChoice::OneOverS => Ok((modes_f(1.0 / s.batch as f64)?, "f = 1/S formula".into())),
        TheoryChoice::FreshBatchF => {
            let n = s.n().ok_or("fresh_batch_f needs a data-set model")?;
            let f = theory::noise_factor(s.batch, Some(n), Sampling::WithoutReplacement)
                .map_err(|e| e.to_string())?;
            Ok((modes_f(f)?, "fresh-batch f-formula".into()))
        }
    }
}

fn stationary(
    spec: &CheckSpec,
    file: &ProblemFile,
    threshold: f64,
    id: &str,
    progress: Option<indicatif::ProgressBar>,
) -> Result<CheckRow, String> {
    let s = scenario(file, id)?;
    let mut ens = Ensemble::new(spec.paths, spec.seed);
    if let Some(p) = progress {
        ens = ens.with_progress(p);
    }
    let est = s
        .stationary_estimate(spec.integrator, &ens, spec.burn_in, spec.window)
        .map_err(|e| format!("check {id}: {e}"))?;
    let (theory, label) = theory_value(&s, spec.integrator, spec.theory)?;
    Ok(CheckRow::from_estimate(
        id.into(),
        spec.claim.clone(),
        label,
        theory,
        &est,
        threshold,
        spec.expect,
    ))
}

/// The check's problem with eta and S both scaled by `beta` (a breakdown check's point).
fn at_beta(spec: &CheckSpec, beta: f64) -> ProblemFile {
    let mut f = spec.problem.clone();
    f.optimizer.eta *= beta;
    f.optimizer.batch = ((f.optimizer.batch as f64 * beta).round() as usize).max(1);
    f
}

/// The estimated cost of a check (see [`crate::budget`]), so that `validate` refuses a suite
/// that cannot finish before running any of it. Errors are the ones the check itself would give.
pub fn work(spec: &CheckSpec) -> Result<crate::budget::Work, String> {
    let stationary = |f: &ProblemFile| -> Result<crate::budget::Work, String> {
        let s = scenario(f, &spec.id)?;
        let burn_in = spec.burn_in.unwrap_or_else(|| s.default_burn_in());
        Ok(s.work(spec.paths, burn_in.saturating_add(spec.window)))
    };
    let w = match spec.kind {
        CheckKind::Stationary => stationary(&spec.problem)?,
        CheckKind::Breakdown => crate::budget::Work::sequence(
            format!("{} values of beta", spec.betas.len()),
            spec.betas
                .iter()
                .map(|&b| stationary(&at_beta(spec, b)))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        CheckKind::Transient => {
            let s = scenario(&spec.problem, &spec.id)?;
            s.work(spec.paths, spec.steps.iter().copied().max().unwrap_or(0))
        }
        CheckKind::WeakOrder => {
            let s = scenario(&spec.problem, &spec.id)?;
            let h0 = spec.h0.ok_or_else(|| format!("check {}: weak_order needs h0", spec.id))?;
            let (levels, t_end) = (spec.levels.unwrap_or(4), spec.t_end.unwrap_or(1.0));
            s.weak_order_work(1, spec.paths, levels, t_end, h0)
        }
    };
    Ok(crate::budget::Work { what: format!("check {} ({})", spec.id, w.what), ..w })
}

fn breakdown(
    spec: &CheckSpec,
    threshold: f64,
    progress: Option<indicatif::ProgressBar>,
) -> Result<Vec<CheckRow>, String> {
    spec.betas
        .iter()
        .map(|&beta| {
            let f = at_beta(spec, beta);
            let id = format!("{}[beta={beta}]", spec.id);
            let mut row = stationary(spec, &f, threshold, &id, progress.clone())?;
            let report = scenario(&f, &id)?.theory();
            let cont = report.continuous_loss;
            let exact = report
                .discrete_loss
                .map(|e| format!("{:.4}", e / cont))
                .unwrap_or_else(|| "unstable".into());
            row.claim = format!(
                "{} (eta = {:.4}, S = {}: exact/continuous = {exact}, measured {:.4} ± {:.4})",
                spec.claim,
                f.optimizer.eta,
                f.optimizer.batch,
                row.measured / cont,
                row.se / cont
            );
            Ok(row)
        })
        .collect()
}

fn transient(
    spec: &CheckSpec,
    threshold: f64,
    progress: Option<indicatif::ProgressBar>,
) -> Result<Vec<CheckRow>, String> {
    let s = scenario(&spec.problem, &spec.id)?;
    let mut ens = Ensemble::new(spec.paths, spec.seed);
    if let Some(p) = progress {
        ens = ens.with_progress(p);
    }
    let steps = spec.steps.iter().copied().max().unwrap_or(0);
    let out = s
        .simulate(
            spec.integrator,
            &ens,
            steps,
            &crate::observers::Snapshots::new(spec.steps.clone()),
        )
        .map_err(|e| format!("check {}: {e}", spec.id))?;
    if let Some((path, d)) = crate::ensemble::first_divergence(&out) {
        return Err(format!("check {}: path {path} {d}", spec.id));
    }
    let mut at = spec.steps.clone();
    at.sort_unstable();
    at.dedup();
    at.iter()
        .enumerate()
        .map(|(i, &k)| {
            let est = Estimate::from_replicas(
                &out.iter().map(|o| o.observer.values[i]).collect::<Vec<_>>(),
            );
            let (theory, exact) = s.transient_theory(spec.integrator, k).ok_or_else(|| {
                format!("check {}: no transient theory for {}", spec.id, spec.integrator.name())
            })?;
            let compared_with = if exact { "exact transient" } else { "continuous transient" };
            Ok(CheckRow::from_estimate(
                format!("{}[k={k}]", spec.id),
                spec.claim.clone(),
                compared_with.into(),
                theory,
                &est,
                threshold,
                spec.expect,
            ))
        })
        .collect()
}

fn weak_order(
    spec: &CheckSpec,
    progress: Option<indicatif::ProgressBar>,
) -> Result<CheckRow, String> {
    let s = scenario(&spec.problem, &spec.id)?;
    let Model::Gaussian(p) = &s.model else {
        return Err(format!("check {}: weak_order needs a gaussian model", spec.id));
    };
    let need = |v: Option<f64>, name: &str| {
        v.ok_or_else(|| format!("check {}: weak_order needs {name}", spec.id))
    };
    let (h0, tol) = (need(spec.h0, "h0")?, need(spec.tolerance, "tolerance")?);
    // The claim defaults to the integrator's declared order; a negative control names another.
    let order = spec.order.unwrap_or(spec.integrator.order().weak);
    let levels = spec.levels.unwrap_or(4);
    let t_end = spec.t_end.unwrap_or(1.0);
    let mut ens = Ensemble::new(spec.paths, spec.seed);
    if let Some(pb) = progress {
        pb.set_length(pb.length().unwrap_or(0) + (spec.paths * (levels - 1)) as u64);
        ens = ens.with_progress(pb);
    }
    if !spec.integrator.is_sde_scheme() {
        return Err(format!(
            "check {}: weak_order is for SDE integrators (sgd, heun, lm, exact_ou)",
            spec.id
        ));
    }
    let task = crate::coupling::CoupledLevels { x0: &s.x0, t_end, h0, levels, ensemble: &ens };
    let (_, result) =
        spec.integrator.dispatch(p, 0.0, task).map_err(|e| format!("check {}: {e}", spec.id))?;
    let (hs, per_path) = result.map_err(|e| format!("check {}: {e}", spec.id))?;
    let slope = weak_order_slope(&hs, &per_path, 20);
    let delta = slope.slope - order;
    let (pass, criterion) = match spec.expect {
        Expect::Agree => (delta.abs() < tol, format!("|slope - {order}| < {tol}")),
        Expect::Reject => {
            (delta.abs() >= tol, format!("|slope - {order}| >= {tol} (negative control)"))
        }
    };
    Ok(CheckRow {
        id: spec.id.clone(),
        claim: spec.claim.clone(),
        compared_with: format!("weak order {order}"),
        theory: order,
        measured: slope.slope,
        se: slope.se,
        z: delta / slope.se,
        criterion,
        pass,
        method: format!("log-log slope of coupled level differences, h0 = {h0}, {levels} levels, jackknife over {} groups of paths", slope.groups),
        seconds: 0.0,
    })
}
