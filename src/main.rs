/// The command line runs on a worker of rayon's global pool, not beside it: every parallel
/// operation it starts (the matrix products of network training, which burn's Flex backend hands
/// to `gemm` on rayon, and the ensembles' parallel loops) then splits work from inside the pool
/// instead of queueing a job and sleeping until a worker wakes and finishes it. An epoch of the
/// 784-512-512-512-10 MLP takes about 10% less time (BENCHMARKS.md). Work is divided the same
/// way either way, so results keep their bits. The workers get the main thread's 8 MiB stack.
/// Before that, freed memory is kept for reuse ([`sgd_sde::cli::memory`]).
fn main() {
    sgd_sde::cli::memory::keep_freed_memory();
    let pool = rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build_global();
    let code = match pool {
        Ok(()) => rayon::scope(|_| sgd_sde::cli::main()),
        Err(_) => sgd_sde::cli::main(),
    };
    std::process::exit(code);
}
