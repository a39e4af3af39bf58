//! Linear regression with heavy-ball momentum: the mean-square stability limit comes from the
//! second-moment map of `(e_k, e_{k-1})`, not from the momentum-free recursion (which called runs
//! stable that diverge in mean square).

use nalgebra::{DMatrix, DVector};
use sgd_sde::ensemble::Ensemble;
use sgd_sde::integrators::HeavyBall;
use sgd_sde::observers::Snapshots;
use sgd_sde::problems::{LinearRegression, Sampling};
use sgd_sde::stats::Estimate;
use sgd_sde::theory::regression::RegressionMoments;

/// Heavy-tailed features (a few large rows), so the fourth moments matter; targets exact
/// (`y = x^T theta_true`) when `noise = 0`.
fn data(n: usize, noise: f64) -> (Vec<Vec<f64>>, Vec<f64>) {
    let xs: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let t = i as f64;
            let big = if i % 5 == 0 { 3.0 } else { 1.0 };
            vec![big * (0.7 * t).sin(), big * (1.3 * t + 0.4).cos()]
        })
        .collect();
    let ys =
        xs.iter().enumerate().map(|(i, x)| x[0] - 0.5 * x[1] + noise * (i as f64).cos()).collect();
    (xs, ys)
}

/// `A_n = [[(1+m) I - eta x x^T, -m I], [I, 0]]` for one example.
fn a_matrix(x: &[f64], eta: f64, m: f64) -> DMatrix<f64> {
    let d = x.len();
    let xv = DVector::from_column_slice(x);
    let mut a = DMatrix::zeros(2 * d, 2 * d);
    let top = DMatrix::identity(d, d) * (1.0 + m) - &xv * xv.transpose() * eta;
    a.view_mut((0, 0), (d, d)).copy_from(&top);
    a.view_mut((0, d), (d, d)).copy_from(&(DMatrix::identity(d, d) * -m));
    a.view_mut((d, 0), (d, d)).copy_from(&DMatrix::identity(d, d));
    a
}

#[test]
fn the_operator_is_the_batch_average_of_a_kron_a_by_brute_force() {
    let (xs, ys) = data(10, 0.3);
    let (eta, m) = (0.05, 0.9);
    // S = 1 with replacement: the batch is one uniform example.
    let p = LinearRegression::new(&xs, &ys, 1, Sampling::WithReplacement).unwrap();
    let brute = xs.iter().fold(DMatrix::zeros(16, 16), |acc, x| {
        let a = a_matrix(x, eta, m);
        acc + a.kronecker(&a) / xs.len() as f64
    });
    let op = RegressionMoments::new(&p).unwrap().momentum_operator(eta, m);
    assert!((&op - &brute).amax() < 1e-12, "{}", (&op - &brute).amax());
    // S = 2 without replacement: every pair, each batch matrix the mean of its two rows.
    let p = LinearRegression::new(&xs, &ys, 2, Sampling::WithoutReplacement).unwrap();
    let (mut brute, mut pairs) = (DMatrix::zeros(16, 16), 0.0);
    for i in 0..xs.len() {
        for j in 0..xs.len() {
            if i != j {
                let a = (a_matrix(&xs[i], eta, m) + a_matrix(&xs[j], eta, m)) / 2.0;
                brute += a.kronecker(&a);
                pairs += 1.0;
            }
        }
    }
    let op = RegressionMoments::new(&p).unwrap().momentum_operator(eta, m);
    assert!((&op - brute / pairs).amax() < 1e-12);
}

#[test]
fn at_zero_momentum_it_is_the_plain_sgd_recursion() {
    let (xs, ys) = data(10, 0.3);
    let moments = RegressionMoments::new(
        &LinearRegression::new(&xs, &ys, 2, Sampling::WithReplacement).unwrap(),
    )
    .unwrap();
    for eta in [0.02, 0.1, 0.3] {
        let (a, b) = (moments.momentum_spectral_radius(eta, 0.0), moments.spectral_radius(eta));
        assert!((a - b).abs() < 1e-9 * b, "{a} vs {b}");
    }
}

#[test]
fn momentum_lowers_the_mean_square_limit_below_the_momentum_free_one() {
    // The reported case: d = 2, N = 10, S = 1, m = 0.9.
    let (xs, ys) = data(10, 0.3);
    let moments = RegressionMoments::new(
        &LinearRegression::new(&xs, &ys, 1, Sampling::WithReplacement).unwrap(),
    )
    .unwrap();
    let limit = moments.momentum_stability_limit(0.9);
    assert!(limit < 0.5 * moments.stability_limit(), "{limit} vs {}", moments.stability_limit());
    assert!(moments.momentum_spectral_radius(0.99 * limit, 0.9) < 1.0);
    assert!(moments.momentum_spectral_radius(1.01 * limit, 0.9) > 1.0);
}

/// Zero residuals: the second moment follows `vec(Z_k) = T^k vec(z0 z0^T)` exactly; the mean
/// loss after k heavy-ball steps of the real integrator agrees (|z| < 5), and the momentum-free
/// recursion (the old, wrong model) is rejected by the same check.
#[test]
fn simulated_heavy_ball_follows_the_second_moment_map() {
    let (xs, ys) = data(10, 0.0);
    let p = LinearRegression::new(&xs, &ys, 1, Sampling::WithReplacement).unwrap();
    let moments = RegressionMoments::new(&p).unwrap();
    let m = 0.9;
    let eta = 0.7 * moments.momentum_stability_limit(m);
    let (k, e0) = (40usize, [1.0, -0.5]);
    let z0 = DVector::from_column_slice(&[e0[0], e0[1], e0[0], e0[1]]); // start at rest: e_{-1} = e_0
    let mut z = DVector::from_column_slice((&z0 * z0.transpose()).as_slice());
    let t = moments.momentum_operator(eta, m);
    for _ in 0..k {
        z = &t * z;
    }
    let big = DMatrix::from_column_slice(4, 4, z.as_slice());
    let h = p.hessian().clone();
    let exact = 0.5 * (&h * big.view((0, 0), (2, 2))).trace();
    let x0: Vec<f64> = e0.iter().zip(p.theta_star().iter()).map(|(e, t)| e + t).collect();
    let out = Ensemble::new(20_000, 3).simulate(
        &p,
        &HeavyBall::new(m).unwrap(),
        &x0,
        eta,
        k,
        &Snapshots::new(vec![k]),
    );
    let est =
        Estimate::from_replicas(&out.iter().map(|o| o.observer.values[0]).collect::<Vec<_>>());
    assert!(est.z(exact).abs() < 5.0, "{est} vs exact {exact}");
    // Negative control: the momentum-free second-moment map at the same eta.
    let e = DVector::from_column_slice(&e0);
    let mut m0 = DVector::from_column_slice((&e * e.transpose()).as_slice());
    let t0 = moments.operator(eta);
    for _ in 0..k {
        m0 = &t0 * m0;
    }
    let wrong = 0.5 * (&h * DMatrix::from_column_slice(2, 2, m0.as_slice())).trace();
    assert!(est.z(wrong).abs() > 5.0, "the momentum-free model should fail: {est} vs {wrong}");
}
