//! `caplet mcp` driven by the official MCP Python SDK's client
//! (`tests/mcp/client.py`), over stdio and over streamable HTTP: listing
//! the tools, `search`, and `execute` with an fs and a kv grant (result,
//! logs, calls), a syntax error, an exception, a CPU-limit trip, a cut
//! result and concurrent scripts; and malformed JSON-RPC on both
//! transports, after which the server still answers.
//!
//! Upstream MCP servers: `tests/mcp/upstream.py` (the SDK's MCPServer) is
//! granted as `mcp:calc` through `caplet mcp --config`; one script reads a
//! file, calls two of its tools and stores a key; bad arguments are a
//! TypeError naming the field; a killed upstream answers `disconnected`
//! until the broker has started it again.
//!
//! Upstream MCP servers over streamable HTTP: `tests/mcp/http_upstream.py`
//! (the SDK's MCPServer behind its bearer middleware, on 127.0.0.1, over
//! HTTP or HTTPS) is granted as `mcp:remote` with `url` and an
//! `Authorization` header from a secret (`tests/mcp/drive.py` runs the
//! scripts through `caplet mcp`): two tools in one script, the credential
//! the server echoes comes back redacted, and `types`/`audit` name the
//! header but never show the secret; a missing or wrong bearer fails the
//! grant with the server's 401; HTTPS is trusted through the system's
//! roots only.
//!
//! The SDK is not part of a Rust toolchain, so these tests build only with
//! the `mcp-tests` feature, which CI turns on after installing it (`pip
//! install mcp`): `cargo test --features mcp-tests --test all mcp::`.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

fn client_script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py")
}

/// Runs `client.py ARGS…` and parses its report.
fn run_client(args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(client_script())
        .args(args)
        .output()
        .expect("run python3 (pip install mcp)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client.py failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("report: {e}\n{stderr}"))
}

/// Checks a report of `client.py` (the same over both transports).
fn check_report(report: &Value) {
    let tools = report["tools"].as_object().expect("tools");
    assert_eq!(tools.len(), 2, "{tools:?}");
    let execute = tools["execute"].as_str().expect("execute's description");
    // The description carries the API's summary, without its docs.
    assert!(
        execute.contains("interface Env {\n  fs: Volume;\n  kv: Store;\n}"),
        "{execute}"
    );
    assert!(
        execute.contains("read(params: { path: string }): Promise<"),
        "{execute}"
    );
    assert!(!execute.contains("/**"), "{execute}");
    assert!(tools["search"]
        .as_str()
        .expect("search")
        .contains("interface Store"));
    assert_eq!(report["execute_schema"]["required"], json!(["code"]));

    let search = report["search"].as_str().expect("search text");
    assert!(
        search.starts_with("/**") || search.starts_with("interface Volume"),
        "{search}"
    );
    assert!(
        search.contains("interface Volume extends Capability {"),
        "{search}"
    );
    assert!(
        search.contains("  read(params: { path: string }): Promise<"),
        "{search}"
    );
    assert!(!search.contains("interface Store extends"), "{search}");

    let script = &report["script"];
    assert_eq!(script["is_error"], false, "{script}");
    let out = &script["structured"];
    assert_eq!(
        out["result"],
        json!({ "text": "buy milk", "found": true, "size": 8 }),
        "{out}"
    );
    assert_eq!(
        out["logs"],
        json!([{ "level": "log", "text": "read buy milk" }]),
        "{out}"
    );
    assert!(out.get("error").is_none(), "{out}");
    let calls: Vec<(String, String, String)> = out["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            assert!(c["duration_us"].as_u64().is_some(), "{c}");
            (
                c["binding"].as_str().unwrap_or_default().to_string(),
                c["method"].as_str().unwrap_or_default().to_string(),
                c["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("fs", "write"),
        ("fs", "read"),
        ("kv", "put"),
        ("kv", "get"),
    ]
    .iter()
    .map(|(b, m)| (b.to_string(), m.to_string(), "ok".to_string()))
    .collect();
    assert_eq!(calls, expected, "{out}");
    // The text content is the same JSON, for clients without structured content.
    let text: Value =
        serde_json::from_str(script["text"][0].as_str().expect("text")).expect("JSON");
    assert_eq!(&text, out);

    assert_eq!(
        report["arrow"]["structured"]["result"], true,
        "{}",
        report["arrow"]
    );
    assert_eq!(
        report["module"]["structured"]["result"], 42,
        "{}",
        report["module"]
    );

    let syntax = &report["syntax"];
    assert_eq!(syntax["is_error"], true, "{syntax}");
    assert_eq!(
        syntax["structured"]["error"]["kind"], "syntax_error",
        "{syntax}"
    );
    assert_eq!(syntax["structured"]["result"], Value::Null);

    let thrown = &report["thrown"];
    assert_eq!(thrown["is_error"], true, "{thrown}");
    assert_eq!(
        thrown["structured"]["error"]["kind"], "exception",
        "{thrown}"
    );
    let message = thrown["structured"]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(message.starts_with("Error: boom"), "{message}");
    assert_eq!(
        thrown["structured"]["logs"],
        json!([{ "level": "warn", "text": "about to" }])
    );

    let cpu = &report["cpu"];
    assert_eq!(cpu["is_error"], true, "{cpu}");
    assert_eq!(
        cpu["structured"]["error"]["kind"], "cpu_limit_exceeded",
        "{cpu}"
    );

    let big = &report["big"]["structured"];
    let cut = big["result"]
        .as_str()
        .expect("a cut result is its JSON text");
    assert_eq!(cut.chars().count(), 24_000);
    assert!(cut.starts_with("\"xxx"), "{cut:.20}");
    assert_eq!(
        big["notes"],
        json!(["result cut at 24000 of 30002 characters: shown as its JSON text"])
    );

    assert_eq!(report["concurrent"], json!([0, 2, 4, 6]));
}

#[test]
fn the_python_sdk_uses_caplet_mcp_over_stdio() {
    let data = tempfile::tempdir().expect("tempdir");
    let caplet = support::caplet_bin();
    let report = run_client(&[
        "stdio",
        caplet.to_str().expect("UTF-8 path"),
        data.path().to_str().expect("UTF-8 path"),
    ]);
    check_report(&report);
}

/// A `caplet mcp --http 127.0.0.1:0` process, killed on drop.
struct HttpServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl HttpServer {
    fn start(token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = Command::new(support::caplet_bin());
        command
            .args(["mcp", "--http", "127.0.0.1:0", "--grant", "fs=fs:notes"])
            .args(["--grant", "kv=kv:main", "--limit-default", "cpuTimeMs=200"])
            .arg("--data")
            .arg(dir.path().join("data"));
        if let Some(token) = token {
            let file = dir.path().join("tokens");
            std::fs::write(&file, format!("tester:{token}\n")).expect("token file");
            command.arg("--token-file").arg(file);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn caplet mcp");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("READY line");
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_string();
        HttpServer {
            child,
            url,
            _dir: dir,
        }
    }

    fn address(&self) -> &str {
        self.url
            .strip_prefix("http://")
            .and_then(|u| u.strip_suffix("/mcp"))
            .expect("http://ADDR/mcp")
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_python_sdk_uses_caplet_mcp_over_http_with_a_token() {
    let server = HttpServer::start(Some("s3cret-token-0123456789"));
    let report = run_client(&["http", &server.url, "s3cret-token-0123456789"]);
    check_report(&report);
}

/// One raw HTTP/1.1 POST to the server; returns the status and the body.
fn post(address: &str, body: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

#[test]
fn http_refuses_a_missing_or_wrong_token_and_answers_malformed_json_rpc() {
    let server = HttpServer::start(Some("s3cret-token-0123456789"));
    let (status, body) = post(server.address(), INITIALIZE, None);
    assert_eq!(status, 401, "{body}");
    let (status, _) = post(server.address(), INITIALIZE, Some("wrong-token-0123456789"));
    assert_eq!(status, 401);
    let token = Some("s3cret-token-0123456789");
    let (status, body) = post(
        server.address(),
        "{\"jsonrpc\": \"2.0\", \"id\": 1, \"meth",
        token,
    );
    assert!(status == 400 || status == 200, "{status} {body}");
    assert!(
        body.contains("\"code\":-32700") || body.contains("\"code\":-32600"),
        "{body}"
    );
    let (status, body) = post(server.address(), INITIALIZE, token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"serverInfo\""), "{body}");
}

/// Reads lines from `reader` until one is a JSON-RPC message with `id`.
fn read_answer(reader: &mut impl BufRead, id: &Value) -> Value {
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "stdout closed"
        );
        let message: Value = serde_json::from_str(&line).expect("one JSON message per line");
        if &message["id"] == id {
            return message;
        }
    }
}

#[test]
fn stdio_answers_malformed_json_rpc_and_keeps_serving() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(support::caplet_bin())
        .args(["mcp", "--data"])
        .arg(data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn caplet mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    writeln!(stdin, "{INITIALIZE}").expect("send");
    let init = read_answer(&mut stdout, &json!(1));
    assert!(init["result"]["serverInfo"].is_object(), "{init}");
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .expect("send");
    // Not JSON, then JSON that is no JSON-RPC message, then a real request.
    writeln!(stdin, "{{this is not json").expect("send");
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"bogus":true}}"#).expect("send");
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list"}}"#).expect("send");
    // Three answers, in any order (the errors do not wait for rmcp).
    let mut answers = std::collections::HashMap::new();
    while answers.len() < 3 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "stdout closed"
        );
        let message: Value = serde_json::from_str(&line).expect("one JSON message per line");
        answers.insert(message["id"].to_string(), message);
    }
    let parse = &answers["null"];
    assert_eq!(parse["error"]["code"], -32700, "{parse}");
    let invalid = &answers["2"];
    assert_eq!(invalid["error"]["code"], -32600, "{invalid}");
    let listed = &answers["3"];
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["search", "execute"], "{listed}");
    drop(stdin);
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
}

#[test]
fn an_upstream_mcp_server_is_granted_to_scripts_as_typed_tools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("upstream.pid");
    let config = dir.path().join("caplet.toml");
    let upstream = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/upstream.py");
    std::fs::write(
        &config,
        format!(
            "[mcp_servers.calc]\ncommand = [\"python3\", {upstream:?}, {pid:?}]\n\n\
             [mcp]\ngrants = {{ fs = \"fs:notes\", kv = \"kv:main\", calc = \"mcp:calc\" }}\n",
            pid = pid_file.to_str().expect("UTF-8 path"),
        ),
    )
    .expect("config");
    let caplet = support::caplet_bin();
    let report = run_client(&[
        "upstream",
        caplet.to_str().expect("UTF-8 path"),
        dir.path().join("data").to_str().expect("UTF-8 path"),
        config.to_str().expect("UTF-8 path"),
        pid_file.to_str().expect("UTF-8 path"),
    ]);

    // The declarations carry the tools, typed from their JSON Schemas,
    // with their descriptions.
    let execute = report["execute"].as_str().expect("execute's description");
    assert!(execute.contains("  calc: CalcTools;\n"), "{execute}");
    assert!(
        execute.contains(
            "add(args: { a: number; b: number; }): Promise<{ terms: number; total: number; }>;"
        ),
        "{execute}"
    );
    let search = report["search"].as_str().expect("search");
    assert!(search.contains("Add two whole numbers."), "{search}");

    assert_eq!(report["seed"]["is_error"], false, "{}", report["seed"]);
    let script = &report["script"]["structured"];
    assert_eq!(report["script"]["is_error"], false, "{script}");
    assert_eq!(
        script["result"],
        json!({ "total": 42, "hello": "hello, ada" }),
        "{script}"
    );
    let calls: Vec<(&str, &str, &str)> = script["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["binding"].as_str().unwrap_or_default(),
                c["method"].as_str().unwrap_or_default(),
                c["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("fs", "read", "ok"),
            ("calc", "add", "ok"),
            ("calc", "greet", "ok"),
            ("kv", "put", "ok")
        ],
        "{script}"
    );

    let bad = &report["bad_args"]["structured"];
    assert_eq!(report["bad_args"]["is_error"], false, "{bad}");
    let result = &bad["result"];
    assert_eq!(result["ok"], 3, "{bad}");
    assert_eq!(result["stored"], "42", "{bad}");
    assert_eq!(result["bad"]["name"], "TypeError", "{bad}");
    let message = result["bad"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("add(): field \"a\": \"two\" is not of type \"integer\""),
        "{message}"
    );
    assert_eq!(result["failed"]["name"], "RpcError", "{bad}");
    assert_eq!(result["failed"]["type"], "failed", "{bad}");
    let failed = result["failed"]["message"].as_str().expect("message");
    assert!(failed.starts_with("tool_error: fail(): "), "{failed}");
    // Refused arguments never reached the upstream, and are logged so.
    let outcomes: Vec<&str> = bad["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outcomes, ["ok", "type_error", "tool_error", "ok"], "{bad}");

    // Killed, the upstream answers `disconnected` until it is started again
    // (or already answers from its new process).
    let after = &report["after_kill"]["structured"];
    match after["error"]["kind"].as_str() {
        None => assert_eq!(after["result"], 42, "{after}"),
        Some(_) => {
            let message = after["error"]["message"].as_str().expect("message");
            assert!(
                message.contains("RpcError") && message.contains("mcp:calc"),
                "{after}"
            );
            assert_eq!(after["calls"][0]["outcome"], "disconnected", "{after}");
        }
    }
    let restarted = &report["restarted"]["structured"];
    assert_eq!(restarted["result"], 42, "{restarted}");
    assert_eq!(report["new_pid"], true);
}

#[test]
fn audit_lists_the_mcp_grants_of_the_config_and_the_upstreams_tools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("caplet.toml");
    let upstream = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/upstream.py");
    let pid = dir.path().join("pid");
    std::fs::write(
        &config,
        format!(
            "[secrets]\ncalc = {{ value = \"s3cr3t-calc-token\" }}\n\n\
             [mcp_servers.calc]\ncommand = [\"python3\", {upstream:?}, {pid:?}]\n\
             env = {{ CALC_TOKEN = \"Bearer {{secret:calc}}\" }}\n\n\
             [mcp]\ngrants = {{ kv = \"kv:main\", calc = \"mcp:calc\" }}\n",
            pid = pid.to_str().expect("UTF-8 path"),
        ),
    )
    .expect("config");
    let out = Command::new(support::caplet_bin())
        .args(["audit", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .expect("caplet audit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let bindings = report["bindings"].as_array().expect("bindings");
    let names: Vec<&str> = bindings
        .iter()
        .map(|b| b["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["calc", "kv"], "{report}");
    let calc = &bindings[0];
    assert_eq!(calc["kind"], "mcp");
    assert_eq!(calc["policy"]["server"], "calc");
    assert_eq!(calc["policy"]["env"], json!(["CALC_TOKEN"]));
    let tools: Vec<(&str, &str)> = calc["policy"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["description"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        tools,
        [
            ("add", "Add two whole numbers."),
            ("greet", "A greeting for `name`, as text."),
            ("fail", "Always fails with `reason`.")
        ]
    );
    assert_eq!(
        calc["policy"]["tools"][0]["input_schema"]["required"],
        json!(["a", "b"])
    );
}

/// `tests/mcp/http_upstream.py`: an MCP server over streamable HTTP on
/// 127.0.0.1 that requires `Authorization: Bearer TOKEN`; killed on drop.
struct HttpUpstream {
    child: Child,
    port: u16,
    scheme: &'static str,
}

/// The test CA of egress, and a certificate it signed for 127.0.0.1.
const TLS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/egress/tests/tls");

impl HttpUpstream {
    fn start(token: &str) -> Self {
        Self::spawn(token, false)
    }

    /// Over HTTPS, with the certificate of [`TLS_DIR`].
    fn start_tls(token: &str) -> Self {
        Self::spawn(token, true)
    }

    fn spawn(token: &str, tls: bool) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/http_upstream.py");
        let mut command = Command::new("python3");
        command.arg(script).arg(token);
        if tls {
            command.arg(format!("{TLS_DIR}/leaf.der"));
            command.arg(format!("{TLS_DIR}/leaf.key.der"));
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run python3 (pip install mcp)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("READY line");
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("http_upstream.py said {line:?}"));
        let scheme = if tls { "https" } else { "http" };
        Self {
            child,
            port,
            scheme,
        }
    }

    /// A `caplet.toml` granting it as `mcp:remote` to `caplet mcp`, with
    /// the bearer header from the secret `remote` (none: no header).
    fn config(&self, dir: &std::path::Path, secret: Option<&str>) -> std::path::PathBuf {
        let mut toml = String::new();
        if let Some(secret) = secret {
            toml += &format!("[secrets]\nremote = {{ value = {secret:?} }}\n\n");
        }
        toml += &format!(
            "[mcp_servers.remote]\nurl = \"{}://127.0.0.1:{}/mcp\"\n",
            self.scheme, self.port
        );
        if secret.is_some() {
            toml += "headers = { Authorization = \"Bearer {secret:remote}\" }\n";
        }
        toml += "\n[mcp]\ngrants = { remote = \"mcp:remote\" }\n";
        let path = dir.join("caplet.toml");
        std::fs::write(&path, toml).expect("config");
        path
    }
}

impl Drop for HttpUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `scripts` through `caplet mcp --config CONFIG` (tests/mcp/drive.py);
/// the report, and its text (to look for secrets in).
fn drive(config: &std::path::Path, data: &std::path::Path, scripts: &[&str]) -> (Value, String) {
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/drive.py"))
        .arg(support::caplet_bin())
        .arg(config)
        .arg(data)
        .args(scripts)
        .output()
        .expect("run python3 (pip install mcp)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "drive.py failed:\n{stderr}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("report: {e}\n{stderr}"));
    (report, text)
}

/// `(binding, method, outcome)` of each call of an `execute` result.
fn call_outcomes(result: &Value) -> Vec<(String, String, String)> {
    result["structured"]["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            let field = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (field("binding"), field("method"), field("outcome"))
        })
        .collect()
}

/// The bearer token of the tests over HTTP: it must never come out.
const HTTP_TOKEN: &str = "tok-5ecret-for-remote-9f2c";

#[test]
fn an_upstream_over_http_is_granted_with_its_bearer_from_a_secret() {
    let upstream = HttpUpstream::start(HTTP_TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = upstream.config(dir.path(), Some(HTTP_TOKEN));
    let (report, text) = drive(
        &config,
        &dir.path().join("data"),
        &[
            "const sum = await env.remote.add({ a: 2, b: 40 });\n\
             const hello = await env.remote.greet({ name: \"ada\" });\n\
             return { total: sum.total, hello: hello.result };",
            // The server echoes the credential it got.
            "return (await env.remote.whoami({})).result;",
            "try { await env.remote.add({ a: \"two\", b: 1 }); } \
             catch (e) { return { name: e.name, message: e.message }; }",
        ],
    );
    assert!(!text.contains(HTTP_TOKEN), "{text}");
    let execute = report["execute"].as_str().expect("execute's description");
    assert!(execute.contains("  remote: RemoteTools;\n"), "{execute}");
    assert!(
        execute.contains(
            "add(args: { a: number; b: number; }): Promise<{ terms: number; total: number; }>;"
        ),
        "{execute}"
    );
    let results = report["results"].as_array().expect("results");

    let two = &results[0];
    assert_eq!(two["is_error"], false, "{two}");
    assert_eq!(
        two["structured"]["result"],
        json!({ "total": 42, "hello": "hello, ada" }),
        "{two}"
    );
    let calls = call_outcomes(two);
    let expected = [("remote", "add", "ok"), ("remote", "greet", "ok")]
        .map(|(b, m, o)| (b.to_string(), m.to_string(), o.to_string()));
    assert_eq!(calls, expected, "{two}");

    let whoami = &results[1];
    assert_eq!(
        whoami["structured"]["result"], "you sent [redacted]",
        "{whoami}"
    );

    let bad = &results[2]["structured"]["result"];
    assert_eq!(bad["name"], "TypeError", "{bad}");
    let message = bad["message"].as_str().expect("message");
    assert!(
        message.starts_with("add(): field \"a\": \"two\" is not of type \"integer\""),
        "{message}"
    );

    // The declarations and the audit name the header, never its value.
    let types = Command::new(support::caplet_bin())
        .args(["types", "--grant", "remote=mcp:remote", "--config"])
        .arg(&config)
        .output()
        .expect("caplet types");
    let declarations = String::from_utf8_lossy(&types.stdout);
    assert!(
        types.status.success(),
        "{}",
        String::from_utf8_lossy(&types.stderr)
    );
    assert!(
        declarations.contains("greet(args: { name: string; })"),
        "{declarations}"
    );
    assert!(!declarations.contains(HTTP_TOKEN), "{declarations}");
    let audit = Command::new(support::caplet_bin())
        .args(["audit", "--format", "json", "--config"])
        .arg(&config)
        .output()
        .expect("caplet audit");
    let stdout = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    assert!(!stdout.contains(HTTP_TOKEN), "{stdout}");
    let audit: Value = serde_json::from_str(&stdout).expect("JSON");
    let policy = &audit["bindings"][0]["policy"];
    assert_eq!(
        policy["url"],
        format!("http://127.0.0.1:{}/mcp", upstream.port),
        "{audit}"
    );
    assert_eq!(policy["headers"], json!(["authorization"]), "{audit}");
    let tools: Vec<&str> = policy["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tools, ["add", "greet", "whoami"], "{audit}");
}

/// `caplet run` of a worker returning `remote.add({a: 1, b: 2}).total`
/// with `mcp:remote` granted from `config`, with `env` set: its exit
/// status, stdout and stderr.
fn run_add(
    dir: &std::path::Path,
    config: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> (bool, String, String) {
    let script = dir.join("agent.js");
    std::fs::write(
        &script,
        "export default { async run(input, env) { return (await env.remote.add({ a: 1, b: 2 })).total; } };",
    )
    .expect("script");
    let out = Command::new(support::caplet_bin())
        .args(["run", "--grant", "remote=mcp:remote", "--data"])
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config)
        .arg(&script)
        .env_remove("SSL_CERT_DIR")
        .envs(env.iter().copied())
        .output()
        .expect("caplet run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_upstream_over_http_refuses_a_missing_or_a_wrong_bearer() {
    let upstream = HttpUpstream::start(HTTP_TOKEN);
    for secret in [None, Some("not-the-token-7c1e")] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = upstream.config(dir.path(), secret);
        let (ok, _, stderr) = run_add(dir.path(), &config, &[]);
        assert!(!ok, "{stderr}");
        // The grant fails with the upstream's own answer, on one line.
        let line = stderr
            .lines()
            .find(|l| l.contains("mcp:remote"))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert!(
            line.contains(
                "unavailable: mcp:remote: the MCP handshake failed: \
                 the upstream refused the request: HTTP 401: Unauthorized: "
            ),
            "{stderr}"
        );
        assert!(line.contains("invalid_token"), "{stderr}");
        if let Some(secret) = secret {
            assert!(!stderr.contains(secret), "{stderr}");
        }
    }
}

#[test]
fn an_upstream_over_https_is_trusted_through_the_systems_roots() {
    let upstream = HttpUpstream::start_tls(HTTP_TOKEN);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = upstream.config(dir.path(), Some(HTTP_TOKEN));
    // The system's roots are the file SSL_CERT_FILE names: with the test
    // CA among them the server is trusted.
    let ca = std::ffi::OsString::from(format!("{TLS_DIR}/ca.pem"));
    let (ok, stdout, stderr) = run_add(dir.path(), &config, &[("SSL_CERT_FILE", &ca)]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "3", "{stderr}");
    // Without it (no system root, so the Mozilla roots) it is not.
    let empty = dir.path().join("no-roots.pem");
    std::fs::write(&empty, "").expect("empty roots");
    let (ok, _, stderr) = run_add(dir.path(), &config, &[("SSL_CERT_FILE", empty.as_os_str())]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "unavailable: mcp:remote: the MCP handshake failed: cannot connect to 127.0.0.1:"
        ) && stderr.contains("invalid peer certificate"),
        "{stderr}"
    );
}
