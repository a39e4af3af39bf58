//! Sixteen Xoshiro256++ generators stepped together in vector registers (two independent AVX-512
//! registers per state word, so that one step's latency hides behind the other's): the bit source of the vectorised normals ([`super::normals`]).
//!
//! Definition (the whole of it): output `k` of the stream is the `(k / 16)`-th output of lane
//! `k % 16`, and each lane is the reference Xoshiro256++ of Blackman & Vigna (2018,
//! <https://prng.di.unimi.it/xoshiro256plusplus.c>) started from its own four state words. The
//! state is kept as a structure of arrays (`s[word][lane]`), one 64-bit vector lane per generator: explicit AVX-512 or AVX2 code where the CPU has it ([`Isa`]), the portable loop
//! otherwise; integer arithmetic only, so every variant gives the same bits.

use crate::isa::Isa;

/// Generators stepped together.
pub const LANES: usize = 16;

/// Sixteen Xoshiro256++ states, word-major.
#[derive(Debug, Clone)]
pub struct Lanes {
    s: [[u64; LANES]; 4],
}

impl Lanes {
    /// Lane `l` takes state words `4l, 4l + 1, 4l + 2, 4l + 3` of `words` (`s0..s3` in the
    /// reference code's order).
    pub fn from_words(mut words: impl FnMut() -> u64) -> Self {
        let mut s = [[0u64; LANES]; 4];
        for l in 0..LANES {
            for word in &mut s {
                word[l] = words();
            }
        }
        Self { s }
    }

    /// Fills `out` with the next `out.len()` outputs of the interleaved stream, on `isa`.
    ///
    /// # Panics
    /// If `out.len()` is not a multiple of [`LANES`] (callers use whole blocks), or if this CPU
    /// does not run `isa`.
    pub fn fill(&mut self, isa: Isa, out: &mut [u64]) {
        assert_eq!(out.len() % LANES, 0, "lanes fill whole rounds");
        fill_on(isa, &mut self.s, out)
    }
}

crate::isa::dispatch! {
    /// One Xoshiro256++ step of every lane per round of `out`, with the vector width of `isa`.
    fn fill_on => { avx512: x86::step_avx512, avx2: x86::step_avx2, portable: step_portable }
        (state: &mut [[u64; LANES]; 4], out: &mut [u64])
}

/// The reference step, lane by lane.
fn step_portable(state: &mut [[u64; LANES]; 4], out: &mut [u64]) {
    let [mut s0, mut s1, mut s2, mut s3] = *state;
    for round in out.chunks_exact_mut(LANES) {
        for l in 0..LANES {
            round[l] = s0[l].wrapping_add(s3[l]).rotate_left(23).wrapping_add(s0[l]);
            let t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = s3[l].rotate_left(45);
        }
    }
    *state = [s0, s1, s2, s3];
}

/// The same step in explicit vector instructions (the compiler does not vectorise the portable
/// loop across lanes by itself).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::LANES;
    use std::arch::x86_64::*;

    /// Registers per state word at a vector width of `W` lanes.
    const fn regs<const W: usize>() -> usize {
        LANES / W
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn step_avx512(state: &mut [[u64; LANES]; 4], out: &mut [u64]) {
        const R: usize = regs::<8>();
        let mut s = [[_mm512_setzero_si512(); R]; 4];
        for (v, word) in s.iter_mut().zip(state.iter()) {
            for (r, x) in v.iter_mut().enumerate() {
                *x = _mm512_loadu_si512(word[8 * r..].as_ptr().cast());
            }
        }
        for round in out.chunks_exact_mut(LANES) {
            for r in 0..R {
                let [s0, s1, s2, s3] = [s[0][r], s[1][r], s[2][r], s[3][r]];
                let y = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
                _mm512_storeu_si512(round[8 * r..].as_mut_ptr().cast(), y);
                let t = _mm512_slli_epi64::<17>(s1);
                let s2 = _mm512_xor_si512(s2, s0);
                let s3 = _mm512_xor_si512(s3, s1);
                let s1 = _mm512_xor_si512(s1, s2);
                let s0 = _mm512_xor_si512(s0, s3);
                let s2 = _mm512_xor_si512(s2, t);
                let s3 = _mm512_rol_epi64::<45>(s3);
                [s[0][r], s[1][r], s[2][r], s[3][r]] = [s0, s1, s2, s3];
            }
        }
        for (v, word) in s.iter().zip(state.iter_mut()) {
            for (r, x) in v.iter().enumerate() {
                _mm512_storeu_si512(word[8 * r..].as_mut_ptr().cast(), *x);
            }
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn step_avx2(state: &mut [[u64; LANES]; 4], out: &mut [u64]) {
        const R: usize = regs::<4>();
        #[inline(always)]
        unsafe fn rotl<const L: i32, const R: i32>(x: __m256i) -> __m256i {
            _mm256_or_si256(_mm256_slli_epi64::<L>(x), _mm256_srli_epi64::<R>(x))
        }
        let mut s = [[_mm256_setzero_si256(); R]; 4];
        for (v, word) in s.iter_mut().zip(state.iter()) {
            for (r, x) in v.iter_mut().enumerate() {
                *x = _mm256_loadu_si256(word[4 * r..].as_ptr().cast());
            }
        }
        for round in out.chunks_exact_mut(LANES) {
            for r in 0..R {
                let [s0, s1, s2, s3] = [s[0][r], s[1][r], s[2][r], s[3][r]];
                let y = _mm256_add_epi64(rotl::<23, 41>(_mm256_add_epi64(s0, s3)), s0);
                _mm256_storeu_si256(round[4 * r..].as_mut_ptr().cast(), y);
                let t = _mm256_slli_epi64::<17>(s1);
                let s2 = _mm256_xor_si256(s2, s0);
                let s3 = _mm256_xor_si256(s3, s1);
                let s1 = _mm256_xor_si256(s1, s2);
                let s0 = _mm256_xor_si256(s0, s3);
                let s2 = _mm256_xor_si256(s2, t);
                let s3 = rotl::<45, 19>(s3);
                [s[0][r], s[1][r], s[2][r], s[3][r]] = [s0, s1, s2, s3];
            }
        }
        for (v, word) in s.iter().zip(state.iter_mut()) {
            for (r, x) in v.iter().enumerate() {
                _mm256_storeu_si256(word[4 * r..].as_mut_ptr().cast(), *x);
            }
        }
    }
}
