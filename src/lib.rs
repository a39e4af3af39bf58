//! # sgd-sde
//!
//! Verifies the stochastic-differential-equation theory of SGD. Near a minimum, SGD with learning
//! rate `eta` and batch size `S` behaves like an Ornstein-Uhlenbeck process whose expected loss is
//! `E l = eta/(4S) Tr(H)` (Jastrzebski et al., ICANN 2018). The crate simulates SGD, its SDE and the
//! OU process on quadratic losses, computes the exact discrete and finite-data theory, and compares
//! the two with honest standard errors.
//!
//! Layout: [`problems`] (losses and noise models), [`integrators`] (update rules that take their
//! noise as input, written against [`State`]), [`solve()`] (the one solve loop), [`Ensemble`]
//! (parallel paths, bit-identical for any thread count), [`theory`] (exact results), [`stats`].
//!
//! ```
//! use sgd_sde::*;
//! use sgd_sde::theory::{self, Modes};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let h = SpdMatrix::from_eigen(&[0.5, 1.0, 2.0], Rotation::Seeded(3))?;
//! let problem = GaussianProblem::sgd(h.clone(), h.clone(), 0.2, 4, Frame::Eigen)?;
//! let estimate = Ensemble::new(256, 1).stationary_loss(&problem, &EulerMaruyama::new(), &vec![0.0; 3], 0.2, 500, 20_000)?;
//! let exact = theory::sgd::stationary_loss(&Modes::new(&h, &h), 0.2, 1.0 / 4.0)?;
//! assert!(estimate.agrees_with(exact, 5.0), "{estimate} vs {exact}");
//! # Ok(())
//! # }
//! ```

/// `println!` for results on stdout that never panics: when the reader has gone (`sgd-sde ... |
/// head -1`) the rest of the text is dropped and the run goes on, so the files it was asked to
/// write (`--json`, `--out`) are still written.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod budget;
pub mod cli;
pub mod config;
pub mod coupling;
pub mod ensemble;
pub mod error;
pub mod integrators;
pub mod isa;
pub mod linear_map;
pub mod net;
pub mod observers;
pub mod output;
pub mod paper;
pub mod problems;
pub mod rng;
pub mod scenario;
pub mod schedule;
pub mod solve;
pub mod spd;
pub mod state;
pub mod stats;
pub mod suite;
pub mod theory;

pub use ensemble::{Ensemble, PathDiverged, PathOutcome};
pub use error::ProblemError;
pub use integrators::{
    EulerMaruyama, ExactOu, HeavyBall, Integrator, LeimkuhlerMatthews, Order, StochasticHeun,
};
pub use observers::{Observer, Progress, Series, Snapshots, TimeAverage};
pub use problems::{
    Batch, FiniteSumQuadratic, Frame, GaussianNoise, GaussianProblem, LinearRegression, Sampling,
    StochasticProblem,
};
pub use solve::{solve, Diverged};
pub use spd::{Rotation, SpdMatrix};
pub use state::State;
pub use stats::{Estimate, Method};
