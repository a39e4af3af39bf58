//! The standard normal distribution function, for z-tests' false-alarm rates and goodness-of-fit
//! tests of the normal generator.

/// Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// `Phi(x) = P(Z <= x)`, from [`erfc`] (absolute error below 1.2e-7; the upper tail
/// `1 - Phi(x) = Phi(-x)` keeps its relative accuracy when evaluated as `normal_cdf(-x)`).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}
