//! The one writer every experiment uses: CSV tables, JSON, figures and the manifest, into one
//! folder, each file atomically, every failure naming the file.

use super::{plot, write_csv, write_json, Manifest};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A file that could not be written, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for OutputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for OutputError {}

/// A run's output folder.
#[derive(Debug, Clone)]
pub struct Outputs {
    dir: PathBuf,
}

impl Outputs {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn fail(path: PathBuf, e: impl std::fmt::Display) -> OutputError {
        let message = e.to_string();
        // write_atomic's messages already name the file: keep only the cause.
        let prefix = format!("cannot write {}: ", path.display());
        OutputError { message: message.strip_prefix(&prefix).unwrap_or(&message).to_string(), path }
    }

    /// Checks before a long run that the folder can be created and written (a probe file is
    /// written and removed), so a run never finishes only to lose its results.
    pub fn ensure_writable(&self) -> Result<(), OutputError> {
        let probe = self.dir.join(format!(".write-probe-{}", std::process::id()));
        std::fs::create_dir_all(&self.dir)
            .and_then(|_| std::fs::write(&probe, b""))
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| OutputError { path: self.dir.clone(), message: e.to_string() })
    }

    /// `<dir>/<name>` as a CSV table with a header row.
    pub fn csv(
        &self,
        name: &str,
        header: &[&str],
        rows: &[Vec<String>],
    ) -> Result<(), OutputError> {
        let path = self.dir.join(name);
        write_csv(&path, header, rows).map_err(|e| Self::fail(path, e))
    }

    /// `<dir>/<name>` as pretty JSON.
    pub fn json<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<(), OutputError> {
        let path = self.dir.join(name);
        write_json(&path, value).map_err(|e| Self::fail(path, e))
    }

    /// `<dir>/<stem>.png` and `.svg`, panels side by side. Drawn under temporary names and
    /// renamed, so a failed or interrupted run never leaves a half-drawn figure (or a temporary).
    pub fn figure(&self, stem: &str, panels: &[plot::Figure]) -> Result<(), OutputError> {
        let tmp = self.dir.join(format!(".{stem}-tmp{}", std::process::id()));
        let drawn = plot::save(panels, &tmp);
        let mut result = drawn.map_err(|e| Self::fail(self.dir.join(format!("{stem}.png")), e));
        for ext in ["png", "svg"] {
            let (from, to) = (tmp.with_extension(ext), self.dir.join(format!("{stem}.{ext}")));
            if result.is_ok() {
                result = std::fs::rename(&from, &to).map_err(|e| Self::fail(to, e));
            }
            let _ = std::fs::remove_file(&from); // gone after a rename; removed after a failure
        }
        result
    }

    /// `<dir>/manifest.json`: the tool, version, command line, seed, threads and timing, with
    /// `parameters` made from the run's own options (never retyped by hand).
    pub fn manifest(
        &self,
        seed: Option<u64>,
        parameters: serde_json::Value,
        elapsed_seconds: f64,
    ) -> Result<(), OutputError> {
        self.json("manifest.json", &Manifest::new(seed, parameters, elapsed_seconds))
    }
}
