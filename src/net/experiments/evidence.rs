//! Experiment 5b (Smith & Le 2018, section 2): Bayesian evidence of logistic regression on MNIST
//! 0/1 with informative and with random labels, against the regularisation coefficient lambda.
//! With prior N(0, I/lambda) and U(θ) = sum_n l_n(θ) + lambda/2 |θ|^2, the Laplace approximation is
//! `log Z = -U(θ*) + (d/2) log lambda - 1/2 log det(∇²U(θ*))`, whose last two terms are the Occam
//! factor. The null model (p = 1/2 for every example) has `log Z = N log 1/2`. θ* by damped Newton
//! steps on the exact logistic Hessian `X~^T diag(p(1-p)) X~ + lambda I` (X~ = [X, 1]).

use super::context::NetContext;
use super::error::ExperimentError;
use crate::net::data::Dataset;
use crate::output::plot;
use burn::tensor::backend::AutodiffBackend;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, clap::Args)]
pub struct EvidenceOptions {
    /// L2 strengths lambda of the logistic regression's Gaussian prior (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.1,1,10,100,1000", value_parser = crate::cli::flags::positive)]
    pub lambdas: Vec<f64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct EvidencePoint {
    pub lambda: f64,
    pub labels: &'static str,
    pub log_evidence_per_example: f64,
    pub occam_per_example: f64,
    pub train_loss: f64,
    pub test_accuracy: f64,
    pub newton_steps: usize,
    pub gradient_norm: f64,
}

/// The claims in numbers, per example: the best log evidence over lambda of each labelling
/// against the null model's log 1/2 (Smith & Le: informative labels beat the null, random labels
/// never do, however well they are memorised).
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSummary {
    pub null_log_evidence_per_example: f64,
    pub best_informative_minus_null: f64,
    pub best_random_minus_null: f64,
}

impl EvidenceSummary {
    pub fn of(points: &[EvidencePoint]) -> Self {
        let null = 0.5f64.ln();
        let best = |labels: &str| {
            points
                .iter()
                .filter(|p| p.labels == labels)
                .map(|p| p.log_evidence_per_example)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        Self {
            null_log_evidence_per_example: null,
            best_informative_minus_null: best("informative") - null,
            best_random_minus_null: best("random") - null,
        }
    }
}

fn design(d: &Dataset) -> DMatrix<f64> {
    DMatrix::from_fn(d.len(), d.dim + 1, |i, j| if j == d.dim { 1.0 } else { d.row(i)[j] as f64 })
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `sum_n softplus(z_n) - y_n z_n` computed stably.
fn nll(x: &DMatrix<f64>, y: &DVector<f64>, theta: &DVector<f64>) -> f64 {
    (x * theta)
        .iter()
        .zip(y.iter())
        .map(|(&z, &t)| z.max(0.0) + (-z.abs()).exp().ln_1p() - t * z)
        .sum()
}

/// Minimises U by Newton steps with backtracking; returns θ*, the Hessian there, steps, |∇U|.
fn fit(
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    lambda: f64,
) -> (DVector<f64>, DMatrix<f64>, usize, f64) {
    let d = x.ncols();
    let mut theta = DVector::zeros(d);
    let u = |t: &DVector<f64>| nll(x, y, t) + 0.5 * lambda * t.norm_squared();
    let (mut hess, mut gnorm, mut steps) = (DMatrix::identity(d, d), f64::INFINITY, 0);
    for it in 0..100 {
        let p = (x * &theta).map(sigmoid);
        let grad = x.transpose() * (&p - y) + &theta * lambda;
        let w = p.map(|v| v * (1.0 - v));
        let mut xw = x.clone();
        for (i, mut row) in xw.row_iter_mut().enumerate() {
            row *= w[i];
        }
        hess = x.transpose() * xw + DMatrix::identity(d, d) * lambda;
        gnorm = grad.norm();
        steps = it;
        if gnorm < 1e-9 * (1.0 + theta.norm()) {
            break;
        }
        let step = hess
            .clone()
            .cholesky()
            .expect("lambda > 0 makes the Hessian positive definite")
            .solve(&grad);
        let (u0, mut a) = (u(&theta), 1.0);
        while u(&(&theta - &step * a)) > u0 - 1e-4 * a * grad.dot(&step) && a > 1e-10 {
            a *= 0.5;
        }
        theta -= step * a;
    }
    (theta, hess, steps, gnorm)
}

impl super::Experiment for EvidenceOptions {
    const NAME: &'static str = "evidence";
    type Report = Vec<EvidencePoint>;

    fn run<B: AutodiffBackend>(
        &self,
        ctx: &NetContext,
        _device: &B::Device,
    ) -> Result<Self::Report, ExperimentError> {
        let o = self;
        if ctx.train.classes() != 2 {
            return Err(ExperimentError::Invalid(format!(
                "invalid data for evidence: {} classes; valid is a binary data set (MNIST 0/1)",
                ctx.train.classes()
            )));
        }
        let x = design(&ctx.train);
        let xt = design(&ctx.test);
        let n = ctx.train.len() as f64;
        let d = x.ncols() as f64;
        let informative =
            DVector::from_iterator(ctx.train.len(), ctx.train.labels.iter().map(|&l| l as f64));
        let random_set = ctx.train.with_random_labels(ctx.seed);
        let random =
            DVector::from_iterator(ctx.train.len(), random_set.labels.iter().map(|&l| l as f64));
        let mut points = Vec::new();
        for &lambda in &o.lambdas {
            if !(lambda.is_finite() && lambda > 0.0) {
                return Err(ExperimentError::Invalid(format!(
                    "invalid --lambdas entry {lambda}: valid is a finite number > 0"
                )));
            }
            for (name, y) in [("informative", &informative), ("random", &random)] {
                let (theta, hess, steps, gnorm) = fit(&x, y, lambda);
                let logdet = 2.0
                    * hess.cholesky().expect("positive definite").l().diagonal().map(f64::ln).sum();
                let u = nll(&x, y, &theta) + 0.5 * lambda * theta.norm_squared();
                let occam = 0.5 * d * lambda.ln() - 0.5 * logdet;
                let acc = (&xt * &theta)
                    .iter()
                    .zip(&ctx.test.labels)
                    .filter(|(z, &l)| (**z > 0.0) == (l == 1))
                    .count() as f64
                    / ctx.test.len() as f64;
                points.push(EvidencePoint {
                    lambda,
                    labels: name,
                    log_evidence_per_example: (-u + occam) / n,
                    occam_per_example: occam / n,
                    train_loss: nll(&x, y, &theta) / n,
                    test_accuracy: acc,
                    newton_steps: steps,
                    gradient_norm: gnorm,
                });
            }
        }
        Ok(points)
    }

    fn write(&self, points: &Self::Report, ctx: &NetContext) -> Result<(), ExperimentError> {
        let o = self;
        let null = 0.5f64.ln();
        let rows: Vec<Vec<String>> = points
            .iter()
            .map(|p| {
                vec![
                    p.lambda.to_string(),
                    p.labels.to_string(),
                    p.log_evidence_per_example.to_string(),
                    p.occam_per_example.to_string(),
                    p.train_loss.to_string(),
                    p.test_accuracy.to_string(),
                ]
            })
            .collect();
        ctx.outputs().csv(
            "evidence.csv",
            &[
                "lambda",
                "labels",
                "log_evidence_per_example",
                "occam_per_example",
                "train_loss",
                "test_accuracy",
            ],
            &rows,
        )?;
        let summary = EvidenceSummary::of(points);
        ctx.outputs().json(
            "evidence.json",
            &serde_json::json!({ "summary": summary, "points": points, "train": ctx.train.name }),
        )?;
        let series = |labels: &str, f: fn(&EvidencePoint) -> f64, c: usize| {
            plot::Series::line(
                format!("{labels} labels"),
                points.iter().filter(|p| p.labels == labels).map(|p| (p.lambda, f(p))).collect(),
                c,
            )
        };
        let lam = (
            o.lambdas.iter().copied().fold(f64::INFINITY, f64::min),
            o.lambdas.iter().copied().fold(0.0, f64::max),
        );
        let ev = plot::Figure {
            title: "Laplace evidence per example".into(),
            x_label: "regularisation lambda".into(),
            y_label: "log Z / N".into(),
            log_x: true,
            series: vec![
                series("informative", |p| p.log_evidence_per_example, 0),
                series("random", |p| p.log_evidence_per_example, 1),
                plot::Series::dashed("null model log(1/2)", vec![(lam.0, null), (lam.1, null)], 5),
            ],
            ..Default::default()
        };
        let acc = plot::Figure {
            title: "Test accuracy".into(),
            x_label: "regularisation lambda".into(),
            y_label: "test accuracy".into(),
            log_x: true,
            series: vec![
                series("informative", |p| p.test_accuracy, 0),
                series("random", |p| p.test_accuracy, 1),
            ],
            ..Default::default()
        };
        ctx.outputs().figure("evidence", &[ev, acc])?;
        Ok(())
    }
    fn work(&self, n: usize) -> (f64, usize) {
        // Logistic regression on 784 pixels, 10 classes: per lambda and label set, Newton steps
        // (a gradient and a d x d Hessian over the data, counted as 100 gradients each).
        (self.lambdas.len() as f64 * 2.0 * 50.0 * 100.0 * n as f64, 7850)
    }
}
