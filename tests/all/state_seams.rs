//! The seam between the integrators and the networks: `Params` (a burn tensor) must do what the
//! reference `Vec<f64>` implementation of [`State`] does, so a rule tested on quadratics is the
//! same rule on a network.

use proptest::prelude::*;
use sgd_sde::net::{CpuF32, CpuF64, Params};
use sgd_sde::state::State;

fn params<B: burn::tensor::backend::Backend>(v: &[f64]) -> Params<B> {
    Params::<B>::from_vec(v, &Default::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// In f64 every operation is bit-identical to the `Vec<f64>` formulas.
    #[test]
    fn params_f64_match_vec_bit_for_bit(
        pair in (1usize..40).prop_flat_map(|n| (
            proptest::collection::vec(-1e3f64..1e3, n),
            proptest::collection::vec(-1e3f64..1e3, n),
        )),
        a in -10.0f64..10.0,
        b in -10.0f64..10.0,
    ) {
        let (x, y) = pair;
        let (mut vx, vy) = (x.clone(), y.clone());
        let (mut px, py) = (params::<CpuF64>(&x), params::<CpuF64>(&y));
        vx.axpy(a, &vy);
        px.axpy(a, &py);
        prop_assert_eq!(px.to_vec(), vx.clone());
        vx.axpby(a, &vy, b);
        px.axpby(a, &py, b);
        prop_assert_eq!(px.to_vec(), vx.clone());
        let (d_vec, d_par) = (vx.dot(&vy), px.dot(&py));
        // The dot product's summation order is the backend's: equal to rounding of the sum.
        let scale: f64 = vx.iter().zip(&vy).map(|(p, q)| (p * q).abs()).sum();
        prop_assert!((d_vec - d_par).abs() <= 1e-14 * scale.max(1e-300));
        let mut pc = px.zeros_like();
        prop_assert!(pc.to_vec().iter().all(|&v| v == 0.0));
        pc.copy_from(&py);
        prop_assert_eq!(pc.to_vec(), y);
    }

    /// In f32 the same formulas hold to the f32 rounding of each operation.
    #[test]
    fn params_f32_match_vec_to_f32_rounding(
        pair in (1usize..40).prop_flat_map(|n| (
            proptest::collection::vec(-1e3f64..1e3, n),
            proptest::collection::vec(-1e3f64..1e3, n),
        )),
        a in -10.0f64..10.0,
        b in -10.0f64..10.0,
    ) {
        let (x, y) = pair;
        let x: Vec<f64> = x.iter().map(|&v| v as f32 as f64).collect();
        let y: Vec<f64> = y.iter().map(|&v| v as f32 as f64).collect();
        let (mut vx, vy) = (x.clone(), y.clone());
        let (mut px, py) = (params::<CpuF32>(&x), params::<CpuF32>(&y));
        vx.axpby(a, &vy, b);
        px.axpby(a, &py, b);
        for ((p, v), (xi, yi)) in px.to_vec().iter().zip(&vx).zip(x.iter().zip(&y)) {
            let bound = 4.0 * f32::EPSILON as f64 * ((a * yi).abs() + (b * xi).abs()) + 1e-30;
            prop_assert!((p - v).abs() <= bound, "{} vs {}", p, v);
        }
    }
}

#[test]
fn params_finiteness_is_element_wise() {
    // Finite entries whose sum overflows f32: still finite.
    assert!(params::<CpuF32>(&[3e38, 3e38, -1.0]).is_finite());
    assert!(vec![3e38, 3e38, -1.0].is_finite());
    // One NaN or one infinity anywhere: not finite, like the Vec<f64> reference.
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for at in 0..3 {
            let mut v = vec![1.0, -2.0, 0.5];
            v[at] = bad;
            assert!(!v.is_finite());
            assert!(!params::<CpuF32>(&v).is_finite(), "{bad} at {at} (f32)");
            assert!(!params::<CpuF64>(&v).is_finite(), "{bad} at {at} (f64)");
        }
    }
    // +inf and -inf together (a sum would give NaN; a product of sums could hide it).
    assert!(!params::<CpuF64>(&[f64::INFINITY, f64::NEG_INFINITY]).is_finite());
    assert!(params::<CpuF64>(&[0.0; 5]).is_finite());
}
