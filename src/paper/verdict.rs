//! Deciding a claim from its command's result: each condition holds, fails or is undecided, and
//! the verdict follows from the checks and the negative controls.
//!
//! Supported: every check holds and every control fails. Not supported: a check fails.
//! Inconclusive: otherwise (a check is undecided within its error bar, or a control that must be
//! rejected is not), with what would decide it.

use super::claims::{Claim, Condition, Number, Op};
use serde::Serialize;
use serde_json::Value;

/// One condition's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Holds,
    Fails,
    Undecided,
}

/// A condition with its numbers filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluated {
    pub what: String,
    /// The comparison with the measured numbers, e.g. `0.029 < 3 x 0.013 = 0.040`.
    pub shown: String,
    pub outcome: Outcome,
    /// For an undecided condition: the standard error that would decide it.
    pub decide: Option<String>,
    /// The right-hand side and the combined standard error (None for a table).
    #[serde(skip)]
    pub bound_and_se: Option<(f64, f64)>,
}

/// A claim's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Supported,
    NotSupported,
    Inconclusive,
    /// No command tests it yet.
    NotTested,
    /// The command did not produce a result (it failed, or the result lacks a field).
    Error,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotTested => "not tested",
            Verdict::Error => "error",
        }
    }
}

/// A claim decided: its verdict, why, and each condition.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub reason: String,
    pub checks: Vec<Evaluated>,
    pub controls: Vec<Evaluated>,
}

impl Decision {
    pub fn error(reason: String) -> Self {
        Self { verdict: Verdict::Error, reason, checks: vec![], controls: vec![] }
    }
}

/// Resolves a pointer with `key=value` selections (see [`Number`]).
pub fn lookup<'a>(result: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(result);
    }
    let mut at = result;
    for raw in pointer.strip_prefix('/')?.split('/') {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        at = match (at, seg.split_once('=')) {
            (Value::Array(items), Some((key, want))) => {
                items.iter().find(|item| match item.get(key) {
                    Some(Value::String(s)) => s == want,
                    Some(Value::Number(n)) => want.parse::<f64>().ok() == n.as_f64(),
                    Some(Value::Bool(b)) => want.parse::<bool>().ok() == Some(*b),
                    _ => false,
                })?
            }
            (Value::Array(items), None) => items.get(seg.parse::<usize>().ok()?)?,
            (Value::Object(map), _) => map.get(&seg)?,
            _ => return None,
        };
    }
    Some(at)
}

fn number(result: &Value, pointer: &str) -> Result<f64, String> {
    let v = lookup(result, pointer).ok_or_else(|| format!("the result has no {pointer}"))?;
    v.as_f64().ok_or_else(|| format!("the result's {pointer} = {v} is not a number"))
}

fn g(x: f64) -> String {
    if x.abs() == f64::MAX {
        // The JSON stand-in for an infinite statistic (e.g. Spearman's t at |rho| = 1).
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x != 0.0 && (x.abs() >= 1e4 || x.abs() < 1e-3) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// Evaluates one condition against a result.
pub fn evaluate(c: &Condition, result: &Value) -> Result<Evaluated, String> {
    let mut e = Evaluated {
        what: c.what.clone(),
        shown: String::new(),
        outcome: Outcome::Fails,
        decide: None,
        bound_and_se: None,
    };
    if c.op == Op::AllPass {
        let rows = lookup(result, &c.value).and_then(Value::as_array);
        let rows = rows.ok_or_else(|| format!("the result has no table at {:?}", c.value))?;
        fn id(r: &Value) -> &str {
            r.get("id").and_then(Value::as_str).unwrap_or("")
        }
        // An id that selects no row is a typo in the table, not a verdict: as a control it
        // would "fail" and so count as rejected, a control that cannot fail.
        if let Some(p) = c.ids.iter().find(|p| !rows.iter().any(|r| id(r).starts_with(p.as_str())))
        {
            return Err(format!("{}: ids entry {p:?} selects no row of the table", c.what));
        }
        if rows.is_empty() {
            return Err(format!("{}: the table at {:?} has no rows", c.what, c.value));
        }
        let selected: Vec<&Value> = rows
            .iter()
            .filter(|r| c.ids.is_empty() || c.ids.iter().any(|p| id(r).starts_with(p.as_str())))
            .collect();
        let failed: Vec<&str> = selected
            .iter()
            .filter(|r| r.get("pass").and_then(Value::as_bool) != Some(true))
            .map(|r| r.get("id").and_then(Value::as_str).unwrap_or("?"))
            .collect();
        e.shown = format!("{} of {} checks pass", selected.len() - failed.len(), selected.len());
        if !failed.is_empty() {
            e.shown += &format!(" (failing: {})", failed.join(", "));
        }
        e.outcome = if failed.is_empty() { Outcome::Holds } else { Outcome::Fails };
        return Ok(e);
    }
    // A quantity the result holds as null is one the run did not reach (e.g. the beta at which
    // curves part, when they never part within the betas run): the condition is undecided, not
    // an error; a run that reaches it decides it.
    let mut pointers = [Some(c.value.as_str()), c.error.as_deref(), c.bound_error.as_deref()]
        .into_iter()
        .chain([match c.bound.as_ref() {
            Some(Number::Pointer(p)) => Some(p.as_str()),
            _ => None,
        }])
        .flatten();
    if let Some(p) = pointers.find(|p| lookup(result, p).is_some_and(Value::is_null)) {
        e.shown = format!("{p} = null (not reached in this run)");
        e.outcome = Outcome::Undecided;
        e.decide = Some(format!("decided by a run that reaches {p}"));
        return Ok(e);
    }
    let value = number(result, &c.value)?;
    let bound = match c.bound.as_ref().expect("checked at load") {
        Number::Literal(x) => *x,
        Number::Pointer(p) => number(result, p)?,
    };
    let se_v = c.error.as_deref().map(|p| number(result, p)).transpose()?.unwrap_or(0.0);
    let se_b = c.bound_error.as_deref().map(|p| number(result, p)).transpose()?.unwrap_or(0.0);
    let b = c.times * bound;
    let se = (se_v * se_v + (c.times * se_b).powi(2)).sqrt();
    if !(value.is_finite() && b.is_finite() && se.is_finite()) {
        return Err(format!("{}: a non-finite number ({value}, {b}, {se})", c.what));
    }
    let pm = |x: f64, s: f64| if s > 0.0 { format!("{} ± {}", g(x), g(s)) } else { g(x) };
    let rhs = if c.times == 1.0 {
        pm(bound, c.times * se_b)
    } else {
        format!("{} x {} = {}", g(c.times), pm(bound, se_b), g(b))
    };
    e.bound_and_se = Some((b, se));
    let band = c.sigmas * se;
    let (sym, gap) = match c.op {
        Op::Below => ("<", b - value),
        Op::Above => (">", value - b),
        _ => ("≈", 0.0),
    };
    e.shown = format!("{} {sym} {rhs}", pm(value, se_v));
    e.outcome = match c.op {
        Op::Equal => {
            let z = (value - b) / se;
            e.shown += &format!(" (z = {z:.2}, |z| < {})", c.sigmas);
            if z.abs() < c.sigmas {
                Outcome::Holds
            } else {
                Outcome::Fails
            }
        }
        _ if gap > band => Outcome::Holds,
        // Without an error band a strict comparison that does not hold fails.
        _ if gap < -band || band == 0.0 => Outcome::Fails,
        _ => Outcome::Undecided,
    };
    if c.sigmas > 0.0 && c.op != Op::Equal {
        e.shown += &format!(" (by {} s.e.)", c.sigmas);
    }
    if e.outcome == Outcome::Undecided {
        e.decide = Some(format!(
            "decided once the standard error falls below {} (now {})",
            g(gap.abs() / c.sigmas),
            g(se)
        ));
    }
    Ok(e)
}

/// Decides a claim from its result.
pub fn decide(claim: &Claim, result: &Value) -> Decision {
    let eval =
        |cs: &[Condition]| cs.iter().map(|c| evaluate(c, result)).collect::<Result<Vec<_>, _>>();
    let (checks, controls) = match (eval(&claim.checks), eval(&claim.controls)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return Decision::error(e),
    };
    let failed: Vec<&Evaluated> = checks.iter().filter(|e| e.outcome == Outcome::Fails).collect();
    let undecided: Vec<&Evaluated> =
        checks.iter().filter(|e| e.outcome == Outcome::Undecided).collect();
    let not_rejected: Vec<&Evaluated> =
        controls.iter().filter(|e| e.outcome != Outcome::Fails).collect();
    let names = |v: &[&Evaluated]| v.iter().map(|e| e.what.as_str()).collect::<Vec<_>>().join("; ");
    let (verdict, reason) = if !failed.is_empty() {
        (Verdict::NotSupported, format!("fails: {}", names(&failed)))
    } else if !undecided.is_empty() {
        let how: Vec<String> = undecided.iter().filter_map(|e| e.decide.clone()).collect();
        (Verdict::Inconclusive, format!("undecided: {} ({})", names(&undecided), how.join("; ")))
    } else if !not_rejected.is_empty() {
        // A control at distance d from a check's value is rejected (when the check's value is
        // true) once sigmas x s.e. < d: say which standard error that takes.
        let how: Vec<String> = not_rejected
            .iter()
            .filter_map(|e| {
                let (b, se) = e.bound_and_se?;
                let (cb, _) = checks.iter().find_map(|c| c.bound_and_se)?;
                let sig = claim.controls.iter().find(|k| k.what == e.what)?.sigmas;
                (sig > 0.0 && (cb - b).abs() > 0.0).then(|| {
                    format!(
                        "{} would be rejected, were the check's value exact, once the standard error falls below {} (now {})",
                        e.what,
                        g((cb - b).abs() / sig),
                        g(se)
                    )
                })
            })
            .collect();
        let mut reason =
            format!("the test does not reject its negative control: {}", names(&not_rejected));
        if !how.is_empty() {
            reason += &format!(" ({})", how.join("; "));
        }
        (Verdict::Inconclusive, reason)
    } else if controls.is_empty() {
        (Verdict::Supported, "every check holds".into())
    } else {
        (Verdict::Supported, "every check holds and every negative control is rejected".into())
    };
    Decision { verdict, reason, checks, controls }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(op: Op, bound: f64, sigmas: f64) -> Condition {
        Condition {
            what: "w".into(),
            value: "/v".into(),
            error: Some("/se".into()),
            op,
            bound: Some(Number::Literal(bound)),
            bound_error: None,
            times: 1.0,
            sigmas,
            ids: vec![],
        }
    }

    #[test]
    fn a_comparison_holds_fails_or_is_undecided_by_its_error_bar() {
        let r = json!({ "v": 1.0, "se": 0.1 });
        let out = |op, b, s| evaluate(&cond(op, b, s), &r).unwrap().outcome;
        assert_eq!(out(Op::Below, 1.5, 3.0), Outcome::Holds); // 1 + 0.3 < 1.5
        assert_eq!(out(Op::Below, 1.2, 3.0), Outcome::Undecided);
        assert_eq!(out(Op::Below, 0.5, 3.0), Outcome::Fails);
        assert_eq!(out(Op::Above, 0.5, 3.0), Outcome::Holds);
        assert_eq!(out(Op::Above, 1.5, 3.0), Outcome::Fails);
        assert_eq!(out(Op::Below, 1.0, 0.0), Outcome::Fails, "1 < 1 without a band");
        assert_eq!(out(Op::Equal, 1.2, 3.0), Outcome::Holds); // z = -2
        assert_eq!(out(Op::Equal, 1.4, 3.0), Outcome::Fails); // z = -4
        let e = evaluate(&cond(Op::Below, 1.2, 3.0), &r).unwrap();
        assert!(e.decide.unwrap().contains("0.0667"), "the s.e. that decides it: 0.2 / 3");
    }

    /// A null in the result (a quantity the run did not reach) leaves the condition undecided;
    /// a missing field or a string is still an error.
    #[test]
    fn a_null_quantity_is_undecided_and_a_missing_one_an_error() {
        let mut c = cond(Op::Below, 0.0, 0.0);
        c.error = None;
        c.bound = Some(Number::Pointer("/b".into()));
        let e = evaluate(&c, &json!({ "v": 32.0, "b": null })).unwrap();
        assert_eq!(e.outcome, Outcome::Undecided);
        assert_eq!(e.decide.as_deref(), Some("decided by a run that reaches /b"));
        assert_eq!(
            evaluate(&c, &json!({ "v": null, "b": 1.0 })).unwrap().outcome,
            Outcome::Undecided
        );
        assert!(evaluate(&c, &json!({ "v": 32.0 })).is_err());
        assert!(evaluate(&c, &json!({ "v": 32.0, "b": "x" })).is_err());
        assert_eq!(evaluate(&c, &json!({ "v": 32.0, "b": 64.0 })).unwrap().outcome, Outcome::Holds);
    }

    /// The width and sharpest claims test Spearman's t < -2: a perfectly monotone trend
    /// (t = -inf, written as -f64::MAX) holds, where its null used to leave the claim undecided.
    #[test]
    fn a_perfect_rank_correlation_decides_its_claim() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let perfect = crate::stats::rank_correlation(&a, &[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]);
        let r = json!({ "trend": perfect });
        let mut c = cond(Op::Below, -2.0, 0.0);
        c.value = "/trend/t".into();
        c.error = None;
        let e = evaluate(&c, &r).unwrap();
        assert_eq!((e.outcome, e.shown.as_str()), (Outcome::Holds, "-inf < -2.0000"));
        c.op = Op::Above;
        assert_eq!(evaluate(&c, &r).unwrap().outcome, Outcome::Fails);
    }

    #[test]
    fn the_verdict_needs_the_checks_and_rejected_controls() {
        let claim = |checks, controls| Claim {
            id: "c".into(),
            paper: String::new(),
            source: String::new(),
            claim: String::new(),
            quantity: String::new(),
            command: vec!["x".into()],
            uses: None,
            full_command: None,
            result: "r.json".into(),
            figure: None,
            checks,
            controls,
            untested: None,
        };
        let r = json!({ "v": 1.0, "se": 0.1 });
        let slope_one = cond(Op::Equal, 1.0, 3.0);
        let d = decide(&claim(vec![slope_one.clone()], vec![cond(Op::Equal, 2.0, 3.0)]), &r);
        assert_eq!(d.verdict, Verdict::Supported);
        // The alternative 0.9 is also within 3 s.e.: the test cannot tell them apart.
        let d = decide(&claim(vec![slope_one.clone()], vec![cond(Op::Equal, 0.9, 3.0)]), &r);
        assert_eq!(d.verdict, Verdict::Inconclusive);
        assert!(d.reason.contains("below 0.0333"), "0.1 / 3 separates 1 from 0.9: {}", d.reason);
        let d = decide(&claim(vec![cond(Op::Equal, 2.0, 3.0)], vec![]), &r);
        assert_eq!(d.verdict, Verdict::NotSupported);
        let mut missing = slope_one;
        missing.value = "/nope".into();
        assert_eq!(decide(&claim(vec![missing], vec![]), &r).verdict, Verdict::Error);
    }

    #[test]
    fn pointers_select_array_elements_by_a_field() {
        let r = json!({ "rows": [ { "id": "a/b", "eta": 0.01, "z": 1.5 }, { "id": "c", "eta": 0.1, "z": -2.0 } ] });
        assert_eq!(lookup(&r, "/rows/id=a~1b/z"), Some(&json!(1.5)));
        assert_eq!(lookup(&r, "/rows/eta=0.1/z"), Some(&json!(-2.0)));
        assert_eq!(lookup(&r, "/rows/1/id"), Some(&json!("c")));
        assert_eq!(lookup(&r, "/rows/id=nope/z"), None);
        assert_eq!(lookup(&r, ""), Some(&r));
    }

    #[test]
    fn a_table_passes_only_when_every_selected_row_does() {
        let r = json!({ "rows": [
            { "id": "law-a", "pass": true }, { "id": "law-b", "pass": true },
            { "id": "fdr-a", "pass": false } ] });
        let mut c = cond(Op::AllPass, 0.0, 0.0);
        c.value = "/rows".into();
        c.bound = None;
        c.ids = vec!["law".into()];
        assert_eq!(evaluate(&c, &r).unwrap().outcome, Outcome::Holds);
        c.ids = vec![];
        let e = evaluate(&c, &r).unwrap();
        assert_eq!(e.outcome, Outcome::Fails);
        assert!(e.shown.contains("fdr-a"), "{}", e.shown);
        // An id that selects nothing is an error, alone or beside one that selects rows: as a
        // control it used to "fail", so count as rejected.
        c.ids = vec!["none".into()];
        assert!(evaluate(&c, &r).unwrap_err().contains("\"none\" selects no row"));
        c.ids = vec!["law".into(), "lwa".into()];
        assert!(evaluate(&c, &r).unwrap_err().contains("\"lwa\" selects no row"));
        c.ids = vec![];
        assert!(evaluate(&c, &json!({ "rows": [] })).unwrap_err().contains("no rows"));
    }
}
