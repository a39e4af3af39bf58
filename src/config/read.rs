use std::fmt;
use std::path::{Path, PathBuf};

/// A file that could not be read or parsed: one line naming the file, where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Reads a whole file, with an error naming the field that pointed to it.
/// Input files larger than this are refused unread (a problem, grid or suite file is a few KB; a
/// CSV data set a few MB): `--problem /dev/zero` must not fill the memory.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Reads a whole text file of at most [`MAX_INPUT_BYTES`], with an error naming the field that
/// pointed to it.
pub(crate) fn read_text(path: &Path, field: &str) -> Result<String, InputError> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| {
        InputError(format!(
            "invalid {field} = {}: cannot read the file ({e}); valid is an existing, readable file",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError(format!(
            "invalid {field} = {}: the file is larger than {} MiB; valid is a problem, grid or \
             data file of at most that size",
            path.display(),
            MAX_INPUT_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        InputError(format!(
            "invalid {field} = {}: the file is not UTF-8 text; valid is a TOML, JSON or CSV file",
            path.display()
        ))
    })
}

/// Parses TOML (or JSON when the name ends in `.json`) into `T`, rejecting unknown fields.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, InputError> {
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json {
        serde_json::from_str(text).map_err(|e| {
            InputError(format!(
                "{}: line {} column {}: {}",
                path.display(),
                e.line(),
                e.column(),
                one_line(&e.to_string())
            ))
        })
    } else {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            match line {
                Some(l) => {
                    InputError(format!("{}: line {l}: {}", path.display(), one_line(e.message())))
                }
                None => InputError(format!("{}: {}", path.display(), one_line(e.message()))),
            }
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads a CSV of numbers (comma or whitespace separated; `#` comments and a non-numeric
/// header line are skipped). `NaN` parses, and is rejected later by the problem's validation.
pub fn read_csv_rows(path: &Path, field: &str) -> Result<Vec<Vec<f64>>, InputError> {
    let text = read_text(path, field)?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> =
            line.split(|c: char| c == ',' || c.is_whitespace()).filter(|c| !c.is_empty()).collect();
        let parsed: Result<Vec<f64>, _> = cells.iter().map(|c| c.parse::<f64>()).collect();
        match parsed {
            Ok(r) => rows.push(r),
            Err(_) if rows.is_empty() && i == 0 => continue, // header
            Err(_) => {
                return Err(InputError(format!(
                    "invalid {field} = {}: line {} is not a row of numbers: {line:?}",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    if rows.is_empty() {
        return Err(InputError(format!(
            "invalid {field} = {}: no data rows; valid is a CSV with one example per row",
            path.display()
        )));
    }
    Ok(rows)
}

/// Resolves a data path relative to the problem file's folder.
pub(crate) fn resolve(base: Option<&Path>, p: &Path) -> PathBuf {
    match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    }
}
