//! The `http` built-in end to end through the shipped `caplet` binary:
//! `https` on by default against a real TLS server on 127.0.0.1 (a test CA
//! from `egress/tests/tls/`, trusted through a policy's `ca_file` or the
//! system roots), the https → http downgrade refused, and the redaction of
//! a broker-held secret from every byte a worker gets back (URL, header
//! names and values, status text, body, errors), in its raw, case-changed,
//! URL-encoded and base64 forms.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use support::caplet_bin;

/// The credential the broker injects; no form of it may reach JavaScript.
const SECRET: &str = "sk-Test-5f1c0a9e7d3b42c6";

/// The test CA's certificate, PEM.
const CA_PEM: &str = include_str!("../../egress/tests/tls/ca.pem");

/// A temporary directory with a `caplet.toml` and a copy of the test CA,
/// and `caplet run` in it.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("caplet.toml"), config).expect("write caplet.toml");
        std::fs::create_dir(dir.path().join("certs")).expect("mkdir");
        std::fs::write(dir.path().join("certs/ca.pem"), CA_PEM).expect("write ca.pem");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `caplet run JS --config caplet.toml ARGS…` from another
    /// directory (so relative paths must be taken from the file's), with
    /// `env` added; returns (exit code, stdout, stderr).
    fn run(&self, js: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let script = self.path("worker.js");
        std::fs::write(&script, js).expect("write worker");
        let elsewhere = tempfile::tempdir().expect("temp dir");
        let out = Command::new(caplet_bin())
            .current_dir(elsewhere.path())
            .env("TEST_API_KEY", SECRET)
            .envs(env.iter().copied())
            .arg("run")
            .arg(&script)
            .arg("--config")
            .arg(self.path("caplet.toml"))
            .arg("--data")
            .arg(self.path("data"))
            .args(args)
            .output()
            .expect("run caplet");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Like [`Workspace::run`], expecting success; returns the JSON output.
    fn output(&self, js: &str, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
        let (code, stdout, stderr) = self.run(js, args, env);
        assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout:?}"))
    }
}

// ============================================================================
// A real HTTP/1.1 server, plain or TLS
// ============================================================================

/// One request as the server saw it.
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// What the server answers: status line, extra header lines, body.
type Handler = fn(&Seen, u16) -> (String, String, Vec<u8>);

/// Serves on 127.0.0.1 (one thread, one request per connection), over TLS
/// with the test leaf certificate (`api.test`, `127.0.0.1`) when `tls`.
fn server(tls: bool, handler: Handler) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let config = tls.then(server_tls_config);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            match &config {
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                        continue;
                    };
                    serve_one(rustls::StreamOwned::new(conn, stream), port, handler);
                }
                None => serve_one(stream, port, handler),
            }
        }
    });
    port
}

fn server_tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(include_bytes!("../../egress/tests/tls/leaf.der").to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        include_bytes!("../../egress/tests/tls/leaf.key.der").to_vec(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    Arc::new(config)
}

fn serve_one<S: Read + Write>(stream: S, port: u16, handler: Handler) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let (status, extra, body) = handler(&Seen { path, headers }, port);
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

fn hello(seen: &Seen, _: u16) -> (String, String, Vec<u8>) {
    (
        "200 OK".into(),
        String::new(),
        seen.path.clone().into_bytes(),
    )
}

fn config(port: u16, extra: &str) -> String {
    format!(
        r#"
[http.secure]
hosts = ["api.test"]
ports = [{port}]
allow_ranges = ["127.0.0.1/32"]
{extra}

[dns]
"api.test" = ["127.0.0.1"]
"#
    )
}

const FETCH_JS: &str = r#"
export default async function run({ url }, env) {
  try {
    const response = await fetch(url);
    return { status: response.status, url: response.url, text: await response.text() };
  } catch (e) {
    return { error: `${e.name}: ${e.message}` };
  }
}"#;

fn fetch_input(url: &str) -> String {
    serde_json::json!({ "url": url }).to_string()
}

// ============================================================================
// https
// ============================================================================

#[test]
fn https_works_in_the_shipped_binary_with_a_policy_ca_file() {
    let port = server(true, hello);
    let ws = Workspace::new(&config(port, "ca_file = \"certs/ca.pem\""));
    let url = format!("https://api.test:{port}/secure");
    let out = ws.output(
        FETCH_JS,
        &[
            "--input",
            &fetch_input(&url),
            "--grant",
            "fetch=http:secure",
        ],
        &[],
    );
    assert_eq!(
        out,
        serde_json::json!({ "status": 200, "url": url, "text": "/secure" })
    );
}

#[test]
fn https_trusts_the_system_roots_and_no_others() {
    let port = server(true, hello);
    let ws = Workspace::new(&config(port, ""));
    let url = format!("https://api.test:{port}/system");
    let args = [
        "--input",
        &fetch_input(&url),
        "--grant",
        "fetch=http:secure",
    ];
    // The system's store, here the test CA through SSL_CERT_FILE.
    let ca = ws.path("certs/ca.pem");
    let out = ws.output(FETCH_JS, &args, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_eq!(out["text"], "/system", "{out}");
    // A system store without the test CA (none at all: the Mozilla roots).
    let out = ws.output(FETCH_JS, &args, &[("SSL_CERT_FILE", "/nonexistent/ca.pem")]);
    assert_eq!(
        out["error"],
        "RpcError: connect_failed: tls handshake with api.test failed: invalid peer certificate: UnknownIssuer",
        "{out}"
    );
}

#[test]
fn https_to_http_redirects_are_refused() {
    fn downgrade(_: &Seen, port: u16) -> (String, String, Vec<u8>) {
        // The same port speaks TLS only, but the refusal comes first.
        let location = format!("location: http://api.test:{port}/plain\r\n");
        ("302 Found".into(), location, Vec::new())
    }
    let port = server(true, downgrade);
    let ws = Workspace::new(&config(port, "ca_file = \"certs/ca.pem\""));
    let url = format!("https://api.test:{port}/start");
    let out = ws.output(
        FETCH_JS,
        &[
            "--input",
            &fetch_input(&url),
            "--grant",
            "fetch=http:secure",
        ],
        &[],
    );
    assert_eq!(
        out["error"],
        format!(
            "RpcError: denied: redirect 1 to http://api.test:{port}/plain: redirect from https to http is not allowed"
        ),
        "{out}"
    );
}

#[test]
fn a_missing_or_bad_ca_file_is_a_one_line_error_naming_key_and_file() {
    let ws = Workspace::new(&config(443, "ca_file = \"certs/missing.pem\""));
    let js = "export default () => 1";
    let (code, stdout, stderr) = ws.run(js, &[], &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let missing = ws.path("certs/missing.pem");
    assert_eq!(
        stderr,
        format!(
            "error: {}: http.secure: bad_config: ca_file {}: no such file or directory (os error 2)\n",
            ws.path("caplet.toml").display(),
            missing.display()
        )
    );
    let ws2 = Workspace::new(&config(443, "ca_file = \"bad.pem\""));
    std::fs::write(ws2.path("bad.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    let (code, _, stderr) = ws2.run(js, &[], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: {}: http.secure: bad_config: ca_file {}: not a valid pem file: ",
            ws2.path("caplet.toml").display(),
            ws2.path("bad.pem").display()
        )),
        "{stderr}"
    );
}

// ============================================================================
// Redirect modes
// ============================================================================

/// Paths the redirecting server was asked for, in order (one test uses it).
static REDIRECT_PATHS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// `/moved` → `/landing`, `/away` → a host the policy refuses, `/loop` →
/// itself; records every path it is asked for.
fn redirecting(seen: &Seen, _: u16) -> (String, String, Vec<u8>) {
    REDIRECT_PATHS.lock().unwrap().push(seen.path.clone());
    let found = |location: &str| ("302 Found".to_string(), format!("location: {location}\r\n"));
    let (status, headers, body) = match seen.path.as_str() {
        "/moved" => (
            "301 Moved Permanently".to_string(),
            "location: /landing\r\nx-hop: first\r\n".to_string(),
            "moved to /landing",
        ),
        "/away" => {
            let (status, headers) = found("http://elsewhere.test/x");
            (status, headers, "")
        }
        "/loop" => {
            let (status, headers) = found("/loop");
            (status, headers, "")
        }
        "/landing" => ("200 OK".to_string(), String::new(), "landed"),
        _ => ("404 Not Found".to_string(), String::new(), ""),
    };
    (status, headers, body.as_bytes().to_vec())
}

#[test]
fn fetch_redirect_modes_follow_manual_and_error() {
    let port = server(false, redirecting);
    let ws = Workspace::new(&config(port, ""));
    let base = format!("http://api.test:{port}");
    let out = ws.output(
        include_str!("../js/egress_redirect_modes.js"),
        &[
            "--input",
            &serde_json::json!({ "base": base }).to_string(),
            "--grant",
            "fetch=http:secure",
        ],
        &[],
    );
    let url = |path: &str| format!("{base}{path}");
    assert_eq!(
        out["follow"],
        serde_json::json!({
            "status": 200, "type": "basic", "redirected": true, "url": url("/landing"),
            "location": null, "body": "landed",
        }),
        "follow: the final response, redirected, at the final URL"
    );
    assert_eq!(
        out["manual"],
        serde_json::json!({
            "status": 301, "type": "basic", "redirected": false, "url": url("/moved"),
            "location": "/landing", "ok": false, "hop": "first", "body": "moved to /landing",
        }),
        "manual: the 301 itself, Location readable, body kept"
    );
    assert_eq!(out["manualAway"]["status"], 302);
    assert_eq!(out["manualAway"]["location"], "http://elsewhere.test/x");
    assert_eq!(
        out["followAway"],
        "RpcError: denied: redirect 1 to http://elsewhere.test/x: host elsewhere.test is not in the allowlist",
        "the policy checks every hop that is followed"
    );
    assert_eq!(
        out["error"],
        serde_json::json!([
            "TypeError: fetch failed: redirected: the server answered 301 with location /landing and the request's redirect mode is error",
            "RpcError",
        ])
    );
    assert_eq!(
        out["loop"],
        serde_json::json!([
            "TypeError: fetch failed: denied: redirect 6 to /loop: more than 5 redirects",
            "RpcError",
        ]),
        "a redirect loop ends at the policy's max_redirects (default 5) with the standard's network error"
    );
    assert_eq!(out["manualLoop"], 302);
    assert_eq!(
        out["gatewayManual"],
        serde_json::json!([301, 0, url("/moved")])
    );

    let mut expected = vec![
        "/moved", "/landing", // follow
        "/moved",   // manual
        "/away",    // manual, not followed
        "/away",    // follow: refused before a second request
        "/moved",   // error: no request to /landing
    ];
    expected.extend(["/loop"; 6]); // follow: the first request and 5 hops
    expected.extend(["/loop", "/moved"]); // manual, env.fetch manual
    assert_eq!(*REDIRECT_PATHS.lock().unwrap(), expected);
}

// ============================================================================
// Redaction
// ============================================================================

/// Every spelling of the secret the server sends back, and that must not
/// reach the worker: raw, upper and lower case, percent-encoded (each byte,
/// and `encodeURIComponent`-style), and base64 (standard and URL-safe, at
/// each of the three alignments).
fn secret_forms() -> Vec<String> {
    use base64::Engine;
    let mut forms = vec![
        SECRET.to_string(),
        SECRET.to_ascii_uppercase(),
        SECRET.to_ascii_lowercase(),
        SECRET.bytes().map(|b| format!("%{b:02X}")).collect(),
        SECRET.bytes().map(|b| format!("%{b:02x}")).collect(),
    ];
    for prefix in ["", "u", "us", "user:"] {
        for engine in [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            // The part of the encoding that depends on the secret alone.
            let encoded = engine.encode(format!("{prefix}{SECRET}"));
            let skip = (prefix.len() * 4).div_ceil(3);
            let keep = (prefix.len() + SECRET.len()) * 4 / 3;
            forms.push(encoded[skip..keep].to_string());
        }
    }
    forms
}

/// Sends the injected credential back in every field of the response.
fn leaky(seen: &Seen, _: u16) -> (String, String, Vec<u8>) {
    use base64::Engine;
    let secret = seen
        .header("authorization")
        .strip_prefix("Bearer ")
        .unwrap_or("missing")
        .to_string();
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    match seen.path.split('?').next().unwrap_or("") {
        "/start" => (
            "302 Found".into(),
            format!("location: /echo?a=Bearer%20{secret}\r\n"),
            Vec::new(),
        ),
        "/echo" => {
            let upper = secret.to_ascii_uppercase();
            let encoded: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
            let headers = format!(
                "x-{}: name\r\nx-upper: {upper}\r\nx-encoded: {encoded}\r\nx-basic: Basic {}\r\nx-bearer: {}\r\n",
                secret.to_ascii_lowercase(),
                b64(&format!("user:{secret}")),
                b64(&format!("Bearer {secret}")),
            );
            let body = format!(
                "raw={secret} upper={upper} encoded={encoded} b64={} b64u={}",
                b64(&secret),
                b64(&format!("us{secret}")),
            );
            (format!("200 Fine {upper}"), headers, body.into_bytes())
        }
        "/away" => (
            "302 Found".into(),
            format!(
                "location: http://denied.example/?k={}\r\n",
                secret.to_ascii_uppercase()
            ),
            Vec::new(),
        ),
        _ => ("404 Not Found".into(), String::new(), Vec::new()),
    }
}

const LEAKY_JS: &str = r#"
export default async function run({ base }, env) {
  const global = await fetch(`${base}/start`);
  const out = {
    fetch: {
      url: global.url,
      statusText: global.statusText,
      headers: [...global.headers],
      text: await global.text(),
    },
  };
  const { response } = await env.fetch.fetch({ request: { url: `${base}/start` } });
  out.gateway = {
    url: response.url,
    statusText: response.statusText,
    headers: response.headers.map(({ name, value }) => [name, value]),
    text: String.fromCharCode(...new Uint8Array(response.body)),
  };
  try {
    await fetch(`${base}/away`);
    out.error = "no error";
  } catch (e) {
    out.error = `${e.name}: ${e.message}`;
  }
  return out;
}"#;

#[test]
fn no_form_of_a_secret_reaches_the_worker() {
    let port = server(false, leaky);
    let ws = Workspace::new(&format!(
        r#"
[secrets]
api = {{ env = "TEST_API_KEY" }}

[http.local]
hosts = ["127.0.0.1"]
ports = [{port}]
allow_ranges = ["127.0.0.1/32"]
credentials = [{{ host = "127.0.0.1", header = "Authorization", value = "Bearer {{secret:api}}" }}]
"#
    ));
    let base = format!("http://127.0.0.1:{port}");
    let input = serde_json::json!({ "base": base }).to_string();
    let (code, stdout, stderr) = ws.run(
        LEAKY_JS,
        &["--input", &input, "--grant", "fetch=http:local"],
        &[],
    );
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    for form in secret_forms() {
        assert!(
            !stdout.contains(&form) && !stderr.contains(&form),
            "{form:?} reached the worker: {stdout}"
        );
    }
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for via in ["fetch", "gateway"] {
        let response = &out[via];
        assert_eq!(
            response["url"],
            format!("{base}/echo?a=Bearer%20[redacted]"),
            "{via}: {response}"
        );
        assert_eq!(response["statusText"], "Fine [redacted]", "{via}");
        let headers = response["headers"].as_array().unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|pair| pair[0] == name)
                .map(|pair| pair[1].as_str().unwrap().to_string())
        };
        assert_eq!(header("x-redacted").as_deref(), Some("name"), "{via}");
        assert_eq!(header("x-upper").as_deref(), Some("[redacted]"), "{via}");
        assert_eq!(header("x-encoded").as_deref(), Some("[redacted]"), "{via}");
        let basic = header("x-basic").unwrap();
        assert!(
            basic.starts_with("Basic ") && basic.contains("[redacted]"),
            "{basic}"
        );
        assert!(header("x-bearer").unwrap().contains("[redacted]"), "{via}");
        let text = response["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                "raw=[redacted] upper=[redacted] encoded=[redacted] b64=[redacted] b64u="
            ),
            "{via}: {text}"
        );
    }
    let error = out["error"].as_str().unwrap();
    assert!(
        error.starts_with("RpcError: denied: redirect 1 to http://denied.example/?k=[redacted]"),
        "{error}"
    );
}
