//! Why a network experiment stopped, typed so the command line can give each its exit code:
//! bad input (2), divergence (3), an output file that could not be written (its own code).

use crate::error::ProblemError;
use crate::net::train::TrainError;
use crate::output::OutputError;

#[derive(Debug, Clone, PartialEq)]
pub enum ExperimentError {
    /// A rejected option or data set, naming the flag, its value and the valid range.
    Input(ProblemError),
    /// A rejected combination of options, already stated as one line naming the flags.
    Invalid(String),
    /// Training diverged (or produced non-finite values) at the stated setting.
    Diverged(String),
    /// A result file could not be written.
    Output(OutputError),
}

impl ExperimentError {
    /// Adds where it happened (e.g. `eta = 0.1, S = 16`) to a divergence or rejected input.
    pub fn at(self, setting: impl std::fmt::Display) -> Self {
        match self {
            Self::Diverged(m) => Self::Diverged(format!("{setting}: {m}")),
            Self::Invalid(m) => Self::Invalid(format!("{setting}: {m}")),
            other => other,
        }
    }
}

impl std::fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Input(e) => e.fmt(f),
            Self::Invalid(m) | Self::Diverged(m) => f.write_str(m),
            Self::Output(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExperimentError {}

impl From<ProblemError> for ExperimentError {
    fn from(e: ProblemError) -> Self {
        Self::Input(e)
    }
}

impl From<OutputError> for ExperimentError {
    fn from(e: OutputError) -> Self {
        Self::Output(e)
    }
}

impl From<TrainError> for ExperimentError {
    fn from(e: TrainError) -> Self {
        match e {
            TrainError::Problem(p) => Self::Input(p),
            TrainError::Diverged(d) => Self::Diverged(d.to_string()),
        }
    }
}
