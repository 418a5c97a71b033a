//! Isolation at the process level, end to end: isolate-hosts are confined
//! (seccomp, no_new_privs; a confined host cannot open a file or create a
//! socket), a host killed mid-call fails only its own calls, promptly and
//! without retrying them, a stuck host is answered for by the broker and
//! replaced, workers poisoned by a limit are rebuilt, limits come from flags,
//! and cordons keep principals in separate hosts.

use crate::support;

use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet_client::{
    Connection, Error, InterfaceSchema, InvokeErrorKind, Limits, Worker, WorkerCode,
};
use capnp::capability::Rc as CapRc;
use support::{block_on, caplet_bin, Server};
use tokio::sync::watch;

use crate::caps_capnp;

use caps_capnp::named;

const SCHEMA: &str = include_str!("../schemas/caps.capnp");

/// How long a test waits for an event before failing.
const GUARD: Duration = Duration::from_secs(15);

/// A capability whose `name()` counts its calls and answers only once the
/// test opens it.
struct Gate {
    calls: watch::Sender<u32>,
    open: watch::Sender<bool>,
}

impl Gate {
    fn new() -> Rc<Gate> {
        Rc::new(Gate {
            calls: watch::channel(0).0,
            open: watch::channel(false).0,
        })
    }

    /// Waits until `name()` has been called `n` times.
    async fn called(&self, n: u32) {
        let mut calls = self.calls.subscribe();
        tokio::time::timeout(GUARD, calls.wait_for(|c| *c >= n))
            .await
            .expect("the gate was not called in time")
            .unwrap();
    }
}

struct GateCap(Rc<Gate>);

impl named::Server for GateCap {
    async fn name(
        self: CapRc<Self>,
        _: named::NameParams,
        mut results: named::NameResults,
    ) -> Result<(), capnp::Error> {
        self.0.calls.send_modify(|c| *c += 1);
        let mut open = self.0.open.subscribe();
        let _ = open.wait_for(|o| *o).await;
        results.get().set_name("open");
        Ok(())
    }
}

/// A worker that awaits `env.gate.name()`.
fn gated(gate: &Rc<Gate>, wall_time_ms: u32) -> WorkerCode {
    let cap: named::Client = capnp_rpc::new_client(GateCap(gate.clone()));
    WorkerCode::new(
        "gated.js",
        "export default async (input, env) => (await env.gate.name()).name;",
    )
    .grant(
        "gate",
        cap,
        InterfaceSchema::source("caps.capnp", SCHEMA, "caps.capnp:Named"),
    )
    .limits(Limits {
        wall_time_ms: Some(wall_time_ms),
        ..Limits::default()
    })
}

fn status(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/<pid>/status")
}

fn invoke_kind(result: Result<caplet_client::Invocation, Error>) -> (InvokeErrorKind, String) {
    match result {
        Err(error) if error.invoke_kind().is_some() => (
            error.invoke_kind().unwrap(),
            error.invoke_message().unwrap_or_default().to_string(),
        ),
        other => panic!("expected an invocation error, got {other:?}"),
    }
}

// ============================================================================
// Confinement
// ============================================================================

#[test]
fn isolate_hosts_run_under_seccomp_and_no_new_privs() {
    let server = Server::start(2);
    let hosts = server.host_pids();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    for pid in hosts {
        let status = status(pid);
        assert!(status.contains("\nSeccomp:\t2\n"), "host {pid}:\n{status}");
        assert!(
            status.contains("\nNoNewPrivs:\t1\n"),
            "host {pid}:\n{status}"
        );
    }
}

#[test]
fn a_confined_host_cannot_open_files_or_create_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.txt");
    std::fs::write(&file, "secret").unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "secret");
    let out = std::process::Command::new(caplet_bin())
        .args(["isolate-host", "--broker-pid"])
        .arg(std::process::id().to_string())
        .arg("--probe-confinement")
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let expected = [
        format!("open {}", file.display()),
        "socket unix".to_string(),
        "socket inet".to_string(),
        "spawn thread".to_string(),
    ];
    assert_eq!(lines.len(), expected.len(), "{stdout}");
    for (line, what) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(&format!("{what}: denied (")),
            "{line:?} (expected {what} to be denied)"
        );
    }
}

#[test]
fn require_confinement_is_fatal_exactly_when_a_protection_is_missing() {
    // What this kernel offers, as a host sees it.
    let dir = tempfile::tempdir().unwrap();
    let probe = std::process::Command::new(caplet_bin())
        .args(["isolate-host", "--broker-pid"])
        .arg(std::process::id().to_string())
        .arg("--probe-confinement")
        .arg(dir.path())
        .output()
        .unwrap();
    let missing = String::from_utf8_lossy(&probe.stderr).contains(" missing: ");
    if !missing {
        let server = Server::start_with(1, &["--require-confinement"]);
        let hosts = server.host_pids();
        assert_eq!(hosts.len(), 1);
        assert!(status(hosts[0]).contains("\nSeccomp:\t2\n"));
    } else {
        let socket = dir.path().join("caplet.sock");
        let out = std::process::Command::new(caplet_bin())
            .args(["serve", "--hosts", "1", "--require-confinement", "--socket"])
            .arg(&socket)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("required protections missing"), "{stderr}");
    }
}

// ============================================================================
// Crashes and stuck hosts
// ============================================================================

#[test]
fn a_host_killed_mid_call_fails_only_its_calls_promptly_and_is_respawned() {
    let server = Server::start(2);
    let hosts = server.host_pids();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let (gate_a, gate_b) = (Gate::new(), Gate::new());
        // Placement spreads them: one worker per host.
        let a = conn.load(&gated(&gate_a, 20_000)).await.unwrap();
        let b = conn.load(&gated(&gate_b, 20_000)).await.unwrap();
        let (a2, b2) = (a.clone(), b.clone());
        let call_a = tokio::task::spawn_local(async move { a2.invoke("run", "").await });
        let call_b = tokio::task::spawn_local(async move { b2.invoke("run", "").await });
        gate_a.called(1).await;
        gate_b.called(1).await;

        let killed_at = Instant::now();
        support::signal(hosts[0], libc::SIGKILL);
        let first = tokio::time::timeout(GUARD, futures::future::select(call_a, call_b))
            .await
            .expect("no invocation ended after the kill");
        let elapsed = killed_at.elapsed();
        let (failed, other, (gate_failed, gate_other), worker_failed) = match first {
            futures::future::Either::Left((result, other)) => {
                (result.unwrap(), other, (&gate_a, &gate_b), &a)
            }
            futures::future::Either::Right((result, other)) => {
                (result.unwrap(), other, (&gate_b, &gate_a), &b)
            }
        };
        assert!(
            matches!(failed, Err(Error::Disconnected(_))),
            "expected disconnected, got {failed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(1),
            "disconnected only after {elapsed:?}"
        );

        // The worker on the other host is unaffected.
        gate_other.open.send_replace(true);
        let done = tokio::time::timeout(GUARD, other)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(done.output, "\"open\"");

        // The host is respawned, the failed call was not retried, and the
        // worker's next invocation runs on the new host.
        server.wait_stderr(&format!("(pid {}) exited", hosts[0]));
        assert_eq!(
            *gate_failed.calls.borrow(),
            1,
            "the failed call was retried"
        );
        gate_failed.open.send_replace(true);
        let again = worker_failed.invoke("run", "").await.unwrap();
        assert_eq!(again.output, "\"open\"");
        assert_eq!(*gate_failed.calls.borrow(), 2);
    });
    let after = server.host_pids();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(!after.contains(&hosts[0]), "{after:?}");
    assert!(
        after.contains(&hosts[1]),
        "the other host lives on: {after:?}"
    );
}

#[test]
fn a_stopped_host_is_answered_for_by_the_broker_and_replaced() {
    let server = Server::start(1);
    let hosts = server.host_pids();
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let gate = Gate::new();
        let worker = conn.load(&gated(&gate, 1_000)).await.unwrap();
        let w = worker.clone();
        let call = tokio::task::spawn_local(async move { w.invoke("run", "").await });
        gate.called(1).await;
        // A host that cannot run at all: its own wall-clock deadline never
        // fires, so only the broker can answer.
        support::signal(hosts[0], libc::SIGSTOP);
        let started = Instant::now();
        let result = tokio::time::timeout(GUARD, call).await.unwrap().unwrap();
        let (kind, message) = invoke_kind(result);
        assert_eq!(kind, InvokeErrorKind::WallTimeExceeded, "{message}");
        // The broker answers at wall time + log flush allowance + grace
        // (2.5 s from the call); the bound leaves room for a loaded machine
        // while the host stays stopped.
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
        server.wait_stderr(&format!("killing isolate-host 0 (pid {})", hosts[0]));
        server.wait_stderr(&format!("(pid {}) exited", hosts[0]));
        gate.open.send_replace(true);
        let again = worker.invoke("run", "").await.unwrap();
        assert_eq!(again.output, "\"open\"");
    });
    assert_ne!(server.host_pids(), hosts);
}

// ============================================================================
// Limits
// ============================================================================

#[test]
fn a_worker_poisoned_by_a_limit_is_rebuilt_before_its_next_invocation() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new(
            "w.js",
            r#"let calls = 0;
            const kept = [];
            export default {
                run: () => ++calls,
                spin() { for (;;) {} },
                grow() { for (;;) kept.push(new Float64Array(4096)); },
                deep() { const f = () => f() + 1; return f(); },
                fail() { throw new Error("plain"); },
            };"#,
        )
        .limits(Limits {
            cpu_time_ms: Some(200),
            memory_bytes: Some(8 << 20),
            ..Limits::default()
        });
        let worker = conn.load(&code).await.unwrap();
        let run = |w: &Worker| {
            let w = w.clone();
            async move { w.invoke("run", "").await.unwrap().output }
        };
        assert_eq!(run(&worker).await, "1");
        assert_eq!(run(&worker).await, "2");
        // An ordinary exception keeps the module state…
        let (kind, _) = invoke_kind(worker.invoke("fail", "").await);
        assert_eq!(kind, InvokeErrorKind::Exception);
        assert_eq!(run(&worker).await, "3");
        // …a tripped limit throws the runtime away.
        for (entry, expected) in [
            ("spin", InvokeErrorKind::CpuLimitExceeded),
            ("grow", InvokeErrorKind::MemoryLimitExceeded),
            ("deep", InvokeErrorKind::StackOverflow),
        ] {
            let (kind, message) = invoke_kind(worker.invoke(entry, "").await);
            assert_eq!(kind, expected, "{entry}: {message}");
            assert_eq!(run(&worker).await, "1", "after {entry}");
            assert_eq!(run(&worker).await, "2", "after {entry}");
        }
    });
}

#[test]
fn limit_defaults_and_maxima_come_from_flags() {
    let server = Server::start_with(
        1,
        &[
            "--limit-max",
            "cpuTimeMs=300",
            "--limit-default",
            "cpuTimeMs=50",
        ],
    );
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new("w.js", "export default () => { for (;;) {} };");
        let too_much = code.clone().limits(Limits {
            cpu_time_ms: Some(301),
            ..Limits::default()
        });
        match conn.load(&too_much).await {
            Err(Error::Refused { kind, message }) => {
                assert_eq!(kind, "limit_too_high");
                assert!(message.contains("cpuTimeMs = 301"), "{message}");
                assert!(message.contains("maximum of 300"), "{message}");
            }
            Err(other) => panic!("expected limit_too_high, got {other:?}"),
            Ok(_) => panic!("expected limit_too_high, got a worker"),
        }
        let worker = conn.load(&code).await.unwrap();
        let done = worker.invoke("run", "").await;
        let (kind, message) = invoke_kind(done);
        assert_eq!(kind, InvokeErrorKind::CpuLimitExceeded);
        assert!(message.contains("50 ms"), "{message}");
    });
}

#[test]
fn bad_limit_flags_are_usage_errors() {
    let (code, _, stderr) = support::caplet(&["serve", "--limit-max", "cpuTime=5"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no limit called \"cpuTime\""), "{stderr}");
}

// ============================================================================
// Cordons
// ============================================================================

#[test]
fn a_cordon_keeps_principals_in_separate_hosts() {
    let server = Server::start_with(1, &["--cordon", "principal"]);
    let hosts = server.host_pids();
    block_on(async {
        // Both connections are this Unix user; each names its own
        // sub-principal in WorkerCode.
        let first = Connection::connect(&server.socket).await.unwrap();
        let second = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new("w.js", "export default () => 'ok';");
        let other = code.clone().principal("bob");
        let mine = first.load(&code).await.unwrap();
        // The first connection owns the only host: it may add workers…
        let more = first.load(&code).await.unwrap();
        assert_eq!(more.invoke("run", "").await.unwrap().output, "\"ok\"");
        // …no one else may, not even by naming a principal.
        for conn_code in [
            (&second, other.clone()),
            (&first, code.clone().principal("alice")),
        ] {
            match conn_code.0.load(&conn_code.1).await {
                Err(Error::Overloaded(message)) => {
                    assert!(message.contains("cordoned"), "{message}")
                }
                Err(other) => panic!("expected overloaded, got {other:?}"),
                Ok(_) => panic!("a second principal shared the cordoned host"),
            }
        }
        // Once the owner's workers are gone, the host is replaced by a fresh
        // process, which the next principal gets.
        drop((mine, more));
        // Round trips keep this connection's event loop running (so the
        // releases go out) until the broker reports the kill.
        let killing = format!("killing isolate-host 0 (pid {})", hosts[0]);
        let deadline = Instant::now() + GUARD;
        while !server.stderr_arrived(&killing) {
            assert!(
                Instant::now() < deadline,
                "the cordoned host was not replaced"
            );
            let refused = first.get("", &code).await;
            assert!(
                matches!(refused, Err(Error::Refused { .. })),
                "{:?}",
                refused.err()
            );
        }
        let theirs = second.load(&other).await.unwrap();
        assert_eq!(theirs.invoke("run", "").await.unwrap().output, "\"ok\"");
    });
    assert_ne!(server.host_pids(), hosts);
}

#[test]
fn under_a_cordon_one_principal_leaves_a_host_for_the_next() {
    let server = Server::start_with(3, &["--cordon", "principal"]);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new("w.js", "export default () => 'ok';");
        // Alice's workers take a free host only while another stays free…
        let mut kept = Vec::new();
        for _ in 0..6 {
            let worker = conn.load(&code.clone().principal("alice")).await.unwrap();
            assert_eq!(worker.invoke("run", "").await.unwrap().output, "\"ok\"");
            kept.push(worker);
        }
        // …so Bob gets the last one, and then only his hosts take his.
        for _ in 0..2 {
            let bob = conn.load(&code.clone().principal("bob")).await.unwrap();
            assert_eq!(bob.invoke("run", "").await.unwrap().output, "\"ok\"");
            kept.push(bob);
        }
        match conn.load(&code.clone().principal("carol")).await {
            Err(Error::Overloaded(message)) => assert!(message.contains("cordoned"), "{message}"),
            Err(other) => panic!("expected overloaded, got {other:?}"),
            Ok(_) => panic!("a third principal found a host, with all three taken"),
        }
    });
}

#[test]
fn under_a_cordon_cached_workers_are_per_principal() {
    let server = Server::start_with(2, &["--cordon", "principal"]);
    block_on(async {
        let first = Connection::connect(&server.socket).await.unwrap();
        let second = Connection::connect(&server.socket).await.unwrap();
        let code = WorkerCode::new("w.js", "let n = 0; export default () => ++n;");
        let other = code.clone().principal("bob");
        let a = first.get("counter", &code).await.unwrap();
        assert_eq!(a.invoke("run", "").await.unwrap().output, "1");
        let again = first.get("counter", &code).await.unwrap();
        assert_eq!(again.invoke("run", "").await.unwrap().output, "2");
        // The same id from another principal is another worker, on the
        // other host.
        let b = second.get("counter", &other).await.unwrap();
        assert_eq!(b.invoke("run", "").await.unwrap().output, "1");
    });
}
