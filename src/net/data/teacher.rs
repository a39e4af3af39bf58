use super::dataset::Dataset;
use crate::rng;
use rand_distr::{Distribution, StandardNormal};

/// A synthetic teacher-student task: inputs `x ~ N(0, I_d)`, labels the argmax of a random
/// one-hidden-layer ReLU teacher (width `hidden`, `classes` outputs). Controlled and noise-free.
pub fn teacher_student(n: usize, d: usize, hidden: usize, classes: usize, seed: u64) -> Dataset {
    let mut r = rng::stream(seed, 0x7EAC);
    let mut g =
        || -> f64 { <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r) };
    let w1: Vec<f64> = (0..d * hidden).map(|_| g() / (d as f64).sqrt()).collect();
    let w2: Vec<f64> = (0..hidden * classes).map(|_| g() / (hidden as f64).sqrt()).collect();
    let mut features = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let x: Vec<f64> = (0..d).map(|_| g()).collect();
        let h: Vec<f64> = (0..hidden)
            .map(|j| (0..d).map(|i| x[i] * w1[i * hidden + j]).sum::<f64>().max(0.0))
            .collect();
        let logits: Vec<f64> =
            (0..classes).map(|k| (0..hidden).map(|j| h[j] * w2[j * classes + k]).sum()).collect();
        let label = (0..classes).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap_or(0);
        features.extend(x.iter().map(|&v| v as f32));
        labels.push(label as u8);
    }
    Dataset {
        name: format!(
            "teacher-student(n={n}, d={d}, hidden={hidden}, classes={classes}, seed={seed})"
        ),
        features,
        labels,
        dim: d,
    }
}
