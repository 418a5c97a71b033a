//! caplet's benchmark program. Prints median, p90 and p99 of each
//! measurement, the targets of DESIGN.md, and the ratios against peers
//! measured in the same run (Deno Workers, bubblewrap, fork+exec).
//!
//! The program is also a complete `caplet` (it re-executes itself as
//! `serve` and `isolate-host`), so it needs nothing else built.
//!
//! Run: `cargo run --release -p caplet-bench -- [--help]`; the soak program
//! (not a benchmark: mixed load for minutes, memory and descriptors over
//! time) is `cargo run --release -p caplet-bench -- soak [--help]`.

mod floor;
mod measure;
mod memory;
mod peers;
mod provider;
mod report;
mod run;
mod soak;
mod stats;
mod store;

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
        std::process::exit(match caplet_client::cli::main() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    // The client and the embedded broker run here: tuned as `caplet` is.
    caplet_client::cli::no_huge_pages();
    if std::env::args().nth(1).as_deref() == Some("soak") {
        let args = std::env::args().enumerate().filter(|(i, _)| *i != 1);
        return soak::run(soak::Args::parse_from(args.map(|(_, a)| a)));
    }
    run::run(run::Args::parse())
}
