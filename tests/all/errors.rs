//! Bad input gets a typed error naming the parameter, its value and the valid range.

use sgd_sde::problems::Sampling;
use sgd_sde::theory::{self, Modes};
use sgd_sde::*;

fn says(err: ProblemError, parameter: &str, valid_contains: &str) {
    assert_eq!(err.parameter, parameter, "{err}");
    assert!(err.valid.contains(valid_contains), "{err}");
    assert!(err.to_string().contains(&err.value), "{err}");
}

#[test]
fn non_positive_or_nan_eigenvalue() {
    says(
        SpdMatrix::from_eigen(&[1.0, 0.0], Rotation::Identity).unwrap_err(),
        "eigenvalues[1]",
        "> 0",
    );
    says(SpdMatrix::from_eigen(&[-1.0], Rotation::Identity).unwrap_err(), "eigenvalues[0]", "> 0");
    says(
        SpdMatrix::from_eigen(&[f64::NAN], Rotation::Identity).unwrap_err(),
        "eigenvalues[0]",
        "finite",
    );
}

#[test]
fn non_symmetric_indefinite_or_non_orthogonal_matrices() {
    let m = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.0, 1.0]);
    says(SpdMatrix::from_dense("H", m).unwrap_err(), "H", "symmetric");
    let m = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
    let e = SpdMatrix::from_dense("H", m).unwrap_err();
    says(e.clone(), "H", "positive definite");
    assert!(e.value.contains("-1.0"), "names the smallest eigenvalue: {e}");
    let q = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 0.0, 1.0]);
    says(
        SpdMatrix::from_eigen(&[1.0, 2.0], Rotation::Matrix(q)).unwrap_err(),
        "rotation.matrix",
        "orthogonal",
    );
}

#[test]
fn batch_size_and_step_parameters() {
    let h = SpdMatrix::from_eigen(&[1.0, 2.0], Rotation::Identity).unwrap();
    says(
        GaussianProblem::sgd(h.clone(), h.clone(), 0.1, 0, Frame::Eigen).unwrap_err(),
        "S",
        "S >= 1",
    );
    says(
        GaussianProblem::sgd(h.clone(), h.clone(), 0.0, 1, Frame::Eigen).unwrap_err(),
        "eta",
        "> 0",
    );
    says(
        GaussianProblem::sgd(h.clone(), h.clone(), -1.0, 1, Frame::Eigen).unwrap_err(),
        "eta",
        "> 0",
    );
    let centers = vec![vec![0.0, 1.0]; 5];
    says(
        FiniteSumQuadratic::new(h.clone(), &centers, 6, Sampling::WithReplacement).unwrap_err(),
        "S",
        "S <= N = 5",
    );
    says(
        FiniteSumQuadratic::new(h.clone(), &centers, 2, Sampling::Reshuffle).unwrap_err(),
        "S",
        "divisor",
    );
    says(HeavyBall::<Vec<f64>>::new(1.0).unwrap_err(), "m", "0 <= m < 1");
    says(HeavyBall::<Vec<f64>>::new(-0.1).unwrap_err(), "m", "0 <= m < 1");
}

#[test]
fn stationary_value_that_does_not_exist_names_the_limit() {
    let h = SpdMatrix::from_eigen(&[1.0, 4.0], Rotation::Identity).unwrap();
    let modes = Modes::new(&h, &h);
    let e = theory::sgd::stationary_loss(&modes, 0.5, 1.0).unwrap_err();
    says(e.clone(), "eta", "eta*lambda_max < 2");
    assert!(e.valid.contains("5.000000e-1"), "names the largest stable eta: {e}");
    says(theory::momentum::stationary_loss(&modes, 0.8, 0.5, 1.0).unwrap_err(), "eta", "2(1+m)");
}

#[test]
fn nan_in_data() {
    let h = SpdMatrix::from_eigen(&[1.0, 2.0], Rotation::Identity).unwrap();
    let centers = vec![vec![0.0, 1.0], vec![f64::NAN, 0.0], vec![1.0, 1.0]];
    says(
        FiniteSumQuadratic::new(h, &centers, 1, Sampling::WithReplacement).unwrap_err(),
        "centers[1]",
        "finite",
    );
    let xs = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]];
    says(
        LinearRegression::new(&xs, &[1.0, f64::INFINITY, 0.0], 1, Sampling::WithReplacement)
            .unwrap_err(),
        "y[1]",
        "finite",
    );
    let collinear = vec![vec![1.0, 2.0], vec![2.0, 4.0], vec![-1.0, -2.0]];
    says(
        LinearRegression::new(&collinear, &[1.0, 2.0, 0.0], 1, Sampling::WithReplacement)
            .unwrap_err(),
        "x",
        "full column rank",
    );
}

#[test]
fn divergence_stops_the_run_and_says_where() {
    let h = SpdMatrix::from_eigen(&[1.0, 4.0], Rotation::Identity).unwrap();
    let problem = GaussianProblem::sgd(h.clone(), h, 0.55, 1, Frame::Eigen).unwrap(); // eta*lambda_max = 2.2
    let err = Ensemble::new(4, 0)
        .stationary_loss(&problem, &EulerMaruyama::new(), &vec![1.0, 1.0], 0.55, 10, 100_000)
        .unwrap_err();
    assert!(err.diverged.step < 100_000 && err.diverged.step > 0, "{err}");
    assert!(err.to_string().contains("diverged at step"), "{err}");
}
