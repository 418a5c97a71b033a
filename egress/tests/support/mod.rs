//! Test support: a tiny HTTP/1.1 server on 127.0.0.1 that records every
//! request it gets and answers from a handler, and a runner for tests that
//! need a current-thread runtime with a `LocalSet`.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use caplet_egress::policy::Policy;
use caplet_egress::resolve::StaticResolver;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Runs `test` on a current-thread runtime inside a `LocalSet`, the way the
/// broker runs capnp-rpc.
pub fn run<F: Future<Output = ()>>(test: F) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    tokio::task::LocalSet::new().block_on(&runtime, test);
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    /// Values of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// What the server does with a request.
pub enum Reply {
    /// Send these bytes, then close.
    Raw(Vec<u8>),
    /// Never answer (for timeouts).
    Hang,
}

/// A complete response with a `content-length`.
pub fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!("HTTP/1.1 {status} Whatever\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    Reply::Raw(out)
}

/// A redirect to `location`.
pub fn redirect(status: u16, location: &str) -> Reply {
    reply(status, &[("location", location)], b"")
}

/// A recording HTTP server on 127.0.0.1, port 0.
pub struct TestServer {
    pub port: u16,
    seen: Rc<RefCell<Vec<Seen>>>,
    connections: Rc<Cell<usize>>,
}

type Handler = Rc<dyn Fn(&Seen, u16) -> Reply>;

impl TestServer {
    /// Starts the server; `handler` gets each request and the server's port.
    pub async fn start(handler: impl Fn(&Seen, u16) -> Reply + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let connections = Rc::new(Cell::new(0));
        let handler: Handler = Rc::new(handler);
        let (seen2, connections2) = (seen.clone(), connections.clone());
        tokio::task::spawn_local(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections2.set(connections2.get() + 1);
                tokio::task::spawn_local(serve(stream, port, handler.clone(), seen2.clone()));
            }
        });
        TestServer {
            port,
            seen,
            connections,
        }
    }

    /// Like [`TestServer::start`], but speaking TLS with the certificate in
    /// `tests/tls/` (`api.test` and `127.0.0.1`, signed by `tests/tls/ca.der`).
    #[cfg(feature = "tls")]
    pub async fn start_tls(handler: impl Fn(&Seen, u16) -> Reply + 'static) -> TestServer {
        use std::sync::Arc;
        use tokio_rustls::rustls::{self, pki_types};

        let cert = pki_types::CertificateDer::from(include_bytes!("../tls/leaf.der").to_vec());
        let key = pki_types::PrivateKeyDer::Pkcs8(pki_types::PrivatePkcs8KeyDer::from(
            include_bytes!("../tls/leaf.key.der").to_vec(),
        ));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let connections = Rc::new(Cell::new(0));
        let handler: Handler = Rc::new(handler);
        let (seen2, connections2) = (seen.clone(), connections.clone());
        tokio::task::spawn_local(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections2.set(connections2.get() + 1);
                let (acceptor, handler, seen) = (acceptor.clone(), handler.clone(), seen2.clone());
                tokio::task::spawn_local(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve(tls, port, handler, seen).await;
                    }
                });
            }
        });
        TestServer {
            port,
            seen,
            connections,
        }
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.borrow().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.get()
    }

    /// `http://HOST:PORT/PATH` for this server.
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }
}

async fn serve<S>(stream: S, port: u16, handler: Handler, seen: Rc<RefCell<Vec<Seen>>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    let request = Seen {
        method,
        target,
        headers,
        body,
    };
    seen.borrow_mut().push(request.clone());
    match handler(&request, port) {
        Reply::Raw(bytes) => {
            let mut stream = reader.into_inner();
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Hang => std::future::pending::<()>().await,
    }
}

/// A policy that reaches the test server: hosts `127.0.0.1`, `api.test`
/// and `other.test`, the server's port, and loopback re-allowed.
pub fn local_policy(port: u16) -> Policy {
    Policy::default()
        .allow_hosts(["127.0.0.1", "api.test", "other.test"])
        .expect("hosts")
        .allow_ports([port])
        .allow_ranges(["127.0.0.0/8"])
        .expect("ranges")
}

/// `api.test` and `other.test` → 127.0.0.1; `evil.test` → 10.0.0.5.
pub fn test_resolver() -> StaticResolver {
    StaticResolver::new()
        .with("api.test", ["127.0.0.1".parse().expect("ip")])
        .with("other.test", ["127.0.0.1".parse().expect("ip")])
        .with("evil.test", ["10.0.0.5".parse().expect("ip")])
}
