//! `sgd-sde sim`: simulate a problem file and compare with its exact theory.

use super::{diverged, progress, CliError};
use crate::config::IntegratorKind;
use crate::ensemble::Ensemble;
use crate::observers::{Snapshots, TimeAverage};
use crate::output::{plot, write_csv, write_json, Manifest};
use crate::scenario::Scenario;
use crate::stats::Estimate;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `sim` (flags override the problem file's `[simulation]` table).
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    pub problem: PathBuf,
    pub paths: Option<usize>,
    pub steps: Option<usize>,
    pub burn_in: Option<usize>,
    pub seed: Option<u64>,
    pub integrator: Option<String>,
    pub transient: Vec<usize>,
    pub json: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub allow_unstable: bool,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransientRow {
    pub step: usize,
    pub measured: f64,
    pub se: f64,
    pub theory: Option<f64>,
    pub theory_exact: bool,
    pub z: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    pub problem: String,
    pub integrator: String,
    pub paths: usize,
    pub steps: usize,
    pub burn_in: usize,
    pub seed: u64,
    pub stationary: Option<StationaryReport>,
    pub transient: Vec<TransientRow>,
    pub theory: crate::scenario::TheoryReport,
    pub diverged: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StationaryReport {
    pub measured: f64,
    pub se: f64,
    pub method: String,
    pub exact: Option<f64>,
    pub z_exact: Option<f64>,
    pub continuous: f64,
    pub z_continuous: f64,
}

pub fn run(o: &SimOptions) -> Result<(), CliError> {
    let started = Instant::now();
    if let Some(dir) = &o.out {
        crate::output::Outputs::new(dir).ensure_writable()?;
    }
    let scenario = Scenario::load(&o.problem)?;
    let spec = &scenario.file.simulation;
    let kind = match (&o.integrator, spec.integrator) {
        (Some(name), _) => IntegratorKind::parse(name)?,
        (None, Some(k)) => k,
        (None, None) => IntegratorKind::Sgd,
    };
    scenario.check_integrator(kind)?;
    let report = scenario.theory();
    if !report.stable && !o.allow_unstable {
        return Err(CliError::Input(format!(
            "invalid optimizer.eta = {:?}: valid range is eta < {:.6e} ({}; eta*lambda_max = {:.4e}); pass --allow-unstable to run it anyway",
            scenario.eta, report.stability_limit, report.stability_rule, report.eta_lambda_max
        )));
    }
    let paths = o.paths.or(spec.paths).unwrap_or(256);
    let burn = o.burn_in.or(spec.burn_in).unwrap_or_else(|| scenario.default_burn_in());
    let mut transient =
        if o.transient.is_empty() { spec.transient_at.clone() } else { o.transient.clone() };
    transient.sort_unstable();
    transient.dedup();
    let steps =
        o.steps.or(spec.steps).unwrap_or(burn + 20_000).max(transient.last().copied().unwrap_or(0));
    let seed = o.seed.or(spec.seed).unwrap_or(0);
    if paths < 2 {
        return Err(CliError::Input(format!(
            "invalid --paths (or simulation.paths) = {paths}: valid range is >= 2 ({})",
            crate::error::TWO_PATHS
        )));
    }
    if steps == 0 {
        // The flag's parser refuses 0 itself; this is the file's `simulation.steps`.
        return Err(CliError::Input(
            "invalid --steps (or simulation.steps) = 0: valid range is >= 1".into(),
        ));
    }
    let stationary_wanted = burn < steps;
    if !stationary_wanted && transient.is_empty() {
        // Nothing would be measured: no step after the burn-in, and no transient asked for.
        let source = match (o.burn_in, spec.burn_in) {
            (Some(_), _) => "--burn-in",
            (None, Some(_)) => "simulation.burn_in",
            (None, None) => "burn-in (this problem's default; set --burn-in)",
        };
        return Err(CliError::Input(format!(
            "invalid {source} = {burn} for {steps} steps: valid range is < the steps (--steps or simulation.steps), or ask for --transient steps alone"
        )));
    }
    scenario.check_work(paths, steps)?;
    let observer = (
        TimeAverage::new(burn, if stationary_wanted { steps } else { 0 }),
        Snapshots::new(transient.clone()),
    );
    let bar = progress::bar(paths as u64, "simulating paths", o.quiet);
    let ensemble = Ensemble::new(paths, seed).with_progress(bar.clone());
    let outcomes = scenario.simulate(kind, &ensemble, steps, &observer)?;
    bar.finish_and_clear();

    let first_div = crate::ensemble::first_divergence(&outcomes)
        .map(|(path, diverged)| crate::ensemble::PathDiverged { path, diverged });
    let div_error = first_div.map(|d| {
        let stability = scenario.model.quadratic().stability(scenario.momentum);
        let rule = stability.rule.limit_phrase(stability.limit);
        diverged(&d, scenario.eta, scenario.lambda_max(), &rule)
    });
    // Keep what was measured: transient steps every path reached before any divergence.
    let reached = outcomes.iter().map(|o| o.observer.1.values.len()).min().unwrap_or(0);
    let transient_rows: Vec<TransientRow> = (0..reached)
        .map(|i| {
            let e = Estimate::from_replicas(
                &outcomes.iter().map(|o| o.observer.1.values[i]).collect::<Vec<_>>(),
            );
            let th = scenario.transient_theory(kind, transient[i]);
            TransientRow {
                step: transient[i],
                measured: e.value,
                se: e.se,
                theory: th.map(|t| t.0),
                theory_exact: th.is_some_and(|t| t.1),
                z: th.map(|t| e.z(t.0)),
            }
        })
        .collect();
    let stationary = (first_div.is_none() && stationary_wanted).then(|| {
        let e = Estimate::from_replicas(
            &outcomes.iter().map(|o| o.observer.0.mean()).collect::<Vec<_>>(),
        );
        let exact = report.stationary_for(kind);
        StationaryReport {
            measured: e.value,
            se: e.se,
            method: e.to_string(),
            exact,
            z_exact: exact.map(|t| e.z(t)),
            continuous: report.continuous_loss,
            z_continuous: e.z(report.continuous_loss),
        }
    });
    let sim = SimReport {
        problem: o.problem.display().to_string(),
        integrator: kind.name().into(),
        paths,
        steps,
        burn_in: burn,
        seed,
        stationary,
        transient: transient_rows,
        theory: report,
        diverged: div_error.as_ref().map(|e| e.to_string()),
    };
    print_report(&scenario, &sim);
    if let Some(path) = &o.json {
        write_json(path, &sim)?;
    }
    if let Some(dir) = &o.out {
        write_outputs(dir, &scenario, kind, &sim, seed, started.elapsed().as_secs_f64())?;
    }
    match div_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn print_report(s: &Scenario, r: &SimReport) {
    let t = &r.theory;
    outln!(
        "problem    {} ({}{}, d = {}, eta = {}, S = {}, m = {}{})",
        r.problem,
        t.model,
        t.sampling.as_ref().map(|x| format!(" {x}")).unwrap_or_default(),
        t.dim,
        s.eta,
        s.batch,
        s.momentum,
        t.n.map(|n| format!(", N = {n}")).unwrap_or_default()
    );
    outln!(
        "integrator {}, {} paths x {} steps (burn-in {}), seed {}, {} threads",
        r.integrator,
        r.paths,
        r.steps,
        r.burn_in,
        r.seed,
        rayon::current_num_threads()
    );
    outln!(
        "stability  eta*lambda_max = {:.4}; limit: {} (largest stable eta {:.4e})",
        t.eta_lambda_max,
        t.stability_rule,
        t.stability_limit
    );
    if let Some(st) = &r.stationary {
        outln!("stationary loss, time average over steps {}..={}:", r.burn_in, r.steps);
        outln!("  measured    {}", st.method);
        match (st.exact, st.z_exact) {
            (Some(e), Some(z)) => outln!("  exact       {e:.6e}   z = {z:+.2}"),
            _ => outln!("  exact       (no exact value for this integrator/model)"),
        }
        outln!(
            "  continuous  {:.6e}   z = {:+.2}   (eta/(4S(1-m)) Tr(C))",
            st.continuous,
            st.z_continuous
        );
    }
    if !r.transient.is_empty() {
        outln!("transient mean loss:");
        outln!("  {:>8}  {:>13}  {:>10}  {:>13}  {:>7}", "step", "measured", "se", "theory", "z");
        for row in &r.transient {
            let th = row
                .theory
                .map(|v| format!("{v:.6e}{}", if row.theory_exact { "" } else { "~" }))
                .unwrap_or_else(|| "-".into());
            outln!(
                "  {:>8}  {:>13.6e}  {:>10.2e}  {:>13}  {:>7}",
                row.step,
                row.measured,
                row.se,
                th,
                row.z.map(|z| format!("{z:+.2}")).unwrap_or_else(|| "-".into())
            );
        }
        if r.transient.iter().any(|row| row.theory.is_some() && !row.theory_exact) {
            outln!("  (~: the continuous law, which this integrator only approximates)");
        }
    }
}

fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    kind: IntegratorKind,
    r: &SimReport,
    seed: u64,
    elapsed: f64,
) -> Result<(), CliError> {
    write_json(&dir.join("results.json"), r)?;
    let rows: Vec<Vec<String>> = r
        .transient
        .iter()
        .map(|t| {
            vec![
                t.step.to_string(),
                t.measured.to_string(),
                t.se.to_string(),
                t.theory.map(|v| v.to_string()).unwrap_or_default(),
                t.z.map(|v| v.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    write_csv(&dir.join("transient.csv"), &["step", "measured", "se", "theory", "z"], &rows)?;
    if let Some(st) = &r.stationary {
        write_csv(
            &dir.join("stationary.csv"),
            &["measured", "se", "exact", "continuous"],
            &[vec![
                st.measured.to_string(),
                st.se.to_string(),
                st.exact.map(|v| v.to_string()).unwrap_or_default(),
                st.continuous.to_string(),
            ]],
        )?;
    }
    if !r.transient.is_empty() {
        let last = r.transient.last().map_or(1, |t| t.step).max(1);
        // The theory as a curve: about 200 log-spaced steps from 1 to the last one measured.
        let mut ks: Vec<usize> =
            (0..=200).map(|i| (last as f64).powf(i as f64 / 200.0).round() as usize).collect();
        ks.dedup();
        let curve: Vec<(f64, f64)> = ks
            .iter()
            .filter_map(|&k| scenario.transient_theory(kind, k).map(|t| (k as f64, t.0)))
            .collect();
        let measured: Vec<_> = r.transient.iter().filter(|t| t.step > 0).collect();
        let fig = plot::Figure {
            title: format!("Transient mean loss ({}, {} paths)", r.integrator, r.paths),
            x_label: "step k".into(),
            y_label: "E l_k".into(),
            log_x: true,
            series: vec![
                plot::Series::line("theory", curve, 1),
                plot::Series::points(
                    "measured ± se",
                    measured.iter().map(|t| (t.step as f64, t.measured)).collect(),
                    Some(measured.iter().map(|t| t.se).collect()),
                    0,
                ),
            ],
            ..Default::default()
        };
        crate::output::Outputs::new(dir).figure("transient", &[fig])?;
    }
    write_json(
        &dir.join("manifest.json"),
        &Manifest::new(Some(seed), serde_json::to_value(r).unwrap_or_default(), elapsed),
    )?;
    Ok(())
}
