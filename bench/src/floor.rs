//! Floors: what the engine alone costs, in this process, with no RPC. They
//! bound the cold start from below and say where its time goes.
//! A worker context here has exactly the engine's intrinsics
//! (`caplet_isolate_host::engine::WorkerIntrinsics`).

use std::time::Instant;

use caplet_isolate_host::engine::WorkerIntrinsics;
use rquickjs::{Context, Runtime};

use crate::stats::Summary;

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

/// The isolate-host's own compiler on a cache miss (each sample compiles a
/// different source): a fresh compile context in its long-lived runtime,
/// the parse, the bytecode written out, the context dropped.
pub fn compile_in_fresh_context(n: usize, source: &str) -> anyhow::Result<Summary> {
    use caplet_isolate_host::modules::{Compiler, Kind, Source};
    let compiler = Compiler::new(64 << 20, 1 << 20)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let sources = [Source {
            name: "main.js".into(),
            kind: Kind::Js,
            text: format!("{source}\n// {i}"),
        }];
        let start = Instant::now();
        let bytecode = compiler.compile(&sources)?;
        samples.push(start.elapsed());
        anyhow::ensure!(!bytecode.is_empty(), "no bytecode");
    }
    Ok(Summary::times(samples))
}
