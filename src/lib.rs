//! The `caplet` command line as a library (wasmtime's `wasmtime-cli`
//! layout): [`cli`] parses the arguments and runs each subcommand; the
//! `caplet` binary (`main.rs`) only calls [`cli::main`]. The benchmark
//! program links it too, to run itself as `caplet serve` and
//! `caplet isolate-host`.

pub mod cli;
