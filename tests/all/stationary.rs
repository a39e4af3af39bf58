//! Property tests: simulated stationary losses against the exact theory, within 5 standard errors,
//! over random spectra, rotations, C != H, stable eta, momentum and finite N. Where the discrete
//! theory differs from the continuous law by more than 10 SE, the same run must reject the law.

use crate::common::{burn_in, config, gaussian_points, heavy_ball_contraction, Z_MAX};
use proptest::prelude::*;
use sgd_sde::problems::Sampling;
use sgd_sde::theory::{self, momentum, ou, regression::RegressionMoments, reshuffle, Modes};
use sgd_sde::*;

/// A random spectrum in [lo, lo*spread], a rotation, and a noise covariance (C = H or random).
fn spectrum(d: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0.2f64..5.0, d)
}

fn rotation() -> impl Strategy<Value = Rotation> {
    prop_oneof![Just(Rotation::Identity), any::<u64>().prop_map(Rotation::Seeded)]
}

fn assert_matches_theory(est: Estimate, exact: f64, continuous: f64, what: &str) {
    assert!(
        est.agrees_with(exact, Z_MAX),
        "{what}: simulated {est} vs exact {exact:.6e}: z = {:.2}",
        est.z(exact)
    );
    if (exact - continuous).abs() > 10.0 * est.se {
        assert!(
            !est.agrees_with(continuous, Z_MAX),
            "{what}: continuous law {continuous:.6e} should be rejected, z = {:.2}",
            est.z(continuous)
        );
        let predicted = exact / continuous;
        let measured = est.value / continuous;
        assert!(
            (measured - predicted).abs() < Z_MAX * est.se / continuous,
            "{what}: ratio {measured} vs predicted {predicted}"
        );
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn gaussian_sgd_and_heavy_ball_match_the_exact_discrete_theory(
        d in 2usize..6, seed in any::<u64>(), eig in spectrum(6), ceig in spectrum(6), h_rot in rotation(), c_rot in rotation(),
        c_is_h in any::<bool>(), eta_lmax in 0.05f64..1.9, s in 1usize..16, use_m in any::<bool>(), m in 0.0f64..0.9, dense in any::<bool>(),
    ) {
        let h = SpdMatrix::from_eigen(&eig[..d], h_rot).unwrap();
        let c = if c_is_h { h.clone() } else { SpdMatrix::from_eigen(&ceig[..d], c_rot).unwrap() };
        let m = if use_m { m } else { 0.0 };
        // With momentum eta may exceed SGD's limit: scale into heavy ball's region 2(1+m).
        let eta = eta_lmax * (1.0 + m) / h.max_eigenvalue();
        let frame = if dense { Frame::Original } else { Frame::Eigen };
        let problem = GaussianProblem::sgd(h.clone(), c.clone(), eta, s, frame).unwrap();
        let modes = Modes::new(&h, &c);
        let f = 1.0 / s as f64;
        let rho = modes.lambda.iter().map(|&l| heavy_ball_contraction(eta * l, m)).fold(0.0, f64::max);
        let burn = burn_in(rho);
        let window = (20 * burn).clamp(5_000, 40_000);
        let ens = Ensemble::new(64, seed);
        let x0 = vec![0.0; d];
        let (est, exact) = if use_m {
            (ens.stationary_loss(&problem, &HeavyBall::new(m).unwrap(), &x0, eta, burn, window).unwrap(), momentum::stationary_loss(&modes, eta, m, f).unwrap())
        } else {
            (ens.stationary_loss(&problem, &EulerMaruyama::new(), &x0, eta, burn, window).unwrap(), theory::sgd::stationary_loss(&modes, eta, f).unwrap())
        };
        let continuous = ou::stationary_loss(&modes, eta, f) / (1.0 - m);
        assert_matches_theory(est, exact, continuous, &format!("d={d} eta*lmax={:.3} S={s} m={m:.3}", eta * h.max_eigenvalue()));
    }

    #[test]
    fn finite_data_sgd_matches_the_theory_with_the_finite_n_factor(
        d in 1usize..5, seed in any::<u64>(), eig in spectrum(5), rot in rotation(), n in 4usize..60, s_frac in 0.0f64..1.0,
        replace in any::<bool>(), eta_lmax in 0.05f64..1.9, use_m in any::<bool>(), m in 0.0f64..0.8,
    ) {
        let s = 1 + ((n - 1) as f64 * s_frac) as usize;
        let sampling = if replace { Sampling::WithReplacement } else { Sampling::WithoutReplacement };
        let h = SpdMatrix::from_eigen(&eig[..d], rot).unwrap();
        let problem = FiniteSumQuadratic::new(h.clone(), &gaussian_points(n, d, 1.0, seed), s, sampling).unwrap();
        let modes = Modes::from_dataset(&problem);
        let m = if use_m { m } else { 0.0 };
        let eta = eta_lmax * (1.0 + m) / h.max_eigenvalue();
        let f = theory::noise_factor(s, Some(n), sampling).unwrap();
        prop_assume!(f > 0.0); // S = N without replacement is noiseless: nothing to estimate
        let rho = modes.lambda.iter().map(|&l| heavy_ball_contraction(eta * l, m)).fold(0.0, f64::max);
        let burn = burn_in(rho);
        let window = (20 * burn).clamp(5_000, 40_000);
        let ens = Ensemble::new(64, seed ^ 1);
        let x0 = vec![0.0; d];
        let est = ens.stationary_loss(&problem, &HeavyBall::new(m).unwrap(), &x0, eta, burn, window).unwrap();
        let exact = momentum::stationary_loss(&modes, eta, m, f).unwrap();
        let continuous = ou::stationary_loss(&modes, eta, 1.0 / s as f64) / (1.0 - m);
        assert_matches_theory(est, exact, continuous, &format!("N={n} S={s} {sampling:?} eta*lmax={:.3} m={m:.3}", eta * h.max_eigenvalue()));
    }

    #[test]
    fn reshuffling_matches_its_exact_epoch_formula(
        d in 1usize..4, seed in any::<u64>(), eig in spectrum(4), s in 1usize..6, k in 2usize..8, eta_lmax in 0.05f64..1.9,
    ) {
        let n = s * k;
        let h = SpdMatrix::from_eigen(&eig[..d], Rotation::Seeded(seed)).unwrap();
        let problem = FiniteSumQuadratic::new(h.clone(), &gaussian_points(n, d, 1.0, seed), s, Sampling::Reshuffle).unwrap();
        let modes = Modes::from_dataset(&problem);
        let eta = eta_lmax / h.max_eigenvalue();
        let burn = burn_in(modes.lambda.iter().map(|&l| (1.0 - eta * l).abs()).fold(0.0, f64::max));
        let window = n * ((20 * burn).clamp(5_000, 40_000) / n); // whole epochs
        let est = Ensemble::new(64, seed).stationary_loss(&problem, &EulerMaruyama::new(), &vec![0.0; d], eta, burn.div_ceil(n) * n, window).unwrap();
        let exact = reshuffle::stationary_loss(&modes, eta, s, n).unwrap();
        prop_assert!(est.agrees_with(exact, Z_MAX), "N={n} S={s}: {est} vs {exact:.6e}, z = {:.2}", est.z(exact));
    }

    #[test]
    fn linear_regression_matches_the_second_moment_recursion(
        d in 1usize..4, seed in any::<u64>(), n in 8usize..40, s in 1usize..6, replace in any::<bool>(), frac in 0.05f64..0.5,
    ) {
        let n = n.max(d + 2);
        let s = s.min(n - 1);
        let xs = gaussian_points(n, d, 1.0, seed);
        let noise = gaussian_points(n, 1, 0.5, seed ^ 7);
        let ys: Vec<f64> = xs.iter().zip(&noise).map(|(x, e)| x.iter().sum::<f64>() + 0.5 * x[0] * x[0] + e[0]).collect();
        let sampling = if replace { Sampling::WithReplacement } else { Sampling::WithoutReplacement };
        let problem = LinearRegression::new(&xs, &ys, s, sampling).unwrap();
        let moments = RegressionMoments::new(&problem).unwrap();
        let eta = frac * moments.stability_limit();
        let rho = moments.spectral_radius(eta);
        let burn = ((1e-9f64).ln() / rho.ln()).ceil() as usize + 10;
        let window = (20 * burn).clamp(5_000, 40_000);
        let x0: Vec<f64> = problem.theta_star().iter().copied().collect();
        let est = Ensemble::new(64, seed).stationary_loss(&problem, &EulerMaruyama::new(), &x0, eta, burn, window).unwrap();
        let exact = moments.stationary_loss(eta).unwrap();
        prop_assert!(est.agrees_with(exact, Z_MAX), "N={n} S={s} d={d}: {est} vs {exact:.6e}, z = {:.2}", est.z(exact));
    }

    #[test]
    fn exact_ou_and_leimkuhler_matthews_have_no_stationary_bias(
        d in 1usize..5, seed in any::<u64>(), eig in spectrum(5), ceig in spectrum(5), rot in rotation(), h_lmax in 0.1f64..1.9, dense in any::<bool>(),
    ) {
        let h = SpdMatrix::from_eigen(&eig[..d], rot.clone()).unwrap();
        let c = SpdMatrix::from_eigen(&ceig[..d], Rotation::Seeded(seed)).unwrap();
        let step = h_lmax / h.max_eigenvalue();
        let frame = if dense { Frame::Original } else { Frame::Eigen };
        let problem = GaussianProblem::new(h.clone(), c.clone(), 0.05, frame).unwrap();
        let modes = Modes::new(&h, &c);
        let continuous = ou::stationary_loss(&modes, 0.05, 1.0);
        let burn = burn_in(modes.lambda.iter().map(|&l| (1.0 - step * l).abs()).fold(0.0, f64::max));
        let window = (20 * burn).clamp(5_000, 40_000);
        let ens = Ensemble::new(64, seed);
        let x0 = vec![0.0; d];
        // Exact OU at steps up to 3x the SGD limit: still exact.
        let ou_est = ens.stationary_loss(&problem, &ExactOu::new(), &x0, 1.5 * step, burn, window).unwrap();
        prop_assert!(ou_est.agrees_with(continuous, Z_MAX), "exact OU: {ou_est} vs {continuous:.6e}");
        let lm = ens.stationary_loss(&problem, &LeimkuhlerMatthews::new(), &x0, step, burn, window).unwrap();
        prop_assert!(lm.agrees_with(continuous, Z_MAX), "LM: {lm} vs {continuous:.6e}");
    }
}

/// Calibration: over 200 seeds, z-scores of a correct theory look standard normal.
#[test]
fn z_scores_are_calibrated() {
    let h = SpdMatrix::from_eigen(&[0.5, 1.5, 3.0], Rotation::Seeded(3)).unwrap();
    let problem = GaussianProblem::sgd(h.clone(), h.clone(), 0.3, 2, Frame::Eigen).unwrap();
    let exact = theory::sgd::stationary_loss(&Modes::new(&h, &h), 0.3, 0.5).unwrap();
    let zs: Vec<f64> = (0..200u64)
        .map(|seed| {
            Ensemble::new(16, seed)
                .stationary_loss(&problem, &EulerMaruyama::new(), &vec![0.0; 3], 0.3, 200, 2000)
                .unwrap()
                .z(exact)
        })
        .collect();
    let covered = zs.iter().filter(|z| z.abs() < 1.96).count() as f64 / 200.0;
    let mean_sq = zs.iter().map(|z| z * z).sum::<f64>() / 200.0;
    // Binomial sd of the coverage is 0.015; chi^2_200/200 has sd 0.1 (a little more with 16 paths' t-tails).
    assert!((0.89..=0.995).contains(&covered), "95% intervals covered {covered}");
    assert!((0.7..1.45).contains(&mean_sq), "mean z^2 = {mean_sq}");
}

/// Blocks of paths stepped as GEMMs (dense H, C != H) obey the same exact theory.
#[test]
fn gemm_blocks_of_paths_match_the_exact_discrete_theory() {
    let eig: Vec<f64> = (0..12).map(|i| 0.3 + 0.25 * i as f64).collect();
    let h = SpdMatrix::from_eigen(&eig, Rotation::Seeded(21)).unwrap();
    let c =
        SpdMatrix::from_eigen(&eig.iter().rev().copied().collect::<Vec<_>>(), Rotation::Seeded(22))
            .unwrap();
    let eta = 1.6 / h.max_eigenvalue();
    let block = sgd_sde::problems::PathBlock {
        problem: GaussianProblem::sgd(h.clone(), c.clone(), eta, 3, Frame::Original).unwrap(),
        width: 8,
    };
    let x0 = nalgebra::DMatrix::zeros(12, 8);
    let burn = burn_in(1.0 - eta * h.min_eigenvalue());
    let est = Ensemble::new(32, 5)
        .stationary_loss(&block, &EulerMaruyama::new(), &x0, eta, burn, 10_000)
        .unwrap();
    let exact = theory::sgd::stationary_loss(&Modes::new(&h, &c), eta, 1.0 / 3.0).unwrap();
    assert!(est.agrees_with(exact, Z_MAX), "{est} vs {exact}: z = {}", est.z(exact));
}

/// One long path: batch means with the integrated autocorrelation time. For EM on a 1-d OU the
/// position is an AR(1) with coefficient a = 1 - eta lambda, so the loss (proportional to x^2) has
/// autocorrelation a^{2t} and tau_int = (1 + a^2) / (1 - a^2) exactly.
#[test]
fn batch_means_on_one_long_path_with_the_autocorrelation_time() {
    let h = SpdMatrix::from_eigen(&[1.0], Rotation::Identity).unwrap();
    let eta = 0.05;
    let problem = GaussianProblem::sgd(h.clone(), h.clone(), eta, 1, Frame::Eigen).unwrap();
    let mut obs = Series::new(1000, 1);
    let mut r = sgd_sde::rng::stream(7, 0);
    sgd_sde::solve(
        &problem,
        &mut EulerMaruyama::new(),
        &mut vec![0.0],
        eta,
        1_001_000,
        &mut r,
        &mut obs,
    )
    .unwrap();
    let a2 = (1.0 - eta).powi(2);
    let tau_exact = (1.0 + a2) / (1.0 - a2);
    let tau = sgd_sde::stats::integrated_autocorrelation_time(&obs.values);
    assert!((tau / tau_exact - 1.0).abs() < 0.15, "tau_int {tau} vs exact {tau_exact}");
    let est = sgd_sde::stats::batch_means(&obs.values, 50); // batches of 20,000 >> tau = 20
    let exact = theory::sgd::stationary_loss(&Modes::new(&h, &h), eta, 1.0).unwrap();
    assert!(est.agrees_with(exact, Z_MAX), "{est} vs {exact}");
    assert!(matches!(est.method, Method::BatchMeans { batches: 50, .. }));
    // The naive i.i.d. standard error ignores tau and is too small by about sqrt(tau).
    let naive = Estimate::from_replicas(&obs.values);
    assert!(est.se / naive.se > 0.5 * tau_exact.sqrt(), "{} vs {}", est.se, naive.se);
}
