//! Hyper-parameter schedules: a learning rate or a batch size as a function of the epoch
//! `e = (examples seen) / N`, and the per-step plan a run follows.
//!
//! * `constant`: `v`.
//! * `step` (Smith, Kindermans & Le 2017, "Don't decay the learning rate, increase the batch
//!   size"): `v k^(number of milestones <= e)`.
//! * `cyclic` (ICANN 2018 Fig. 1, left): a square wave, `a` for `half` epochs, then `b` for
//!   `half` epochs, and so on.
//! * `triangular` (Smith 2017's cyclical policy): linear from `a` to `b` over `half` epochs and
//!   back, period `2 half`.
//!
//! Invariant of a [`StepPlan`]: step `k` (1-based) uses `eta(e_k)` and `S(e_k)` with `e_k` the
//! epoch when the step starts, `e_1 = 0`, `e_{k+1} = e_k + S_k / N`, and the run stops after the
//! first step that reaches `epochs`; so a run with constant `eta` and `S` takes
//! `ceil(epochs N / S)` steps, and any two schedules see the same number of examples (to within
//! one batch), whatever their batch sizes.

use crate::error::ProblemError;
use serde::Serialize;

/// A hyper-parameter as a function of the epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Constant { value: f64 },
    Step { value: f64, factor: f64, milestones: Vec<f64> },
    Cyclic { a: f64, b: f64, half: f64 },
    Triangular { a: f64, b: f64, half: f64 },
}

/// The syntax [`Schedule::parse`] reads, for error messages.
pub const SYNTAX: &str = "V, step:V:K:E1;E2;..., cyclic:A:B:HALF or triangular:A:B:HALF \
     (values > 0, factor K > 0, milestones and half-periods in epochs > 0)";

impl Schedule {
    /// The value at epoch `e >= 0`.
    pub fn at(&self, e: f64) -> f64 {
        match self {
            Self::Constant { value } => *value,
            Self::Step { value, factor, milestones } => {
                value * factor.powi(milestones.iter().filter(|&&m| m <= e).count() as i32)
            }
            Self::Cyclic { a, b, half } => {
                if ((e / half).floor() as u64).is_multiple_of(2) {
                    *a
                } else {
                    *b
                }
            }
            Self::Triangular { a, b, half } => {
                let phase = (e / (2.0 * half)).fract() * 2.0; // 0..2
                let t = if phase <= 1.0 { phase } else { 2.0 - phase };
                a + (b - a) * t
            }
        }
    }

    /// The smallest and largest values the schedule takes.
    pub fn range(&self) -> (f64, f64) {
        let (lo, hi) = match self {
            Self::Constant { value } => (*value, *value),
            Self::Step { value, factor, milestones } => {
                let last = value * factor.powi(milestones.len() as i32);
                (value.min(last), value.max(last))
            }
            Self::Cyclic { a, b, .. } | Self::Triangular { a, b, .. } => (a.min(*b), a.max(*b)),
        };
        (lo, hi)
    }

    /// Reads `V`, `step:V:K:E1;E2;...`, `cyclic:A:B:HALF` or `triangular:A:B:HALF`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("valid is {SYNTAX}");
        let positive = |s: &str| match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            _ => Err(bad()),
        };
        let f: Vec<&str> = text.split(':').collect();
        let s = match (f[0].trim(), f.len()) {
            (_, 1) => Self::Constant { value: positive(f[0])? },
            ("step", 4) => {
                let mut milestones =
                    f[3].split(';').map(positive).collect::<Result<Vec<f64>, _>>()?;
                milestones.sort_by(f64::total_cmp);
                Self::Step { value: positive(f[1])?, factor: positive(f[2])?, milestones }
            }
            ("cyclic", 4) => {
                Self::Cyclic { a: positive(f[1])?, b: positive(f[2])?, half: positive(f[3])? }
            }
            ("triangular", 4) => {
                Self::Triangular { a: positive(f[1])?, b: positive(f[2])?, half: positive(f[3])? }
            }
            _ => return Err(bad()),
        };
        let (lo, hi) = s.range();
        if lo.is_finite() && hi.is_finite() && lo > 0.0 {
            Ok(s)
        } else {
            Err(format!("the schedule's values must stay finite and > 0 ({SYNTAX})"))
        }
    }

    /// The schedule as [`parse`](Self::parse) reads it.
    pub fn label(&self) -> String {
        match self {
            Self::Constant { value } => format!("{value}"),
            Self::Step { value, factor, milestones } => {
                let m: Vec<String> = milestones.iter().map(f64::to_string).collect();
                format!("step:{value}:{factor}:{}", m.join(";"))
            }
            Self::Cyclic { a, b, half } => format!("cyclic:{a}:{b}:{half}"),
            Self::Triangular { a, b, half } => format!("triangular:{a}:{b}:{half}"),
        }
    }
}

/// The steps of a run whose learning rate and batch size follow schedules: the step size and
/// batch size of each step, and the steps at which an epoch is completed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepPlan {
    /// `h[k - 1]`: the step size of step `k`.
    pub h: Vec<f64>,
    /// `batch[k - 1]`: the batch size of step `k`.
    pub batch: Vec<usize>,
    /// `(k, e)`: step 0 at epoch 0, then each step that completes an epoch (and the last step),
    /// with the epoch reached after it.
    pub epoch_marks: Vec<(usize, f64)>,
}

impl StepPlan {
    /// The plan for `epochs` epochs of `n` examples. The batch schedule's values are rounded to
    /// whole examples and must lie in `1..=n`; the learning rate's must be > 0. `eta_flag` and
    /// `batch_flag` name the schedules in errors.
    pub fn new(
        eta: &Schedule,
        batch: &Schedule,
        n: usize,
        epochs: f64,
        (eta_flag, batch_flag): (&str, &str),
    ) -> Result<Self, ProblemError> {
        let (lo, hi) = batch.range();
        if !(lo.round() >= 1.0 && hi.round() <= n as f64) {
            return Err(ProblemError::new(
                batch_flag,
                batch.label(),
                format!("batch sizes from 1 to N = {n}"),
            ));
        }
        if !(eta.range().0 > 0.0 && eta.range().1.is_finite()) {
            return Err(ProblemError::new(eta_flag, eta.label(), "learning rates > 0"));
        }
        if !(epochs.is_finite() && epochs > 0.0) {
            return Err(ProblemError::new("epochs", epochs, "a finite number > 0"));
        }
        let total = (epochs * n as f64).ceil() as u64;
        let mut plan = Self { h: Vec::new(), batch: Vec::new(), epoch_marks: vec![(0, 0.0)] };
        let mut seen = 0u64;
        while seen < total {
            let e = seen as f64 / n as f64;
            let s = batch.at(e).round() as usize;
            plan.h.push(eta.at(e));
            plan.batch.push(s);
            let before = seen / n as u64;
            seen += s as u64;
            if seen / n as u64 > before || seen >= total {
                plan.epoch_marks.push((plan.h.len(), seen as f64 / n as f64));
            }
        }
        Ok(plan)
    }

    /// The number of parameter updates.
    pub fn steps(&self) -> usize {
        self.h.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_take_their_values() {
        let s = Schedule::parse("step:0.1:0.2:15;10").unwrap();
        assert_eq!(s.at(0.0), 0.1);
        assert!((s.at(10.0) - 0.02).abs() < 1e-15 && (s.at(16.0) - 0.004).abs() < 1e-15);
        let c = Schedule::parse("cyclic:16:80:2").unwrap();
        assert_eq!((c.at(1.9), c.at(2.0), c.at(3.9), c.at(4.0)), (16.0, 80.0, 80.0, 16.0));
        let t = Schedule::parse("triangular:1:3:2").unwrap();
        assert!((t.at(1.0) - 2.0).abs() < 1e-12 && (t.at(2.0) - 3.0).abs() < 1e-12);
        assert!((t.at(3.0) - 2.0).abs() < 1e-12 && (t.at(4.0) - 1.0).abs() < 1e-12);
        for bad in ["", "0", "-1", "nan", "step:1:2", "cyclic:1:0:2", "spiral:1:2:3", "step:1:2:"] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Schedule::parse(&s.label()).unwrap(), s);
    }

    #[test]
    fn a_plan_sees_the_same_examples_whatever_the_batch() {
        let eta = Schedule::Constant { value: 0.1 };
        let a =
            StepPlan::new(&eta, &Schedule::Constant { value: 16.0 }, 100, 3.0, ("e", "s")).unwrap();
        assert_eq!(a.steps(), 19); // ceil(300 / 16)
        assert_eq!(a.epoch_marks.len(), 4);
        let c = Schedule::parse("cyclic:10:50:1").unwrap();
        let b = StepPlan::new(&eta, &c, 100, 4.0, ("e", "s")).unwrap();
        assert_eq!(b.batch, [vec![10; 10], vec![50; 2], vec![10; 10], vec![50; 2]].concat());
        let marks: Vec<usize> = b.epoch_marks.iter().map(|m| m.0).collect();
        assert_eq!(marks, [0, 10, 12, 22, 24]);
        let e = StepPlan::new(&eta, &Schedule::Constant { value: 101.0 }, 100, 1.0, ("e", "-S"));
        assert_eq!(e.unwrap_err().parameter, "-S");
    }
}
