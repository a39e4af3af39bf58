//! A problem file turned into a runnable problem with its exact theory.

use crate::config::{
    read_csv_rows, GenerateSpec, InputError, IntegratorKind, NoiseModel, ProblemFile,
};
use crate::ensemble::{Ensemble, PathOutcome};
use crate::error::{ensure, ProblemError};
use crate::integrators::{ExactLaw, Integrator, IntegratorTask};
use crate::observers::Observer;
use crate::problems::{
    FiniteSumQuadratic, Frame, GaussianProblem, LinearRegression, QuadraticModel, RegressionModel,
    Sampling, StochasticProblem, Svag,
};
use crate::rng;
use crate::spd::SpdMatrix;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;
use std::path::Path;

/// Why a scenario could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioError {
    Problem(ProblemError),
    Input(InputError),
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Problem(e) => e.fmt(f),
            Self::Input(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl From<ProblemError> for ScenarioError {
    fn from(e: ProblemError) -> Self {
        Self::Problem(e)
    }
}

impl From<InputError> for ScenarioError {
    fn from(e: InputError) -> Self {
        Self::Input(e)
    }
}

/// Why a stationary estimate could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum StationaryError {
    Problem(ProblemError),
    Diverged(crate::ensemble::PathDiverged),
}

impl std::fmt::Display for StationaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Problem(e) => e.fmt(f),
            Self::Diverged(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for StationaryError {}

impl From<ProblemError> for StationaryError {
    fn from(e: ProblemError) -> Self {
        Self::Problem(e)
    }
}

/// The loss and noise model: one variant per problem type, which answers every question through
/// [`QuadraticModel`] (see [`Model::quadratic`]); only construction and simulation name the type.
#[derive(Debug, Clone)]
pub enum Model {
    Gaussian(GaussianProblem),
    Dataset(FiniteSumQuadratic),
    Regression(RegressionModel),
}

impl Model {
    /// The model's theory, stability rule and sizes.
    pub fn quadratic(&self) -> &dyn QuadraticModel {
        match self {
            Model::Gaussian(p) => p,
            Model::Dataset(p) => p,
            Model::Regression(p) => p,
        }
    }
}

/// A runnable problem: model, optimizer and start point (in simulation coordinates).
#[derive(Debug, Clone)]
pub struct Scenario {
    pub model: Model,
    pub eta: f64,
    pub batch: usize,
    pub momentum: f64,
    pub x0: Vec<f64>,
    /// The start point relative to the minimiser, in the original coordinates (the file's x0,
    /// or theta0 - theta*).
    pub start_offset: Vec<f64>,
    pub file: ProblemFile,
}

/// Exact values for a scenario, as printed by `sgd-sde theory`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TheoryReport {
    pub model: String,
    pub sampling: Option<String>,
    pub dim: usize,
    pub eta: f64,
    pub batch: usize,
    pub momentum: f64,
    pub n: Option<usize>,
    /// The continuous (OU) law `eta/(4 S (1-m)) Tr(C)`.
    pub continuous_loss: f64,
    /// The exact stationary loss of the discrete process (None when unstable).
    pub discrete_loss: Option<f64>,
    pub discrete_over_continuous: Option<f64>,
    pub stable: bool,
    /// The largest stable eta.
    pub stability_limit: f64,
    pub stability_rule: String,
    pub eta_lambda_max: f64,
    pub lambda_max: f64,
    pub trace_h: f64,
    pub trace_c: f64,
    /// The finite-N factor in V = f C (None for reshuffling, which has none).
    pub f: Option<f64>,
    /// Per-mode factors `1/(1 - eta lambda_i / (2(1+m)))`.
    pub mode_factors: Vec<f64>,
    /// The stationary covariance of x - x* (original coordinates), when d <= 10.
    pub covariance: Option<Vec<Vec<f64>>>,
    /// `E|x - x*|^2 = Tr(covariance)` at stationarity, when the covariance is known.
    pub stationary_second_moment: Option<f64>,
    /// The minimiser in the original coordinates and the loss there; every loss above is an
    /// excess loss `l - l_min`.
    pub theta_star: Vec<f64>,
    pub l_min: f64,
    /// The start point, relative to the minimiser (`x0`) and absolute (`theta0 = theta* + x0`).
    pub x0: Vec<f64>,
    pub theta0: Vec<f64>,
    pub note: String,
}

impl TheoryReport {
    /// The exact stationary loss for an integrator: the discrete value for SGD and heavy ball, the
    /// continuous law for exact OU and Leimkuhler-Matthews on Gaussian noise (exact for
    /// quadratics), none for Heun (its stationary bias is O(h^2) but not derived here).
    pub fn stationary_for(&self, kind: IntegratorKind) -> Option<f64> {
        match kind.stationary_law()? {
            ExactLaw::Discrete => self.discrete_loss,
            ExactLaw::Continuous { exact: true } if self.model == "gaussian" => {
                Some(self.continuous_loss)
            }
            ExactLaw::Continuous { .. } => None,
        }
    }
}

fn gaussian_rows(n: usize, d: usize, scale: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut r = rng::stream(seed, 0);
    (0..n)
        .map(|_| {
            (0..d)
                .map(|_| {
                    scale * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut r)
                })
                .collect()
        })
        .collect()
}

/// Refuses generated data that cannot fit, before it is drawn: `n` rows of `d` numbers (and a
/// target), held about three times over while the model is built (about 176 bytes per row
/// measured at d = 4).
fn check_generated(g: &GenerateSpec, d: usize) -> Result<(), ProblemError> {
    use crate::budget::{available_bytes, bytes, largest_size};
    let max = largest_size((3.0 * (8.0 * d as f64 + 56.0), 1), (0.0, 1));
    ensure(g.n <= max, || {
        ProblemError::new(
            "noise.generate.n",
            g.n,
            format!(
                "2 <= N <= {max} at d = {d} on this machine: the examples take about 3 (8 d + \
                 56) bytes each ({} of memory available)",
                bytes(available_bytes())
            ),
        )
    })
}

fn regression_data(g: &GenerateSpec) -> Result<(Vec<Vec<f64>>, Vec<f64>), ProblemError> {
    let d = g.d.ok_or_else(|| {
        ProblemError::new("noise.generate.d", "missing", "the number of features, d >= 1")
    })?;
    ensure(d >= 1, || ProblemError::new("noise.generate.d", d, "d >= 1"))?;
    // The model's Hessian X^T X / N is a dense d x d matrix.
    crate::config::check_dimension("noise.generate.d".into(), d.to_string(), d, true)?;
    check_generated(g, d)?;
    let xs = gaussian_rows(g.n, d, 1.0, g.seed);
    let eps = gaussian_rows(g.n, 1, g.scale, g.seed ^ 0x9E37_79B9);
    let ys = xs
        .iter()
        .zip(&eps)
        .map(|(x, e)| x.iter().sum::<f64>() + 0.5 * x[0] * x[0] + e[0])
        .collect();
    Ok((xs, ys))
}

impl Scenario {
    /// Builds from a parsed file; `base` is the file's folder (for relative data paths).
    pub fn build(file: &ProblemFile, base: Option<&Path>) -> Result<Self, ScenarioError> {
        let opt = &file.optimizer;
        crate::error::positive("optimizer.eta", opt.eta)?;
        crate::error::batch_size(opt.batch, None)
            .map_err(|e| ProblemError { parameter: "optimizer.batch".into(), ..e })?;
        crate::error::momentum(opt.momentum)
            .map_err(|e| ProblemError { parameter: "optimizer.momentum".into(), ..e })?;
        let noise = &file.noise;
        let sampling: Sampling =
            noise.sampling.map(Into::into).unwrap_or(Sampling::WithReplacement);
        let hessian = |required: bool| -> Result<Option<SpdMatrix>, ProblemError> {
            match &file.hessian {
                Some(h) => Ok(Some(h.build("hessian")?)),
                None if required => Err(ProblemError::new(
                    "hessian",
                    "missing",
                    "a [hessian] table with eigenvalues, log_spaced or matrix",
                )),
                None => Ok(None),
            }
        };
        let rows_from_file = |field: &str| -> Result<Option<Vec<Vec<f64>>>, InputError> {
            match &noise.file {
                Some(p) => Ok(Some(read_csv_rows(&crate::config::read::resolve(base, p), field)?)),
                None => Ok(None),
            }
        };
        let model = match noise.model {
            NoiseModel::Gaussian => {
                let h = hessian(true)?.expect("required");
                let c = match &noise.covariance {
                    Some(c) => c.build("noise.covariance")?,
                    None => h.clone(),
                };
                ensure(
                    noise.centers.is_none()
                        && noise.features.is_none()
                        && noise.file.is_none()
                        && noise.generate.is_none(),
                    || {
                        ProblemError::new("noise", "data given with model = \"gaussian\"", "model = \"dataset\" or \"regression\" when data (centers, features, file, generate) is given")
                    },
                )?;
                Model::Gaussian(
                    GaussianProblem::sgd(h, c, opt.eta, opt.batch, Frame::Eigen)
                        .map_err(|e| ProblemError { parameter: rename(&e.parameter), ..e })?,
                )
            }
            NoiseModel::Dataset => {
                let h = hessian(true)?.expect("required");
                let centers = match (&noise.centers, rows_from_file("noise.file")?, &noise.generate)
                {
                    (Some(c), None, None) => c.clone(),
                    (None, Some(c), None) => c,
                    (None, None, Some(g)) => {
                        check_generated(g, h.dim())?;
                        gaussian_rows(g.n, h.dim(), g.scale, g.seed)
                    }
                    _ => {
                        return Err(ProblemError::new(
                            "noise",
                            "dataset",
                            "exactly one of centers, file or generate",
                        )
                        .into())
                    }
                };
                Model::Dataset(
                    FiniteSumQuadratic::new(h, &centers, opt.batch, sampling)
                        .map_err(|e| ProblemError { parameter: rename(&e.parameter), ..e })?,
                )
            }
            NoiseModel::Regression => {
                let (xs, ys) = match (
                    &noise.features,
                    &noise.targets,
                    rows_from_file("noise.file")?,
                    &noise.generate,
                ) {
                    (Some(x), Some(y), None, None) => (x.clone(), y.clone()),
                    (None, None, Some(rows), None) => {
                        let width = rows[0].len();
                        ensure(width >= 2, || {
                            ProblemError::new(
                                "noise.file",
                                "rows of 1 column",
                                "rows of features followed by the target (>= 2 columns)",
                            )
                        })?;
                        (
                            rows.iter().map(|r| r[..r.len() - 1].to_vec()).collect(),
                            rows.iter().map(|r| r[r.len() - 1]).collect(),
                        )
                    }
                    (None, None, None, Some(g)) => regression_data(g)?,
                    _ => {
                        return Err(ProblemError::new(
                            "noise",
                            "regression",
                            "exactly one of features + targets, file or generate",
                        )
                        .into())
                    }
                };
                let p = LinearRegression::new(&xs, &ys, opt.batch, sampling)
                    .map_err(|e| ProblemError { parameter: rename(&e.parameter), ..e })?;
                Model::Regression(RegressionModel::new(p)?)
            }
        };
        let d = model.quadratic().dim();
        let (name, given) = match (&file.x0, &file.theta0) {
            (Some(_), Some(_)) => {
                return Err(ProblemError::new(
                    "theta0",
                    "given together with x0",
                    "one of x0 (relative to the minimiser) and theta0 (absolute)",
                )
                .into())
            }
            (None, Some(t)) => ("theta0", Some(t)),
            (x, None) => ("x0", x.as_ref()),
        };
        let x0 = match given {
            Some(x) => {
                ensure(x.len() == d, || {
                    ProblemError::new(
                        name,
                        format!("a vector of length {}", x.len()),
                        format!("length {d} (the dimension)"),
                    )
                })?;
                ensure(x.iter().all(|v| v.is_finite()), || {
                    ProblemError::new(
                        name,
                        "a vector with NaN or infinite entries",
                        "finite entries",
                    )
                })?;
                if name == "theta0" {
                    let star = model.quadratic().optimum().theta_star;
                    x.iter().zip(&star).map(|(t, s)| t - s).collect()
                } else {
                    x.clone()
                }
            }
            None => vec![0.0; d],
        };
        let start_offset = x0.clone();
        let x0 = model.quadratic().to_simulation_frame(&x0);
        Ok(Self {
            model,
            eta: opt.eta,
            batch: opt.batch,
            momentum: opt.momentum,
            x0,
            start_offset,
            file: file.clone(),
        })
    }

    /// Loads and builds a problem file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = ProblemFile::load(path)?;
        Self::build(&file, path.parent())
    }

    pub fn dim(&self) -> usize {
        self.x0.len()
    }

    /// The cost of one step of one path in multiply-adds, for work estimates
    /// ([`crate::budget`]): `d` per coordinate with diagonal Gaussian noise, `d^2` with a dense
    /// H or C, `S d` for a minibatch of data-set or regression examples.
    pub fn step_cost(&self) -> f64 {
        let d = self.dim() as f64;
        match &self.model {
            Model::Gaussian(p) if p.is_diagonal() => d,
            Model::Gaussian(_) => d * d,
            Model::Dataset(_) | Model::Regression(_) => d * self.batch.max(1) as f64,
        }
    }

    /// The cost of `paths x steps` steps of this problem (see [`crate::budget`]).
    pub fn work(&self, paths: usize, steps: usize) -> crate::budget::Work {
        let threads = rayon::current_num_threads() as f64;
        crate::budget::Work::simulation(
            format!("{paths} paths x {steps} steps of a d = {} problem", self.dim()),
            paths as f64 * steps as f64 * self.step_cost(),
            8.0 * (16.0 * self.dim() as f64 * threads + 16.0 * paths as f64),
        )
    }

    /// The cost of a weak-order study of `schemes` integrators: level l takes `t_end 2^l / h0`
    /// steps with its coupled coarse path, about `1.5 x 2^levels t_end / h0` fine steps per path
    /// and scheme in all.
    pub fn weak_order_work(
        &self,
        schemes: usize,
        paths: usize,
        levels: usize,
        t_end: f64,
        h0: f64,
    ) -> crate::budget::Work {
        let fine_steps = t_end / h0 * 2f64.powi(levels.min(1024) as i32);
        crate::budget::Work::simulation(
            format!(
                "{schemes} schemes x {paths} paths x {levels} levels of t_end / h0 = {:e} steps (d = {})",
                t_end / h0,
                self.dim()
            ),
            schemes as f64 * paths as f64 * 1.5 * fine_steps * self.step_cost(),
            8.0 * 16.0 * self.dim() as f64 * rayon::current_num_threads() as f64,
        )
    }

    /// Refuses `paths x steps` steps of this problem when they cannot fit.
    pub fn check_work(&self, paths: usize, steps: usize) -> Result<(), crate::budget::TooMuchWork> {
        self.work(paths, steps).check()
    }

    pub fn sampling(&self) -> Option<Sampling> {
        self.model.quadratic().sampling()
    }

    pub fn n(&self) -> Option<usize> {
        self.model.quadratic().n()
    }

    /// `lambda_max` of the Hessian of the mean loss.
    pub fn lambda_max(&self) -> f64 {
        self.model.quadratic().lambda_max()
    }

    /// The stability limit on eta for this scenario, and how it is stated.
    pub fn stability_limit(&self) -> (f64, String) {
        let s = self.model.quadratic().stability(self.momentum);
        (s.limit, s.rule.describe())
    }

    /// The exact theory for this scenario.
    pub fn theory(&self) -> TheoryReport {
        let (eta, s, m) = (self.eta, self.batch, self.momentum);
        let model = self.model.quadratic();
        let lambda_max = model.lambda_max();
        let (limit, rule) = self.stability_limit();
        let t = model.theory(eta, s, m);
        let optimum = model.optimum();
        let modes = t.modes;
        let continuous = eta / (4.0 * s as f64 * (1.0 - m)) * modes.c.sum();
        TheoryReport {
            model: model.name().into(),
            sampling: self.sampling().map(|s| s.name().to_string()),
            dim: self.dim(),
            eta,
            batch: s,
            momentum: m,
            n: self.n(),
            continuous_loss: continuous,
            discrete_loss: t.discrete,
            discrete_over_continuous: t.discrete.map(|v| v / continuous),
            stable: eta < limit,
            stability_limit: limit,
            stability_rule: rule,
            eta_lambda_max: eta * lambda_max,
            lambda_max,
            trace_h: t.trace_h,
            trace_c: modes.c.sum(),
            f: t.f,
            mode_factors: modes
                .lambda
                .iter()
                .map(|&l| 1.0 / (1.0 - eta * l / (2.0 * (1.0 + m))))
                .collect(),
            stationary_second_moment: t.covariance.as_ref().map(|c| c.trace()),
            covariance: t
                .covariance
                .map(|c| c.row_iter().map(|r| r.iter().copied().collect()).collect()),
            theta0: optimum.theta_star.iter().zip(&self.start_offset).map(|(s, x)| s + x).collect(),
            x0: self.start_offset.clone(),
            theta_star: optimum.theta_star,
            l_min: optimum.l_min,
            note: t.note,
        }
    }

    /// The exact mean loss after `k` steps from `x0` for this integrator, and whether it is exact
    /// (`false`: the continuous law at `t = k eta`, off by the integrator's discretisation error).
    pub fn transient_theory(&self, kind: IntegratorKind, k: usize) -> Option<(f64, bool)> {
        self.model.quadratic().transient(kind, self.eta, self.batch, self.momentum, &self.x0, k)
    }

    /// The exact stationary loss for this integrator (see [`TheoryReport::stationary_for`]).
    pub fn stationary_theory(&self, kind: IntegratorKind) -> Option<f64> {
        self.theory().stationary_for(kind)
    }

    /// Checks that the integrator fits the scenario (the integrator module's rule).
    pub fn check_integrator(&self, kind: IntegratorKind) -> Result<(), ProblemError> {
        kind.check(self.momentum, matches!(self.model, Model::Gaussian(_)))
    }

    /// Runs every path with the chosen integrator at step `eta`, returning each path's observer.
    pub fn simulate<O: Observer<Vec<f64>> + Sync>(
        &self,
        kind: IntegratorKind,
        ensemble: &Ensemble,
        steps: usize,
        observer: &O,
    ) -> Result<Vec<PathOutcome<O>>, ProblemError> {
        self.check_integrator(kind)?;
        let task = Simulate { ensemble, x0: &self.x0, h: self.eta, steps, observer };
        match &self.model {
            Model::Gaussian(p) => kind.dispatch(p, self.momentum, task),
            Model::Dataset(p) => kind.dispatch(p, self.momentum, task),
            Model::Regression(p) => kind.dispatch(p, self.momentum, task),
        }
    }

    /// The stationary loss: per-path time averages over `window` steps after `burn_in` (default
    /// [`Self::default_burn_in`]), mean and standard error over the ensemble's paths. Reshuffling
    /// runs are aligned to whole epochs.
    pub fn stationary_estimate(
        &self,
        kind: IntegratorKind,
        ensemble: &Ensemble,
        burn_in: Option<usize>,
        window: usize,
    ) -> Result<crate::stats::Estimate, StationaryError> {
        let burn = burn_in.unwrap_or_else(|| self.default_burn_in());
        let (burn, window) = match self.n() {
            Some(n) if self.sampling() == Some(Sampling::Reshuffle) => {
                (burn.div_ceil(n) * n, (window / n).max(1) * n)
            }
            _ => (burn, window),
        };
        let out = self.simulate(
            kind,
            ensemble,
            burn + window,
            &crate::observers::TimeAverage::new(burn, burn + window),
        )?;
        time_averages(&out)
    }

    /// A burn-in long enough for the slowest mode's transient to fall below 1e-9 of its start.
    pub fn default_burn_in(&self) -> usize {
        self.burn_in_at(self.eta, self.momentum)
    }

    /// [`Self::default_burn_in`] for steps of size `h` at momentum `m`, capped at 1e6 steps of
    /// size `eta`.
    fn burn_in_at(&self, h: f64, m: f64) -> usize {
        let rho = self.model.quadratic().contraction(h, m);
        if rho >= 1.0 {
            return 1000;
        }
        let cap = (1e6 * self.eta / h).min(1e9) as usize;
        (((1e-9f64).ln() / (2.0 * rho.ln())).ceil() as usize + 10).min(cap)
    }

    /// Refuses SVAG where it is not defined here: momentum, or per-epoch reshuffling (whose
    /// batches are not independent draws).
    pub fn check_svag(&self) -> Result<(), ProblemError> {
        ensure(self.momentum == 0.0, || {
            ProblemError::new("optimizer.momentum", self.momentum, "0 for SVAG")
        })?;
        ensure(self.sampling() != Some(Sampling::Reshuffle), || {
            ProblemError::new("noise.sampling", "reshuffle", "with_replacement or without_replacement for SVAG (its two draws must be independent)")
        })
    }

    /// Runs every path with SVAG at amplification `l`: SGD at step `eta / l` on the SVAG oracle
    /// ([`crate::problems::Svag`]).
    pub fn simulate_svag<O: Observer<Vec<f64>> + Sync>(
        &self,
        l: f64,
        ensemble: &Ensemble,
        steps: usize,
        observer: &O,
    ) -> Result<Vec<PathOutcome<O>>, ProblemError> {
        self.check_svag()?;
        let task = Simulate { ensemble, x0: &self.x0, h: self.eta / l, steps, observer };
        let sgd = crate::integrators::EulerMaruyama::new();
        Ok(match &self.model {
            Model::Gaussian(p) => task.run(&Svag::new(p, l)?, sgd),
            Model::Dataset(p) => task.run(&Svag::new(p, l)?, sgd),
            Model::Regression(p) => task.run(&Svag::new(p, l)?, sgd),
        })
    }

    /// SVAG's exact stationary loss at amplification `l` (`theory::svag`); None for
    /// multiplicative noise (regression) or past SVAG's limit `eta lambda_max < 2 l`.
    pub fn svag_theory(&self, l: f64) -> Option<f64> {
        let model = self.model.quadratic();
        let modes = model.f_formula_modes()?;
        let f = model.theory(self.eta, self.batch, 0.0).f?;
        crate::theory::svag::stationary_loss(&modes, self.eta, f, l).ok()
    }

    /// SVAG's stationary loss at amplification `l`, measured like [`Self::stationary_estimate`]
    /// with `burn_in` and `window` counted in steps of size `eta / l` (default burn-in: the
    /// slowest mode's transient below 1e-9 at that step).
    pub fn svag_stationary_estimate(
        &self,
        l: f64,
        ensemble: &Ensemble,
        burn_in: Option<usize>,
        window: usize,
    ) -> Result<crate::stats::Estimate, StationaryError> {
        let burn = burn_in.unwrap_or_else(|| self.burn_in_at(self.eta / l, 0.0));
        let out = self.simulate_svag(
            l,
            ensemble,
            burn + window,
            &crate::observers::TimeAverage::new(burn, burn + window),
        )?;
        time_averages(&out)
    }
}

/// The mean and standard error of the paths' time averages, or the first divergence.
fn time_averages(
    out: &[PathOutcome<crate::observers::TimeAverage>],
) -> Result<crate::stats::Estimate, StationaryError> {
    if let Some((path, diverged)) = crate::ensemble::first_divergence(out) {
        return Err(StationaryError::Diverged(crate::ensemble::PathDiverged { path, diverged }));
    }
    Ok(crate::stats::Estimate::from_replicas(
        &out.iter().map(|o| o.observer.mean()).collect::<Vec<_>>(),
    ))
}

fn rename(p: &str) -> String {
    match p {
        "S" => "optimizer.batch".into(),
        "eta" => "optimizer.eta".into(),
        "N" => "the number of examples N (noise.generate.n, or the rows of noise.centers or noise.file)".into(),
        other
            if other.starts_with("centers") || other.starts_with("x") || other.starts_with("y") =>
        {
            format!("noise.{other}")
        }
        other => other.into(),
    }
}

/// An ensemble run as an integrator task.
struct Simulate<'a, O> {
    ensemble: &'a Ensemble,
    x0: &'a Vec<f64>,
    h: f64,
    steps: usize,
    observer: &'a O,
}

impl<P: StochasticProblem<Vec<f64>>, O: Observer<Vec<f64>> + Sync> IntegratorTask<Vec<f64>, P>
    for Simulate<'_, O>
{
    type Output = Vec<PathOutcome<O>>;
    fn run<I: Integrator<Vec<f64>, P> + Sync>(self, problem: &P, integrator: I) -> Self::Output {
        self.ensemble.simulate(problem, &integrator, self.x0, self.h, self.steps, self.observer)
    }
}
