//! Throughput in path-coordinate-steps per second (criterion "elements").
//!
//! `cargo bench --bench throughput` runs the workload: diagonal OU/EM, d = 100, P = 1000
//! paths, T = 10,000 steps of h = 0.01, eta/S = 1e-3, eigenvalues log-spaced in [0.1, 10]
//! (1e9 path-coordinate-steps in f64), with the time-averaged loss over the last half as output.
//! The baseline in the same run is the generator alone drawing the same 1e9 normals.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nalgebra::DMatrix;
use sgd_sde::problems::PathBlock;
use sgd_sde::theory::{momentum, reshuffle, sgd, Modes};
use sgd_sde::*;

const D: usize = 100;
const PATHS: usize = 1000;
const STEPS: usize = 10_000;
const H: f64 = 0.01;

fn log_spaced(d: usize) -> Vec<f64> {
    (0..d).map(|i| 0.1 * 100f64.powf(i as f64 / (d - 1) as f64)).collect()
}

fn diagonal(c: &mut Criterion) {
    let h = SpdMatrix::from_eigen(&log_spaced(D), Rotation::Identity).unwrap();
    let problem = GaussianProblem::new(h.clone(), h, 1e-3, Frame::Eigen).unwrap();
    let x0 = vec![0.0; D];
    let mut g = c.benchmark_group("diagonal_d100_P1000_T10000");
    g.sample_size(10).throughput(Throughput::Elements((D * PATHS * STEPS) as u64));
    g.bench_function("normals_only_baseline", |b| {
        b.iter(|| {
            let sums = Ensemble::new(PATHS, 1).map(|_, r| {
                let mut z = vec![0.0; D];
                let mut acc = 0.0;
                for _ in 0..STEPS {
                    rng::fill_normals(r, &mut z);
                    acc += z[0];
                }
                acc
            });
            black_box(sums)
        })
    });
    g.bench_function("scalar_ziggurat_reference", |b| {
        // The generator before the vectorised one: rand_distr's ziggurat on one Xoshiro256++.
        use rand::Rng;
        b.iter(|| {
            let sums = Ensemble::new(PATHS, 1).map(|p, _| {
                let mut r = <rand_xoshiro::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(
                    p as u64,
                );
                let mut z = vec![0.0; D];
                let mut acc = 0.0;
                for _ in 0..STEPS {
                    z.iter_mut().for_each(|zi| *zi = r.sample(rand_distr::StandardNormal));
                    acc += z[0];
                }
                acc
            });
            black_box(sums)
        })
    });
    g.bench_function("euler_maruyama", |b| {
        b.iter(|| {
            black_box(
                Ensemble::new(PATHS, 1)
                    .stationary_loss(&problem, &EulerMaruyama::new(), &x0, H, STEPS / 2, STEPS / 2)
                    .unwrap(),
            )
        })
    });
    g.bench_function("exact_ou", |b| {
        b.iter(|| {
            black_box(
                Ensemble::new(PATHS, 1)
                    .stationary_loss(&problem, &ExactOu::new(), &x0, H, STEPS / 2, STEPS / 2)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn dense(c: &mut Criterion) {
    const STEPS_DENSE: usize = 1000;
    let h = SpdMatrix::from_eigen(&log_spaced(D), Rotation::Seeded(1)).unwrap();
    let problem = GaussianProblem::new(h.clone(), h, 1e-3, Frame::Original).unwrap();
    let mut g = c.benchmark_group("dense_d100_P1000_T1000");
    g.sample_size(10).throughput(Throughput::Elements((D * PATHS * STEPS_DENSE) as u64));
    g.bench_function("per_path_matvec", |b| {
        b.iter(|| {
            black_box(
                Ensemble::new(PATHS, 1)
                    .stationary_loss(
                        &problem,
                        &EulerMaruyama::new(),
                        &vec![0.0; D],
                        H,
                        STEPS_DENSE / 2,
                        STEPS_DENSE / 2,
                    )
                    .unwrap(),
            )
        })
    });
    for width in [25, 50, 100] {
        let block = PathBlock { problem: problem.clone(), width };
        let x0 = DMatrix::zeros(D, width);
        g.bench_function(format!("gemm_blocks_of_{width}"), |b| {
            b.iter(|| {
                black_box(
                    Ensemble::new(PATHS / width, 1)
                        .stationary_loss(
                            &block,
                            &EulerMaruyama::new(),
                            &x0,
                            H,
                            STEPS_DENSE / 2,
                            STEPS_DENSE / 2,
                        )
                        .unwrap(),
                )
            })
        });
    }
    g.finish();
}

fn theory(c: &mut Criterion) {
    let eig: Vec<f64> = (0..1000).map(|i| 0.01 + i as f64 / 100.0).collect();
    let h = SpdMatrix::from_eigen(&eig, Rotation::Seeded(1)).unwrap();
    let c_other =
        SpdMatrix::from_eigen(&eig.iter().rev().copied().collect::<Vec<_>>(), Rotation::Seeded(2))
            .unwrap();
    let h_dense = h.dense();
    let mut g = c.benchmark_group("theory_d1000");
    g.sample_size(10);
    g.bench_function("sgd_stationary_loss_c_eq_h", |b| {
        b.iter(|| sgd::stationary_loss(&Modes::new(&h, &h), 0.1, 0.01).unwrap())
    });
    g.bench_function("sgd_stationary_loss_c_ne_h", |b| {
        b.iter(|| sgd::stationary_loss(&Modes::new(&h, &c_other), 0.1, 0.01).unwrap())
    });
    g.bench_function("sgd_stationary_loss_from_dense_h", |b| {
        b.iter(|| {
            let hd = SpdMatrix::from_dense("H", h_dense.clone()).unwrap();
            sgd::stationary_loss(&Modes::new(&hd, &hd), 0.1, 0.01).unwrap()
        })
    });
    let c_dense = c_other.dense();
    g.bench_function("sgd_stationary_loss_dense_cholesky", |b| {
        b.iter(|| sgd::stationary_loss_dense(&h_dense, &c_dense, 0.1, 0.01).unwrap())
    });
    let modes = Modes::new(&h, &h);
    g.bench_function("momentum_stationary_loss", |b| {
        b.iter(|| momentum::stationary_loss(&modes, 0.1, 0.9, 0.01).unwrap())
    });
    g.bench_function("reshuffle_stationary_loss_N1000_S10", |b| {
        b.iter(|| reshuffle::stationary_loss(&modes, 0.1, 10, 1000).unwrap())
    });
    g.finish();
}

criterion_group!(benches, diagonal, dense, theory);
criterion_main!(benches);
