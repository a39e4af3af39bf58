//! Spearman's rank correlation with its t statistic.

/// Spearman's rho and its t statistic on n - 2 degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RankCorrelation {
    pub rho: f64,
    /// Infinite when |rho| = 1 (a perfectly monotone series), and written to JSON as the largest
    /// finite number of its sign: JSON has no infinity, and the null it would get instead reads
    /// as a quantity the run did not reach (an undecided claim) rather than the strongest trend.
    #[serde(serialize_with = "infinity_as_largest_finite")]
    pub t: f64,
}

fn infinity_as_largest_finite<S: serde::Serializer>(t: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(if t.is_infinite() { f64::MAX.copysign(*t) } else { *t })
}

/// `+0.900 (t = +3.58)`, or `undefined (fewer than 3 points)` for the NaN of a short series, so
/// that no report prints a bare NaN.
impl std::fmt::Display for RankCorrelation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.rho.is_nan() {
            write!(f, "undefined (fewer than 3 points)")
        } else {
            write!(f, "{:+.3} (t = {:+.2})", self.rho, self.t)
        }
    }
}

/// Spearman's rank correlation rho of `a` and `b` (Pearson's correlation of the ranks; ties are
/// not expected in continuous measurements) and `t = rho sqrt((n - 2)/(1 - rho^2))`, which is
/// approximately Student-t with n - 2 degrees of freedom when there is no association.
/// Fewer than 3 points give NaN for both.
pub fn rank_correlation(a: &[f64], b: &[f64]) -> RankCorrelation {
    assert_eq!(a.len(), b.len(), "rank_correlation of unequal lengths");
    if a.len() < 3 {
        return RankCorrelation { rho: f64::NAN, t: f64::NAN };
    }
    let ranks = |v: &[f64]| {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        idx.iter().enumerate().for_each(|(rank, &i)| r[i] = rank as f64);
        r
    };
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let mean = (n - 1.0) / 2.0;
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - mean) * (y - mean)).sum();
    let var: f64 = ra.iter().map(|x| (x - mean).powi(2)).sum();
    let rho = cov / var;
    RankCorrelation { rho, t: rho * ((n - 2.0) / (1.0 - rho * rho)).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_correlation_of_known_orders() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(rank_correlation(&a, &[10.0, 20.0, 30.0, 40.0, 50.0]).rho, 1.0);
        assert_eq!(rank_correlation(&a, &[5.0, 4.0, 3.0, 2.0, 1.0]).rho, -1.0);
        // One swap of neighbours: rho = 1 - 6 * 2 / (5 * 24) = 0.9 (the d^2 formula).
        let RankCorrelation { rho, t } = rank_correlation(&a, &[1.0, 3.0, 2.0, 4.0, 5.0]);
        assert!((rho - 0.9).abs() < 1e-12, "{rho}");
        assert!((t - 0.9 * (3.0f64 / 0.19).sqrt()).abs() < 1e-12, "{t}");
        assert!(rank_correlation(&a[..2], &a[..2]).rho.is_nan());
        assert_eq!(
            rank_correlation(&a, &[1.0, 3.0, 2.0, 4.0, 5.0]).to_string(),
            "+0.900 (t = +3.58)"
        );
        assert_eq!(
            rank_correlation(&a[..2], &a[..2]).to_string(),
            "undefined (fewer than 3 points)"
        );
    }

    /// A perfectly monotone series has t = -inf, which JSON gets as -f64::MAX (not null, which
    /// would read as "not reached"); a short series' NaN stays null.
    #[test]
    fn a_perfect_trend_is_written_as_the_largest_finite_t() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let r = rank_correlation(&a, &[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        assert_eq!((r.rho, r.t), (-1.0, f64::NEG_INFINITY));
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["t"].as_f64(), Some(-f64::MAX));
        assert_eq!(json["rho"].as_f64(), Some(-1.0));
        let short = serde_json::to_value(rank_correlation(&a[..2], &a[..2])).unwrap();
        assert!(short["t"].is_null() && short["rho"].is_null());
    }
}
