//! `caplet serve --metrics`: after a known workload on a real broker (real
//! isolate-hosts, a real SQLite store), the Prometheus counters read
//! exactly what was done; `/healthz` and `/readyz` answer; everything on
//! 127.0.0.1.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;

use caplet_client::{Builtin, Connection, Error, Limits, WorkerCode};
use support::{block_on, Server};

/// One HTTP/1.1 request to the metrics address; returns (status, body).
fn http(address: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect to the metrics address");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of the sample `series` (name and labels, exactly as printed),
/// or 0 when the series is absent (Prometheus omits never-counted labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().expect("a number"))
}

/// The sum of every sample of the metric `name`.
fn total(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

const KV_WORKER: &str = r#"
export default {
  async run(input, env) {
    await env.kv.put({ key: "k", value: new TextEncoder().encode(input) });
    const got = await env.kv.get({ key: "k" });
    return got.found;
  },
};
"#;

#[test]
fn counters_read_exactly_the_workload_and_the_probes_answer() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        1,
        &[
            "--metrics",
            "127.0.0.1:0",
            "--data",
            data.path().to_str().unwrap(),
        ],
    );
    let address = server.metrics.clone().unwrap();
    assert!(address.starts_with("127.0.0.1:"), "{address}");

    assert_eq!(http(&address, "GET", "/healthz"), (200, "ok\n".into()));
    assert_eq!(http(&address, "GET", "/readyz"), (200, "ready\n".into()));
    assert_eq!(http(&address, "GET", "/nothing").0, 404);
    assert_eq!(http(&address, "POST", "/metrics").0, 405);

    const INVOCATIONS: usize = 3;
    let text = block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        // One load; INVOCATIONS invocations, each with two store calls.
        let kv = conn
            .load(&WorkerCode::new("kv.js", KV_WORKER).grant_builtin("kv", Builtin::kv("counter")))
            .await
            .unwrap();
        for i in 0..INVOCATIONS {
            let done = kv.invoke("run", &format!("\"{i}\"")).await.unwrap();
            assert_eq!(done.output, "true");
            assert_eq!(done.calls.len(), 2);
        }
        // One load, one invocation that trips its CPU limit.
        let spin = conn
            .load(
                &WorkerCode::new("spin.js", "export default { run() { for (;;) {} } };").limits(
                    Limits {
                        cpu_time_ms: Some(50),
                        ..Limits::default()
                    },
                ),
            )
            .await
            .unwrap();
        match spin.invoke("run", "null").await {
            Err(Error::LimitExceeded { limit, .. }) => {
                assert_eq!(limit.kind_name(), "cpu_limit_exceeded")
            }
            other => panic!("expected the CPU limit, got {other:?}"),
        }
        // One failed load.
        let broken = conn
            .load(&WorkerCode::new("broken.js", "export default {"))
            .await;
        assert!(
            matches!(&broken, Err(Error::Refused { kind, .. }) if kind == "syntax_error"),
            "{:?}",
            broken.err()
        );
        // A get that loads, then one the cache answers (no load).
        let code = WorkerCode::new("cached.js", "export default { run() { return 1; } };");
        let _first = conn.get("cached", &code).await.unwrap();
        let _second = conn.get("cached", &code).await.unwrap();

        let (status, text) = http(&address, "GET", "/metrics");
        assert_eq!(status, 200);
        drop((kv, spin));
        text
    });

    let n = INVOCATIONS as f64;
    // SAFETY: getuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    for (series, expected) in [
        ("caplet_invocations_total{outcome=\"ok\"}", n),
        (
            "caplet_invocations_total{outcome=\"cpu_limit_exceeded\"}",
            1.0,
        ),
        ("caplet_invoke_duration_seconds_count", n + 1.0),
        ("caplet_capability_calls_total{outcome=\"ok\"}", 2.0 * n),
        ("caplet_capability_call_duration_seconds_count", 2.0 * n),
        (
            "caplet_store_operations_total{op=\"kv.put\",outcome=\"ok\"}",
            n,
        ),
        (
            "caplet_store_operations_total{op=\"kv.get\",outcome=\"ok\"}",
            n,
        ),
        ("caplet_store_errors_total", 0.0),
        ("caplet_loads_total{outcome=\"ok\"}", 3.0),
        ("caplet_loads_total{outcome=\"syntax_error\"}", 1.0),
        ("caplet_load_duration_seconds_count", 4.0),
        ("caplet_limit_trips_total{kind=\"cpu_limit_exceeded\"}", 1.0),
        (
            &format!("caplet_principal_invocations_total{{principal=\"unix:{uid}\"}}"),
            n + 1.0,
        ),
        ("caplet_hosts", 1.0),
        ("caplet_hosts_up", 1.0),
        ("caplet_host_restarts_total", 0.0),
        ("caplet_connections{listener=\"unix\"}", 1.0),
        ("caplet_connections{listener=\"tcp\"}", 0.0),
        ("caplet_store_up", 1.0),
    ] {
        assert_eq!(sample(&text, series), expected, "{series} in\n{text}");
    }
    // Nothing else was counted.
    for (name, expected) in [
        ("caplet_invocations_total", n + 1.0),
        ("caplet_capability_calls_total", 2.0 * n),
        ("caplet_loads_total", 4.0),
        ("caplet_limit_trips_total", 1.0),
        ("caplet_store_operations_total", 2.0 * n),
    ] {
        assert_eq!(total(&text, name), expected, "{name} in\n{text}");
    }
    // Scraped while the kv, spin and cached workers were held; the failed
    // load's worker is gone.
    assert_eq!(sample(&text, "caplet_live_workers"), 3.0, "{text}");
    assert!(text.contains("# TYPE caplet_invoke_duration_seconds histogram"));

    // A host that dies is counted, and the broker is ready again once it
    // is back.
    let host = server.host_pids()[0];
    support::signal(host, libc::SIGKILL);
    server.wait_stderr("restarting it");
    let text = http(&address, "GET", "/metrics").1;
    assert_eq!(sample(&text, "caplet_host_restarts_total"), 1.0, "{text}");
}

#[test]
fn readyz_is_503_while_the_store_does_not_answer() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        1,
        &[
            "--metrics",
            "127.0.0.1:0",
            "--data",
            data.path().to_str().unwrap(),
        ],
    );
    let address = server.metrics.clone().unwrap();
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        // The first kv grant opens the store.
        let _kv: caplet::kv_capnp::store::Client =
            conn.builtin(&Builtin::kv("counter")).await.unwrap();
        assert_eq!(http(&address, "GET", "/readyz"), (200, "ready\n".into()));
        let text = http(&address, "GET", "/metrics").1;
        assert_eq!(sample(&text, "caplet_store_up"), 1.0, "{text}");

        // The data directory goes away (an unmounted volume): the open
        // connection still reads its cache and the unlinked file, but the
        // database is no longer there for anyone else.
        std::fs::remove_dir_all(data.path()).unwrap();
        let (status, body) = http(&address, "GET", "/readyz");
        assert_eq!(status, 503, "{body}");
        assert!(body.starts_with("the store does not answer: "), "{body}");
        let text = http(&address, "GET", "/metrics").1;
        assert_eq!(sample(&text, "caplet_store_up"), 0.0, "{text}");
        // Alive all the same.
        assert_eq!(http(&address, "GET", "/healthz").0, 200);
    });
}
