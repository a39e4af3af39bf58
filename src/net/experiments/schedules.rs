//! Schedules (ICANN 2018 Fig. 1 left; Smith, Kindermans & Le 2017): if training depends on eta and
//! S only through eta/S, a learning-rate schedule and the batch-size schedule with the same eta/S
//! at every epoch train alike, and so do constant pairs with the same eta/S.
//!
//! With `k = factor`, three comparisons, each with a negative control that has a different eta/S:
//! * cyclic: eta cycling `eta <-> eta/k` at S against S cycling `S <-> k S` at eta (square waves
//!   of `half_period` epochs); control: S cycling in the opposite phase.
//! * constant: `eta/k` at S against eta at `k S`; control: eta at S.
//! * step: eta divided by k at each milestone against S multiplied by k; control: eta at S.
//!
//! Every arm trains from the same initialisation with `seeds` SGD streams of its own (no two arms
//! share a stream). Per epoch `e`, `d_e` is the difference of the two arms' mean training losses
//! over seeds and `se_e` its standard error; the distance is `sqrt(mean_e d_e^2)` and the noise
//! floor `sqrt(mean_e se_e^2)`, so `ratio = distance / floor` is about 1 when the arms train
//! alike, and grows like `sqrt(seeds)` when they do not. The claim needs ratio < 3, which a pair
//! that trains alike exceeds with probability below 1% (the worst case, epochs fully correlated:
//! `|t| > 3` with `2 seeds - 2` degrees of freedom, 0.95% at 8 seeds); a control must exceed it.
//! Arms step through the same number of examples; the number of parameter updates each took is
//! reported.

use super::context::NetContext;
use super::curve::mean_curve;
use super::error::ExperimentError;
use crate::error::{ensure, ProblemError};
use crate::net::train::{EpochRecord, EvalSet, LearningCurve, TrainSpec};
use crate::net::{Architecture, Model, NetworkProblem, NoiseMode};
use crate::output::plot;
use crate::problems::Sampling;
use crate::schedule::{Schedule, StepPlan};
use crate::stats::Estimate;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct SchedulesOptions {
    /// Layer widths from input to output (comma separated).
    #[arg(long, default_value = "784,64,10", value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// The larger learning rate (the smaller is eta / factor).
    #[arg(long, default_value_t = 0.1, value_parser = crate::cli::flags::positive)]
    pub eta: f64,
    /// The smaller batch size (the larger is batch x factor).
    #[arg(long, default_value_t = 16, value_parser = crate::cli::flags::at_least_one)]
    pub batch: usize,
    /// The ratio k between the two learning rates and the two batch sizes.
    #[arg(long, default_value_t = 5, value_parser = crate::cli::flags::factor)]
    pub factor: usize,
    /// Epochs at each value of the cyclic schedules.
    #[arg(long, default_value_t = 2.0, value_parser = crate::cli::flags::positive)]
    pub half_period: f64,
    /// Epochs at which the step schedules divide eta (multiply S) by the factor.
    #[arg(long, value_delimiter = ',', default_value = "5,10", value_parser = crate::cli::flags::positive)]
    pub milestones: Vec<f64>,
    /// Training epochs of each run.
    #[arg(long, default_value_t = 20.0, value_parser = crate::cli::flags::positive)]
    pub epochs: f64,
    /// SGD streams per arm (at least 2: the noise floor is a standard error over seeds).
    #[arg(long, default_value_t = 16, value_parser = crate::cli::flags::paths)]
    pub seeds: usize,
}

/// One arm: a learning-rate and a batch-size schedule, trained with several seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Arm {
    pub label: String,
    pub eta: Schedule,
    pub batch: Schedule,
    /// Parameter updates in the run.
    pub updates: usize,
    pub seeds: Vec<u64>,
    pub curves: Vec<Vec<EpochRecord>>,
}

/// Two arms compared, against the seed-to-seed noise floor.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub name: String,
    /// A negative control: the arms have different eta/S, so the check must reject them.
    pub control: bool,
    /// Compared over the epochs after this one.
    pub from_epoch: f64,
    pub a: String,
    pub b: String,
    pub distance_train_loss: f64,
    pub noise_floor_train_loss: f64,
    /// `distance / noise floor`: about 1 when the arms train alike; the claim needs < 3.
    /// (Distance: RMS over epochs of the difference of mean curves; floor: RMS of its s.e.)
    pub ratio: f64,
    pub distance_test_accuracy: f64,
    pub noise_floor_test_accuracy: f64,
    pub updates_a: usize,
    pub updates_b: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchedulesReport {
    pub arms: Vec<Arm>,
    pub comparisons: Vec<Comparison>,
}

impl SchedulesOptions {
    /// Refuses schedules that would not change within the run: a milestone at or after the end,
    /// or a half period as long as the run, leaves the compared arms the same process, and their
    /// comparison could not fail.
    fn check_horizon(&self) -> Result<(), ProblemError> {
        let within = |flag: &str, v: f64| {
            ensure(v < self.epochs, || {
                ProblemError::new(
                    flag,
                    v,
                    format!(
                        "0 < {flag} < --epochs = {} (the schedule must change within the run)",
                        self.epochs
                    ),
                )
            })
        };
        for &m in &self.milestones {
            within("--milestones", m)?;
        }
        within("--half-period", self.half_period)
    }

    /// The arms, as (label, eta schedule, batch schedule).
    fn arms(&self) -> Vec<(&'static str, Schedule, Schedule)> {
        let (eta, s, k, half) = (self.eta, self.batch as f64, self.factor as f64, self.half_period);
        let constant = |value| Schedule::Constant { value };
        vec![
            ("cyclic eta", Schedule::Cyclic { a: eta, b: eta / k, half }, constant(s)),
            ("cyclic S", constant(eta), Schedule::Cyclic { a: s, b: k * s, half }),
            ("cyclic S, opposite phase", constant(eta), Schedule::Cyclic { a: k * s, b: s, half }),
            ("constant eta/k at S", constant(eta / k), constant(s)),
            ("constant eta at kS", constant(eta), constant(k * s)),
            ("constant eta at S", constant(eta), constant(s)),
            (
                "eta / k at milestones",
                Schedule::Step { value: eta, factor: 1.0 / k, milestones: self.milestones.clone() },
                constant(s),
            ),
            (
                "S x k at milestones",
                constant(eta),
                Schedule::Step { value: s, factor: k, milestones: self.milestones.clone() },
            ),
        ]
    }
}

/// The comparisons: (name, arm A, arm B, control, from the first milestone on). The step
/// schedules are compared from their first milestone, before which their arms are the same run.
const COMPARISONS: [(&str, usize, usize, bool, bool); 6] = [
    ("cyclic", 0, 1, false, false),
    ("cyclic control", 0, 2, true, false),
    ("constant", 3, 4, false, false),
    ("constant control", 3, 5, true, false),
    ("step", 6, 7, false, true),
    ("step control", 6, 5, true, true),
];

/// Compares arms `a` and `b` over the records after epoch `from` (and after the first record,
/// where all arms start from the same point).
fn compare(name: &str, control: bool, a: &Arm, b: &Arm, from: f64) -> Comparison {
    // Per epoch: the difference of the two arms' means over seeds and its standard error.
    let per_epoch = |f: fn(&EpochRecord) -> f64| {
        let len = a.curves.iter().chain(&b.curves).map(Vec::len).min().unwrap_or(0);
        let (mut d2, mut se2, mut epochs) = (0.0, 0.0, 0usize);
        for e in (1..len).filter(|&e| a.curves[0][e].epoch > from) {
            epochs += 1;
            let at = |arm: &Arm| {
                Estimate::from_replicas(&arm.curves.iter().map(|c| f(&c[e])).collect::<Vec<_>>())
            };
            let (x, y) = (at(a), at(b));
            d2 += (x.value - y.value).powi(2);
            se2 += x.se.powi(2) + y.se.powi(2);
        }
        let epochs = epochs.max(1) as f64;
        ((d2 / epochs).sqrt(), (se2 / epochs).sqrt())
    };
    let (d, floor) = per_epoch(|r| r.train_loss);
    let (d_acc, floor_acc) = per_epoch(|r| r.test_accuracy);
    Comparison {
        name: name.into(),
        control,
        from_epoch: from,
        a: a.label.clone(),
        b: b.label.clone(),
        distance_train_loss: d,
        noise_floor_train_loss: floor,
        ratio: d / floor,
        distance_test_accuracy: d_acc,
        noise_floor_test_accuracy: floor_acc,
        updates_a: a.updates,
        updates_b: b.updates,
    }
}

impl super::Experiment for SchedulesOptions {
    const NAME: &'static str = "schedules";
    type Report = SchedulesReport;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        if o.seeds < 2 {
            return Err(ExperimentError::Invalid(format!(
                "invalid --seeds = {}: valid range is >= 2 (the noise floor is a standard error over seeds)",
                o.seeds
            )));
        }
        o.check_horizon()?;
        let model = Model::new(Architecture::new(o.layers.clone())?);
        let n = ctx.train.len();
        let test = EvalSet::new(&model, &ctx.test, &ctx.train, device);
        let mut arms = Vec::new();
        for (a, (label, eta, batch)) in o.arms().into_iter().enumerate() {
            let plan = StepPlan::new(&eta, &batch, n, o.epochs, ("--eta", "--batch x --factor"))?;
            let problem = NetworkProblem::<B>::new(
                model.clone(),
                &ctx.train,
                plan.batch[0],
                NoiseMode::Minibatch(Sampling::WithoutReplacement),
                0.0,
                device,
            )?
            .with_batch_sizes(&plan.batch)?;
            let mut arm = Arm {
                label: label.into(),
                eta,
                batch,
                updates: plan.steps(),
                seeds: Vec::new(),
                curves: Vec::new(),
            };
            for i in 0..o.seeds {
                let seed = ctx.seed + 1 + (a * o.seeds + i) as u64;
                let spec = TrainSpec::sgd(o.eta, 0.0, o.epochs, seed);
                let mut curve = LearningCurve {
                    model: model.clone(),
                    test: test.clone(),
                    marks: plan.epoch_marks.clone(),
                    records: Vec::new(),
                };
                let mut theta = model.init::<B>(ctx.seed, device);
                let message = format!("{label}, seed {}/{}", i + 1, o.seeds);
                crate::net::train::shown(&mut curve, &ctx.bar, plan.steps(), message, |obs| {
                    crate::net::train::run_scheduled(&problem, &mut theta, &spec, &plan.h, obs)
                })
                .map_err(|e| ExperimentError::from(e).at(label.to_string()))?;
                arm.seeds.push(seed);
                arm.curves.push(curve.records);
            }
            if !ctx.quiet {
                let last =
                    mean_curve(&arm.curves, |r| r.train_loss).last().map_or(f64::NAN, |p| p.1);
                ctx.bar.suspend(|| {
                    eprintln!("{label:<26} {:>6} updates, final train loss {last:.4}", arm.updates)
                });
            }
            arms.push(arm);
        }
        let first_milestone = o.milestones.iter().copied().fold(o.epochs, f64::min);
        let comparisons = COMPARISONS
            .iter()
            .map(|&(name, a, b, control, late)| {
                let from = if late { first_milestone } else { 0.0 };
                compare(name, control, &arms[a], &arms[b], from)
            })
            .collect();
        Ok(SchedulesReport { arms, comparisons })
    }

    fn write(&self, r: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let curves = r.arms.iter().flat_map(|arm| {
            arm.seeds.iter().zip(&arm.curves).map(|(seed, curve)| {
                let keys =
                    vec![arm.label.clone(), arm.eta.label(), arm.batch.label(), seed.to_string()];
                (keys, curve.as_slice())
            })
        });
        super::curve::write_curves(ctx, "schedules.csv", &["arm", "eta", "S", "seed"], curves)?;
        ctx.outputs().json("schedules.json", r)?;
        let panels: Vec<plot::Figure> = [(0, 1, 2), (3, 4, 5), (6, 7, 5)]
            .iter()
            .zip(["cyclic schedules", "constant", "step schedules"])
            .map(|(&(a, b, c), title)| plot::Figure {
                title: format!("{title}: train loss (mean of {} seeds)", self.seeds),
                x_label: "epoch".into(),
                y_label: "train loss".into(),
                log_y: true,
                series: [a, b, c]
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| {
                        let arm = &r.arms[k];
                        let label = format!(
                            "{}: eta {}, S {}",
                            arm.label,
                            arm.eta.label(),
                            arm.batch.label()
                        );
                        let points = mean_curve(&arm.curves, |e| e.train_loss);
                        if i == 2 {
                            plot::Series::dashed(format!("{label} (control)"), points, i)
                        } else {
                            plot::Series::line(label, points, i)
                        }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        ctx.outputs().figure("schedules", &panels)?;
        Ok(())
    }

    fn batch_sizes(&self) -> Vec<(&'static str, usize)> {
        vec![
            ("--batch", self.batch),
            ("--batch x --factor", self.factor.saturating_mul(self.batch)),
        ]
    }

    fn work(&self, n: usize) -> (f64, usize) {
        // Every arm sees `epochs N` examples per seed, whatever its batch sizes.
        let arms = self.arms().len() as f64;
        (arms * self.seeds as f64 * self.epochs * n as f64, super::params_of(&self.layers))
    }
}
