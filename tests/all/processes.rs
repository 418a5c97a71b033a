//! End to end at the process level: isolate-host supervision and clean
//! shutdown of `caplet serve`.

use crate::support;

use caplet_client::{Connection, WorkerCode};
use support::{alive, block_on, Server};

#[test]
fn a_killed_isolate_host_is_respawned_and_later_invocations_succeed() {
    let server = Server::start(1);
    let before = server.host_pids();
    assert_eq!(before.len(), 1, "one isolate-host: {before:?}");
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let worker = conn
            .load(&WorkerCode::new(
                "w.js",
                "let calls = 0; export default { run: () => ++calls }",
            ))
            .await
            .unwrap();
        assert_eq!(worker.invoke("run", "null").await.unwrap().output, "1");

        support::signal(before[0], libc::SIGKILL);
        server.wait_stderr(&format!("(pid {}) exited", before[0]));

        // The same worker handle works again: reloaded on the new host, with
        // fresh module state.
        assert_eq!(worker.invoke("run", "null").await.unwrap().output, "1");
        let fresh = conn
            .load(&WorkerCode::new(
                "f.js",
                "export default { run: () => 'ok' }",
            ))
            .await
            .unwrap();
        assert_eq!(fresh.invoke("run", "null").await.unwrap().output, "\"ok\"");
    });
    let after = server.host_pids();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(
        after, before,
        "a new isolate-host process replaced the killed one"
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let server = Server::start(2);
    let hosts = server.host_pids();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    let socket = server.socket.clone();
    assert!(socket.exists());
    let status = server.terminate();
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket file is removed");
    for pid in hosts {
        assert!(!alive(pid), "isolate-host {pid} outlived the broker");
    }
}

#[test]
fn the_socket_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start(1);
    let mode = std::fs::metadata(&server.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// The arguments `pid` was started with.
fn arguments(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .expect("read /proc/<pid>/cmdline")
        .split(|b| *b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The value that follows `flag` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

#[test]
fn the_spin_before_sleeping_reaches_the_isolate_hosts() {
    for (given, expected) in [(None, "50"), (Some("0"), "0"), (Some("200"), "200")] {
        let extra: Vec<&str> = given.iter().flat_map(|v| ["--spin-us", *v]).collect();
        let server = Server::start_with(1, &extra);
        let hosts = server.host_pids();
        assert_eq!(hosts.len(), 1, "one isolate-host: {hosts:?}");
        let args = arguments(hosts[0]);
        assert_eq!(flag_value(&args, "--spin-us"), Some(expected), "{args:?}");
        // The host serves with it.
        block_on(async {
            let conn = Connection::connect(&server.socket).await.unwrap();
            let worker = conn
                .load(&WorkerCode::new("w.js", "export default { run: () => 1 }"))
                .await
                .unwrap();
            assert_eq!(worker.invoke("run", "null").await.unwrap().output, "1");
        });
    }
}

#[test]
fn a_spin_beyond_ten_milliseconds_is_a_usage_error() {
    let (code, _, stderr) = support::caplet(&["serve", "--spin-us", "20000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--spin-us"), "{stderr}");
}
