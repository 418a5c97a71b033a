//! End to end: descriptor exhaustion. A `caplet serve` under a low
//! `RLIMIT_NOFILE`, flooded with TCP connections that never authenticate,
//! keeps serving its Unix-socket clients promptly and logs the flood at
//! most once a second.

use crate::support;

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use caplet_client::{Connection, WorkerCode};

use support::{block_on, Server};

/// The broker's descriptor limit, soft and hard (so raising the soft limit
/// to the hard one does not help by itself).
const NOFILE: libc::rlim_t = 256;
/// Unauthenticated TCP connections held open: more than the limit.
const FLOOD: usize = 300;
/// How long a local client may wait for an answer.
const PROMPT: Duration = Duration::from_secs(3);
/// How long the flood goes on while the local client works.
const FLOOD_TIME: Duration = Duration::from_secs(2);

#[test]
fn peers_without_a_token_leave_descriptors_for_local_clients() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "alice:alice-0123456789abcdef\n").expect("write token file");
    let extra = [
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        tokens.to_str().unwrap(),
        // Held for the whole test unless the broker refuses them.
        "--auth-timeout-secs",
        "120",
    ];
    let server = Server::start_command(1, &extra, |command| {
        // SAFETY: setrlimit(2) is async-signal-safe and touches no memory
        // shared with the parent.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: NOFILE,
                    rlim_max: NOFILE,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    let start = Instant::now();
    let flood: Vec<TcpStream> = (0..FLOOD)
        .map(|_| TcpStream::connect(server.tcp()).expect("connect over TCP"))
        .collect();

    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        let worker = tokio::time::timeout(
            PROMPT,
            conn.load(&WorkerCode::new("w.js", "export default () => 'served'")),
        )
        .await
        .expect("a Unix-socket client waited for its load")
        .unwrap();
        // The flood goes on (each new connection is refused) while the
        // local client keeps being served promptly.
        let flooding = Instant::now();
        loop {
            drop(TcpStream::connect(server.tcp()).expect("connect over TCP"));
            let done = tokio::time::timeout(PROMPT, worker.invoke("run", ""))
                .await
                .expect("a Unix-socket client waited for its answer")
                .unwrap();
            assert_eq!(done.output, "\"served\"");
            if flooding.elapsed() >= FLOOD_TIME {
                break;
            }
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    drop(flood);

    let lines = server.stderr_lines();
    let about_connections: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("refused a connection") || l.contains("accept on"))
        .collect();
    assert!(
        about_connections
            .iter()
            .any(|l| l.contains("unauthenticated connections open")),
        "{lines:#?}"
    );
    // At most one line a second per kind of line and listener.
    let most = 2.0 * (elapsed + 1.0);
    assert!(
        about_connections.len() as f64 <= most,
        "{} lines in {elapsed:.1} s: {about_connections:#?}",
        about_connections.len()
    );
}
