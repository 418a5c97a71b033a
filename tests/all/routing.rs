//! The client's `Router` over two real `caplet serve` processes: `get(id)`
//! reaches the same broker, and finds its cached worker there, across
//! reconnects; with that broker killed, it fails over to the other.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;

use caplet_client::{BrokerAddress, Router, WorkerCode};
use support::{block_on, Server};

/// A worker that counts its own invocations: a cached worker answers 2 at
/// its second invocation, a fresh one 1.
const COUNTER: &str = "let n = 0; export default { run() { return ++n; } };";

/// `caplet_loads_total{outcome="ok"}` on a broker's metrics endpoint.
fn loads(address: &str) -> u64 {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("caplet_loads_total{outcome=\"ok\"} "))
        .map_or(0, |value| value.parse().unwrap())
}

#[test]
fn get_sticks_to_one_broker_across_reconnects_and_fails_over() {
    let mut servers = [
        Server::start_with(1, &["--metrics", "127.0.0.1:0"]),
        Server::start_with(1, &["--metrics", "127.0.0.1:0"]),
    ];
    let addresses: Vec<BrokerAddress> = servers
        .iter()
        .map(|s| BrokerAddress::Unix(s.socket.clone()))
        .collect();
    // SAFETY: getuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let principal = format!("unix:{uid}");
    let code = WorkerCode::new("counter.js", COUNTER);

    block_on(async {
        // Two routers in turn: each connects afresh.
        let router = Router::new(addresses.clone(), &principal).unwrap();
        let routed = router.get("job-1", &code).await.unwrap();
        let first = routed.broker;
        assert_eq!(first, router.ranking("job-1")[0]);
        assert_eq!(
            routed.worker.invoke("run", "null").await.unwrap().output,
            "1"
        );
        drop((routed, router));

        let router = Router::new(addresses.clone(), &principal).unwrap();
        let routed = router.get("job-1", &code).await.unwrap();
        assert_eq!(routed.broker, first);
        // The worker cached by the first router's get, not a new one.
        assert_eq!(
            routed.worker.invoke("run", "null").await.unwrap().output,
            "2"
        );
        let chosen = servers[first].metrics.clone().unwrap();
        let other = servers[1 - first].metrics.clone().unwrap();
        assert_eq!(loads(&chosen), 1);
        assert_eq!(loads(&other), 0);

        // The chosen broker goes down: the same router (whose connection
        // to it drops) fails over.
        drop(routed);
        servers[first].child.kill().unwrap();
        servers[first].child.wait().unwrap();
        let routed = router.get("job-1", &code).await.unwrap();
        assert_eq!(routed.broker, 1 - first);
        // A fresh worker on the other broker.
        assert_eq!(
            routed.worker.invoke("run", "null").await.unwrap().output,
            "1"
        );
        // A new router goes there too, and finds that worker.
        let router = Router::new(addresses.clone(), &principal).unwrap();
        let routed = router.get("job-1", &code).await.unwrap();
        assert_eq!(routed.broker, 1 - first);
        assert_eq!(
            routed.worker.invoke("run", "null").await.unwrap().output,
            "2"
        );
        assert_eq!(loads(&other), 1);
    });
}
