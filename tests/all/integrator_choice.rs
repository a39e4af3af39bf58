//! The one integrator dispatch: names, declared orders, support, and what `sgd` with momentum is.

use sgd_sde::ensemble::Ensemble;
use sgd_sde::integrators::{
    EulerMaruyama, ExactOu, HeavyBall, Integrator, IntegratorKind, IntegratorTask,
    LeimkuhlerMatthews, StochasticHeun,
};
use sgd_sde::observers::TimeAverage;
use sgd_sde::problems::{Frame, GaussianProblem, StochasticProblem};
use sgd_sde::spd::{Rotation, SpdMatrix};

fn problem() -> GaussianProblem {
    let h = SpdMatrix::from_eigen(&[0.5, 1.0, 2.0], Rotation::Seeded(3)).unwrap();
    GaussianProblem::sgd(h.clone(), h, 0.2, 4, Frame::Eigen).unwrap()
}

/// Reports the rule's own name and declared orders, and a short run's per-path means.
struct Probe;

impl<P: StochasticProblem<Vec<f64>>> IntegratorTask<Vec<f64>, P> for Probe {
    type Output = (&'static str, f64, Vec<f64>);
    fn run<I: Integrator<Vec<f64>, P> + Sync>(self, p: &P, i: I) -> Self::Output {
        let x0 = vec![1.0; p.dim()];
        let out = Ensemble::new(4, 9).simulate(p, &i, &x0, 0.2, 300, &TimeAverage::new(100, 300));
        (i.name(), i.order().weak, out.iter().map(|o| o.observer.mean()).collect())
    }
}

#[test]
fn orders_are_read_from_the_rules_not_repeated() {
    let p = problem();
    let expected = [
        (IntegratorKind::Sgd, "euler_maruyama", EulerMaruyama::<Vec<f64>>::ORDER),
        (IntegratorKind::HeavyBall, "heavy_ball", HeavyBall::<Vec<f64>>::ORDER),
        (IntegratorKind::StochasticHeun, "stochastic_heun", StochasticHeun::<Vec<f64>>::ORDER),
        (
            IntegratorKind::LeimkuhlerMatthews,
            "leimkuhler_matthews",
            LeimkuhlerMatthews::<Vec<f64>, ()>::ORDER,
        ),
        (IntegratorKind::ExactOu, "exact_ou", ExactOu::ORDER),
    ];
    assert_eq!(expected.len(), IntegratorKind::ALL.len());
    for (kind, rule_name, order) in expected {
        assert_eq!(kind.order(), order, "{kind:?}");
        let (name, weak, _) = kind.dispatch(&p, 0.0, Probe).unwrap();
        assert_eq!(name, rule_name);
        assert_eq!(weak, order.weak);
        assert_eq!(IntegratorKind::parse(kind.name()).unwrap(), kind);
    }
    // The weak orders the suites and the weak-order command claim by default.
    assert_eq!(IntegratorKind::Sgd.order().weak, 1.0);
    assert_eq!(IntegratorKind::StochasticHeun.order().weak, 2.0);
}

#[test]
fn sgd_with_momentum_is_exactly_heavy_ball() {
    let p = problem();
    let (name, _, sgd) = IntegratorKind::Sgd.dispatch(&p, 0.5, Probe).unwrap();
    let (_, _, hb) = IntegratorKind::HeavyBall.dispatch(&p, 0.5, Probe).unwrap();
    assert_eq!(name, "heavy_ball");
    assert_eq!(sgd, hb);
    // ... and without momentum it is Euler-Maruyama, which heavy ball at m = 0 matches in law
    // but is a different rule.
    let (name, _, _) = IntegratorKind::Sgd.dispatch(&p, 0.0, Probe).unwrap();
    assert_eq!(name, "euler_maruyama");
}

#[test]
fn support_is_checked_with_the_field_and_the_valid_choices() {
    let e = IntegratorKind::ExactOu.check(0.0, false).unwrap_err();
    assert_eq!(e.parameter, "integrator");
    assert!(e.valid.contains("Gaussian noise"), "{e}");
    assert!(IntegratorKind::ExactOu.check(0.0, true).is_ok());
    for kind in [IntegratorKind::StochasticHeun, IntegratorKind::LeimkuhlerMatthews] {
        let e = kind.check(0.9, true).unwrap_err();
        assert!(e.valid.contains("momentum = 0.9"), "{e}");
        assert!(kind.check(0.0, false).is_ok());
    }
    assert!(IntegratorKind::HeavyBall.check(0.9, false).is_ok());
    assert!(IntegratorKind::parse("rk4").unwrap_err().valid.contains("heun"));
}
