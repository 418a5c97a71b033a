//! `caplet mcp --http ADDR`: the MCP streamable HTTP transport (rmcp's
//! `StreamableHttpService`) at path `/mcp`, served with hyper. Off
//! loopback every request must carry `Authorization: Bearer TOKEN` with a
//! token of `--token-file` (compared in constant time by
//! `caplet_broker::Tokens`); on loopback the token is optional, and rmcp's
//! `Host` check keeps DNS-rebinding pages out. Prints `READY
//! http://ADDR/mcp` on stdout once it accepts connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::CodeMode;

/// Serves `server` at `http://address/mcp` until the process ends.
pub async fn serve(
    server: CodeMode,
    address: SocketAddr,
    token_file: Option<&Path>,
) -> anyhow::Result<()> {
    let tokens = match token_file {
        Some(file) => Some(Arc::new(caplet_broker::Tokens::load(file)?)),
        None if address.ip().is_loopback() => None,
        None => anyhow::bail!(
            "--http off loopback needs --token-file: clients must send a bearer token"
        ),
    };
    let mut config = StreamableHttpServerConfig::default();
    if !address.ip().is_loopback() {
        // Reachable by other names: the token is the guard.
        config = config.disable_allowed_hosts();
    }
    let service = Arc::new(StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    ));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    println!("READY http://{bound}/mcp");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of descriptors and the like: the next accept may work.
            Err(_) => continue,
        };
        let service = service.clone();
        let tokens = tokens.clone();
        tokio::spawn(async move {
            let handler =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let service = service.clone();
                    let tokens = tokens.clone();
                    async move {
                        Ok::<_, Infallible>(handle(&service, tokens.as_deref(), request).await)
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            // A client that breaks the protocol ends its own connection only.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, handler)
                .await;
        });
    }
}

type Body = BoxBody<Bytes, Infallible>;

async fn handle(
    service: &StreamableHttpService<CodeMode, LocalSessionManager>,
    tokens: Option<&caplet_broker::Tokens>,
    request: Request<hyper::body::Incoming>,
) -> Response<Body> {
    if request.uri().path() != "/mcp" {
        return plain(StatusCode::NOT_FOUND, "not found: the MCP endpoint is /mcp");
    }
    if let Some(tokens) = tokens {
        let presented = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let known = presented.is_some_and(|t| tokens.principal_for(t.as_bytes()).is_some());
        if !known {
            let mut response = plain(
                StatusCode::UNAUTHORIZED,
                "unauthenticated: a valid bearer token is required",
            );
            response.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
    }
    if request.method() != hyper::Method::POST {
        return service.handle(request).await;
    }
    // Each POST is one JSON-RPC message, checked before rmcp reads it.
    let (parts, body) = request.into_parts();
    let bytes = match http_body_util::Limited::new(body, super::guard::MAX_MESSAGE_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too large: a message is at most 16 MiB",
            )
        }
    };
    if let Err(answer) = super::guard::check(&bytes) {
        let mut response = Response::new(Full::new(Bytes::from(answer.to_string())).boxed());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        return response;
    }
    service
        .handle(Request::from_parts(parts, Full::new(bytes)))
        .await
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response
}
