//! Exact theory against independent derivations (dense Lyapunov solvers, direct iteration of
//! moment recursions), never against the simulator.

use crate::common::gaussian_points;
use nalgebra::DMatrix;
use sgd_sde::problems::Sampling;
use sgd_sde::theory::{
    self, lyapunov, momentum, ou, regression::RegressionMoments, reshuffle, sgd, Modes,
};
use sgd_sde::{FiniteSumQuadratic, LinearRegression, Rotation, SpdMatrix};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn pair(d: usize) -> (SpdMatrix, SpdMatrix) {
    let eig: Vec<f64> = (0..d).map(|i| 0.3 + 0.7 * i as f64).collect();
    let ceig: Vec<f64> = (0..d).map(|i| 2.0 / (1.0 + i as f64)).collect();
    (
        SpdMatrix::from_eigen(&eig, Rotation::Seeded(10)).unwrap(),
        SpdMatrix::from_eigen(&ceig, Rotation::Seeded(11)).unwrap(),
    )
}

#[test]
fn continuous_closed_form_solves_the_lyapunov_equation_and_gives_eta_tr_c_over_4s() {
    let (h, c) = pair(6);
    let (eta, f) = (0.2, 1.0 / 8.0);
    let sigma = ou::stationary_covariance(&h, &c, eta, f);
    let direct = lyapunov::continuous(&h.dense(), &(c.dense() * (eta * f))).unwrap();
    assert!(
        (&sigma - &direct).amax() < 1e-12,
        "closed form vs Kronecker Lyapunov: {}",
        (&sigma - &direct).amax()
    );
    let loss = 0.5 * (h.dense() * &direct).trace();
    // C does not commute with H, yet E l = eta f / 4 Tr(C) exactly.
    assert!(rel(loss, eta * f / 4.0 * c.trace()) < 1e-12);
    assert!(rel(ou::stationary_loss(&Modes::new(&h, &c), eta, f), loss) < 1e-12);
    // And eta/(4S) Tr(H) when C = H.
    assert!(
        rel(ou::stationary_loss(&Modes::new(&h, &h), eta, f), eta * f / 4.0 * h.trace()) < 1e-14
    );
}

#[test]
fn discrete_closed_form_solves_the_discrete_lyapunov_equation() {
    let (h, c) = pair(7);
    let (eta, f) = (0.4, 0.25); // eta lambda_max = 1.8
    assert!(eta * h.max_eigenvalue() < 2.0);
    let sigma = sgd::stationary_covariance(&h, &c.dense(), eta, f).unwrap();
    let a = DMatrix::identity(7, 7) - h.dense() * eta;
    let direct = lyapunov::discrete(&a, &(c.dense() * (eta * eta * f))).unwrap();
    assert!((&sigma - &direct).amax() < 1e-10 * direct.amax(), "{}", (&sigma - &direct).amax());
    let loss = 0.5 * (h.dense() * &direct).trace();
    assert!(rel(sgd::stationary_loss(&Modes::new(&h, &c), eta, f).unwrap(), loss) < 1e-10);
}

#[test]
fn discrete_transient_matches_iterating_the_covariance_recursion() {
    let (h, c) = pair(4);
    let (eta, f) = (0.5, 0.5);
    let x0 = [1.0, -2.0, 0.5, 3.0];
    let modes = Modes::new(&h, &c);
    let x0e = h.to_eigen_coordinates(&x0);
    let a = DMatrix::identity(4, 4) - h.dense() * eta;
    let mut mean = nalgebra::DVector::from_column_slice(&x0);
    let mut cov = DMatrix::zeros(4, 4);
    for k in 0..=60 {
        let direct = 0.5 * (h.dense() * (&cov + &mean * mean.transpose())).trace();
        assert!(rel(sgd::transient_loss(&modes, &x0e, eta, f, k), direct) < 1e-10, "k = {k}");
        mean = &a * mean;
        cov = &a * cov * a.transpose() + c.dense() * (eta * eta * f);
    }
    let stat = sgd::stationary_loss(&modes, eta, f).unwrap();
    assert!(rel(sgd::transient_loss(&modes, &x0e, eta, f, 5000), stat) < 1e-10);
    // Step counts past i32::MAX: the powers must not wrap to negative exponents (they did once,
    // giving infinite or negative losses at k >= 2^31).
    for k in [i32::MAX as usize, 1usize << 31, (1usize << 40) + 3] {
        assert!(rel(sgd::transient_loss(&modes, &x0e, eta, f, k), stat) < 1e-10, "k = {k}");
    }
}

#[test]
fn continuous_transient_is_the_small_eta_limit_of_the_discrete_one() {
    let (h, c) = pair(4);
    let modes = Modes::new(&h, &c);
    let x0e = h.to_eigen_coordinates(&[1.0, 1.0, -1.0, 0.0]);
    let (t, temp) = (0.7, 0.05); // temperature eta*f fixed while the step shrinks
    let cont = ou::transient_loss(&modes, &x0e, temp, 1.0, t);
    let errs: Vec<f64> = [1e-2, 1e-3, 1e-4]
        .iter()
        .map(|&step| {
            let k = (t / step).round() as usize;
            (theory::sgd::transient_loss(&modes, &x0e, step, temp / step, k) - cont).abs()
        })
        .collect();
    // First-order convergence: each tenfold smaller step cuts the gap tenfold (within 20%).
    for w in errs.windows(2) {
        assert!((8.0..12.0).contains(&(w[0] / w[1])), "{errs:?}");
    }
    assert!(errs[2] < 1e-3 * cont, "{errs:?} vs {cont}");
    assert!(
        rel(
            ou::transient_loss(&modes, &x0e, temp, 1.0, 0.0),
            0.5 * x0e.iter().zip(modes.lambda.iter()).map(|(x, l)| l * x * x).sum::<f64>()
        ) < 1e-14
    );
}

#[test]
fn momentum_closed_form_equals_both_lyapunov_solutions() {
    let (h, c) = pair(5);
    let modes = Modes::new(&h, &c);
    // (0.7, 0.3) has eta lambda_max = 2.17: past SGD's limit, inside heavy ball's 2(1+m) = 2.6.
    for &(eta, m) in &[(0.1, 0.0), (0.3, 0.5), (0.5, 0.9), (0.7, 0.3)] {
        let f = 0.2;
        let closed = momentum::stationary_loss(&modes, eta, m, f).unwrap();
        let per_mode = momentum::stationary_loss_lyapunov(&modes, eta, m, f).unwrap();
        let dense = momentum::stationary_covariance(&h, &c.dense(), eta, m, f).unwrap();
        let dense_loss = 0.5 * (h.dense() * dense).trace();
        assert!(
            rel(closed, per_mode) < 1e-10 && rel(closed, dense_loss) < 1e-10,
            "eta {eta} m {m}: {closed} {per_mode} {dense_loss}"
        );
        assert!(rel(momentum::transient_loss(&modes, &[0.0; 5], eta, m, f, 20_000), closed) < 1e-9);
    }
    // m = 0 is plain SGD.
    assert!(
        rel(
            momentum::stationary_loss(&modes, 0.4, 0.0, 0.1).unwrap(),
            sgd::stationary_loss(&modes, 0.4, 0.1).unwrap()
        ) < 1e-14
    );
    // Stable up to eta lambda_max < 2(1+m), which is beyond SGD's limit of 2.
    let eta = 2.5 / h.max_eigenvalue();
    assert!(sgd::stationary_loss(&modes, eta, 0.1).is_err());
    assert!(momentum::stationary_loss(&modes, eta, 0.5, 0.1).is_ok());
    assert!(momentum::stationary_loss(&modes, 3.1 / h.max_eigenvalue(), 0.5, 0.1).is_err());
}

#[test]
fn finite_n_factor() {
    assert_eq!(theory::noise_factor(4, None, Sampling::WithoutReplacement).unwrap(), 0.25);
    assert_eq!(theory::noise_factor(4, Some(10), Sampling::WithReplacement).unwrap(), 0.25);
    assert!(
        rel(theory::noise_factor(4, Some(10), Sampling::WithoutReplacement).unwrap(), 6.0 / 36.0)
            < 1e-15
    );
    assert_eq!(theory::noise_factor(10, Some(10), Sampling::WithoutReplacement).unwrap(), 0.0);
    assert!(theory::noise_factor(11, Some(10), Sampling::WithoutReplacement).is_err());
    assert!(theory::noise_factor(2, Some(10), Sampling::Reshuffle).is_err());
}

#[test]
fn reshuffle_limits() {
    let h = SpdMatrix::from_eigen(&[0.5, 2.0], Rotation::Identity).unwrap();
    let p = FiniteSumQuadratic::new(h, &gaussian_points(12, 2, 1.0, 3), 3, Sampling::Reshuffle)
        .unwrap();
    let modes = Modes::from_dataset(&p);
    // One batch per epoch: the full gradient, no noise.
    assert_eq!(reshuffle::stationary_loss(&modes, 0.1, 12, 12).unwrap(), 0.0);
    // Two batches per epoch at tiny eta: the noise nearly cancels within the epoch, so the loss is far
    // below the fresh-batch value (a factor >> 3), and the ratio grows as eta shrinks.
    let fresh = |eta: f64| {
        sgd::stationary_loss(
            &modes,
            eta,
            theory::noise_factor(6, Some(12), Sampling::WithoutReplacement).unwrap(),
        )
        .unwrap()
    };
    let r1 = fresh(0.01) / reshuffle::stationary_loss(&modes, 0.01, 6, 12).unwrap();
    let r2 = fresh(0.001) / reshuffle::stationary_loss(&modes, 0.001, 6, 12).unwrap();
    assert!(r1 > 3.0 && r2 > 5.0 * r1, "{r1} {r2}");
    assert!(reshuffle::stationary_loss(&modes, 0.1, 5, 12).is_err(), "S must divide N");
}

#[test]
fn regression_stationary_moment_is_the_fixed_point_and_the_limit_of_the_transient() {
    let xs = gaussian_points(30, 3, 1.0, 5);
    let ys: Vec<f64> = xs.iter().map(|x| x[0] * x[0] - x[1] + 0.3 * x[2]).collect();
    for sampling in [Sampling::WithReplacement, Sampling::WithoutReplacement] {
        let p = LinearRegression::new(&xs, &ys, 2, sampling).unwrap();
        let mom = RegressionMoments::new(&p).unwrap();
        let limit = mom.stability_limit();
        let lmax = nalgebra::SymmetricEigen::new(p.hessian().clone()).eigenvalues.max();
        // The mean-square limit sits well below the deterministic limit 2/lambda_max.
        assert!(limit < 0.8 * 2.0 / lmax, "{limit} vs {}", 2.0 / lmax);
        assert!(mom.spectral_radius(0.99 * limit) < 1.0 && mom.spectral_radius(1.01 * limit) > 1.0);
        let eta = 0.5 * limit;
        let m = mom.stationary_second_moment(eta).unwrap();
        let t = mom.operator(eta);
        let tm = DMatrix::from_column_slice(
            3,
            3,
            (&t * nalgebra::DVector::from_column_slice(m.as_slice())).as_slice(),
        );
        let next = mom.transient_loss(eta, &[0.0; 3], 0); // loss at e = 0 is 0
        assert_eq!(next, vec![0.0]);
        let traj = mom.transient_loss(eta, &[1.0, -1.0, 0.5], 4000);
        assert!(rel(*traj.last().unwrap(), mom.stationary_loss(eta).unwrap()) < 1e-9);
        // Fixed point: M - T(M) = eta^2 alpha G, with G = mean r_n^2 x_n x_n^T built here from the data.
        let (n, s) = (30.0, 2.0);
        let alpha =
            if sampling == Sampling::WithReplacement { 1.0 / s } else { (n - s) / (s * (n - 1.0)) };
        let g = (0..30).fold(DMatrix::zeros(3, 3), |acc, i| {
            let x = nalgebra::DVector::from_column_slice(p.feature(i));
            acc + &x * x.transpose() * p.residual(i).powi(2) / n
        });
        assert!((&m - &tm - g * (eta * eta * alpha)).amax() < 1e-12 * m.amax());
        assert!(mom.stationary_second_moment(1.01 * limit).is_err());
    }
}

#[test]
fn breakdown_ratio_follows_the_mode_factors_and_the_finite_n_factor() {
    let h = SpdMatrix::from_eigen(&[0.5, 1.0, 4.0], Rotation::Identity).unwrap();
    let modes = Modes::new(&h, &h);
    let betas = [0.01, 0.25, 0.4, 0.49, 0.6];
    let gauss = theory::breakdown::curve(&modes, 1.0, 8, None, Sampling::WithReplacement, &betas);
    assert!(rel(gauss[0].ratio.unwrap(), 1.0) < 0.02, "continuous law holds at small beta");
    for p in &gauss[..4] {
        let expect = modes.lambda.iter().map(|&l| l * sgd::mode_factor(l, p.eta)).sum::<f64>()
            / modes.lambda.sum();
        assert!(rel(p.ratio.unwrap(), expect) < 1e-12);
    }
    assert!(gauss[4].exact.is_none(), "eta lambda_max = 2.4 is past the limit");
    let wor = theory::breakdown::curve(
        &modes,
        0.01,
        8,
        Some(100),
        Sampling::WithoutReplacement,
        &[1.0, 6.0, 12.5],
    );
    assert!(rel(wor[0].ratio.unwrap() / gauss[0].ratio.unwrap(), 92.0 / 99.0) < 0.01);
    assert_eq!(wor[2].s, 100);
    assert_eq!(wor[2].ratio.unwrap(), 0.0, "S = N: no noise at all");
}

#[test]
fn stationary_loss_at_d_1000() {
    let eig: Vec<f64> = (0..1000).map(|i| 0.01 + i as f64 / 100.0).collect();
    let h = SpdMatrix::from_eigen(&eig, Rotation::Seeded(1)).unwrap();
    let c =
        SpdMatrix::from_eigen(&eig.iter().rev().copied().collect::<Vec<_>>(), Rotation::Seeded(2))
            .unwrap();
    let modes = Modes::new(&h, &c);
    let eta = 0.1;
    let loss = sgd::stationary_loss(&modes, eta, 0.01).unwrap();
    // Tr(C) is rotation invariant: the per-mode variances must sum to it.
    assert!(rel(modes.c.sum(), c.trace()) < 1e-10);
    assert!(loss > ou::stationary_loss(&modes, eta, 0.01));
}

#[test]
fn dense_and_eigen_inputs_agree() {
    let (h, c) = pair(5);
    let h2 = SpdMatrix::from_dense("H", h.dense()).unwrap();
    let c2 = SpdMatrix::from_dense("C", c.dense()).unwrap();
    let a = sgd::stationary_loss(&Modes::new(&h, &c), 0.3, 0.1).unwrap();
    let b = sgd::stationary_loss(&Modes::new(&h2, &c2), 0.3, 0.1).unwrap();
    assert!(rel(a, b) < 1e-10);
    // The eigendecomposition-free route: Tr((I - eta H/2)^{-1} C).
    assert!(rel(sgd::stationary_loss_dense(&h.dense(), &c.dense(), 0.3, 0.1).unwrap(), a) < 1e-10);
    let eta_bad = 2.01 / h.max_eigenvalue();
    assert!(sgd::stationary_loss_dense(&h.dense(), &c.dense(), eta_bad, 0.1).is_err());
    assert!(
        sgd::stationary_loss_dense(&h.dense(), &c.dense(), 1.99 / h.max_eigenvalue(), 0.1).is_ok()
    );
    let hh = SpdMatrix::from_eigen(&[1.0, 2.0, 3.0], Rotation::Householder(vec![1.0, 2.0, -1.0]))
        .unwrap();
    assert!((hh.dense() - hh.dense().transpose()).amax() < 1e-14);
    assert!(rel(hh.dense().trace(), 6.0) < 1e-14);
}
