//! Floors: what the engine alone costs, in this process, with no RPC. They
//! bound the cold start from below and say where its time goes.
//!
//! The worker intrinsics are the list of `isolate-host/src/engine.rs`
//! (repeated here: that list is private to the engine boundary).

use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::{Context, Module, Runtime};

use crate::stats::Summary;

type WorkerIntrinsics = (
    intrinsic::Date,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

/// A worker's runtime and context created and dropped, `n` times.
pub fn runtime_and_context(n: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let runtime = Runtime::new()?;
        runtime.set_memory_limit(64 << 20);
        runtime.set_max_stack_size(1 << 20);
        let context = Context::custom::<WorkerIntrinsics>(&runtime)?;
        drop(context);
        drop(runtime);
        samples.push(start.elapsed());
    }
    Ok(Summary::times(samples))
}

/// A compiler context (`Eval` only) in a long-lived runtime, created,
/// used to compile a trivial module to bytecode, and dropped, `n` times:
/// what the isolate-host's compiler does per worker.
pub fn compile_in_fresh_context(n: usize, source: &str) -> anyhow::Result<Summary> {
    let runtime = Runtime::new()?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let context = Context::custom::<intrinsic::Eval>(&runtime)?;
        let bytes = context.with(|ctx| -> rquickjs::Result<Vec<u8>> {
            let module = Module::declare(ctx.clone(), "main.js", source)?;
            module.write(rquickjs::module::WriteOptions::default())
        })?;
        drop(context);
        samples.push(start.elapsed());
        anyhow::ensure!(!bytes.is_empty(), "no bytecode");
    }
    Ok(Summary::times(samples))
}
