//! The one ensemble driver: independent paths in parallel, one random stream per path, results
//! returned in path order so that every reduction is bit-identical for any thread count.

use crate::integrators::Integrator;
use crate::observers::Observer;
use crate::problems::StochasticProblem;
use crate::rng::{self, PathRng};
use crate::solve::{solve, Diverged};
use crate::state::State;
use rayon::prelude::*;

/// `paths` independent replicas; path `p` uses stream `rng::stream(seed, p)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ensemble {
    pub paths: usize,
    pub seed: u64,
}

/// What one path produced: its observer, and where it diverged if it did.
#[derive(Debug, Clone)]
pub struct PathOutcome<O> {
    pub observer: O,
    pub diverged: Option<Diverged>,
}

impl Ensemble {
    pub fn new(paths: usize, seed: u64) -> Self {
        Self { paths, seed }
    }

    /// Applies `f(path, rng)` to every path in parallel; the result is in path order.
    pub fn map<R: Send>(&self, f: impl Fn(usize, &mut PathRng) -> R + Sync) -> Vec<R> {
        (0..self.paths)
            .into_par_iter()
            .map(|p| {
                let mut r = rng::stream(self.seed, p as u64);
                f(p, &mut r)
            })
            .collect()
    }

    /// Runs [`solve`] on every path from `x0` with a fresh copy of `integrator` and `observer`.
    pub fn simulate<S, P, I, O>(&self, problem: &P, integrator: &I, x0: &S, h: f64, steps: usize, observer: &O) -> Vec<PathOutcome<O>>
    where
        S: State + Sync,
        P: StochasticProblem<S>,
        I: Integrator<S, P> + Sync,
        O: Observer + Sync,
    {
        self.map(|_, r| {
            let mut x = x0.clone();
            let mut integ = integrator.clone();
            let mut obs = observer.clone();
            let diverged = solve(problem, &mut integ, &mut x, h, steps, r, &mut obs).err();
            PathOutcome { observer: obs, diverged }
        })
    }
}

/// The first divergence among the outcomes (lowest path index), if any.
pub fn first_divergence<O>(outcomes: &[PathOutcome<O>]) -> Option<(usize, Diverged)> {
    outcomes.iter().enumerate().find_map(|(p, o)| o.diverged.map(|d| (p, d)))
}
