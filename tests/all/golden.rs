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

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A diagonal problem fuses Euler-Maruyama's gradient and update into one pass
    /// (`StochasticProblem::descend`); it must round every coordinate exactly as the two passes
    /// `g = H x + sqrt(T/h) C^{1/2} z`, `x <- x - h g` do, in any dimension (the vector loops'
    /// remainders included). A rotated `C` takes the unfused route, which must agree too. The
    /// same holds for the step that also sums the loss of the new `x`
    /// (`StochasticProblem::descend_then_loss`), against `loss` after the two passes.
    #[test]
    fn the_fused_diagonal_step_gives_the_bits_of_gradient_then_axpy(
        d in 1usize..40,
        seed in 0u64..1000,
        h in 1e-4f64..1.0,
        temperature in 1e-4f64..1.0,
        rotated_noise in proptest::bool::ANY,
    ) {
        use sgd_sde::{State, StochasticProblem};
        let mut r = seed;
        let mut next = move || {
            r = sgd_sde::rng::splitmix64(r);
            (r >> 11) as f64 / (1u64 << 53) as f64
        };
        let hs: Vec<f64> = (0..d).map(|_| 0.01 + 10.0 * next()).collect();
        let cs: Vec<f64> = (0..d).map(|_| 0.01 + 10.0 * next()).collect();
        let rotation = if rotated_noise { Rotation::Seeded(seed) } else { Rotation::Identity };
        let p = GaussianProblem::new(
            SpdMatrix::from_eigen(&hs, Rotation::Identity).unwrap(),
            SpdMatrix::from_eigen(&cs, rotation).unwrap(),
            temperature,
            Frame::Original,
        )
        .unwrap();
        let x0: Vec<f64> = (0..d).map(|_| 4.0 * next() - 2.0).collect();
        let z: Vec<f64> = (0..d).map(|_| 6.0 * next() - 3.0).collect();
        let noise = GaussianNoise::new(z, (temperature / h).sqrt());
        let (mut fused, mut scratch) = (x0.clone(), vec![0.0; d]);
        p.descend(&mut fused, &noise, h, &mut scratch);
        let mut with_loss = x0.clone();
        let loss = p.descend_then_loss(&mut with_loss, &noise, h, &mut scratch);
        let (mut two_passes, mut g) = (x0, vec![0.0; d]);
        p.gradient(&two_passes, &noise, &mut g);
        two_passes.axpy(-h, &g);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        proptest::prop_assert_eq!(bits(&fused), bits(&two_passes));
        proptest::prop_assert_eq!(bits(&with_loss), bits(&two_passes));
        proptest::prop_assert_eq!(loss.to_bits(), p.loss(&two_passes).to_bits());
    }
}

/// The noise scale `sqrt(T / h)` is cached between draws of equal `h` and `T`: it must follow any
/// change of either, bit for bit, and overwrite a scale set by hand.
#[test]
fn the_noise_scale_follows_h_and_the_temperature() {
    use sgd_sde::StochasticProblem;
    let (p, q) = (problem(), {
        let h = SpdMatrix::from_eigen(&[1.0, 2.0], Rotation::Identity).unwrap();
        GaussianProblem::new(h.clone(), h, 0.3, Frame::Original).unwrap()
    });
    let mut rng = sgd_sde::rng::stream(1, 0);
    let mut noise = p.new_noise();
    for (problem, t, h) in
        [(&p, 0.1, 0.1), (&p, 0.1, 0.1), (&p, 0.1, 0.4), (&q, 0.3, 0.4), (&p, 0.1, 0.4)]
    {
        noise.scale = -1.0;
        problem.sample_noise(&mut rng, h, &mut noise);
        assert_eq!(noise.scale.to_bits(), (t / h).sqrt().to_bits(), "T = {t}, h = {h}");
    }
}
