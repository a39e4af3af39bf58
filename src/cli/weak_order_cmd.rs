//! `sgd-sde weak-order`: weak-order convergence of the SDE integrators from coupled nested steps.

use super::{progress, CliError};
use crate::config::NoiseModel;
use crate::coupling::CoupledLevels;
use crate::ensemble::Ensemble;
use crate::integrators::IntegratorKind;
use crate::output::{plot, write_csv, write_json, Manifest};
use crate::scenario::{Model, Scenario};
use crate::stats::{weak_order_slope, Estimate};
use serde::Serialize;
use std::path::PathBuf;

pub const DEFAULT_PROBLEM: &str = include_str!("../../sims/weak_order.toml");

#[derive(Debug, Clone)]
pub struct WeakOrderOptions {
    pub problem: Option<PathBuf>,
    pub h0: f64,
    pub levels: usize,
    pub t_end: f64,
    pub paths: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub quiet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderResult {
    pub integrator: String,
    pub declared_weak_order: f64,
    pub slope: f64,
    pub slope_se: f64,
    pub h: Vec<f64>,
    /// `E[f_l - f_{l+1}]` and its standard error, per level.
    pub difference: Vec<f64>,
    pub difference_se: Vec<f64>,
    /// Whether every level difference is at least 3 standard errors from zero; when not, the
    /// slope is not resolved at this number of paths.
    pub resolved: bool,
}

pub fn run(o: &WeakOrderOptions) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    crate::output::Outputs::new(&o.out).ensure_writable()?;
    crate::coupling::check_levels("--levels", o.levels)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let (file, dir) =
        super::problem_or_default(o.problem.as_deref(), "sims/weak_order.toml", DEFAULT_PROBLEM)?;
    if file.noise.model != NoiseModel::Gaussian {
        return Err(CliError::Input(
            "invalid noise.model for weak-order: valid is \"gaussian\" (additive noise)".into(),
        ));
    }
    let scen = Scenario::build(&file, dir.as_deref())?;
    let Model::Gaussian(p) = &scen.model else { unreachable!("gaussian checked above") };
    // The SDE schemes with a discretisation error: heavy ball is not an SDE scheme, exact OU has
    // none (infinite order).
    let kinds: Vec<IntegratorKind> = IntegratorKind::ALL
        .into_iter()
        .filter(|k| k.is_sde_scheme() && k.order().weak.is_finite())
        .collect();
    scen.weak_order_work(kinds.len(), o.paths, o.levels, o.t_end, o.h0).check()?;
    let bar = progress::bar((kinds.len() * o.levels * o.paths) as u64, "weak order", o.quiet);
    let ens = Ensemble::new(o.paths, o.seed).with_progress(bar.clone());
    let div = |e: crate::ensemble::PathDiverged| CliError::Diverged(format!("{e} (reduce --h0)"));
    let mut runs = Vec::new();
    for kind in kinds {
        let task = CoupledLevels {
            x0: &scen.x0,
            t_end: o.t_end,
            h0: o.h0,
            levels: o.levels,
            ensemble: &ens,
        };
        let (name, levels) = kind.dispatch(p, 0.0, task)?;
        runs.push((name, kind.order().weak, levels.map_err(div)?));
    }
    bar.finish_and_clear();
    let results: Vec<OrderResult> = runs
        .iter()
        .map(|(name, order, (hs, per_path))| {
            let slope = weak_order_slope(hs, per_path, 20);
            let diffs: Vec<Estimate> = (0..hs.len() - 1)
                .map(|l| {
                    Estimate::from_replicas(
                        &per_path.iter().map(|f| f[l] - f[l + 1]).collect::<Vec<_>>(),
                    )
                })
                .collect();
            OrderResult {
                integrator: name.to_string(),
                declared_weak_order: *order,
                slope: slope.slope,
                slope_se: slope.se,
                h: hs[..hs.len() - 1].to_vec(),
                difference: diffs.iter().map(|d| d.value).collect(),
                difference_se: diffs.iter().map(|d| d.se).collect(),
                resolved: diffs.iter().all(|d| d.value.abs() > 3.0 * d.se),
            }
        })
        .collect();
    outln!(
        "weak order on E l(t = {}) from coupled steps h0 = {} / 2^l, {} levels, {} paths",
        o.t_end,
        o.h0,
        o.levels,
        o.paths
    );
    for r in &results {
        let note = if r.resolved {
            ""
        } else {
            "   (not resolved: level differences within 3 se of zero)"
        };
        outln!(
            "  {:<20} declared {:.0}   measured slope {:.3} ± {:.3}{note}",
            r.integrator,
            r.declared_weak_order,
            r.slope,
            r.slope_se
        );
    }
    outln!("  (coarse steps include pre-asymptotic terms; lower --h0 to approach the asymptotic order)");
    let rows: Vec<Vec<String>> = results
        .iter()
        .flat_map(|r| {
            r.h.iter().enumerate().map(move |(l, h)| {
                vec![
                    r.integrator.clone(),
                    h.to_string(),
                    r.difference[l].to_string(),
                    r.difference_se[l].to_string(),
                ]
            })
        })
        .collect();
    write_csv(
        &o.out.join("weak_order.csv"),
        &["integrator", "h", "level_difference", "se"],
        &rows,
    )?;
    write_json(&o.out.join("weak_order.json"), &results)?;
    let mut fig = plot::Figure {
        title: "Weak-order convergence (coupled levels)".into(),
        x_label: "step h".into(),
        y_label: "|E f(X_h) - E f(X_h/2)|".into(),
        log_x: true,
        log_y: true,
        ..Default::default()
    };
    for (i, r) in results.iter().enumerate() {
        let pts: Vec<(f64, f64)> =
            r.h.iter().zip(&r.difference).map(|(h, d)| (*h, d.abs())).collect();
        let anchor = pts[pts.len() - 1]; // the finest level, closest to the asymptotic regime
        fig.series.push(plot::Series::points(
            format!("{} (slope {:.2} ± {:.2})", r.integrator, r.slope, r.slope_se),
            pts.clone(),
            Some(r.difference_se.clone()),
            i,
        ));
        fig.series.push(plot::Series::dashed(
            format!("h^{:.0} reference", r.declared_weak_order),
            pts.iter()
                .map(|(h, _)| (*h, anchor.1 * (h / anchor.0).powf(r.declared_weak_order)))
                .collect(),
            i,
        ));
    }
    crate::output::Outputs::new(&o.out).figure("weak_order", &[fig])?;
    write_json(
        &o.out.join("manifest.json"),
        &Manifest::new(
            Some(o.seed),
            serde_json::json!({ "h0": o.h0, "levels": o.levels, "t_end": o.t_end, "paths": o.paths }),
            started.elapsed().as_secs_f64(),
        ),
    )?;
    outln!("wrote {}/weak_order.{{csv,json,png,svg}} and manifest.json", o.out.display());
    Ok(())
}
