//! Yaida's fluctuation-dissipation relation (ICLR 2019) as a stationarity test. If |θ|^2 is
//! stationary under heavy ball (m = 0 is SGD), `<θ . grad L> = (1+m)/(2 eta) <|θ_{k+1} - θ_k|^2>`
//! exactly, for any loss. The residual `<θ . grad L> / ((1+m)/(2 eta) <|Δθ|^2>) - 1` is 0 at
//! stationarity; a drifting network (e.g. growing weights under cross-entropy) shows up in it.
//! The relation holds with θ replaced by `θ - c` for any fixed `c` (the same derivation from the
//! stationarity of `|θ - c|^2`); centring at a minimum θ* removes the large, zero-mean term
//! `θ* . grad L` from both sides' fluctuations ([`Fdr::centred_at`]).

use crate::observers::Observer;
use crate::state::State;
use crate::stats::Estimate;

/// The full (noise-free) gradient of the objective.
pub trait MeanGradient<S> {
    fn mean_gradient(&self, x: &S) -> S;
}

impl MeanGradient<Vec<f64>> for crate::problems::GaussianProblem {
    fn mean_gradient(&self, x: &Vec<f64>) -> Vec<f64> {
        use crate::problems::StochasticProblem;
        let noise = crate::problems::GaussianNoise::new(vec![0.0; x.len()], 0.0);
        let mut out = x.zeros_like();
        self.gradient(x, &noise, &mut out);
        out
    }
}

impl<B: burn::tensor::backend::AutodiffBackend> MeanGradient<crate::net::Params<B>>
    for crate::net::NetworkProblem<B>
{
    fn mean_gradient(&self, x: &crate::net::Params<B>) -> crate::net::Params<B> {
        crate::net::Params::new(self.full_gradient(&x.tensor))
    }
}

/// Samples `θ_k . grad L(θ_k)` and `|θ_{k+1} - θ_k|^2` at steps `from + j * every` (and the step
/// after), from step `from` on.
#[derive(Debug, Clone)]
pub struct Fdr<S, P> {
    pub problem: P,
    pub from: usize,
    pub every: usize,
    pub eta: f64,
    pub momentum: f64,
    previous: Option<S>,
    center: Option<S>,
    pub theta_dot_grad: Vec<f64>,
    pub step_squared: Vec<f64>,
}

/// The residual with a delta-method standard error over the sampled pairs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FdrResult {
    pub theta_dot_grad: f64,
    pub rhs: f64,
    pub residual: Estimate,
    pub samples: usize,
}

impl<S, P> Fdr<S, P> {
    pub fn new(problem: P, from: usize, every: usize, eta: f64, momentum: f64) -> Self {
        Self {
            problem,
            from,
            every: every.max(2),
            eta,
            momentum,
            previous: None,
            center: None,
            theta_dot_grad: Vec::new(),
            step_squared: Vec::new(),
        }
    }

    /// The relation for `θ - center`.
    pub fn centred_at(mut self, center: S) -> Self {
        self.center = Some(center);
        self
    }

    /// `mean(a) / mean(b) - 1` with `a = θ.g`, `b = (1+m)/(2 eta) |Δθ|^2`, paired by sample.
    pub fn result(&self) -> FdrResult {
        let n = self.theta_dot_grad.len().min(self.step_squared.len());
        let c = (1.0 + self.momentum) / (2.0 * self.eta);
        let a = &self.theta_dot_grad[..n];
        let b: Vec<f64> = self.step_squared[..n].iter().map(|s| c * s).collect();
        let (ma, mb) = (a.iter().sum::<f64>() / n as f64, b.iter().sum::<f64>() / n as f64);
        let r = ma / mb;
        // Linearisation: Var(r) ≈ Var(mean(a - r b)) / mb^2, by batch means over the (time
        // correlated) samples.
        let lin: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - r * y).collect();
        let e = crate::stats::batch_means(&lin, 20.min(n.max(2)));
        FdrResult {
            theta_dot_grad: ma,
            rhs: mb,
            residual: Estimate { value: r - 1.0, se: e.se / mb.abs(), method: e.method },
            samples: n,
        }
    }
}

impl<S: State, P: MeanGradient<S> + Clone + Send> Observer<S> for Fdr<S, P> {
    fn wants(&self, step: usize) -> bool {
        step >= self.from && (step - self.from) % self.every <= 1
    }
    fn needs_loss(&self, _step: usize) -> bool {
        false
    }
    fn record(&mut self, step: usize, x: &S, _loss: f64) {
        if (step - self.from).is_multiple_of(self.every) {
            let g = self.problem.mean_gradient(x);
            let value = match &self.center {
                Some(c) => x.dot(&g) - c.dot(&g),
                None => x.dot(&g),
            };
            self.theta_dot_grad.push(value);
            self.previous = Some(x.clone());
        } else if let Some(prev) = self.previous.take() {
            let mut d = x.clone();
            d.axpy(-1.0, &prev);
            self.step_squared.push(d.dot(&d));
        }
    }
}
