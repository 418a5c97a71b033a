//! caplet's end-to-end tests, one binary (wasmtime's `tests/all/`): each
//! module is one area, and every test starts real processes — the `caplet`
//! binary cargo built for this package (`env!("CARGO_BIN_EXE_caplet")`,
//! see [`support`]), `caplet serve` on temporary sockets and loopback TCP
//! ports, real SQLite files, real HTTP servers on 127.0.0.1.
//!
//! Run one area with a filter: `cargo test --test all remote::`. The
//! suites that need outside tools are modules behind a feature:
//! `python-tests` (pycapnp), `typescript-tests` (`tsc`), `mcp-tests` (the
//! MCP Python SDK); `.ci/run` turns each on.

mod support;

/// The end-to-end tests' own schemas (`tests/schemas/`), compiled by
/// `tests/schemas/build.rs`; at the crate root, where the generated code's paths
/// (`crate::caps_capnp::…`) point.
#[allow(dead_code, clippy::all, clippy::unimplemented)]
mod caps_capnp {
    include!(concat!(env!("OUT_DIR"), "/caps_capnp.rs"));
}

mod args;
mod audit;
mod bounds;
mod builtins;
mod calls;
mod capabilities;
mod cli;
mod codemode;
mod deploy;
mod descriptors;
mod egress;
mod grants;
mod hostile;
mod hostile_input;
mod isolation;
mod library;
#[cfg(feature = "mcp-tests")]
mod mcp;
mod metrics;
mod platform;
#[cfg(feature = "postgres-tests")]
mod postgres;
mod processes;
#[cfg(feature = "python-tests")]
mod python;
mod quotas;
mod remote;
mod routing;
mod types;
#[cfg(feature = "typescript-tests")]
mod typescript;
