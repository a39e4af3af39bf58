//! The optimal batch size of a test-accuracy curve and the scaling of B_opt across settings, with
//! an error bar that comes from the seeds.
//!
//! * **B_opt** of one setting: the vertex of the least-squares parabola in `log2 B` through the
//!   best batch size and up to two neighbours on each side (clamped to the immediate neighbours),
//!   reported as a bound when the best B is at the grid's edge.
//! * **Scaling**: the least-squares slope `b` of `ln B_opt = a + b x` over the settings whose
//!   optimum is interior, `x = ln(eps N / (1 - m))` (Smith & Le predict `b = 1`).
//! * **Its standard error** is the larger of two:
//!   - the *seed bootstrap*: resample each setting's seeds with replacement (the same seeds for
//!     every B of that setting, since a seed is one initialisation and one data order), recompute
//!     the seed-averaged curves, their B_opt and the slope, `replicates` times; the standard
//!     deviation of those slopes. It measures how much the seeds move the answer (and is a little
//!     low with few seeds: by `sqrt((k - 1)/k)` for `k` seeds).
//!   - the *residual* error `sqrt(RSS / (n - 2) / Sxx)`, which also sees a model that does not fit
//!     (B_opt not a power of eps N/(1-m)) but rests on `n - 2` degrees of freedom.
//!
//! Invariant: the bootstrap is seeded, so the same accuracies and seed give the same bits.

use crate::rng::{stream, PathRng};
use crate::stats::linear_fit;
use rand::Rng;
use serde::Serialize;

/// Where a setting's best batch size lies on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimumKind {
    Interior,
    /// The best B is the grid's smallest: B_opt is at most it.
    AtMost,
    /// The best B is the grid's largest: B_opt is at least it.
    AtLeast,
}

impl OptimumKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Interior => "interior",
            Self::AtMost => "at most",
            Self::AtLeast => "at least",
        }
    }
}

/// B_opt of a curve `(B, accuracy)` sorted by B: the vertex of the least-squares parabola in
/// `log2 B` through the best B and up to two neighbours on each side (five points where the grid
/// has them, which steadies the vertex against seed noise more than three), clamped to the best
/// B's immediate neighbours; the best B itself when that parabola is not concave.
pub fn batch_optimum(acc: &[(usize, f64)]) -> (f64, OptimumKind) {
    let j = (0..acc.len()).max_by(|&a, &b| acc[a].1.total_cmp(&acc[b].1)).unwrap_or(0);
    if j == 0 {
        return (acc[0].0 as f64, OptimumKind::AtMost);
    }
    if j + 1 == acc.len() {
        return (acc[j].0 as f64, OptimumKind::AtLeast);
    }
    let x = |i: usize| (acc[i].0 as f64).log2();
    let window = j.saturating_sub(2)..(j + 3).min(acc.len());
    // Normal equations of y = c0 + c1 u + c2 u^2 with u = x - x_j (centred for conditioning).
    let mut m = [[0.0; 3]; 3];
    let mut r = [0.0; 3];
    for i in window {
        let u = x(i) - x(j);
        let p = [1.0, u, u * u];
        for a in 0..3 {
            r[a] += p[a] * acc[i].1;
            for b in 0..3 {
                m[a][b] += p[a] * p[b];
            }
        }
    }
    let [_, c1, c2] = solve3(m, r);
    let vertex = if c2 < 0.0 { (x(j) - c1 / (2.0 * c2)).clamp(x(j - 1), x(j + 1)) } else { x(j) };
    (2f64.powf(vertex), OptimumKind::Interior)
}

/// `m c = r` by Cramer's rule (`m` is a 3 x 3 Gram matrix of at least three distinct points, so
/// it is invertible).
fn solve3(m: [[f64; 3]; 3], r: [f64; 3]) -> [f64; 3] {
    let det = |a: [[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d = det(m);
    let column = |k: usize| {
        let mut a = m;
        (0..3).for_each(|i| a[i][k] = r[i]);
        det(a) / d
    };
    [column(0), column(1), column(2)]
}

/// One setting's measurements: `x = ln(eps N/(1-m))` and, per batch size, one accuracy per seed.
#[derive(Debug, Clone)]
pub struct SeedCurves {
    pub x: f64,
    pub per_seed: Vec<(usize, Vec<f64>)>,
}

impl SeedCurves {
    /// The curve averaged over the seeds `picks` (indices, repeats allowed).
    fn mean_over(&self, picks: &[usize]) -> Vec<(usize, f64)> {
        self.per_seed
            .iter()
            .map(|(b, a)| (*b, picks.iter().map(|&i| a[i]).sum::<f64>() / picks.len() as f64))
            .collect()
    }

    /// The curve averaged over all seeds.
    pub fn mean(&self) -> Vec<(usize, f64)> {
        let k = self.per_seed.first().map_or(0, |(_, a)| a.len());
        self.mean_over(&(0..k).collect::<Vec<_>>())
    }

    /// One bootstrap replicate: `picks.len()` seeds drawn with replacement from the first
    /// `picks.len()` (overwriting `picks`), and `ln B_opt` of their mean curve.
    fn resampled_ln_optimum(&self, picks: &mut [usize], rng: &mut PathRng) -> f64 {
        let seeds = picks.len();
        picks.iter_mut().for_each(|p| *p = rng.random_range(0..seeds));
        batch_optimum(&self.mean_over(picks)).0.ln()
    }
}

/// The sample standard deviation (`n - 1` in the denominator) of the bootstrap replicates.
fn sample_sd(values: &[f64]) -> f64 {
    let k = values.len() as f64;
    let mean = values.iter().sum::<f64>() / k;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt()
}

/// The seed-bootstrap standard deviation of one setting's `ln B_opt` (its error bar in the
/// figure), from `replicates` resamples of its seeds; `None` with fewer than two seeds.
pub fn ln_optimum_se(curves: &SeedCurves, replicates: usize, seed: u64) -> Option<f64> {
    let seeds = curves.per_seed.first()?.1.len();
    if seeds < 2 || replicates < 2 {
        return None;
    }
    let mut rng = stream(seed, 0xB0_B8);
    let mut picks = vec![0; seeds];
    let ln: Vec<f64> =
        (0..replicates).map(|_| curves.resampled_ln_optimum(&mut picks, &mut rng)).collect();
    Some(sample_sd(&ln))
}

/// The slope of ln B_opt against x and its errors (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScalingFit {
    pub slope: f64,
    /// Of the least-squares line `ln B_opt = intercept + slope x`.
    pub intercept: f64,
    /// The mean of the settings' x (where a line of another slope through the data's centroid
    /// pivots).
    pub mean_x: f64,
    /// `max(bootstrap_se, residual_se)`: the error bar verdicts use.
    pub se: f64,
    pub bootstrap_se: f64,
    pub residual_se: f64,
    pub settings: usize,
    pub replicates: usize,
}

/// Fits the slope over the settings (all of them are used; pass the interior ones). `None` with
/// fewer than three settings, equal x, or fewer than two seeds.
pub fn scaling_fit(settings: &[SeedCurves], replicates: usize, seed: u64) -> Option<ScalingFit> {
    let seeds = settings.iter().flat_map(|s| s.per_seed.first()).map(|(_, a)| a.len()).min()?;
    if seeds < 2 || replicates < 2 {
        return None;
    }
    let xs: Vec<f64> = settings.iter().map(|s| s.x).collect();
    let ys: Vec<f64> = settings.iter().map(|s| batch_optimum(&s.mean()).0.ln()).collect();
    let fit = linear_fit(&xs, &ys)?;
    let mut rng = stream(seed, 0xB0_B7);
    let mut picks = vec![0; seeds];
    let slopes: Vec<f64> = (0..replicates)
        .filter_map(|_| {
            let ys: Vec<f64> =
                settings.iter().map(|s| s.resampled_ln_optimum(&mut picks, &mut rng)).collect();
            linear_fit(&xs, &ys).map(|f| f.slope)
        })
        .collect();
    let bootstrap_se = sample_sd(&slopes);
    Some(ScalingFit {
        slope: fit.slope,
        intercept: fit.intercept,
        mean_x: xs.iter().sum::<f64>() / xs.len() as f64,
        se: bootstrap_se.max(fit.slope_se),
        bootstrap_se,
        residual_se: fit.slope_se,
        settings: settings.len(),
        replicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    /// Synthetic settings whose true optimum is `B_opt = 0.1 (eps N)^power` (accuracy a parabola
    /// in log2 B around it), measured with seed noise of standard deviation `noise`.
    fn synthetic(power: f64, noise: f64, seeds: usize, seed: u64) -> Vec<SeedCurves> {
        let mut rng = stream(seed, 1);
        let normal = Normal::new(0.0, noise).unwrap();
        [25.0, 50.0, 100.0, 200.0, 400.0, 800.0]
            .iter()
            .map(|&scale: &f64| {
                let centre = (0.1 * scale.powf(power)).log2();
                let per_seed = (0..10)
                    .map(|i| {
                        let b = 1usize << i;
                        let mean = 0.9 - 0.01 * ((b as f64).log2() - centre).powi(2);
                        (b, (0..seeds).map(|_| mean + normal.sample(&mut rng)).collect())
                    })
                    .collect();
                SeedCurves { x: scale.ln(), per_seed }
            })
            .collect()
    }

    #[test]
    fn the_vertex_of_a_parabola_is_found_and_edges_are_bounds() {
        // Accuracy -(log2 B - 3.3)^2: the vertex at B = 2^3.3 from the five points around it, and
        // from three when the best B is next to the grid's edge.
        let curve: Vec<(usize, f64)> =
            (0..8).map(|i| (1usize << i, -((i as f64) - 3.3).powi(2))).collect();
        let (b, kind) = batch_optimum(&curve);
        assert_eq!(kind, OptimumKind::Interior);
        assert!((b.log2() - 3.3).abs() < 1e-12, "{b}");
        let near_edge: Vec<(usize, f64)> =
            (0..3).map(|i| (1usize << i, -((i as f64) - 0.8).powi(2))).collect();
        assert!((batch_optimum(&near_edge).0.log2() - 0.8).abs() < 1e-12);
        // A noisy curve y = 0, 3, 4, 4.1, 1 at B = 1..16: the best is B = 8 (u = 0), its window
        // u = -2..1 (four points, the grid ends); the least-squares parabola, solved by hand in
        // fractions, has c1 = -323/200 and c2 = -41/40: vertex u = -323/410.
        let noisy: Vec<(usize, f64)> =
            [0.0, 3.0, 4.0, 4.1, 1.0].iter().enumerate().map(|(i, &y)| (1usize << i, y)).collect();
        let (bn, _) = batch_optimum(&noisy);
        assert!((bn.log2() - (3.0 - 323.0 / 410.0)).abs() < 1e-12, "{bn}");
        let rising: Vec<(usize, f64)> = (0..5).map(|i| (1usize << i, i as f64)).collect();
        assert_eq!(batch_optimum(&rising), (16.0, OptimumKind::AtLeast));
        let falling: Vec<(usize, f64)> = (0..5).map(|i| (1usize << i, -(i as f64))).collect();
        assert_eq!(batch_optimum(&falling), (1.0, OptimumKind::AtMost));
    }

    #[test]
    fn the_seed_bootstrap_recovers_the_slope_and_rejects_the_wrong_one() {
        // Noise-free: the slope is exact (to the parabola's three-point vertex) and the errors 0.
        let exact = scaling_fit(&synthetic(1.0, 0.0, 4, 3), 200, 7).unwrap();
        assert!((exact.slope - 1.0).abs() < 1e-9 && exact.se < 1e-9, "{exact:?}");
        // With seed noise: over 20 independent data sets, slope 1 lies within 3 s.e. every time
        // (a false alarm has probability ~0.3% each if the error bar is honest), and the
        // negative control, slope 1/2, is rejected in most of them.
        let (mut held, mut rejected) = (0, 0);
        for s in 0..20 {
            let f = scaling_fit(&synthetic(1.0, 0.004, 8, 100 + s), 400, s).unwrap();
            held += usize::from((f.slope - 1.0).abs() < 3.0 * f.se);
            rejected += usize::from((f.slope - 0.5).abs() > 3.0 * f.se);
            assert!(f.bootstrap_se > 0.0 && f.residual_se > 0.0);
        }
        assert_eq!(held, 20);
        assert!(rejected >= 15, "slope 1/2 rejected in only {rejected} of 20");
        // Same data, same seed: the same bits.
        let a = scaling_fit(&synthetic(1.0, 0.004, 8, 5), 100, 9).unwrap();
        let b = scaling_fit(&synthetic(1.0, 0.004, 8, 5), 100, 9).unwrap();
        assert_eq!(a, b);
        assert!(scaling_fit(&synthetic(1.0, 0.004, 1, 5), 100, 9).is_none());
        // One setting's error bar: 0 (to rounding) without noise, positive with it, none from one
        // seed.
        let clean = &synthetic(1.0, 0.0, 4, 3)[0];
        assert!(ln_optimum_se(clean, 100, 1).is_some_and(|se| se < 1e-12));
        let noisy = &synthetic(1.0, 0.004, 8, 3)[0];
        assert!(ln_optimum_se(noisy, 100, 1).is_some_and(|se| se > 0.0));
        assert!(ln_optimum_se(&synthetic(1.0, 0.004, 1, 3)[0], 100, 1).is_none());
    }
}
