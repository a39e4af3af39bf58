//! Vectorised standard normals: the ziggurat of Marsaglia & Tsang (2000), with 2,048 layers, on
//! sixteen Xoshiro256++ lanes, a block of [`BLOCK`] at a time.
//!
//! Definition. Let `b_k` be output `k` of the interleaved [`Lanes`] stream. Normal `k` is the
//! ziggurat of [`super::ziggurat_tables`] run as rand_distr 0.5 runs its own (`StandardNormal`),
//! started with the 64 bits `b_k`: layer `i = b_k mod 2048` (the low 11 bits),
//! `u = 2^1 (1 + (b_k >> 12) 2^-52) - 3` in `[-1, 1)`, `x = u X[i]`, accepted at once when
//! `|x| < X[i + 1]` (99.77% of draws). Every further uniform a rejected draw needs (the wedge
//! test `F[i + 1] + (F[i] - F[i + 1]) U < exp(-x^2 / 2)`, Marsaglia's tail beyond `R` for the base
//! strip `i = 0`, a fresh try with new bits) comes from one scalar Xoshiro256++, the *tail* stream,
//! in the order of `k`. The fast path runs over a whole block in vector lanes (each layer's two
//! edges fetched by one paired load); the rare rejections are redone in scalar code afterwards,
//! their wedge tests mostly settled by `wedge_squeeze` without `exp`.
//!
//! Why 2,048 layers: rand_distr's 256 reject 1.49% of first tries, and on W (BENCHMARKS.md) those
//! few retries took a quarter of the run; 2,048 reject 0.23%, and the edge table (16 KiB) still
//! sits in a first-level data cache.
//!
//! Invariants: the `k`-th normal does not depend on how the draws are split between calls (the
//! stream keeps the rest of a block for the next call); all [`Isa`] variants give the same bits;
//! `tests/all/rng_stream.rs` checks the definition against a plain scalar ziggurat and the tables
//! against their defining equal areas.

use super::lanes::Lanes;
use super::ziggurat_tables::{F, LAYERS, R, X};
use crate::isa::Isa;
use rand::{Rng, RngCore, SeedableRng};
use rand_distr::Open01;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Normals drawn per refill.
pub const BLOCK: usize = 256;

/// A seeded stream of N(0, 1) draws.
#[derive(Debug, Clone)]
pub struct NormalStream {
    lanes: Lanes,
    tail: Xoshiro256PlusPlus,
    bits: [u64; BLOCK],
    block: [f64; BLOCK],
    /// Draws of `block` already handed out.
    used: usize,
    isa: Isa,
}

impl NormalStream {
    /// The lanes take the first 64 words of `words` ([`Lanes::from_words`]); the tail stream the
    /// next four, as its state `s0..s3`.
    pub fn from_words(mut words: impl FnMut() -> u64) -> Self {
        let lanes = Lanes::from_words(&mut words);
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_exact_mut(8) {
            chunk.copy_from_slice(&words().to_le_bytes());
        }
        Self {
            lanes,
            tail: Xoshiro256PlusPlus::from_seed(seed),
            bits: [0; BLOCK],
            block: [0.0; BLOCK],
            used: BLOCK,
            isa: Isa::detected(),
        }
    }

    /// Runs the fast path on `isa` instead of the detected one (for the tests: the bits must not
    /// change). Panics if this CPU does not run `isa`.
    pub fn on(mut self, isa: Isa) -> Self {
        assert!(isa.is_available(), "this CPU cannot run the {isa:?} kernels");
        self.isa = isa;
        self
    }

    /// Fills `out` with the next `out.len()` normals of the stream. The common case, a copy out of
    /// the current block, is small enough to inline into the solve loop; refills stay out of line.
    #[inline]
    pub fn fill(&mut self, out: &mut [f64]) {
        match self.block.get(self.used..self.used + out.len()) {
            Some(ready) => {
                out.copy_from_slice(ready);
                self.used += out.len();
            }
            None => self.fill_across_refills(out),
        }
    }

    /// [`Self::fill`] where the block's rest does not hold all of `out`.
    #[inline(never)]
    fn fill_across_refills(&mut self, out: &mut [f64]) {
        let mut done = 0;
        while done < out.len() {
            if self.used == BLOCK {
                self.refill();
            }
            let take = (BLOCK - self.used).min(out.len() - done);
            out[done..done + take].copy_from_slice(&self.block[self.used..self.used + take]);
            self.used += take;
            done += take;
        }
    }

    #[inline(never)]
    fn refill(&mut self) {
        self.lanes.fill(self.isa, &mut self.bits);
        let mut rejected: Rejections = [0; BLOCK / 8];
        fast_path_on(self.isa, &self.bits, &mut self.block, &mut rejected);
        for (word, bytes) in rejected.chunks_exact(8).enumerate() {
            let mut set = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            while set != 0 {
                let k = 64 * word + set.trailing_zeros() as usize;
                self.block[k] = retry(self.bits[k], &mut self.tail);
                set &= set - 1;
            }
        }
        self.used = 0;
    }
}

crate::isa::dispatch! {
    /// [`fast_path`] with the vector width of `isa`.
    fn fast_path_on => {
        avx512: x86::fast_path_avx512,
        avx2: x86::fast_path_avx2,
        portable: fast_path
    } (bits: &[u64; BLOCK], out: &mut [f64; BLOCK], rejected: &mut Rejections)
}

/// One bit per draw of a block, set where the first try was rejected: bit `k % 8` of byte `k / 8`.
type Rejections = [u8; BLOCK / 8];

/// The ziggurat's first try for every draw of a block: `out[k] = u X[i]`, and bit `k` of
/// `rejected` set where that falls outside layer `i`'s rectangle (`rejected` starts all clear).
fn fast_path(bits: &[u64; BLOCK], out: &mut [f64; BLOCK], rejected: &mut Rejections) {
    for k in 0..BLOCK {
        let (i, _, x) = first_try(bits[k]);
        out[k] = x;
        rejected[k / 8] |= u8::from(x.abs() >= X[i + 1]) << (k % 8);
    }
}

/// The same first try in explicit vector instructions. A layer's two edges `X[i]`, `X[i + 1]` are
/// adjacent in `X`, so one 16-byte load per draw fetches both (vector gathers are slower than these
/// loads on the CPUs we measured); the loads are interleaved into two registers, `X[i]` and
/// `X[i + 1]`.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Rejections, BLOCK, LAYERS, X};
    use std::arch::x86_64::*;

    /// `&X[i]` for the layer `i` of draw `k`: the low 11 bits of `bits[k]`, fetched by a 16-bit
    /// load. The load is volatile so that the compiler does not extract the bits from the vector
    /// register holding the words instead: on the CPUs we measured (Zen 4) the extractions cost
    /// 13% of the normals' time, the loads nothing measurable.
    ///
    /// Safety: `k < BLOCK`. `X` has `LAYERS + 1` entries, so the 16 bytes at the result (`X[i]`
    /// and `X[i + 1]`) lie inside it for every layer `i < LAYERS`.
    #[inline(always)]
    unsafe fn edges(bits: &[u64; BLOCK], k: usize) -> *const f64 {
        debug_assert!(k < BLOCK);
        // x86-64 is little-endian: a word's low bytes are its first.
        let low = bits.as_ptr().add(k).cast::<u16>().read_volatile();
        X.as_ptr().add(usize::from(low) & (LAYERS - 1))
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn fast_path_avx512(
        bits: &[u64; BLOCK],
        out: &mut [f64; BLOCK],
        rejected: &mut Rejections,
    ) {
        let mantissa_to_2_4 = _mm512_set1_epi64(0x4000_0000_0000_0000);
        let three = _mm512_set1_pd(3.0);
        let edge = |j: usize| edges(bits, j);
        for k in (0..BLOCK).step_by(8) {
            // Draws k, k+2, k+4, k+6 in `even`, k+1, k+3, ... in `odd`, (X[i], X[i + 1]) per lane pair.
            let mut even = _mm512_castpd128_pd512(_mm_loadu_pd(edge(k)));
            even = _mm512_insertf64x2::<1>(even, _mm_loadu_pd(edge(k + 2)));
            even = _mm512_insertf64x2::<2>(even, _mm_loadu_pd(edge(k + 4)));
            even = _mm512_insertf64x2::<3>(even, _mm_loadu_pd(edge(k + 6)));
            let mut odd = _mm512_castpd128_pd512(_mm_loadu_pd(edge(k + 1)));
            odd = _mm512_insertf64x2::<1>(odd, _mm_loadu_pd(edge(k + 3)));
            odd = _mm512_insertf64x2::<2>(odd, _mm_loadu_pd(edge(k + 5)));
            odd = _mm512_insertf64x2::<3>(odd, _mm_loadu_pd(edge(k + 7)));
            let x_i = _mm512_unpacklo_pd(even, odd);
            let x_next = _mm512_unpackhi_pd(even, odd);
            let v = _mm512_loadu_si512(bits[k..].as_ptr().cast());
            let u = _mm512_sub_pd(
                _mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64::<12>(v), mantissa_to_2_4)),
                three,
            );
            let x = _mm512_mul_pd(u, x_i);
            _mm512_storeu_pd(out[k..].as_mut_ptr(), x);
            let outside = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(_mm512_abs_pd(x), x_next);
            rejected[k / 8] = outside;
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fast_path_avx2(
        bits: &[u64; BLOCK],
        out: &mut [f64; BLOCK],
        rejected: &mut Rejections,
    ) {
        let mantissa_to_2_4 = _mm256_set1_epi64x(0x4000_0000_0000_0000);
        let three = _mm256_set1_pd(3.0);
        let sign = _mm256_set1_pd(-0.0);
        let edge = |j: usize| edges(bits, j);
        for k in (0..BLOCK).step_by(4) {
            let even = _mm256_insertf128_pd::<1>(
                _mm256_castpd128_pd256(_mm_loadu_pd(edge(k))),
                _mm_loadu_pd(edge(k + 2)),
            );
            let odd = _mm256_insertf128_pd::<1>(
                _mm256_castpd128_pd256(_mm_loadu_pd(edge(k + 1))),
                _mm_loadu_pd(edge(k + 3)),
            );
            let x_i = _mm256_unpacklo_pd(even, odd);
            let x_next = _mm256_unpackhi_pd(even, odd);
            let v = _mm256_loadu_si256(bits[k..].as_ptr().cast());
            let u = _mm256_sub_pd(
                _mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64::<12>(v), mantissa_to_2_4)),
                three,
            );
            let x = _mm256_mul_pd(u, x_i);
            _mm256_storeu_pd(out[k..].as_mut_ptr(), x);
            let outside =
                _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(_mm256_andnot_pd(sign, x), x_next));
            // Bits 0..4 of byte k / 8 for k % 8 == 0, bits 4..8 for k % 8 == 4.
            rejected[k / 8] |= (outside as u8) << (k % 8);
        }
    }
}

/// Layer `i`, the uniform `u` in `[-1, 1)` and the candidate `x = u X[i]` that the bits `b` encode.
#[inline(always)]
fn first_try(b: u64) -> (usize, f64, f64) {
    let i = (b as usize) & (LAYERS - 1);
    let u = f64::from_bits((b >> 12) | 0x4000_0000_0000_0000) - 3.0;
    (i, u, u * X[i])
}

/// The rest of the ziggurat for a draw whose first try `b` fell outside its rectangle: the
/// wedge test, base-strip tail and fresh tries, every uniform from `tail`.
#[inline(always)]
fn retry(mut b: u64, tail: &mut Xoshiro256PlusPlus) -> f64 {
    loop {
        let (i, u, x) = first_try(b);
        if x.abs() < X[i + 1] {
            return x;
        }
        if i == 0 {
            return base_strip_tail(tail, u);
        }
        let y = F[i + 1] + (F[i] - F[i + 1]) * tail.random::<f64>();
        let below_density = match wedge_squeeze(i, x.abs(), y) {
            Some(decided) => decided,
            None => y < (-x * x / 2.0).exp(),
        };
        if below_density {
            return x;
        }
        b = tail.next_u64();
    }
}

/// Decides the wedge test `y < f(t)`, `f(t) = exp(-t^2 / 2)`, for `t` in layer `i >= 1`'s wedge
/// `[X[i + 1], X[i]]` without `exp` where bounds on `f` settle it, and `None` where they do not.
///
/// On the wedge `f` lies between its chord `c` and its tangents at the two ends (`f'' = (t^2 - 1) f`):
/// `max tangent <= f <= c` where `f` is convex (`t >= 1`), `c <= f <= min tangent` where concave
/// (`t <= 1`); wedges that straddle 1 are not squeezed. A decision is taken only with a margin of
/// `1e-12` (the bounds' and `exp`'s rounding are below `1e-15`), so it always agrees with the
/// exact comparison: the stream is unchanged, and 99% of the `exp` calls are saved (over wedge
/// points drawn uniformly in every layer; tested).
#[inline]
fn wedge_squeeze(i: usize, t: f64, y: f64) -> Option<bool> {
    const MARGIN: f64 = 1e-12;
    let (a, b, fa, fb) = (X[i + 1], X[i], F[i + 1], F[i]);
    let chord = fa + (fb - fa) * (t - a) * INVERSE_WEDGE_WIDTH[i];
    let tangent_a = fa * (1.0 - a * (t - a));
    let tangent_b = fb * (1.0 - b * (t - b));
    let (lower, upper) = if a >= 1.0 {
        (tangent_a.max(tangent_b), chord)
    } else if b <= 1.0 {
        (chord, tangent_a.min(tangent_b))
    } else {
        return None;
    };
    if y < lower - MARGIN {
        Some(true)
    } else if y > upper + MARGIN {
        Some(false)
    } else {
        None
    }
}

/// `1 / (X[i] - X[i + 1])`: the chord of [`wedge_squeeze`] without a division on the wedge test's
/// critical path (its rounding differs from the division's by far less than the squeeze's margin).
static INVERSE_WEDGE_WIDTH: [f64; LAYERS] = {
    let mut w = [0.0; LAYERS];
    let mut i = 0;
    while i < LAYERS {
        w[i] = 1.0 / (X[i] - X[i + 1]);
        i += 1;
    }
    w
};

/// Marsaglia's tail beyond `R` (rand_distr's `zero_case`), on the side of `u`'s sign.
#[cold]
#[inline(never)]
fn base_strip_tail(tail: &mut Xoshiro256PlusPlus, u: f64) -> f64 {
    let (mut x, mut y) = (1.0f64, 0.0f64);
    while -2.0 * y < x * x {
        let x_: f64 = tail.sample(Open01);
        let y_: f64 = tail.sample(Open01);
        x = x_.ln() / R;
        y = y_.ln();
    }
    if u < 0.0 {
        x - R
    } else {
        R - x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The squeeze never disagrees with the exact comparison, and decides most wedge tests.
    #[test]
    fn the_wedge_squeeze_agrees_with_exp_and_saves_most_calls() {
        let mut r = Xoshiro256PlusPlus::seed_from_u64(5);
        let (mut decided, n) = (0usize, 1_000_000);
        for _ in 0..n {
            let i = 1 + (r.next_u64() % (LAYERS as u64 - 1)) as usize;
            let t = X[i + 1] + (X[i] - X[i + 1]) * r.random::<f64>();
            let y = F[i + 1] + (F[i] - F[i + 1]) * r.random::<f64>();
            if let Some(d) = wedge_squeeze(i, t, y) {
                assert_eq!(d, y < (-t * t / 2.0).exp(), "layer {i}, t {t}, y {y}");
                decided += 1;
            }
        }
        let share = decided as f64 / n as f64;
        eprintln!("wedge tests decided without exp: {share:.4}");
        assert!(share > 0.9, "only {share:.3} of wedge tests decided without exp");
        // And near the boundary, where only exp can decide, it declines.
        let (i, t) = (LAYERS / 2, 0.5 * (X[LAYERS / 2] + X[LAYERS / 2 + 1]));
        assert_eq!(wedge_squeeze(i, t, (-t * t / 2.0).exp()), None);
    }
}
