use serde::Serialize;

/// What produced a result: enough to reproduce it.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub crate_version: &'static str,
    pub git_revision: &'static str,
    pub command: Vec<String>,
    pub seed: Option<u64>,
    pub parameters: serde_json::Value,
    pub threads: usize,
    pub elapsed_seconds: f64,
    pub finished_unix_seconds: u64,
}

impl Manifest {
    pub fn new(seed: Option<u64>, parameters: serde_json::Value, elapsed_seconds: f64) -> Self {
        Self {
            tool: "sgd-sde",
            crate_version: env!("CARGO_PKG_VERSION"),
            git_revision: env!("SGD_SDE_GIT_REVISION"),
            command: std::env::args().collect(),
            seed,
            parameters,
            threads: rayon::current_num_threads(),
            elapsed_seconds,
            finished_unix_seconds: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}
