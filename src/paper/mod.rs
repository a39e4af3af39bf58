//! The paper: every claim of the source papers with the command that tests it and a verdict.
//!
//! [`claims`] is the table (what is claimed, where, how it is decided, fixed before running),
//! [`verdict`] decides a claim from its command's JSON result, and [`report`] writes
//! `report.md`. `sgd-sde paper` (in `cli`) runs the commands, resumably, and writes the report.

pub mod claims;
pub mod report;
pub mod verdict;

pub use claims::{Claim, ClaimsFile};
pub use verdict::{decide, Decision, Verdict};
