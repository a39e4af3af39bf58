//! Where data comes from: `--data DIR`, the `SGD_SDE_DATA` environment variable,
//! `../shared/data`, and Debian's `/usr/share/datasets` (package dataset-fashion-mnist).

use super::dataset::Dataset;
use std::path::{Path, PathBuf};

pub const DATA_ENV: &str = "SGD_SDE_DATA";

/// A named data set and where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    pub name: String,
    pub dir: PathBuf,
}

fn has_files(dir: &Path) -> bool {
    ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"].iter().any(|f| dir.join(f).is_file())
}

/// Finds the folder holding `name`'s IDX files (`name` is `mnist` or `fashion-mnist`). A given
/// folder may hold the files itself or a `name/` subfolder.
pub fn find_data_dir(name: &str, explicit: Option<&Path>) -> Result<DataSource, String> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        roots.push(p.to_path_buf());
    } else {
        if let Ok(p) = std::env::var(DATA_ENV) {
            roots.push(PathBuf::from(p));
        }
        roots.push(PathBuf::from("../shared/data"));
        roots.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data")));
        roots.push(PathBuf::from("/usr/share/datasets"));
    }
    let mut tried = Vec::new();
    for r in &roots {
        for dir in [r.join(name), r.clone()] {
            if has_files(&dir) {
                return Ok(DataSource { name: name.into(), dir });
            }
            tried.push(dir.display().to_string());
        }
    }
    let hint = if name == "fashion-mnist" {
        "; on Debian: apt-get install dataset-fashion-mnist"
    } else {
        ""
    };
    Err(format!("invalid --data: no {name} IDX files (train-images-idx3-ubyte[.gz]) in {}; valid is a folder holding them, given by --data or {DATA_ENV}{hint}", tried.join(", ")))
}

/// Loads `train` or `t10k` from a folder, gzipped or not.
pub fn load_split(src: &DataSource, split: &str) -> Result<Dataset, String> {
    let read = |stem: &str| -> Result<Vec<u8>, String> {
        for f in [format!("{stem}.gz"), stem.to_string()] {
            let p = src.dir.join(&f);
            if p.is_file() {
                return std::fs::read(&p)
                    .map_err(|e| format!("invalid data file {}: {e}", p.display()));
            }
        }
        Err(format!("invalid --data = {}: {stem}[.gz] is missing; valid is a folder with the four IDX files", src.dir.display()))
    };
    let images = read(&format!("{split}-images-idx3-ubyte"))?;
    let labels = read(&format!("{split}-labels-idx1-ubyte"))?;
    Dataset::from_idx_bytes(&images, &labels, &format!("{}/{split}", src.name))
        .map_err(|e| e.to_string())
}
