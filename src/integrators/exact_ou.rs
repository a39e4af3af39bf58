//! The exact Ornstein-Uhlenbeck transition `x <- e^{-H h} x + L z`, `L L^T = Q_h`, where in H's
//! eigenbasis `Q'_ij = T C'_ij (1 - e^{-(lambda_i + lambda_j) h}) / (lambda_i + lambda_j)`.
//! No discretisation error at any `h`. Uses the noise's standard normals `z` directly.

use super::{Integrator, Order};
use crate::linear_map::LinearMap;
use crate::problems::{Frame, GaussianNoise, GaussianProblem};
use nalgebra::DMatrix;

#[derive(Debug, Clone, Default)]
pub struct ExactOu {
    /// `(h, e^{-H h}, L)` for the last step size used.
    transition: Option<(f64, LinearMap, LinearMap)>,
    next: Vec<f64>,
}

impl ExactOu {
    /// Declared convergence orders for additive noise.
    pub const ORDER: Order =
        Order { strong: f64::INFINITY, weak: f64::INFINITY, stationary: f64::INFINITY };

    pub fn new() -> Self {
        Self::default()
    }

    fn build(problem: &GaussianProblem, h: f64) -> (LinearMap, LinearMap) {
        let hess = problem.hessian();
        let lambda = hess.eigenvalues();
        let d = hess.dim();
        let c = hess.rotate_into_eigenbasis(&problem.noise_covariance().dense());
        let t = problem.temperature();
        let q = DMatrix::from_fn(d, d, |i, j| {
            let s = lambda[i] + lambda[j];
            t * c[(i, j)] * (-(-s * h).exp_m1()) / s
        });
        let decay: Vec<f64> = lambda.iter().map(|l| (-l * h).exp()).collect();
        let rotated = problem.frame() == Frame::Original && hess.basis().is_some();
        let (a, q) = match (rotated, hess.basis()) {
            (true, Some(u)) => {
                let mut ud = u.clone();
                for (j, mut col) in ud.column_iter_mut().enumerate() {
                    col *= decay[j];
                }
                (LinearMap::Dense(&ud * u.transpose()), u * &q * u.transpose())
            }
            _ => (LinearMap::Diagonal(decay), q),
        };
        (a, LinearMap::square_root_of(&q))
    }
}

impl Integrator<Vec<f64>, GaussianProblem> for ExactOu {
    fn name(&self) -> &'static str {
        "exact_ou"
    }
    fn order(&self) -> Order {
        Self::ORDER
    }
    #[inline]
    fn step(&mut self, problem: &GaussianProblem, x: &mut Vec<f64>, noise: &GaussianNoise, h: f64) {
        if self.transition.as_ref().is_none_or(|(h0, _, _)| *h0 != h) {
            let (a, l) = Self::build(problem, h);
            self.transition = Some((h, a, l));
        }
        let (_, a, l) = self.transition.as_ref().expect("built above");
        match (a, l) {
            (LinearMap::Diagonal(a), LinearMap::Diagonal(l)) => {
                diagonal_transition(crate::isa::Isa::detected(), a, x, l, &noise.z)
            }
            (a, l) => {
                self.next.resize(x.len(), 0.0);
                l.apply(&noise.z, 0.0, &mut self.next);
                a.apply(x, 1.0, &mut self.next);
                std::mem::swap(x, &mut self.next);
            }
        }
    }
}

crate::isa::dispatch! {
    /// [`transition`] compiled for `isa`.
    fn diagonal_transition => transition(a: &[f64], x: &mut [f64], l: &[f64], z: &[f64])
}

/// `x_i <- a_i x_i + l_i z_i`: the diagonal transition in one pass.
#[inline(always)]
fn transition(a: &[f64], x: &mut [f64], l: &[f64], z: &[f64]) {
    let n = x.len();
    let (a, l, z) = (&a[..n], &l[..n], &z[..n]);
    for i in 0..n {
        x[i] = a[i] * x[i] + l[i] * z[i];
    }
}
