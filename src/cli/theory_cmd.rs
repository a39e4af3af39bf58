//! `sgd-sde theory --problem FILE`: the exact values as JSON.

use super::CliError;
use crate::scenario::Scenario;
use std::path::Path;

pub fn run(problem: &Path) -> Result<(), CliError> {
    let scenario = Scenario::load(problem)?;
    let report = scenario.theory();
    outln!("{}", serde_json::to_string_pretty(&report).map_err(|e| CliError::Io(e.to_string()))?);
    Ok(())
}
