use crate::ensemble::PathDiverged;
use crate::error::ProblemError;
use crate::scenario::ScenarioError;
use std::fmt;

/// What went wrong, and so the exit code: 1 a failed check, 2 bad input, 3 diverged, 4 a file
/// that could not be read or written (the message names it).
#[derive(Debug)]
pub enum CliError {
    Input(String),
    Diverged(String),
    ChecksFailed(String),
    Io(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Input(_) => 2,
            CliError::Diverged(_) => 3,
            CliError::ChecksFailed(_) => 1,
            CliError::Io(_) => 4,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(m)
            | CliError::Diverged(m)
            | CliError::ChecksFailed(m)
            | CliError::Io(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

impl From<ProblemError> for CliError {
    fn from(e: ProblemError) -> Self {
        CliError::Input(e.to_string())
    }
}

impl From<ScenarioError> for CliError {
    fn from(e: ScenarioError) -> Self {
        CliError::Input(e.to_string())
    }
}

impl From<crate::net::experiments::ExperimentError> for CliError {
    fn from(e: crate::net::experiments::ExperimentError) -> Self {
        use crate::net::experiments::ExperimentError as E;
        match e {
            E::Input(p) => CliError::Input(net_names(p).to_string()),
            E::Invalid(m) => CliError::Input(m),
            E::Diverged(m) => CliError::Diverged(m),
            E::Output(o) => CliError::Io(o.to_string()),
        }
    }
}

impl From<crate::budget::TooMuchWork> for CliError {
    fn from(e: crate::budget::TooMuchWork) -> Self {
        CliError::Input(e.to_string())
    }
}

/// The core names a batch size S, a data-set size N and a momentum m; on the `net` command line
/// they are flags, so the message names those.
fn net_names(mut p: ProblemError) -> ProblemError {
    let flag = match p.parameter.as_str() {
        "S" => "batch size S (--batch, --batches, or --batch0 scaled)",
        "N" => "training examples N (--n)",
        "m" => "momentum m (--momenta)",
        _ => return p,
    };
    p.parameter = flag.into();
    p.valid = p.valid.replace("N = ", "N (--n) = ");
    p
}

impl From<crate::output::OutputError> for CliError {
    fn from(e: crate::output::OutputError) -> Self {
        CliError::Io(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e.to_string())
    }
}

/// A divergence, stated with the stability limit it broke.
pub fn diverged(d: &PathDiverged, eta: f64, lambda_max: f64, rule: &str) -> CliError {
    CliError::Diverged(format!(
        "diverged at step {} of path {} (eta*lambda_max = {:.4}; limit {rule})",
        d.diverged.step,
        d.path,
        eta * lambda_max
    ))
}
