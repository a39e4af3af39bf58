use crate::config::{IntegratorKind, ProblemFile};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    pub name: String,
    pub description: String,
    /// The |z| threshold of every z-based check.
    #[serde(default = "five")]
    pub threshold: f64,
    /// Other suite files (relative names `quick`/`full` refer to the embedded suites) whose
    /// checks run first.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default, rename = "check")]
    pub checks: Vec<CheckSpec>,
    /// Network checks (`[[net_check]]`), see `suite::net`.
    #[serde(default, rename = "net_check")]
    pub net_checks: Vec<super::net::NetCheckSpec>,
}

fn five() -> f64 {
    5.0
}

impl SuiteFile {
    /// Refuses, before anything runs, what would make every check fail or measure nothing: a
    /// threshold that is not a finite number > 0, and each check's own
    /// ([`CheckSpec::check`], [`NetCheckSpec::check`](super::net::NetCheckSpec::check)).
    pub fn check(&self) -> Result<(), String> {
        crate::error::positive("threshold", self.threshold)
            .map_err(|e| format!("suite {}: {e}", self.name))?;
        let quadratic = self.checks.iter().map(|c| (&c.id, c.check()));
        let net = self.net_checks.iter().map(|c| (&c.id, c.check()));
        for (id, checked) in quadratic.chain(net) {
            checked.map_err(|e| format!("check {id}: {e}"))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Time-averaged stationary loss against a theory value.
    Stationary,
    /// Mean loss at chosen steps against the exact transient.
    Transient,
    /// Weak-order slope from coupled nested step sizes.
    WeakOrder,
    /// Stationary loss along eta = beta eta0, S = beta S0.
    Breakdown,
}

/// Which theory value a measurement is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TheoryChoice {
    /// The exact value for the integrator and model.
    #[default]
    Exact,
    /// The continuous law eta/(4S(1-m)) Tr(C).
    Continuous,
    /// The fresh-batch f-formula with f = (N-S)/(S(N-1)) (wrong for reshuffling).
    FreshBatchF,
    /// The f-formula with f = 1/S (wrong without replacement).
    OneOverS,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The measurement must agree with the theory.
    #[default]
    Agree,
    /// A negative control: the measurement must reject the (deliberately wrong) theory.
    Reject,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub id: String,
    pub claim: String,
    pub kind: CheckKind,
    pub problem: ProblemFile,
    #[serde(default)]
    pub integrator: IntegratorKind,
    #[serde(default)]
    pub theory: TheoryChoice,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default = "paths")]
    pub paths: usize,
    #[serde(default)]
    pub seed: u64,
    /// Stationary: steps averaged after the burn-in.
    #[serde(default = "window")]
    pub window: usize,
    /// Stationary: burn-in steps (default: until transients fall below 1e-9).
    #[serde(default)]
    pub burn_in: Option<usize>,
    /// Transient: the steps checked.
    #[serde(default)]
    pub steps: Vec<usize>,
    /// Breakdown: the scale factors.
    #[serde(default)]
    pub betas: Vec<f64>,
    /// Weak order: coarsest step, number of levels, final time, claimed order (default: the
    /// integrator's declared weak order; a negative control names a wrong one), tolerance.
    #[serde(default)]
    pub h0: Option<f64>,
    #[serde(default)]
    pub levels: Option<usize>,
    #[serde(default)]
    pub t_end: Option<f64>,
    #[serde(default)]
    pub order: Option<f64>,
    #[serde(default)]
    pub tolerance: Option<f64>,
}

impl CheckSpec {
    /// Refuses fewer than 2 paths (no standard error, so no z), an empty averaging window, a
    /// transient or breakdown check with no rows (it passed with nothing checked), a transient
    /// at step 0 (every path is at x0: no spread, so no z), scale factors beta that are not a
    /// finite number > 0, and weak-order settings that would fail the check for no reason of its
    /// claim: levels outside [`LEVELS`](crate::coupling::LEVELS), and an h0, t_end, order or
    /// tolerance that is not a finite number > 0 (a NaN tolerance fails every comparison).
    pub fn check(&self) -> Result<(), crate::error::ProblemError> {
        use crate::error::{ensure, positive, ProblemError, TWO_PATHS};
        let two = format!(">= 2 ({TWO_PATHS})");
        ensure(self.paths >= 2, || ProblemError::new("paths", self.paths, two))?;
        ensure(self.window >= 1, || ProblemError::new("window", self.window, ">= 1"))?;
        if self.kind == CheckKind::Transient {
            ensure(!self.steps.is_empty(), || {
                ProblemError::new("steps", "[]", "at least one step >= 1 (a row each)")
            })?;
            for (i, &k) in self.steps.iter().enumerate() {
                ensure(k >= 1, || {
                    ProblemError::new(
                        format!("steps[{i}]"),
                        k,
                        ">= 1 (at step 0 every path is at x0: no spread, so no z)",
                    )
                })?;
            }
        }
        if self.kind == CheckKind::Breakdown {
            ensure(!self.betas.is_empty(), || {
                ProblemError::new("betas", "[]", "at least one scale factor (a row each)")
            })?;
            for (i, &b) in self.betas.iter().enumerate() {
                positive(&format!("betas[{i}]"), b)?;
            }
        }
        if self.kind == CheckKind::WeakOrder {
            self.levels.map(|l| crate::coupling::check_levels("levels", l)).transpose()?;
            for (name, v) in [
                ("h0", self.h0),
                ("t_end", self.t_end),
                ("order", self.order),
                ("tolerance", self.tolerance),
            ] {
                v.map(|v| positive(name, v)).transpose()?;
            }
        }
        Ok(())
    }
}

fn paths() -> usize {
    64
}

fn window() -> usize {
    20_000
}
