//! Keeps memory that the program frees for its next use, instead of handing it back to the kernel.
//!
//! glibc's malloc returns the free top of a heap to the kernel once it exceeds the trim threshold
//! (128 KiB, raised dynamically to twice the largest freed mmap'ed block) and serves large blocks
//! by fresh `mmap`s. The exact Hessian-vector products allocate and free many megabyte-sized
//! temporaries per product (4 MB for one 1000 x 512 f64 activation), so their pages went back and
//! forth: of the 620,000 page faults in one `net bench --probes 20`, about 470,000 came from
//! there, each a kernel entry and a page zeroed (training epochs added none). With the thresholds
//! below the freed pages stay mapped: 160,000 page faults, 140,000 of them loading the data, and
//! one f64 HVP 0.138-0.143 s against 0.148-0.179 s on the 2-core EPYC (BENCHMARKS.md). The
//! resident memory then stays at its peak instead of falling back after it; the peak itself does
//! not change. Values do not change either: this is only where memory comes from.

/// Sets the thresholds (glibc on Linux; elsewhere nothing). Call once, before any threads start.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // <malloc.h>'s parameter numbers.
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_TOP_PAD: i32 = -2;
        const M_MMAP_THRESHOLD: i32 = -3;
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
        // A value it refuses leaves glibc's default in place (the return value says so; either
        // way the program is correct).
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's largest allowed value on 64-bit
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
            mallopt(M_TOP_PAD, 64 << 20);
        }
    }
}
