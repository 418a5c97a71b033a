//! The Python example (`examples/python/`) end to end: pycapnp, with only the
//! schemas, against a real `caplet serve`.
//!
//! pycapnp is not part of a Rust toolchain, so on a machine without it these
//! tests say so and return; CI installs it and sets `CAPLET_REQUIRE_PYTHON=1`,
//! which turns a missing pycapnp into a failure.

mod support;

use std::process::Command;

use support::Server;

/// Whether `python3` can import pycapnp; panics if it cannot but must.
fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import capnp"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !ok {
        assert!(
            std::env::var_os("CAPLET_REQUIRE_PYTHON").is_none(),
            "CAPLET_REQUIRE_PYTHON is set but `python3 -c 'import capnp'` fails: pip install pycapnp"
        );
        eprintln!("pycapnp is not installed: the Python example was not run (pip install pycapnp)");
    }
    ok
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
    if !python_ready() {
        return;
    }
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
    if !python_ready() {
        return;
    }
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
    if !python_ready() {
        return;
    }
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
