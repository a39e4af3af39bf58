//! `sgd-sde theory --problem FILE`: the exact values as JSON, with the exact transient mean loss
//! at chosen steps.

use super::CliError;
use crate::config::IntegratorKind;
use crate::scenario::Scenario;
use serde::Serialize;
use std::path::Path;

/// The largest step `theory` gives a transient at.
const MAX_TRANSIENT_STEP: usize = 10_000_000;

/// The exact mean loss after `step` steps from the file's x0.
#[derive(Debug, Clone, Serialize)]
struct TransientPoint {
    step: usize,
    loss: f64,
    /// `false`: the continuous law at `t = step eta` (the integrator has a discretisation error
    /// of its weak order that the exact theory does not include).
    exact: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Report {
    #[serde(flatten)]
    theory: crate::scenario::TheoryReport,
    /// The slowest per-step contraction of the mean (or, for regression, of the second
    /// moments) at this eta: the spectral radius of the linear recursion, < 1 when stable.
    spectral_radius: f64,
    /// The integrator the transient is for.
    integrator: String,
    transient: Vec<TransientPoint>,
}

pub fn run(problem: &Path, steps: &[usize], integrator: Option<&str>) -> Result<(), CliError> {
    let scenario = Scenario::load(problem)?;
    let kind = match (integrator, scenario.file.simulation.integrator) {
        (Some(name), _) => IntegratorKind::parse(name)?,
        (None, Some(k)) => k,
        (None, None) => IntegratorKind::Sgd,
    };
    scenario.check_integrator(kind)?;
    let mut steps = if steps.is_empty() {
        scenario.file.simulation.transient_at.clone()
    } else {
        steps.to_vec()
    };
    steps.sort_unstable();
    steps.dedup();
    if let Some(&k) = steps.last().filter(|&&k| k > MAX_TRANSIENT_STEP) {
        return Err(CliError::Input(format!(
            "invalid --transient (or simulation.transient_at) entry {k}: valid range is \
             0..={MAX_TRANSIENT_STEP} (the exact momentum and regression recursions step through k)"
        )));
    }
    let transient = steps
        .iter()
        .filter_map(|&k| {
            scenario.transient_theory(kind, k).map(|(loss, exact)| TransientPoint {
                step: k,
                loss,
                exact,
            })
        })
        .collect();
    let report = Report {
        spectral_radius: scenario.model.quadratic().contraction(scenario.eta, scenario.momentum),
        theory: scenario.theory(),
        integrator: kind.name().to_string(),
        transient,
    };
    outln!("{}", serde_json::to_string_pretty(&report).map_err(|e| CliError::Io(e.to_string()))?);
    Ok(())
}
