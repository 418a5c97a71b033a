//! The Python example (`examples/python/`) end to end: pycapnp, with only the
//! schemas, against a real `caplet serve`.
//!
//! pycapnp is not part of a Rust toolchain, so these tests build only with
//! the `python-tests` feature, which CI turns on after installing pycapnp:
//! `cargo test --features python-tests --test all python::`.

use crate::support;

use std::process::Command;

use support::Server;

/// Fails the test, naming the fix, unless `python3` can import pycapnp.
fn require_pycapnp() {
    let ok = Command::new("python3")
        .args(["-c", "import capnp"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        ok,
        "`python3 -c 'import capnp'` fails: pip install pycapnp==2.2.4"
    );
}

fn run_example(server: &Server, extra: &[&str]) -> (i32, String, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python/run_worker.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--socket")
        .arg(&server.socket)
        .args(extra)
        .output()
        .expect("run python3");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn python_grants_a_capability_that_javascript_calls_with_pipelining() {
    require_pycapnp();
    let server = Server::start(1);
    let (code, stdout, stderr) = run_example(&server, &[]);
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON on stdout");
    assert_eq!(out["total"], 4 * 250 + 2 * 1999);
    assert_eq!(out["lines"][0]["available"], true);
    assert_eq!(out["lines"][1]["available"], false);
    assert_eq!(
        out["lookups"],
        serde_json::json!(["A1", "B2"]),
        "each lookup reached Python once"
    );
    assert!(stderr.contains("priced 2 lines"), "{stderr}");
}

#[test]
fn a_python_exception_reaches_javascript_as_an_rpc_error() {
    require_pycapnp();
    let server = Server::start(1);
    let (code, _, stderr) = run_example(&server, &["--order", r#"[{"sku": "ZZ", "quantity": 1}]"#]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("error: exception: RpcError:"), "{stderr}");
    assert!(
        stderr.contains("RpcError: KeyError: 'unknown sku: ZZ'"),
        "{stderr}"
    );
}

#[test]
fn python_calls_a_typed_capability_implemented_in_javascript() {
    require_pycapnp();
    let server = Server::start(1);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/python/call_worker.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg("--socket")
        .arg(&server.socket)
        .args(["A1", "B2", "ZZ"])
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(got["A1"], serde_json::json!({ "cents": 250, "count": 10 }));
    assert_eq!(got["B2"], serde_json::json!({ "cents": 1999, "count": 1 }));
    let error = got["ZZ"]["error"].as_str().unwrap();
    assert!(error.ends_with("RangeError: unknown sku: ZZ"), "{error}");
}

/// A Python client and a Rust client, connected at the same time as two
/// principals (two tokens over TCP), cannot reach each other's volumes or
/// cached worker ids; the same principal reconnecting finds both again.
#[test]
fn principals_are_isolated_across_python_and_rust_clients() {
    require_pycapnp();
    const ALICE: &str = "alice-token-0123456789abcdef";
    const BOB: &str = "bob-token-0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("alice:{ALICE}\nbob:{BOB}\n")).unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(
        1,
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            tokens.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    let python = |extra: &[&str]| -> serde_json::Value {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/principal.py");
        let out = Command::new("python3")
            .arg(script)
            .args(["--tcp", server.tcp(), "--token", ALICE])
            .args(extra)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from principal.py")
    };

    // Alice (Python) writes her volume and starts her cached worker.
    assert_eq!(
        python(&["--write", "alice"]),
        serde_json::json!({ "owner": "alice", "calls": 1 })
    );

    support::block_on(async {
        use caplet_client::{Builtin, Connection, WorkerCode};
        // Bob (Rust), connected while Alice's worker lives, sees neither.
        let bob = Connection::connect_tcp(server.tcp(), BOB).await.unwrap();
        let volume: caplet::fs_capnp::volume::Client =
            bob.builtin(&Builtin::fs("workspace")).await.unwrap();
        let mut stat = volume.stat_request();
        stat.get().set_path("/owner.txt");
        let exists = stat
            .send()
            .promise
            .await
            .unwrap()
            .get()
            .unwrap()
            .get_exists();
        assert!(!exists, "bob sees alice's file");
        let counter = WorkerCode::new(
            "counter.js",
            "let calls = 0; export default { run: () => ++calls };",
        );
        let worker = bob.get("shared-id", &counter).await.unwrap();
        assert_eq!(
            worker.invoke("run", "null").await.unwrap().output,
            "1",
            "bob got alice's worker"
        );

        // Alice reconnects (a new Python process): her volume and her worker.
        assert_eq!(
            python(&[]),
            serde_json::json!({ "owner": "alice", "calls": 2 })
        );
    });
}
