//! Value parsers for numeric flags: a bad value is refused by the argument parser itself, with
//! the flag, the value and the valid range on one line (exit 2), before any work starts.

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim().parse::<T>().map_err(|_| "valid is a number".to_string())
}

/// A finite number > 0 (learning rates, epochs, scale factors).
pub fn positive(s: &str) -> Result<f64, String> {
    let v: f64 = number(s)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err("valid range is a finite number > 0".into())
    }
}

/// A finite number >= 0 (regularisation).
pub fn non_negative(s: &str) -> Result<f64, String> {
    let v: f64 = number(s)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err("valid range is a finite number >= 0".into())
    }
}

/// A momentum coefficient, 0 <= m < 1.
pub fn momentum(s: &str) -> Result<f64, String> {
    let v: f64 = number(s)?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err("valid range is 0 <= m < 1".into())
    }
}

/// A whole number `>= min`; `why` (if not empty) says why, after the range.
fn whole_at_least(s: &str, min: usize, why: &str) -> Result<usize, String> {
    let v: usize = number(s).map_err(|_| format!("valid is a whole number >= {min}"))?;
    if v >= min {
        Ok(v)
    } else if why.is_empty() {
        Err(format!("valid range is >= {min}"))
    } else {
        Err(format!("valid range is >= {min} ({why})"))
    }
}

/// A count >= 1 (batch sizes, seeds, probes, examples).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    whole_at_least(s, 1, "")
}

/// A number of independent paths >= 2: every estimate carries a standard error over paths, and
/// one path has none.
pub fn paths(s: &str) -> Result<usize, String> {
    whole_at_least(s, 2, crate::error::TWO_PATHS)
}

/// A number of Hutchinson probes >= 2: the trace estimate carries a standard error over probes,
/// and one probe has none.
pub fn probes(s: &str) -> Result<usize, String> {
    whole_at_least(s, 2, "a standard error over probes needs two of them")
}

/// The ratio k >= 2 between the runs an experiment compares (k eta and k S against eta and S):
/// at k = 1 they are one run, and the comparison could not fail.
pub fn factor(s: &str) -> Result<usize, String> {
    whole_at_least(s, 2, "at 1 the runs compared are the same run")
}

/// SVAG's amplification, a finite 1 <= l <= 1e6.
pub fn amplification(s: &str) -> Result<f64, String> {
    let v: f64 = number(s)?;
    if v.is_finite() && (1.0..=1e6).contains(&v) {
        Ok(v)
    } else {
        Err("valid range is 1 <= l <= 1e6".into())
    }
}

/// A pair of runs `eta_A:S_A:eta_B:S_B` (learning rates > 0, batch sizes >= 1).
pub fn run_pair(s: &str) -> Result<(f64, usize, f64, usize), String> {
    let bad =
        || "valid is eta_A:S_A:eta_B:S_B with learning rates > 0 and batch sizes >= 1".to_string();
    let f: Vec<&str> = s.split(':').collect();
    if f.len() != 4 {
        return Err(bad());
    }
    let eta = |x: &str| positive(x).map_err(|_| bad());
    let batch = |x: &str| at_least_one(x).map_err(|_| bad());
    Ok((eta(f[0])?, batch(f[1])?, eta(f[2])?, batch(f[3])?))
}
