//! Validation suites as data: each check states a claim, how to measure it, which theory value it
//! is compared with, and whether the comparison must agree or (for a negative control) reject.

mod evaluate;
pub mod net;
mod spec;

pub use evaluate::{evaluate, work, CheckRow};
pub use net::{evaluate_net, NetCheckSpec, NetLab};
pub use spec::{CheckKind, CheckSpec, Expect, SuiteFile, TheoryChoice};

/// The suites shipped inside the binary.
pub const QUICK: &str = include_str!("../../validation/quick.toml");
pub const FULL: &str = include_str!("../../validation/full.toml");
/// Networks checked against the quadratic model at their minimum (quick: at most 2 minutes).
pub const NET: &str = include_str!("../../validation/net.toml");
pub const NET_FULL: &str = include_str!("../../validation/net_full.toml");
/// The logistic-regression checks on MNIST (needs the IDX files; see `net::data`).
pub const NET_MNIST: &str = include_str!("../../validation/net_mnist.toml");

/// The embedded suite of a name, with the path it is shipped as.
pub fn embedded(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "quick" => Some(("validation/quick.toml", QUICK)),
        "full" => Some(("validation/full.toml", FULL)),
        "net" => Some(("validation/net.toml", NET)),
        "net-full" => Some(("validation/net_full.toml", NET_FULL)),
        "net-mnist" => Some(("validation/net_mnist.toml", NET_MNIST)),
        _ => None,
    }
}
