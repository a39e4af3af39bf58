use crate::error::{batch_size, ProblemError};
use crate::problems::Sampling;

/// The finite-N factor `f` in `V = f C`: `1/S` with replacement (or for Gaussian noise, `n = None`),
/// `(N - S) / (S (N - 1))` for a fresh batch without replacement. Per-epoch reshuffling has no
/// such factor (its noise is anti-correlated across steps): use `theory::reshuffle`.
pub fn noise_factor(s: usize, n: Option<usize>, sampling: Sampling) -> Result<f64, ProblemError> {
    batch_size(s, n)?;
    let s_f = s as f64;
    match (sampling, n) {
        (Sampling::WithReplacement, _) | (_, None) => Ok(1.0 / s_f),
        (Sampling::WithoutReplacement, Some(n)) if n >= 2 => Ok((n - s) as f64 / (s_f * (n - 1) as f64)),
        (Sampling::WithoutReplacement, Some(n)) => Err(ProblemError::new("N", n, "N >= 2 for sampling without replacement")),
        (Sampling::Reshuffle, Some(_)) => Err(ProblemError::new(
            "sampling",
            "reshuffle",
            "with_replacement or without_replacement: per-epoch reshuffling has no f-formula (use theory::reshuffle)",
        )),
    }
}
