//! Training must not grow memory with the number of steps, nor the curvature probes with the
//! number of calls.
//!
//! burn 0.21's autodiff registers every operation on its tensors in a graph, tracked or not, and
//! frees that graph only in a backward pass. Written-out back-propagation never runs one, so the
//! training loop (the integrators' `State` operations on θ, the minibatch weights, the loss and
//! test evaluations) must keep its arithmetic on the inner backend. Before that was so, a long
//! run grew by a few KB per step (a 30-epoch batch-size sweep reached 7 GB in two minutes).
//!
//! The check counts live heap bytes with a counting allocator (its own test binary, so no other
//! test's allocations interfere): after 2,000 more steps the live bytes may not have grown by
//! more than 256 KB (the leak was about 2.5 KB per step: 5 MB). Control: the same count over
//! 2,000 untracked operations on an autodiff tensor does grow, so the check can fail. The probes
//! (Lanczos, Hutchinson, power iteration) do their vector algebra on the inner backend for the
//! same reason: before they did, each Lanczos run of 20 steps left its graph entries behind.
//!
//! The tests hold one lock, so no other test's allocations fall inside a count.

use sgd_sde::net::data::teacher_student;
use sgd_sde::net::probes::{
    covariance_probe, hessian_stats, lambda_max, noise_scales, spectral_density, top_eigenpairs,
};
use sgd_sde::net::train::{epoch_marks, run, EvalSet, LearningCurve, TrainSpec};
use sgd_sde::net::{Architecture, CpuF32, CpuF64, Model, NetworkProblem, NoiseMode, Params};
use sgd_sde::problems::Sampling;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Mutex;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

type B = CpuF32;
const MAX_GROWTH: isize = 256 * 1024;

/// The live heap bytes gained over `f`, counted while its result is still held.
fn growth_over<T>(f: impl FnOnce() -> T) -> (isize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    let out = f();
    (LIVE.load(Ordering::Relaxed) - before, out)
}

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn training_does_not_grow_memory_with_steps_and_untracked_autodiff_ops_would() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let data = teacher_student(64, 8, 4, 3, 1);
    let model = Model::new(Architecture::new(vec![8, 6, 3]).unwrap());
    let dev = Default::default();
    let mode = NoiseMode::Minibatch(Sampling::WithoutReplacement);
    let problem = NetworkProblem::<B>::new(model.clone(), &data, 4, mode, 1e-3, &dev).unwrap();
    // Heavy ball (momentum 0.5) exercises axpy, axpby and copy_from; the curve records the full
    // loss and the test metrics every 100 steps (marks of 100-step "epochs").
    let train = |theta: &mut Params<B>, steps: usize| {
        let mut curve = LearningCurve {
            model: model.clone(),
            test: EvalSet::new(&model, &data, &data, &dev),
            marks: epoch_marks(steps, 100.0),
            records: Vec::new(),
        };
        let spec = TrainSpec::sgd(0.05, 0.5, steps as f64 / 16.0, 3);
        run(&problem, theta, &spec, steps, &mut curve).unwrap();
        assert_eq!(curve.records.len(), steps / 100 + 1);
    };
    let mut theta = model.init::<B>(1, &dev);
    train(&mut theta, 200); // warm-up: allocator pools, thread-locals, lazily built tables
    let (growth, ()) = growth_over(|| train(&mut theta, 2000));
    eprintln!("training: {growth} bytes more after 2,000 steps");
    assert!(growth < MAX_GROWTH, "2,000 training steps left {growth} more live bytes");

    // Control: untracked operations on the autodiff tensor itself are kept by burn's graph.
    let (growth, t) = growth_over(|| {
        let mut t = theta.tensor.clone();
        for _ in 0..2000 {
            t = t.mul_scalar(1.0);
        }
        t
    });
    eprintln!("control: {growth} bytes more after 2,000 untracked autodiff operations");
    drop(t);
    assert!(
        growth > MAX_GROWTH,
        "the control should grow (burn keeps a graph entry per operation); grew {growth} bytes"
    );
}

#[test]
fn curvature_probes_do_not_grow_memory_with_calls() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let data = teacher_student(64, 8, 6, 3, 2);
    let model = Model::new(Architecture::new(vec![8, 6, 3]).unwrap());
    let dev = Default::default();
    let p =
        NetworkProblem::<CpuF64>::new(model.clone(), &data, 64, NoiseMode::FullBatch, 1e-3, &dev)
            .unwrap();
    let theta = model.init::<CpuF64>(1, &dev);
    // One call of each probe: 20 Lanczos steps, 10 Hutchinson probes, up to 20 power iterations,
    // the noise scales from 16 examples and 5 covariance probes.
    let mean = p.full_gradient(&theta.tensor).inner();
    let probe_all = || {
        let top = top_eigenpairs(&p, &theta, 2, 20, 1e-5, 3);
        let stats = hessian_stats(&p, &theta, 10, 1e-5, 4);
        let power = lambda_max(&p, &theta, 1e-5, 20, 1e-12, 5);
        let density = spectral_density(&p, &theta, 10, 2, 1e-5, 6);
        assert!(top.values[0].is_finite() && stats.trace.value.is_finite());
        assert!(power.lambda.is_finite() && density.nodes.iter().all(|x| x.is_finite()));
        let scales = noise_scales(&p, &data, &theta, 16, 7).unwrap();
        assert!(scales.b_noise.is_finite());
        let mut r = sgd_sde::rng::stream(8, 0);
        for _ in 0..5 {
            let _ = covariance_probe(&p, &theta, &mean, &mut r);
        }
    };
    probe_all(); // warm-up
    let (growth, ()) = growth_over(|| (0..20).for_each(|_| probe_all()));
    eprintln!("probes: {growth} bytes more after 20 rounds of every probe");
    assert!(growth < MAX_GROWTH, "20 rounds of the probes left {growth} more live bytes");
}
