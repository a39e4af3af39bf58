//! Minibatch sampling schemes over a finite data set of N examples.

use crate::error::{ensure, ProblemError};
use crate::rng::PathRng;
use rand::Rng;

/// How each step's minibatch of S indices is drawn from 0..N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// S independent uniform draws: noise covariance factor `f = 1/S`.
    WithReplacement,
    /// A fresh uniform S-subset every step: `f = (N - S) / (S (N - 1))`.
    WithoutReplacement,
    /// A new permutation each epoch, cut into N/S consecutive batches. The noise is
    /// anti-correlated within an epoch; the f-formula does NOT apply.
    Reshuffle,
}

impl Sampling {
    pub fn name(self) -> &'static str {
        match self {
            Sampling::WithReplacement => "with_replacement",
            Sampling::WithoutReplacement => "without_replacement",
            Sampling::Reshuffle => "reshuffle",
        }
    }
}

/// One step's minibatch, with the per-path bookkeeping that reshuffling needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub indices: Vec<usize>,
    perm: Vec<usize>,
    cursor: usize,
}

impl Batch {
    pub fn new(n: usize, s: usize) -> Self {
        Self { indices: vec![0; s], perm: (0..n).collect(), cursor: 0 }
    }

    /// Draws the next minibatch from the path's stream.
    #[inline]
    pub fn draw(&mut self, sampling: Sampling, rng: &mut PathRng) {
        let n = self.perm.len();
        let s = self.indices.len();
        match sampling {
            Sampling::WithReplacement => {
                self.indices.iter_mut().for_each(|i| *i = rng.random_range(0..n))
            }
            Sampling::WithoutReplacement => {
                // Partial Fisher-Yates: the first S entries become a uniform S-subset
                // whatever permutation `perm` held before.
                for i in 0..s {
                    let j = rng.random_range(i..n);
                    self.perm.swap(i, j);
                }
                self.indices.copy_from_slice(&self.perm[..s]);
            }
            Sampling::Reshuffle if self.cursor + s <= n => {
                if self.cursor == 0 {
                    self.shuffle(rng);
                }
                self.indices.copy_from_slice(&self.perm[self.cursor..self.cursor + s]);
                self.cursor = (self.cursor + s) % n;
            }
            Sampling::Reshuffle => {
                // A batch that straddles two epochs (only under a batch-size schedule): the rest
                // of this epoch's permutation, then the start of the next one's.
                for i in 0..s {
                    if self.cursor == 0 {
                        self.shuffle(rng);
                    }
                    self.indices[i] = self.perm[self.cursor];
                    self.cursor = (self.cursor + 1) % n;
                }
            }
        }
    }

    /// A new uniform permutation of the epoch (Fisher-Yates).
    fn shuffle(&mut self, rng: &mut PathRng) {
        for i in (1..self.perm.len()).rev() {
            let j = rng.random_range(0..=i);
            self.perm.swap(i, j);
        }
    }

    /// Changes the batch size to `s <= N` for the following draws (a batch-size schedule); the
    /// reshuffling epoch goes on where it was.
    pub fn resize(&mut self, s: usize) {
        self.indices.resize(s, 0);
    }
}

/// Validates N and S for a sampling scheme.
pub fn validate(n: usize, s: usize, sampling: Sampling) -> Result<(), ProblemError> {
    ensure(n >= 2, || ProblemError::new("N", n, "N >= 2 examples"))?;
    crate::error::batch_size(s, Some(n))?;
    if sampling == Sampling::Reshuffle {
        ensure(n.is_multiple_of(s), || {
            ProblemError::new("S", s, format!("a divisor of N = {n} for per-epoch reshuffling (every epoch is N/S full batches)"))
        })?;
    }
    Ok(())
}
