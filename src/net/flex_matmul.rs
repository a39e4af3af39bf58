//! Matrix products on Flex's storage, into output buffers that are not copied again.
//!
//! burn-flex 0.21 allocates a product's output with `FlexTensor::empty`, which zeroes a byte
//! vector and then copies it whole into a second allocation, to raise the alignment that the
//! buffer declares (cubecl-common's `Bytes::from_bytes_vec`): per product, two allocations and
//! two passes over the output besides gemm's own work. A profile of a training epoch put a tenth of
//! the main thread's time there. [`matmul`] makes the same `gemm::gemm` call, with the same
//! arguments (the operands' strides, so transposed views are not copied; `Parallelism::Rayon(0)`
//! from 192^3 multiply-adds, as burn-flex), into a typed vector that becomes the product's storage
//! as it is.
//!
//! Invariant: the bits of `Tensor::matmul` on Flex (tested below). Any other backend, or a dtype
//! other than f32 and f64, takes `Tensor::matmul` itself.

use burn::tensor::{backend::Backend, Bytes, DType, Element, Shape, Tensor, TensorPrimitive};
use burn_flex::{FlexTensor, Layout};
use std::any::Any;

/// Multiply-adds from which burn-flex lets gemm use every thread of the pool.
const PARALLEL_FROM: usize = 192 * 192 * 192;

/// `a b` for `a` of shape `m x k` and `b` of shape `k x n`.
pub fn matmul<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    let a = a.into_primitive().tensor();
    let b = b.into_primitive().tensor();
    let product = match (as_flex(&a), as_flex(&b)) {
        (Some(fa), Some(fb)) if fa.dtype() == fb.dtype() => match fa.dtype() {
            DType::F32 => Some(gemm_product::<f32>(fa, fb, 0.0, 1.0)),
            DType::F64 => Some(gemm_product::<f64>(fa, fb, 0.0, 1.0)),
            _ => None,
        },
        _ => None,
    };
    match product {
        Some(p) => {
            let mut slot: Option<B::FloatTensorPrimitive> = None;
            *(&mut slot as &mut dyn Any)
                .downcast_mut::<Option<FlexTensor>>()
                .expect("the operands were Flex tensors, so the backend is Flex") = Some(p);
            Tensor::from_primitive(TensorPrimitive::Float(slot.expect("just set")))
        }
        None => {
            let a: Tensor<B, 2> = Tensor::from_primitive(TensorPrimitive::Float(a));
            a.matmul(Tensor::from_primitive(TensorPrimitive::Float(b)))
        }
    }
}

/// `t` as a Flex tensor, if that is the backend.
fn as_flex<T: Any>(t: &T) -> Option<&FlexTensor> {
    (t as &dyn Any).downcast_ref::<FlexTensor>()
}

/// The product of two rank-2 Flex tensors of element type `T` through gemm, written into a new
/// contiguous buffer: `dst = zero dst + one (a b)` with `dst` not read, as burn-flex calls it.
fn gemm_product<T: Element + bytemuck::Pod>(
    a: &FlexTensor,
    b: &FlexTensor,
    zero: T,
    one: T,
) -> FlexTensor {
    let (sa, sb) = (a.layout().shape(), b.layout().shape());
    assert!(sa.num_dims() == 2 && sb.num_dims() == 2, "matmul: rank-2 operands");
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    assert_eq!(k, sb[0], "matmul: inner dimensions must match");
    let (ra, ca) = (a.layout().strides()[0], a.layout().strides()[1]);
    let (rb, cb) = (b.layout().strides()[0], b.layout().strides()[1]);
    let size = m.checked_mul(n).expect("matmul: output size overflows usize");
    let mut out = vec![zero; size];
    let parallelism = if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FROM {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the operands' pointers, shapes and strides come from their layouts, which keep every
    // element they address inside their storage; `out` holds the m x n row-major product, which
    // gemm writes without reading (`read_dst` false).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.storage::<T>().as_ptr().add(a.layout().start_offset()),
            ca,
            ra,
            b.storage::<T>().as_ptr().add(b.layout().start_offset()),
            cb,
            rb,
            zero,
            one,
            false,
            false,
            false,
            parallelism,
        );
    }
    FlexTensor::new(Bytes::from_elems(out), Layout::contiguous(Shape::from(vec![m, n])), T::dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::backend::flex_bits as bits;
    use burn::backend::Flex;
    use burn::tensor::TensorData;
    use rand::{Rng, SeedableRng};

    fn random(rows: usize, cols: usize, dtype: DType, seed: u64) -> Tensor<Flex, 2> {
        let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let v: Vec<f64> = (0..rows * cols).map(|_| r.random::<f64>() * 2.0 - 1.0).collect();
        let t = Tensor::from_data(TensorData::new(v, [rows, cols]), (&Default::default(), dtype));
        assert_eq!(t.dtype(), dtype);
        t
    }

    /// The same bits as burn's own product, for plain and transposed operands, below and above
    /// the size from which gemm runs in parallel, in f32 and f64; and a dtype's product keeps it.
    #[test]
    fn products_have_the_bits_of_burns_matmul() {
        for dtype in [DType::F32, DType::F64] {
            for (m, k, n) in [(3, 5, 2), (128, 784, 512), (512, 128, 512), (1, 7, 1)] {
                let a = random(m, k, dtype, 1);
                let b = random(k, n, dtype, 2);
                let ours = matmul(a.clone(), b.clone());
                assert_eq!(ours.dtype(), dtype);
                assert_eq!(ours.dims(), [m, n]);
                assert_eq!(bits(ours), bits(a.clone().matmul(b.clone())), "{dtype:?} {m}x{k}x{n}");
                // aᵀ c and c bᵀ, the back-propagation's products, through transposed views.
                let c = random(m, n, dtype, 3);
                let at_c = matmul(a.clone().transpose(), c.clone());
                assert_eq!(bits(at_c), bits(a.clone().transpose().matmul(c.clone())));
                let c_bt = matmul(c.clone(), b.clone().transpose());
                assert_eq!(bits(c_bt), bits(c.matmul(b.transpose())));
            }
        }
    }

    /// A changed operand changes the product: the comparison above can fail.
    #[test]
    fn a_perturbed_operand_gives_other_bits() {
        let a = random(16, 8, DType::F32, 1);
        let b = random(8, 4, DType::F32, 2);
        let nudged = b.clone().add_scalar(1e-3);
        assert_ne!(bits(matmul(a.clone(), nudged)), bits(a.matmul(b)));
    }
}
