//! `sgd-sde net <experiment>`: the network experiments, on the CPU or a CUDA GPU.

use super::CliError;
use crate::net::backend::{resolve, DeviceChoice, Resolved};
use crate::net::experiments::*;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Options shared by every network experiment.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// embedded (default: the 2,000/1,000 Fashion-MNIST subset shipped in the binary),
    /// fashion-mnist, mnist, or teacher (synthetic).
    #[arg(long, default_value = "embedded")]
    pub dataset: String,
    /// Folder with the IDX files (default: $SGD_SDE_DATA, ../shared/data, /usr/share/datasets).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Training examples (a stratified, seeded subset).
    #[arg(long, value_parser = super::flags::at_least_one)]
    pub n: Option<usize>,
    /// Test examples (a stratified, seeded subset).
    #[arg(long, value_parser = super::flags::at_least_one)]
    pub test_n: Option<usize>,
    /// cpu, cuda or auto (CUDA when usable, else the CPU).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Seed of the initialisation, the data subsets and every SGD stream.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (default out/net/<experiment>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum NetCommand {
    /// 1. The OU law on a network: noise-induced excess loss against eta f/4 Tr(H) and Tr(C).
    ///    (Default --n 1000: each point also runs the full-batch GD reference.)
    OuLaw {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: OuLawOptions,
    },
    /// 2. LR/BS invariance of learning curves (eta/S fixed vs eta/sqrt(S) fixed).
    Invariance {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: InvarianceOptions,
    },
    /// 3. Width of minima (lambda_max, |H|_F) and test accuracy against eta/S (ICANN Fig. 3).
    Width {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: WidthOptions,
    },
    /// 6. Gaussian-noise GD (the SDE, with the empirical C/S) against minibatch SGD.
    GaussianVsSgd {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: GaussianVsSgdOptions,
    },
    /// The sharpest directions along the trajectory (Jastrzebski et al. 2019): lambda_max and the
    /// top-k spectrum during training, eta lambda_max against 2, the step's share in the top-k space.
    Sharpest {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: SharpestOptions,
    },
    /// Nudged SGD (P3 Sec. 5): the step along the top-k Hessian directions multiplied by gamma;
    /// lambda_max at the end against plain SGD's, paired by replicate, with k random directions
    /// as the control.
    Nudged {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: NudgedOptions,
    },
    /// The critical batch size (McCandlish et al. 2018): steps to a target loss with eta tuned
    /// per batch size, S = S_min + E_min/B fitted, B_crit = E_min/S_min against the gradient
    /// noise scale B_noise measured at the target.
    CriticalBatch {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: CriticalBatchOptions,
    },
    /// SVAG against SGD (Li, Malladi & Arora 2021): does SGD at (eta, S) behave like its SDE?
    Svag {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: SvagNetOptions,
    },
    /// Schedules (ICANN Fig. 1 left; Smith, Kindermans & Le 2017): cyclic eta against cyclic S,
    /// constant pairs and step decay of eta against step increase of S at the same eta/S, each
    /// against the seed-to-seed noise floor, with a control of different eta/S.
    Schedules {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: SchedulesOptions,
    },
    /// Interpolation between minima (ICANN Fig. 4) and filter-normalised slices (Li et al. 2018):
    /// the loss along the line between two trained minima, and the curvature at each along the
    /// line and in filter-normalised random directions.
    Interpolation {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: InterpolationOptions,
    },
    /// The gradient noise scale along training (McCandlish et al. 2018): B_simple = Tr(C)/|G|^2
    /// and B_noise = Tr(HC)/(G^T H G) with error bars.
    NoiseScale {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: NoiseScaleOptions,
    },
    /// 4. Breakdown (ICANN Fig. 5): eta/S fixed, scaled by beta, on two training-set sizes.
    Breakdown {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: BreakdownNetOptions,
    },
    /// 5a. Smith & Le: test accuracy against batch size; B_opt against eps N/(1-m).
    BatchSize {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: BatchSizeOptions,
    },
    /// 5b. Smith & Le: Bayesian (Laplace) evidence of logistic regression on MNIST 0/1 with
    /// informative and random labels against lambda (default --dataset mnist, falling back to the
    /// embedded Fashion-MNIST classes 0/1 with a note when MNIST is not found; default --n 1000).
    Evidence {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: EvidenceOptions,
    },
    /// Speed: one epoch of the 4-layer MLP (batch 128) and the cost of HVPs and Tr(H).
    Bench {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: BenchOptions,
    },
}

fn context(c: &Common, name: &str, quiet: bool) -> Result<NetContext, CliError> {
    let choice = DataChoice::parse(&c.dataset, c.data.as_deref()).map_err(CliError::Input)?;
    let device = resolve(DeviceChoice::parse(&c.device)?).map_err(CliError::Input)?;
    let (train, test) = choice.load(c.n, c.test_n, c.seed).map_err(CliError::Input)?;
    if !quiet {
        eprintln!(
            "data: {} ({} train) / {} ({} test); device: {device:?}",
            train.name,
            train.len(),
            test.name,
            test.len()
        );
    }
    let bar = super::progress::bar(0, "training", quiet);
    Ok(NetContext {
        train,
        test,
        device,
        out: c.out.clone().unwrap_or_else(|| PathBuf::from(format!("out/net/{name}"))),
        seed: c.seed,
        quiet,
        bar,
    })
}

/// MNIST 0/1 (from --data or the usual places), else the embedded Fashion-MNIST classes 0/1.
fn binary_context(c: &Common, quiet: bool) -> Result<NetContext, CliError> {
    let choice = if c.dataset == "embedded" {
        DataChoice::Idx { name: "mnist".into(), dir: c.data.clone() }
    } else {
        DataChoice::parse(&c.dataset, c.data.as_deref()).map_err(CliError::Input)?
    };
    let (train, test) = match choice.load(None, None, c.seed) {
        Ok(t) => t,
        Err(e) if c.dataset == "embedded" => {
            eprintln!("note: MNIST not found ({e}); using the embedded Fashion-MNIST classes 0/1 (T-shirt/top, Trouser)");
            DataChoice::Embedded.load(None, None, c.seed).map_err(CliError::Input)?
        }
        Err(e) => return Err(CliError::Input(e)),
    };
    let two = |d: crate::net::data::Dataset| {
        d.with_classes(&[0, 1]).map_err(|e| CliError::Input(e.to_string()))
    };
    let (train, test) = (two(train)?, two(test)?);
    let cut = |d: crate::net::data::Dataset, k: Option<usize>, s: u64| match k {
        Some(k) if k < d.len() => {
            d.stratified_subset(k, s).map_err(|e| CliError::Input(e.to_string()))
        }
        _ => Ok(d),
    };
    let (train, test) = (cut(train, c.n, c.seed)?, cut(test, c.test_n, c.seed ^ 1)?);
    if !quiet {
        eprintln!(
            "data: {} ({} train) / {} ({} test)",
            train.name,
            train.len(),
            test.name,
            test.len()
        );
    }
    Ok(NetContext {
        train,
        test,
        device: Resolved::Cpu,
        out: PathBuf::new(),
        seed: c.seed,
        quiet,
        bar: indicatif::ProgressBar::hidden(),
    })
}

/// Runs an experiment (options in, report out, files written) on the resolved device.
macro_rules! on_device {
    ($ctx:expr, $opts:expr) => {
        match $ctx.device {
            Resolved::Cpu => {
                run_experiment::<_, crate::net::CpuF32>($opts, &$ctx, &Default::default())
            }
            #[cfg(feature = "cuda")]
            Resolved::Cuda => {
                run_experiment::<_, crate::net::backend::CudaF32>($opts, &$ctx, &Default::default())
            }
            #[cfg(not(feature = "cuda"))]
            Resolved::Cuda => unreachable!("resolve() refuses cuda without the feature"),
        }
        .map_err(CliError::from)
    };
}

pub fn run(cmd: NetCommand, quiet: bool) -> Result<(), CliError> {
    match cmd {
        NetCommand::OuLaw { mut common, options: o } => {
            common.n = common.n.or(Some(1000));
            let ctx = context(&common, "ou_law", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!("OU law on a network: N = {}, {} parameters, Tr(H) = {:.4} ± {:.4}, Tr(C) = {:.4}, Tr(C)/Tr(H) = {:.3}, lambda_max = {:.4}", r.n, r.params, r.trace_h, r.trace_h_se, r.trace_c, r.c_over_h, r.lambda_max);
            outln!(
                "{:>8} {:>5} {:>9} {:>12} {:>10} {:>11} {:>11} {:>25} {:>8} {:>12} {:>8} {:>15}",
                "eta",
                "S",
                "eta*lmax",
                "excess",
                "se",
                "/ (Tr H)",
                "/ (Tr C)",
                "exact bounds",
                "z",
                "exact",
                "z",
                "FDR residual"
            );
            for p in &r.points {
                let exact = p.exact.map_or("-".to_string(), |e| format!("{e:.4e}"));
                let z = p.z_exact.map_or("-".to_string(), |z| format!("{z:+.2}"));
                outln!(
                    "{:>8} {:>5} {:>9.3} {:>12.4e} {:>10.2e} {:>11.3} {:>11.3} {:>12.4e}..{:<11.4e} {:>+8.2} {:>12} {:>8} {:>8.3} ± {:.3}",
                    p.eta, p.batch, p.eta_lambda_max, p.excess_loss, p.excess_se, p.ratio_to_h, p.ratio_to_c, p.exact_lower, p.exact_upper, p.z_exact_bounds, exact, z, p.fdr_residual, p.fdr_se
                );
            }
            for d in &r.diverged {
                outln!("{d}; not in the table");
            }
            if let Some(why) = &r.exact_unavailable {
                outln!("no exact value from a dense quadratic model: {why}; the bounds use Tr(C) and lambda_max only");
            }
            outln!("wrote {}/ou_law.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Invariance { common, options: o } => {
            let ctx = context(&common, "invariance", quiet)?;
            let runs = on_device!(ctx, &o)?;
            for r in &runs {
                outln!("{:<34} eta {:.4} S {:>4}: RMS distance to base: train loss {:.4}, test accuracy {:.4}", r.label, r.eta, r.batch, r.distance_train_loss, r.distance_test_accuracy);
            }
            outln!("wrote {}/invariance.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Schedules { common, options: o } => {
            let ctx = context(&common, "schedules", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!("{:<26} {:<24} {:<20} {:>8}", "arm", "eta", "S", "updates");
            for a in &r.arms {
                outln!(
                    "{:<26} {:<24} {:<20} {:>8}",
                    a.label,
                    a.eta.label(),
                    a.batch.label(),
                    a.updates
                );
            }
            outln!(
                "{:<18} {:>10} {:>12} {:>8}  {}",
                "comparison",
                "distance",
                "noise floor",
                "ratio",
                "(train loss; the claim: ratio < 3, its control: > 3)"
            );
            for c in &r.comparisons {
                outln!(
                    "{:<18} {:>10.4} {:>12.4} {:>8.2}  {} vs {}",
                    c.name,
                    c.distance_train_loss,
                    c.noise_floor_train_loss,
                    c.ratio,
                    c.a,
                    c.b
                );
            }
            outln!("wrote {}/schedules.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Nudged { common, options: o } => {
            let ctx = context(&common, "nudged", quiet)?;
            let arms = on_device!(ctx, &o)?;
            outln!(
                "{:<40} {:>18} {:>22} {:>10} {:>18}",
                "arm",
                "lambda_max",
                "ln ratio to SGD",
                "train loss",
                "test acc - SGD"
            );
            for a in &arms {
                outln!(
                    "{:<40} {:>9.3} ± {:<6.3} {:>+10.3} ± {:<9.3} {:>10.4} {:>+9.4} ± {:<6.4}",
                    a.label,
                    a.lambda_max.value,
                    a.lambda_max.se,
                    a.log_ratio_to_sgd.value,
                    a.log_ratio_to_sgd.se,
                    a.train_loss.value,
                    a.accuracy_gap_to_sgd.value,
                    a.accuracy_gap_to_sgd.se
                );
            }
            outln!("wrote {}/nudged.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::CriticalBatch { common, options: o } => {
            let ctx = context(&common, "critical-batch", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!(
                "{:>6} {:>8} {:>10} {:>12} {:>18} {:>10} {:>14}",
                "S",
                "best eta",
                "steps",
                "examples",
                "B_noise at target",
                "B_simple",
                "NQM B_crit"
            );
            let or_dash = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
            for b in &r.batches {
                outln!(
                    "{:>6} {:>8} {:>10.1} {:>12.0} {:>10.1} ± {:<5.1} {:>10.1} {:>14}",
                    b.batch,
                    b.best_eta,
                    b.steps,
                    b.examples,
                    b.at_target.b_noise,
                    b.at_target.b_noise_se,
                    b.at_target.b_simple,
                    or_dash(b.nqm.b_crit)
                );
            }
            let b_crit = match (r.b_crit, r.b_crit_se) {
                (Some(b), Some(se)) => format!("B_crit = E_min/S_min = {b:.1} ± {se:.1}"),
                _ => "B_crit not resolved: S_min is not above zero by 2 s.e. (steps fall like 1/B over the whole grid; try larger --batches)".into(),
            };
            outln!(
                "fit S = S_min + E_min/B: S_min = {:.1} ± {:.1}, E_min = {:.0} ± {:.0}; {b_crit}",
                r.s_min,
                r.fit.intercept_se,
                r.e_min,
                r.fit.slope_se
            );
            outln!(
                "prediction B_noise at the target: {:.1} ± {:.1} (B_simple {:.1} ± {:.1}); control, B_noise at the initialisation: {:.1} ± {:.1}",
                r.b_noise_at_target.value,
                r.b_noise_at_target.se,
                r.b_simple_at_target.value,
                r.b_simple_at_target.se,
                r.at_init.b_noise,
                r.at_init.b_noise_se
            );
            outln!(
                "prediction, the noisy quadratic model's B_crit over the target points: {:.1} ± {:.1}; control, the model at the initialisation: {}",
                r.nqm_b_crit.value,
                r.nqm_b_crit.se,
                or_dash(r.nqm_at_init.b_crit)
            );
            outln!("wrote {}/critical_batch.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Width { common, options: o } => {
            let ctx = context(&common, "width", quiet)?;
            let grid = on_device!(ctx, &o)?;
            let pts = &grid.points;
            outln!(
                "{:>8} {:>5} {:>10} {:>18} {:>18} {:>9}",
                "eta",
                "S",
                "eta/S",
                "lambda_max",
                "|H|_F",
                "test acc"
            );
            for p in pts {
                outln!(
                    "{:>8} {:>5} {:>10.2e} {:>10.3} ± {:<6.2} {:>10.3} ± {:<6.2} {:>9.4}",
                    p.eta,
                    p.batch,
                    p.eta_over_s,
                    p.lambda_max,
                    p.lambda_max_residual,
                    p.frobenius,
                    p.frobenius_se,
                    p.test_accuracy
                );
            }
            for line in grid.diverged_lines() {
                outln!("{line}");
            }
            let t = crate::net::experiments::WidthTrends::of(pts);
            outln!(
                "Spearman rank correlation with eta/S: lambda_max {}, |H|_F {}, test accuracy {}; {} points",
                t.lambda_max,
                t.frobenius,
                t.test_accuracy,
                pts.len()
            );
            outln!("wrote {}/width.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::GaussianVsSgd { common, options: o } => {
            let ctx = context(&common, "gaussian_vs_sgd", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!(
                "eta = {}, S = {}, {} seeds (gap = Gaussian GD - SGD, paired by seed):",
                o.eta,
                o.batch,
                o.seeds
            );
            outln!(
                "  final train loss: SGD {:.4} ± {:.4}, Gaussian {:.4} ± {:.4}, gap {:+.4} ± {:.4}",
                r.sgd_final_train_loss.value,
                r.sgd_final_train_loss.se,
                r.gaussian_final_train_loss.value,
                r.gaussian_final_train_loss.se,
                r.gap_train_loss.value,
                r.gap_train_loss.se
            );
            outln!("  final test accuracy: SGD {:.4} ± {:.4}, Gaussian {:.4} ± {:.4}, gap {:+.4} ± {:.4}", r.sgd_final_test_accuracy.value, r.sgd_final_test_accuracy.se, r.gaussian_final_test_accuracy.value, r.gaussian_final_test_accuracy.se, r.gap_test_accuracy.value, r.gap_test_accuracy.se);
            outln!("wrote {}/gaussian_vs_sgd.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Sharpest { common, options: o } => {
            let ctx = context(&common, "sharpest", quiet)?;
            let grid = on_device!(ctx, &o)?;
            let runs = &grid.points;
            outln!(
                "{:>8} {:>5} {:>12} {:>10} {:>12} {:>14} {:>12} {:>10}",
                "eta",
                "S",
                "peak lmax",
                "at epoch",
                "final lmax",
                "max eta*lmax",
                "step share",
                "random"
            );
            for r in runs {
                outln!(
                    "{:>8} {:>5} {:>12.4} {:>10.2} {:>12.4} {:>14.3} {:>12.3} {:>10.1e}",
                    r.eta,
                    r.batch,
                    r.peak_lambda_max,
                    r.peak_epoch,
                    r.final_lambda_max,
                    r.max_eta_lambda_max,
                    r.mean_step_share,
                    r.random_share
                );
            }
            for line in grid.diverged_lines() {
                outln!("{line}");
            }
            let c =
                crate::net::experiments::SharpestSummary::of(runs).peak_lambda_max_vs_eta_over_s;
            outln!(
                "Spearman correlation of the peak lambda_max with eta/S: {c} on {} runs (the claim: negative)",
                runs.len()
            );
            outln!("wrote {}/sharpest.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Interpolation { common, options: o } => {
            if o.points < 3 {
                return Err(CliError::Input(format!(
                    "invalid --points = {}: valid range is 3 or more",
                    o.points
                )));
            }
            let ctx = context(&common, "interpolation", quiet)?;
            let reports = on_device!(ctx, &o)?;
            outln!(
                "{:>22} {:>10} {:>10} {:>14} {:>22} {:>9}",
                "minimum",
                "eta/S",
                "train loss",
                "line u'Hu/|u|^2",
                "filter-normalised d'Hd",
                "test acc"
            );
            for (k, p) in reports.iter().enumerate() {
                for (end, m) in [("A", &p.a), ("B", &p.b)] {
                    outln!(
                        "{:>22} {:>10.2e} {:>10.4} {:>14.4} {:>13.4} ± {:<6.3} {:>9.4}",
                        format!("pair {k} {end}: eta {} S {}", m.eta, m.batch),
                        m.eta_over_s,
                        m.train_loss,
                        m.line_curvature,
                        m.slice_curvature.value,
                        m.slice_curvature.se,
                        m.test_accuracy
                    );
                }
                outln!(
                    "pair {k}: |theta_B - theta_A| = {:.3}; B/A curvature along the line {:.3}, in filter-normalised directions {:.3}",
                    p.distance,
                    p.line_curvature_ratio,
                    p.slice_curvature_ratio
                );
            }
            outln!("wrote {}/interpolation.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::NoiseScale { common, options: o } => {
            let ctx = context(&common, "noise-scale", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!(
                "{:>7} {:>10} {:>11} {:>11} {:>18} {:>11}",
                "epoch",
                "train loss",
                "Tr(C)",
                "B_simple",
                "B_noise",
                "G'HG/|G|^2"
            );
            for p in &r.trace {
                let s = &p.scales;
                outln!(
                    "{:>7.2} {:>10.4} {:>11.4} {:>11.2} {:>9.2} ± {:<6.2} {:>11.3}",
                    p.epoch,
                    p.train_loss,
                    s.trace_c,
                    s.b_simple,
                    s.b_noise,
                    s.b_noise_se,
                    s.curvature_along_g
                );
            }
            let c = crate::stats::RankCorrelation {
                rho: r.rank_correlation_b_simple_loss,
                t: r.rank_correlation_t,
            };
            outln!("Spearman correlation of B_simple with the training loss: {c} on {} points (the claim: negative, the noise scale grows as the loss falls); geometric mean B_noise/B_simple: {:.3}", r.trace.len(), r.mean_ratio_noise_simple);
            outln!("wrote {}/noise_scale.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Svag { common, options: o } => {
            let ctx = context(&common, "svag", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!("eta = {}, S = {}, {} seeds; differences are run - SGD, paired by seed, final epoch:", o.eta, o.batch, o.seeds);
            for c in &r.comparisons {
                outln!(
                    "  {:<24} train loss {:+.4} ± {:.4}   test accuracy {:+.4} ± {:.4}   curve distance {:.4}   {}",
                    c.label,
                    c.final_train_loss_difference.value,
                    c.final_train_loss_difference.se,
                    c.final_test_accuracy_difference.value,
                    c.final_test_accuracy_difference.se,
                    c.curve_distance_train_loss,
                    if c.consistent_with_sgd { "consistent with SGD" } else { "differs from SGD" }
                );
            }
            outln!(
                "  seed-to-seed curve distance of SGD (noise floor): {:.4}",
                r.noise_floor_train_loss
            );
            outln!("verdict: {}", r.verdict);
            outln!("wrote {}/svag.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Breakdown { common, options: o } => {
            let ctx = context(&common, "breakdown", quiet)?;
            let report = on_device!(ctx, &o)?;
            let rows = &report.rows;
            outln!(
                "{:>6} {:>6} {:>8} {:>5} {:>10} {:>9} {:>10} {:>7} {:>10} {:>10}",
                "N",
                "beta",
                "eta",
                "S",
                "train loss",
                "test acc",
                "distance",
                "parted",
                "quadratic",
                "eta*lmax"
            );
            for r in rows {
                outln!(
                    "{:>6} {:>6} {:>8.4} {:>5} {:>10.4} {:>9.4} {:>10.4} {:>7} {:>10} {:>10.3}",
                    r.n,
                    r.beta,
                    r.eta,
                    r.batch,
                    r.final_train_loss,
                    r.final_test_accuracy,
                    r.distance,
                    if r.diverged.is_some() { "diverged".into() } else { r.parted.to_string() },
                    r.quadratic_ratio.map(|q| format!("{q:.3}")).unwrap_or("unstable".into()),
                    r.eta_lambda_max
                );
            }
            for (n, beta, batch) in &report.skipped {
                outln!("{n:>6} {beta:>6}  not run: S = {batch} > N");
            }
            outln!(
                "(parted: distance to the beta = 1 curve above 3x the seed-to-seed noise floor, or diverged)"
            );
            for r in rows.iter().filter(|r| r.diverged.is_some()) {
                outln!(
                    "N = {}, beta = {}: diverged: {}",
                    r.n,
                    r.beta,
                    r.diverged.as_deref().unwrap_or("")
                );
            }
            for p in report.parting() {
                let at =
                    p.beta.map_or("never (within --betas)".into(), |b| format!("at beta = {b}"));
                outln!("N = {}: the curves part {at}", p.n);
            }
            outln!("wrote {}/breakdown_net.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::BatchSize { mut common, options: mut o } => {
            if o.etas.is_empty() || o.batches.len() < 3 {
                return Err(CliError::Input("invalid --etas/--batches: valid is at least one learning rate and three batch sizes".into()));
            }
            // --n is the learning-rate settings' N; every setting takes a stratified subset of
            // the whole training set (the same subset --n alone would load), so load it whole.
            let base = common.n;
            // (A synthetic teacher set is generated at the size asked for, the largest of all.)
            common.n = if common.dataset == "teacher" {
                base.map(|b| o.ns.iter().copied().fold(b, usize::max))
            } else {
                None
            };
            let ctx = context(&common, "batch_size", quiet)?;
            let available = ctx.train.len();
            let too_big = |flag: &str, n: usize| {
                CliError::Input(format!(
                    "invalid {flag} = {n}: valid is 1..={available}, the training examples of {} (--dataset fashion-mnist has 60,000)",
                    ctx.train.name
                ))
            };
            if let Some(b) = base.filter(|&b| b > available) {
                return Err(too_big("--n", b));
            }
            if let Some(&big) = o.ns.iter().find(|&&m| m > available) {
                return Err(too_big("--ns", big));
            }
            o.n = base.unwrap_or(available);
            let r = on_device!(ctx, &o)?;
            for s in &r.settings {
                outln!(
                    "eta {:.4} N {:>5} m {:.2}: B_opt {:>7.1} ({}), eps N/(1-m) = {:.1}",
                    s.eta,
                    s.n,
                    s.momentum,
                    s.b_opt,
                    s.kind.label(),
                    s.predicted_scale
                );
            }
            for (what, fit) in [
                ("eps N/(1-m), all settings", r.scaling),
                ("eps (N, m fixed)", r.eps_scaling),
                ("N (eps fixed, m = 0)", r.n_scaling),
            ] {
                match fit {
                    Some(f) => outln!(
                        "slope of log B_opt against log {what}: {:.2} ± {:.2} (seed bootstrap {:.2}, residuals {:.2}; {} interior optima; theory: 1)",
                        f.slope, f.se, f.bootstrap_se, f.residual_se, f.settings
                    ),
                    None => outln!(
                        "slope against log {what}: fewer than 3 interior optima or 2 seeds"
                    ),
                }
            }
            outln!("wrote {}/batch_size.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Evidence { mut common, options: o } => {
            common.n = common.n.or(Some(1000));
            let mut ctx = binary_context(&common, quiet)?;
            ctx.out = common.out.clone().unwrap_or_else(|| PathBuf::from("out/net/evidence"));
            // Closed-form logistic regression in f64 on the host: no training backend is involved.
            let pts = run_experiment::<_, crate::net::CpuF64>(&o, &ctx, &Default::default())?;
            outln!(
                "Laplace evidence per example on {} (N = {}); null model log(1/2) = {:.4}",
                ctx.train.name,
                ctx.train.len(),
                0.5f64.ln()
            );
            outln!(
                "{:>9} {:>12} {:>12} {:>12} {:>11} {:>9}",
                "lambda",
                "labels",
                "log Z / N",
                "Occam / N",
                "train loss",
                "test acc"
            );
            for p in &pts {
                outln!(
                    "{:>9} {:>12} {:>12.4} {:>12.4} {:>11.4} {:>9.4}",
                    p.lambda,
                    p.labels,
                    p.log_evidence_per_example,
                    p.occam_per_example,
                    p.train_loss,
                    p.test_accuracy
                );
            }
            let e = crate::net::experiments::EvidenceSummary::of(&pts);
            outln!(
                "best log Z / N minus the null model's log 1/2 = {:.4}: informative labels {:+.4}, random labels {:+.4}",
                e.null_log_evidence_per_example,
                e.best_informative_minus_null,
                e.best_random_minus_null
            );
            outln!("wrote {}/evidence.{{csv,json,png,svg}}", ctx.out.display());
        }
        NetCommand::Bench { common, options: o } => {
            let ctx = context(&common, "bench", quiet)?;
            let r = on_device!(ctx, &o)?;
            outln!("{} params, {} examples, batch {} on {}: {} steps in {:.2} s = {:.2} steps/s, {:.2} s per epoch", r.params, r.train_examples, r.batch, r.device, r.steps, r.seconds, r.steps_per_second, r.seconds_per_epoch);
            let method = if r.hvp_step == 0.0 {
                "exact R-operator".to_string()
            } else {
                format!(
                    "central difference, step {:.0e}, {} ReLU flips left",
                    r.hvp_step, r.trace_relu_flips
                )
            };
            outln!(
                "one Hessian-vector product (f64 CPU, {} examples, {method}): {:.3} s (median of {})",
                r.hvp_examples,
                r.hvp_seconds,
                r.hvp_times.len()
            );
            let estimate = |value: f64, se: f64| {
                if se.is_finite() {
                    format!("{value:.4e} ± {se:.2e}")
                } else {
                    format!("{value:.4e}, no error bar from one probe")
                }
            };
            outln!(
                "Tr(H) with {} probes: {:.2} s in f64 on the CPU ({}); {:.2} s in the training precision on {} ({})",
                r.trace_probes,
                r.trace_seconds,
                estimate(r.trace, r.trace_se),
                r.trace_train_precision_seconds,
                r.device,
                estimate(r.trace_train_precision, r.trace_train_precision_se)
            );
            let floor = |name: &str, measured: f64, p: &crate::net::experiments::Products| {
                outln!(
                    "  {name}: {:.1} GFLOP of matrix products, alone {:.3} s = {:.0}% of its {:.3} s ({:.0} GFLOP/s alone, {:.0} overall)",
                    p.gflop,
                    p.seconds,
                    100.0 * p.seconds / measured,
                    measured,
                    p.gflop / p.seconds,
                    p.gflop / measured
                )
            };
            outln!("matrix products timed alone on the same backends (the floor under each time):");
            floor("epoch", r.seconds_per_epoch, &r.epoch_products);
            if let (Some(h), Some(t), Some(t32)) =
                (&r.hvp_products, &r.trace_products, &r.trace_train_precision_products)
            {
                floor("one HVP, f64", r.hvp_seconds, h);
                floor("Tr(H), f64", r.trace_seconds, t);
                floor("Tr(H), training precision", r.trace_train_precision_seconds, t32);
            }
        }
    }
    Ok(())
}
