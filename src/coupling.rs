//! Coupled runs over nested step sizes `h_l = h0 / 2^l`, all driven by the same Brownian path:
//! level `l` draws `2^(L-1-l)` fine normals per step and sums them (see
//! [`GaussianProblem::with_brownian_substeps`]), through the ordinary solve loop.

use crate::ensemble::{Ensemble, PathDiverged};
use crate::integrators::{Integrator, IntegratorTask};
use crate::observers::Snapshots;
use crate::problems::GaussianProblem;

/// The step sizes and, per path, the loss at time `t_end` at each level.
pub fn coupled_levels<I>(
    problem: &GaussianProblem,
    integrator: &I,
    x0: &[f64],
    t_end: f64,
    h0: f64,
    levels: usize,
    ensemble: &Ensemble,
) -> Result<Levels, PathDiverged>
where
    I: Integrator<Vec<f64>, GaussianProblem> + Sync,
{
    let hs: Vec<f64> = (0..levels).map(|l| h0 / 2f64.powi(l as i32)).collect();
    let mut per_level = Vec::with_capacity(levels);
    for (l, &hl) in hs.iter().enumerate() {
        let steps = (t_end / hl).round() as usize;
        let pl = problem.clone().with_brownian_substeps(1 << (levels - 1 - l));
        let out = ensemble.simulate(
            &pl,
            integrator,
            &x0.to_vec(),
            hl,
            steps,
            &Snapshots::new(vec![steps]),
        );
        if let Some((path, diverged)) = crate::ensemble::first_divergence(&out) {
            return Err(PathDiverged { path, diverged });
        }
        per_level.push(out.into_iter().map(|o| o.observer.values[0]).collect::<Vec<f64>>());
    }
    let per_path = (0..ensemble.paths).map(|i| per_level.iter().map(|v| v[i]).collect()).collect();
    Ok((hs, per_path))
}

/// [`coupled_levels`] as an integrator task: run it with whatever rule
/// [`crate::integrators::IntegratorKind::dispatch`] builds. Returns the rule's name with the levels.
pub struct CoupledLevels<'a> {
    pub x0: &'a [f64],
    pub t_end: f64,
    pub h0: f64,
    pub levels: usize,
    pub ensemble: &'a Ensemble,
}

/// The valid numbers of levels: three step sizes for a slope, and at most 30, where the finest
/// level already runs 2^29 steps per coarse step (and the substep count still fits any `usize`).
pub const LEVELS: std::ops::RangeInclusive<usize> = 3..=30;

/// `levels` inside [`LEVELS`], for the field (`levels`, `--levels`) as the user wrote it.
pub fn check_levels(name: &str, levels: usize) -> Result<usize, crate::error::ProblemError> {
    let valid = format!("{} <= {name} <= {}", LEVELS.start(), LEVELS.end());
    crate::error::ensure(LEVELS.contains(&levels), || {
        crate::error::ProblemError::new(name, levels, valid)
    })?;
    Ok(levels)
}

/// The step sizes and, per path, the loss at `t_end` at each level.
pub type Levels = (Vec<f64>, Vec<Vec<f64>>);

impl IntegratorTask<Vec<f64>, GaussianProblem> for CoupledLevels<'_> {
    type Output = (&'static str, Result<Levels, PathDiverged>);
    fn run<I: Integrator<Vec<f64>, GaussianProblem> + Sync>(
        self,
        problem: &GaussianProblem,
        integrator: I,
    ) -> Self::Output {
        let levels = coupled_levels(
            problem,
            &integrator,
            self.x0,
            self.t_end,
            self.h0,
            self.levels,
            self.ensemble,
        );
        (integrator.name(), levels)
    }
}
