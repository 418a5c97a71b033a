//! `caplet mcp` without the Python SDK (so `cargo test --workspace` covers
//! it): grants and limits from `caplet.toml`'s `[mcp]` section, over raw
//! JSON-RPC lines on stdio; and the refusal to serve HTTP off loopback
//! without a token file.

use crate::support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

fn read_answer(reader: &mut impl BufRead, id: i64) -> Value {
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "stdout closed"
        );
        let message: Value = serde_json::from_str(&line).expect("one JSON message per line");
        if message["id"] == json!(id) {
            return message;
        }
    }
}

#[test]
fn mcp_takes_grants_and_limits_from_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("caplet.toml");
    std::fs::write(
        &config,
        "[mcp]\ngrants = { store = \"kv:main\" }\nlimits = { cpuTimeMs = 100 }\nmax_chars = 10\n",
    )
    .expect("config");
    let mut child = Command::new(support::caplet_bin())
        .arg("mcp")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn caplet mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut send = |message: Value| writeln!(stdin, "{message}").expect("send");
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}}),
    );
    read_answer(&mut stdout, 1);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let execute = |id: i64, code: &str| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": "execute", "arguments": {"code": code}}})
    };
    send(execute(
        2,
        "await env.store.put({ key: 'k', value: new Uint8Array([7]) }); \
         const r = await env.store.get({ key: 'k' }); return r.value[0];",
    ));
    send(execute(3, "for (;;) {}"));
    send(execute(
        4,
        "console.log('0123456789abc'); return 'x'.repeat(20)",
    ));
    // The three run at once: their answers come in any order.
    let mut answers = std::collections::HashMap::new();
    while answers.len() < 3 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "stdout closed"
        );
        let message: Value = serde_json::from_str(&line).expect("one JSON message per line");
        answers.insert(message["id"].as_i64().expect("an id"), message);
    }
    let stored = &answers[&2];
    assert_eq!(
        stored["result"]["structuredContent"]["result"], 7,
        "{stored}"
    );
    assert_eq!(stored["result"]["isError"], false, "{stored}");
    let tripped = &answers[&3];
    assert_eq!(tripped["result"]["isError"], true, "{tripped}");
    assert_eq!(
        tripped["result"]["structuredContent"]["error"]["kind"], "cpu_limit_exceeded",
        "{tripped}"
    );
    let cut = &answers[&4]["result"]["structuredContent"];
    assert_eq!(cut["result"], "\"xxxxxxxxx", "{cut}");
    assert_eq!(cut["logs"], json!([]), "{cut}");
    assert_eq!(
        cut["notes"],
        json!([
            "result cut at 10 of 22 characters: shown as its JSON text",
            "logs cut at 10 characters: 0 of 1 lines shown"
        ]),
        "{cut}"
    );
    drop(stdin);
    assert!(child.wait().expect("wait").success());
}

#[test]
fn caplet_types_declares_the_grants_of_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("caplet.toml");
    std::fs::write(
        &config,
        "[mcp]\ngrants = { store = \"kv:main\", files = \"fs:w\" }\n",
    )
    .expect("config");
    let config = config.to_str().expect("UTF-8");
    let (code, stdout, stderr) =
        support::caplet(&["types", "--config", config, "--grant", "files=kv:other"]);
    assert_eq!(code, 0, "{stderr}");
    // The flag wins over the file for the same binding.
    assert!(
        stdout.contains("interface Env {\n  files: Store;\n  store: Store;\n}"),
        "{stdout}"
    );
    assert!(!stdout.contains("interface Volume"), "{stdout}");
}

#[test]
fn mcp_over_http_off_loopback_needs_a_token_file() {
    let (code, _, stderr) = support::caplet(&["mcp", "--http", "0.0.0.0:0"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "error: --http off loopback needs --token-file: clients must send a bearer token"
    );
}
