use crate::net::backend::Resolved;
use crate::net::data::{
    embedded_fashion_mnist, find_data_dir, load_split, teacher_student, Dataset,
};
use crate::output::{OutputError, Outputs};
use std::path::{Path, PathBuf};

/// Which data an experiment trains on.
#[derive(Debug, Clone, PartialEq)]
pub enum DataChoice {
    /// The embedded 2,000 / 1,000 Fashion-MNIST subset (no files needed).
    Embedded,
    /// An IDX data set found through `--data`, `SGD_SDE_DATA`, ../shared/data or /usr/share/datasets.
    Idx { name: String, dir: Option<PathBuf> },
    /// Synthetic teacher-student data (d = 784 inputs, 10 classes).
    Teacher,
}

impl DataChoice {
    pub fn parse(name: &str, dir: Option<&Path>) -> Result<Self, String> {
        match name {
            "embedded" => Ok(Self::Embedded),
            "fashion-mnist" | "mnist" => {
                Ok(Self::Idx { name: name.into(), dir: dir.map(Path::to_path_buf) })
            }
            "teacher" => Ok(Self::Teacher),
            other => Err(format!(
                "invalid --dataset = {other}: valid is embedded, fashion-mnist, mnist or teacher"
            )),
        }
    }

    /// Train and test sets, with the training set cut to `n` stratified examples if given.
    pub fn load(
        &self,
        n: Option<usize>,
        test_n: Option<usize>,
        seed: u64,
    ) -> Result<(Dataset, Dataset), String> {
        let (train, test) = match self {
            Self::Embedded => embedded_fashion_mnist(),
            Self::Idx { name, dir } => {
                let src = find_data_dir(name, dir.as_deref())?;
                (load_split(&src, "train")?, load_split(&src, "t10k")?)
            }
            Self::Teacher => (
                teacher_student(n.unwrap_or(2000), 784, 64, 10, seed),
                teacher_student(test_n.unwrap_or(1000), 784, 64, 10, seed),
            ),
        };
        let cut = |d: Dataset, k: Option<usize>, s: u64| -> Result<Dataset, String> {
            match k {
                Some(k) if k < d.len() => d.stratified_subset(k, s).map_err(|e| e.to_string()),
                Some(k) if k > d.len() => Err(format!(
                    "invalid --n = {k}: valid is at most the {} examples of {}",
                    d.len(),
                    d.name
                )),
                _ => Ok(d),
            }
        };
        if matches!(self, Self::Teacher) {
            return Ok((train, test));
        }
        Ok((cut(train, n, seed)?, cut(test, test_n, seed ^ 1)?))
    }
}

/// What every network experiment shares.
#[derive(Debug, Clone)]
pub struct NetContext {
    pub train: Dataset,
    pub test: Dataset,
    pub device: Resolved,
    pub out: PathBuf,
    pub seed: u64,
    pub quiet: bool,
    /// Progress of the current training run (hidden under --quiet and off a terminal).
    pub bar: indicatif::ProgressBar,
}

impl NetContext {
    /// The run's output folder, through the one shared writer.
    pub fn outputs(&self) -> Outputs {
        Outputs::new(&self.out)
    }

    /// The manifest, with parameters made from the experiment's own options (serialised as
    /// given), the data and the device, so it cannot drift from what ran.
    pub fn write_manifest<O: serde::Serialize>(
        &self,
        experiment: &str,
        options: &O,
        started: std::time::Instant,
    ) -> Result<(), OutputError> {
        let parameters = serde_json::json!({
            "experiment": experiment,
            "options": options,
            "train": self.train.name,
            "train_n": self.train.len(),
            "test": self.test.name,
            "test_n": self.test.len(),
            "device": format!("{:?}", self.device).to_lowercase(),
        });
        self.outputs().manifest(Some(self.seed), parameters, started.elapsed().as_secs_f64())
    }
}
