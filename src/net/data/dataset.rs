use super::idx::{read_idx, IdxError};
use crate::rng;
use rand::seq::SliceRandom;

/// Examples as rows of f32 features (pixels scaled to [0, 1]) with integer labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub features: Vec<f32>,
    pub labels: Vec<u8>,
    pub dim: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Number of classes: the largest label plus one.
    pub fn classes(&self) -> usize {
        self.labels.iter().copied().max().map_or(0, |m| m as usize + 1)
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }

    /// Images (n x rows x cols) and labels (n) as IDX bytes.
    pub fn from_idx_bytes(images: &[u8], labels: &[u8], name: &str) -> Result<Self, IdxError> {
        let (idims, pixels) = read_idx(images, &format!("{name} images"))?;
        let (ldims, labs) = read_idx(labels, &format!("{name} labels"))?;
        let bad = |reason: String| IdxError { source: name.to_string(), reason };
        if idims.len() != 3 {
            return Err(bad(format!("images have dimensions {idims:?}: valid is n x rows x cols")));
        }
        if ldims.len() != 1 {
            return Err(bad(format!("labels have dimensions {ldims:?}: valid is one dimension")));
        }
        if idims[0] != ldims[0] {
            return Err(bad(format!("{} images but {} labels", idims[0], ldims[0])));
        }
        if let Some(l) = labs.iter().find(|&&l| l > 9) {
            return Err(bad(format!("label {l}: valid labels are 0 to 9")));
        }
        Ok(Self {
            name: name.to_string(),
            features: pixels.iter().map(|&p| p as f32 / 255.0).collect(),
            labels: labs,
            dim: idims[1] * idims[2],
        })
    }

    /// The examples at `idx`, in that order.
    pub fn select(&self, idx: &[usize], name: &str) -> Self {
        Self {
            name: name.to_string(),
            features: idx.iter().flat_map(|&i| self.row(i).iter().copied()).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            dim: self.dim,
        }
    }

    /// `n` examples stratified by class (as equal a share per class as the data allows), drawn
    /// from a named stream and kept in their original order.
    pub fn stratified_subset(
        &self,
        n: usize,
        seed: u64,
    ) -> Result<Self, crate::error::ProblemError> {
        if n > self.len() {
            return Err(crate::error::ProblemError::new(
                "n",
                n,
                format!("at most the {} examples of {}", self.len(), self.name),
            ));
        }
        let k = self.classes();
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[l as usize].push(i);
        }
        let mut r = rng::stream(seed, 0x5B5E7);
        for c in by_class.iter_mut() {
            c.shuffle(&mut r);
        }
        // Round-robin over classes until n are taken: equal shares, leftovers to larger classes.
        let mut taken = Vec::with_capacity(n);
        let mut depth = 0;
        while taken.len() < n {
            for c in &by_class {
                if taken.len() < n && depth < c.len() {
                    taken.push(c[depth]);
                }
            }
            depth += 1;
        }
        taken.sort_unstable();
        Ok(self.select(&taken, &format!("{}[{n} stratified, seed {seed}]", self.name)))
    }

    /// Only the examples of `classes`, relabelled 0, 1, ... in that order (e.g. MNIST 0/1).
    pub fn with_classes(&self, classes: &[u8]) -> Result<Self, crate::error::ProblemError> {
        let k = self.classes();
        let distinct = classes.iter().enumerate().all(|(i, c)| !classes[..i].contains(c));
        if classes.len() < 2 || !distinct || classes.iter().any(|&c| c as usize >= k) {
            return Err(crate::error::ProblemError::new(
                "classes",
                format!("{classes:?}"),
                format!("two or more distinct labels from 0 to {}", k.saturating_sub(1)),
            ));
        }
        let idx: Vec<usize> =
            (0..self.len()).filter(|&i| classes.contains(&self.labels[i])).collect();
        let mut d = self.select(&idx, &format!("{}{classes:?}", self.name));
        for l in d.labels.iter_mut() {
            *l = classes.iter().position(|c| c == l).expect("filtered above") as u8;
        }
        Ok(d)
    }

    /// Square images (side `sqrt(dim)`) averaged over `k x k` blocks: side/k x side/k features.
    /// Real images at a size whose dense Hessian is cheap (28 x 28 with k = 4 gives 7 x 7).
    pub fn pooled(&self, k: usize) -> Result<Self, crate::error::ProblemError> {
        let side = (self.dim as f64).sqrt().round() as usize;
        if k == 0 || side * side != self.dim || !side.is_multiple_of(k) {
            return Err(crate::error::ProblemError::new(
                "pool",
                k,
                format!("a divisor of the image side {side} (images of {} features)", self.dim),
            ));
        }
        if k == 1 {
            return Ok(self.clone());
        }
        let out = side / k;
        let scale = 1.0 / (k * k) as f32;
        let mut features = Vec::with_capacity(self.len() * out * out);
        for i in 0..self.len() {
            let row = self.row(i);
            for by in 0..out {
                for bx in 0..out {
                    let sum: f32 = (0..k)
                        .flat_map(|dy| (0..k).map(move |dx| (by * k + dy) * side + bx * k + dx))
                        .map(|j| row[j])
                        .sum();
                    features.push(sum * scale);
                }
            }
        }
        Ok(Self {
            name: format!("{}[pooled {k}x{k}]", self.name),
            features,
            labels: self.labels.clone(),
            dim: out * out,
        })
    }

    /// The same examples with labels replaced by uniform random ones (the random-label control).
    pub fn with_random_labels(&self, seed: u64) -> Self {
        use rand::Rng;
        let k = self.classes() as u8;
        let mut r = rng::stream(seed, 0x4A4D);
        let mut d = self.clone();
        d.labels.iter_mut().for_each(|l| *l = r.random_range(0..k));
        d.name = format!("{}[random labels, seed {seed}]", self.name);
        d
    }
}
