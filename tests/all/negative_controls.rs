//! Deliberately wrong theory must FAIL the same |z| < 5 check that the right theory passes.

use crate::common::{gaussian_points, Z_MAX};
use sgd_sde::problems::Sampling;
use sgd_sde::theory::{self, ou, reshuffle, Modes};
use sgd_sde::*;

#[test]
fn continuous_law_as_if_exact_at_eta_lambda_1_is_rejected() {
    let h = SpdMatrix::from_eigen(&[1.0, 1.0, 1.0, 1.0], Rotation::Seeded(8)).unwrap();
    let eta = 1.0; // eta * lambda = 1 for every mode: the exact loss is twice the continuous law
    let problem = GaussianProblem::sgd(h.clone(), h.clone(), eta, 8, Frame::Original).unwrap();
    let modes = Modes::new(&h, &h);
    let est = Ensemble::new(64, 1)
        .stationary_loss(&problem, &EulerMaruyama::new(), &vec![0.0; 4], eta, 100, 20_000)
        .unwrap();
    let exact = theory::sgd::stationary_loss(&modes, eta, 1.0 / 8.0).unwrap();
    let wrong = ou::stationary_loss(&modes, eta, 1.0 / 8.0);
    assert!((exact / wrong - 2.0).abs() < 1e-12);
    assert!(est.agrees_with(exact, Z_MAX), "right theory: z = {}", est.z(exact));
    assert!(!est.agrees_with(wrong, Z_MAX), "wrong theory accepted: z = {}", est.z(wrong));
}

#[test]
fn f_formula_applied_to_a_reshuffling_run_is_rejected() {
    let (n, s) = (20, 5);
    let h = SpdMatrix::from_eigen(&[0.5, 1.0, 2.0], Rotation::Seeded(4)).unwrap();
    let problem =
        FiniteSumQuadratic::new(h.clone(), &gaussian_points(n, 3, 1.0, 6), s, Sampling::Reshuffle)
            .unwrap();
    let modes = Modes::from_dataset(&problem);
    let eta = 0.05;
    let est = Ensemble::new(64, 2)
        .stationary_loss(&problem, &EulerMaruyama::new(), &vec![0.0; 3], eta, 2000, 20_000)
        .unwrap();
    let exact = reshuffle::stationary_loss(&modes, eta, s, n).unwrap();
    let wrong = theory::sgd::stationary_loss(
        &modes,
        eta,
        theory::noise_factor(s, Some(n), Sampling::WithoutReplacement).unwrap(),
    )
    .unwrap();
    assert!(wrong / exact > 3.0, "the design's factor of 3 or more: {}", wrong / exact);
    assert!(est.agrees_with(exact, Z_MAX), "right theory: z = {}", est.z(exact));
    assert!(!est.agrees_with(wrong, Z_MAX), "wrong theory accepted: z = {}", est.z(wrong));
}
