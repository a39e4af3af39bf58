//! The network layer on small data: gradients, Hessian probes against exact Hessians, noise
//! probes against loops and theory, data loading, devices, determinism.

use burn::tensor::{Tensor, TensorData};
use nalgebra::{DMatrix, DVector};
use sgd_sde::net::data::{embedded_fashion_mnist, read_idx, teacher_student, Dataset};
use sgd_sde::net::probes::{
    gradient_noise, hessian_stats, hvp, lambda_max, per_example_gradients_loop, Fdr,
};
use sgd_sde::net::{Architecture, CpuF64, Model, NetworkProblem, NoiseMode, Params};
use sgd_sde::theory;
use sgd_sde::*;

type B = CpuF64;
/// `B`'s inner backend, where the probes' directions live.
type Inner = burn::backend::NdArray<f64>;

fn problem(
    sizes: Vec<usize>,
    n: usize,
    classes: usize,
    mode: NoiseMode,
    batch: usize,
    l2: f64,
) -> (NetworkProblem<B>, Params<B>) {
    let data = teacher_student(n, sizes[0], 6, classes, 5);
    let model = Model::new(Architecture::new(sizes).unwrap());
    let dev = Default::default();
    let theta = model.init::<B>(9, &dev);
    (NetworkProblem::new(model, &data, batch, mode, l2, &dev).unwrap(), theta)
}

fn vec_of<K: burn::tensor::backend::Backend>(t: &Tensor<K, 1>) -> Vec<f64> {
    t.to_data().to_vec::<f64>().unwrap()
}

pub(crate) fn loss_at(p: &NetworkProblem<B>, th: &[f64]) -> f64 {
    p.mean_loss(&Params::<B>::from_vec(th, &Default::default()).tensor)
}

/// The dense Hessian from second differences of the loss alone (no gradient code involved).
pub(crate) fn dense_fd_hessian(p: &NetworkProblem<B>, th: &[f64], eps: f64) -> DMatrix<f64> {
    let d = th.len();
    let at = |i: usize, si: f64, j: usize, sj: f64| {
        let mut t = th.to_vec();
        t[i] += si * eps;
        t[j] += sj * eps;
        loss_at(p, &t)
    };
    let mut h = DMatrix::zeros(d, d);
    for i in 0..d {
        for j in i..d {
            let v = (at(i, 1.0, j, 1.0) - at(i, 1.0, j, -1.0) - at(i, -1.0, j, 1.0)
                + at(i, -1.0, j, -1.0))
                / (4.0 * eps * eps);
            h[(i, j)] = v;
            h[(j, i)] = v;
        }
    }
    h
}

fn hvp_matrix(p: &NetworkProblem<B>, theta: &Params<B>) -> DMatrix<f64> {
    let d = theta.len();
    let mut m = DMatrix::zeros(d, d);
    for j in 0..d {
        let mut e = vec![0.0; d];
        e[j] = 1.0;
        let e = Params::<B>::from_vec(&e, &Default::default()).tensor.inner();
        let h = hvp(p, &theta.tensor, &e, 1e-5);
        assert_eq!(h.relu_flips, 0);
        m.set_column(j, &DVector::from_vec(vec_of(&h.hv)));
    }
    m
}

#[test]
fn gradient_matches_finite_differences_of_the_loss() {
    let (p, theta) = problem(vec![4, 5, 3], 40, 3, NoiseMode::FullBatch, 8, 0.01);
    let g = vec_of(&p.full_gradient(&theta.tensor));
    let th = theta.to_vec();
    for i in 0..th.len() {
        let (mut a, mut b) = (th.clone(), th.clone());
        a[i] += 1e-6;
        b[i] -= 1e-6;
        let fd = (loss_at(&p, &a) - loss_at(&p, &b)) / 2e-6;
        assert!((fd - g[i]).abs() < 1e-8, "θ[{i}]: {fd} vs {}", g[i]);
    }
}

#[test]
fn hvp_matches_the_analytic_hessian_of_binary_logistic_regression() {
    // H = mean_n p_n (1 - p_n) x~_n x~_n^T + l2 I, with x~ = (x, 1) in θ's layout (w..., b).
    let (p, theta) = problem(vec![5, 1], 60, 2, NoiseMode::FullBatch, 8, 0.05);
    let data = teacher_student(60, 5, 6, 2, 5);
    let th = theta.to_vec();
    let mut h = DMatrix::identity(6, 6) * 0.05;
    for i in 0..data.len() {
        let mut xt: Vec<f64> = data.row(i).iter().map(|&v| v as f64).collect();
        xt.push(1.0);
        let z: f64 = xt.iter().zip(&th).map(|(a, b)| a * b).sum();
        let s = 1.0 / (1.0 + (-z).exp());
        let x = DVector::from_vec(xt);
        h += &x * x.transpose() * (s * (1.0 - s) / data.len() as f64);
    }
    let m = hvp_matrix(&p, &theta);
    assert!((&m - &h).amax() < 1e-7 * h.amax(), "max error {}", (&m - &h).amax());
}

#[test]
fn hvp_matches_a_dense_finite_difference_hessian_of_a_tiny_mlp() {
    let (p, theta) = problem(vec![3, 4, 2], 30, 2, NoiseMode::FullBatch, 8, 0.0);
    let dense = dense_fd_hessian(&p, &theta.to_vec(), 1e-4);
    let m = hvp_matrix(&p, &theta);
    assert!(
        (&m - &dense).amax() < 1e-5 * dense.amax().max(1.0),
        "max error {}",
        (&m - &dense).amax()
    );
    assert!((&m - m.transpose()).amax() < 1e-7, "H v products must form a symmetric matrix");
}

#[test]
fn hutchinson_trace_frobenius_and_power_iteration_against_the_exact_hessian() {
    let (p, theta) = problem(vec![4, 6, 3], 50, 3, NoiseMode::FullBatch, 8, 0.01);
    let h = hvp_matrix(&p, &theta);
    let h = (&h + h.transpose()) * 0.5;
    let stats = hessian_stats(&p, &theta, 1600, 1e-5, 3);
    assert_eq!(stats.relu_flips, 0);
    assert!(stats.trace.agrees_with(h.trace(), 5.0), "Tr(H): {} vs {}", stats.trace, h.trace());
    assert!(
        stats.frobenius.agrees_with(h.norm(), 5.0),
        "|H|_F: {} vs {}",
        stats.frobenius,
        h.norm()
    );
    // Negative control: forgetting the L2 term (l2 * d = 0.51) is rejected by the same check.
    assert!(
        !stats.trace.agrees_with(h.trace() - 0.01 * h.nrows() as f64, 5.0),
        "{} vs {}",
        stats.trace,
        h.trace() - 0.51
    );
    let eig = nalgebra::SymmetricEigen::new(h.clone()).eigenvalues;
    let top = eig.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pi = lambda_max(&p, &theta, 1e-5, 500, 1e-6, 1);
    assert!((pi.lambda - top).abs() <= pi.residual + 1e-9 * top, "{pi:?} vs {top}");
    assert!((pi.lambda - top).abs() < 1e-3 * top, "{pi:?} vs {top}");
}

#[test]
fn per_example_trick_matches_the_loop_and_the_noise_scale() {
    let (p, theta) = problem(vec![4, 5, 3], 40, 3, NoiseMode::FullBatch, 8, 0.02);
    let fast = gradient_noise(&p, &theta).unwrap();
    let gs = per_example_gradients_loop(&p, &theta);
    let n = gs.len() as f64;
    let d = gs[0].len();
    let mean: Vec<f64> = (0..d).map(|k| gs.iter().map(|g| g[k]).sum::<f64>() / n).collect();
    let trace_c: f64 = gs
        .iter()
        .map(|g| g.iter().zip(&mean).map(|(a, b)| (a - b).powi(2)).sum::<f64>())
        .sum::<f64>()
        / n;
    assert!((fast.trace_c - trace_c).abs() < 1e-10 * trace_c, "{} vs {trace_c}", fast.trace_c);
    let full: Vec<f64> = mean.iter().zip(theta.to_vec()).map(|(g, t)| g + 0.02 * t).collect();
    let g2: f64 = full.iter().map(|v| v * v).sum();
    assert!((fast.b_simple - trace_c / g2).abs() < 1e-9 * fast.b_simple);
}

/// The noise the network problem injects has covariance f C: E|g~ - g|^2 = f Tr(C), for Gaussian
/// GD (f = 1/S) and minibatches without replacement (f = (N-S)/(S(N-1))).
#[test]
fn injected_noise_has_the_theoretical_covariance() {
    for (mode, name) in [
        (NoiseMode::GaussianGd, "gaussian"),
        (NoiseMode::Minibatch(Sampling::WithoutReplacement), "without replacement"),
        (NoiseMode::Minibatch(Sampling::WithReplacement), "with replacement"),
    ] {
        let (p, theta) = problem(vec![4, 5, 3], 30, 3, mode, 6, 0.0);
        let tc = gradient_noise(&p, &theta).unwrap().trace_c;
        let f = match mode {
            NoiseMode::Minibatch(s) => theory::noise_factor(6, Some(30), s).unwrap(),
            _ => 1.0 / 6.0,
        };
        let g = p.full_gradient(&theta.tensor);
        let mut noise = p.new_noise();
        let mut out = theta.zeros_like();
        let mut r = rng::stream(4, 0);
        let sq: Vec<f64> = (0..3000)
            .map(|_| {
                p.sample_noise(&mut r, 0.1, &mut noise);
                p.gradient(&theta, &noise, &mut out);
                let diff = out.tensor.clone() - g.clone();
                (diff.clone() * diff).sum().into_scalar()
            })
            .collect();
        let est = Estimate::from_replicas(&sq);
        assert!(est.agrees_with(f * tc, 5.0), "{name}: E|noise|^2 = {est} vs f Tr(C) = {}", f * tc);
        // Negative control: the f of another scheme is rejected (they differ by (N-S)/(N-1) = 0.83).
        let wrong = if matches!(mode, NoiseMode::Minibatch(Sampling::WithoutReplacement)) {
            tc / 6.0
        } else {
            tc * 24.0 / (6.0 * 29.0)
        };
        assert!(!est.agrees_with(wrong, 5.0), "{name}: the wrong factor was accepted");
    }
}

#[test]
fn yaida_fdr_holds_at_stationarity_and_rejects_the_wrong_relation() {
    let h = SpdMatrix::from_eigen(&[0.5, 1.0, 2.0], Rotation::Seeded(2)).unwrap();
    let (eta, m) = (0.3, 0.5);
    let problem = GaussianProblem::sgd(h.clone(), h, eta, 2, Frame::Original).unwrap();
    let fdr: Fdr<Vec<f64>, _> = Fdr::new(problem.clone(), 500, 7, eta, m);
    let out = Ensemble::new(32, 3).simulate(
        &problem,
        &HeavyBall::new(m).unwrap(),
        &vec![0.0; 3],
        eta,
        40_000,
        &fdr,
    );
    let mut pooled: Fdr<Vec<f64>, _> = Fdr::new(problem.clone(), 500, 7, eta, m);
    let mut wrong: Fdr<Vec<f64>, _> = Fdr::new(problem, 500, 7, eta, -m); // (1-m) instead of (1+m)
    for o in &out {
        pooled.theta_dot_grad.extend(&o.observer.theta_dot_grad);
        pooled.step_squared.extend(&o.observer.step_squared);
        wrong.theta_dot_grad.extend(&o.observer.theta_dot_grad);
        wrong.step_squared.extend(&o.observer.step_squared);
    }
    let r = pooled.result();
    assert!(r.residual.agrees_with(0.0, 5.0), "FDR residual {:?}", r);
    assert!(!wrong.result().residual.agrees_with(0.0, 5.0), "the (1-m) relation was accepted");
}

#[test]
fn idx_reader_validates_magic_sizes_and_compression() {
    let (train, test) = embedded_fashion_mnist();
    assert_eq!((train.len(), test.len(), train.dim, train.classes()), (2000, 1000, 784, 10));
    for k in 0..10u8 {
        assert_eq!(train.labels.iter().filter(|&&l| l == k).count(), 200);
    }
    let labels = [0u8, 0, 8, 1, 0, 0, 0, 3, 1, 2, 9];
    assert_eq!(read_idx(&labels, "ok").unwrap(), (vec![3], vec![1, 2, 9]));
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&labels).unwrap();
        e.finish().unwrap()
    };
    assert_eq!(read_idx(&gz, "gz").unwrap().1, vec![1, 2, 9]);
    let err = |b: &[u8]| read_idx(b, "f").unwrap_err().to_string();
    assert!(
        err(&labels[..10]).contains("truncated data: dimensions [3] need 3 bytes, found 2"),
        "{}",
        err(&labels[..10])
    );
    assert!(err(&[1, 0, 8, 1, 0, 0, 0, 0]).contains("bad magic number"));
    assert!(err(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("element type 0x0d"));
    assert!(err(&gz[..gz.len() - 6]).contains("corrupt gzip"));
    let mut trailing = labels.to_vec();
    trailing.push(7);
    assert!(err(&trailing).contains("trailing data"));
    let img = [0u8, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 5, 6];
    assert!(Dataset::from_idx_bytes(&img, &labels, "x")
        .unwrap_err()
        .to_string()
        .contains("2 images but 3 labels"));
}

#[test]
fn stratified_subsets_are_balanced_and_reproducible() {
    let (train, _) = embedded_fashion_mnist();
    let a = train.stratified_subset(105, 1).unwrap();
    let b = train.stratified_subset(105, 1).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, train.stratified_subset(105, 2).unwrap());
    let counts: Vec<usize> =
        (0..10u8).map(|k| a.labels.iter().filter(|&&l| l == k).count()).collect();
    assert!(counts.iter().all(|&c| c == 10 || c == 11), "{counts:?}");
    assert!(train.stratified_subset(5000, 1).is_err());
    let two = train.with_classes(&[0, 1]).unwrap();
    assert_eq!((two.len(), two.classes()), (400, 2));
}

#[test]
fn shared_fashion_mnist_loads_when_present() {
    let src = match sgd_sde::net::data::find_data_dir("fashion-mnist", None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED shared_fashion_mnist_loads_when_present: {e}");
            return;
        }
    };
    let train = sgd_sde::net::data::load_split(&src, "train").unwrap();
    let test = sgd_sde::net::data::load_split(&src, "t10k").unwrap();
    assert_eq!((train.len(), test.len(), train.dim), (60_000, 10_000, 784));
    assert!((0..10u8).all(|k| train.labels.iter().filter(|&&l| l == k).count() == 6000));
    let missing = sgd_sde::net::data::find_data_dir(
        "fashion-mnist",
        Some(std::path::Path::new("/nonexistent/dir")),
    )
    .unwrap_err();
    assert!(missing.contains("--data") && missing.contains("/nonexistent/dir"), "{missing}");
}

#[test]
fn device_choice_without_a_gpu_is_a_clear_error_or_a_fallback() {
    use sgd_sde::net::backend::{resolve, DeviceChoice, Resolved};
    if sgd_sde::net::backend::cuda_available().is_ok() {
        eprintln!("SKIPPED: a CUDA device is present");
        return;
    }
    let e = resolve(DeviceChoice::Cuda).unwrap_err();
    assert!(e.contains("--device = cuda") && e.contains("auto"), "{e}");
    assert_eq!(resolve(DeviceChoice::Auto).unwrap(), Resolved::Cpu);
    assert!(DeviceChoice::parse("tpu").is_err());
}

#[test]
fn network_training_is_bit_identical_across_thread_counts() {
    let run = || {
        let (p, mut theta) =
            problem(vec![4, 16, 3], 200, 3, NoiseMode::Minibatch(Sampling::Reshuffle), 20, 0.0);
        let mut r = rng::stream(1, 0);
        solve(
            &p,
            &mut HeavyBall::new(0.9).unwrap(),
            &mut theta,
            0.05,
            200,
            &mut r,
            &mut Snapshots::new(vec![]),
        )
        .unwrap();
        theta.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(run);
    let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap().install(run);
    assert_eq!(one, four);
}

#[test]
fn the_same_integrators_train_a_network_and_reduce_its_loss() {
    let (train, _) = embedded_fashion_mnist();
    let small = train.stratified_subset(300, 0).unwrap();
    let model = Model::new(Architecture::new(vec![784, 32, 10]).unwrap());
    let dev = Default::default();
    let p = NetworkProblem::<sgd_sde::net::CpuF32>::new(
        model.clone(),
        &small,
        30,
        NoiseMode::Minibatch(Sampling::WithoutReplacement),
        0.0,
        &dev,
    )
    .unwrap();
    for (name, result) in [
        ("sgd", {
            let mut t = model.init(1, &dev);
            let l0 = p.loss(&t);
            solve(
                &p,
                &mut EulerMaruyama::new(),
                &mut t,
                0.1,
                100,
                &mut rng::stream(1, 0),
                &mut Snapshots::new(vec![]),
            )
            .unwrap();
            (l0, p.loss(&t))
        }),
        ("heavy ball", {
            let mut t = model.init(1, &dev);
            let l0 = p.loss(&t);
            solve(
                &p,
                &mut HeavyBall::new(0.9).unwrap(),
                &mut t,
                0.01,
                100,
                &mut rng::stream(1, 0),
                &mut Snapshots::new(vec![]),
            )
            .unwrap();
            (l0, p.loss(&t))
        }),
        ("heun", {
            let mut t = model.init(1, &dev);
            let l0 = p.loss(&t);
            solve(
                &p,
                &mut StochasticHeun::new(),
                &mut t,
                0.1,
                100,
                &mut rng::stream(1, 0),
                &mut Snapshots::new(vec![]),
            )
            .unwrap();
            (l0, p.loss(&t))
        }),
    ] {
        assert!(result.1 < 0.6 * result.0, "{name}: loss {} -> {}", result.0, result.1);
    }
    let _ = TensorData::new(vec![0.0f32], [1]);
}

/// Lanczos quadrature is exact for polynomials of degree < 2k: with k = d steps from one probe,
/// `|v|^2 sum_j s_j^2 theta_j^m = v^T H^m v` for m = 1, 2, 3, against the dense Hessian.
#[test]
fn lanczos_quadrature_is_exact_for_low_degree_polynomials() {
    let (p, theta) = problem(vec![3, 3, 2], 30, 2, NoiseMode::FullBatch, 8, 0.01);
    let h = hvp_matrix(&p, &theta);
    let h = (&h + h.transpose()) * 0.5;
    let d = theta.len();
    let sd = sgd_sde::net::probes::spectral_density(&p, &theta, d, 1, 1e-5, 7);
    assert_eq!(sd.relu_flips, 0);
    // The same probe vector the quadrature used.
    use rand::Rng;
    let mut r = sgd_sde::rng::stream(7, 0x051A_0000);
    let v = DVector::from_iterator(d, (0..d).map(|_| if r.random::<bool>() { 1.0 } else { -1.0 }));
    for m in 1..=3 {
        let exact = v.dot(&(h.pow(m as u32) * &v));
        let quad = sd.trace_of(|x| x.powi(m));
        assert!((quad - exact).abs() < 1e-6 * exact.abs().max(1.0), "m = {m}: {quad} vs {exact}");
    }
    // The weights sum to d, and the nodes are H's eigenvalues (the Krylov space is all of R^d).
    assert!((sd.weights.iter().sum::<f64>() - d as f64).abs() < 1e-9);
    let top = nalgebra::SymmetricEigen::new(h.clone()).eigenvalues.max();
    assert!((sd.nodes.iter().copied().fold(f64::NEG_INFINITY, f64::max) - top).abs() < 1e-6 * top);
    // The quadrature of one form from an arbitrary vector: weights sum to |u|^2, and
    // sum_j w_j theta_j^m = u^T H^m u.
    let u = DVector::from_iterator(d, (0..d).map(|i| (i as f64 * 0.7).sin() * 3.0));
    let ut = Tensor::<B, 1>::from_data(
        TensorData::new(u.iter().copied().collect(), [d]),
        &Default::default(),
    );
    let op = sgd_sde::net::probes::HessianOperator::new(&p, &theta.tensor, 1e-5);
    let q = sgd_sde::net::probes::quadrature_along(&op, &ut.inner(), d);
    assert!((q.weights.iter().sum::<f64>() - u.norm_squared()).abs() < 1e-9 * u.norm_squared());
    for m in 1..=3 {
        let exact = u.dot(&(h.pow(m as u32) * &u));
        let quad = q.trace_of(|x| x.powi(m));
        assert!((quad - exact).abs() < 1e-6 * exact.abs().max(1.0), "m = {m}: {quad} vs {exact}");
    }
}

/// `covariance_probe` has covariance C: along a fixed direction a (G's, where leaving out the
/// centring matters most), the mean of `(u.a)^2` over 4,000 probes agrees with `a'Ca` from the
/// per-example gradients, |z| < 5 (false-alarm rate below 1e-6). Negative control: the uncentred
/// second moment `a'Ca + (G.a)^2` fails the same check. L2 > 0, which the probe must leave out.
#[test]
fn covariance_probe_has_the_gradient_covariance() {
    let (p, theta) = problem(vec![3, 4, 2], 40, 2, NoiseMode::FullBatch, 8, 0.01);
    let gs = per_example_gradients_loop(&p, &theta);
    let (n, d) = (gs.len(), gs[0].len());
    let mean: Vec<f64> = (0..d).map(|j| gs.iter().map(|g| g[j]).sum::<f64>() / n as f64).collect();
    let norm = mean.iter().map(|x| x * x).sum::<f64>().sqrt();
    let a: Vec<f64> = mean.iter().map(|x| x / norm).collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    let a_c_a = gs.iter().map(|g| (dot(g, &a) - dot(&mean, &a)).powi(2)).sum::<f64>() / n as f64;
    let g_t =
        Tensor::<Inner, 1>::from_data(TensorData::new(mean.clone(), [d]), &Default::default());
    let mut r = rng::stream(3, 0);
    let samples: Vec<f64> = (0..4000)
        .map(|_| {
            let u = vec_of(&sgd_sde::net::probes::covariance_probe(&p, &theta, &g_t, &mut r));
            dot(&u, &a).powi(2)
        })
        .collect();
    let est = stats::Estimate::from_replicas(&samples);
    let z = |theory: f64| (est.value - theory) / est.se;
    assert!(z(a_c_a).abs() < 5.0, "z = {} ({} vs a'Ca = {a_c_a})", z(a_c_a), est.value);
    let uncentred = a_c_a + dot(&mean, &a).powi(2);
    assert!(z(uncentred).abs() > 5.0, "control z = {}", z(uncentred));
}

fn bn_problem(
    mode: NoiseMode,
) -> Result<(NetworkProblem<B>, Params<B>, Dataset), sgd_sde::ProblemError> {
    let data = teacher_student(40, 4, 6, 3, 5);
    let model = Model::new(Architecture::new(vec![4, 5, 5, 3]).unwrap().with_batch_norm(true));
    let dev = Default::default();
    let theta = model.init::<B>(9, &dev);
    Ok((NetworkProblem::new(model, &data, 8, mode, 0.0, &dev)?, theta, data))
}

#[test]
fn batch_norm_normalises_and_its_gradient_matches_finite_differences() {
    let (p, theta, _) = bn_problem(NoiseMode::FullBatch).unwrap();
    assert_eq!(theta.len(), p.model.arch.n_params());
    assert_eq!(p.model.arch.n_params(), (4 * 5 + 5 + 10) + (5 * 5 + 5 + 10) + (5 * 3 + 3));
    // At initialisation (gamma = 1, beta = 0) each normalised pre-activation has mean 0, variance ~1.
    let f = p.model.forward(&theta.tensor, p.x.clone(), None);
    for z in &f.pre_activations[..2] {
        let mean = vec_of(&z.clone().mean_dim(0).reshape([5]));
        let var = vec_of(&z.clone().powi_scalar(2).mean_dim(0).reshape([5]));
        assert!(
            mean.iter().all(|m| m.abs() < 1e-12) && var.iter().all(|v| (v - 1.0).abs() < 1e-3),
            "{mean:?} {var:?}"
        );
    }
    // The full-batch gradient (statistics of the whole training set) against the loss's differences.
    let mut th = theta.to_vec();
    th.iter_mut().enumerate().for_each(|(i, v)| *v += 0.01 * ((i % 7) as f64 - 3.0)); // move gamma, beta off 1, 0
    let at = Params::<B>::from_vec(&th, &Default::default());
    let g = vec_of(&p.full_gradient(&at.tensor));
    for i in 0..th.len() {
        let (mut a, mut b) = (th.clone(), th.clone());
        a[i] += 1e-6;
        b[i] -= 1e-6;
        let fd = (loss_at(&p, &a) - loss_at(&p, &b)) / 2e-6;
        assert!((fd - g[i]).abs() < 1e-7, "θ[{i}]: {fd} vs {}", g[i]);
    }
}

#[test]
fn batch_norm_evaluation_uses_training_statistics_not_the_test_batch() {
    let (p, theta, data) = bn_problem(NoiseMode::FullBatch).unwrap();
    let test = teacher_student(10, 4, 6, 3, 6);
    let whole = sgd_sde::net::train::EvalSet::<B>::new(&p.model, &test, &data, &Default::default());
    let (loss_all, _) = whole.evaluate(&p.model, &theta.tensor);
    // Evaluating examples in two halves gives the same mean loss: predictions do not depend on
    // which other test examples share the batch.
    let halves: f64 = [
        test.select(&(0..5).collect::<Vec<_>>(), "a"),
        test.select(&(5..10).collect::<Vec<_>>(), "b"),
    ]
    .iter()
    .map(|h| {
        sgd_sde::net::train::EvalSet::<B>::new(&p.model, h, &data, &Default::default())
            .evaluate(&p.model, &theta.tensor)
            .0
            / 2.0
    })
    .sum();
    assert!((loss_all - halves).abs() < 1e-12, "{loss_all} vs {halves}");
}

#[test]
fn batch_norm_refuses_per_example_quantities_and_still_trains() {
    let e = bn_problem(NoiseMode::GaussianGd).unwrap_err();
    assert!(e.valid.contains("per-example gradients"), "{e}");
    let (p, theta, _) = bn_problem(NoiseMode::Minibatch(Sampling::WithoutReplacement)).unwrap();
    assert!(gradient_noise(&p, &theta).unwrap_err().contains("batch norm"));
    let mut t = theta.clone();
    let l0 = p.loss(&t);
    solve(
        &p,
        &mut EulerMaruyama::new(),
        &mut t,
        0.2,
        200,
        &mut rng::stream(3, 0),
        &mut Snapshots::new(vec![]),
    )
    .unwrap();
    assert!(p.loss(&t) < 0.7 * l0, "{} -> {}", l0, p.loss(&t));
}

#[test]
fn multiclass_logistic_regression_hvp_matches_the_dense_finite_difference_hessian() {
    let arch = Architecture::logistic(3, 4);
    assert_eq!(arch.sizes, vec![3, 4]);
    let (p, theta) = problem(arch.sizes.clone(), 40, 4, NoiseMode::FullBatch, 8, 0.01);
    let dense = dense_fd_hessian(&p, &theta.to_vec(), 1e-4);
    let m = hvp_matrix(&p, &theta);
    assert!(
        (&m - &dense).amax() < 1e-5 * dense.amax().max(1.0),
        "max error {}",
        (&m - &dense).amax()
    );
    // Softmax cross-entropy is convex: the Hessian is positive semi-definite (plus l2 I).
    let eig = nalgebra::SymmetricEigen::new((&m + m.transpose()) * 0.5).eigenvalues;
    assert!(eig.min() > 0.0099, "{eig}");
    assert_eq!(Architecture::logistic(3, 2).sizes, vec![3, 1], "binary uses one logit");
}

/// burn keeps one default float dtype per device (its device-settings registry). When the f32
/// training backend and the f64 probe backend shared the CPU device type, whichever ran first set
/// the dtype for both, and "f64" probes after f32 training computed in f32. The two must stay on
/// different devices: after training in f32, every probe tensor is still f64.
#[test]
fn f64_probes_stay_f64_after_f32_training() {
    use burn::tensor::DType;
    use sgd_sde::net::CpuF32;
    let data = teacher_student(40, 5, 3, 2, 1);
    let model = Model::new(Architecture::new(vec![5, 4, 2]).unwrap());
    let dev32 = Default::default();
    let p32 =
        NetworkProblem::<CpuF32>::new(model.clone(), &data, 8, NoiseMode::FullBatch, 0.0, &dev32)
            .unwrap();
    let th32 = model.init::<CpuF32>(0, &dev32);
    let g32 = p32.full_gradient(&th32.tensor);
    assert_eq!(g32.dtype(), DType::F32);
    let dev64 = Default::default();
    let p64 =
        NetworkProblem::<CpuF64>::new(model.clone(), &data, 8, NoiseMode::FullBatch, 0.0, &dev64)
            .unwrap();
    let th64 = Params::<CpuF64>::from_vec(&th32.to_vec(), &dev64);
    assert_eq!(p64.x.dtype(), DType::F64);
    assert_eq!(th64.tensor.dtype(), DType::F64);
    assert_eq!(p64.full_gradient(&th64.tensor).dtype(), DType::F64);
    assert_eq!(Tensor::<CpuF64, 1>::ones([3], &dev64).dtype(), DType::F64);
}

/// SVAG at l = 1 is SGD, bit for bit; under SVAG the run takes l steps of eta / l per SGD step
/// and refuses momentum.
#[test]
fn svag_at_l_one_is_sgd_and_refuses_momentum() {
    use sgd_sde::net::train::{run, TrainSpec};
    let mode = NoiseMode::Minibatch(sgd_sde::problems::Sampling::WithReplacement);
    let (p, theta0) = problem(vec![4, 5, 3], 40, 3, mode, 4, 0.0);
    let train = |spec: TrainSpec| {
        let mut theta = theta0.clone();
        let steps = spec.steps(40, 4).unwrap();
        run(&p, &mut theta, &spec, steps, &mut Series::new(usize::MAX, 1)).map(|_| theta.to_vec())
    };
    let sgd_spec = TrainSpec::sgd(0.05, 0.0, 1.0, 7);
    let sgd = train(sgd_spec).unwrap();
    assert_eq!(train(TrainSpec::svag(0.05, 1.0, 1.0, 7)).unwrap(), sgd);
    let svag = TrainSpec::svag(0.05, 4.0, 1.0, 7);
    assert_eq!(svag.steps(40, 4).unwrap(), 4 * sgd_spec.steps(40, 4).unwrap());
    assert_eq!(svag.step_size(), 0.05 / 4.0);
    assert_ne!(train(svag).unwrap(), sgd);
    let with_momentum = TrainSpec { momentum: 0.9, ..svag };
    assert!(train(with_momentum).unwrap_err().to_string().contains("svag"));
}

/// Lanczos's top eigenpairs of a small MLP's Hessian against the dense matrix of its HVPs: the
/// values agree, the vectors align and each residual bounds the distance to some eigenvalue.
#[test]
fn top_eigenpairs_match_the_dense_hessian() {
    use sgd_sde::net::probes::top_eigenpairs;
    let (p, theta) = problem(vec![4, 6, 3], 40, 3, NoiseMode::FullBatch, 8, 0.01);
    let m = hvp_matrix(&p, &theta);
    let sym = (&m + m.transpose()) * 0.5;
    let eig = nalgebra::SymmetricEigen::new(sym);
    let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let d = theta.len();
    let top = top_eigenpairs(&p, &theta, 3, d, 1e-5, 4);
    for (j, &i) in order.iter().take(3).enumerate() {
        let exact = eig.eigenvalues[i];
        assert!(
            (top.values[j] - exact).abs() < 1e-6 * exact.abs().max(1.0),
            "{j}: {} vs {exact}",
            top.values[j]
        );
        let y = vec_of(&top.vectors[j]);
        let u = eig.eigenvectors.column(i);
        let cos: f64 = y.iter().zip(u.iter()).map(|(a, b)| a * b).sum();
        assert!((cos.abs() - 1.0).abs() < 1e-5, "{j}: |cos| = {}", cos.abs());
    }
    // Fewer steps: lambda_max still within its residual (plus the HVP's own error) of the truth.
    let short = top_eigenpairs(&p, &theta, 1, 8, 1e-5, 4);
    let lmax = eig.eigenvalues[order[0]];
    assert!(
        (short.values[0] - lmax).abs() <= short.residuals[0] + 1e-6 * lmax,
        "{:?} vs {lmax}",
        short.values
    );
}

#[test]
fn a_constant_schedule_reproduces_the_constant_run_bit_for_bit() {
    use sgd_sde::net::train::{run, run_scheduled, TrainSpec};
    use sgd_sde::schedule::{Schedule, StepPlan};
    let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
    let (p, theta0) = problem(vec![4, 8, 3], 120, 3, mode, 12, 0.0);
    let spec = TrainSpec::sgd(0.05, 0.0, 3.0, 4);
    let c = |value| Schedule::Constant { value };
    let plan = StepPlan::new(&c(0.05), &c(12.0), 120, 3.0, ("eta", "S")).unwrap();
    assert_eq!(plan.steps(), spec.steps(120, 12).unwrap()); // 30 either way
    let mut a = theta0.clone();
    run(&p, &mut a, &spec, 30, &mut Snapshots::new(vec![])).unwrap();
    let mut b = theta0.clone();
    let scheduled = p.clone().with_batch_sizes(&plan.batch).unwrap();
    run_scheduled(&scheduled, &mut b, &spec, &plan.h, &mut Snapshots::new(vec![])).unwrap();
    assert_eq!(a.to_vec(), b.to_vec());
    // A different step size at one step changes the run (the schedule is read, not ignored).
    let mut h = plan.h.clone();
    h[10] = 0.5;
    let mut c3 = theta0.clone();
    run_scheduled(&scheduled, &mut c3, &spec, &h, &mut Snapshots::new(vec![])).unwrap();
    assert_ne!(a.to_vec(), c3.to_vec());
}

#[test]
fn a_batch_schedule_draws_the_planned_sizes_and_reshuffles_across_epochs() {
    use sgd_sde::problems::StochasticProblem;
    let (p, _) = problem(vec![4, 8, 3], 10, 3, NoiseMode::Minibatch(Sampling::Reshuffle), 2, 0.0);
    let p = p.with_batch_sizes(&[4, 4, 4, 4, 4, 3]).unwrap();
    let mut noise = p.new_noise();
    let mut r = rng::stream(3, 0);
    let mut drawn = Vec::new();
    for size in [4, 4, 4, 4, 4, 3, 3] {
        p.sample_noise(&mut r, 0.1, &mut noise);
        assert_eq!(noise.batch.indices.len(), size); // past the plan: its last size
        drawn.extend_from_slice(&noise.batch.indices);
    }
    // Each run of N = 10 draws is one epoch's permutation, though batches straddle epochs.
    for epoch in drawn.chunks(10).take(2) {
        let mut e = epoch.to_vec();
        e.sort_unstable();
        assert_eq!(e, (0..10).collect::<Vec<_>>());
    }
    let bad = problem(vec![4, 8, 3], 10, 3, NoiseMode::GaussianGd, 2, 0.0).0;
    assert_eq!(bad.with_batch_sizes(&[2]).unwrap_err().parameter, "batch schedule");
    let p2 = problem(vec![4, 8, 3], 10, 3, NoiseMode::Minibatch(Sampling::Reshuffle), 2, 0.0).0;
    assert!(p2.clone().with_batch_sizes(&[2, 11]).is_err() && p2.with_batch_sizes(&[]).is_err());
}

#[test]
fn nudged_sgd_rescales_the_gradient_only_inside_its_subspace() {
    use sgd_sde::net::nudged::{random_orthonormal, Nudged};
    use sgd_sde::problems::StochasticProblem;
    let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
    let (p, theta) = problem(vec![4, 8, 3], 60, 3, mode, 6, 0.0);
    let d = theta.len();
    let u = random_orthonormal(d, 3, &mut rng::stream(5, 0));
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for (i, a) in u.iter().enumerate() {
        for (j, b) in u.iter().enumerate() {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot(a, b) - want).abs() < 1e-12, "U'U at ({i}, {j}): {}", dot(a, b));
        }
    }
    let directions = u.iter().map(|v| Params::<B>::from_vec(v, &Default::default())).collect();
    let nudged = Nudged { inner: &p, directions, gamma: 0.25 };
    let mut noise = p.new_noise();
    p.sample_noise(&mut rng::stream(1, 0), 0.1, &mut noise);
    let (mut g, mut gn) = (theta.zeros_like(), theta.zeros_like());
    p.gradient(&theta, &noise, &mut g);
    nudged.gradient(&theta, &noise, &mut gn);
    let (g, gn) = (g.to_vec(), gn.to_vec());
    let scale = dot(&g, &g).sqrt();
    // Inside the subspace the component is multiplied by gamma ...
    for ui in &u {
        assert!((dot(ui, &gn) - 0.25 * dot(ui, &g)).abs() < 1e-10 * scale);
    }
    // ... and outside it nothing changes: gn - g lies in span(U).
    let diff: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
    let mut rest = diff.clone();
    for ui in &u {
        let c = dot(ui, &diff);
        rest.iter_mut().zip(ui).for_each(|(r, x)| *r -= c * x);
    }
    assert!(dot(&rest, &rest).sqrt() < 1e-10 * scale);
    assert!(dot(&diff, &diff).sqrt() > 1e-3 * scale, "the nudge changed nothing");
}
