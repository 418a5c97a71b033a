//! `caplet types` checked by TypeScript's own compiler: `tsc --noEmit
//! --strict` accepts the generated declarations with a worker written
//! against them (pipelined calls, unions, enums, bigint, the built-ins),
//! and rejects a worker that passes a wrong parameter name or type. The
//! `upstream` module does the same for an upstream MCP server's tools.
//!
//! `tsc` (npm `typescript`) is not part of a Rust toolchain, so these tests
//! build only with the `typescript-tests` feature, which CI turns on after
//! installing it: `cargo test --features typescript-tests --test all
//! typescript::`.

use crate::support;

#[cfg(feature = "mcp-tests")]
mod upstream;

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/typescript")
        .join(name)
}

/// Writes the declarations for the test grants into `dir/env.d.ts`.
fn declarations(dir: &Path) -> String {
    let schema = format!("{}:Notes=notes", data("notes.capnp").display());
    let out = Command::new(support::caplet_bin())
        .args([
            "types",
            "--grant",
            "fs=fs:workspace",
            "--grant",
            "kv=kv:main",
        ])
        .args(["--grant", "fetch=http:api.example.com"])
        .args(["--schema", &schema, "--stats"])
        .output()
        .expect("run caplet types");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.starts_with("declarations: "), "{stderr}");
    let text = String::from_utf8(out.stdout).expect("UTF-8 declarations");
    std::fs::write(dir.join("env.d.ts"), &text).expect("write env.d.ts");
    text
}

/// Runs `tsc --noEmit --strict` on the declarations and `script`.
fn tsc(dir: &Path, script: &str) -> (bool, String) {
    std::fs::copy(data(script), dir.join(script)).expect("copy the script");
    let out = Command::new("tsc")
        .current_dir(dir)
        .args(["--noEmit", "--strict"])
        .args(["env.d.ts", script])
        .output()
        .expect("`tsc` runs: npm install typescript (see .ci/run)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn tsc_accepts_a_worker_written_against_the_declarations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = declarations(dir.path());
    assert!(
        text.contains(
            "interface Env {\n  fetch: Gateway;\n  fs: Volume;\n  kv: Store;\n  notes: Notes;\n}"
        ),
        "{text}"
    );
    assert!(
        text.contains("/** Opens the folder at `path`. */"),
        "{text}"
    );
    // A pipelined return type: the capability fields of the results.
    assert!(
        text.contains("open(params: { path: string }): Promise<{ dir: Dir | null; depth: number }> & { dir: Dir };"),
        "{text}"
    );
    let (ok, output) = tsc(dir.path(), "good.ts");
    assert!(ok, "tsc refused good.ts:\n{output}\n{text}");
}

#[test]
fn tsc_rejects_a_wrong_parameter_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    declarations(dir.path());
    let (ok, output) = tsc(dir.path(), "bad_name.ts");
    assert!(!ok, "tsc accepted bad_name.ts");
    assert!(output.contains("bad_name.ts(4,"), "{output}");
    assert!(output.contains("'file' does not exist in type"), "{output}");
}

#[test]
fn tsc_rejects_a_wrong_parameter_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    declarations(dir.path());
    let (ok, output) = tsc(dir.path(), "bad_type.ts");
    assert!(!ok, "tsc accepted bad_type.ts");
    assert!(output.contains("bad_type.ts(4,"), "{output}");
    assert!(
        output.contains("Type 'number' is not assignable to type 'string'"),
        "{output}"
    );
}
