//! `sgd-sde sweep`: a grid over eta, S, m, N and seeds. One result file per point, written
//! atomically; a rerun skips the points already done, so a killed sweep loses nothing.
//! `--shard K/N` runs the points with `index % N == K` (a Slurm array task each).
//! `sgd-sde merge` combines the shards' point files into one table.
//!
//! Integrity: every point file carries two fingerprints ([`fingerprint`]): `grid`, of everything
//! that determines the sweep (the crate version, the base problem as loaded, the bytes of its data
//! file, the run settings with the integrator, and the axes), and `fingerprint`, of the point
//! (the same inputs without the axes, plus the point's parameters and seed). A rerun reuses a
//! point only when its fingerprint matches, and reruns and reports stale ones; `merge` refuses
//! point files of different grids, or of one grid with inconsistent sizes.

use super::{progress, CliError};
use crate::config::read::parse;
use crate::config::{IntegratorKind, ProblemFile};
use crate::ensemble::Ensemble;
use crate::output::{fingerprint, write_csv, write_json, Manifest};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The grid file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridFile {
    /// The base problem file, relative to the grid file.
    pub base: PathBuf,
    #[serde(default)]
    pub axes: Axes,
    #[serde(default)]
    pub run: RunSpec,
}

/// Values per axis; an empty axis keeps the base file's value. A value may appear once per axis,
/// and `n` needs a base problem with generated data ([`check_axes`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axes {
    #[serde(default)]
    pub eta: Vec<f64>,
    #[serde(default)]
    pub batch: Vec<usize>,
    #[serde(default)]
    pub momentum: Vec<f64>,
    /// Data-set size: overrides `noise.generate.n` (synthetic data only).
    #[serde(default)]
    pub n: Vec<usize>,
    #[serde(default)]
    pub seed: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    #[serde(default = "paths")]
    pub paths: usize,
    #[serde(default = "window")]
    pub window: usize,
    #[serde(default)]
    pub burn_in: Option<usize>,
    #[serde(default)]
    pub integrator: IntegratorKind,
}

impl Default for RunSpec {
    fn default() -> Self {
        Self { paths: paths(), window: window(), burn_in: None, integrator: IntegratorKind::Sgd }
    }
}

fn paths() -> usize {
    64
}
fn window() -> usize {
    20_000
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointParams {
    pub eta: f64,
    pub batch: usize,
    pub momentum: f64,
    pub n: Option<usize>,
    pub seed: u64,
}

impl std::fmt::Display for PointParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "eta = {}, batch = {}, momentum = {}", self.eta, self.batch, self.momentum)?;
        if let Some(n) = self.n {
            write!(f, ", n = {n}")?;
        }
        write!(f, ", seed = {}", self.seed)
    }
}

/// One grid point's result file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointResult {
    pub id: String,
    /// Fingerprint of the sweep this point belongs to (empty in files of older versions).
    #[serde(default)]
    pub grid: String,
    /// Fingerprint of everything that determines this point's result.
    #[serde(default)]
    pub fingerprint: String,
    pub index: usize,
    pub total: usize,
    pub params: PointParams,
    /// ok, unstable (no stationary distribution), invalid (bad parameters: refused before a sweep
    /// starts, so seen only when the base problem changes under a running sweep) or diverged.
    pub status: String,
    pub message: String,
    pub continuous: Option<f64>,
    pub exact: Option<f64>,
    pub measured: Option<f64>,
    pub se: Option<f64>,
    pub z_exact: Option<f64>,
    pub z_continuous: Option<f64>,
}

fn grid(base: &ProblemFile, axes: &Axes) -> Vec<PointParams> {
    let or = |v: &Vec<f64>, d: f64| if v.is_empty() { vec![d] } else { v.clone() };
    let n_default = base.noise.generate.as_ref().map(|g| g.n);
    let ns: Vec<Option<usize>> =
        if axes.n.is_empty() { vec![n_default] } else { axes.n.iter().map(|&n| Some(n)).collect() };
    let batches =
        if axes.batch.is_empty() { vec![base.optimizer.batch] } else { axes.batch.clone() };
    let seeds = if axes.seed.is_empty() { vec![0] } else { axes.seed.clone() };
    let mut out = Vec::new();
    for &eta in &or(&axes.eta, base.optimizer.eta) {
        for &batch in &batches {
            for &momentum in &or(&axes.momentum, base.optimizer.momentum) {
                for &n in &ns {
                    for &seed in &seeds {
                        out.push(PointParams { eta, batch, momentum, n, seed });
                    }
                }
            }
        }
    }
    out
}

/// Refuses axes that would label a point with a value it was not computed with, or count one point
/// twice: a value listed twice on one axis (two seeds 0 are one replicate, not two), and an `n`
/// axis over a base problem without `noise.generate` (its N comes from its centres or its data
/// file, so every point would carry an n it never used).
fn check_axes(axes: &Axes, base: &ProblemFile, grid_path: &Path) -> Result<(), CliError> {
    fn repeated<T: PartialEq + std::fmt::Display>(v: &[T]) -> Option<String> {
        crate::error::first_repeat(v, T::eq).map(|(_, x)| x.to_string())
    }
    let repeats = [
        ("eta", repeated(&axes.eta)),
        ("batch", repeated(&axes.batch)),
        ("momentum", repeated(&axes.momentum)),
        ("n", repeated(&axes.n)),
        ("seed", repeated(&axes.seed)),
    ];
    if let Some((axis, value)) = repeats.into_iter().find_map(|(a, v)| Some((a, v?))) {
        return Err(CliError::Input(format!(
            "invalid axes.{axis} in {}: {value} is listed twice; valid is each value once (a \
             repeated point is the same run, not another replicate)",
            grid_path.display()
        )));
    }
    if !axes.n.is_empty() && base.noise.generate.is_none() {
        return Err(CliError::Input(format!(
            "invalid axes.n in {}: the base problem has no noise.generate, so its N is fixed by \
             its data; valid is an n axis only over a base problem with generated data",
            grid_path.display()
        )));
    }
    Ok(())
}

/// Builds every point's problem before any work and returns each one's cost, so a grid with an
/// invalid point is refused whole, whichever shard it falls in, instead of leaving a hole in the
/// results. An error in a field that an axis sets is named as that axis.
fn checked_work(
    points: &[PointParams],
    g: &GridFile,
    base: &ProblemFile,
    base_dir: Option<&Path>,
    grid_path: &Path,
) -> Result<Vec<crate::budget::Work>, CliError> {
    let (axes, run) = (&g.axes, &g.run);
    let mut work = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let e = match Scenario::build(&point_file(base, p), base_dir) {
            Ok(scen) => {
                let steps = run.burn_in.unwrap_or(scen.default_burn_in()) + run.window;
                work.push(scen.work(run.paths, steps));
                continue;
            }
            Err(e) => e,
        };
        let at = format!("{} (point {} of {}: {p})", grid_path.display(), id(i), points.len());
        let axis = match &e {
            crate::scenario::ScenarioError::Problem(pe) => match pe.parameter.as_str() {
                "optimizer.eta" if !axes.eta.is_empty() => Some(("eta", pe)),
                "optimizer.batch" if !axes.batch.is_empty() => Some(("batch", pe)),
                "optimizer.momentum" if !axes.momentum.is_empty() => Some(("momentum", pe)),
                // Also "the number of examples N (noise.generate.n, or ...)".
                n if n.contains("noise.generate.n") && !axes.n.is_empty() => Some(("n", pe)),
                _ => None,
            },
            crate::scenario::ScenarioError::Input(_) => None,
        };
        return Err(CliError::Input(match axis {
            Some((axis, pe)) => {
                format!("invalid axes.{axis} = {} in {at}: valid range is {}", pe.value, pe.valid)
            }
            None => format!("{e}, at {at}"),
        }));
    }
    Ok(work)
}

/// Parses `K/N` with `0 <= K < N`.
pub fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
    let bad =
        || CliError::Input(format!("invalid --shard = {s}: valid is K/N with integers 0 <= K < N"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) =
        (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The base problem with a point's parameters.
fn point_file(base: &ProblemFile, p: &PointParams) -> ProblemFile {
    let mut f = base.clone();
    f.optimizer.eta = p.eta;
    f.optimizer.batch = p.batch;
    f.optimizer.momentum = p.momentum;
    if let (Some(n), Some(g)) = (p.n, f.noise.generate.as_mut()) {
        g.n = n;
    }
    f
}

fn evaluate(base: &ProblemFile, dir: Option<&Path>, run: &RunSpec, p: &PointParams) -> PointResult {
    let mut r = PointResult {
        id: String::new(),
        grid: String::new(),
        fingerprint: String::new(),
        index: 0,
        total: 0,
        params: p.clone(),
        status: "ok".into(),
        message: String::new(),
        continuous: None,
        exact: None,
        measured: None,
        se: None,
        z_exact: None,
        z_continuous: None,
    };
    let scen = match Scenario::build(&point_file(base, p), dir) {
        Ok(s) => s,
        Err(e) => {
            r.status = "invalid".into();
            r.message = e.to_string();
            return r;
        }
    };
    let th = scen.theory();
    r.continuous = Some(th.continuous_loss);
    r.exact = th.stationary_for(run.integrator);
    if !th.stable {
        r.status = "unstable".into();
        r.message = format!(
            "eta = {} is past the stability limit {:.6e} ({})",
            p.eta, th.stability_limit, th.stability_rule
        );
        return r;
    }
    match scen.stationary_estimate(
        run.integrator,
        &Ensemble::new(run.paths, p.seed),
        run.burn_in,
        run.window,
    ) {
        Ok(est) => {
            r.measured = Some(est.value);
            r.se = Some(est.se);
            r.z_exact = r.exact.map(|e| est.z(e));
            r.z_continuous = Some(est.z(th.continuous_loss));
        }
        Err(e) => {
            r.status = "diverged".into();
            r.message = e.to_string();
        }
    }
    r
}

pub fn run_sweep(
    grid_path: &Path,
    shard: Option<&str>,
    out: &Path,
    quiet: bool,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let text = crate::config::read::read_text(grid_path, "--grid")
        .map_err(|e| CliError::Input(e.to_string()))?;
    let g: GridFile = parse(grid_path, &text).map_err(|e| CliError::Input(e.to_string()))?;
    if g.run.paths < 2 {
        return Err(CliError::Input(format!(
            "invalid run.paths = {} in {}: valid range is >= 2 (a standard error over paths needs \
             two of them)",
            g.run.paths,
            grid_path.display()
        )));
    }
    if g.run.window == 0 {
        return Err(CliError::Input(format!(
            "invalid run.window = 0 in {}: valid range is >= 1 step",
            grid_path.display()
        )));
    }
    let dir = grid_path.parent();
    let base_path = crate::config::read::resolve(dir, &g.base);
    let base = ProblemFile::load(&base_path).map_err(|e| CliError::Input(e.to_string()))?;
    let (k, shards) = match shard {
        Some(s) => parse_shard(s)?,
        None => (0, 1),
    };
    check_axes(&g.axes, &base, grid_path)?;
    let points = grid(&base, &g.axes);
    let base_dir = base_path.parent().map(Path::to_path_buf);
    let work = checked_work(&points, &g, &base, base_dir.as_deref(), grid_path)?;
    let total = points.len();
    let prints = Fingerprints::new(&base, &base_path, &g);
    let mine: Vec<(usize, &PointParams)> =
        points.iter().enumerate().filter(|(i, _)| i % shards == k).collect();
    let points_dir = out.join("points");
    std::fs::create_dir_all(&points_dir)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", points_dir.display())))?;
    let mut stale = 0;
    let todo: Vec<&(usize, &PointParams)> = mine
        .iter()
        .filter(|(i, p)| match stored(&points_dir.join(format!("{}.json", id(*i)))) {
            Some(r) if r.fingerprint == prints.point(p) => false,
            Some(_) => {
                stale += 1;
                true
            }
            None => true,
        })
        .collect();
    outln!(
        "grid {}: {total} points; shard {k}/{shards} has {}, {} already done, {} to run{}",
        grid_path.display(),
        mine.len(),
        mine.len() - todo.len(),
        todo.len(),
        if stale > 0 {
            format!(
                " ({stale} of them stale: their files were computed with other settings, a \
                 different base problem or another version, and are recomputed)"
            )
        } else {
            String::new()
        }
    );
    let what = format!(
        "this shard's {} points x {} paths x burn-in + {} steps",
        todo.len(),
        g.run.paths,
        g.run.window
    );
    crate::budget::Work::sequence(what, todo.iter().map(|(i, _)| work[*i].clone())).check()?;
    let bar = progress::bar(todo.len() as u64, "sweep points", quiet);
    for (i, p) in todo {
        let mut r = evaluate(&base, base_dir.as_deref(), &g.run, p);
        r.id = id(*i);
        r.grid = prints.grid.clone();
        r.fingerprint = prints.point(p);
        r.index = *i;
        r.total = total;
        write_json(&points_dir.join(format!("{}.json", r.id)), &r)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    write_json(
        &out.join(format!("manifest-shard-{k}-of-{shards}.json")),
        &Manifest::new(
            None,
            serde_json::json!({ "grid": grid_path.display().to_string(), "grid_file": g, "shard": format!("{k}/{shards}") }),
            started.elapsed().as_secs_f64(),
        ),
    )?;
    outln!("wrote {} (merge with: sgd-sde merge {})", points_dir.display(), out.display());
    Ok(())
}

fn id(i: usize) -> String {
    format!("p{i:06}")
}

/// A stored point file, if it parses.
fn stored(path: &Path) -> Option<PointResult> {
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<PointResult>(&t).ok())
}

/// The fingerprints of one sweep: of its settings (shared by every point) and of its grid.
struct Fingerprints {
    settings: String,
    grid: String,
}

impl Fingerprints {
    fn new(base: &ProblemFile, base_path: &Path, g: &GridFile) -> Self {
        // The data file's bytes, when the base problem reads one (its absence is reported when
        // the points are built).
        let data = base
            .noise
            .file
            .as_ref()
            .map(|f| crate::config::read::resolve(base_path.parent(), f))
            .and_then(|f| std::fs::read(f).ok())
            .unwrap_or_default();
        let settings = fingerprint(&[
            ("version", env!("CARGO_PKG_VERSION").as_bytes()),
            ("base", canonical(base).as_bytes()),
            ("data", &data),
            ("run", canonical(&g.run).as_bytes()),
        ]);
        let grid = fingerprint(&[
            ("settings", settings.as_bytes()),
            ("axes", canonical(&g.axes).as_bytes()),
        ]);
        Self { settings, grid }
    }
    fn point(&self, p: &PointParams) -> String {
        fingerprint(&[("settings", self.settings.as_bytes()), ("point", canonical(p).as_bytes())])
    }
}

/// Canonical JSON of a value: serde_json writes fields in declaration order and floats in their
/// shortest round-trip form, so equal values give equal text.
fn canonical<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub fn run_merge(dirs: &[PathBuf], out: Option<&Path>) -> Result<(), CliError> {
    if dirs.is_empty() {
        return Err(CliError::Input(
            "invalid merge arguments: valid is one or more sweep output folders".into(),
        ));
    }
    let mut results: Vec<(PathBuf, PointResult)> = Vec::new();
    for d in dirs {
        let pd = d.join("points");
        let entries = std::fs::read_dir(&pd).map_err(|e| {
            CliError::Input(format!(
                "invalid folder = {}: cannot read {}/points ({e}); valid is a sweep --out folder",
                d.display(),
                d.display()
            ))
        })?;
        for e in entries {
            let path =
                e.map_err(|e| CliError::Io(format!("cannot read {}: {e}", pd.display())))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let t = std::fs::read_to_string(&path)
                    .map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))?;
                let r: PointResult = serde_json::from_str(&t).map_err(|e| {
                    CliError::Input(format!("invalid point file {}: {e}", path.display()))
                })?;
                results.push((path, r));
            }
        }
    }
    let (total, mut results) = one_grid(dirs, results)?;
    results.sort_by_key(|r| r.index);
    results.dedup_by_key(|r| r.index);
    // Indices are distinct and below `total`, so this scans at most len + 10 of them.
    let missing_count = total - results.len();
    let missing: Vec<usize> = (0..total)
        .filter(|i| results.binary_search_by_key(i, |r| r.index).is_err())
        .take(10)
        .collect();
    let out = out.map(Path::to_path_buf).unwrap_or_else(|| dirs[0].clone());
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.params.eta.to_string(),
                r.params.batch.to_string(),
                r.params.momentum.to_string(),
                r.params.n.map(|n| n.to_string()).unwrap_or_default(),
                r.params.seed.to_string(),
                r.status.clone(),
                opt(r.continuous),
                opt(r.exact),
                opt(r.measured),
                opt(r.se),
                opt(r.z_exact),
                opt(r.z_continuous),
            ]
        })
        .collect();
    write_csv(
        &out.join("results.csv"),
        &[
            "id",
            "eta",
            "batch",
            "momentum",
            "n",
            "seed",
            "status",
            "continuous",
            "exact",
            "measured",
            "se",
            "z_exact",
            "z_continuous",
        ],
        &rows,
    )?;
    write_json(&out.join("results.json"), &results)?;
    outln!(
        "merged {} of {total} points into {}/results.{{csv,json}}",
        results.len(),
        out.display()
    );
    if missing_count > 0 {
        outln!(
            "missing {missing_count} points: {}{} (rerun the sweep or its shards to fill them in)",
            missing.iter().map(|i| id(*i)).collect::<Vec<_>>().join(", "),
            if missing_count > missing.len() { ", ..." } else { "" }
        );
    }
    Ok(())
}

/// Checks that the point files read from `dirs` come from one sweep (one grid fingerprint, one
/// size, indices inside it) and returns the grid's size with the points; refuses to mix anything
/// else, and folders without any (an empty table is a wrong folder, not a result).
fn one_grid(
    dirs: &[PathBuf],
    results: Vec<(PathBuf, PointResult)>,
) -> Result<(usize, Vec<PointResult>), CliError> {
    let Some((first_path, first)) = results.first() else {
        return Err(CliError::Input(format!(
            "invalid folders = {}: no point files in their points/ folders; valid are sweep --out \
             folders with at least one finished point (run the sweep first)",
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    };
    for (path, r) in &results {
        if r.grid.is_empty() {
            return Err(CliError::Input(format!(
                "invalid point file {}: it has no grid fingerprint (written by an older version); \
                 valid are point files of this version: rerun the sweep to refresh it",
                path.display()
            )));
        }
        if r.grid != first.grid {
            return Err(CliError::Input(format!(
                "cannot merge {} and {}: they come from different sweeps (grid fingerprints {} \
                 and {}: another base problem, run settings, axes or version); valid are the \
                 point files of one sweep (rerun the stale shards with the current grid)",
                first_path.display(),
                path.display(),
                first.grid,
                r.grid
            )));
        }
        if r.total != first.total || r.index >= r.total || r.id != id(r.index) {
            return Err(CliError::Input(format!(
                "invalid point file {}: index {} of {} points (id {}) does not fit the grid of {} \
                 ({} points); valid are unedited point files",
                path.display(),
                r.index,
                r.total,
                r.id,
                first_path.display(),
                first.total
            )));
        }
    }
    let total = first.total;
    Ok((total, results.into_iter().map(|(_, r)| r).collect()))
}
