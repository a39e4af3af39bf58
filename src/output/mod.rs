//! Run outputs: files written atomically (a crash never leaves a half-written result), a manifest
//! per run, CSV and JSON tables, and figures.

mod atomic;
mod fingerprint;
mod manifest;
pub mod plot;
mod writer;

pub use atomic::{write_atomic, write_csv, write_json};
pub use fingerprint::fingerprint;
pub use manifest::Manifest;
pub use writer::{OutputError, Outputs};
