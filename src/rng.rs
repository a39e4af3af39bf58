//! Named, seedable random streams: one independent stream per path.
//!
//! `stream(seed, id)` seeds a Xoshiro256++ generator from SplitMix64 applied to `(seed, id)`, so a
//! path's randomness depends only on the run's seed and the path's id, never on which thread runs
//! it. This is what makes ensembles bit-identical for any `RAYON_NUM_THREADS`.

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
pub use rand_xoshiro::Xoshiro256PlusPlus as PathRng;

/// SplitMix64 finaliser: a bijective 64-bit mixer (Steele, Lea & Flood 2014).
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for stream `id` of a run seeded with `seed`.
pub fn stream(seed: u64, id: u64) -> PathRng {
    let mut key = [0u8; 32];
    let mut z = splitmix64(seed) ^ splitmix64(id.wrapping_add(0x5851_F42D_4C95_7F2D));
    for chunk in key.chunks_exact_mut(8) {
        z = splitmix64(z);
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    PathRng::from_seed(key)
}

/// Fills `out` with independent N(0, 1) draws (ziggurat).
#[inline]
pub fn fill_normals(rng: &mut PathRng, out: &mut [f64]) {
    for z in out.iter_mut() {
        *z = rng.sample(StandardNormal);
    }
}
