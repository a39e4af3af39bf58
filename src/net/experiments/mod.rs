//! The network experiments (`sgd-sde net ...`): each has a CPU-sized default that finishes in
//! minutes on 2 cores, and flags to scale it up. Results are written as JSON, CSV, PNG + SVG and a
//! manifest, like every other command.

mod batch_size;
mod bench;
mod breakdown_net;
mod context;
mod curve;
mod error;
mod evidence;
mod gaussian_vs_sgd;
mod invariance;
mod ou_law;
mod width;

pub use batch_size::{batch_size, BatchSizeOptions, BatchSizeReport};
pub use bench::{bench_epoch, BenchOptions};
pub use breakdown_net::{breakdown_net, BreakdownNetOptions, BreakdownNetRow};
pub use context::{DataChoice, NetContext};
pub use error::ExperimentError;
pub use evidence::{evidence, EvidenceOptions, EvidencePoint};
pub use gaussian_vs_sgd::{gaussian_vs_sgd, GaussianVsSgdOptions};
pub use invariance::{invariance, InvarianceOptions};
pub use ou_law::{ou_law, OuLawOptions};
pub use width::{width, WidthOptions};
