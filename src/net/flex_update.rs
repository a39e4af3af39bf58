//! θ's in-place updates in one pass over Flex's storage.
//!
//! Through burn's API, `θ <- b θ + a x` costs a temporary `a x` and passes over θ, `x` and the
//! temporary (burn 0.21 has no fused axpy), and a gradient step first concatenates the layers'
//! gradient blocks into one vector. Flex (the default CPU backend) exposes its tensors' bytes, so
//! when θ's buffer is held by nothing else and every tensor is contiguous, of θ's dtype (f32 or
//! f64), the update here is one pass that reads θ and `x` (or the blocks, in θ's order) and
//! writes θ.
//!
//! Invariant: the bits of burn's operations on Flex, which round the scalars to the element type
//! and then every product and sum, with no fused multiply-add:
//! - [`Rule::Axpy`]: `θ + x a`, as `θ + x.mul_scalar(a)`;
//! - [`Rule::Axpby`]: `θ b + x a`, as `θ.mul_scalar(b) + x.mul_scalar(a)`;
//! - [`Rule::Decay`]: `θ + (x + θ l2) a`, as `θ + (x + θ.mul_scalar(l2)).mul_scalar(a)`: a
//!   gradient step on the loss gradient `x` plus the weight decay `l2 θ`.
//!
//! The tests below check these bits, and `tests/all/state_seams.rs` checks
//! [`Params`](super::Params)' operations against the `Vec<f64>` formulas.

use burn::tensor::{backend::Backend, DType, Element, ElementConversion, Tensor, TensorPrimitive};
use burn_flex::FlexTensor;
use rayon::prelude::*;
use std::any::Any;
use std::ops::{Add, Mul};

/// Elements per parallel task: large enough that a task's cost dwarfs rayon's (tens of µs).
const CHUNK: usize = 1 << 16;

/// `θ_i <- f(θ_i, x_i)`, with the scalars of the rule (see the module's invariant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule<E = f64> {
    Axpy { a: E },
    Axpby { a: E, b: E },
    Decay { a: E, l2: E },
}

impl Rule {
    /// The rule with its scalars rounded to `E`, as burn's `mul_scalar` rounds them.
    fn to<E: Element>(self) -> Rule<E> {
        match self {
            Rule::Axpy { a } => Rule::Axpy { a: a.elem() },
            Rule::Axpby { a, b } => Rule::Axpby { a: a.elem(), b: b.elem() },
            Rule::Decay { a, l2 } => Rule::Decay { a: a.elem(), l2: l2.elem() },
        }
    }
}

/// `θ <- f(θ, x)` by `rule`, `x` the concatenation of `blocks`, in one pass when the backend is
/// Flex and the buffers allow it (`Ok`); otherwise θ back unchanged (`Err`), for burn's
/// operations to do it.
pub fn update<K: Backend>(
    theta: Tensor<K, 1>,
    rule: Rule,
    blocks: &[Tensor<K, 1>],
) -> Result<Tensor<K, 1>, Tensor<K, 1>> {
    let mut t = theta.into_primitive().tensor();
    let blocks: Vec<_> = blocks.iter().map(|b| b.clone().into_primitive().tensor()).collect();
    let flex_blocks: Option<Vec<&FlexTensor>> =
        blocks.iter().map(|b| (b as &dyn Any).downcast_ref::<FlexTensor>()).collect();
    let done = match ((&mut t as &mut dyn Any).downcast_mut::<FlexTensor>(), flex_blocks) {
        (Some(t), Some(blocks)) => match t.dtype() {
            DType::F32 => typed::<f32>(t, rule.to(), &blocks),
            DType::F64 => typed::<f64>(t, rule.to(), &blocks),
            _ => false,
        },
        _ => false,
    };
    let theta = Tensor::from_primitive(TensorPrimitive::Float(t));
    if done {
        Ok(theta)
    } else {
        Err(theta)
    }
}

/// The update on Flex's storage; false, with nothing written, where it cannot be done in place.
fn typed<E>(t: &mut FlexTensor, rule: Rule<E>, blocks: &[&FlexTensor]) -> bool
where
    E: Element + bytemuck::Pod + Mul<Output = E> + Add<Output = E>,
{
    let Some((start, end)) = t.layout().contiguous_offsets() else {
        return false;
    };
    let Some(xs) = blocks.iter().map(|b| b.as_slice::<E>()).collect::<Option<Vec<&[E]>>>() else {
        return false;
    };
    if xs.iter().map(|x| x.len()).sum::<usize>() != end - start {
        return false;
    }
    let Some(storage) = t.try_storage_mut::<E>() else {
        return false;
    };
    let mut theta = &mut storage[start..end];
    for x in xs {
        let (here, rest) = theta.split_at_mut(x.len());
        here.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(t, x)| apply(rule, t, x));
        theta = rest;
    }
    true
}

/// One chunk of the update (a loop per rule, so that each vectorises).
#[inline]
fn apply<E: Copy + Mul<Output = E> + Add<Output = E>>(rule: Rule<E>, t: &mut [E], x: &[E]) {
    let pairs = t.iter_mut().zip(x);
    match rule {
        Rule::Axpy { a } => pairs.for_each(|(t, &x)| *t = *t + x * a),
        Rule::Axpby { a, b } => pairs.for_each(|(t, &x)| *t = *t * b + x * a),
        Rule::Decay { a, l2 } => pairs.for_each(|(t, &x)| *t = *t + (x + *t * l2) * a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::backend::flex_bits as bits;
    use burn::backend::Flex;
    use burn::tensor::{DType, TensorData};
    use rand::{Rng, SeedableRng};

    fn flex(values: &[f64], dtype: DType) -> Tensor<Flex, 1> {
        let t = Tensor::from_data(
            TensorData::new(values.to_vec(), [values.len()]),
            (&Default::default(), dtype),
        );
        assert_eq!(t.dtype(), dtype);
        t
    }

    /// One pass gives the bits of burn's operations for every rule, in f32 and f64, for lengths
    /// below, at and above a parallel chunk, with `x` whole or in blocks (a fused multiply-add,
    /// or `(θ + x a / b) b` for the second rule, fails).
    #[test]
    fn the_fused_update_gives_the_bits_of_burns_operations() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        for dtype in [DType::F32, DType::F64] {
            for n in [1, 7, CHUNK, 3 * CHUNK + 5] {
                let theta: Vec<f64> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
                let x: Vec<f64> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
                let (a, b) = (-rng.random_range(0.01..0.5), rng.random_range(0.5..1.0));
                let xt = flex(&x, dtype);
                let split = [0, n / 3, n / 3 + n.div_ceil(2), n];
                let blocks: Vec<_> =
                    split.windows(2).map(|w| flex(&x[w[0]..w[1]], dtype)).collect();
                for rule in [Rule::Axpy { a }, Rule::Axpby { a, b }, Rule::Decay { a, l2: b }] {
                    let th = flex(&theta, dtype);
                    let reference = match rule {
                        Rule::Axpy { a } => th + xt.clone().mul_scalar(a),
                        Rule::Axpby { a, b } => th.mul_scalar(b) + xt.clone().mul_scalar(a),
                        Rule::Decay { a, l2 } => {
                            th.clone() + (xt.clone() + th.mul_scalar(l2)).mul_scalar(a)
                        }
                    };
                    let whole = update(flex(&theta, dtype), rule, std::slice::from_ref(&xt));
                    let in_blocks = update(flex(&theta, dtype), rule, &blocks);
                    let expected = bits(reference);
                    assert_eq!(
                        bits(whole.expect("a unique θ")),
                        expected,
                        "{dtype:?} {n} {rule:?}"
                    );
                    assert_eq!(
                        bits(in_blocks.expect("a unique θ")),
                        expected,
                        "{dtype:?} {n} {rule:?}"
                    );
                }
            }
        }
    }

    /// A θ whose buffer is shared (a copy elsewhere would see the write), or whose length or dtype
    /// differs from the blocks', is handed back untouched.
    #[test]
    fn a_shared_or_mismatched_theta_is_left_to_burn() {
        let rule = Rule::Axpy { a: 1.0 };
        let theta = flex(&[1.0, 2.0, 3.0], DType::F32);
        let copy = theta.clone();
        let back = update(theta, rule, &[flex(&[1.0; 3], DType::F32)]).expect_err("shared");
        assert_eq!(bits(back), bits(copy.clone()));
        let short = update(copy.clone() * 1.0, rule, &[flex(&[1.0; 2], DType::F32)]);
        assert_eq!(bits(short.expect_err("length")), bits(copy.clone()));
        let long = [flex(&[1.0; 2], DType::F32), flex(&[1.0; 2], DType::F32)];
        assert_eq!(bits(update(copy.clone() * 1.0, rule, &long).expect_err("length")), bits(copy));
        let mixed = update(flex(&[1.0], DType::F32), rule, &[flex(&[1.0], DType::F64)]);
        assert!(mixed.is_err(), "f32 θ with an f64 x");
    }
}
