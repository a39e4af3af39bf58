//! The `sgd-sde` command line. Exit codes: 0 success, 1 a check failed, 2 bad input (one line
//! naming the field, its value and the valid range; also work refused as too large), 3 a run
//! diverged, 4 an I/O failure (naming the path).

mod breakdown;
mod error;
pub(crate) mod flags;
mod law;
pub mod memory;
mod net_cmd;
mod paper_cmd;
mod progress;
mod sim;
mod svag_cmd;
mod sweep;
mod theory_cmd;
mod validate;
mod weak_order_cmd;

pub use error::{diverged, CliError};
pub use sim::SimOptions;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "sgd-sde",
    version,
    about = "Verify the SDE / Ornstein-Uhlenbeck theory of SGD against simulation"
)]
struct Cli {
    /// No progress bars.
    #[arg(long, global = true)]
    quiet: bool,
    /// Refuse runs estimated to take longer than this (the estimate errs long; see the README).
    #[arg(long, global = true, default_value_t = crate::budget::DEFAULT_MAX_HOURS, value_parser = flags::positive)]
    max_hours: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a validation suite (quick, full, net, net-full, net-mnist, or a suite file) and print a table of checks.
    Validate {
        /// quick, full, net, net-full, net-mnist, or the path of a suite file (TOML).
        #[arg(long, default_value = "quick")]
        suite: String,
        /// Also write the results as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write CSV, JSON, a manifest and a measured-vs-predicted plot into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Instead of one run, rerun every network z-check that must agree with K seeds and report
        /// how often its 95% (and 68%) intervals cover the prediction.
        #[arg(long, value_name = "K")]
        calibrate: Option<u64>,
        /// Where the network checks' SGD runs go: cpu (f64), cuda or auto (f32 on the GPU; the
        /// fits at θ* and the quadratic checks stay on the CPU in f64).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Print the exact theory for a problem file as JSON.
    Theory {
        /// The problem file (TOML; examples in sims/, fields in the README).
        #[arg(long)]
        problem: PathBuf,
        /// Steps at which to give the exact mean loss from x0 (comma separated; default: the
        /// file's simulation.transient_at).
        #[arg(long, value_delimiter = ',')]
        transient: Vec<usize>,
        /// The update rule the transient is for (default: the file's, else sgd).
        #[arg(long)]
        integrator: Option<String>,
    },
    /// Simulate a problem file and compare with its exact theory.
    Sim {
        /// The problem file (TOML; examples in sims/, fields in the README).
        #[arg(long)]
        problem: PathBuf,
        /// Independent paths, at least 2 (default: the file's simulation.paths, else 256).
        #[arg(long, value_parser = flags::paths)]
        paths: Option<usize>,
        /// Total steps (including the burn-in).
        #[arg(long, value_parser = flags::at_least_one)]
        steps: Option<usize>,
        /// Steps before the stationary average starts (default: the file's, else long enough for
        /// the slowest mode's transient to fall below 1e-9 of its start).
        #[arg(long)]
        burn_in: Option<usize>,
        /// Seed of the paths' noise streams (default: the file's, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// sgd (em), heavy_ball, heun, lm or exact_ou.
        #[arg(long)]
        integrator: Option<String>,
        /// Steps at which to report the transient mean loss (comma separated).
        #[arg(long, value_delimiter = ',')]
        transient: Vec<usize>,
        /// Also write the results as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write results, CSV, a transient plot and a manifest into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run even when eta is past the stability limit (to watch it diverge).
        #[arg(long)]
        allow_unstable: bool,
    },
    /// Draw the breakdown map (Gaussian, without-replacement and reshuffling noise).
    Breakdown {
        /// A data-set problem file (default: the embedded sims/breakdown.toml).
        #[arg(long)]
        problem: Option<PathBuf>,
        /// Scale factors (comma separated; default: S = S0 * 2^j up to N, plus two near the limit).
        #[arg(long, value_delimiter = ',', value_parser = flags::positive)]
        betas: Vec<f64>,
        /// Independent paths per point, at least 2.
        #[arg(long, default_value_t = 128, value_parser = flags::paths)]
        paths: usize,
        /// Steps of each path's time average, after the burn-in.
        #[arg(long, default_value_t = 20_000, value_parser = flags::at_least_one)]
        window: usize,
        /// Seed of the paths' noise streams.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder (CSV, JSON, figures, manifest).
        #[arg(long, default_value = "out/breakdown")]
        out: PathBuf,
    },
    /// The headline plot: measured against predicted E(l) over a grid of eta/S.
    Law {
        /// A Gaussian-noise problem file (default: the embedded sims/law.toml).
        #[arg(long)]
        problem: Option<PathBuf>,
        /// Learning rates (comma separated; default: eta lambda_max in 0.02 .. 1.8).
        #[arg(long, value_delimiter = ',', value_parser = flags::positive)]
        etas: Vec<f64>,
        /// Batch sizes (comma separated; default 1,4,16,64).
        #[arg(long, value_delimiter = ',', value_parser = flags::at_least_one)]
        batches: Vec<usize>,
        /// Independent paths per point, at least 2.
        #[arg(long, default_value_t = 128, value_parser = flags::paths)]
        paths: usize,
        /// Steps of each path's time average, after the burn-in.
        #[arg(long, default_value_t = 20_000, value_parser = flags::at_least_one)]
        window: usize,
        /// Seed of the paths' noise streams.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder (CSV, JSON, figures, manifest).
        #[arg(long, default_value = "out/law")]
        out: PathBuf,
    },
    /// Weak-order convergence of Euler-Maruyama, stochastic Heun and Leimkuhler-Matthews.
    WeakOrder {
        /// A Gaussian-noise problem file (default: the embedded sims/weak_order.toml).
        #[arg(long)]
        problem: Option<PathBuf>,
        /// The coarsest step size; each further level halves it.
        #[arg(long, default_value_t = 0.2, value_parser = flags::positive)]
        h0: f64,
        /// Step sizes h0, h0/2, ..., 3 to 30 of them (the levels share their Brownian paths).
        #[arg(long, default_value_t = 5)]
        levels: usize,
        /// The time T at which E[l(x_T)] is compared across levels.
        #[arg(long, default_value_t = 1.0, value_parser = flags::positive)]
        t_end: f64,
        /// Independent paths, at least 2.
        #[arg(long, default_value_t = 40_000, value_parser = flags::paths)]
        paths: usize,
        /// Seed of the paths' noise streams.
        #[arg(long, default_value_t = 11)]
        seed: u64,
        /// Output folder (CSV, JSON, figures, manifest).
        #[arg(long, default_value = "out/weak_order")]
        out: PathBuf,
    },
    /// SVAG (Li, Malladi & Arora 2021) on a quadratic: its exact stationary loss at each l and its
    /// convergence to the continuous law as l grows, with negative controls.
    Svag {
        /// A Gaussian or data-set problem file, momentum 0 (default: the embedded sims/svag.toml).
        #[arg(long)]
        problem: Option<PathBuf>,
        /// Amplifications l >= 1 (comma separated; default 1,2,4,8,16,32,64).
        #[arg(long = "l", value_delimiter = ',', value_parser = flags::amplification)]
        ls: Vec<f64>,
        /// Independent paths per l, at least 2.
        #[arg(long, default_value_t = 400, value_parser = flags::paths)]
        paths: usize,
        /// The averaging window in SGD steps (l = 4 runs 4 times as many SVAG steps).
        #[arg(long, default_value_t = 4_000, value_parser = flags::at_least_one)]
        window: usize,
        /// Seed of the paths' noise streams.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder (CSV, JSON, figures, manifest).
        #[arg(long, default_value = "out/svag")]
        out: PathBuf,
    },
    /// Run a grid of (eta, S, m, N, seed) points, one atomic result file each; reruns resume.
    Sweep {
        /// The grid file (TOML; e.g. sims/sweep_grid.toml).
        #[arg(long)]
        grid: PathBuf,
        /// K/N: run only the points with index % N == K (e.g. a Slurm array task).
        #[arg(long)]
        shard: Option<String>,
        /// Output folder: one result file per point, kept across reruns.
        #[arg(long, default_value = "out/sweep")]
        out: PathBuf,
    },
    /// Network experiments: the same integrators train real networks (CPU, or CUDA with --features cuda).
    Net {
        #[command(subcommand)]
        experiment: net_cmd::NetCommand,
    },
    /// Every claim of the source papers: run each claim's command, decide it by the criterion in
    /// the claims table and write report.md with the verdicts (resumable: finished claims are kept).
    Paper {
        /// Where the runs, report.md, verdicts.json and the manifest go.
        #[arg(long, default_value = "paper")]
        out: PathBuf,
        /// cpu: CPU-sized runs (minutes on 2 cores); full: the papers' sizes, for a GPU.
        #[arg(long, value_enum, default_value = "cpu")]
        scale: paper_cmd::Scale,
        /// A claims table (default: the embedded paper/claims.toml).
        #[arg(long)]
        claims: Option<PathBuf>,
        /// Run only these claims (comma separated ids); the report covers every claim run so far.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Rerun claims that finished earlier.
        #[arg(long)]
        rerun: bool,
    },
    /// Combine sweep point files (from one or more shards' folders) into results.csv/json.
    Merge {
        /// Folders of sweep point files (`sweep --out`, one per shard).
        dirs: Vec<PathBuf>,
        /// Where to write results (default: the first folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// A problem file given with `--problem`, or the command's embedded default; with the folder that
/// relative data paths are resolved against.
fn problem_or_default(
    problem: Option<&std::path::Path>,
    default_name: &str,
    default_text: &str,
) -> Result<(crate::config::ProblemFile, Option<PathBuf>), CliError> {
    use crate::config::ProblemFile;
    match problem {
        Some(p) => Ok((
            ProblemFile::load(p).map_err(|e| CliError::Input(e.to_string()))?,
            p.parent().map(std::path::Path::to_path_buf),
        )),
        None => Ok((
            ProblemFile::parse(std::path::Path::new(default_name), default_text)
                .map_err(|e| CliError::Input(e.to_string()))?,
            None,
        )),
    }
}

/// A usage error as one line: clap's first paragraph (the flag, the value and why, or the
/// missing arguments), without the usage block and the help hint. A whole-number flag without a
/// parser of its own (every one is `usize` or `u64`, 64 bits here) fails in `str::parse`, whose
/// reason ("invalid digit found in string") names no valid range; the range is added.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = first.join(" ");
    let whole_number = std::error::Error::source(e)
        .is_some_and(|s| s.downcast_ref::<std::num::ParseIntError>().is_some());
    if whole_number {
        format!("{line}; valid range is a whole number from 0 to {}", u64::MAX)
    } else {
        line
    }
}

/// A value listed twice in a comma-separated flag (`--etas 0.05,0.05`) is the same run twice: a
/// repeated row that every fit and average would count as two points. Refused for every list
/// flag but `--layers`, where a repeated width is a deeper network.
fn repeated_list_value(command: &clap::Command, matches: &clap::ArgMatches) -> Option<String> {
    if let Some((name, sub)) = matches.subcommand() {
        return repeated_list_value(command.find_subcommand(name)?, sub);
    }
    let same = |a: &str, b: &str| match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    };
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.get_value_delimiter().is_none() || id == "layers" {
            continue;
        }
        let Ok(Some(raw)) = matches.try_get_raw(id) else { continue };
        let values: Vec<String> = raw.map(|v| v.to_string_lossy().into_owned()).collect();
        if let Some((w, v)) = crate::error::first_repeat(&values, |a, b| same(a, b)) {
            let repeat =
                if w == v { format!("{v} is listed twice") } else { format!("{v} repeats {w}") };
            return Some(format!(
                "invalid --{} = {}: {repeat}; valid is each value once (a repeated value is the \
                 same run again, not another point or replicate)",
                arg.get_long().unwrap_or(id),
                values.join(",")
            ));
        }
    }
    None
}

pub fn main() -> i32 {
    // A negative number after a flag is its value (so `--paths -3` is refused as a value of
    // --paths, naming the flag), not an unknown flag.
    fn negatives_are_values(c: clap::Command) -> clap::Command {
        c.allow_negative_numbers(true).mut_subcommands(negatives_are_values)
    }
    let mut command = negatives_are_values(<Cli as clap::CommandFactory>::command());
    let matches = command.try_get_matches_from_mut(std::env::args_os());
    if let Some(line) = matches.as_ref().ok().and_then(|m| repeated_list_value(&command, m)) {
        eprintln!("error: {line}");
        return 2;
    }
    let matches = matches.and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match matches {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print(); // --help, --version
                return 0;
            }
            eprintln!("{}", usage_error_line(&e));
            return 2;
        }
    };
    crate::budget::set_max_hours(cli.max_hours);
    let result = match cli.command {
        Command::Validate { out: Some(_), calibrate: Some(_), .. } => Err(CliError::Input(
            "invalid --out with --calibrate: valid is --json FILE for the calibration table".into(),
        )),
        Command::Validate { suite, json, calibrate: Some(k), device, .. } => {
            validate::calibrate(&suite, k, json.as_deref(), &device, cli.quiet)
        }
        Command::Validate { suite, json, out, calibrate: None, device } => {
            validate::run(&suite, json.as_deref(), out.as_deref(), &device, cli.quiet)
        }
        Command::Theory { problem, transient, integrator } => {
            theory_cmd::run(&problem, &transient, integrator.as_deref())
        }
        Command::Sim {
            problem,
            paths,
            steps,
            burn_in,
            seed,
            integrator,
            transient,
            json,
            out,
            allow_unstable,
        } => sim::run(&SimOptions {
            problem,
            paths,
            steps,
            burn_in,
            seed,
            integrator,
            transient,
            json,
            out,
            allow_unstable,
            quiet: cli.quiet,
        }),
        Command::Breakdown { problem, betas, paths, window, seed, out } => {
            breakdown::run(&breakdown::BreakdownOptions {
                problem,
                betas,
                paths,
                window,
                seed,
                out,
                quiet: cli.quiet,
            })
        }
        Command::Law { problem, etas, batches, paths, window, seed, out } => {
            law::run(&law::LawOptions {
                problem,
                etas,
                batches,
                paths,
                window,
                seed,
                out,
                quiet: cli.quiet,
            })
        }
        Command::WeakOrder { problem, h0, levels, t_end, paths, seed, out } => {
            weak_order_cmd::run(&weak_order_cmd::WeakOrderOptions {
                problem,
                h0,
                levels,
                t_end,
                paths,
                seed,
                out,
                quiet: cli.quiet,
            })
        }
        Command::Paper { out, scale, claims, only, rerun } => {
            paper_cmd::run(&paper_cmd::PaperOptions {
                claims,
                out,
                scale,
                only,
                rerun,
                quiet: cli.quiet,
            })
        }
        Command::Svag { problem, ls, paths, window, seed, out } => {
            svag_cmd::run(&svag_cmd::SvagOptions {
                problem,
                ls,
                paths,
                window,
                seed,
                out,
                quiet: cli.quiet,
            })
        }
        Command::Sweep { grid, shard, out } => {
            sweep::run_sweep(&grid, shard.as_deref(), &out, cli.quiet)
        }
        Command::Merge { dirs, out } => sweep::run_merge(&dirs, out.as_deref()),
        Command::Net { experiment } => net_cmd::run(experiment, cli.quiet),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own consistency checks, and every subcommand (at every depth) described by a line
    /// of its own: a doc comment that lands on the wrong variant shows as a duplicate or as
    /// another item's text (as `net noise-scale` once showed `Common`'s).
    #[test]
    fn every_subcommand_has_its_own_description() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        fn walk(cmd: &clap::Command, path: &str, seen: &mut Vec<(String, String)>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                assert!(!about.trim().is_empty(), "`{name}` has no description");
                assert!(!about.starts_with("Options shared"), "`{name}` shows {about:?}");
                if let Some((other, _)) = seen.iter().find(|(_, a)| *a == about) {
                    panic!("`{name}` and `{other}` share the description {about:?}");
                }
                seen.push((name.clone(), about));
                walk(sub, &name, seen);
            }
        }
        walk(&cli, "sgd-sde", &mut Vec::new());
    }

    /// Every flag and argument of every command says what it is in `--help` (a bare
    /// `--paths <PATHS>` leaves a newcomer to guess its meaning and its valid range).
    #[test]
    fn every_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none_or(|h| h.to_string().trim().is_empty()) {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "sgd-sde", &mut missing);
        assert!(missing.is_empty(), "flags without help: {missing:?}");
    }
}
