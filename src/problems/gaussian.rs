//! Quadratic loss with additive Gaussian gradient noise: the SDE `dx = -H x dt + sqrt(T) C^{1/2} dW`.
//!
//! With step `h`, the stochastic gradient is `H x + sqrt(T/h) C^{1/2} z`, `z ~ N(0, I)`. At
//! `h = eta` and temperature `T = eta/S` this is exactly SGD with noise covariance `C/S`, so
//! Euler-Maruyama on this problem *is* SGD with Gaussian noise.

use super::quadratic_model::{
    f_formula_loss, f_formula_transient, linear_contraction, ModelTheory, Optimum, QuadraticModel,
};
use super::{Sampling, StochasticProblem};
use crate::error::{positive, ProblemError};
use crate::integrators::IntegratorKind;
use crate::linear_map::LinearMap;
use crate::rng::{fill_normals, PathRng};
use crate::spd::SpdMatrix;
use crate::state::State;
use crate::theory::{self, Modes};
use nalgebra::DMatrix;

/// Which coordinates the simulation runs in. Both give the same law of the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// `x' = U^T x` with `H = U diag(lambda) U^T`: the drift is diagonal.
    Eigen,
    /// The original coordinates: dense `H` (a matrix-vector product per step).
    Original,
}

/// One step's noise: standard normals `z` and the factor `sqrt(T/h)` applied to `C^{1/2} z`.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianNoise {
    pub z: Vec<f64>,
    pub scale: f64,
    scratch: Vec<f64>,
    /// `(T, h, sqrt(T / h))` of the last draw, `T` and `h` as bits, so that a run of equal steps
    /// takes the square root once (its latency was 5% of W's time).
    last_scale: Option<(u64, u64, f64)>,
}

#[derive(Debug, Clone)]
pub struct GaussianProblem {
    hessian: SpdMatrix,
    noise_covariance: SpdMatrix,
    temperature: f64,
    frame: Frame,
    drift: LinearMap,
    diffusion: LinearMap,
    substeps: usize,
}

impl GaussianNoise {
    /// A noise sample given explicitly (for coupling, replay and tests).
    pub fn new(z: Vec<f64>, scale: f64) -> Self {
        Self { z, scale, scratch: Vec::new(), last_scale: None }
    }
}

impl GaussianProblem {
    /// `H`, the per-example gradient covariance `C`, and the temperature `T = eta/S`.
    pub fn new(
        hessian: SpdMatrix,
        noise_covariance: SpdMatrix,
        temperature: f64,
        frame: Frame,
    ) -> Result<Self, ProblemError> {
        let d = hessian.dim();
        if noise_covariance.dim() != d {
            return Err(ProblemError::new(
                "C",
                format!("dimension {}", noise_covariance.dim()),
                format!("the dimension of H, {d}"),
            ));
        }
        positive("temperature eta/S", temperature)?;
        // Both diagonal: no d x d matrix is ever formed (the same bits as the dense route, whose
        // square root of a diagonal matrix is the element-wise one).
        let both_diagonal = hessian.is_diagonal() && noise_covariance.is_diagonal();
        let (drift, diffusion) = match frame {
            _ if both_diagonal => (
                LinearMap::Diagonal(hessian.eigenvalues().as_slice().to_vec()),
                LinearMap::Diagonal(
                    noise_covariance.eigenvalues().iter().map(|c| c.sqrt()).collect(),
                ),
            ),
            Frame::Eigen => (
                LinearMap::Diagonal(hessian.eigenvalues().as_slice().to_vec()),
                LinearMap::square_root_of(
                    &hessian.rotate_into_eigenbasis(&noise_covariance.dense()),
                ),
            ),
            Frame::Original if hessian.is_diagonal() => (
                LinearMap::Diagonal(hessian.eigenvalues().as_slice().to_vec()),
                LinearMap::square_root_of(&noise_covariance.dense()),
            ),
            Frame::Original => (
                LinearMap::Dense(hessian.dense()),
                LinearMap::square_root_of(&noise_covariance.dense()),
            ),
        };
        Ok(Self { hessian, noise_covariance, temperature, frame, drift, diffusion, substeps: 1 })
    }

    /// Whether a step costs O(d): H and the noise factor are both diagonal in the working frame.
    pub fn is_diagonal(&self) -> bool {
        matches!((&self.drift, &self.diffusion), (LinearMap::Diagonal(_), LinearMap::Diagonal(_)))
    }

    /// SGD with Gaussian noise `N(0, C/S)` at learning rate `eta`: temperature `eta/S`.
    pub fn sgd(
        hessian: SpdMatrix,
        noise_covariance: SpdMatrix,
        eta: f64,
        batch: usize,
        frame: Frame,
    ) -> Result<Self, ProblemError> {
        positive("eta", eta)?;
        crate::error::batch_size(batch, None)?;
        Self::new(hessian, noise_covariance, eta / batch as f64, frame)
    }

    /// Builds each step's normals as the normalised sum of `r` consecutive draws,
    /// `z = (z_1 + ... + z_r) / sqrt(r)`. Run at step `r h` with the same seed, this reproduces
    /// exactly the Brownian increments of a run at step `h`: nested step sizes are coupled
    /// through the ordinary solve loop.
    pub fn with_brownian_substeps(mut self, r: usize) -> Self {
        self.substeps = r.max(1);
        self
    }

    pub fn hessian(&self) -> &SpdMatrix {
        &self.hessian
    }
    pub fn noise_covariance(&self) -> &SpdMatrix {
        &self.noise_covariance
    }
    pub fn temperature(&self) -> f64 {
        self.temperature
    }
    pub fn frame(&self) -> Frame {
        self.frame
    }
    /// A point given in the original coordinates, written in this problem's frame.
    pub fn to_frame(&self, x: &[f64]) -> Vec<f64> {
        match self.frame {
            Frame::Eigen => self.hessian.to_eigen_coordinates(x),
            Frame::Original => x.to_vec(),
        }
    }
}

impl StochasticProblem<Vec<f64>> for GaussianProblem {
    type Noise = GaussianNoise;

    fn dim(&self) -> usize {
        self.hessian.dim()
    }
    fn new_noise(&self) -> GaussianNoise {
        GaussianNoise::new(vec![0.0; self.hessian.dim()], 0.0)
    }
    // This and the steps below are inlined into the solve loop (the per-step calls were 7% of W).
    #[inline(always)]
    fn sample_noise(&self, rng: &mut PathRng, h: f64, noise: &mut GaussianNoise) {
        fill_normals(rng, &mut noise.z);
        if self.substeps > 1 {
            noise.scratch.resize(noise.z.len(), 0.0);
            for _ in 1..self.substeps {
                fill_normals(rng, &mut noise.scratch);
                noise.z.iter_mut().zip(&noise.scratch).for_each(|(z, s)| *z += s);
            }
            let norm = 1.0 / (self.substeps as f64).sqrt();
            noise.z.iter_mut().for_each(|z| *z *= norm);
        }
        let (t, step) = (self.temperature.to_bits(), h.to_bits());
        noise.scale = match noise.last_scale {
            Some((t_last, step_last, scale)) if (t_last, step_last) == (t, step) => scale,
            _ => {
                let scale = (self.temperature / h).sqrt();
                noise.last_scale = Some((t, step, scale));
                scale
            }
        };
    }
    #[inline]
    fn gradient(&self, x: &Vec<f64>, noise: &GaussianNoise, out: &mut Vec<f64>) {
        match (&self.drift, &self.diffusion) {
            // The benchmark's hot path: one fused pass.
            (LinearMap::Diagonal(l), LinearMap::Diagonal(b)) => {
                diagonal_gradient(crate::isa::Isa::detected(), l, x, b, &noise.z, noise.scale, out)
            }
            (drift, diffusion) => {
                diffusion.apply(&noise.z, 0.0, out);
                out.iter_mut().for_each(|o| *o *= noise.scale);
                drift.apply(x, 1.0, out);
            }
        }
    }
    #[inline(always)]
    fn descend(&self, x: &mut Vec<f64>, noise: &GaussianNoise, h: f64, scratch: &mut Vec<f64>) {
        match (&self.drift, &self.diffusion) {
            // The benchmark's hot path: gradient and update in one pass, no gradient stored.
            (LinearMap::Diagonal(l), LinearMap::Diagonal(b)) => {
                diagonal_descend(crate::isa::Isa::detected(), l, x, b, &noise.z, noise.scale, -h)
            }
            _ => {
                self.gradient(x, noise, scratch);
                x.axpy(-h, scratch);
            }
        }
    }
    #[inline(always)]
    fn descend_then_loss(
        &self,
        x: &mut Vec<f64>,
        noise: &GaussianNoise,
        h: f64,
        scratch: &mut Vec<f64>,
    ) -> f64 {
        match (&self.drift, &self.diffusion) {
            // The time average's hot path: the loss summed while the step writes x.
            (LinearMap::Diagonal(l), LinearMap::Diagonal(b)) => {
                let isa = crate::isa::Isa::detected();
                0.5 * diagonal_descend_then_loss(isa, l, x, b, &noise.z, noise.scale, -h)
            }
            _ => {
                self.descend(x, noise, h, scratch);
                self.loss(x)
            }
        }
    }
    #[inline]
    fn loss(&self, x: &Vec<f64>) -> f64 {
        0.5 * self.drift.quadratic_form(x)
    }
}

crate::isa::dispatch! {
    /// [`descend_drift_plus_noise`] compiled for `isa`.
    fn diagonal_descend => descend_drift_plus_noise(l: &[f64], x: &mut [f64], b: &[f64], z: &[f64], s: f64, a: f64)
}

/// `x_i <- x_i + a (l_i x_i + s b_i z_i)`: [`drift_plus_noise`] and Euler-Maruyama's axpy
/// (`a = -h`) in one pass, each `x_i` rounded exactly as by the two passes.
#[inline(always)]
fn descend_drift_plus_noise(l: &[f64], x: &mut [f64], b: &[f64], z: &[f64], s: f64, a: f64) {
    let n = x.len();
    let (l, b, z) = (&l[..n], &b[..n], &z[..n]);
    for i in 0..n {
        x[i] += a * (l[i] * x[i] + s * b[i] * z[i]);
    }
}

crate::isa::dispatch! {
    /// [`descend_then_weighted_sum_of_squares`] compiled for `isa`.
    fn diagonal_descend_then_loss => descend_then_weighted_sum_of_squares(l: &[f64], x: &mut [f64], b: &[f64], z: &[f64], s: f64, a: f64) -> f64
}

/// [`descend_drift_plus_noise`], returning `sum_i l_i x_i^2` of the updated `x` summed as
/// [`crate::linear_map::LinearMap::quadratic_form`] sums it (eight interleaved partial sums
/// `i mod 8`, added by [`crate::linear_map::add_pairwise`]): the step and twice the loss in one pass, each with the
/// bits of its own pass.
#[inline(always)]
fn descend_then_weighted_sum_of_squares(
    l: &[f64],
    x: &mut [f64],
    b: &[f64],
    z: &[f64],
    s: f64,
    a: f64,
) -> f64 {
    let n = x.len();
    let (l, b, z) = (&l[..n], &b[..n], &z[..n]);
    let mut acc = [0.0f64; 8];
    let mut x_rounds = x.chunks_exact_mut(8);
    let (l_rounds, b_rounds, z_rounds) = (l.chunks_exact(8), b.chunks_exact(8), z.chunks_exact(8));
    let (l_rest, b_rest, z_rest) =
        (l_rounds.remainder(), b_rounds.remainder(), z_rounds.remainder());
    for (((xr, lr), br), zr) in (&mut x_rounds).zip(l_rounds).zip(b_rounds).zip(z_rounds) {
        let xr: &mut [f64; 8] = xr.try_into().expect("a round of 8");
        let (lr, br, zr): (&[f64; 8], &[f64; 8], &[f64; 8]) = (
            lr.try_into().expect("a round of 8"),
            br.try_into().expect("a round of 8"),
            zr.try_into().expect("a round of 8"),
        );
        for j in 0..8 {
            xr[j] += a * (lr[j] * xr[j] + s * br[j] * zr[j]);
        }
        for j in 0..8 {
            acc[j] += lr[j] * xr[j] * xr[j];
        }
    }
    for (j, xi) in x_rounds.into_remainder().iter_mut().enumerate() {
        *xi += a * (l_rest[j] * *xi + s * b_rest[j] * z_rest[j]);
        acc[j] += l_rest[j] * *xi * *xi;
    }
    crate::linear_map::add_pairwise(&acc)
}

crate::isa::dispatch! {
    /// [`drift_plus_noise`] compiled for `isa`.
    fn diagonal_gradient => drift_plus_noise(l: &[f64], x: &[f64], b: &[f64], z: &[f64], s: f64, out: &mut [f64])
}

/// `out_i = l_i x_i + s b_i z_i`: a diagonal problem's whole gradient in one pass.
#[inline(always)]
fn drift_plus_noise(l: &[f64], x: &[f64], b: &[f64], z: &[f64], s: f64, out: &mut [f64]) {
    let n = out.len();
    let (l, x, b, z) = (&l[..n], &x[..n], &b[..n], &z[..n]);
    for i in 0..n {
        out[i] = l[i] * x[i] + s * b[i] * z[i];
    }
}

/// Noise for a block of paths (one column each).
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianBlockNoise {
    pub z: DMatrix<f64>,
    pub scale: f64,
}

/// `width` independent paths of a [`GaussianProblem`] stepped together as the columns of a
/// `d x width` matrix, so the drift and diffusion become GEMMs. The block's loss is the mean over
/// its columns: each block is one independent replica, with its own random stream.
#[derive(Debug, Clone)]
pub struct PathBlock {
    pub problem: GaussianProblem,
    pub width: usize,
}

impl StochasticProblem<DMatrix<f64>> for PathBlock {
    type Noise = GaussianBlockNoise;

    fn dim(&self) -> usize {
        self.problem.hessian.dim()
    }
    fn new_noise(&self) -> GaussianBlockNoise {
        GaussianBlockNoise { z: DMatrix::zeros(self.dim(), self.width), scale: 0.0 }
    }
    fn sample_noise(&self, rng: &mut PathRng, h: f64, noise: &mut GaussianBlockNoise) {
        fill_normals(rng, noise.z.as_mut_slice());
        noise.scale = (self.problem.temperature / h).sqrt();
    }
    fn gradient(&self, x: &DMatrix<f64>, noise: &GaussianBlockNoise, out: &mut DMatrix<f64>) {
        self.problem.diffusion.apply_block(&noise.z, 0.0, out);
        out.as_mut_slice().iter_mut().for_each(|o| *o *= noise.scale);
        self.problem.drift.apply_block(x, 1.0, out);
    }
    fn loss(&self, x: &DMatrix<f64>) -> f64 {
        let n = x.nrows();
        0.5 * x
            .as_slice()
            .chunks_exact(n)
            .map(|c| self.problem.drift.quadratic_form(c))
            .sum::<f64>()
            / x.ncols() as f64
    }
}

impl QuadraticModel for GaussianProblem {
    fn name(&self) -> &'static str {
        "gaussian"
    }
    fn dim(&self) -> usize {
        StochasticProblem::<Vec<f64>>::dim(self)
    }
    fn sampling(&self) -> Option<Sampling> {
        None
    }
    fn n(&self) -> Option<usize> {
        None
    }
    fn lambda_max(&self) -> f64 {
        self.hessian().max_eigenvalue()
    }
    fn to_simulation_frame(&self, x0: &[f64]) -> Vec<f64> {
        self.to_frame(x0)
    }
    /// The loss is `1/2 x^T H x`: minimised at 0, where it is 0.
    fn optimum(&self) -> Optimum {
        Optimum { theta_star: vec![0.0; QuadraticModel::dim(self)], l_min: 0.0 }
    }
    /// Additive noise `C/S`: the f-formula with `f = 1/S` is exact, and so is the stationary
    /// covariance (a Lyapunov solve, d <= 10).
    fn theory(&self, eta: f64, batch: usize, momentum: f64) -> ModelTheory {
        let (h, c) = (self.hessian(), self.noise_covariance());
        let modes = Modes::new(h, c);
        let f = 1.0 / batch as f64;
        let discrete = f_formula_loss(&modes, eta, momentum, f).ok();
        let covariance = (QuadraticModel::dim(self) <= theory::MAX_COVARIANCE_DIM)
            .then(|| theory::additive_noise_covariance(h, &c.dense(), eta, momentum, f))
            .flatten();
        ModelTheory {
            modes,
            f: Some(f),
            discrete,
            covariance,
            trace_h: h.trace(),
            note: String::new(),
        }
    }
    fn transient(
        &self,
        kind: IntegratorKind,
        eta: f64,
        batch: usize,
        momentum: f64,
        x0: &[f64],
        k: usize,
    ) -> Option<(f64, bool)> {
        let modes = Modes::new(self.hessian(), self.noise_covariance());
        f_formula_transient(&modes, 1.0 / batch as f64, kind, eta, momentum, x0, k)
    }
    fn contraction(&self, eta: f64, momentum: f64) -> f64 {
        linear_contraction(self.hessian().eigenvalues().as_slice(), eta, momentum)
    }
    fn f_formula_modes(&self) -> Option<Modes> {
        Some(Modes::new(self.hessian(), self.noise_covariance()))
    }
}
