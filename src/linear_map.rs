//! A linear map that is either diagonal or dense; the hot loops of the Gaussian problems.

use nalgebra::DMatrix;

#[derive(Debug, Clone, PartialEq)]
pub enum LinearMap {
    Diagonal(Vec<f64>),
    Dense(DMatrix<f64>),
}

impl LinearMap {
    /// A factor `L` with `L L^T = c` for an SPD matrix: the diagonal square root when `c` is
    /// diagonal (to 1e-14 relative), otherwise its lower Cholesky factor.
    pub fn square_root_of(c: &DMatrix<f64>) -> Self {
        let d = c.nrows();
        let off = c
            .iter()
            .enumerate()
            .filter(|(k, _)| k % d != k / d)
            .map(|(_, v)| v.abs())
            .fold(0.0, f64::max);
        if off <= 1e-14 * c.amax() {
            LinearMap::Diagonal(c.diagonal().iter().map(|v| v.sqrt()).collect())
        } else {
            LinearMap::Dense(crate::spd::cholesky_lower(c))
        }
    }

    /// `out <- M x + b * out` (b = 0 overwrites, ignoring NaNs in `out`).
    #[inline]
    pub fn apply(&self, x: &[f64], b: f64, out: &mut [f64]) {
        match self {
            LinearMap::Diagonal(m) => {
                if b == 0.0 {
                    for ((o, &mi), &xi) in out.iter_mut().zip(m).zip(x) {
                        *o = mi * xi;
                    }
                } else {
                    for ((o, &mi), &xi) in out.iter_mut().zip(m).zip(x) {
                        *o = mi * xi + b * *o;
                    }
                }
            }
            LinearMap::Dense(m) => {
                if b == 0.0 {
                    out.iter_mut().for_each(|o| *o = 0.0);
                } else if b != 1.0 {
                    out.iter_mut().for_each(|o| *o *= b);
                }
                // Column-major: out += sum_j M[:, j] x_j, a vectorisable axpy per column.
                let n = m.nrows();
                for (j, &xj) in x.iter().enumerate() {
                    let col = &m.as_slice()[j * n..(j + 1) * n];
                    for (o, &c) in out.iter_mut().zip(col) {
                        *o += c * xj;
                    }
                }
            }
        }
    }

    /// `out <- M X + b * out` for a block of column vectors (a GEMM when dense).
    pub fn apply_block(&self, x: &DMatrix<f64>, b: f64, out: &mut DMatrix<f64>) {
        match self {
            LinearMap::Dense(m) => out.gemm(1.0, m, x, b),
            LinearMap::Diagonal(_) => {
                let n = x.nrows();
                for (xc, oc) in
                    x.as_slice().chunks_exact(n).zip(out.as_mut_slice().chunks_exact_mut(n))
                {
                    self.apply(xc, b, oc);
                }
            }
        }
    }

    /// `x^T M x`.
    pub fn quadratic_form(&self, x: &[f64]) -> f64 {
        match self {
            LinearMap::Diagonal(m) => weighted_sum_of_squares(crate::isa::Isa::detected(), m, x),
            LinearMap::Dense(m) => {
                let n = m.nrows();
                x.iter()
                    .enumerate()
                    .map(|(j, &xj)| {
                        xj * m.as_slice()[j * n..(j + 1) * n]
                            .iter()
                            .zip(x)
                            .map(|(c, xi)| c * xi)
                            .sum::<f64>()
                    })
                    .sum()
            }
        }
    }
}

crate::isa::dispatch! {
    /// [`sum_of_weighted_squares`] compiled for `isa`.
    fn weighted_sum_of_squares => sum_of_weighted_squares(m: &[f64], x: &[f64]) -> f64
}

/// `sum_i m_i x_i^2` in eight interleaved partial sums (`i mod 8`), added pairwise at the end: a
/// fixed order, so the same bits every time, and eight independent additions per round instead of
/// one chain (the loss of a diagonal problem is taken every step of a time average).
#[inline(always)]
fn sum_of_weighted_squares(m: &[f64], x: &[f64]) -> f64 {
    debug_assert_eq!(m.len(), x.len());
    let mut acc = [0.0f64; 8];
    let (m_rounds, x_rounds) = (m.chunks_exact(8), x.chunks_exact(8));
    let (m_rest, x_rest) = (m_rounds.remainder(), x_rounds.remainder());
    for (mr, xr) in m_rounds.zip(x_rounds) {
        for j in 0..8 {
            acc[j] += mr[j] * xr[j] * xr[j];
        }
    }
    for (j, (mi, xi)) in m_rest.iter().zip(x_rest).enumerate() {
        acc[j] += mi * xi * xi;
    }
    add_pairwise(&acc)
}

/// The eight partial sums of [`sum_of_weighted_squares`] added pairwise, in the one order that
/// every sum of this shape uses (so that a fused kernel gives the bits of this one).
#[inline(always)]
pub(crate) fn add_pairwise(acc: &[f64; 8]) -> f64 {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}
