//! Value stability: the first two steps of each integrator on fixed (non-random) noise inputs,
//! against values worked out by hand from the update rules (arithmetic shown), so a change to
//! any rule is caught. Setup: H = diag(1, 2), C = diag(4, 1) (so C^{1/2} = diag(2, 1)),
//! h = 0.1, temperature T = 0.1 (noise scale sqrt(T/h) = 1), x0 = (1, -1), z1 = (0.5, -1),
//! z2 = (-1, 2). The stochastic gradient is g(x; z) = H x + C^{1/2} z.

use sgd_sde::{
    EulerMaruyama, ExactOu, Frame, GaussianNoise, GaussianProblem, HeavyBall, Integrator,
    LeimkuhlerMatthews, Rotation, SpdMatrix, StochasticHeun,
};

fn problem() -> GaussianProblem {
    let h = SpdMatrix::from_eigen(&[1.0, 2.0], Rotation::Identity).unwrap();
    let c = SpdMatrix::from_eigen(&[4.0, 1.0], Rotation::Identity).unwrap();
    GaussianProblem::new(h, c, 0.1, Frame::Original).unwrap()
}

fn two_steps<I: Integrator<Vec<f64>, GaussianProblem>>(mut integ: I) -> [Vec<f64>; 2] {
    let p = problem();
    let mut x = vec![1.0, -1.0];
    integ.step(&p, &mut x, &GaussianNoise::new(vec![0.5, -1.0], 1.0), 0.1);
    let x1 = x.clone();
    integ.step(&p, &mut x, &GaussianNoise::new(vec![-1.0, 2.0], 1.0), 0.1);
    [x1, x]
}

fn close(a: &[f64], b: &[f64]) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-14, "{a:?} != {b:?}");
    }
}

#[test]
fn euler_maruyama() {
    // g(x0; z1) = (1 + 2*0.5, -2 - 1) = (2, -3); x1 = x0 - 0.1 g = (0.8, -0.7).
    // g(x1; z2) = (0.8 - 2, -1.4 + 2) = (-1.2, 0.6); x2 = (0.92, -0.76).
    let [x1, x2] = two_steps(EulerMaruyama::new());
    close(&x1, &[0.8, -0.7]);
    close(&x2, &[0.92, -0.76]);
}

#[test]
fn heavy_ball() {
    // m = 0.5. v1 = -0.1 (2, -3) = (-0.2, 0.3); x1 = (0.8, -0.7).
    // v2 = 0.5 v1 - 0.1 (-1.2, 0.6) = (0.02, 0.09); x2 = (0.82, -0.61).
    let [x1, x2] = two_steps(HeavyBall::new(0.5).unwrap());
    close(&x1, &[0.8, -0.7]);
    close(&x2, &[0.82, -0.61]);
}

#[test]
fn stochastic_heun() {
    // Predictor p = (0.8, -0.7); g(p; z1) = (0.8 + 1, -1.4 - 1) = (1.8, -2.4);
    // x1 = x0 - 0.05 ((2, -3) + (1.8, -2.4)) = (0.81, -0.73).
    // g(x1; z2) = (0.81 - 2, -1.46 + 2) = (-1.19, 0.54); p = (0.929, -0.784);
    // g(p; z2) = (0.929 - 2, -1.568 + 2) = (-1.071, 0.432); x2 = x1 - 0.05 (-2.261, 0.972) = (0.92305, -0.7786).
    let [x1, x2] = two_steps(StochasticHeun::new());
    close(&x1, &[0.81, -0.73]);
    close(&x2, &[0.92305, -0.7786]);
}

#[test]
fn leimkuhler_matthews() {
    // First step is EM: x1 = (0.8, -0.7). Then x2 = x1 - 0.05 (g(x1; z2) + g(x1; z1))
    // = x1 - 0.05 ((-1.2, 0.6) + (1.8, -2.4)) = (0.77, -0.61).
    let [x1, x2] = two_steps(LeimkuhlerMatthews::new());
    close(&x1, &[0.8, -0.7]);
    close(&x2, &[0.77, -0.61]);
}

#[test]
fn exact_ou() {
    // x_i <- e^{-lambda_i h} x_i + sqrt(T c_i (1 - e^{-2 lambda_i h}) / (2 lambda_i)) z_i,
    // evaluated independently (Python, IEEE doubles).
    let [x1, x2] = two_steps(ExactOu::new());
    close(&x1, &[1.000039636214429, -0.9095162081305893]);
    close(&x2, &[0.7144688460089451, -0.5630779799141729]);
}
