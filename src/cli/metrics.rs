//! `caplet serve --metrics ADDR`: the broker's HTTP endpoints for an
//! operator, served with hyper on the broker's thread:
//! - `GET /metrics`: Prometheus text (version 0.0.4);
//! - `GET /healthz`: 200 while the process serves at all (liveness);
//! - `GET /readyz`: 200 when an isolate-host is up and the store answers,
//!   503 naming what is missing (readiness).
//!
//! Anything else is 404 (405 for another method). The endpoints read only
//! counters: they need no token, and grant nothing. At most
//! [`MAX_CONNECTIONS`] are open at once; a request's headers must arrive
//! within [`HEADER_TIMEOUT`].

use std::cell::Cell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};

/// Connections open at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The bound listener, before it serves.
pub struct Listener {
    listener: tokio::net::TcpListener,
}

impl Listener {
    pub async fn bind(address: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {address}: {e}"))?;
        Ok(Self { listener })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves the endpoints until the future is dropped.
    pub async fn serve(&self, probe: caplet_broker::Probe) {
        let open = Rc::new(Cell::new(0usize));
        loop {
            let (stream, _) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                // Out of descriptors and the like: the next accept may work.
                Err(_) => continue,
            };
            if open.get() >= MAX_CONNECTIONS {
                drop(stream);
                continue;
            }
            open.set(open.get() + 1);
            let guard = Open(open.clone());
            let probe = probe.clone();
            tokio::task::spawn_local(async move {
                let _guard = guard;
                let handler =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let probe = probe.clone();
                        async move { Ok::<_, Infallible>(answer(&probe, &request).await) }
                    });
                let io = hyper_util::rt::TokioIo::new(stream);
                // A client that breaks the protocol ends its own connection.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(io, handler)
                    .await;
            });
        }
    }
}

/// One open connection, counted until it ends.
struct Open(Rc<Cell<usize>>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

async fn answer<B>(probe: &caplet_broker::Probe, request: &Request<B>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return text(StatusCode::NOT_FOUND, "not found\n".into());
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
    }
    match path {
        "/metrics" => {
            let mut response = text(StatusCode::OK, probe.metrics_text().await);
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(caplet_broker::metrics::CONTENT_TYPE),
            );
            response
        }
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        _ => match probe.readiness().await {
            Ok(()) => text(StatusCode::OK, "ready\n".into()),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        },
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
