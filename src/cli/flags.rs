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

/// A count >= 1 (batch sizes, seeds, probes, examples).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    let v: usize = number(s).map_err(|_| "valid is a whole number >= 1".to_string())?;
    if v >= 1 {
        Ok(v)
    } else {
        Err("valid range is >= 1".into())
    }
}

/// A number of independent paths >= 2: every estimate carries a standard error over paths, and
/// one path has none.
pub fn paths(s: &str) -> Result<usize, String> {
    let v: usize = number(s).map_err(|_| "valid is a whole number >= 2".to_string())?;
    if v >= 2 {
        Ok(v)
    } else {
        Err("valid range is >= 2 (a standard error over paths needs two of them)".into())
    }
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
