use crate::error::{ensure, ProblemError};
use crate::spd::{Rotation, SpdMatrix};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// An SPD matrix: exactly one of `eigenvalues`, `log_spaced` or `matrix` (dense rows),
/// plus a `rotation` for the eigenvalue forms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixSpec {
    pub eigenvalues: Option<Vec<f64>>,
    pub log_spaced: Option<LogSpaced>,
    pub matrix: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    pub rotation: RotationSpec,
}

/// `d` eigenvalues log-spaced in `[min, max]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpaced {
    pub d: usize,
    pub min: f64,
    pub max: f64,
}

/// `"identity"`, `{ seed = 3 }`, `{ householder = [..] }` (P = I - 2uu^T/u^Tu) or `{ matrix = [[..]] }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RotationSpec {
    #[default]
    Identity,
    Seed(u64),
    Householder(Vec<f64>),
    Matrix(Vec<Vec<f64>>),
}

pub(crate) fn dense(field: &str, rows: &[Vec<f64>]) -> Result<DMatrix<f64>, ProblemError> {
    let n = rows.len();
    ensure(n > 0, || ProblemError::new(field, "[]", "a non-empty list of rows"))?;
    for (i, r) in rows.iter().enumerate() {
        ensure(r.len() == n, || {
            ProblemError::new(
                format!("{field}[{i}]"),
                format!("a row of length {}", r.len()),
                format!("length {n} (a square matrix)"),
            )
        })?;
    }
    Ok(DMatrix::from_fn(n, n, |i, j| rows[i][j]))
}

/// Bytes per dimension that a diagonal matrix holds through the theory (about 124 measured at
/// d = 1e7).
const DIAGONAL_BYTES: f64 = 128.0;
/// Bytes per entry of a rotated matrix's d x d blocks, about 8 of them held at once (42 and 51
/// measured at d = 2000 for H alone and for H and C each with its own seeded rotation).
const DENSE_BYTES: f64 = 64.0;
/// Flops of a rotated matrix per d^3: the seeded rotation's QR and the products that rotate.
const DENSE_FLOPS_PER_D3: f64 = 2.0;

/// Refuses a dimension this machine cannot build, before anything of that size is allocated: a
/// diagonal matrix is bounded by the memory available, a rotated one also by `--max-hours`.
pub(crate) fn check_dimension(
    parameter: String,
    value: String,
    d: usize,
    rotated: bool,
) -> Result<(), ProblemError> {
    use crate::budget::{available_bytes, bytes, largest_size, DENSE_FLOPS};
    let (max, cost) = if rotated {
        (
            largest_size((DENSE_BYTES, 2), (DENSE_FLOPS_PER_D3 / DENSE_FLOPS, 3)),
            "a dense (rotated) matrix takes about 64 d^2 bytes",
        )
    } else {
        (largest_size((DIAGONAL_BYTES, 1), (0.0, 1)), "a diagonal matrix takes about 128 d bytes")
    };
    ensure(d <= max, || {
        let time = if rotated { " and 2 d^3 flops (within --max-hours)" } else { "" };
        ProblemError::new(
            parameter,
            value,
            format!(
                "1 <= d <= {max} on this machine: {cost} ({} of memory available){time}",
                bytes(available_bytes())
            ),
        )
    })
}

impl MatrixSpec {
    /// Builds the matrix; `field` names it in errors (e.g. `hessian`).
    pub fn build(&self, field: &str) -> Result<SpdMatrix, ProblemError> {
        let given = [self.eigenvalues.is_some(), self.log_spaced.is_some(), self.matrix.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        ensure(given == 1, || {
            ProblemError::new(
                field,
                format!("{given} of eigenvalues/log_spaced/matrix"),
                "exactly one of eigenvalues, log_spaced or matrix",
            )
        })?;
        if let Some(rows) = &self.matrix {
            ensure(self.rotation == RotationSpec::Identity, || {
                ProblemError::new(
                    format!("{field}.rotation"),
                    "set together with matrix",
                    "omitted when a dense matrix is given",
                )
            })?;
            return SpdMatrix::from_dense(
                &format!("{field}.matrix"),
                dense(&format!("{field}.matrix"), rows)?,
            )
            .map_err(|e| prefix(e, field));
        }
        let rotated = self.rotation != RotationSpec::Identity;
        let eig = match (&self.eigenvalues, &self.log_spaced) {
            (Some(e), _) => {
                let (list, d) = (format!("a list of {}", e.len()), e.len());
                check_dimension(format!("{field}.eigenvalues"), list, d, rotated)?;
                e.clone()
            }
            (_, Some(l)) => {
                check_dimension(format!("{field}.log_spaced.d"), l.d.to_string(), l.d, rotated)?;
                ensure(l.d >= 1, || {
                    ProblemError::new(format!("{field}.log_spaced.d"), l.d, "d >= 1")
                })?;
                ensure(l.min > 0.0 && l.max >= l.min && l.max.is_finite(), || {
                    ProblemError::new(
                        format!("{field}.log_spaced"),
                        format!("min = {}, max = {}", l.min, l.max),
                        "0 < min <= max < infinity",
                    )
                })?;
                let ratio = l.max / l.min;
                (0..l.d)
                    .map(|i| {
                        if l.d == 1 {
                            l.min
                        } else {
                            l.min * ratio.powf(i as f64 / (l.d - 1) as f64)
                        }
                    })
                    .collect()
            }
            _ => unreachable!("exactly one form was checked above"),
        };
        let rotation = match &self.rotation {
            RotationSpec::Identity => Rotation::Identity,
            RotationSpec::Seed(s) => Rotation::Seeded(*s),
            RotationSpec::Householder(u) => Rotation::Householder(u.clone()),
            RotationSpec::Matrix(rows) => {
                Rotation::Matrix(dense(&format!("{field}.rotation.matrix"), rows)?)
            }
        };
        SpdMatrix::from_eigen(&eig, rotation).map_err(|e| prefix(e, field))
    }
}

fn prefix(mut e: ProblemError, field: &str) -> ProblemError {
    if !e.parameter.starts_with(field) {
        e.parameter = format!("{field}.{}", e.parameter);
    }
    e
}
