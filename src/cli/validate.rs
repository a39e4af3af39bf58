//! `sgd-sde validate`: run a suite, print a table, exit 1 if any check fails.

use super::{progress, CliError};
use crate::config::read::parse;
use crate::output::{plot, write_csv, write_json, Manifest};
use crate::suite::{self, CheckRow, NetCheckSpec, NetLab, SuiteFile};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A suite's checks, its includes' first: quadratic checks and network checks.
pub type Checks = (Vec<suite::CheckSpec>, Vec<NetCheckSpec>);

/// Loads an embedded suite (`quick`, `full`, `net`, `net-full`) or a suite file, with its
/// includes first.
pub fn load_suite(name: &str) -> Result<(SuiteFile, Checks), CliError> {
    let (path, text) = match suite::embedded(name) {
        Some((path, text)) => (PathBuf::from(path), text.to_string()),
        None => {
            let p = PathBuf::from(name);
            let t = crate::config::read::read_text(&p, "--suite").map_err(|e| {
                CliError::Input(format!("{e} (or quick, full, net, net-full, net-mnist)"))
            })?;
            (p, t)
        }
    };
    let file: SuiteFile = parse(&path, &text).map_err(|e| CliError::Input(e.to_string()))?;
    file.check().map_err(CliError::Input)?;
    let (mut checks, mut net_checks) = (Vec::new(), Vec::new());
    for inc in &file.include {
        if inc == name {
            return Err(CliError::Input(format!(
                "invalid include = {inc}: a suite cannot include itself"
            )));
        }
        let (c, n) = load_suite(inc)?.1;
        checks.extend(c);
        net_checks.extend(n);
    }
    checks.extend(file.checks.iter().cloned());
    net_checks.extend(file.net_checks.iter().cloned());
    if checks.is_empty() && net_checks.is_empty() {
        return Err(CliError::Input(format!(
            "invalid suite {} = no checks: valid is at least one [[check]] or [[net_check]], of \
             its own or of a suite it includes (an empty suite would pass with nothing checked)",
            path.display()
        )));
    }
    let mut ids = std::collections::HashSet::new();
    let all = checks.iter().map(|c| &c.id).chain(net_checks.iter().map(|c| &c.id));
    if let Some(id) = all.into_iter().find(|id| !ids.insert(*id)) {
        return Err(CliError::Input(format!(
            "invalid check id = {id} in suite {}: it names two checks; valid are ids unique over \
             the suite and the suites it includes (each row and verdict is known by its id)",
            path.display()
        )));
    }
    Ok((file, (checks, net_checks)))
}

/// The lab for a suite's network checks on `--device` (resolved only when there are any).
fn net_lab(device: &str, needed: bool) -> Result<NetLab, CliError> {
    use crate::net::backend::{resolve, DeviceChoice, Resolved};
    let choice = DeviceChoice::parse(device)?;
    let resolved = if needed { resolve(choice).map_err(CliError::Input)? } else { Resolved::Cpu };
    if resolved == Resolved::Cuda {
        outln!("network checks: θ*, H and C in f64 on the CPU; the SGD runs on CUDA in f32");
    }
    Ok(NetLab::on(resolved))
}

pub fn run(
    suite_name: &str,
    json: Option<&Path>,
    out: Option<&Path>,
    device: &str,
    quiet: bool,
) -> Result<(), CliError> {
    let started = Instant::now();
    let (suite, (checks, net_checks)) = load_suite(suite_name)?;
    let mut lab = net_lab(device, !net_checks.is_empty())?;
    let mut work: Vec<crate::budget::Work> =
        checks.iter().map(suite::work).collect::<Result<_, _>>().map_err(CliError::Input)?;
    work.extend(net_checks.iter().map(NetCheckSpec::work));
    let costliest = work.iter().max_by(|a, b| a.seconds.total_cmp(&b.seconds));
    if let Some(what) =
        costliest.map(|c| format!("suite {} (its costliest: {})", suite.name, c.what))
    {
        crate::budget::Work::sequence(what, work).check()?;
    }
    let total_paths: u64 = checks.iter().map(|c| (c.paths * c.betas.len().max(1)) as u64).sum();
    outln!(
        "suite {}: {} ({} checks; |z| < {} per check unless stated)",
        suite.name,
        suite.description,
        checks.len() + net_checks.len(),
        suite.threshold
    );
    let bar = progress::bar(total_paths, "validating", quiet);
    let mut rows: Vec<CheckRow> = Vec::new();
    for c in &checks {
        bar.set_message(c.id.clone());
        let r = suite::evaluate(c, suite.threshold, Some(bar.clone())).map_err(CliError::Input)?;
        for row in &r {
            bar.suspend(|| print_row(row));
        }
        rows.extend(r);
    }
    lab.prepare(&net_checks, &bar).map_err(CliError::Input)?;
    for c in &net_checks {
        let r = suite::evaluate_net(c, suite.threshold, &mut lab, &bar).map_err(CliError::Input)?;
        for row in &r {
            bar.suspend(|| print_row(row));
        }
        rows.extend(r);
    }
    bar.finish_and_clear();
    let failed: Vec<&CheckRow> = rows.iter().filter(|r| !r.pass).collect();
    print_summary(&rows, suite.threshold, started.elapsed().as_secs_f64());
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(p) = json {
        write_json(
            p,
            &serde_json::json!({ "suite": suite.name, "threshold": suite.threshold, "checks": rows, "passed": rows.len() - failed.len(), "failed": failed.len(), "elapsed_seconds": elapsed }),
        )?;
    }
    if let Some(dir) = out {
        write_outputs(dir, &suite, &rows, elapsed)?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::ChecksFailed(format!(
            "{} of {} checks FAILED: {}",
            failed.len(),
            rows.len(),
            failed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
        )))
    }
}

/// Coverage of one check's intervals over seeds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Coverage {
    pub id: String,
    pub seeds: u64,
    pub z: Vec<f64>,
    /// Share of seeds with |z| < 1.96 (nominal 0.95) and |z| < 1 (nominal 0.683).
    pub coverage_95: f64,
    pub coverage_68: f64,
    pub mean_z: f64,
    pub sd_z: f64,
}

/// Reruns every network z-check that must agree (and its FDR rows) with seeds `seed .. seed + k`
/// and reports the coverage of its intervals: a calibrated error bar covers 95% at |z| < 1.96.
pub fn calibrate(
    suite_name: &str,
    k: u64,
    json: Option<&Path>,
    device: &str,
    quiet: bool,
) -> Result<(), CliError> {
    if !(2..=100_000).contains(&k) {
        return Err(CliError::Input(format!(
            "invalid --calibrate = {k}: valid range is 2 to 100000 seeds"
        )));
    }
    let started = Instant::now();
    let (suite, (_, net_checks)) = load_suite(suite_name)?;
    let checks: Vec<&NetCheckSpec> = net_checks
        .iter()
        .filter(|c| {
            c.expect == suite::Expect::Agree && c.kind == suite::net::NetCheckKind::Stationary
        })
        .collect();
    outln!("calibration of suite {}: {} network z-checks x {k} seeds", suite.name, checks.len());
    let mut lab = net_lab(device, !checks.is_empty())?;
    let bar = progress::bar(0, "calibrating", quiet);
    let mut z: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
    let seeded: Vec<NetCheckSpec> = checks
        .iter()
        .flat_map(|c| {
            (0..k).map(move |s| NetCheckSpec { seed: c.seed.wrapping_add(s), ..(*c).clone() })
        })
        .collect();
    lab.prepare(&seeded, &bar).map_err(CliError::Input)?;
    for spec in &seeded {
        for row in
            suite::evaluate_net(spec, suite.threshold, &mut lab, &bar).map_err(CliError::Input)?
        {
            if row.criterion.starts_with("|z| <") {
                z.entry(row.id.clone()).or_default().push(row.z);
            }
        }
    }
    bar.finish_and_clear();
    let table: Vec<Coverage> = z
        .into_iter()
        .map(|(id, z)| {
            let n = z.len() as f64;
            let mean = z.iter().sum::<f64>() / n;
            let sd = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let share = |t: f64| z.iter().filter(|v| v.abs() < t).count() as f64 / n;
            Coverage {
                id,
                seeds: z.len() as u64,
                coverage_95: share(1.959_964),
                coverage_68: share(1.0),
                mean_z: mean,
                sd_z: sd,
                z,
            }
        })
        .collect();
    outln!(
        "{:<44} {:>6} {:>10} {:>10} {:>8} {:>8}",
        "check",
        "seeds",
        "cover 95%",
        "cover 68%",
        "mean z",
        "sd z"
    );
    for c in &table {
        outln!(
            "{:<44} {:>6} {:>10.3} {:>10.3} {:>+8.2} {:>8.2}",
            truncate(&c.id, 44),
            c.seeds,
            c.coverage_95,
            c.coverage_68,
            c.mean_z,
            c.sd_z
        );
    }
    let all: Vec<f64> = table.iter().flat_map(|c| c.z.iter().copied()).collect();
    let pooled = all.iter().filter(|v| v.abs() < 1.959_964).count() as f64 / all.len() as f64;
    // Binomial standard error of a 95% coverage estimated from all.len() draws.
    let se = (0.95 * 0.05 / all.len() as f64).sqrt();
    outln!(
        "pooled: {:.3} of {} intervals cover at 95% (nominal 0.95 ± {se:.3}), in {:.0} s",
        pooled,
        all.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(p) = json {
        write_json(
            p,
            &serde_json::json!({ "suite": suite.name, "seeds": k, "checks": table, "pooled_coverage_95": pooled, "intervals": all.len(), "elapsed_seconds": started.elapsed().as_secs_f64() }),
        )?;
    }
    Ok(())
}

pub(super) fn print_row(r: &CheckRow) {
    outln!("{} {}", if r.pass { "PASS" } else { "FAIL" }, r.id);
    outln!("     claim     {}", r.claim);
    outln!("     theory    {:.6e} ({})", r.theory, r.compared_with);
    outln!(
        "     measured  {:.6e} ± {:.2e}   z = {:+.2}   criterion {}",
        r.measured,
        r.se,
        r.z,
        r.criterion
    );
    outln!("     method    {}", r.method);
}

pub(super) fn print_summary(rows: &[CheckRow], threshold: f64, seconds: f64) {
    outln!();
    outln!("{:<44} {:>13} {:>13} {:>10} {:>8}  result", "check", "theory", "measured", "se", "z");
    for r in rows {
        outln!(
            "{:<44} {:>13.6e} {:>13.6e} {:>10.2e} {:>+8.2}  {}",
            truncate(&r.id, 44),
            r.theory,
            r.measured,
            r.se,
            r.z,
            if r.pass { "PASS" } else { "FAIL" }
        );
    }
    let passed = rows.iter().filter(|r| r.pass).count();
    let z_rows = rows.iter().filter(|r| r.criterion.starts_with("|z|")).count();
    // Two-sided normal tail at the threshold: the chance a correct "agree" check fails.
    let alpha = crate::stats::erfc(threshold / std::f64::consts::SQRT_2);
    outln!();
    outln!(
        "{passed} passed, {} failed ({} rows in {:.1} s)",
        rows.len() - passed,
        rows.len(),
        seconds
    );
    outln!("false-alarm rate: {alpha:.1e} per |z| check, at most {:.1e} over the {z_rows} z-checks (union bound)", alpha * z_rows as f64);
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn write_outputs(
    dir: &Path,
    suite: &SuiteFile,
    rows: &[CheckRow],
    elapsed: f64,
) -> Result<(), CliError> {
    write_json(&dir.join("validation.json"), rows)?;
    let csv: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.theory.to_string(),
                r.measured.to_string(),
                r.se.to_string(),
                r.z.to_string(),
                r.pass.to_string(),
            ]
        })
        .collect();
    write_csv(&dir.join("validation.csv"), &["id", "theory", "measured", "se", "z", "pass"], &csv)?;
    let stationary: Vec<&CheckRow> = rows
        .iter()
        .filter(|r| {
            r.criterion.starts_with("|z| <")
                && r.theory > 0.0
                && r.compared_with != "exact transient"
                && !r.compared_with.starts_with("ratio")
        })
        .collect();
    if !stationary.is_empty() {
        let lo = stationary.iter().map(|r| r.theory.min(r.measured)).fold(f64::INFINITY, f64::min);
        let hi = stationary.iter().map(|r| r.theory.max(r.measured)).fold(0.0, f64::max);
        let fig = plot::Figure {
            title: format!("Suite {}: measured against predicted", suite.name),
            x_label: "predicted E(l)".into(),
            y_label: "measured E(l)".into(),
            log_x: true,
            log_y: true,
            series: vec![
                plot::Series::line("measured = predicted", vec![(lo, lo), (hi, hi)], 5),
                plot::Series::points(
                    "checks (± se)",
                    stationary.iter().map(|r| (r.theory, r.measured)).collect(),
                    Some(stationary.iter().map(|r| r.se).collect()),
                    0,
                ),
            ],
            ..Default::default()
        };
        crate::output::Outputs::new(dir).figure("validation", &[fig])?;
    }
    write_json(
        &dir.join("manifest.json"),
        &Manifest::new(
            None,
            serde_json::json!({ "suite": suite.name, "threshold": suite.threshold }),
            elapsed,
        ),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::load_suite;

    /// The input checks refuse no shipped suite: every embedded name and every file in
    /// validation/ loads, includes and all.
    #[test]
    fn every_shipped_suite_passes_its_input_checks() {
        let mut names: Vec<String> =
            ["quick", "full", "net", "net-full", "net-mnist"].map(String::from).to_vec();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/validation");
        for entry in std::fs::read_dir(dir).unwrap() {
            names.push(entry.unwrap().path().display().to_string());
        }
        assert!(names.len() >= 12, "{names:?}");
        for name in &names {
            if let Err(e) = load_suite(name) {
                panic!("{name}: {e}");
            }
        }
    }
}
