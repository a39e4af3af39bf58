//! The noisy quadratic model (Zhang et al. 2019, "Which algorithmic choices matter at which batch
//! sizes? Insights from a noisy quadratic model"): SGD on `1/2 x^T H x` from `x_0`, each step's
//! gradient carrying noise of covariance `f C` (`f` the finite-N factor of the batch size). Its
//! expected loss after k steps is [`sgd::transient_loss`](super::sgd::transient_loss()),
//!
//! `E l_k = 1/2 sum_i lambda_i x0'_i^2 a_i^{2k} + eta^2 f/2 sum_i lambda_i c_i sum_{j<k} a_i^{2j}`,
//! `a_i = 1 - eta lambda_i`,
//!
//! exact for any C (not only a diagonal one): both terms are quadratic forms of functions of H,
//! `x_0^T g(H) x_0` and `Tr(C g(H))`. So the model needs only two spectral measures, each a set of
//! (lambda, weight) nodes with `sum w g(lambda)` equal to the form: the start's (weights
//! `x0'_i^2`) and the noise's (weights `c_i`). Gauss quadrature from Lanczos supplies them for a
//! network, where H is too large to diagonalise. Nodes at `lambda <= 0` are dropped: a flat
//! direction adds nothing to the loss at any finite k (its weight in both terms is lambda), and the
//! model has no minimum along a negative one.
//!
//! The steps to a target loss are monotone in neither eta nor B; with eta tuned per batch size
//! (the least steps over a log grid below the stability limit `2 / lambda_max`) they trace
//! `S = S_min + E_min / B`, and `B_crit = E_min / S_min` is the model's critical batch size.

use super::{sgd, Modes};
use nalgebra::DVector;

/// Log-spaced learning rates tried per batch size, from `ETA_RANGE * limit` to `0.999 limit`.
const ETA_GRID: usize = 240;
const ETA_RANGE: f64 = 1e-5;

#[derive(Debug, Clone, PartialEq)]
pub struct NoisyQuadratic {
    modes: Modes,
    /// `x0'_i` per mode (0 on the noise's nodes).
    x0: Vec<f64>,
}

/// A learning rate tuned for the least steps to the target, and those steps.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Tuned {
    pub eta: f64,
    pub steps: usize,
}

impl NoisyQuadratic {
    /// From the start's measure `(lambda, x0'^2)` and the noise's `(lambda, c)`; nodes with
    /// `lambda <= 0` or a weight `<= 0` are dropped. `None` when no positive curvature is left.
    pub fn from_measures(start: &[(f64, f64)], noise: &[(f64, f64)]) -> Option<Self> {
        let keep = |&&(l, w): &&(f64, f64)| l > 0.0 && w > 0.0 && l.is_finite() && w.is_finite();
        let s: Vec<_> = start.iter().filter(keep).collect();
        let c: Vec<_> = noise.iter().filter(keep).collect();
        if s.is_empty() && c.is_empty() {
            return None;
        }
        let lambda = s.iter().chain(&c).map(|&&(l, _)| l);
        let cs = s.iter().map(|_| 0.0).chain(c.iter().map(|&&(_, w)| w));
        let x0 = s.iter().map(|&&(_, w)| w.sqrt()).chain(c.iter().map(|_| 0.0)).collect();
        Some(Self {
            modes: Modes {
                lambda: DVector::from_iterator(s.len() + c.len(), lambda),
                c: DVector::from_iterator(s.len() + c.len(), cs),
            },
            x0,
        })
    }

    pub fn lambda_max(&self) -> f64 {
        self.modes.lambda_max()
    }

    /// The loss at the start, `1/2 sum lambda_i x0'_i^2`.
    pub fn initial_loss(&self) -> f64 {
        self.loss(0.0, 0.0, 0)
    }

    /// `E l_k` at learning rate `eta` and noise factor `f`.
    pub fn loss(&self, eta: f64, f: f64, k: usize) -> f64 {
        sgd::transient_loss(&self.modes, &self.x0, eta, f, k)
    }

    /// The least k with `E l_k <= target`, or `None` when the stationary loss is not below the
    /// target (or eta is past the stability limit), or k would exceed `max_steps`. Found by
    /// doubling and bisection: the first crossing when `E l_k` is decreasing up to it, which holds
    /// whenever every mode starts above its stationary share.
    pub fn steps_to(&self, target: f64, eta: f64, f: f64, max_steps: usize) -> Option<usize> {
        let floor = sgd::stationary_loss(&self.modes, eta, f).ok()?;
        if floor >= target {
            return None;
        }
        if self.loss(eta, f, 0) <= target {
            return Some(0);
        }
        let mut hi = 1usize;
        while self.loss(eta, f, hi) > target {
            if hi >= max_steps {
                return None;
            }
            hi = (2 * hi).min(max_steps);
        }
        let mut lo = hi / 2; // loss(lo) > target
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.loss(eta, f, mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(hi)
    }

    /// The learning rate below the stability limit that reaches the target in the fewest steps
    /// (a log grid of `ETA_GRID` rates), or `None` when none reaches it within `max_steps`.
    pub fn tuned(&self, target: f64, f: f64, max_steps: usize) -> Option<Tuned> {
        let limit = super::sgd_limit(self.lambda_max());
        (0..ETA_GRID)
            .map(|i| limit * 0.999 * ETA_RANGE.powf(1.0 - i as f64 / (ETA_GRID - 1) as f64))
            .filter_map(|eta| {
                self.steps_to(target, eta, f, max_steps).map(|steps| Tuned { eta, steps })
            })
            .min_by_key(|t| t.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;
    use rand_distr::{Distribution, StandardNormal};

    fn model() -> NoisyQuadratic {
        // Three modes; the noise on its own nodes (a non-diagonal C shares the formula).
        NoisyQuadratic::from_measures(
            &[(2.0, 1.0), (0.5, 4.0), (0.05, 9.0), (-0.3, 5.0)],
            &[(2.0, 0.6), (0.5, 0.3), (0.05, 0.1), (0.0, 7.0)],
        )
        .unwrap()
    }

    /// Monte Carlo SGD with Gaussian gradient noise on the diagonal quadratic, against `loss`.
    /// |z| < 5 (false-alarm rate below 1e-6). Negative control: the continuous-time form of the
    /// noise term (no `a^2` geometric sum: `eta f c (1 - a^{2k}) / 4` without the `1/(1 - eta
    /// lambda / 2)` factor) fails the same check at eta lambda_max = 1.6.
    #[test]
    fn expected_loss_matches_simulated_sgd() {
        let lam = [2.0, 0.5, 0.05];
        let x0 = [1.0, 2.0, 3.0];
        let c = [0.6, 0.3, 0.1];
        let (eta, f, k, reps) = (0.8, 0.25, 40usize, 40_000);
        let nqm = NoisyQuadratic::from_measures(
            &lam.iter().zip(&x0).map(|(&l, &x)| (l, x * x)).collect::<Vec<_>>(),
            &lam.iter().zip(&c).map(|(&l, &c)| (l, c)).collect::<Vec<_>>(),
        )
        .unwrap();
        let mut r = rng::stream(17, 0);
        let losses: Vec<f64> = (0..reps)
            .map(|_| {
                let mut x = x0;
                for _ in 0..k {
                    for i in 0..3 {
                        let xi: f64 = StandardNormal.sample(&mut r);
                        x[i] -= eta * (lam[i] * x[i] + (f * c[i]).sqrt() * xi);
                    }
                }
                (0..3).map(|i| 0.5 * lam[i] * x[i] * x[i]).sum()
            })
            .collect();
        let est = crate::stats::Estimate::from_replicas(&losses);
        let z = |theory: f64| (est.value - theory) / est.se;
        assert!(z(nqm.loss(eta, f, k)).abs() < 5.0, "z = {}", z(nqm.loss(eta, f, k)));
        let continuous: f64 = (0..3)
            .map(|i| {
                let a2k = (1.0 - eta * lam[i]).powi(2 * k as i32);
                0.5 * lam[i] * x0[i] * x0[i] * a2k + eta * f * c[i] * (1.0 - a2k) / 4.0
            })
            .sum();
        assert!(z(continuous).abs() > 5.0, "control z = {}", z(continuous));
    }

    #[test]
    fn non_positive_nodes_are_dropped() {
        let m = model();
        assert_eq!(m.modes.dim(), 6);
        assert!((m.initial_loss() - (1.0 + 1.0 + 0.225)).abs() < 1e-12);
    }

    #[test]
    fn steps_to_is_the_first_crossing() {
        let m = model();
        let (eta, f) = (0.5, 0.01);
        let target = 0.3 * m.initial_loss();
        let k = m.steps_to(target, eta, f, 1 << 20).unwrap();
        assert!(m.loss(eta, f, k) <= target);
        assert!((0..k).all(|j| m.loss(eta, f, j) > target));
        // A target below the stationary loss is never reached; nor is one past max_steps.
        assert_eq!(m.steps_to(0.01 * eta * f, eta, f, 1 << 20), None);
        assert_eq!(m.steps_to(target, eta, f, k - 1), None);
        // Past the stability limit 2 / lambda_max = 1.
        assert_eq!(m.steps_to(target, 1.0, f, 1 << 20), None);
    }

    /// Without noise the batch size cannot matter; with it, the tuned steps fall with B towards
    /// the noise-free count and the tuned eta rises tenfold and more, to near the stability limit
    /// (Zhang et al.'s picture: perfect scaling, then diminishing returns).
    #[test]
    fn tuned_steps_trace_the_critical_batch_curve() {
        let m = model();
        let target = 0.02 * m.initial_loss();
        let steps = |f: f64| m.tuned(target, f, 1 << 24).unwrap();
        let free = steps(0.0);
        let batches = [1.0, 4.0, 16.0, 64.0, 256.0, 4096.0, 65536.0];
        let tuned: Vec<Tuned> = batches.iter().map(|b| steps(5.0 / b)).collect();
        assert!(tuned.windows(2).all(|w| w[1].steps <= w[0].steps), "{tuned:?}");
        assert!(tuned[0].steps > 10 * free.steps, "{tuned:?} against {free:?}");
        assert!(tuned[6].steps as f64 <= 1.05 * free.steps as f64, "{tuned:?} against {free:?}");
        assert!(tuned[0].eta < 0.1 * tuned[6].eta, "{tuned:?}");
        assert!(free.eta > 0.9 * super::super::sgd_limit(2.0));
    }
}
