//! The in-place vector interface that every integrator is written against.
//!
//! An update rule touches its state only through these BLAS-1 operations, so the same rule drives
//! a `Vec<f64>` on a quadratic and, in the networks layer, a model's parameters. All operations
//! are in place; `x.axpy(a, y)` requires `x` and `y` to be distinct (Rust's borrow rules enforce it).

/// A real vector space element with in-place updates.
pub trait State: Clone + Send {
    /// A zero vector of the same shape.
    fn zeros_like(&self) -> Self;
    /// `self <- self + a * x`.
    fn axpy(&mut self, a: f64, x: &Self);
    /// `self <- a * x + b * self`.
    fn axpby(&mut self, a: f64, x: &Self, b: f64);
    /// `self <- x`.
    fn copy_from(&mut self, x: &Self);
    /// Euclidean inner product.
    fn dot(&self, x: &Self) -> f64;
    /// Whether every coordinate is finite.
    fn is_finite(&self) -> bool;
}

impl State for Vec<f64> {
    fn zeros_like(&self) -> Self {
        vec![0.0; self.len()]
    }
    #[inline]
    fn axpy(&mut self, a: f64, x: &Self) {
        debug_assert_eq!(self.len(), x.len());
        slice_axpy(crate::isa::Isa::detected(), self, a, x)
    }
    #[inline]
    fn axpby(&mut self, a: f64, x: &Self, b: f64) {
        debug_assert_eq!(self.len(), x.len());
        for (s, &xi) in self.iter_mut().zip(x) {
            *s = a * xi + b * *s;
        }
    }
    #[inline]
    fn copy_from(&mut self, x: &Self) {
        self.copy_from_slice(x);
    }
    #[inline]
    fn dot(&self, x: &Self) -> f64 {
        self.iter().zip(x).map(|(a, b)| a * b).sum()
    }
    fn is_finite(&self) -> bool {
        self.iter().all(|v| v.is_finite())
    }
}

crate::isa::dispatch! {
    /// [`axpy`] compiled for `isa` (every quadratic step ends with one).
    fn slice_axpy => axpy(y: &mut [f64], a: f64, x: &[f64])
}

/// `y <- y + a x`.
#[inline(always)]
fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (s, &xi) in y.iter_mut().zip(x) {
        *s += a * xi;
    }
}

/// A block of paths, one per column: the same update rules then run as matrix-matrix products.
impl State for nalgebra::DMatrix<f64> {
    fn zeros_like(&self) -> Self {
        nalgebra::DMatrix::zeros(self.nrows(), self.ncols())
    }
    #[inline]
    fn axpy(&mut self, a: f64, x: &Self) {
        self.as_mut_slice().iter_mut().zip(x.as_slice()).for_each(|(s, &xi)| *s += a * xi);
    }
    #[inline]
    fn axpby(&mut self, a: f64, x: &Self, b: f64) {
        self.as_mut_slice().iter_mut().zip(x.as_slice()).for_each(|(s, &xi)| *s = a * xi + b * *s);
    }
    #[inline]
    fn copy_from(&mut self, x: &Self) {
        self.copy_from_slice(x.as_slice());
    }
    #[inline]
    fn dot(&self, x: &Self) -> f64 {
        self.as_slice().iter().zip(x.as_slice()).map(|(a, b)| a * b).sum()
    }
    fn is_finite(&self) -> bool {
        self.iter().all(|v| v.is_finite())
    }
}
