//! Ensemble outputs are bit-identical for 1, 2 and 8 threads.

use crate::common::gaussian_points;
use sgd_sde::{
    Ensemble, EulerMaruyama, FiniteSumQuadratic, Frame, GaussianProblem, HeavyBall, Rotation,
    Sampling, SpdMatrix,
};

fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap().install(f)
}

#[test]
fn bit_identical_across_thread_counts() {
    let h = SpdMatrix::from_eigen(&[0.5, 1.0, 3.0], Rotation::Seeded(1)).unwrap();
    let c = SpdMatrix::from_eigen(&[1.0, 1.0, 0.2], Rotation::Seeded(2)).unwrap();
    let gauss = GaussianProblem::sgd(h.clone(), c, 0.2, 4, Frame::Original).unwrap();
    let data = FiniteSumQuadratic::new(h, &gaussian_points(24, 3, 1.0, 9), 6, Sampling::Reshuffle)
        .unwrap();
    let run = || {
        let e = Ensemble::new(37, 2024);
        let a =
            e.stationary_loss(&gauss, &EulerMaruyama::new(), &vec![1.0; 3], 0.2, 100, 500).unwrap();
        let b = e
            .stationary_loss(&data, &HeavyBall::new(0.3).unwrap(), &vec![0.0; 3], 0.2, 100, 500)
            .unwrap();
        let t = e
            .transient_loss(&gauss, &EulerMaruyama::new(), &vec![1.0; 3], 0.2, &[1, 10, 50])
            .unwrap();
        let mut bits = vec![a.value.to_bits(), a.se.to_bits(), b.value.to_bits(), b.se.to_bits()];
        bits.extend(t.iter().map(|e| e.value.to_bits()));
        bits
    };
    let one = with_threads(1, run);
    assert_eq!(one, with_threads(2, run));
    assert_eq!(one, with_threads(8, run));
    // A different seed gives different numbers (the check above is not vacuous).
    let other = with_threads(2, || {
        Ensemble::new(37, 2025)
            .stationary_loss(&gauss, &EulerMaruyama::new(), &vec![1.0; 3], 0.2, 100, 500)
            .unwrap()
    });
    assert_ne!(other.value.to_bits(), one[0]);
}
