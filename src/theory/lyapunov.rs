//! Dense Lyapunov solvers, used as independent checks of the closed forms.

use nalgebra::DMatrix;

/// Solves the discrete equation `X = A X A^T + Q` by Smith's doubling
/// (`X <- X + A_k X A_k^T`, `A_k <- A_k^2`). `None` when `A` is not a contraction (rho(A) >= 1).
pub fn discrete(a: &DMatrix<f64>, q: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let mut x = q.clone();
    let mut ak = a.clone();
    for _ in 0..64 {
        x += &ak * &x * ak.transpose();
        ak = &ak * &ak;
        let size = ak.amax();
        if !size.is_finite() {
            return None;
        }
        if size < 1e-300_f64.max(f64::EPSILON * 1e-6) {
            return x.iter().all(|v| v.is_finite()).then_some(x);
        }
    }
    None
}

/// Solves the continuous equation `A X + X A^T = Q` through the Kronecker system
/// `(I (x) A + A (x) I) vec X = vec Q`. Dense LU of size d^2: for d up to a few dozen.
pub fn continuous(a: &DMatrix<f64>, q: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let d = a.nrows();
    let eye = DMatrix::<f64>::identity(d, d);
    let k = eye.kronecker(a) + a.kronecker(&eye);
    let vec_q = nalgebra::DVector::from_column_slice(q.as_slice());
    let x = k.lu().solve(&vec_q)?;
    Some(DMatrix::from_column_slice(d, d, x.as_slice()))
}
