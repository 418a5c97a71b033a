//! Conformance of the Web platform layer, written as data (deno_core's
//! `testing/` style): every `tests/platform/NAME.js` is a worker module run
//! with `caplet run NAME.js` against one real `caplet serve`, and its output
//! is compared with `tests/platform/NAME.out`.
//!
//! The `.out` format is what `caplet run` prints, stderr first: each console
//! line as `[level] text` (`[log]`, `[warn]`, `[error]`, `[debug]`), then
//! either `=> ` followed by the result JSON (stdout) when the invocation
//! succeeded, or the `error: …` lines when it failed. The files are
//! written from the standards' examples and edge cases, never generated
//! from caplet's own output.
//!
//! Adding a case: drop `NAME.js` (its default export is the entrypoint
//! `run`) and `NAME.out` next to each other; `cargo test --test all
//! platform::` runs them all and lists every mismatch.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{caplet_bin, Server};

/// What `caplet run` printed for one case, in the `.out` format.
fn run_case(socket: &Path, script: &Path) -> String {
    let out = Command::new(caplet_bin())
        .arg("run")
        .arg(script)
        .arg("--connect")
        .arg(socket)
        .output()
        .expect("run caplet");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        text.push_str("=> ");
        text.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    text
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/platform");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/platform")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "js"))
        .collect();
    cases.sort();
    cases
}

#[test]
fn platform_conformance() {
    let cases = cases();
    assert!(!cases.is_empty(), "no cases in tests/platform");
    let server = Server::start(1);
    let mut failures = Vec::new();
    for script in &cases {
        let expected_path = script.with_extension("out");
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            failures.push(format!("{}: no .out file next to it", script.display()));
            continue;
        };
        let actual = run_case(&server.socket, script);
        if actual.trim_end() != expected.trim_end() {
            failures.push(format!(
                "{}\n--- expected\n{}\n--- actual\n{}",
                script.file_name().unwrap().to_string_lossy(),
                expected.trim_end(),
                actual.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
