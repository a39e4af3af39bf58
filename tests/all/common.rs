use proptest::test_runner::{Config, RngSeed};
use rand_distr::{Distribution, StandardNormal};
use sgd_sde::rng;

/// The z threshold for every check (two-sided false-alarm rate 5.7e-7).
pub const Z_MAX: f64 = 5.0;

/// Property tests run from a fixed seed: reproducible, never flaky, no persistence files.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5EED),
        failure_persistence: None,
        ..Config::default()
    }
}

/// `n` points in R^d with i.i.d. N(0, scale^2) coordinates, from a named stream.
pub fn gaussian_points(n: usize, d: usize, scale: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng::stream(seed, 0);
    (0..n)
        .map(|_| {
            (0..d)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut r);
                    scale * z
                })
                .collect::<Vec<f64>>()
        })
        .collect()
}

/// Steps for every mode's transient to fall below `1e-9` of its start, given the slowest
/// per-step contraction factor `rho` (< 1).
pub fn burn_in(rho: f64) -> usize {
    ((1e-9f64).ln() / (2.0 * rho.ln())).ceil() as usize + 10
}

/// The per-mode contraction of heavy ball (the library's own, used to size burn-ins).
pub use sgd_sde::theory::momentum::contraction as heavy_ball_contraction;
