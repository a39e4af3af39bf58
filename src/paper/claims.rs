//! The claims table (`paper/claims.toml`): for every claim of the source papers, where it comes
//! from, the claim in one sentence, the command that tests it and the criterion that decides it,
//! all fixed before anything runs.

use crate::config::read::{parse, InputError};
use serde::Deserialize;
use std::path::Path;

/// The claims table shipped with the crate.
pub const EMBEDDED: (&str, &str) = ("paper/claims.toml", include_str!("../../paper/claims.toml"));

/// A claims table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsFile {
    /// The report's title.
    pub title: String,
    #[serde(rename = "claim")]
    pub claims: Vec<Claim>,
}

/// One claim and how it is decided.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// A short name, also the claim's run folder: letters, digits, `-` and `_`.
    pub id: String,
    /// The paper, e.g. `Jastrzebski et al., ICANN 2018`, or `beyond the papers`.
    pub paper: String,
    /// The figure, equation or section the claim comes from.
    pub source: String,
    /// The claim in one sentence.
    pub claim: String,
    /// The quantity measured, in words.
    pub quantity: String,
    /// `sgd-sde` arguments that test it at CPU scale; `{out}` is the claim's run folder. Empty
    /// for a claim nothing tests yet (then `untested` says what would).
    #[serde(default)]
    pub command: Vec<String>,
    /// Instead of a command: the id of an earlier claim whose run this claim reads (one run of a
    /// validation suite decides several claims).
    #[serde(default)]
    pub uses: Option<String>,
    /// The arguments at the papers' scale (default: `command`).
    #[serde(default)]
    pub full_command: Option<Vec<String>>,
    /// The JSON file, inside the run folder, that the conditions read.
    #[serde(default)]
    pub result: String,
    /// A figure inside the run folder to show with the claim.
    #[serde(default)]
    pub figure: Option<String>,
    /// What must hold for the claim to be supported.
    #[serde(default)]
    pub checks: Vec<Condition>,
    /// Negative controls: a wrong prediction or an alternative that the same test must reject;
    /// one that is not rejected makes the verdict inconclusive.
    #[serde(default)]
    pub controls: Vec<Condition>,
    /// For a claim without a command: what would test it.
    #[serde(default)]
    pub untested: Option<String>,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum Op {
    #[serde(rename = "<")]
    Below,
    #[serde(rename = ">")]
    Above,
    /// Within `sigmas` standard errors.
    #[serde(rename = "==")]
    Equal,
    /// Every selected row of a validation table passes.
    #[serde(rename = "all pass")]
    AllPass,
}

/// A number written in the table or read from the result by a JSON pointer (`/rows/0/z`), in
/// which a segment `key=value` picks the element of an array whose `key` equals `value`
/// (`/id=momentum/z`); `~1` stands for `/` and `~0` for `~` as in RFC 6901.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Literal(f64),
    Pointer(String),
}

/// `value op times x bound`, with the standard errors of both sides when given: for `<` and `>`
/// the condition holds when it holds by `sigmas` combined standard errors, fails when its opposite
/// does, and is undecided in between; `==` holds within `sigmas` standard errors. `all pass`:
/// `value` points to a validation table, `ids` selects rows by prefix (all rows when empty).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The condition in words.
    pub what: String,
    /// A JSON pointer into the result.
    pub value: String,
    #[serde(default)]
    pub error: Option<String>,
    pub op: Op,
    #[serde(default)]
    pub bound: Option<Number>,
    #[serde(default)]
    pub bound_error: Option<String>,
    #[serde(default = "one")]
    pub times: f64,
    #[serde(default)]
    pub sigmas: f64,
    #[serde(default)]
    pub ids: Vec<String>,
}

fn one() -> f64 {
    1.0
}

impl ClaimsFile {
    /// Reads `path`, or the embedded table when `None`, and checks it.
    pub fn load(path: Option<&Path>) -> Result<Self, InputError> {
        let (name, text) = match path {
            Some(p) => (p.to_path_buf(), crate::config::read::read_text(p, "--claims")?),
            None => (EMBEDDED.0.into(), EMBEDDED.1.to_string()),
        };
        let file: ClaimsFile = parse(&name, &text)?;
        file.check().map_err(|e| InputError(format!("{}: {e}", name.display())))?;
        Ok(file)
    }

    fn check(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for c in &self.claims {
            let id = &c.id;
            let bad = |field: &str, value: &str, valid: &str| {
                Err(format!("claim {id}: invalid {field} = {value:?}; valid is {valid}"))
            };
            if id.is_empty()
                || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return bad("id", id, "letters, digits, - and _");
            }
            if !seen.insert(id.clone()) {
                return bad("id", id, "an id not used by another claim");
            }
            if let Some(u) = &c.uses {
                let earlier = self.claims.iter().take_while(|e| e.id != *id);
                if !c.command.is_empty()
                    || !earlier.filter(|e| !e.command.is_empty()).any(|e| e.id == *u)
                {
                    return bad(
                        "uses",
                        u,
                        "the id of an earlier claim with a command, and no command",
                    );
                }
            } else if c.command.is_empty() {
                if c.untested.is_none() || !c.checks.is_empty() {
                    return bad(
                        "command",
                        "",
                        "a command, or untested = what would test it and no checks",
                    );
                }
                continue;
            }
            if c.checks.is_empty() {
                return bad("checks", "[]", "at least one condition that decides the claim");
            }
            if c.result.is_empty() || c.result.contains("..") || Path::new(&c.result).is_absolute()
            {
                return bad("result", &c.result, "a JSON file inside the run folder");
            }
            for k in c.checks.iter().chain(&c.controls) {
                k.check().map_err(|e| format!("claim {id}, condition {:?}: {e}", k.what))?;
            }
        }
        Ok(())
    }
}

impl Condition {
    fn check(&self) -> Result<(), String> {
        let pointer = |field: &str, p: &str| {
            if p.is_empty() || p.starts_with('/') {
                Ok(())
            } else {
                Err(format!("invalid {field} = {p:?}; valid is a JSON pointer such as /rows/0/z"))
            }
        };
        pointer("value", &self.value)?;
        for p in self.error.iter().chain(&self.bound_error) {
            pointer("error", p)?;
        }
        if let Some(Number::Pointer(p)) = &self.bound {
            pointer("bound", p)?;
        }
        if !(self.sigmas >= 0.0 && self.sigmas.is_finite()) {
            return Err(format!("invalid sigmas = {}; valid is a finite number >= 0", self.sigmas));
        }
        if !(self.times > 0.0 && self.times.is_finite()) {
            return Err(format!("invalid times = {}; valid is a finite number > 0", self.times));
        }
        match self.op {
            Op::AllPass if self.bound.is_some() => {
                Err("invalid bound with op = \"all pass\"; valid is no bound".into())
            }
            Op::AllPass => Ok(()),
            _ if self.bound.is_none() => {
                Err("missing bound; valid is a number or a pointer".into())
            }
            Op::Equal
                if self.sigmas == 0.0 || self.error.is_none() && self.bound_error.is_none() =>
            {
                Err("op = \"==\" needs sigmas > 0 and an error".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_loads() {
        let f = ClaimsFile::load(None).unwrap();
        assert!(f.claims.len() >= 10, "{} claims", f.claims.len());
    }

    #[test]
    fn a_bad_table_names_the_field() {
        let bad = |body: &str| {
            let text = format!("title = \"t\"\n{body}");
            let f: ClaimsFile = parse(Path::new("c.toml"), &text).unwrap();
            f.check().unwrap_err()
        };
        let base = "[[claim]]\nid = \"a\"\npaper = \"p\"\nsource = \"s\"\nclaim = \"c\"\nquantity = \"q\"\n";
        assert!(bad(&format!("{base}command = [\"x\"]\nresult = \"r.json\"")).contains("checks"));
        assert!(bad(base).contains("command"));
        let cond = "[[claim.checks]]\nwhat = \"w\"\nvalue = \"/v\"\nop = \"==\"\nbound = 1.0\n";
        let e = bad(&format!("{base}command = [\"x\"]\nresult = \"r.json\"\n{cond}"));
        assert!(e.contains("sigmas"), "{e}");
        let e = bad(&format!("{base}command = [\"x\"]\nresult = \"../r.json\"\n{cond}"));
        assert!(e.contains("result"), "{e}");
        assert!(bad(&format!("{base}untested = \"u\"\n{base}untested = \"u\"")).contains("id"));
    }
}
