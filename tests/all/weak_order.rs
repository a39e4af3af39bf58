//! Weak orders from coupled nested step sizes (h_l = h0 / 2^l, the same Brownian path at every
//! level), on the transient mean loss at t = 1. EM must show a slope near 1 and Heun near 2;
//! "near" is |slope - order| < 0.15, which also leaves room for the pre-asymptotic term
//! (EM's slope is 1 + O(h0 lambda)). Each slope's jackknife SE must be small enough that the
//! neighbouring order is rejected by more than 5 SE (the negative control).

use sgd_sde::stats::{weak_order_slope, Slope};
use sgd_sde::*;

fn coupled<I: Integrator<Vec<f64>, GaussianProblem> + Sync>(
    integ: &I,
    h0: f64,
    levels: usize,
    paths: usize,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let h = SpdMatrix::from_eigen(&[1.0, 3.0], Rotation::Seeded(4)).unwrap();
    let p = GaussianProblem::new(h.clone(), h, 0.5, Frame::Original).unwrap();
    sgd_sde::coupling::coupled_levels(
        &p,
        integ,
        &[1.0, -1.0],
        1.0,
        h0,
        levels,
        &Ensemble::new(paths, 11),
    )
    .unwrap()
}

fn check(s: Slope, order: f64, other: f64) {
    assert!(
        (s.slope - order).abs() < 0.15,
        "slope {:.3} ± {:.3}, expected about {order}",
        s.slope,
        s.se
    );
    assert!(
        (s.slope - other).abs() > 5.0 * s.se,
        "slope {:.3} ± {:.3} cannot tell {order} from {other}",
        s.slope,
        s.se
    );
}

#[test]
fn euler_maruyama_has_weak_order_one() {
    let (hs, pp) = coupled(&EulerMaruyama::new(), 0.0125, 4, 20_000);
    check(weak_order_slope(&hs, &pp, 20), 1.0, 2.0);
}

#[test]
fn stochastic_heun_has_weak_order_two() {
    let (hs, pp) = coupled(&StochasticHeun::new(), 0.2, 5, 40_000);
    check(weak_order_slope(&hs, &pp, 20), 2.0, 1.0);
}

#[test]
fn exact_ou_has_no_discretisation_bias_between_levels() {
    let (_, pp) = coupled(&ExactOu::new(), 0.2, 4, 40_000);
    for l in 0..3 {
        let diffs: Vec<f64> = pp.iter().map(|f| f[l] - f[l + 1]).collect();
        let e = Estimate::from_replicas(&diffs);
        assert!(e.agrees_with(0.0, 5.0), "level {l}: E[f_l - f_l+1] = {e}");
    }
    // Negative control: EM's level differences at the same steps are far from zero.
    let (_, em) = coupled(&EulerMaruyama::new(), 0.2, 2, 40_000);
    let e = Estimate::from_replicas(&em.iter().map(|f| f[0] - f[1]).collect::<Vec<_>>());
    assert!(!e.agrees_with(0.0, 5.0), "EM's bias went undetected: {e}");
}
