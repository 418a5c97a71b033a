//! The `caplet` binary; everything lives in [`caplet_cli`].

/// mimalloc: the broker's time goes largely to allocation in capnp-rpc's
/// bookkeeping (profiled with caplet-bench); QuickJS keeps libc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    caplet_cli::main()
}
