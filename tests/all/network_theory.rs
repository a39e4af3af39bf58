//! Networks checked against the quadratic model at their minimum (`net::local_quadratic`,
//! `net::excess_loss`): the model's inputs against independent computations, and SGD on real
//! images against its predictions, |z| < 5 with fixed seeds, with negative controls.
//!
//! The heavier network suite runs with `cargo run --release -- validate --suite net` (and
//! `--suite net-full`); `cargo test --release -- --ignored net_suite` runs the quick one here.

use super::common::{config, Z_MAX};
use super::network::dense_fd_hessian;
use nalgebra::DMatrix;
use proptest::prelude::*;
use sgd_sde::net::data::embedded_fashion_mnist;
use sgd_sde::net::excess_loss::{measure, RunLength};
use sgd_sde::net::local_quadratic::{
    dense_hessian, Formula, HessianSource, LocalQuadratic, Regime,
};
use sgd_sde::net::probes::{per_example_gradients, per_example_gradients_loop};
use sgd_sde::net::{Activation, Architecture, CpuF64, Model, NetworkProblem, NoiseMode};
use sgd_sde::problems::Sampling;
use sgd_sde::suite::net::{build, weighted_line, NetModelSpec};

type B = CpuF64;

/// Real images (the embedded Fashion-MNIST subset), pooled to `pool x pool` blocks.
fn images(classes: &[u8], pool: usize, n: usize) -> sgd_sde::net::data::Dataset {
    let (train, _) = embedded_fashion_mnist();
    train.with_classes(classes).unwrap().pooled(pool).unwrap().stratified_subset(n, 1).unwrap()
}

fn full_batch(model: Model, data: &sgd_sde::net::data::Dataset, l2: f64) -> NetworkProblem<B> {
    NetworkProblem::new(model, data, data.len(), NoiseMode::FullBatch, l2, &Default::default())
        .unwrap()
}

#[test]
fn logistic_hessian_in_closed_form_matches_second_differences_of_the_loss() {
    for classes in [&[0u8, 6][..], &[0, 3, 6]] {
        let data = images(classes, 7, 60);
        let k = if classes.len() == 2 { 1 } else { classes.len() };
        let p = full_batch(Model::new(Architecture::new(vec![16, k]).unwrap()), &data, 0.03);
        let theta = p.model.init::<B>(3, &Default::default()).to_vec();
        let (h, source) = dense_hessian(&p, &theta, &Default::default());
        assert_eq!(source, HessianSource::Analytic);
        let fd = dense_fd_hessian(&p, &theta, 1e-4);
        let err = (&h - &fd).norm() / fd.norm();
        assert!(err < 1e-5, "{} classes: relative error {err:.2e}", classes.len());
    }
}

#[test]
fn per_example_gradients_match_one_backward_pass_per_example() {
    let data = images(&[0, 3, 6], 7, 30);
    let model =
        Model::new(Architecture::new(vec![16, 5, 3]).unwrap().with_activation(Activation::Tanh));
    let p = full_batch(model, &data, 0.0);
    let theta = p.model.init::<B>(4, &Default::default());
    let fast = per_example_gradients(&p, &theta, 1 << 30).unwrap();
    let slow = per_example_gradients_loop(&p, &theta);
    let slow = DMatrix::from_fn(slow.len(), slow[0].len(), |r, c| slow[r][c]);
    assert!((&fast - &slow).norm() < 1e-10 * slow.norm(), "{:.2e}", (&fast - &slow).norm());
    // And the size guard refuses instead of allocating.
    assert!(per_example_gradients(&p, &theta, 100).unwrap_err().contains("GB"));
}

/// McCandlish's noise scales against dense linear algebra: with k = N examples the Tr(HC)
/// estimate is the exact mean, so B_simple = Tr(C)/|G|^2 and B_noise = Tr(HC)/(G^T H G) must match
/// the dense H (second differences) and C (per-example gradients) to the HVP's accuracy; with
/// k < N the estimate must cover the exact value (|z| < 5), and a wrong formula must not.
#[test]
fn noise_scales_match_dense_h_and_c() {
    use sgd_sde::net::probes::noise_scales;
    let data = images(&[0, 3, 6], 7, 40);
    let model =
        Model::new(Architecture::new(vec![16, 4, 3]).unwrap().with_activation(Activation::Tanh));
    let p = full_batch(model, &data, 0.02);
    let theta = p.model.init::<B>(5, &Default::default());
    let t = theta.to_vec();
    let h = dense_fd_hessian(&p, &t, 1e-4);
    let rows = per_example_gradients(&p, &theta, 1 << 30).unwrap();
    let n = rows.nrows() as f64;
    let mean = rows.row_mean();
    let centred = DMatrix::from_fn(rows.nrows(), rows.ncols(), |r, c| rows[(r, c)] - mean[c]);
    let c = centred.transpose() * &centred / n;
    let g =
        nalgebra::DVector::from_iterator(t.len(), mean.iter().zip(&t).map(|(m, th)| m + 0.02 * th));
    let (trace_c, trace_hc) = (c.trace(), (&h * &c).trace());
    let (b_simple, b_noise) = (trace_c / g.norm_squared(), trace_hc / (g.transpose() * &h * &g)[0]);
    let all = noise_scales(&p, &data, &theta, data.len(), 0).unwrap();
    assert_eq!(all.k, data.len());
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    assert!(rel(all.b_simple, b_simple) < 1e-8, "{} vs {b_simple}", all.b_simple);
    assert!(rel(all.trace_hc, trace_hc) < 1e-4, "{} vs {trace_hc}", all.trace_hc);
    assert!(rel(all.b_noise, b_noise) < 1e-4, "{} vs {b_noise}", all.b_noise);
    assert_eq!(all.trace_hc_se, 0.0, "k = N leaves no sampling error");
    // k < N: a sampled estimate with an honest error bar (false alarm < 1e-6 at |z| < 5).
    let some = noise_scales(&p, &data, &theta, 12, 7).unwrap();
    let z = (some.trace_hc - trace_hc) / some.trace_hc_se;
    assert!(z.abs() < Z_MAX, "z = {z}");
    // Negative control: Tr(H) Tr(C) / d (H and C taken as unrelated) is far outside that bar.
    let wrong = h.trace() * trace_c / t.len() as f64;
    assert!(
        ((some.trace_hc - wrong) / some.trace_hc_se).abs() >= Z_MAX,
        "{wrong} vs {}",
        some.trace_hc
    );
}

#[test]
fn the_quadratic_model_at_a_tanh_minimum_is_a_polished_minimum_with_consistent_traces() {
    let data = images(&[0, 3, 6], 7, 90);
    let model =
        Model::new(Architecture::new(vec![16, 4, 3]).unwrap().with_activation(Activation::Tanh));
    let p = full_batch(model, &data, 0.05);
    let theta = p.model.init::<B>(5, &Default::default());
    let q = LocalQuadratic::at_minimum(&p, &theta).unwrap();
    assert!(matches!(q.hessian, HessianSource::FiniteDifference { relu_flips: 0, .. }));
    assert!(q.minimum.gradient_norm < 1e-9, "|g| = {:.2e}", q.minimum.gradient_norm);
    assert!(q.lambda_min > 0.0);
    // Tr(C) from the per-mode diagonal equals the direct trace; Tr(H) equals the FD Hessian's.
    assert!((q.modes.c.sum() - q.trace_c).abs() < 1e-10 * q.trace_c);
    let fd = dense_fd_hessian(&p, &q.theta_star, 1e-4);
    assert!((fd.trace() - q.trace_h).abs() < 1e-4 * q.trace_h, "{} vs {}", fd.trace(), q.trace_h);
    // A start that is not a minimum, or a saddle, is refused.
    let r = Regime { eta: 0.05, batch: 10, sampling: Sampling::WithReplacement, momentum: 0.0 };
    let mut off = q.clone();
    off.minimum.newton_decrement = 1.0;
    assert!(off.predict(Formula::Exact, &r).unwrap_err().contains("not close enough to a minimum"));
    let mut saddle = q.clone();
    saddle.lambda_min = -1e-3;
    assert!(saddle.predict(Formula::Exact, &r).unwrap_err().contains("not a minimum"));
}

/// The truncated model (top-k Lanczos modes and a bounded bulk) against the dense model of the
/// same small softmax regression: the resolved modes are the dense top k, the bulk carries the
/// rest of Tr(C) with eigenvalues inside its bounds, and every prediction's interval contains the
/// dense exact value; an interval that ignores the bulk's spread (all of it at λ = L2) excludes
/// it at eta λ_max = 1.5, so the bound is what makes the check hold.
#[test]
fn the_truncated_quadratic_model_brackets_the_dense_one() {
    let data = images(&[0, 3, 6], 4, 120);
    let p = full_batch(Model::new(Architecture::new(vec![49, 3]).unwrap()), &data, 0.03);
    let theta = p.model.init::<B>(2, &Default::default());
    let dense = LocalQuadratic::at_minimum(&p, &theta).unwrap();
    let trunc = LocalQuadratic::truncated(&p, &theta).unwrap();
    let (d, k) = (dense.params, trunc.modes.lambda.len());
    assert_eq!((d, k), (150, 20));
    assert!(trunc.minimum.gradient_norm < 1e-9, "|g| = {:.2e}", trunc.minimum.gradient_norm);
    for i in 0..k {
        let (t, e) = (trunc.modes.lambda[i], dense.modes.lambda[d - k + i]);
        assert!((t - e).abs() < 1e-6 * e, "mode {i}: λ {t} vs dense {e}");
        let (t, e) = (trunc.modes.c[i], dense.modes.c[d - k + i]);
        assert!((t - e).abs() < 1e-5 * dense.trace_c, "mode {i}: C' {t} vs dense {e}");
    }
    let bulk = trunc.bulk.unwrap();
    let rest: f64 = dense.modes.c.rows(0, d - k).sum();
    assert!((bulk.trace_c - rest).abs() < 1e-6 * dense.trace_c, "{} vs {rest}", bulk.trace_c);
    // (Softmax has flat data directions, so λ_min is L2 itself, up to rounding.)
    assert!(bulk.lambda_lower <= dense.modes.lambda[0] * (1.0 + 1e-9));
    assert!(dense.modes.lambda[d - k - 1] <= bulk.lambda_upper);
    assert!(((trunc.trace_h - dense.trace_h) / trunc.trace_h_se).abs() < Z_MAX);
    let at = |eta_lambda: f64, batch, sampling, momentum| Regime {
        eta: eta_lambda / dense.lambda_max,
        batch,
        sampling,
        momentum,
    };
    let regimes = [
        at(0.1, 10, Sampling::WithReplacement, 0.0),
        at(1.5, 10, Sampling::WithReplacement, 0.0),
        at(1.0, 20, Sampling::WithoutReplacement, 0.0),
        at(1.0, 10, Sampling::Reshuffle, 0.0),
        at(2.0, 10, Sampling::WithReplacement, 0.5),
    ];
    for r in &regimes {
        for formula in [Formula::Exact, Formula::FFormula, Formula::Continuous] {
            let exact = dense.predict(formula, r).unwrap().point().unwrap();
            let t = trunc.predict(formula, r).unwrap();
            let slack = 1e-9 * exact;
            assert!(
                t.lower - slack <= exact && exact <= t.upper + slack,
                "{formula:?} {r:?}: dense {exact} outside [{}, {}]",
                t.lower,
                t.upper
            );
        }
    }
    let mut no_spread = trunc.clone();
    no_spread.bulk =
        Some(sgd_sde::net::local_quadratic::Bulk { lambda_upper: bulk.lambda_lower, ..bulk });
    let r = &regimes[1];
    let exact = dense.predict(Formula::Exact, r).unwrap().point().unwrap();
    let t = no_spread.predict(Formula::Exact, r).unwrap();
    assert!(exact > t.upper * (1.0 + 1e-6), "{exact} inside [{}, {}]", t.lower, t.upper);
}

#[test]
fn a_straight_line_fit_recovers_its_intercept_and_slope() {
    let pts: Vec<(f64, f64, f64)> =
        [0.5, 1.0, 2.0, 4.0].iter().map(|&x| (x, 0.3 - 0.2 * x, 0.1)).collect();
    let fit = weighted_line(&pts);
    assert!(
        (fit.intercept - 0.3).abs() < 1e-12 && (fit.slope + 0.2).abs() < 1e-12 && fit.chi2 < 1e-20
    );
    // The intercept's error from the weights: Var(a) = Σw x² / det.
    let (s, sx, sxx): (f64, f64, f64) = (400.0, 750.0, 2125.0);
    assert!((fit.intercept_se - (sxx / (s * sxx - sx * sx)).sqrt()).abs() < 1e-12);
}

/// Binary logistic regression with L2 on 200 real images (T-shirt vs shirt, 7 x 7 pooled): the
/// quadratic model is fitted once, then SGD runs from θ* in each proptest case.
fn binary_lr() -> &'static (sgd_sde::net::data::Dataset, Model, LocalQuadratic) {
    static FITTED: std::sync::OnceLock<(sgd_sde::net::data::Dataset, Model, LocalQuadratic)> =
        std::sync::OnceLock::new();
    FITTED.get_or_init(|| {
        let spec = NetModelSpec {
            dataset: "embedded".into(),
            classes: vec![0, 6],
            n: Some(200),
            pool: 4,
            hidden: vec![],
            activation: Activation::Relu,
            l2: 1e-2,
            seed: 0,
            warmup_epochs: 0.0,
            at_saddle: false,
        };
        let (data, model) = build(&spec).unwrap();
        let p = full_batch(model.clone(), &data, spec.l2);
        let q = LocalQuadratic::at_minimum(&p, &model.init::<B>(0, &Default::default())).unwrap();
        (data, model, q)
    })
}

fn measured(regime: &Regime, seed: u64) -> sgd_sde::net::excess_loss::ExcessLoss {
    let (data, model, q) = binary_lr();
    let p = NetworkProblem::<B>::new(
        model.clone(),
        data,
        regime.batch,
        NoiseMode::Minibatch(regime.sampling),
        1e-2,
        &Default::default(),
    )
    .unwrap();
    let length = RunLength { window: 12_000, burn_in: None, every: 4, seed };
    measure(&p, q, regime, &length, &indicatif::ProgressBar::hidden(), String::new()).unwrap()
}

proptest! {
    #![proptest_config(config(6))]
    /// Inside the stable region, at temperatures where the model's neglected terms (O(eta)
    /// relative) sit below the standard error, the exact discrete prediction holds for every
    /// sampling scheme and momentum, and Yaida's FDR holds wherever the noise is fresh.
    #[test]
    fn sgd_on_logistic_regression_matches_the_exact_prediction(
        eta_lambda in 0.05f64..1.2,
        batch in prop::sample::select(vec![10usize, 20, 40]),
        scheme in 0usize..4,
        seed in 0u64..1_000,
    ) {
        let q = &binary_lr().2;
        let (sampling, momentum) = [(Sampling::WithReplacement, 0.0), (Sampling::WithoutReplacement, 0.0), (Sampling::Reshuffle, 0.0), (Sampling::WithReplacement, 0.5)][scheme];
        let regime = Regime { eta: eta_lambda / q.lambda_max, batch, sampling, momentum };
        let r = measured(&regime, seed);
        prop_assert!(r.reliable(), "batch means: tau_int = {}", r.tau_int());
        let exact = q.predict(Formula::Exact, &regime).unwrap().point().unwrap();
        prop_assert!(r.estimate.agrees_with(exact, Z_MAX), "{regime:?}: {} vs exact {exact:.4e} (z = {:.2})", r.estimate, r.estimate.z(exact));
        if sampling != Sampling::Reshuffle {
            prop_assert!(r.fdr.residual.value.abs() < Z_MAX * r.fdr.residual.se, "FDR residual {}", r.fdr.residual);
        }
    }
}

#[test]
fn wrong_formulas_fail_the_same_check_on_the_same_runs() {
    let q = &binary_lr().2;
    // C = H where Tr(C) differs from Tr(H).
    let small = Regime {
        eta: 0.2 / q.lambda_max,
        batch: 10,
        sampling: Sampling::WithReplacement,
        momentum: 0.0,
    };
    let r = measured(&small, 7);
    assert!(r
        .estimate
        .agrees_with(q.predict(Formula::Exact, &small).unwrap().point().unwrap(), Z_MAX));
    let ch = q.predict(Formula::CEqualsH, &small).unwrap().point().unwrap();
    assert!(
        !r.estimate.agrees_with(ch, Z_MAX),
        "C = H not rejected: {} vs {ch:.4e} (Tr C/Tr H = {:.2})",
        r.estimate,
        q.trace_c / q.trace_h
    );
    // The continuous law at eta lambda_max = 1.5 (a large batch keeps the temperature low).
    let large = Regime {
        eta: 1.5 / q.lambda_max,
        batch: 40,
        sampling: Sampling::WithReplacement,
        momentum: 0.0,
    };
    let r = measured(&large, 8);
    assert!(
        r.estimate.agrees_with(q.predict(Formula::Exact, &large).unwrap().point().unwrap(), Z_MAX),
        "{}",
        r.estimate
    );
    assert!(!r
        .estimate
        .agrees_with(q.predict(Formula::Continuous, &large).unwrap().point().unwrap(), Z_MAX));
    // The f-formula on a reshuffled run, and the FDR there.
    let reshuffled =
        Regime { eta: 0.2 / q.lambda_max, batch: 10, sampling: Sampling::Reshuffle, momentum: 0.0 };
    let r = measured(&reshuffled, 9);
    assert!(r
        .estimate
        .agrees_with(q.predict(Formula::Exact, &reshuffled).unwrap().point().unwrap(), Z_MAX));
    assert!(!r
        .estimate
        .agrees_with(q.predict(Formula::FFormula, &reshuffled).unwrap().point().unwrap(), Z_MAX));
    assert!(
        r.fdr.residual.value.abs() >= Z_MAX * r.fdr.residual.se,
        "FDR not rejected under reshuffling: {}",
        r.fdr.residual
    );
}

#[test]
#[ignore = "about 70 s: cargo test --release -- --ignored net_suite"]
fn net_suite_passes_with_its_negative_controls_rejected() {
    let text = passing_suite("net");
    assert!(text.contains("NEGATIVE CONTROL"));
}

/// `sgd-sde --quiet validate --suite suite` (an embedded name or a file).
fn validate(suite: impl AsRef<std::ffi::OsStr>) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("sgd-sde").unwrap();
    c.args(["--quiet", "validate", "--suite"]).arg(suite);
    c
}

/// The table `validate --suite name` prints, after checking that it exited 0.
fn passing_suite(name: &str) -> String {
    let out = validate(name).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
#[ignore = "about 2 minutes, needs MNIST: cargo test --release -- --ignored net_mnist_suite"]
fn net_mnist_suite_passes_with_its_negative_controls_rejected() {
    if let Err(e) = sgd_sde::net::data::find_data_dir("mnist", None) {
        eprintln!("SKIPPED net_mnist_suite_passes_with_its_negative_controls_rejected: {e}");
        return;
    }
    let text = passing_suite("net-mnist");
    assert!(text.contains("6 passed, 0 failed"), "{text}");
}

/// Three checks of a 50-parameter logistic regression sharing one regime, and a tiny tanh MLP
/// (whose θ* the chord-Newton polish finds): five runs in all.
const TINY_NET_SUITE: &str = r#"
name = "tiny"
description = "parallel runs"
threshold = 5.0
[[net_check]]
id = "a"
claim = "stationary"
eta = 0.05
batch = 10
window = 2000
model = { classes = [0, 6], pool = 4, n = 100, l2 = 1e-2 }
[[net_check]]
id = "b"
kind = "ratio"
claim = "ratio, its first regime shared with a"
eta = 0.05
batch = 10
eta2 = 0.2
batch2 = 40
window = 2000
model = { classes = [0, 6], pool = 4, n = 100, l2 = 1e-2 }
[[net_check]]
id = "c"
claim = "momentum"
eta = 0.01
batch = 10
momentum = 0.9
window = 2000
model = { classes = [0, 6], pool = 4, n = 100, l2 = 1e-2 }
[[net_check]]
id = "d"
claim = "tanh"
eta = 0.05
batch = 10
window = 2000
model = { pool = 7, n = 100, l2 = 1e-2, hidden = [3], activation = "tanh", warmup_epochs = 50 }
"#;

/// A suite's runs go in parallel (`NetLab::prepare`) after its fits: every row is the same bits
/// on one thread as on two, and each shared run's FDR row is reported once.
#[test]
fn net_suite_rows_do_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("tiny.toml");
    std::fs::write(&suite, TINY_NET_SUITE).unwrap();
    let rows = |threads: &str| {
        let json = dir.path().join(format!("rows{threads}.json"));
        validate(&suite)
            .env("RAYON_NUM_THREADS", threads)
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["seconds"] = serde_json::Value::Null;
                r
            })
            .collect::<Vec<_>>()
    };
    let one = rows("1");
    let ids: Vec<&str> = one.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "a/fdr", "b", "b[2]/fdr", "c", "c/fdr", "d", "d/fdr"]);
    assert_eq!(one, rows("2"));
}

/// A suite's model with labels the data does not have, or twice the same, is refused with exit 2
/// and one line naming the check, the field and its value, before anything is fitted.
#[test]
fn net_suite_refuses_classes_the_data_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    for (classes, shown) in [("[0, 99]", "classes = [0, 99]"), ("[3, 3]", "classes = [3, 3]")] {
        let suite = dir.path().join("bad.toml");
        let text = TINY_NET_SUITE.replacen("classes = [0, 6]", &format!("classes = {classes}"), 1);
        std::fs::write(&suite, text).unwrap();
        let out = validate(&suite).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("check a") && err.contains(shown) && err.contains("0 to 9"), "{err}");
    }
}
