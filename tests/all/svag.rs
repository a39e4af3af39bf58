//! SVAG (Li, Malladi & Arora 2021) on true minibatch noise: the oracle's invariants, its exact
//! stationary loss at several l (|z| < 5), and deliberately wrong formulas that must fail.

use crate::common::{gaussian_points, Z_MAX};
use sgd_sde::problems::{Sampling, StochasticProblem, Svag};
use sgd_sde::theory::{self, Modes};
use sgd_sde::*;

fn problem(sampling: Sampling) -> FiniteSumQuadratic {
    let h = SpdMatrix::from_eigen(&[0.5, 1.0, 3.0], Rotation::Seeded(3)).unwrap();
    FiniteSumQuadratic::new(h, &gaussian_points(15, 3, 1.0, 9), 2, sampling).unwrap()
}

/// The weights sum to 1 (unbiased) and their squares to l (the covariance is amplified l times),
/// and the oracle is that combination of the inner oracle at the two draws.
#[test]
fn the_oracle_is_unbiased_with_l_times_the_covariance() {
    let p = problem(Sampling::WithReplacement);
    for l in [1.0, 1.5, 4.0, 100.0] {
        let svag = Svag::new(&p, l).unwrap();
        let (a, b) = svag.weights();
        assert!((a + b - 1.0).abs() < 1e-12 && (a * a + b * b - l).abs() < 1e-9 * l, "l = {l}");
        let mut rng = rng::stream(5, 0);
        let mut noise = svag.new_noise();
        svag.sample_noise(&mut rng, 0.1, &mut noise);
        let x = vec![0.3, -0.2, 0.7];
        let (mut g, mut g1, mut g2) = (vec![0.0; 3], vec![0.0; 3], vec![0.0; 3]);
        svag.gradient(&x, &noise, &mut g);
        p.gradient(&x, &noise.first, &mut g1);
        p.gradient(&x, &noise.second, &mut g2);
        for i in 0..3 {
            assert!((g[i] - (a * g1[i] + b * g2[i])).abs() < 1e-12, "l = {l}, coordinate {i}");
        }
    }
    assert!(Svag::new(&p, 0.5).is_err() && Svag::new(&p, f64::NAN).is_err());
}

/// SVAG at (eta, l) has the exact stationary loss eta f/4 sum C'_ii / (1 - eta lambda_i/(2l)),
/// with and without replacement, at eta lambda_max = 1.5 where it differs from SGD's by 2.5x at l
/// = 1 and from the continuous law; forgetting the amplification (SGD at eta/l with the same V)
/// or keeping SGD's value must fail the same check.
#[test]
fn stationary_loss_matches_the_exact_svag_formula_and_wrong_ones_fail() {
    let eta = 0.5;
    for (sampling, seed) in [(Sampling::WithReplacement, 1), (Sampling::WithoutReplacement, 2)] {
        let p = problem(sampling);
        let modes = Modes::from_dataset(&p);
        let f = theory::noise_factor(2, Some(15), sampling).unwrap();
        for l in [1.0, 4.0] {
            let svag = Svag::new(&p, l).unwrap();
            let est = Ensemble::new(64, seed)
                .stationary_loss(
                    &svag,
                    &EulerMaruyama::new(),
                    &vec![0.0; 3],
                    eta / l,
                    (2000.0 * l) as usize,
                    (20_000.0 * l) as usize,
                )
                .unwrap();
            let exact = theory::svag::stationary_loss(&modes, eta, f, l).unwrap();
            assert!(est.agrees_with(exact, Z_MAX), "{sampling:?} l = {l}: z = {}", est.z(exact));
            let continuous = theory::ou::stationary_loss(&modes, eta, f);
            assert!(!est.agrees_with(continuous, Z_MAX), "continuous law accepted at l = {l}");
            if l > 1.0 {
                let unamplified = theory::sgd::stationary_loss(&modes, eta / l, f).unwrap();
                let sgd = theory::svag::stationary_loss(&modes, eta, f, 1.0).unwrap();
                for wrong in [unamplified, sgd] {
                    assert!(!est.agrees_with(wrong, Z_MAX), "wrong value {wrong} accepted");
                }
            }
        }
    }
}

/// The exact formula's relative excess over the continuous law is first order in 1/l.
#[test]
fn the_relative_excess_is_first_order_in_one_over_l() {
    let p = problem(Sampling::WithReplacement);
    let modes = Modes::from_dataset(&p);
    let (eta, f) = (0.5, 0.5);
    let continuous = theory::ou::stationary_loss(&modes, eta, f);
    let excess =
        |l: f64| theory::svag::stationary_loss(&modes, eta, f, l).unwrap() / continuous - 1.0;
    for l in [1e3, 1e4, 1e5] {
        let leading = theory::svag::leading_relative_excess(&modes, eta, l);
        assert!((excess(l) / leading - 1.0).abs() < 2.0 * eta * 3.0 / l, "l = {l}");
    }
}
