//! Bounded work: before a command allocates or loops, its cost is estimated from the inputs, and
//! work that cannot fit is refused with the estimate in the message.
//!
//! * Time: the work in basic operations divided by a deliberately low rate (a fraction of what
//!   these 2-core machines measure in BENCHMARKS.md, so the estimate errs long). Refused past the
//!   limit `--max-hours` sets (default [`DEFAULT_MAX_HOURS`]); the user may raise it.
//! * Memory: refused past the memory available (`MemAvailable` in /proc/meminfo, 8 GiB where it
//!   cannot be read). No flag overrides it: such a run would be killed anyway.
//!
//! Estimates are computed in f64, so absurd inputs (`--steps 18446744073709551615`,
//! `--levels 64`) give a finite, huge estimate instead of overflowing.

use std::sync::atomic::{AtomicU64, Ordering};

/// The default time limit of one command.
pub const DEFAULT_MAX_HOURS: f64 = 24.0;
/// Quadratic engine: path-coordinate-steps per second assumed (W runs at about 3.6e8 on 2 cores).
pub const COORDINATE_STEPS_PER_SECOND: f64 = 1e8;
/// Networks: floating-point operations per second assumed (the 4-layer MLP's epoch runs at about
/// 3e10 on 2 cores in f32; the f64 probes at about half).
pub const FLOPS: f64 = 5e9;
/// Dense linear algebra in nalgebra (its unblocked QR and eigendecompositions): flops per second
/// assumed (the QR of a d = 2000 Gaussian matrix runs at about 1.5e9).
pub const DENSE_FLOPS: f64 = 1e9;

static MAX_SECONDS: AtomicU64 = AtomicU64::new(0);

/// Sets the time limit for this process (the CLI's `--max-hours`).
pub fn set_max_hours(hours: f64) {
    MAX_SECONDS.store((hours * 3600.0).to_bits(), Ordering::Relaxed);
}

/// The time limit of this process, in seconds.
pub fn max_seconds() -> f64 {
    match MAX_SECONDS.load(Ordering::Relaxed) {
        0 => DEFAULT_MAX_HOURS * 3600.0,
        bits => f64::from_bits(bits),
    }
}

/// Memory this process may use, in bytes.
pub fn available_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find(|l| l.starts_with("MemAvailable:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
                    .map(|kb| kb * 1024.0)
            })
        })
        .unwrap_or(8.0 * 1024.0 * 1024.0 * 1024.0)
}

/// The largest size `n` of something that holds `bytes.0 * n^bytes.1` bytes and takes
/// `seconds.0 * n^seconds.1` seconds to build, within the memory available and the time limit:
/// the valid range to quote when a size from a file is refused before anything is allocated.
pub fn largest_size(bytes: (f64, i32), seconds: (f64, i32)) -> usize {
    // Saturating: a limit that binds nowhere gives usize::MAX.
    largest_within(available_bytes(), bytes).min(largest_within(max_seconds(), seconds)) as usize
}

/// The largest whole `n` with `per * n^power <= limit` (infinite when `per` is 0).
fn largest_within(limit: f64, (per, power): (f64, i32)) -> f64 {
    let n = (limit / per).powf(1.0 / f64::from(power)).floor();
    // powf's rounding can land just below a whole root.
    if per * (n + 1.0).powi(power) <= limit {
        n + 1.0
    } else {
        n
    }
}

/// The estimated cost of a piece of work.
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    /// What is estimated, as the user would say it (e.g. "1000 paths x 10000 steps x d = 100").
    pub what: String,
    pub seconds: f64,
    pub bytes: f64,
}

/// Work refused, with the reason in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct TooMuchWork(pub String);

impl std::fmt::Display for TooMuchWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TooMuchWork {}

impl Work {
    /// A simulation of `coordinate_steps` path-coordinate-steps holding `bytes` at once.
    pub fn simulation(what: impl Into<String>, coordinate_steps: f64, bytes: f64) -> Self {
        Self { what: what.into(), seconds: coordinate_steps / COORDINATE_STEPS_PER_SECOND, bytes }
    }
    /// Network training and probes: `example_gradients` forward-backward passes of one example
    /// through `params` parameters (about 6 flops per parameter each).
    pub fn network(
        what: impl Into<String>,
        example_gradients: f64,
        params: f64,
        bytes: f64,
    ) -> Self {
        Self { what: what.into(), seconds: 6.0 * example_gradients * params / FLOPS, bytes }
    }
    /// Several pieces of work done one after another, described as `what`.
    pub fn sequence(what: impl Into<String>, parts: impl IntoIterator<Item = Work>) -> Self {
        parts.into_iter().fold(Self { what: what.into(), seconds: 0.0, bytes: 0.0 }, |acc, w| {
            Self { what: acc.what, seconds: acc.seconds + w.seconds, bytes: acc.bytes.max(w.bytes) }
        })
    }
    /// Refuses work past the memory available or the time limit.
    pub fn check(&self) -> Result<(), TooMuchWork> {
        let available = available_bytes();
        let fits = |x: f64, limit: f64| x.is_finite() && x <= limit;
        if !fits(self.bytes, available) {
            return Err(TooMuchWork(format!(
                "refused: {} needs about {} of memory, more than the {} available; valid is a \
                 smaller run",
                self.what,
                bytes(self.bytes),
                bytes(available)
            )));
        }
        let limit = max_seconds();
        if !fits(self.seconds, limit) {
            return Err(TooMuchWork(format!(
                "refused: {} would take about {} on this kind of machine, past the limit of {}; \
                 valid is a smaller run, or raise --max-hours to run it anyway",
                self.what,
                duration(self.seconds),
                duration(limit)
            )));
        }
        Ok(())
    }
}

/// Bytes as the messages give them: `12.3 MB`, `2.480e1 GB`.
pub fn bytes(b: f64) -> String {
    if b >= 1e9 {
        format!("{:.3e} GB", b / 1e9)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

fn duration(s: f64) -> String {
    if s >= 3.0 * 86400.0 {
        format!("{:.3e} days", s / 86400.0)
    } else if s >= 3600.0 {
        format!("{:.1} hours", s / 3600.0)
    } else {
        format!("{:.0} s", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_work_is_refused_with_its_estimate_and_small_work_passes() {
        let huge = Work::simulation("x", 1000.0 * 1.8e19 * 10.0, 1e6);
        let e = huge.check().unwrap_err().0;
        assert!(e.contains("days") && e.contains("--max-hours"), "{e}");
        let big = Work::simulation("y", 1.0, 1e30);
        assert!(big.check().unwrap_err().0.contains("memory"));
        assert!(Work::simulation("z", 1e6, 1e6).check().is_ok());
        assert!(Work::simulation("nan", f64::NAN, 1e6).check().is_err());
    }

    #[test]
    fn largest_within_inverts_the_cost() {
        assert_eq!(largest_within(1000.0, (1.0, 1)), 1000.0);
        assert_eq!(largest_within(1e6, (1.0, 2)), 1000.0);
        assert_eq!(largest_within(1e6 - 1.0, (1.0, 2)), 999.0);
        assert_eq!(largest_within(1000.0, (1.0, 3)), 10.0, "powf gives 9.999..");
        assert_eq!(largest_within(1e12, (2.0, 3)), 7937.0);
        assert_eq!(largest_within(1.0, (0.0, 1)), f64::INFINITY);
        assert_eq!(largest_size((0.0, 1), (0.0, 3)), usize::MAX);
        assert_eq!(largest_size((f64::INFINITY, 1), (0.0, 3)), 0);
    }
}
