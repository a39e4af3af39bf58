//! The results of an experiment that trains one run per point of an (eta, S) grid. A run that
//! diverges is recorded with why, and the grid goes on: the points finished before it are kept
//! (the edge of stability is part of what these experiments look at). Any other error stops the
//! experiment, and so does a grid on which no run finished.

use super::error::ExperimentError;
use serde::Serialize;

/// A run of the grid that diverged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DivergedRun {
    pub eta: f64,
    pub batch: usize,
    /// Where and how it diverged (e.g. `diverged at step 340 (non-finite parameters)`).
    pub why: String,
}

impl std::fmt::Display for DivergedRun {
    /// `eta = 0.5, S = 16: diverged (diverged at step 3 (non-finite parameters))`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "eta = {}, S = {}: diverged ({})", self.eta, self.batch, self.why)
    }
}

/// The finished points, in grid order, and the runs that diverged.
#[derive(Debug, Clone, Serialize)]
pub struct Grid<P> {
    pub points: Vec<P>,
    pub diverged: Vec<DivergedRun>,
}

impl<P> Default for Grid<P> {
    fn default() -> Self {
        Self { points: Vec::new(), diverged: Vec::new() }
    }
}

impl<P> Grid<P> {
    /// Adds the outcome of the run at `(eta, batch)`: its point, or its divergence. Any other
    /// error is returned.
    pub fn push(
        &mut self,
        eta: f64,
        batch: usize,
        outcome: Result<P, ExperimentError>,
    ) -> Result<(), ExperimentError> {
        match outcome {
            Ok(point) => self.points.push(point),
            Err(ExperimentError::Diverged(why)) => {
                self.diverged.push(DivergedRun { eta, batch, why })
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The grid, or the first divergence when no run finished.
    pub fn finished(self) -> Result<Self, ExperimentError> {
        match (self.points.is_empty(), self.diverged.first()) {
            (true, Some(d)) => Err(ExperimentError::Diverged(format!(
                "every run diverged, the first at eta = {}, S = {}: {}",
                d.eta, d.batch, d.why
            ))),
            _ => Ok(self),
        }
    }

    /// One line per diverged run, for the command's summary.
    pub fn diverged_lines(&self) -> impl Iterator<Item = String> + '_ {
        self.diverged.iter().map(|d| format!("{d}; not in the fit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_divergence_is_recorded_and_the_points_before_it_are_kept() {
        let mut g = Grid::default();
        g.push(0.1, 16, Ok(1)).unwrap();
        g.push(0.5, 16, Err(ExperimentError::Diverged("diverged at step 3".into()))).unwrap();
        g.push(0.1, 128, Ok(2)).unwrap();
        let g = g.finished().unwrap();
        assert_eq!(g.points, [1, 2]);
        assert_eq!(
            g.diverged,
            [DivergedRun { eta: 0.5, batch: 16, why: "diverged at step 3".into() }]
        );
    }

    #[test]
    fn other_errors_stop_and_a_grid_with_no_finished_run_fails() {
        let mut g: Grid<i32> = Grid::default();
        let bad = ExperimentError::Invalid("invalid --x = 1".into());
        assert_eq!(g.push(0.1, 16, Err(bad.clone())), Err(bad));
        g.push(0.5, 16, Err(ExperimentError::Diverged("diverged at step 3".into()))).unwrap();
        let e = g.finished().unwrap_err();
        assert!(
            matches!(&e, ExperimentError::Diverged(m) if m.contains("eta = 0.5, S = 16")),
            "{e}"
        );
    }
}
