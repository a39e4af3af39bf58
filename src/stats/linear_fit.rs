//! A straight line `y = a + b x` by ordinary least squares, with the standard errors and the
//! covariance of `(a, b)` from the residuals (`s^2 = RSS / (n - 2)`): honest about scatter the
//! points' own error bars would not show, such as a model that does not quite fit.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinearFit {
    pub intercept: f64,
    pub slope: f64,
    pub intercept_se: f64,
    pub slope_se: f64,
    /// `cov(intercept, slope)`.
    pub covariance: f64,
    pub points: usize,
}

impl LinearFit {
    /// `slope / intercept` with its standard error by the delta method.
    pub fn slope_over_intercept(&self) -> (f64, f64) {
        let (a, b) = (self.intercept, self.slope);
        let r = b / a;
        let rel2 = (self.slope_se / b).powi(2) + (self.intercept_se / a).powi(2)
            - 2.0 * self.covariance / (a * b);
        (r, r.abs() * rel2.max(0.0).sqrt())
    }
}

/// Fits `y = a + b x`; `None` with fewer than three points or all `x` equal.
pub fn linear_fit(xs: &[f64], ys: &[f64]) -> Option<LinearFit> {
    weighted_linear_fit(xs, ys, &vec![1.0; xs.len()])
}

/// Fits `y = a + b x` minimising `sum w (y - a - b x)^2`, the errors scaled by the weighted
/// residuals (`s^2 = sum w r^2 / (n - 2)`): weights `1 / y^2` fit relative deviations, for
/// points whose errors grow with `y`. `None` with fewer than three points, all `x` equal, or a
/// weight that is not finite and > 0.
pub fn weighted_linear_fit(xs: &[f64], ys: &[f64], ws: &[f64]) -> Option<LinearFit> {
    let n = xs.len();
    if n < 3 || ys.len() != n || ws.len() != n || ws.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
        return None;
    }
    let sw: f64 = ws.iter().sum();
    let mx = xs.iter().zip(ws).map(|(x, w)| w * x).sum::<f64>() / sw;
    let my = ys.iter().zip(ws).map(|(y, w)| w * y).sum::<f64>() / sw;
    let sxx: f64 = xs.iter().zip(ws).map(|(x, w)| w * (x - mx).powi(2)).sum();
    if sxx.is_nan() || sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).zip(ws).map(|((x, y), w)| w * (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 =
        xs.iter().zip(ys).zip(ws).map(|((x, y), w)| w * (y - intercept - slope * x).powi(2)).sum();
    let s2 = rss / (n - 2) as f64;
    Some(LinearFit {
        intercept,
        slope,
        intercept_se: (s2 * (1.0 / sw + mx * mx / sxx)).sqrt(),
        slope_se: (s2 / sxx).sqrt(),
        covariance: -mx * s2 / sxx,
        points: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_line_and_its_textbook_errors() {
        // y = 1 + 2x exactly: zero residuals, zero errors.
        let f = linear_fit(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 5.0, 7.0]).unwrap();
        assert!((f.intercept - 1.0).abs() < 1e-12 && (f.slope - 2.0).abs() < 1e-12);
        assert!(f.slope_se < 1e-12);
        // x = 0, 1, 2 and y = 0, 2, 1: slope 1/2, intercept 1/2, RSS = 3/2 with one degree of
        // freedom, sxx = 2: se(slope) = sqrt(1.5 / 2), se(a) = sqrt(1.5 (1/3 + 1/2)).
        let f = linear_fit(&[0.0, 1.0, 2.0], &[0.0, 2.0, 1.0]).unwrap();
        assert!((f.slope - 0.5).abs() < 1e-12 && (f.intercept - 0.5).abs() < 1e-12);
        assert!((f.slope_se - 0.75_f64.sqrt()).abs() < 1e-12);
        assert!((f.intercept_se - 1.25_f64.sqrt()).abs() < 1e-12);
        assert!((f.covariance + 0.75).abs() < 1e-12);
        assert!(linear_fit(&[1.0, 1.0, 1.0], &[0.0, 1.0, 2.0]).is_none());
        // A weight of 2 is the point counted twice: the same line as the unweighted fit of
        // (0, 0), (1, 2), (1, 2), (2, 1).
        let w = weighted_linear_fit(&[0.0, 1.0, 2.0], &[0.0, 2.0, 1.0], &[1.0, 2.0, 1.0]).unwrap();
        let u = linear_fit(&[0.0, 1.0, 1.0, 2.0], &[0.0, 2.0, 2.0, 1.0]).unwrap();
        assert!((w.slope - u.slope).abs() < 1e-12 && (w.intercept - u.intercept).abs() < 1e-12);
        assert!(weighted_linear_fit(&[0.0, 1.0, 2.0], &[0.0, 2.0, 1.0], &[1.0, 0.0, 1.0]).is_none());
    }
}
