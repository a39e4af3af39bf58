//! `sgd-sde paper`: runs every claim's command (each into `OUT/runs/<id>/`, as a child process of
//! this same binary), decides each claim from its result and writes `OUT/report.md` (and the
//! same as `OUT/report.html`), `OUT/verdicts.json` and `OUT/manifest.json`.
//!
//! Resumable: a claim whose folder holds a run record with the same arguments, scale and crate
//! version, and an exit code of 0 or 1 (1: a validation check failed, which is a result), is not
//! rerun; any other folder is removed before its claim runs again, so results never mix.

use super::CliError;
use crate::output::{write_atomic, write_json, Manifest};
use crate::paper::report::{self, Entry, Provenance, RunRecord};
use crate::paper::{decide, Claim, ClaimsFile, Decision, Verdict};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which size the commands run at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// CPU-sized defaults (about an hour or less on 2 cores).
    Cpu,
    /// The papers' sizes (each claim's `full_command`), for a GPU machine.
    Full,
}

impl Scale {
    fn name(self) -> &'static str {
        match self {
            Scale::Cpu => "cpu",
            Scale::Full => "full",
        }
    }
}

pub struct PaperOptions {
    pub claims: Option<PathBuf>,
    pub out: PathBuf,
    pub scale: Scale,
    /// Claim ids to run (all when empty); the report still covers every claim already run.
    pub only: Vec<String>,
    pub rerun: bool,
    pub quiet: bool,
}

const RECORD: &str = "run.json";

/// A claim's arguments at `scale` with `{out}` replaced by its folder.
fn arguments(claim: &Claim, scale: Scale, dir: &Path) -> Vec<String> {
    let args = match (scale, &claim.full_command) {
        (Scale::Full, Some(full)) => full,
        _ => &claim.command,
    };
    args.iter().map(|a| a.replace("{out}", &dir.display().to_string())).collect()
}

fn read_record(dir: &Path) -> Option<RunRecord> {
    let text = std::fs::read_to_string(dir.join(RECORD)).ok()?;
    serde_json::from_str(&text).ok()
}

fn io(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Io(format!("cannot write {}: {e}", path.display()))
}

/// Runs one claim's command into `dir` (emptied first) and records how it ran.
fn run_claim(
    args: &[String],
    scale: Scale,
    dir: &Path,
    quiet: bool,
) -> Result<RunRecord, CliError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Io(format!("cannot find sgd-sde itself: {e}")))?;
    let stdout_path = dir.join("stdout.txt");
    let stdout = std::fs::File::create(&stdout_path).map_err(|e| io(&stdout_path, e))?;
    let started = Instant::now();
    let exe_name = exe.display().to_string();
    let mut cmd = std::process::Command::new(exe);
    if quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.args(args).stdout(stdout).status().map_err(|e| {
        // Linux names a replaced executable "... (deleted)": a rebuild during the run.
        let rebuilt = if exe_name.ends_with(" (deleted)") {
            "; sgd-sde was rebuilt during the run: rerun `sgd-sde paper`, finished claims are kept"
        } else {
            ""
        };
        CliError::Io(format!("cannot start sgd-sde {}: {e}{rebuilt}", args.join(" ")))
    })?;
    let record = RunRecord {
        args: args.to_vec(),
        scale: scale.name().into(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: env!("SGD_SDE_GIT_REVISION").into(),
        exit_code: status.code().unwrap_or(-1),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    write_json(&dir.join(RECORD), &record).map_err(|e| CliError::Io(e.to_string()))?;
    Ok(record)
}

/// Decides a claim from its folder.
fn decision(claim: &Claim, dir: &Path, run: Option<&RunRecord>) -> Decision {
    let Some(run) = run else {
        return match &claim.untested {
            Some(u) => Decision {
                verdict: Verdict::NotTested,
                reason: u.clone(),
                checks: vec![],
                controls: vec![],
            },
            None => Decision::error("not run yet (rerun `sgd-sde paper` without --only)".into()),
        };
    };
    if !(run.exit_code == 0 || run.exit_code == 1) {
        let out = std::fs::read_to_string(dir.join("stdout.txt")).unwrap_or_default();
        let tail: Vec<&str> = out.lines().rev().take(2).collect();
        return Decision::error(format!(
            "the command exited {} ({})",
            run.exit_code,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let path = dir.join(&claim.result);
    let result = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display())));
    match result {
        Ok(v) => decide(claim, &v),
        Err(e) => Decision::error(e),
    }
}

pub fn run(o: &PaperOptions) -> Result<(), CliError> {
    let started = Instant::now();
    let file = ClaimsFile::load(o.claims.as_deref()).map_err(|e| CliError::Input(e.to_string()))?;
    if let Some(bad) = o.only.iter().find(|id| !file.claims.iter().any(|c| &c.id == *id)) {
        let ids: Vec<&str> = file.claims.iter().map(|c| c.id.as_str()).collect();
        return Err(CliError::Input(format!(
            "invalid --only = {bad}: valid is one of the claims' ids ({})",
            ids.join(", ")
        )));
    }
    crate::output::Outputs::new(&o.out)
        .ensure_writable()
        .map_err(|e| CliError::Io(e.to_string()))?;
    let runs = o.out.join("runs");
    let selected: Vec<&Claim> = file
        .claims
        .iter()
        .filter(|c| !c.command.is_empty() && (o.only.is_empty() || o.only.contains(&c.id)))
        .collect();
    let mut ran_seconds = 0.0;
    for (i, claim) in selected.iter().enumerate() {
        let dir = runs.join(&claim.id);
        let args = arguments(claim, o.scale, &dir);
        let tag = format!("[{}/{}] {}", i + 1, selected.len(), claim.id);
        let kept = read_record(&dir).filter(|r| {
            !o.rerun
                && r.args == args
                && r.scale == o.scale.name()
                && r.crate_version == env!("CARGO_PKG_VERSION")
                && (r.exit_code == 0 || r.exit_code == 1)
        });
        if let Some(r) = kept {
            eprintln!(
                "{tag}: kept from an earlier run ({:.0} s, exit {})",
                r.elapsed_seconds, r.exit_code
            );
            continue;
        }
        eprintln!("{tag}: sgd-sde {}", args.join(" "));
        let r = run_claim(&args, o.scale, &dir, o.quiet)?;
        ran_seconds += r.elapsed_seconds;
        eprintln!("{tag}: exit {} after {:.0} s", r.exit_code, r.elapsed_seconds);
    }
    // The report covers every claim: those run now, those kept, and those not run at all.
    let mut entries = Vec::new();
    let mut total_seconds = 0.0;
    for claim in &file.claims {
        let dir = runs.join(claim.uses.as_ref().unwrap_or(&claim.id));
        let tested = !claim.command.is_empty() || claim.uses.is_some();
        let run = tested.then(|| read_record(&dir)).flatten();
        let run = run.filter(|r| r.scale == o.scale.name());
        if claim.uses.is_none() {
            total_seconds += run.as_ref().map_or(0.0, |r| r.elapsed_seconds);
        }
        let decision = decision(claim, &dir, run.as_ref());
        entries.push(Entry { claim, run, decision });
    }
    let provenance = Provenance {
        command: format!("sgd-sde paper --out {} --scale {}", o.out.display(), o.scale.name()),
        scale: o.scale.name().into(),
        date: report::date(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
        machine: report::machine(),
        git_revision: env!("SGD_SDE_GIT_REVISION").into(),
        elapsed_seconds: total_seconds,
    };
    let md = report::markdown(&file, &entries, &provenance);
    let report_path = o.out.join("report.md");
    write_atomic(&report_path, md.as_bytes()).map_err(|e| CliError::Io(e.to_string()))?;
    let page = report::html(&md, &file.title);
    write_atomic(&o.out.join("report.html"), page.as_bytes())
        .map_err(|e| CliError::Io(e.to_string()))?;
    let verdicts: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| serde_json::json!({ "id": e.claim.id, "run": e.run, "decision": e.decision }))
        .collect();
    write_json(&o.out.join("verdicts.json"), &verdicts).map_err(|e| CliError::Io(e.to_string()))?;
    let parameters = serde_json::json!({
        "claims": o.claims.as_ref().map_or(crate::paper::claims::EMBEDDED.0.into(), |p| p.display().to_string()),
        "scale": o.scale.name(),
        "only": o.only,
        "seconds_run_now": ran_seconds,
    });
    let manifest = Manifest::new(None, parameters, started.elapsed().as_secs_f64());
    write_json(&o.out.join("manifest.json"), &manifest).map_err(|e| CliError::Io(e.to_string()))?;
    for e in &entries {
        outln!("{:<28} {:<14} {}", e.claim.id, e.decision.verdict.label(), e.decision.reason);
    }
    outln!("wrote {} and report.html", report_path.display());
    let errors: Vec<&str> = entries
        .iter()
        .filter(|e| e.decision.verdict == Verdict::Error)
        .map(|e| e.claim.id.as_str())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::ChecksFailed(format!(
            "{} claim(s) have no result: {} (see the report)",
            errors.len(),
            errors.join(", ")
        )))
    }
}
