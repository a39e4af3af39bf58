//! The one integration-test binary. Every simulation-vs-theory check uses `|z| < 5`
//! (false-alarm rate 5.7e-7 per check) with fixed seeds, so a pass or fail is reproducible.

mod cli;
mod common;
mod determinism;
mod errors;
mod golden;
mod integrator_choice;
mod negative_controls;
mod network;
mod network_theory;
mod normal_quality;
mod paper;
mod regression_momentum;
mod rng_stream;
mod state_seams;
mod stationary;
mod svag;
mod theory;
mod weak_order;
