//! caplet's benchmark program. Prints median, p90 and p99 of each
//! measurement, the targets of DESIGN.md, and the ratios against peers
//! measured in the same run (workerd's Worker Loader, Deno Workers,
//! bubblewrap, fork+exec), throughput across concurrent clients, chains of
//! calls over a delayed link, and (`--svg DIR`) charts of it all.
//!
//! The program is also a complete `caplet` (it re-executes itself as
//! `serve` and `isolate-host`), so it needs nothing else built.
//!
//! Run: `cargo run --release -p caplet-bench -- [--help]`; the soak program
//! (not a benchmark: mixed load for minutes, memory and descriptors over
//! time) is `cargo run --release -p caplet-bench -- soak [--help]`.

mod brokers;
mod call_log;
mod charts;
mod floor;
mod measure;
mod memory;
mod peers;
mod platform;
mod provider;
mod relay;
mod report;
mod run;
mod soak;
mod stats;
mod store;
mod throughput;
mod workerd;

use clap::Parser;

/// The same global allocator as the `caplet` binary: this program runs
/// itself as the broker and the isolate-hosts it measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Re-executed as a broker or an isolate-host: behave exactly like `caplet`.
    if matches!(
        std::env::args().nth(1).as_deref(),
        Some("serve" | "isolate-host")
    ) {
        std::process::exit(match caplet_cli::main() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    // The client and the embedded broker run here: tuned as `caplet` is.
    caplet_cli::no_huge_pages();
    if std::env::args().nth(1).as_deref() == Some("soak") {
        let args = std::env::args().enumerate().filter(|(i, _)| *i != 1);
        return soak::run(soak::Args::parse_from(args.map(|(_, a)| a)));
    }
    if std::env::args().nth(1).as_deref() == Some("relay") {
        let args = std::env::args().enumerate().filter(|(i, _)| *i != 1);
        return relay::main(relay::Args::parse_from(args.map(|(_, a)| a)));
    }
    run::run(run::Args::parse())
}
