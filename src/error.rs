//! Typed errors. Every message names the parameter, its value and the valid range.

use std::fmt;

/// A rejected input: which parameter, what value it had, and what would be valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ProblemError {
    /// The parameter's name as the user wrote it (e.g. `eta`, `eigenvalues[3]`).
    pub parameter: String,
    /// The offending value, formatted.
    pub value: String,
    /// The valid range or condition, in words (e.g. `eta*lambda_max < 2`).
    pub valid: String,
}

impl ProblemError {
    pub fn new(
        parameter: impl Into<String>,
        value: impl fmt::Display,
        valid: impl Into<String>,
    ) -> Self {
        Self { parameter: parameter.into(), value: value.to_string(), valid: valid.into() }
    }
}

impl fmt::Display for ProblemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} = {}: valid range is {}", self.parameter, self.value, self.valid)
    }
}

impl std::error::Error for ProblemError {}

/// Why a run needs at least two paths (or seeds): every estimate carries a standard error over
/// them, and one has none.
pub(crate) const TWO_PATHS: &str = "a standard error over paths needs two of them";

/// Shorthand for checks: `ensure(cond, || ProblemError::new(..))?`.
pub(crate) fn ensure(ok: bool, err: impl FnOnce() -> ProblemError) -> Result<(), ProblemError> {
    if ok {
        Ok(())
    } else {
        Err(err())
    }
}

/// Validates a step size or learning rate: finite and strictly positive.
pub(crate) fn positive(name: &str, v: f64) -> Result<f64, ProblemError> {
    ensure(v.is_finite() && v > 0.0, || ProblemError::new(name, v, "a finite number > 0"))?;
    Ok(v)
}

/// The first value of `v` that repeats an earlier one under `same`, with that earlier one: a
/// list whose entries name runs (learning rates, seeds) must not count one run twice.
pub(crate) fn first_repeat<T>(v: &[T], same: impl Fn(&T, &T) -> bool) -> Option<(&T, &T)> {
    v.iter().enumerate().find_map(|(i, x)| v[..i].iter().find(|w| same(w, x)).map(|w| (w, x)))
}

/// Validates a momentum coefficient m in [0, 1).
pub(crate) fn momentum(m: f64) -> Result<f64, ProblemError> {
    ensure((0.0..1.0).contains(&m), || ProblemError::new("m", m, "0 <= m < 1"))?;
    Ok(m)
}

/// Validates a batch size 1 <= S (and S <= N when a data-set size is given).
pub(crate) fn batch_size(s: usize, n: Option<usize>) -> Result<usize, ProblemError> {
    ensure(s >= 1, || ProblemError::new("S", s, "S >= 1"))?;
    if let Some(n) = n {
        ensure(s <= n, || ProblemError::new("S", s, format!("1 <= S <= N = {n}")))?;
    }
    Ok(s)
}
