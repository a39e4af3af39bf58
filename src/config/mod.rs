//! Problem files (TOML or JSON): the loss, the noise model, the optimizer and the start point.
//! Unknown fields are rejected; every value is validated when the [`Scenario`](crate::scenario::Scenario) is built.

mod matrix_spec;
mod problem_file;
pub(crate) mod read;

pub(crate) use matrix_spec::check_dimension;
pub use matrix_spec::{LogSpaced, MatrixSpec, RotationSpec};
pub use problem_file::{
    GenerateSpec, IntegratorKind, NoiseModel, NoiseSpec, OptimizerSpec, ProblemFile, SamplingSpec,
    SimulationSpec,
};
pub use read::{read_csv_rows, InputError};
