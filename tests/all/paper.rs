//! `sgd-sde paper` end to end on a small claims table: verdicts decided from the commands' own
//! results (a right and a deliberately wrong prediction, a shared run, an untested claim),
//! resumption without rerunning, and bad tables refused.

use assert_cmd::Command;
use std::path::Path;

const CLAIMS: &str = r#"
title = "test claims"

[[claim]]
id = "ou"
paper = "p"
source = "s"
claim = "the OU law"
quantity = "q"
command = ["validate", "--suite", "quick", "--out", "{out}"]
result = "validation.json"
figure = "validation.png"
[[claim.checks]]
what = "the OU check passes"
value = ""
op = "all pass"
ids = ["ou_law"]
[[claim.controls]]
what = "the continuous law at large eta"
value = "/id=continuous_law_at_large_eta/measured"
bound = "/id=continuous_law_at_large_eta/theory"
error = "/id=continuous_law_at_large_eta/se"
op = "=="
sigmas = 5.0

[[claim]]
id = "wrong"
paper = "p"
source = "s"
claim = "a wrong prediction: the OU loss is twice its theory"
quantity = "q"
uses = "ou"
result = "validation.json"
[[claim.checks]]
what = "measured = 2 x theory"
value = "/id=ou_law/measured"
bound = "/id=ou_law/theory"
error = "/id=ou_law/se"
times = 2.0
op = "=="
sigmas = 5.0

[[claim]]
id = "later"
paper = "p"
source = "s"
claim = "not built yet"
quantity = "q"
untested = "needs a command"
"#;

fn paper(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("sgd-sde")
        .unwrap()
        .arg("--quiet")
        .arg("paper")
        .arg("--claims")
        .arg(dir.join("claims.toml"))
        .arg("--out")
        .arg(dir.join("out"))
        .args(extra)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn paper_decides_claims_from_results_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("claims.toml"), CLAIMS).unwrap();
    let (code, out, err) = paper(dir, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let verdicts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/verdicts.json")).unwrap())
            .unwrap();
    let verdict = |id: &str| {
        verdicts.as_array().unwrap().iter().find(|v| v["id"] == id).unwrap()["decision"]["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(verdict("ou"), "supported");
    assert_eq!(verdict("wrong"), "not_supported", "a wrong prediction must fail the same test");
    assert_eq!(verdict("later"), "not_tested");
    let report = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(report.contains("## Summary: 1 supported, 1 not supported, 1 not tested"), "{report}");
    assert!(report.contains("runs/ou/validation.png"), "{report}");
    assert!(dir.join("out/runs/ou/validation.png").exists());
    assert!(dir.join("out/manifest.json").exists());
    let page = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(page.contains("<table>") && page.contains("src=\"runs/ou/validation.png\""), "{page}");
    // A second run keeps the finished claim; --rerun runs it again.
    let (code, _, err) = paper(dir, &[]);
    assert_eq!(code, 0);
    assert!(err.contains("kept from an earlier run"), "{err}");
    let (code, _, err) = paper(dir, &["--rerun", "--only", "ou"]);
    assert_eq!(code, 0);
    assert!(err.contains("[1/1] ou: sgd-sde validate"), "{err}");
}

#[test]
fn paper_refuses_bad_tables_and_unknown_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("claims.toml"), CLAIMS).unwrap();
    let (code, _, err) = paper(dir, &["--only", "nope"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--only = nope"), "{err}");
    let broken = CLAIMS.replace("sigmas = 5.0", "sigmas = -1.0");
    std::fs::write(dir.join("claims.toml"), broken).unwrap();
    let (code, _, err) = paper(dir, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sigmas = -1"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, _, err) = paper(dir, &["--scale", "huge"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--scale"), "{err}");
}

/// `--scale full` runs each claim's `full_command` (the claim's own command where it has none),
/// says so in the report, and never keeps a run of the other scale.
#[test]
fn paper_full_scale_runs_the_full_commands_and_does_not_mix_scales() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let table = CLAIMS.replace(
        r#"command = ["validate", "--suite", "quick", "--out", "{out}"]"#,
        r#"command = ["validate", "--suite", "quick", "--out", "{out}"]
full_command = ["validate", "--suite", "quick", "--max-hours", "2", "--out", "{out}"]"#,
    );
    assert_ne!(table, CLAIMS);
    std::fs::write(dir.join("claims.toml"), table).unwrap();
    let (code, out, err) = paper(dir, &["--scale", "full"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("--max-hours 2"), "the full command did not run: {err}");
    let report = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(report.contains("at **full scale**"), "{report}");
    assert!(report.contains("--max-hours 2"), "{report}");
    // The CPU scale reruns the claim with its own command instead of keeping the full run.
    let (code, _, err) = paper(dir, &["--scale", "cpu"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("kept from an earlier run"), "{err}");
    assert!(err.contains("[1/1] ou: sgd-sde validate --suite quick --out"), "{err}");
    let report = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(!report.contains("at **full scale**") && !report.contains("--max-hours 2"), "{report}");
}
