//! Named, seedable random streams: one independent stream per path.
//!
//! `stream(seed, id)` keys everything a path draws from SplitMix64 applied to `(seed, id)`, so a
//! path's randomness depends only on the run's seed and the path's id, never on which thread runs
//! it. This is what makes ensembles bit-identical for any `RAYON_NUM_THREADS`.
//!
//! A path has two generators: the scalar Xoshiro256++ behind [`rand::RngCore`] (minibatches,
//! initial conditions, anything drawn a value at a time), and the vectorised normal stream behind
//! [`fill_normals`] (the SDE noise: sixteen Xoshiro256++ lanes and a ziggurat, see [`normals`]).
//! Both are keyed from the same `z0`, with different SplitMix64 chains:
//!
//! - `z0 = sm(seed) ^ sm(id + 0x5851F42D4C957F2D)`;
//! - the scalar state: four successive `z <- sm(z)` from `z0`;
//! - the normals: 68 successive `w <- sm(w)` from `w = z0 ^ NORMALS_DOMAIN`: lane `l` takes words
//!   `4l..4l + 4`, the tail stream the last four. The normal stream is built on first use.

mod lanes;
pub mod normals;
pub mod ziggurat_tables;

pub use crate::isa::Isa;
pub use lanes::{Lanes, LANES};
pub use normals::NormalStream;

use rand::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Separates the normal stream's key chain from the scalar stream's ("normals!" in ASCII).
pub const NORMALS_DOMAIN: u64 = 0x6E6F_726D_616C_7321;

/// SplitMix64 finaliser: a bijective 64-bit mixer (Steele, Lea & Flood 2014).
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One path's randomness: a scalar generator and, once asked for, a vectorised normal stream.
#[derive(Debug, Clone)]
pub struct PathRng {
    scalar: Xoshiro256PlusPlus,
    key: u64,
    normals: Option<Box<NormalStream>>,
}

impl PathRng {
    /// The path's normal stream (built from its key on first use).
    #[inline]
    pub fn normals(&mut self) -> &mut NormalStream {
        let key = self.key;
        self.normals.get_or_insert_with(|| Self::new_normals(key))
    }

    /// The stream of the path with `key`, kept out of line: [`Self::normals`] runs every step.
    #[cold]
    #[inline(never)]
    fn new_normals(key: u64) -> Box<NormalStream> {
        let mut w = key ^ NORMALS_DOMAIN;
        Box::new(NormalStream::from_words(|| {
            w = splitmix64(w);
            w
        }))
    }
}

impl RngCore for PathRng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        self.scalar.next_u32()
    }
    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.scalar.next_u64()
    }
    #[inline]
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.scalar.fill_bytes(dst)
    }
}

/// The generator for stream `id` of a run seeded with `seed`.
pub fn stream(seed: u64, id: u64) -> PathRng {
    let key = splitmix64(seed) ^ splitmix64(id.wrapping_add(0x5851_F42D_4C95_7F2D));
    let mut state = [0u8; 32];
    let mut z = key;
    for chunk in state.chunks_exact_mut(8) {
        z = splitmix64(z);
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    PathRng { scalar: Xoshiro256PlusPlus::from_seed(state), key, normals: None }
}

/// Fills `out` with the next independent N(0, 1) draws of the path's normal stream.
#[inline]
pub fn fill_normals(rng: &mut PathRng, out: &mut [f64]) {
    rng.normals().fill(out)
}
