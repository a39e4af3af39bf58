//! The weak order as a log-log slope, from coupled runs over nested step sizes.
//!
//! Each path is run at step sizes `h_l = h_0 / 2^l` with coupled noise (the coarse increment is the
//! sum of the fine ones), giving `f_l`. The level differences `D_l = E[f_l - f_{l+1}] ~ c h_l^p`
//! cancel most of the noise, and `p` is the slope of `log |D_l|` against `log h_l`. Its standard
//! error comes from a delete-one-group jackknife over independent groups of paths, which respects
//! the correlation between levels.

/// A fitted order with its jackknife standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slope {
    pub slope: f64,
    pub se: f64,
    pub groups: usize,
}

fn fit(hs: &[f64], per_path: &[Vec<f64>], skip: Option<std::ops::Range<usize>>) -> f64 {
    let levels = hs.len();
    let mut diff = vec![0.0; levels - 1];
    let mut n = 0usize;
    for (p, f) in per_path.iter().enumerate() {
        if skip.as_ref().is_some_and(|r| r.contains(&p)) {
            continue;
        }
        n += 1;
        for l in 0..levels - 1 {
            diff[l] += f[l] - f[l + 1];
        }
    }
    let xs: Vec<f64> = hs[..levels - 1].iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = diff.iter().map(|d| (d / n as f64).abs().ln()).collect();
    let mx = xs.iter().sum::<f64>() / xs.len() as f64;
    let my = ys.iter().sum::<f64>() / ys.len() as f64;
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

/// `hs[l]` are the step sizes (at least 3), `per_path[p][l]` the coupled values `f_l` of path `p`
/// (at least 2 paths). The jackknife uses `groups` groups, or one per path when there are fewer
/// paths (an empty group would leave every jackknife fit equal and the error bar 0).
pub fn weak_order_slope(hs: &[f64], per_path: &[Vec<f64>], groups: usize) -> Slope {
    assert!(hs.len() >= 3, "need at least three step sizes for a slope");
    assert!(per_path.len() >= 2, "need at least two paths for an error bar");
    let groups = groups.min(per_path.len());
    let slope = fit(hs, per_path, None);
    let size = per_path.len() / groups;
    let jack: Vec<f64> =
        (0..groups).map(|g| fit(hs, per_path, Some(g * size..(g + 1) * size))).collect();
    let m = jack.iter().sum::<f64>() / groups as f64;
    let var =
        (groups - 1) as f64 / groups as f64 * jack.iter().map(|s| (s - m).powi(2)).sum::<f64>();
    Slope { slope, se: var.sqrt(), groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fewer paths than groups: one group per path, so the jackknife sees the paths disagree.
    /// (With 20 groups of 2 paths each group was empty, every jackknife fit the full fit, and the
    /// slope came out with an error bar of exactly 0.)
    #[test]
    fn fewer_paths_than_groups_still_give_an_error_bar() {
        let hs = [0.2, 0.1, 0.05];
        // f_l = h_l (order 1) plus a path's own level-dependent wobble
        let per_path: Vec<Vec<f64>> = [0.01, -0.02]
            .iter()
            .map(|e| hs.iter().enumerate().map(|(l, h)| h + e * l as f64).collect())
            .collect();
        let s = weak_order_slope(&hs, &per_path, 20);
        assert_eq!(s.groups, 2);
        assert!(s.se > 0.0 && s.se.is_finite(), "{s:?}");
    }
}
