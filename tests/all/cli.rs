//! The real `sgd-sde` binary, end to end: every command, every bad-input case, and garbage files.

use crate::common::config;
use assert_cmd::Command;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    let mut c = Command::cargo_bin("sgd-sde").unwrap();
    c.arg("--quiet");
    c
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = r#"
x0 = [1.0, 0.0, 0.0]
[hessian]
eigenvalues = [0.5, 1.0, 2.0]
rotation = { seed = 3 }
[optimizer]
eta = 0.2
batch = 4
"#;

/// Runs and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A bad input: exit 2 and exactly one line on stderr naming the field.
fn bad(args: &[&str], names: &str) {
    let (code, _, err) = run(args);
    assert_eq!(code, 2, "expected exit 2, got {code}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line expected: {err}");
    assert!(err.contains(names), "should name {names:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn validate_quick_passes_and_writes_json_and_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("v.json");
    let out = dir.path().join("out");
    let (code, stdout, err) =
        run(&["validate", "--json", json.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{err}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("NEGATIVE CONTROL"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["failed"], 0);
    assert!(v["checks"].as_array().unwrap().len() >= 15);
    for f in
        ["validation.csv", "validation.json", "validation.png", "validation.svg", "manifest.json"]
    {
        assert!(out.join(f).exists(), "{f}");
    }
}

#[test]
fn a_failing_check_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // The continuous law claimed to hold at eta*lambda_max = 1.8: a false claim.
    let suite = write(
        dir.path(),
        "s.toml",
        r#"
name = "wrong"
description = "a false claim"
[[check]]
id = "false_claim"
claim = "the continuous law is exact at eta*lambda_max = 1.8"
kind = "stationary"
theory = "continuous"
[check.problem]
hessian = { eigenvalues = [1.0, 2.0] }
optimizer = { eta = 0.9, batch = 1 }
"#,
    );
    let (code, stdout, err) = run(&["validate", "--suite", suite.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(stdout.contains("FAIL false_claim"), "{stdout}");
    assert!(err.contains("1 of 1 checks FAILED"), "{err}");
}

#[test]
fn theory_prints_the_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.toml", GOOD);
    let (code, out, err) = run(&["theory", "--problem", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // C = H: continuous = eta/(4S) Tr(H) = 0.2/16 * 3.5.
    assert!((v["continuous_loss"].as_f64().unwrap() - 0.2 / 16.0 * 3.5).abs() < 1e-15);
    let exact: f64 =
        [0.5f64, 1.0, 2.0].iter().map(|l| 0.2 / 16.0 * l / (1.0 - 0.2 * l / 2.0)).sum();
    assert!((v["discrete_loss"].as_f64().unwrap() - exact).abs() < 1e-14);
    assert_eq!(v["stable"], true);
    assert!((v["stability_limit"].as_f64().unwrap() - 1.0).abs() < 1e-15);
    assert_eq!(v["f"].as_f64().unwrap(), 0.25);
    assert_eq!(v["mode_factors"].as_array().unwrap().len(), 3);
    assert_eq!(v["covariance"].as_array().unwrap().len(), 3);
}

/// A data-set problem's stationary covariance (d <= 10), against the covariance recursion
/// `Σ <- A Σ A + eta^2 f C` iterated here from the centers themselves (H diagonal, so
/// `C = H Cov_n(c) H`), with and without replacement; and `l = Tr(H Σ)/2` is the discrete loss.
#[test]
fn theory_gives_a_data_sets_stationary_covariance() {
    let dir = tempfile::tempdir().unwrap();
    let (l, centers) =
        ([0.5, 2.0], [[0.3, -1.2], [-0.7, 0.4], [1.5, 0.2], [-0.1, -0.8], [0.9, 1.0]]);
    for (sampling, f) in [("with_replacement", 0.5), ("without_replacement", 0.5 * 3.0 / 4.0)] {
        let text = format!("[hessian]\neigenvalues = [0.5, 2.0]\n[noise]\nmodel = \"dataset\"\nsampling = \"{sampling}\"\ncenters = {centers:?}\n[optimizer]\neta = 0.3\nbatch = 2\n");
        let p = write(dir.path(), "d.toml", &text);
        let (code, out, err) = run(&["theory", "--problem", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!((v["f"].as_f64().unwrap() - f).abs() < 1e-15, "{sampling}: f = {}", v["f"]);
        let n = centers.len() as f64;
        let mean = |a: usize| centers.iter().map(|c| c[a]).sum::<f64>() / n;
        let cov = |a: usize, b: usize| {
            centers.iter().map(|c| (c[a] - mean(a)) * (c[b] - mean(b))).sum::<f64>() / n
        };
        let q = |a: usize, b: usize| 0.3 * 0.3 * f * l[a] * l[b] * cov(a, b);
        let mut sigma = [[0.0; 2]; 2];
        for _ in 0..5000 {
            let mut next = [[0.0; 2]; 2];
            for a in 0..2 {
                for b in 0..2 {
                    next[a][b] = (1.0 - 0.3 * l[a]) * sigma[a][b] * (1.0 - 0.3 * l[b]) + q(a, b);
                }
            }
            sigma = next;
        }
        let got = v["covariance"].as_array().unwrap();
        for a in 0..2 {
            for b in 0..2 {
                let g = got[a][b].as_f64().unwrap();
                assert!(
                    (g - sigma[a][b]).abs() < 1e-12,
                    "{sampling}: Σ[{a}][{b}] = {g} vs {}",
                    sigma[a][b]
                );
            }
        }
        let loss = 0.5 * (l[0] * sigma[0][0] + l[1] * sigma[1][1]);
        assert!((v["discrete_loss"].as_f64().unwrap() - loss).abs() < 1e-12 * loss, "{sampling}");
    }
}

/// `theory` gives theta*, l_min, E|x|^2 and the start point both ways, computed here from the
/// data; a file may give the start as `theta0` (absolute) instead of `x0`, with the same result.
#[test]
fn theory_gives_the_optimum_and_an_absolute_start() {
    let dir = tempfile::tempdir().unwrap();
    let (l, centers) =
        ([0.5, 2.0], [[0.3, -1.2], [-0.7, 0.4], [1.5, 0.2], [-0.1, -0.8], [0.9, 1.0]]);
    let n = centers.len() as f64;
    let mean = [0, 1].map(|a| centers.iter().map(|c| c[a]).sum::<f64>() / n);
    let l_min = centers
        .iter()
        .map(|c| 0.5 * (0..2).map(|a| l[a] * (c[a] - mean[a]).powi(2)).sum::<f64>())
        .sum::<f64>()
        / n;
    let file = |start: &str| {
        format!("{start}\n[hessian]\neigenvalues = [0.5, 2.0]\n[noise]\nmodel = \"dataset\"\ncenters = {centers:?}\n[optimizer]\neta = 0.3\nbatch = 2\n")
    };
    let theory = |text: &str| {
        let p = write(dir.path(), "d.toml", text);
        let (code, out, err) =
            run(&["theory", "--problem", p.to_str().unwrap(), "--transient", "5"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let rel = theory(&file("x0 = [0.2, -0.1]"));
    for a in 0..2 {
        assert!((num(&rel["theta_star"][a]) - mean[a]).abs() < 1e-15);
        assert!((num(&rel["theta0"][a]) - (mean[a] + [0.2, -0.1][a])).abs() < 1e-15);
    }
    assert!((num(&rel["l_min"]) - l_min).abs() < 1e-15 * l_min, "{} vs {l_min}", rel["l_min"]);
    let cov = &rel["covariance"];
    let trace = num(&cov[0][0]) + num(&cov[1][1]);
    assert!((num(&rel["stationary_second_moment"]) - trace).abs() < 1e-15);
    let theta0 = [mean[0] + 0.2, mean[1] - 0.1];
    let abs = theory(&file(&format!("theta0 = {theta0:?}")));
    let (a, b) = (num(&rel["transient"][0]["loss"]), num(&abs["transient"][0]["loss"]));
    assert!((a - b).abs() < 1e-12 * a, "the same start both ways: {a} vs {b}");
    assert!((num(&abs["x0"][0]) - 0.2).abs() < 1e-12 && (num(&abs["x0"][1]) + 0.1).abs() < 1e-12);
    bad(
        &[
            "theory",
            "--problem",
            write(dir.path(), "both.toml", &file("x0 = [0.0, 0.0]\ntheta0 = [0.0, 0.0]"))
                .to_str()
                .unwrap(),
        ],
        "theta0",
    );
    // Regression: theta* solves the normal equations X'X theta = X'y, l_min = mean r^2 / 2.
    let rows: [[f64; 3]; 5] =
        [[1.0, 0.5, 2.0], [0.2, -1.0, 0.3], [-0.4, 0.8, -1.1], [1.3, 0.1, 0.9], [0.0, 1.0, 0.7]];
    let csv: String = rows.iter().map(|r| format!("{},{},{}\n", r[0], r[1], r[2])).collect();
    write(dir.path(), "r.csv", &csv);
    let (mut g, mut h) = ([[0.0f64; 2]; 2], [0.0f64; 2]);
    for r in &rows {
        for i in 0..2 {
            h[i] += r[i] * r[2];
            for j in 0..2 {
                g[i][j] += r[i] * r[j];
            }
        }
    }
    let det = g[0][0] * g[1][1] - g[0][1] * g[1][0];
    let star = [(g[1][1] * h[0] - g[0][1] * h[1]) / det, (g[0][0] * h[1] - g[1][0] * h[0]) / det];
    let r_min =
        rows.iter().map(|r| 0.5 * (r[0] * star[0] + r[1] * star[1] - r[2]).powi(2)).sum::<f64>()
            / rows.len() as f64;
    let reg = theory(
        "[noise]\nmodel = \"regression\"\nfile = \"r.csv\"\n[optimizer]\neta = 0.1\nbatch = 2\n",
    );
    for a in 0..2 {
        assert!(
            (num(&reg["theta_star"][a]) - star[a]).abs() < 1e-12,
            "{} vs {}",
            reg["theta_star"],
            star[a]
        );
    }
    assert!((num(&reg["l_min"]) - r_min).abs() < 1e-12 * r_min, "{} vs {r_min}", reg["l_min"]);
}

/// `theory --transient`: the exact mean loss after k steps, against the variance recursion
/// `v_{k+1} = a^2 v_k + eta^2 f c` per mode (a = 1 - eta lambda), written out here.
#[test]
fn theory_gives_exact_transients_and_the_spectral_radius() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "diag.toml",
        "x0 = [1.0, 1.0]\n[hessian]\neigenvalues = [1.0, 2.0]\n[optimizer]\neta = 0.1\nbatch = 2\n",
    );
    let (code, out, err) =
        run(&["theory", "--problem", p.to_str().unwrap(), "--transient", "0,1,7,50"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (eta, f) = (0.1f64, 0.5f64);
    let expected = |k: i32| -> f64 {
        [1.0f64, 2.0]
            .iter()
            .map(|&l| {
                let a2 = (1.0 - eta * l).powi(2);
                let var = a2.powi(k) + eta * eta * f * l * (1.0 - a2.powi(k)) / (1.0 - a2);
                0.5 * l * var
            })
            .sum()
    };
    let points = v["transient"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    for (pt, k) in points.iter().zip([0, 1, 7, 50]) {
        assert_eq!(pt["step"], k);
        assert_eq!(pt["exact"], true);
        let (got, want) = (pt["loss"].as_f64().unwrap(), expected(k));
        assert!((got - want).abs() < 1e-13 * want, "k = {k}: {got} vs {want}");
    }
    // The mean contracts by the slowest mode's |1 - eta lambda_min| = 0.9 per step.
    assert!((v["spectral_radius"].as_f64().unwrap() - 0.9).abs() < 1e-15, "{out}");
    assert_eq!(v["integrator"], "sgd");
}

#[test]
fn sim_compares_with_theory_and_writes_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.toml", GOOD);
    let out = dir.path().join("o");
    let json = dir.path().join("r.json");
    let (code, stdout, err) = run(&[
        "sim",
        "--problem",
        p.to_str().unwrap(),
        "--paths",
        "64",
        "--steps",
        "6000",
        "--seed",
        "3",
        "--transient",
        "1,10,100",
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("stationary loss") && stdout.contains("transient mean loss"),
        "{stdout}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let z = r["stationary"]["z_exact"].as_f64().unwrap();
    assert!(z.abs() < 5.0, "z = {z}");
    for row in r["transient"].as_array().unwrap() {
        assert!(row["z"].as_f64().unwrap().abs() < 5.0, "{row}");
    }
    for f in [
        "results.json",
        "transient.csv",
        "stationary.csv",
        "transient.png",
        "transient.svg",
        "manifest.json",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["seed"], 3);
    assert_eq!(m["crate_version"], env!("CARGO_PKG_VERSION"));
    assert!(m["threads"].as_u64().unwrap() >= 1 && m["elapsed_seconds"].as_f64().unwrap() >= 0.0);
    // Same seed, same numbers.
    let json2 = dir.path().join("r2.json");
    run(&[
        "sim",
        "--problem",
        p.to_str().unwrap(),
        "--paths",
        "64",
        "--steps",
        "6000",
        "--seed",
        "3",
        "--transient",
        "1,10,100",
        "--json",
        json2.to_str().unwrap(),
    ]);
    let r2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json2).unwrap()).unwrap();
    assert_eq!(r["stationary"]["measured"], r2["stationary"]["measured"]);
}

#[test]
fn the_shipped_example_problems_all_load() {
    for f in [
        "gaussian_rotated",
        "dataset_without_replacement",
        "dataset_reshuffle",
        "regression",
        "momentum",
        "breakdown",
        "law",
        "weak_order",
    ] {
        let p = format!("{}/sims/{f}.toml", env!("CARGO_MANIFEST_DIR"));
        let (code, out, err) = run(&["theory", "--problem", &p]);
        assert_eq!(code, 0, "{f}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["discrete_loss"].as_f64().is_some(), "{f}: {out}");
    }
}

#[test]
fn breakdown_law_and_weak_order_write_their_figures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = run(&[
        "breakdown",
        "--paths",
        "16",
        "--window",
        "2000",
        "--out",
        d.join("b").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reshuffle") && out.contains("stability limit"), "{out}");
    let (code, _, err) = run(&[
        "law",
        "--paths",
        "16",
        "--window",
        "2000",
        "--etas",
        "0.01,0.1",
        "--batches",
        "1,8",
        "--out",
        d.join("l").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&[
        "weak-order",
        "--paths",
        "2000",
        "--levels",
        "3",
        "--out",
        d.join("w").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stochastic_heun"), "{out}");
    for f in [
        "b/breakdown.png",
        "b/breakdown.svg",
        "b/breakdown.csv",
        "b/manifest.json",
        "l/law.png",
        "l/law.svg",
        "l/law.csv",
        "w/weak_order.png",
        "w/weak_order.svg",
        "w/weak_order.json",
    ] {
        assert!(d.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(d.join("b/breakdown.csv")).unwrap();
    assert!(csv.lines().count() > 10, "{csv}");
}

#[test]
fn sweep_shards_resume_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.toml", GOOD);
    let grid = write(d, "grid.toml", "base = \"base.toml\"\n[axes]\neta = [0.1, 0.2, 1.5]\nbatch = [1, 4]\n[run]\npaths = 8\nwindow = 500\n");
    let out = d.join("sweep");
    let g = grid.to_str().unwrap();
    let o = out.to_str().unwrap();
    assert_eq!(run(&["sweep", "--grid", g, "--shard", "0/2", "--out", o]).0, 0);
    let first = std::fs::read_dir(out.join("points")).unwrap().count();
    assert_eq!(first, 3);
    let (code, stdout, _) = run(&["sweep", "--grid", g, "--shard", "0/2", "--out", o]);
    assert_eq!(code, 0);
    assert!(stdout.contains("3 already done, 0 to run"), "{stdout}");
    // A half-finished sweep: delete one point, rerun everything, only it and shard 1 run.
    std::fs::remove_file(out.join("points/p000000.json")).unwrap();
    let (_, stdout, _) = run(&["sweep", "--grid", g, "--out", o]);
    assert!(stdout.contains("6 points; shard 0/1 has 6, 2 already done, 4 to run"), "{stdout}");
    let (code, stdout, _) = run(&["merge", o]);
    assert_eq!(code, 0);
    assert!(stdout.contains("merged 6 of 6 points"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert_eq!(csv.matches(",unstable,").count(), 2, "eta = 1.5 > 2/lambda_max = 1: {csv}");
    bad(&["sweep", "--grid", g, "--shard", "2/2", "--out", o], "--shard");
    // A grid with an invalid point (here in shard 1's half) is refused whole, by every shard,
    // before anything is written: no folder of results with holes in it.
    let invalid = write(
        d,
        "invalid.toml",
        "base = \"base.toml\"\n[axes]\nbatch = [1, 0]\n[run]\npaths = 8\nwindow = 500\n",
    );
    let fresh = d.join("fresh");
    for shard in ["0/2", "1/2"] {
        let args = [
            "sweep",
            "--grid",
            invalid.to_str().unwrap(),
            "--shard",
            shard,
            "--out",
            fresh.to_str().unwrap(),
        ];
        bad(&args, "invalid axes.batch = 0 in ");
    }
    assert!(!fresh.exists());
}

/// Changed settings never reuse old points: resume reruns the stale ones and says so, and merge
/// refuses to mix two grids or a grid with pre-fingerprint files.
#[test]
fn sweep_fingerprints_stop_stale_reuse_and_mixed_merges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = write(d, "base.toml", GOOD);
    let grid_text = |paths: usize| {
        format!("base = \"base.toml\"\n[axes]\neta = [0.1, 0.2]\n[run]\npaths = {paths}\nwindow = 300\n")
    };
    let grid = write(d, "grid.toml", &grid_text(8));
    let (g, a, b) = (grid.to_str().unwrap(), d.join("a"), d.join("b"));
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    assert_eq!(run(&["sweep", "--grid", g, "--out", a]).0, 0);
    let before = std::fs::read_to_string(d.join("a/points/p000000.json")).unwrap();
    // Another run setting: both points are stale and rerun.
    write(d, "grid.toml", &grid_text(10));
    let (code, stdout, _) = run(&["sweep", "--grid", g, "--out", a]);
    assert_eq!(code, 0);
    assert!(stdout.contains("0 already done, 2 to run (2 of them stale"), "{stdout}");
    let after = std::fs::read_to_string(d.join("a/points/p000000.json")).unwrap();
    assert_ne!(before, after);
    // The base problem's contents count too (same file name, another batch size).
    std::fs::write(&base, GOOD.replace("batch = 4", "batch = 2")).unwrap();
    let (_, stdout, _) = run(&["sweep", "--grid", g, "--out", a]);
    assert!(stdout.contains("(2 of them stale"), "{stdout}");
    let (_, stdout, _) = run(&["sweep", "--grid", g, "--out", a]);
    assert!(stdout.contains("2 already done, 0 to run\n"), "{stdout}");
    // A second folder run with other settings cannot be merged with the first.
    write(d, "grid.toml", &grid_text(8));
    assert_eq!(run(&["sweep", "--grid", g, "--out", b]).0, 0);
    bad(&["merge", a, b], "different sweeps");
    // One folder holding points of two grids (another shard not yet rerun) is refused as well.
    std::fs::copy(d.join("b/points/p000001.json"), d.join("a/points/p000001.json")).unwrap();
    bad(&["merge", a], "different sweeps");
    // Files without fingerprints (older versions) are refused, not trusted.
    let current = std::fs::read_to_string(d.join("a/points/p000000.json")).unwrap();
    let legacy = current.lines().filter(|l| !l.contains("\"grid\"")).collect::<Vec<_>>().join("\n");
    std::fs::write(d.join("a/points/p000001.json"), legacy).unwrap();
    bad(&["merge", a], "no grid fingerprint");
    // A point file claiming an absurd grid size is refused, not looped over.
    let huge = current.replace("\"total\": 2", "\"total\": 18446744073709551615");
    std::fs::write(d.join("a/points/p000001.json"), &huge).unwrap();
    bad(&["merge", a], "does not fit the grid");
    std::fs::remove_file(d.join("a/points/p000001.json")).unwrap();
    std::fs::write(d.join("a/points/p000000.json"), &huge).unwrap();
    let (code, stdout, _) = run(&["merge", a]);
    assert_eq!(code, 0);
    assert!(stdout.contains("missing 18446744073709551614 points: p000001, p000002"), "{stdout}");
    // Zero or one path is refused before any work.
    write(d, "grid.toml", &grid_text(1));
    bad(&["sweep", "--grid", g, "--out", a], "run.paths");
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let theory = |name: &str, text: &str, names: &str| {
        let p = write(d, name, text);
        bad(&["theory", "--problem", p.to_str().unwrap()], names);
    };
    theory(
        "unknown.toml",
        "[hessian]\neigenvalues = [1.0]\n[optimizer]\neta = 0.1\nbatchsize = 2\n",
        "unknown field `batchsize`",
    );
    theory("malformed.toml", "[hessian\neigenvalues = [1.0]\n", "malformed.toml: line 1");
    theory(
        "nonspd.toml",
        "[hessian]\nmatrix = [[1.0, 2.0], [2.0, 1.0]]\n[optimizer]\neta = 0.1\n",
        "hessian.matrix",
    );
    theory(
        "nonsym.toml",
        "[hessian]\nmatrix = [[1.0, 0.5], [0.0, 1.0]]\n[optimizer]\neta = 0.1\n",
        "symmetric",
    );
    theory(
        "negeig.toml",
        "[hessian]\neigenvalues = [1.0, -2.0]\n[optimizer]\neta = 0.1\n",
        "hessian.eigenvalues[1]",
    );
    theory(
        "eta.toml",
        "[hessian]\neigenvalues = [1.0]\n[optimizer]\neta = -0.1\n",
        "optimizer.eta",
    );
    theory(
        "m.toml",
        "[hessian]\neigenvalues = [1.0]\n[optimizer]\neta = 0.1\nmomentum = 1.0\n",
        "optimizer.momentum",
    );
    theory("s_gt_n.toml", "[hessian]\neigenvalues = [1.0]\n[noise]\nmodel = \"dataset\"\ngenerate = { n = 4 }\n[optimizer]\neta = 0.1\nbatch = 5\n", "optimizer.batch = 5: valid range is 1 <= S <= N = 4");
    theory("nan.toml", "[hessian]\neigenvalues = [1.0, 2.0]\n[noise]\nmodel = \"dataset\"\ncenters = [[0.0, 1.0], [nan, 0.0], [1.0, 1.0]]\n[optimizer]\neta = 0.1\n", "noise.centers[1]");
    theory(
        "missing.toml",
        "[noise]\nmodel = \"regression\"\nfile = \"no_such_file.csv\"\n[optimizer]\neta = 0.1\n",
        "no_such_file.csv",
    );
    let p =
        write(d, "unstable.toml", "[hessian]\neigenvalues = [1.0, 4.0]\n[optimizer]\neta = 0.6\n");
    bad(&["sim", "--problem", p.to_str().unwrap()], "eta*lambda_max < 2");
    bad(&["theory", "--problem", d.join("absent.toml").to_str().unwrap()], "absent.toml");
    bad(&["validate", "--suite", "nonexistent-suite"], "--suite");
    let (code, _, _) = run(&["sim"]); // clap usage error
    assert_eq!(code, 2);
}

#[test]
fn a_diverging_run_stops_says_where_and_keeps_what_it_measured() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "u.toml",
        "[hessian]\neigenvalues = [1.0, 4.0]\n[optimizer]\neta = 0.55\n",
    );
    let json = dir.path().join("r.json");
    let (code, stdout, err) = run(&[
        "sim",
        "--problem",
        p.to_str().unwrap(),
        "--allow-unstable",
        "--paths",
        "4",
        "--steps",
        "100000",
        "--transient",
        "1,2,5",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{stdout}{err}");
    assert!(
        err.contains("diverged at step") && err.contains("eta*lambda_max = 2.2000; limit 2"),
        "{err}"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        r["transient"].as_array().unwrap().len(),
        3,
        "the transient before divergence is kept"
    );
    assert!(r["diverged"].as_str().unwrap().contains("diverged at step"));
}

/// Mutations of a valid problem file: values replaced by hostile ones, lines dropped or duplicated.
fn garbage() -> impl Strategy<Value = String> {
    let hostile = prop_oneof![
        Just("-1"),
        Just("0"),
        Just("nan"),
        Just("inf"),
        Just("1e300"),
        Just("\"abc\""),
        Just("[]"),
        Just("true"),
        Just("2.5"),
        Just("{ seed = -3 }"),
        Just("[[1.0]]")
    ];
    let lines: Vec<&str> = vec![
        "x0 = [1.0, 0.0]",
        "[hessian]",
        "eigenvalues = [0.5, 2.0]",
        "rotation = { seed = 3 }",
        "[noise]",
        "model = \"dataset\"",
        "sampling = \"reshuffle\"",
        "generate = { n = 8, seed = 1 }",
        "[optimizer]",
        "eta = 0.2",
        "batch = 4",
        "momentum = 0.5",
        "[simulation]",
        "paths = 4",
    ];
    (
        prop::collection::vec((0..lines.len(), 0usize..4, hostile), 0..6),
        prop::collection::vec(any::<u8>(), 0..40),
        any::<bool>(),
    )
        .prop_map(move |(edits, bytes, raw)| {
            if raw {
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            let mut ls: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            for (i, op, v) in edits {
                let i = i % ls.len();
                match op {
                    0 => {
                        if let Some((k, _)) = ls[i].clone().split_once(" = ") {
                            ls[i] = format!("{k} = {v}");
                        }
                    }
                    1 => {
                        ls.remove(i);
                        if ls.is_empty() {
                            ls.push(String::new());
                        }
                    }
                    2 => ls.insert(i, ls[i].clone()),
                    _ => ls[i] = format!("{} {v}", ls[i]),
                }
            }
            ls.join("\n")
        })
}

proptest! {
    #![proptest_config(config(48))]
    #[test]
    fn garbage_problem_files_never_panic(text in garbage()) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "g.toml", &text);
        for args in [vec!["theory", "--problem", p.to_str().unwrap()], vec!["sim", "--problem", p.to_str().unwrap(), "--paths", "2", "--steps", "50"]] {
            let (code, _, err) = run(&args);
            prop_assert!([0, 2, 3].contains(&code), "exit {code} for {text:?}: {err}");
            prop_assert!(!err.contains("panicked"), "panic for {text:?}: {err}");
            if code == 2 {
                prop_assert_eq!(err.trim().lines().count(), 1, "{}", err);
            }
        }
    }
}

#[test]
fn network_experiments_run_at_tiny_sizes_and_write_results() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = |name: &str| d.join(name).to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            [
                "net",
                "invariance",
                "--n",
                "200",
                "--test-n",
                "100",
                "--epochs",
                "2",
                "--layers",
                "784,8,10",
                "--out",
                &o("inv"),
            ]
            .map(String::from)
            .to_vec(),
            "inv/invariance.json",
        ),
        (
            [
                "net",
                "gaussian-vs-sgd",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--seeds",
                "2",
                "--layers",
                "784,8,10",
                "--out",
                &o("gvs"),
            ]
            .map(String::from)
            .to_vec(),
            "gvs/gaussian_vs_sgd.json",
        ),
        (
            [
                "net",
                "sharpest",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--etas",
                "0.05",
                "--batches",
                "10",
                "--probe-n",
                "40",
                "--lanczos-steps",
                "4",
                "--k",
                "2",
                "--layers",
                "784,4,10",
                "--out",
                &o("sharp"),
            ]
            .map(String::from)
            .to_vec(),
            "sharp/sharpest.json",
        ),
        (
            [
                "net",
                "noise-scale",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--batch",
                "10",
                "--probe-n",
                "40",
                "--k",
                "5",
                "--layers",
                "784,4,10",
                "--out",
                &o("noise"),
            ]
            .map(String::from)
            .to_vec(),
            "noise/noise_scale.json",
        ),
        (
            [
                "net",
                "interpolation",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--pairs",
                "0.01:20:0.1:10",
                "--directions",
                "2",
                "--probe-n",
                "40",
                "--points",
                "5",
                "--layers",
                "784,4,10",
                "--out",
                &o("interp"),
            ]
            .map(String::from)
            .to_vec(),
            "interp/interpolation.json",
        ),
        (
            [
                "net",
                "schedules",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "2",
                "--batch",
                "10",
                "--factor",
                "3",
                "--half-period",
                "0.5",
                "--milestones",
                "1",
                "--seeds",
                "2",
                "--layers",
                "784,4,10",
                "--out",
                &o("sched"),
            ]
            .map(String::from)
            .to_vec(),
            "sched/schedules.json",
        ),
        (
            [
                "net",
                "nudged",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--refresh",
                "0.5",
                "--batch",
                "10",
                "--gammas",
                "0.1",
                "--k",
                "2",
                "--lanczos-steps",
                "4",
                "--probe-n",
                "40",
                "--seeds",
                "2",
                "--layers",
                "784,4,10",
                "--out",
                &o("nudged"),
            ]
            .map(String::from)
            .to_vec(),
            "nudged/nudged.json",
        ),
        (
            [
                "net",
                "critical-batch",
                "--n",
                "100",
                "--test-n",
                "50",
                "--batches",
                "5,10,20",
                "--etas",
                "0.1,0.2",
                "--target",
                "2.29",
                "--max-epochs",
                "5",
                "--seeds",
                "2",
                "--probe-n",
                "40",
                "--k",
                "5",
                "--layers",
                "784,4,10",
                "--out",
                &o("crit"),
            ]
            .map(String::from)
            .to_vec(),
            "crit/critical_batch.json",
        ),
        (
            [
                "net",
                "svag",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--seeds",
                "2",
                "--l",
                "2",
                "--layers",
                "784,8,10",
                "--out",
                &o("svag"),
            ]
            .map(String::from)
            .to_vec(),
            "svag/svag.json",
        ),
        (
            [
                "net",
                "ou-law",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "6",
                "--etas",
                "0.01",
                "--batches",
                "10",
                "--probes",
                "3",
                "--polish-steps",
                "10",
                "--layers",
                "784,4,10",
                "--out",
                &o("ou"),
            ]
            .map(String::from)
            .to_vec(),
            "ou/ou_law.json",
        ),
        (
            [
                "net",
                "width",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--etas",
                "0.05",
                "--batches",
                "20",
                "--probes",
                "2",
                "--probe-n",
                "50",
                "--layers",
                "784,8,8,8,10",
                "--out",
                &o("w"),
            ]
            .map(String::from)
            .to_vec(),
            "w/width.json",
        ),
        (
            [
                "net",
                "width",
                "--batch-norm",
                "--n",
                "100",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--etas",
                "0.05",
                "--batches",
                "20",
                "--probes",
                "2",
                "--probe-n",
                "50",
                "--layers",
                "784,8,8,8,10",
                "--out",
                &o("wbn"),
            ]
            .map(String::from)
            .to_vec(),
            "wbn/width.json",
        ),
        (
            [
                "net",
                "bench",
                "--n",
                "256",
                "--layers",
                "784,16,10",
                "--hvp-n",
                "50",
                "--probes",
                "2",
                "--out",
                &o("b"),
            ]
            .map(String::from)
            .to_vec(),
            "b/bench.json",
        ),
        (
            [
                "net",
                "breakdown",
                "--n",
                "200",
                "--test-n",
                "50",
                "--epochs",
                "1.5",
                "--betas",
                "1,4,100",
                "--ns",
                "100,200",
                "--lanczos-steps",
                "4",
                "--probes",
                "1",
                "--probe-n",
                "50",
                "--layers",
                "784,4,10",
                "--out",
                &o("bd"),
            ]
            .map(String::from)
            .to_vec(),
            "bd/breakdown_net.json",
        ),
        (
            [
                "net",
                "batch-size",
                "--n",
                "200",
                "--test-n",
                "50",
                "--epochs",
                "1",
                "--etas",
                "0.05",
                "--batches",
                "10,20,40",
                "--ns",
                "100",
                "--momenta",
                "0.5",
                "--seeds",
                "2",
                "--layers",
                "784,4,10",
                "--out",
                &o("bs"),
            ]
            .map(String::from)
            .to_vec(),
            "bs/batch_size.json",
        ),
        (
            [
                "net",
                "evidence",
                "--dataset",
                "embedded",
                "--n",
                "100",
                "--test-n",
                "50",
                "--lambdas",
                "0.1,10",
                "--out",
                &o("ev"),
            ]
            .map(String::from)
            .to_vec(),
            "ev/evidence.json",
        ),
        (
            [
                "net",
                "invariance",
                "--dataset",
                "teacher",
                "--n",
                "200",
                "--test-n",
                "100",
                "--epochs",
                "1",
                "--layers",
                "784,8,10",
                "--out",
                &o("teacher"),
            ]
            .map(String::from)
            .to_vec(),
            "teacher/invariance.json",
        ),
    ];
    for (args, file) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {stdout}{err}");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join(file)).unwrap()).unwrap();
        assert!(!v.is_null(), "{file}");
        assert!(d.join(file).with_file_name("manifest.json").exists(), "{file}");
    }
    let inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("inv/invariance.json")).unwrap())
            .unwrap();
    assert_eq!(inv.as_array().unwrap().len(), 4);
    // The bench's matrix products for 784-16-10 on 50 examples, counted here by hand: the kept
    // forward pass (784x16 and 16x10 forward, 16x10 error back: 2 * 50 * 12,864 flop) and one
    // R-pass (the first layer F + G, the second 2F + 2G + 2E: 2 * 50 * (2 * 12,544 + 6 * 160)).
    let bench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("b/bench.json")).unwrap()).unwrap();
    let hvp = &bench["hvp_products"];
    let hand = (100.0 * 12_864.0 + 100.0 * (2.0 * 12_544.0 + 6.0 * 160.0)) / 1e9;
    assert!((hvp["gflop"].as_f64().unwrap() - hand).abs() < 1e-15, "{hvp}");
    assert!(hvp["seconds"].as_f64().unwrap() > 0.0);
    assert!(
        bench["trace_products"]["gflop"].as_f64().unwrap()
            > bench["hvp_products"]["gflop"].as_f64().unwrap()
    );
    assert!(
        d.join("inv/invariance.png").exists()
            && d.join("w/width.svg").exists()
            && d.join("ou/ou_law.png").exists()
    );
    // Interpolation: the line passes through both minima (alpha = 0 exactly, alpha = 1 up to
    // the rounding of a + (b - a)), and the filter-normalised curvature has an error bar.
    let ip: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("interp/interpolation.json")).unwrap(),
    )
    .unwrap();
    let pair = &ip["pairs"][0];
    let line = pair["line"].as_array().unwrap();
    assert_eq!(line.len(), 5);
    let loss = |v: &serde_json::Value| v.as_f64().unwrap();
    assert_eq!(loss(&line[1]["alpha"]), 0.0);
    assert_eq!(loss(&line[1]["train_loss"]), loss(&pair["a"]["train_loss"]));
    let (at_one, b) = (loss(&line[3]["train_loss"]), loss(&pair["b"]["train_loss"]));
    assert!((at_one - b).abs() < 1e-4 * b, "{at_one} vs {b}");
    assert!(loss(&pair["a"]["slice_curvature"]["se"]) > 0.0);
    // Schedules: every arm sees 2 epochs of N = 100 examples, in ceil(sum of batches) updates
    // computed here from the schedules (batch 10, factor 3, half-period 0.5, milestone 1).
    let sc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sched/schedules.json")).unwrap())
            .unwrap();
    let updates: Vec<u64> =
        sc["arms"].as_array().unwrap().iter().map(|a| a["updates"].as_u64().unwrap()).collect();
    // S = 10 throughout: 20 updates; S = 30: ceil(200/30) = 7; cyclic 10 <-> 30 per half epoch:
    // 5 + 2 (50 + 60 examples: the second batch of 30 crosses into the next half) ...
    let cyclic = |a: f64, b: f64| {
        let (mut seen, mut k) = (0.0_f64, 0);
        while seen < 200.0 {
            seen += if (((seen / 100.0) / 0.5).floor() as u64).is_multiple_of(2) { a } else { b };
            k += 1;
        }
        k
    };
    let step = 10 + (100.0_f64 / 30.0).ceil() as u64; // 10 at S = 10, then S = 30 for an epoch
    assert_eq!(updates, [20, cyclic(10.0, 30.0), cyclic(30.0, 10.0), 20, 7, 20, 20, step]);
    assert_eq!(sc["comparisons"].as_array().unwrap().len(), 6);
    assert!(sc["comparisons"][0]["noise_floor_train_loss"].as_f64().unwrap() > 0.0);
    assert!(d.join("sched/schedules.png").exists());
    // Breakdown: beta = 100 (S = 400) exceeds both N and is reported as not run; every learning
    // curve ends at the run's last step, round(1.5 N / S), even where that is not a whole number
    // of epochs.
    let bd: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("bd/breakdown_net.json")).unwrap())
            .unwrap();
    let skipped: Vec<(u64, u64)> = bd["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["n"].as_u64().unwrap(), s["batch"].as_u64().unwrap()))
        .collect();
    assert_eq!(skipped, [(100, 400), (200, 400)]);
    let curves = bd["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 4);
    for c in curves {
        let (n, beta) = (c["n"].as_f64().unwrap(), c["beta"].as_f64().unwrap());
        let last = c["curve"].as_array().unwrap().last().unwrap()["step"].as_f64().unwrap();
        assert_eq!(last, (1.5 * n / (4.0 * beta)).round(), "N {n}, beta {beta}");
    }
    // Nudged SGD: SGD, gamma 0.1 and the random control; SGD's ratio to itself is exactly 0 and
    // every replicate traces lambda_max at epochs 0, 0.5 and 1 (two refreshes, then the end).
    let nu: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("nudged/nudged.json")).unwrap())
            .unwrap();
    let arms = nu["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 3);
    assert_eq!(arms[0]["log_ratio_to_sgd"]["value"].as_f64(), Some(0.0));
    assert_eq!(arms[2]["random"].as_bool(), Some(true));
    let trace = arms[1]["runs"][0]["trace"].as_array().unwrap();
    let epochs: Vec<f64> = trace.iter().map(|p| p[0].as_f64().unwrap()).collect();
    assert_eq!(epochs, [0.0, 0.5, 1.0]);
    // Critical batch: each batch size's steps are the least mean over its etas; B_crit is the
    // fit's E_min / S_min.
    let cb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("crit/critical_batch.json")).unwrap())
            .unwrap();
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let rows = cb["batches"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let b = num(&row["batch"]);
        let means: Vec<f64> = cb["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| num(&a["batch"]) == b)
            .filter_map(|a| a["mean_steps"].as_f64())
            .collect();
        let least = means.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(num(&row["steps"]), least);
        assert_eq!(num(&row["examples"]), least * b);
    }
    if let Some(b_crit) = cb["b_crit"].as_f64() {
        assert!((b_crit - num(&cb["e_min"]) / num(&cb["s_min"])).abs() < 1e-9);
    } else {
        assert!(num(&cb["s_min"]) <= 2.0 * num(&cb["fit"]["intercept_se"]));
    }
    // The relative fit (weights 1/S^2) passes through the weighted centroid.
    let (sw, sx, sy) = rows.iter().fold((0.0, 0.0, 0.0), |(w, x, y), r| {
        let (b, s) = (num(&r["batch"]), num(&r["steps"]));
        (w + s.powi(-2), x + s.powi(-2) / b, y + 1.0 / s)
    });
    let (mx, my) = (sx / sw, sy / sw);
    assert!((num(&cb["s_min"]) + num(&cb["e_min"]) * mx - my).abs() < 1e-9 * my);
    // The noisy quadratic model: tuned below its stability limit; its noise only shrinks with B,
    // so its tuned steps never grow with B; the prediction is the mean of the resolved B_crits.
    let nqms: Vec<&serde_json::Value> =
        rows.iter().map(|r| &r["nqm"]).chain([&cb["nqm_at_init"]]).collect();
    for q in &nqms {
        let tuned = q["tuned"].as_array().unwrap();
        assert_eq!(tuned.len(), 3);
        let steps: Vec<f64> = tuned.iter().map(|t| num(&t[1]["steps"])).collect();
        assert!(steps.windows(2).all(|w| w[1] <= w[0]), "{steps:?}");
        assert!(tuned.iter().all(|t| num(&t[1]["eta"]) * num(&q["lambda_max"]) < 2.0));
    }
    let resolved: Vec<f64> = rows.iter().filter_map(|r| r["nqm"]["b_crit"].as_f64()).collect();
    if !resolved.is_empty() {
        let mean = resolved.iter().sum::<f64>() / resolved.len() as f64;
        let got = num(&cb["nqm_b_crit"]["value"]);
        assert!(
            (got - mean).abs() <= 1e-9 * (1.0 + mean.abs()),
            "{got} vs {mean} from {resolved:?}"
        );
    }
    // Evidence: informative labels beat random labels at every lambda (Smith & Le's observation).
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ev/evidence.json")).unwrap())
            .unwrap();
    let pts = ev["points"].as_array().unwrap();
    for pair in pts.chunks(2) {
        assert!(
            pair[0]["log_evidence_per_example"].as_f64().unwrap()
                > pair[1]["log_evidence_per_example"].as_f64().unwrap(),
            "{pair:?}"
        );
    }
}

#[test]
fn network_bad_inputs_exit_2() {
    bad(&["net", "invariance", "--dataset", "cifar"], "--dataset");
    bad(
        &["net", "invariance", "--dataset", "fashion-mnist", "--data", "/nonexistent/folder"],
        "--data",
    );
    bad(&["net", "invariance", "--n", "999999"], "--n = 999999");
    bad(&["net", "invariance", "--device", "tpu"], "--device");
    if sgd_sde::net::backend::cuda_available().is_err() {
        bad(&["net", "invariance", "--device", "cuda"], "--device = cuda");
        bad(&["validate", "--suite", "net", "--device", "cuda"], "--device = cuda");
    }
    bad(&["validate", "--suite", "net", "--device", "tpu"], "--device = tpu");
}

#[test]
fn network_experiments_give_bad_flags_exit_2_not_the_divergence_code() {
    // N = 200 holds every default batch size: the layers are the one bad field.
    let common = ["--n", "200", "--test-n", "30", "--epochs", "1"];
    fn with(cmd: &[&'static str], common: &[&'static str]) -> Vec<&'static str> {
        [&["net"][..], cmd, common].concat()
    }
    bad(&with(&["width", "--layers", "784,0,10"], &common), "layers");
    bad(&with(&["invariance", "--layers", "784,0"], &common), "layers");
    bad(&with(&["gaussian-vs-sgd", "--layers", "0,10"], &common), "layers");
    bad(&with(&["ou-law", "--layers", "784,0,10"], &common), "layers");
    // Ten classes: one logit is no classifier of them, and the range says so (it offered "1").
    let ten = "invalid layers[last] = 1: valid range is >= 10 (the number of classes)";
    bad(&with(&["width", "--layers", "784,10,1"], &common), ten);
}

#[test]
fn an_unwritable_output_exits_4_names_the_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let problem = write(dir.path(), "p.toml", GOOD);
    let blocker = write(dir.path(), "not-a-folder", "");
    let out = blocker.join("out");
    let (code, _, err) = run(&[
        "sim",
        "--problem",
        problem.to_str().unwrap(),
        "--paths",
        "8",
        "--steps",
        "200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot write") && err.contains("not-a-folder"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

/// `sgd-sde ... | head -1`: a reader that goes away must not panic the run or lose its files.
#[test]
fn a_closed_stdout_neither_panics_nor_loses_the_json() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("t.json");
    let problem = write(dir.path(), "p.toml", GOOD);
    let exe = assert_cmd::cargo::cargo_bin("sgd-sde");
    let mut child = std::process::Command::new(exe)
        .args(["--quiet", "sim", "--problem", problem.to_str().unwrap()])
        .args(["--paths", "16", "--steps", "3000", "--json", json.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is printed
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v.get("theory").is_some() || v.is_object(), "{v}");
}

/// Numeric flags are refused by the parser itself: non-finite, negative or zero where a positive
/// value is needed, a momentum outside [0, 1); exit 2 and one line naming the flag and the range.
#[test]
fn absurd_numeric_flags_are_refused_before_any_work() {
    let net = ["--n", "60", "--test-n", "30"];
    let cases: &[(&[&str], &str)] = &[
        (&["net", "width", "--epochs", "inf"], "--epochs"),
        (&["net", "width", "--epochs", "nan"], "--epochs"),
        (&["net", "width", "--epochs=-1"], "--epochs"),
        (&["net", "width", "--etas", "0.1,nan"], "--etas"),
        (&["net", "gaussian-vs-sgd", "--eta=-0.1"], "--eta"),
        (&["net", "gaussian-vs-sgd", "--seeds", "0"], "--seeds"),
        (&["net", "bench", "--batch", "0"], "--batch"),
        (&["net", "bench", "--momentum", "1"], "--momentum"),
        (&["net", "ou-law", "--l2=-1"], "--l2"),
        (&["net", "batch-size", "--momenta", "1.5"], "--momenta"),
        (&["net", "invariance", "--batch0", "0"], "--batch0"),
        (&["net", "breakdown", "--betas", "1,-2"], "--betas"),
    ];
    for (args, flag) in cases {
        let full: Vec<&str> = args.iter().chain(net.iter()).copied().collect();
        bad(&full, flag);
    }
    bad(&["weak-order", "--t-end", "inf"], "--t-end");
    bad(&["weak-order", "--h0", "0"], "--h0");
    bad(&["law", "--paths", "0"], "--paths");
    bad(&["weak-order", "--paths", "1"], "--paths");
    bad(&["breakdown", "--window", "0"], "--window");
    bad(&["sim"], "--problem");
    // The same rule when the count comes from a problem file's [simulation] table.
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "one.toml", &format!("{GOOD}\n[simulation]\npaths = 1\n"));
    bad(&["sim", "--problem", p.to_str().unwrap()], "paths");
}

/// Work that cannot fit is refused before it starts, with its estimate: no hang, no abort.
#[test]
fn unbounded_work_is_refused_with_an_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(d, "good.toml", GOOD);
    let g = good.to_str().unwrap();
    let long = "--max-hours";
    bad(&["sim", "--problem", g, "--steps", "18446744073709551615"], long);
    bad(&["weak-order", "--levels", "30"], long);
    bad(&["law", "--window", "1000000000000"], long);
    bad(&["breakdown", "--window", "1000000000000"], long);
    bad(&["net", "invariance", "--epochs", "1e12", "--n", "200", "--test-n", "30"], long);
    bad(&["net", "gaussian-vs-sgd", "--epochs", "1e9", "--n", "60", "--test-n", "30"], long);
    bad(&["--max-hours", "0", "sim", "--problem", g], "--max-hours");
    // The limit is the user's to raise: a tiny limit refuses an ordinary run...
    let ordinary = ["sim", "--problem", g, "--paths", "8", "--steps", "100", "--burn-in", "50"];
    let limited: Vec<&str> = ["--max-hours", "1e-9"].iter().chain(&ordinary).copied().collect();
    bad(&limited, long);
    // ...and the default lets it run.
    assert_eq!(run(&ordinary).0, 0);
    // A sweep's points count together.
    write(d, "base.toml", GOOD);
    let grid =
        write(d, "grid.toml", "base = \"base.toml\"\n[run]\npaths = 8\nwindow = 1000000000000\n");
    bad(&["sweep", "--grid", grid.to_str().unwrap(), "--out", d.join("s").to_str().unwrap()], long);
    // A suite file's checks count together, before any of them runs.
    let text = SUITE.replace("window = 200", "window = 1000000000000");
    let suite = write(d, "suite.toml", &format!("description = \"d\"\n{text}"));
    bad(&["validate", "--suite", suite.to_str().unwrap()], "check a (8 paths x");
    // Network checks count too (a window of 10^12 steps on the embedded data).
    let net = write(
        d,
        "net_suite.toml",
        "name = \"n\"\ndescription = \"d\"\nthreshold = 5.0\n[[net_check]]\nid = \"big\"\nclaim = \"c\"\neta = 0.1\nbatch = 10\nwindow = 1000000000000\n[net_check.model]\nl2 = 0.01\npool = 4\nclasses = [0, 1]\nn = 100\n",
    );
    bad(&["validate", "--suite", net.to_str().unwrap()], "check big (");
    // A file that never ends is refused unread, not loaded into memory.
    bad(&["theory", "--problem", "/dev/zero"], "larger than");
    // A diagonal problem of a million coordinates never forms a d x d matrix.
    let wide = write(
        d,
        "wide.toml",
        "[hessian]\nlog_spaced = { d = 1000000, min = 0.1, max = 10.0 }\n[optimizer]\neta = 0.01\nbatch = 1\n",
    );
    let (code, stdout, err) = run(&["theory", "--problem", wide.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("\"stable\": true"), "{stdout}");
}

/// The bad-input table: every subcommand, the exit code the README's contract gives and a
/// fragment of the one-line message (the flag or field as the user wrote it, or the reason).
/// `{d}` is a folder holding the files written below.
const BAD_INPUTS: &[(&str, i32, &str)] = &[
    // top level and argument parsing
    ("frobnicate", 2, "frobnicate"),
    ("--max-hours nan sim --problem {d}/good.toml", 2, "--max-hours"),
    ("--max-hours=-1 sim --problem {d}/good.toml", 2, "--max-hours"),
    // validate
    ("validate --suite nosuch", 2, "--suite"),
    ("validate --suite {d}/missing.toml", 2, "--suite"),
    ("validate --suite {d}/garbage.toml", 2, "garbage.toml"),
    // weak-order checks in a suite file: levels 0 and 2 panicked, 70 overflowed the substep
    // count's shift, a negative h0 or t_end gave NaN and a NaN tolerance a check that cannot pass
    ("validate --suite {d}/zero_levels.toml", 2, "check w: invalid levels = 0: valid range is 3 <= levels <= 30"),
    ("validate --suite {d}/two_levels.toml", 2, "check w: invalid levels = 2: valid range is 3 <= levels <= 30"),
    ("validate --suite {d}/many_levels.toml", 2, "check w: invalid levels = 70: valid range is 3 <= levels <= 30"),
    ("validate --suite {d}/neg_h0.toml", 2, "check w: invalid h0 = -0.1: valid range is a finite number > 0"),
    ("validate --suite {d}/neg_t_end.toml", 2, "check w: invalid t_end = -1: valid range is a finite number > 0"),
    ("validate --suite {d}/nan_tolerance.toml", 2, "check w: invalid tolerance = NaN: valid range is a finite number > 0"),
    ("validate --suite {d}/nan_order.toml", 2, "check w: invalid order = NaN: valid range is a finite number > 0"),
    ("weak-order --levels 70 --paths 2", 2, "invalid --levels = 70: valid range is 3 <= --levels <= 30"),
    ("validate --calibrate 5 --out {d}/o", 2, "--calibrate"),
    ("validate --calibrate 0", 2, "--calibrate"),
    ("validate --suite {d}/net_warm.toml", 2, "model.warmup_epochs = 0.000000001: valid range is >= "),
    ("validate --suite {d}/suite_threshold.toml", 2, "invalid threshold = -1: valid range is a finite number > 0"),
    ("validate --suite {d}/suite_paths.toml", 2, "check a: invalid paths = 1: valid range is >= 2"),
    ("validate --suite {d}/suite_window.toml", 2, "check a: invalid window = 0: valid range is >= 1"),
    // A check with no rows passed with nothing checked; step 0 has no spread, so no z; a NaN
    // beta was reported as the scaled optimizer.eta.
    ("validate --suite {d}/suite_empty.toml", 2, "/suite_empty.toml = no checks: valid is at least one [[check]] or [[net_check]]"),
    ("validate --suite {d}/suite_dup_id.toml", 2, "/suite_dup_id.toml: it names two checks; valid are ids unique"),
    ("validate --suite {d}/suite_no_steps.toml", 2, "check a: invalid steps = []: valid range is at least one step >= 1"),
    ("validate --suite {d}/suite_step0.toml", 2, "check a: invalid steps[1] = 0: valid range is >= 1"),
    ("validate --suite {d}/suite_no_betas.toml", 2, "check a: invalid betas = []: valid range is at least one scale factor"),
    ("validate --suite {d}/suite_beta_nan.toml", 2, "check a: invalid betas[1] = NaN: valid range is a finite number > 0"),
    ("validate --suite {d}/net_eta.toml", 2, "check w: invalid eta = -0.1: valid range is a finite number > 0"),
    ("validate --suite {d}/net_warm_neg.toml", 2, "model.warmup_epochs = -1: valid range is a finite number >= 0"),
    // Refused before the model is fitted, named as the suite file names them: a window or an
    // interval that left the excess loss's 20 batch means without a record (value and error bar
    // NaN), and the momentum, batch, N and L2 that failed after the fit as "m", "S" and "N".
    ("validate --suite {d}/net_every.toml", 2, "check w: invalid every = 60: valid range is 1 <= every <= window / 19 = 5 "),
    ("validate --suite {d}/net_window.toml", 2, "check w: invalid window = 10: valid range is >= 19 steps"),
    ("validate --suite {d}/net_momentum.toml", 2, "check w: invalid momentum = 1: valid range is 0 <= m < 1"),
    ("validate --suite {d}/net_batch_n.toml", 2, "check w: invalid batch = 101: valid range is 1 <= S <= N (model.n) = 100"),
    ("validate --suite {d}/net_n1.toml", 2, "check w: invalid model.n = 1: valid range is N >= 2"),
    ("validate --suite {d}/net_l2.toml", 2, "check w: invalid model.l2 = NaN: valid range is a finite number >= 0"),
    // theory: malformed and invalid problem files
    ("theory --problem {d}/missing.toml", 2, "--problem"),
    ("theory --problem /dev/zero", 2, "larger than"),
    ("theory --problem {d}/garbage.toml", 2, "garbage.toml"),
    ("theory --problem {d}/binary.toml", 2, "UTF-8"),
    ("theory --problem {d}/empty.toml", 2, "missing field"),
    ("theory --problem {d}/unknown.toml", 2, "unknown field"),
    ("theory --problem {d}/eta0.toml", 2, "invalid optimizer.eta = 0: valid range is a finite number > 0"),
    ("theory --problem {d}/eta_neg.toml", 2, "invalid optimizer.eta = -0.1: valid range is a finite number > 0"),
    ("theory --problem {d}/batch0.toml", 2, "invalid optimizer.batch = 0: valid range is S >= 1"),
    ("theory --problem {d}/mom1.toml", 2, "momentum"),
    ("theory --problem {d}/mom_neg.toml", 2, "momentum"),
    ("theory --problem {d}/eig_nan.toml", 2, "eigenvalues"),
    ("theory --problem {d}/eig_zero.toml", 2, "eigenvalues"),
    ("theory --problem {d}/eig_empty.toml", 2, "eigenvalues"),
    ("theory --problem {d}/nonsym.toml", 2, "symmetric"),
    ("theory --problem {d}/ragged.toml", 2, "matrix"),
    ("theory --problem {d}/logsp_min.toml", 2, "log_spaced"),
    ("theory --problem {d}/logsp_d0.toml", 2, "log_spaced"),
    ("theory --problem {d}/x0_len.toml", 2, "invalid x0 = a vector of length 1: valid range is length 2"),
    ("theory --problem {d}/x0_nan.toml", 2, "invalid x0 = a vector with NaN or infinite entries"),
    ("theory --problem {d}/c_dim.toml", 2, "invalid C = dimension 1: valid range is the dimension of H, 2"),
    ("theory --problem {d}/s_gt_n.toml", 2, "batch"),
    ("theory --problem {d}/gen_n0.toml", 2, "noise.generate.n"),
    // Sizes past this machine's memory are refused before anything of that size is allocated
    // (they aborted the process with a failed allocation).
    ("theory --problem {d}/huge_d.toml", 2, "invalid hessian.log_spaced.d = 100000000000: valid range is 1 <= d <= "),
    ("theory --problem {d}/huge_rot.toml", 2, "invalid hessian.log_spaced.d = 100000: valid range is 1 <= d <= "),
    ("theory --problem {d}/huge_n.toml", 2, "invalid noise.generate.n = 100000000000: valid range is 2 <= N <= "),
    ("theory --problem {d}/huge_reg_d.toml", 2, "invalid noise.generate.d = 1000000: valid range is 1 <= d <= "),
    ("theory --problem {d}/householder.toml", 2, "invalid hessian.rotation.householder = vector of length 1"),
    ("theory --problem {d}/csv_missing.toml", 2, "file"),
    ("theory --problem {d}/csv_nan.toml", 2, "invalid noise.centers[1] = a vector with NaN or infinite entries"),
    ("theory --problem {d}/bad_model.toml", 2, "unknown variant `cauchy`"),
    ("theory --problem {d}/bad_sampling.toml", 2, "unknown variant `sometimes`"),
    ("theory --problem {d}/rot_seed.toml", 2, "rot_seed.toml: line 3"),
    ("theory --problem {d}/good.toml --transient 1,100000000000", 2, "--transient"),
    ("theory --problem {d}/good.toml --transient x", 2, "--transient"),
    ("theory --problem {d}/good.toml --integrator rk4", 2, "rk4"),
    ("theory --problem {d}/data.toml --integrator exact_ou", 2, "exact_ou"),
    // sim
    ("sim", 2, "--problem"),
    ("sim --problem {d}/good.toml --paths 0", 2, "--paths"),
    ("sim --problem {d}/good.toml --paths 1", 2, "--paths"),
    ("sim --problem {d}/good.toml --paths -3", 2, "--paths"),
    ("sim --problem {d}/good.toml --steps 0", 2, "--steps"),
    ("sim --problem {d}/good.toml --steps abc", 2, "--steps"),
    ("sim --problem {d}/good.toml --steps 18446744073709551615", 2, "--max-hours"),
    ("sim --problem {d}/good.toml --integrator rk4", 2, "rk4"),
    ("sim --problem {d}/good.toml --integrator exact_ou --transient 1,x", 2, "--transient"),
    ("sim --problem {d}/unstable.toml", 2, "eta"),
    ("sim --problem {d}/one_path.toml", 2, "paths"),
    ("sim --problem {d}/data.toml --integrator exact_ou", 2, "exact_ou"),
    ("sim --problem {d}/good.toml --seed -1", 2, "--seed"),
    // a whole-number flag names its range, whatever parses it
    ("sim --problem {d}/good.toml --seed -1", 2, "valid range is a whole number from 0 to 18446744073709551615"),
    ("sim --problem {d}/good.toml --burn-in=-2", 2, "valid range is a whole number from 0"),
    ("sim --problem {d}/good.toml --seed 18446744073709551616", 2, "valid range is a whole number from 0"),
    ("sim --problem {d}/good.toml --transient 1,-5", 2, "valid range is a whole number from 0"),
    ("validate --calibrate -1", 2, "valid range is a whole number from 0"),
    ("net bench --layers 784,-1,10", 2, "valid range is a whole number from 0"),
    // a run that would measure nothing: no step after the burn-in and no transient asked for
    ("sim --problem {d}/good.toml --steps 100 --burn-in 100", 2, "--burn-in = 100 for 100 steps: valid range is < the steps"),
    ("sim --problem {d}/burn_past.toml", 2, "simulation.burn_in = 50 for 40 steps"),
    ("sim --problem {d}/steps0.toml", 2, "invalid --steps (or simulation.steps) = 0: valid range is >= 1"),
    ("sim --problem {d}/good.toml --steps 1", 2, "burn-in (this problem's default; set --burn-in) = "),
    // law
    ("law --etas 0", 2, "--etas"),
    ("law --etas=-0.1", 2, "--etas"),
    ("law --etas nan", 2, "--etas"),
    ("law --batches 0", 2, "--batches"),
    ("law --paths 1", 2, "--paths"),
    ("law --window 0", 2, "--window"),
    ("law --etas 100", 2, "--etas"),
    // A repeated value is the same run again, which fits and averages would count twice.
    ("law --etas 0.05,0.1,0.050", 2, "invalid --etas = 0.05,0.1,0.050: 0.050 repeats 0.05; valid is each value once"),
    ("net width --batches 16,16", 2, "invalid --batches = 16,16: 16 is listed twice; valid is each value once"),
    ("paper --only a,b,a", 2, "invalid --only = a,b,a: a is listed twice"),
    ("law --problem {d}/data.toml", 2, "gaussian"),
    ("law --window 1000000000000", 2, "--max-hours"),
    // breakdown
    ("breakdown --betas 0", 2, "--betas"),
    ("breakdown --betas inf", 2, "--betas"),
    ("breakdown --paths 0", 2, "--paths"),
    ("breakdown --window 0", 2, "--window"),
    ("breakdown --problem {d}/missing.toml", 2, "--problem"),
    ("breakdown --window 1000000000000", 2, "--max-hours"),
    ("breakdown --out /dev/null/b", 4, "cannot write /dev/null/b"),
    ("law --out /dev/null/l", 4, "cannot write /dev/null/l"),
    ("weak-order --out /dev/null/w", 4, "cannot write /dev/null/w"),
    ("sim --problem {d}/good.toml --out /dev/null/s", 4, "cannot write /dev/null/s"),
    // weak-order
    ("weak-order --levels 2", 2, "invalid --levels = 2: valid range is 3 <= --levels <= 30"),
    ("weak-order --levels 30", 2, "--max-hours"),
    ("weak-order --h0 0", 2, "--h0"),
    ("weak-order --h0 nan", 2, "--h0"),
    ("weak-order --t-end inf", 2, "--t-end"),
    ("weak-order --paths 1", 2, "--paths"),
    ("weak-order --problem {d}/data.toml", 2, "gaussian"),
    // sweep and merge
    ("sweep --grid {d}/missing.toml --out {d}/s", 2, "--grid"),
    ("sweep --grid {d}/garbage.toml --out {d}/s", 2, "garbage.toml"),
    ("sweep --grid {d}/grid_one_path.toml --out {d}/s", 2, "run.paths"),
    ("sweep --grid {d}/grid_window0.toml --out {d}/s", 2, "run.window"),
    ("sweep --grid {d}/grid_nobase.toml --out {d}/s", 2, "--problem"),
    ("sweep --grid {d}/grid_ok.toml --shard 3/2 --out {d}/s", 2, "--shard"),
    ("sweep --grid {d}/grid_ok.toml --shard x --out {d}/s", 2, "--shard"),
    ("sweep --grid {d}/grid_ok.toml --out /dev/null/s", 4, "/dev/null"),
    // A grid with an invalid point runs none of them; the axis is named as the grid file names it.
    ("sweep --grid {d}/grid_batch0.toml --out {d}/s", 2, "invalid axes.batch = 0 in "),
    ("sweep --grid {d}/grid_twice.toml --out {d}/s", 2, "invalid axes.seed in "),
    // good.toml has no generated data: every point would be labelled with an n it never used.
    ("sweep --grid {d}/grid_n_fixed.toml --out {d}/s", 2, "invalid axes.n in "),
    // svag
    ("svag --l 0.5", 2, "--l"),
    ("svag --l 1e7", 2, "--l"),
    ("svag --l 4", 2, "--l"),
    ("svag --l 1,nan", 2, "--l"),
    ("svag --paths 1", 2, "--paths"),
    ("svag --window 0", 2, "--window"),
    ("svag --problem {d}/mom_half.toml", 2, "optimizer.momentum"),
    ("svag --problem {d}/reshuffle.toml", 2, "noise.sampling"),
    ("svag --problem {d}/regression.toml", 2, "noise.model"),
    ("svag --problem {d}/unstable.toml --l 1,2", 2, "--l entry 1"),
    ("svag --paths 100000000 --window 100000000", 2, "--max-hours"),
    ("svag --out /dev/null/s", 4, "/dev/null"),
    ("merge {d}/nosuchdir", 2, "invalid folder = "),
    ("merge {d}/no_points", 2, "/no_points: no point files in their points/ folders"),
    ("merge", 2, "merge"),
    // net: flags
    ("net width --epochs inf", 2, "--epochs"),
    ("net schedules --seeds 1", 2, "--seeds"),
    ("net nudged --gammas 0.1,0", 2, "--gammas"),
    ("net critical-batch --batches 4,8", 2, "--batches"),
    ("net critical-batch --batches 4,8,4000", 2, "invalid --batches = 4000"),
    // a batch size above N is refused before anything is trained (only that check words it so)
    ("net ou-law --batches 16,1000", 2, "invalid --batches = 1000: valid range is 1 <= S <= N (--n) = 60"),
    ("net sharpest --batches 16,1000", 2, "invalid --batches = 1000"),
    ("net invariance --batch0 16 --factor 8", 2, "invalid --batch0 x --factor = 128"),
    ("net interpolation --pairs 0.1:16:0.1:1000", 2, "invalid --pairs = 1000"),
    ("net noise-scale --batch 1000", 2, "invalid --batch = 1000"),
    ("net nudged --batch 1000", 2, "invalid --batch = 1000"),
    ("net svag --batch 1000", 2, "invalid --batch = 1000"),
    ("net gaussian-vs-sgd --batch 1000", 2, "invalid --batch = 1000"),
    ("net schedules --batch 16 --factor 5", 2, "invalid --batch x --factor = 80"),
    ("net critical-batch --target 0", 2, "--target"),
    ("net critical-batch --n 100 --test-n 50 --layers 784,4,10 --batches 5,10,20 --etas 0.01 --target 0.01 --max-epochs 0.2 --seeds 1 --probe-n 20 --k 2", 2, "--max-epochs"),
    ("net nudged --refresh inf", 2, "--refresh"),
    ("net nudged --k 30 --lanczos-steps 20", 2, "--k = 30"),
    ("net schedules --factor 0", 2, "--factor"),
    ("net schedules --factor 1", 2, "'1' for '--factor <FACTOR>': valid range is >= 2"),
    ("net schedules --batch 4 --milestones 5 --epochs 4", 2, "invalid --milestones = 5: valid range is 0 < --milestones < --epochs = 4"),
    ("net schedules --batch 4 --milestones 1 --epochs 3 --half-period 3", 2, "invalid --half-period = 3: valid range is 0 < --half-period < --epochs = 3"),
    ("net schedules --milestones 5,-1", 2, "--milestones"),
    ("net schedules --half-period nan", 2, "--half-period"),
    ("net schedules --n 100 --test-n 50 --batch 50 --factor 3", 2, "--batch x --factor"),
    ("net width --epochs 0", 2, "--epochs"),
    ("net width --layers 784,0,10 --batches 16", 2, "layers"),
    ("net width --layers 784 --batches 16", 2, "layers"),
    ("net width --layers 10,10 --batches 16", 2, "layers[0]"),
    ("net width --etas 0.1,nan", 2, "--etas"),
    ("net width --batches 0", 2, "--batches"),
    ("net width --n 0", 2, "--n"),
    ("net width --n 100 --test-n 0", 2, "--test-n"),
    ("net width --n 100 --batches 16,1000", 2, "invalid --batches = 1000"),
    ("net bench --n 100 --batch 128", 2, "N (--n) = 100"),
    ("net width --dataset cifar", 2, "--dataset"),
    ("net width --dataset mnist --data {d}/nodata", 2, "--data"),
    ("net width --device tpu", 2, "--device"),
    ("net invariance --factor 0", 2, "--factor"),
    ("net invariance --factor 1", 2, "'1' for '--factor <FACTOR>': valid range is >= 2"),
    ("net invariance --epochs 1e12 --batch0 8", 2, "--max-hours"),
    ("net gaussian-vs-sgd --seeds 0", 2, "--seeds"),
    ("net svag --seeds 1", 2, "--seeds"),
    ("net sharpest --k 0", 2, "--k"),
    ("net sharpest --k 30 --lanczos-steps 20 --batches 16", 2, "--k"),
    ("net sharpest --probe-n 0", 2, "--probe-n"),
    ("net noise-scale --k 0", 2, "--k"),
    ("net interpolation --pairs 0.01:16:0.1", 2, "--pairs"),
    ("net interpolation --pairs 0.01:0:0.1:16", 2, "--pairs"),
    ("net interpolation --points 2", 2, "--points"),
    ("paper --only nope --out /tmp/sgd-sde-bad-paper", 2, "--only"),
    ("paper --scale huge", 2, "--scale"),
    ("paper --claims /nonexistent/claims.toml", 2, "--claims"),
    ("net noise-scale --eta=-1", 2, "--eta"),
    ("net svag --l 1", 2, "--l"),
    ("net svag --l 2,nan", 2, "--l"),
    ("net svag --eta 0", 2, "--eta"),
    ("net gaussian-vs-sgd --eta=-0.1", 2, "--eta"),
    ("net ou-law --l2=-1", 2, "--l2"),
    // one probe or one seed leaves an estimate without its standard error (printed as "± NaN")
    ("net ou-law --probes 1", 2, "'--probes <PROBES>': valid range is >= 2 (a standard error over probes"),
    ("net width --probes 1", 2, "'--probes <PROBES>': valid range is >= 2 (a standard error over probes"),
    ("net gaussian-vs-sgd --seeds 1", 2, "'--seeds <SEEDS>': valid range is >= 2 (a standard error over paths"),
    ("net batch-size --seeds 1", 2, "'--seeds <SEEDS>': valid range is >= 2 (a standard error over paths"),
    // runs too short for the excess loss's 10 batch means (at S = 16, N = 100: a quarter epoch is
    // 2 steps, 6 epochs are 38 steps, 20 of them from step 19, so 10 loss records)
    ("net ou-law --n 100 --batches 16 --epochs 1", 2, "invalid --epochs = 1: valid range is >= 6 at S = 16, N = 100"),
    ("net ou-law --probes 0", 2, "--probes"),
    ("net batch-size --momenta 1.5", 2, "--momenta"),
    ("net batch-size --ns 5000", 2, "--ns = 5000"),
    ("net breakdown --betas 1,-2", 2, "--betas"),
    ("net breakdown --betas 1", 2, "betas containing 1 and another beta"),
    ("net breakdown --betas 2,4", 2, "betas containing 1 and another beta"),
    ("net evidence --lambdas 0", 2, "--lambdas"),
    ("net bench --batch 0", 2, "--batch"),
    // epochs that round to no step: the initial θ would be reported as trained
    ("net bench --epochs 1e-9 --batch 8", 2, "--epochs = 0.000000001: valid range is >= "),
    ("net gaussian-vs-sgd --epochs 1e-9", 2, "--epochs = 0.000000001: valid range is >= "),
    ("net nudged --epochs 1e-9", 2, "--epochs = 0.000000001: valid range is >= "),
    (
        "net bench --out /dev/null/x --n 60 --test-n 30 --batch 8 --epochs 0.01 --hvp-n 10 --probes 1 --layers 784,8,10",
        4,
        "/dev/null",
    ),
];

/// A grid experiment keeps its finished runs when one diverges: the diverged run (eta = 1e30
/// overflows f32 within a few steps) is listed with why, the others are reported and fitted, and
/// the command exits 0. When every run diverges it exits 3, naming the first.
#[test]
fn a_diverged_grid_run_is_recorded_and_the_finished_runs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let small = "--n 100 --test-n 50 --layers 784,8,10 --batches 16";
    for (cmd, file, key, extra) in [
        ("width", "width.json", "points", "--epochs 1 --probes 2 --probe-n 20"),
        (
            "sharpest",
            "sharpest.json",
            "runs",
            "--epochs 1 --k 2 --lanczos-steps 4 --probes-per-epoch 1 --probe-n 20",
        ),
        ("ou-law", "ou_law.json", "points", "--epochs 6 --probes 2 --polish-steps 20"),
    ] {
        let out = dir.path().join(cmd);
        let line =
            format!("net {cmd} {small} {extra} --etas 0.01,1e30,0.02 --out {}", out.display());
        let (code, stdout, err) = run(&line.split_whitespace().collect::<Vec<_>>());
        assert_eq!(code, 0, "{cmd}: {err}");
        assert!(stdout.contains("S = 16: diverged (diverged at step"), "{cmd}: {stdout}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(file)).unwrap()).unwrap();
        let etas: Vec<f64> =
            r[key].as_array().unwrap().iter().map(|p| p["eta"].as_f64().unwrap()).collect();
        assert_eq!(etas, [0.01, 0.02], "{cmd}");
        let diverged = r["diverged"].as_array().unwrap();
        assert_eq!(diverged.len(), 1, "{cmd}");
        assert_eq!(diverged[0]["eta"].as_f64(), Some(1e30), "{cmd}");
        assert_eq!(diverged[0]["batch"].as_u64(), Some(16), "{cmd}");

        let line = format!("net {cmd} {small} {extra} --etas 1e30 --out {}", out.display());
        let (code, _, err) = run(&line.split_whitespace().collect::<Vec<_>>());
        assert_eq!(code, 3, "{cmd}: {err}");
        assert!(err.contains("every run diverged, the first at eta = "), "{cmd}: {err}");
    }
}

/// With few examples the curvature grows while θ* is polished (the L2 pull un-saturates the
/// softmax): at N = 10, heavy-ball GD at 1/lambda_max of the warm-up's end diverges (this run
/// exited 3 before the polish learnt to restart at half the step). Now it finishes, and the step
/// that converged is inside heavy-ball's stability limit eta lambda_max < 2 (1 + m) at θ*.
#[test]
fn ou_law_polish_restarts_after_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ou");
    let (code, _, err) = run(&[
        "net",
        "ou-law",
        "--n",
        "10",
        "--batches",
        "2",
        "--etas",
        "0.01",
        "--epochs",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ou_law.json")).unwrap()).unwrap();
    let (eta, lmax) = (r["polish_eta"].as_f64().unwrap(), r["lambda_max"].as_f64().unwrap());
    assert_eq!(r["n"].as_u64(), Some(10));
    assert!(eta > 0.0 && eta * lmax < 2.0 * (1.0 + 0.97), "eta {eta}, lambda_max {lmax}");
}

#[test]
fn bad_input_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = "[optimizer]\neta = 0.1\nbatch = 2\n";
    let h = "[hessian]\neigenvalues = [1.0, 2.0]\n";
    // A valid suite file with one field changed.
    let suite = |from: &str, to: &str| format!("description = \"d\"\n{}", SUITE.replace(from, to));
    // a suite of one weak-order check, with `from` replaced by `to`
    let weak = |from: &str, to: &str| {
        "name = \"z\"\ndescription = \"d\"\n[[check]]\nid = \"w\"\nclaim = \"c\"\nkind = \"weak_order\"\nintegrator = \"sgd\"\npaths = 100\nh0 = 0.1\ntolerance = 0.2\nlevels = 4\n[check.problem]\nhessian = { eigenvalues = [1.0] }\noptimizer = { eta = 0.1 }\n".replace(from, to)
    };
    let files: &[(&str, String)] = &[
        ("good.toml", GOOD.into()),
        ("garbage.toml", "\u{1}\u{2}[[[ = = ]".into()),
        ("empty.toml", String::new()),
        ("unknown.toml", format!("{h}{p}colour = 1\n")),
        ("eta0.toml", format!("{h}[optimizer]\neta = 0.0\n")),
        ("eta_neg.toml", format!("{h}[optimizer]\neta = -0.1\n")),
        ("batch0.toml", format!("{h}[optimizer]\neta = 0.1\nbatch = 0\n")),
        ("mom1.toml", format!("{h}[optimizer]\neta = 0.1\nmomentum = 1.0\n")),
        ("mom_neg.toml", format!("{h}[optimizer]\neta = 0.1\nmomentum = -0.5\n")),
        ("eig_nan.toml", format!("[hessian]\neigenvalues = [1.0, nan]\n{p}")),
        ("eig_zero.toml", format!("[hessian]\neigenvalues = [1.0, 0.0]\n{p}")),
        ("eig_empty.toml", format!("[hessian]\neigenvalues = []\n{p}")),
        ("nonsym.toml", format!("[hessian]\nmatrix = [[1.0, 0.5], [0.0, 1.0]]\n{p}")),
        ("ragged.toml", format!("[hessian]\nmatrix = [[1.0, 0.0], [0.0]]\n{p}")),
        ("logsp_min.toml", format!("[hessian]\nlog_spaced = {{ d = 3, min = 0.0, max = 1.0 }}\n{p}")),
        ("logsp_d0.toml", format!("[hessian]\nlog_spaced = {{ d = 0, min = 0.1, max = 1.0 }}\n{p}")),
        ("x0_len.toml", format!("x0 = [1.0]\n{h}{p}")),
        ("x0_nan.toml", format!("x0 = [1.0, nan]\n{h}{p}")),
        ("c_dim.toml", format!("{h}[noise]\nmodel = \"gaussian\"\ncovariance = {{ eigenvalues = [1.0] }}\n{p}")),
        ("s_gt_n.toml", format!("{h}[noise]\nmodel = \"dataset\"\ngenerate = {{ n = 4 }}\n[optimizer]\neta = 0.1\nbatch = 8\n")),
        ("gen_n0.toml", format!("{h}[noise]\nmodel = \"dataset\"\ngenerate = {{ n = 0 }}\n{p}")),
        ("csv_missing.toml", format!("{h}[noise]\nmodel = \"dataset\"\nfile = \"nope.csv\"\n{p}")),
        ("nan.csv", "1.0,2.0\nNaN,1.0\n0.5,0.5\n".into()),
        ("csv_nan.toml", format!("{h}[noise]\nmodel = \"dataset\"\nfile = \"nan.csv\"\n{p}")),
        ("bad_model.toml", format!("{h}[noise]\nmodel = \"cauchy\"\n{p}")),
        ("bad_sampling.toml", format!("{h}[noise]\nmodel = \"dataset\"\nsampling = \"sometimes\"\ngenerate = {{ n = 10 }}\n{p}")),
        ("rot_seed.toml", format!("[hessian]\neigenvalues = [1.0, 2.0]\nrotation = {{ seed = -1 }}\n{p}")),
        ("unstable.toml", "[hessian]\neigenvalues = [1.0, 4.0]\n[optimizer]\neta = 0.6\n".into()),
        ("one_path.toml", format!("{GOOD}\n[simulation]\npaths = 1\n")),
        ("burn_past.toml", format!("{GOOD}\n[simulation]\nsteps = 40\nburn_in = 50\n")),
        ("steps0.toml", format!("{GOOD}\n[simulation]\nsteps = 0\n")),
        ("suite_threshold.toml", suite("threshold = 5.0", "threshold = -1.0")),
        ("suite_paths.toml", suite("paths = 8", "paths = 1")),
        ("suite_window.toml", suite("window = 200", "window = 0")),
        ("suite_empty.toml", "name = \"e\"\ndescription = \"d\"\nthreshold = 5.0\n".into()),
        ("suite_dup_id.toml", format!("{}{}", suite("", ""), &SUITE[SUITE.find("[[check]]").unwrap()..])),
        ("suite_no_steps.toml", suite("kind = \"stationary\"", "kind = \"transient\"\nsteps = []")),
        ("suite_step0.toml", suite("kind = \"stationary\"", "kind = \"transient\"\nsteps = [10, 0]")),
        ("suite_no_betas.toml", suite("kind = \"stationary\"", "kind = \"breakdown\"\nbetas = []")),
        ("suite_beta_nan.toml", suite("kind = \"stationary\"", "kind = \"breakdown\"\nbetas = [1.0, nan]")),
        ("net_eta.toml", NET_SUITE.replace("eta = 0.1", "eta = -0.1")),
        ("net_warm.toml", format!("{NET_SUITE}warmup_epochs = 1e-9\n")),
        ("net_warm_neg.toml", format!("{NET_SUITE}warmup_epochs = -1.0\n")),
        ("net_every.toml", NET_SUITE.replace("window = 100", "window = 100\nevery = 60")),
        ("net_window.toml", NET_SUITE.replace("window = 100", "window = 10")),
        ("net_momentum.toml", NET_SUITE.replace("window = 100", "window = 100\nmomentum = 1.0")),
        ("net_batch_n.toml", NET_SUITE.replace("batch = 10", "batch = 101")),
        ("net_n1.toml", NET_SUITE.replace("n = 100", "n = 1")),
        ("net_l2.toml", NET_SUITE.replace("l2 = 0.01", "l2 = nan")),
        ("data.toml", format!("{h}[noise]\nmodel = \"dataset\"\ngenerate = {{ n = 10 }}\n{p}")),
        ("mom_half.toml", format!("{h}[optimizer]\neta = 0.1\nmomentum = 0.5\n")),
        ("reshuffle.toml", format!("{h}[noise]\nmodel = \"dataset\"\nsampling = \"reshuffle\"\ngenerate = {{ n = 10 }}\n{p}")),
        ("regression.toml", format!("[noise]\nmodel = \"regression\"\ngenerate = {{ n = 20, d = 2, seed = 1 }}\n{p}")),
        ("zero_levels.toml", weak("levels = 4", "levels = 0")),
        ("two_levels.toml", weak("levels = 4", "levels = 2")),
        ("many_levels.toml", weak("levels = 4", "levels = 70")),
        ("neg_h0.toml", weak("h0 = 0.1", "h0 = -0.1")),
        ("neg_t_end.toml", weak("levels = 4", "levels = 4\nt_end = -1.0")),
        ("nan_tolerance.toml", weak("tolerance = 0.2", "tolerance = nan")),
        ("nan_order.toml", weak("levels = 4", "levels = 4\norder = nan")),
        ("grid_ok.toml", "base = \"good.toml\"\n[run]\npaths = 4\nwindow = 100\n".into()),
        ("grid_one_path.toml", "base = \"good.toml\"\n[run]\npaths = 1\n".into()),
        ("grid_window0.toml", "base = \"good.toml\"\n[run]\nwindow = 0\n".into()),
        ("grid_nobase.toml", "base = \"nope.toml\"\n".into()),
        ("grid_batch0.toml", "base = \"good.toml\"\n[axes]\nbatch = [4, 0]\n[run]\npaths = 4\n".into()),
        ("grid_twice.toml", "base = \"good.toml\"\n[axes]\nseed = [1, 2, 1]\n[run]\npaths = 4\n".into()),
        ("grid_n_fixed.toml", "base = \"good.toml\"\n[axes]\nn = [10, 20]\n[run]\npaths = 4\n".into()),
        ("huge_d.toml", format!("[hessian]\nlog_spaced = {{ d = 100000000000, min = 0.1, max = 1.0 }}\n{p}")),
        ("huge_rot.toml", format!("[hessian]\nlog_spaced = {{ d = 100000, min = 0.1, max = 1.0 }}\nrotation = {{ seed = 1 }}\n{p}")),
        ("huge_n.toml", format!("{h}[noise]\nmodel = \"dataset\"\ngenerate = {{ n = 100000000000 }}\n{p}")),
        ("huge_reg_d.toml", format!("[noise]\nmodel = \"regression\"\ngenerate = {{ n = 10, d = 1000000 }}\n{p}")),
        ("householder.toml", format!("[hessian]\neigenvalues = [1.0, 2.0]\nrotation = {{ householder = [1.0] }}\n{p}")),
    ];
    for (name, text) in files {
        write(d, name, text);
    }
    std::fs::write(d.join("binary.toml"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    std::fs::create_dir_all(d.join("no_points/points")).unwrap();
    let small = ["--n", "60", "--test-n", "30"];
    let mut failures = Vec::new();
    for (line, want, fragment) in BAD_INPUTS {
        let line = line.replace("{d}", d.to_str().unwrap());
        let mut args: Vec<&str> = line.split_whitespace().collect();
        if args[0] == "net" && !line.contains("--n ") {
            args.extend(small);
        }
        let (code, _, err) = run(&args);
        let one_line = err.trim().lines().count() == 1;
        if code != *want || !one_line || !err.contains(fragment) || err.contains("panicked") {
            failures.push(format!("{line}: exit {code} (want {want}), stderr: {}", err.trim()));
        }
    }
    assert!(BAD_INPUTS.len() >= 80, "{} rows", BAD_INPUTS.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        BAD_INPUTS.len(),
        failures.join("\n")
    );
}

/// A valid file's text with random damage: spans deleted, hostile tokens inserted, bytes replaced.
fn mutated(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(&b"-1"[..]),
        Just(&b"0"[..]),
        Just(&b"nan"[..]),
        Just(&b"1e308"[..]),
        Just(&b"18446744073709551615"[..]),
        Just(&b"\""[..]),
        Just(&b"["[..]),
        Just(&b"\n"[..]),
        Just(&b"\xff\xfe"[..]),
        Just(&b","[..]),
    ];
    let edit = (0..valid.len().max(1), 0..3usize, token, any::<u8>());
    prop::collection::vec(edit, 1..6).prop_map(move |edits| {
        let mut b = valid.as_bytes().to_vec();
        for (at, kind, token, byte) in edits {
            let at = at.min(b.len());
            match kind {
                0 => {
                    let end = (at + 1 + byte as usize % 8).min(b.len());
                    b.drain(at..end);
                }
                1 => {
                    b.splice(at..at, token.iter().copied());
                }
                _ if at < b.len() => b[at] = byte,
                _ => b.push(byte),
            }
        }
        b
    })
}

/// Every file the tool reads, damaged: exit 0, 1, 2, 3 or 4 with one line on stderr, never a
/// panic or a hang.
fn assert_handled(args: &[&str], what: &[u8]) -> Result<(), TestCaseError> {
    let (code, _, err) = run(args);
    prop_assert!(
        [0, 1, 2, 3, 4].contains(&code),
        "exit {code} for {:?}: {err}",
        String::from_utf8_lossy(what)
    );
    prop_assert!(!err.contains("panicked"), "panic for {:?}: {err}", String::from_utf8_lossy(what));
    if code >= 2 {
        prop_assert_eq!(err.trim().lines().count(), 1, "{}", err);
    }
    Ok(())
}

const GRID: &str = "base = \"base.toml\"\n[axes]\neta = [0.1, 0.2]\nbatch = [1, 4]\nseed = [1]\n[run]\npaths = 4\nwindow = 100\nintegrator = \"sgd\"\n";
const SUITE: &str = "name = \"s\"\nthreshold = 5.0\n[[check]]\nid = \"a\"\nclaim = \"c\"\nkind = \"stationary\"\nintegrator = \"sgd\"\npaths = 8\nwindow = 200\n[check.problem]\nhessian = { eigenvalues = [1.0, 2.0] }\noptimizer = { eta = 0.1, batch = 2 }\n";
/// A suite of one small network check, its model table last (so fields can be appended to it).
const NET_SUITE: &str = "name = \"n\"\ndescription = \"d\"\nthreshold = 5.0\n[[net_check]]\nid = \"w\"\nclaim = \"c\"\neta = 0.1\nbatch = 10\nwindow = 100\n[net_check.model]\nl2 = 0.01\npool = 4\nclasses = [0, 1]\nn = 100\n";
const CSV: &str = "# c1, c2\n1.0, 2.0\n-0.5, 0.25\n0.0 1.5\n2.0,-1.0\n";

proptest! {
    #![proptest_config(config(24))]
    #[test]
    fn garbage_grid_files_never_panic(text in mutated(GRID)) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "base.toml", GOOD);
        let g = dir.path().join("g.toml");
        std::fs::write(&g, &text).unwrap();
        let out = dir.path().join("o");
        assert_handled(&["sweep", "--grid", g.to_str().unwrap(), "--out", out.to_str().unwrap()], &text)?;
    }

    #[test]
    fn garbage_suite_files_never_panic(text in mutated(SUITE)) {
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("s.toml");
        std::fs::write(&s, &text).unwrap();
        assert_handled(&["validate", "--suite", s.to_str().unwrap()], &text)?;
    }

    #[test]
    fn garbage_csv_data_never_panics(text in mutated(CSV)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.csv"), &text).unwrap();
        let p = write(dir.path(), "p.toml", "[hessian]\neigenvalues = [1.0, 2.0]\n[noise]\nmodel = \"dataset\"\nfile = \"d.csv\"\n[optimizer]\neta = 0.1\nbatch = 2\n");
        assert_handled(&["theory", "--problem", p.to_str().unwrap()], &text)?;
    }
}

/// Damaged sweep point files: merge refuses them with one line, never panics.
#[test]
fn garbage_point_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.toml", GOOD);
    let g = write(d, "g.toml", GRID);
    let out = d.join("o");
    assert_eq!(run(&["sweep", "--grid", g.to_str().unwrap(), "--out", out.to_str().unwrap()]).0, 0);
    let point = out.join("points/p000001.json");
    let valid: &'static str = Box::leak(std::fs::read_to_string(&point).unwrap().into_boxed_str());
    let mut runner = proptest::test_runner::TestRunner::new(config(24));
    runner
        .run(&mutated(valid), |text| {
            std::fs::write(&point, &text).unwrap();
            assert_handled(&["merge", out.to_str().unwrap()], &text)
        })
        .unwrap();
}

/// Linear regression with per-epoch reshuffling has no exact moment recursion: `theory` says so
/// (no discrete value, the mean's stability limit) and `sim` runs it as simulation only.
#[test]
fn regression_with_reshuffling_runs_as_simulation_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "rr.toml",
        "[noise]\nmodel = \"regression\"\nsampling = \"reshuffle\"\ngenerate = { n = 20, d = 2, seed = 1 }\n[optimizer]\neta = 0.05\nbatch = 5\n",
    );
    let p = p.to_str().unwrap();
    let (code, out, err) = run(&["theory", "--problem", p, "--transient", "10"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["discrete_loss"].is_null(), "{out}");
    assert_eq!(v["stability_rule"], "eta*lambda_max < 2");
    assert!(v["note"].as_str().unwrap().contains("simulation only"), "{out}");
    assert!(v["transient"].as_array().unwrap().is_empty(), "{out}");
    let json = dir.path().join("r.json");
    let (code, _, err) = run(&[
        "sim",
        "--problem",
        p,
        "--paths",
        "8",
        "--steps",
        "2000",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let measured = r["stationary"]["measured"].as_f64().or(r["measured"].as_f64());
    assert!(measured.is_some_and(|m| m.is_finite() && m > 0.0), "{r}");
}

/// `svag` on its embedded problem: every l agrees with SVAG's exact value, the order check
/// passes, and its negative controls are rejected (exit 0); the report and figure are written.
#[test]
fn svag_passes_its_checks_and_rejects_its_controls() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("svag");
    let (code, stdout, err) = run(&[
        "svag",
        "--l",
        "1,4,16",
        "--paths",
        "64",
        "--window",
        "2000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("svag.json")).unwrap()).unwrap();
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3 + 2 + 2, "{v}");
    assert!(checks.iter().all(|c| c["pass"] == true), "{v}");
    let controls: Vec<_> =
        checks.iter().filter(|c| c["id"].as_str().unwrap().starts_with("control")).collect();
    assert_eq!(controls.len(), 3);
    assert!(controls.iter().all(|c| c["z"].as_f64().unwrap().abs() >= 5.0));
    for f in ["svag.csv", "svag.png", "svag.svg", "manifest.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
}

/// The diagonal problems' kernels (Euler-Maruyama's fused step, alone and summing the loss, the
/// exact OU transition, the loss) and the generator give the same bits on every vector width:
/// `SGD_SDE_ISA` narrows the width the binary picks.
#[test]
fn sim_output_does_not_depend_on_the_vector_width() {
    let dir = tempfile::tempdir().unwrap();
    let problem = write(
        dir.path(),
        "diag.toml",
        "[hessian]\nlog_spaced = { d = 37, min = 0.1, max = 10.0 }\n[optimizer]\neta = 0.05\nbatch = 3\n[simulation]\npaths = 8\nsteps = 3000\nburn_in = 1000\nseed = 4\n",
    );
    let json_for = |isa: &str, integrator: &str| {
        let json = dir.path().join(format!("{isa}_{integrator}.json"));
        let out = bin()
            .env("SGD_SDE_ISA", isa)
            .args(["sim", "--problem", problem.to_str().unwrap(), "--integrator", integrator])
            .args(["--json", json.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{isa}: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(json).unwrap()
    };
    for integrator in ["euler_maruyama", "exact_ou"] {
        let portable = json_for("portable", integrator);
        assert!(portable.contains("\"measured\""), "{portable}");
        for isa in ["avx2", "avx512"] {
            assert_eq!(json_for(isa, integrator), portable, "{isa}, {integrator}");
        }
    }
}
