//! Validation suites as data: each check states a claim, how to measure it, which theory value it
//! is compared with, and whether the comparison must agree or (for a negative control) reject.

mod evaluate;
mod spec;

pub use evaluate::{evaluate, CheckRow};
pub use spec::{CheckKind, CheckSpec, Expect, SuiteFile, TheoryChoice};

/// The suites shipped inside the binary.
pub const QUICK: &str = include_str!("../../validation/quick.toml");
pub const FULL: &str = include_str!("../../validation/full.toml");
