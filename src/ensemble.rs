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
#[derive(Debug, Clone)]
pub struct Ensemble {
    pub paths: usize,
    pub seed: u64,
    /// Ticked once per finished path (hidden bars cost nothing).
    pub progress: Option<indicatif::ProgressBar>,
}

/// What one path produced: its observer, and where it diverged if it did.
#[derive(Debug, Clone)]
pub struct PathOutcome<O> {
    pub observer: O,
    pub diverged: Option<Diverged>,
}

impl Ensemble {
    pub fn new(paths: usize, seed: u64) -> Self {
        Self { paths, seed, progress: None }
    }

    /// Reports finished paths to a progress bar.
    pub fn with_progress(mut self, bar: indicatif::ProgressBar) -> Self {
        self.progress = Some(bar);
        self
    }

    /// Applies `f(path, rng)` to every path in parallel; the result is in path order.
    pub fn map<R: Send>(&self, f: impl Fn(usize, &mut PathRng) -> R + Sync) -> Vec<R> {
        (0..self.paths)
            .into_par_iter()
            .map(|p| {
                let mut r = rng::stream(self.seed, p as u64);
                let out = f(p, &mut r);
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                }
                out
            })
            .collect()
    }

    /// Runs [`solve`] on every path from `x0` with a fresh copy of `integrator` and `observer`.
    pub fn simulate<S, P, I, O>(
        &self,
        problem: &P,
        integrator: &I,
        x0: &S,
        h: f64,
        steps: usize,
        observer: &O,
    ) -> Vec<PathOutcome<O>>
    where
        S: State + Sync,
        P: StochasticProblem<S>,
        I: Integrator<S, P> + Sync,
        O: Observer<S> + Sync,
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

/// A run that stopped because a path diverged: which path, and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathDiverged {
    pub path: usize,
    pub diverged: Diverged,
}

impl std::fmt::Display for PathDiverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "path {} {}", self.path, self.diverged)
    }
}

impl std::error::Error for PathDiverged {}

impl Ensemble {
    /// The stationary loss: each path's time average over steps `burn..=burn + window`, then the
    /// mean and standard error over the independent paths.
    pub fn stationary_loss<S, P, I>(
        &self,
        problem: &P,
        integrator: &I,
        x0: &S,
        h: f64,
        burn: usize,
        window: usize,
    ) -> Result<crate::stats::Estimate, PathDiverged>
    where
        S: State + Sync,
        P: StochasticProblem<S>,
        I: Integrator<S, P> + Sync,
    {
        let steps = burn + window;
        let out = self.simulate(
            problem,
            integrator,
            x0,
            h,
            steps,
            &crate::observers::TimeAverage::new(burn, steps),
        );
        check(&out)?;
        Ok(crate::stats::Estimate::from_replicas(
            &out.iter().map(|o| o.observer.mean()).collect::<Vec<_>>(),
        ))
    }

    /// The mean loss at each of the steps `at` (sorted), over the independent paths.
    pub fn transient_loss<S, P, I>(
        &self,
        problem: &P,
        integrator: &I,
        x0: &S,
        h: f64,
        at: &[usize],
    ) -> Result<Vec<crate::stats::Estimate>, PathDiverged>
    where
        S: State + Sync,
        P: StochasticProblem<S>,
        I: Integrator<S, P> + Sync,
    {
        let obs = crate::observers::Snapshots::new(at.to_vec());
        let steps = *obs.at.last().unwrap_or(&0);
        let out = self.simulate(problem, integrator, x0, h, steps, &obs);
        check(&out)?;
        Ok((0..obs.at.len())
            .map(|i| {
                crate::stats::Estimate::from_replicas(
                    &out.iter().map(|o| o.observer.values[i]).collect::<Vec<_>>(),
                )
            })
            .collect())
    }
}

fn check<O>(outcomes: &[PathOutcome<O>]) -> Result<(), PathDiverged> {
    match first_divergence(outcomes) {
        Some((path, diverged)) => Err(PathDiverged { path, diverged }),
        None => Ok(()),
    }
}
