//! Statistical tests of the vectorised normal generator (`rng::fill_normals`): moments, the
//! Kolmogorov-Smirnov and Anderson-Darling tests against Phi, and the tails, each with a negative
//! control that must fail the same test.
//!
//! False-alarm rates, per check, for a correct generator: moments |z| < 5 (5.7e-7 each, normal
//! approximation); KS sqrt(n) D < 1.95 (alpha = 1e-3, Kolmogorov's limit law); AD A^2 < 6.0
//! (alpha about 1e-3, the fully specified case's asymptotic law); tail counts |z| < 5 under the
//! Poisson approximation. Seeds are fixed, so each check either passes for good or fails for good.

use sgd_sde::rng::ziggurat_tables::R;
use sgd_sde::rng::{fill_normals, stream};
use sgd_sde::stats::normal_cdf;

fn draws(seed: u64, n: usize) -> Vec<f64> {
    let mut z = vec![0.0; n];
    // Several paths, as an ensemble draws them, in chunks of a typical dimension.
    for (p, chunk) in z.chunks_mut(n / 4).enumerate() {
        let mut rng = stream(seed, p as u64);
        for piece in chunk.chunks_mut(100) {
            fill_normals(&mut rng, piece);
        }
    }
    z
}

/// z-scores of the mean, variance, skewness and excess kurtosis against 0, 1, 0, 0.
fn moment_z(z: &[f64]) -> [f64; 4] {
    let n = z.len() as f64;
    let m = |p: i32| z.iter().map(|v| v.powi(p)).sum::<f64>() / n;
    let (m1, m2, m3, m4) = (m(1), m(2), m(3), m(4));
    [
        m1 * n.sqrt(),
        (m2 - 1.0) / (2.0 / n).sqrt(),
        m3 / (15.0 / n).sqrt(),
        (m4 - 3.0) / (96.0 / n).sqrt(),
    ]
}

/// sqrt(n) times the Kolmogorov-Smirnov distance to Phi.
fn ks(mut z: Vec<f64>) -> f64 {
    z.sort_by(f64::total_cmp);
    let n = z.len() as f64;
    let d = z
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = normal_cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max);
    d * n.sqrt()
}

/// The Anderson-Darling statistic A^2 against Phi (tails weighted; the upper tail from Phi(-x),
/// which keeps its relative accuracy).
fn anderson_darling(mut z: Vec<f64>) -> f64 {
    z.sort_by(f64::total_cmp);
    let n = z.len();
    let s: f64 = (0..n)
        .map(|i| {
            let lower = normal_cdf(z[i]).max(f64::MIN_POSITIVE).ln();
            let upper = normal_cdf(-z[n - 1 - i]).max(f64::MIN_POSITIVE).ln();
            (2 * i + 1) as f64 * (lower + upper)
        })
        .sum();
    -(n as f64) - s / n as f64
}

/// Poisson z-scores of the counts beyond |z| > t for each threshold.
fn tail_z(z: &[f64], thresholds: &[f64]) -> Vec<f64> {
    thresholds
        .iter()
        .map(|&t| {
            let expected = z.len() as f64 * 2.0 * normal_cdf(-t);
            let count = z.iter().filter(|v| v.abs() > t).count() as f64;
            (count - expected) / expected.sqrt()
        })
        .collect()
}

#[test]
fn moments_are_those_of_n01_and_a_scaled_stream_fails() {
    let z = draws(2026, 1 << 22);
    for (name, zs) in ["mean", "variance", "skewness", "kurtosis"].iter().zip(moment_z(&z)) {
        assert!(zs.abs() < 5.0, "{name}: z = {zs:.2}");
    }
    let scaled: Vec<f64> = z.iter().map(|v| 1.01 * v).collect();
    assert!(moment_z(&scaled)[1].abs() > 5.0, "control: variance 1.0201 not detected");
}

#[test]
fn ks_and_anderson_darling_accept_phi_and_reject_a_two_percent_wider_law() {
    let z = draws(7, 1 << 22);
    let (k, a) = (ks(z.clone()), anderson_darling(z.clone()));
    assert!(k < 1.95, "KS: sqrt(n) D = {k:.3}");
    assert!(a < 6.0, "AD: A^2 = {a:.3}");
    let wider: Vec<f64> = z.iter().map(|v| 1.02 * v).collect();
    let (k, a) = (ks(wider.clone()), anderson_darling(wider));
    assert!(k > 1.95 && a > 6.0, "control: a 2% wider law passed (KS {k:.2}, AD {a:.2})");
}

#[test]
fn tails_beyond_the_ziggurat_base_have_the_normal_mass() {
    // 2^24 draws: about 1,060 beyond 4, 418 beyond the base strip's edge R = 4.216 (drawn by the
    // slow path only), 114 beyond 4.5 and 9.6 beyond 5.
    let z = draws(11, 1 << 24);
    let thresholds = [2.0, 3.0, 4.0, R, 4.5, 5.0];
    for (t, zs) in thresholds.iter().zip(tail_z(&z, &thresholds)) {
        assert!(zs.abs() < 5.0, "beyond |z| > {t}: z = {zs:.2}");
    }
    // Control: the same draws with the slow path's tail cut off (beyond R folded back inside).
    let cut: Vec<f64> = z.iter().map(|&v| if v.abs() > R { v / 2.0 } else { v }).collect();
    assert!(tail_z(&cut, &[4.0])[0] < -5.0, "control: a generator without its tail passed");
}
