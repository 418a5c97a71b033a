//! The HTTP client under rmcp's streamable HTTP transport, for upstream MCP
//! servers configured with `url` (the `upstream` module uses it; it uses
//! nothing of that module).
//!
//! rmcp runs the protocol (sessions, the event stream, reconnection); this
//! module only moves its requests, on hyper HTTP/1.1 connections kept
//! alive (at most [`MAX_IDLE_CONNECTIONS`] idle ones), over TCP or, for
//! `https`, TLS with the default roots (`caplet_egress::connect_tls`).
//! Every request carries the configured headers (credentials from
//! `[secrets]`, filled in by the broker). Every answer is bounded: a JSON
//! body or a POST's event stream at [`MAX_RESPONSE_BYTES`], an error's text
//! at [`MAX_ERROR_BYTES`] (the configured secrets are taken out of it
//! before it is cut, so none leaves a prefix). The upstream is the operator's choice, so unlike
//! the `http` built-in no address is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use bytes::Bytes;
use caplet_egress::secrets::Redactor;
use caplet_egress::url::Url;
use futures::stream::BoxStream;
use futures::StreamExt;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use sse_stream::{Sse, SseStream};

use crate::error::Error;

/// Largest answer read: a JSON body, or the whole event stream of one
/// request, in bytes (a tool result passed on is at most 16 MiB of JSON;
/// the rest is room for its envelope and text content).
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Most bytes of an error answer kept for its message.
pub const MAX_ERROR_BYTES: usize = 512;

const SESSION_ID: &str = "mcp-session-id";
const LAST_EVENT_ID: &str = "last-event-id";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// Headers rmcp or this client sets itself; configured headers may not.
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "accept",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    SESSION_ID,
    LAST_EVENT_ID,
    "mcp-protocol-version",
];

impl From<Error> for StreamableHttpError<Error> {
    fn from(e: Error) -> Self {
        StreamableHttpError::Client(e)
    }
}

impl From<hyper::Error> for Error {
    fn from(e: hyper::Error) -> Self {
        Error::UpstreamHttp(e.to_string())
    }
}

type HttpResult<T> = Result<T, StreamableHttpError<Error>>;

/// How long opening a connection (TCP, then TLS for `https`) may take: a
/// server that does not answer is then unreachable, so its calls answer
/// `disconnected` instead of each waiting for its call timeout.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most idle connections kept for the next requests of one upstream.
pub const MAX_IDLE_CONNECTIONS: usize = 8;

/// How long a kept connection may wait for its next request, counted from
/// its last response's start or from when it was last seen still busy with
/// it (a lower bound of its idle time): below the keep-alive timeouts of common
/// servers (uvicorn's is 5 s), so a request rarely meets a connection the
/// server is closing as it arrives.
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// An HTTP/1.1 connection's sending half.
type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// The client of one upstream's URL.
#[derive(Clone)]
pub struct HttpClient {
    url: Arc<Url>,
    /// Connections kept for the next requests (keep-alive), with when
    /// they were last known busy: one is used again once that response
    /// has been read to its end, if it is not older than [`IDLE_TIMEOUT`].
    pool: Arc<Mutex<Vec<(Sender, Instant)>>>,
    /// Takes the configured secrets out of error answers.
    redactor: Arc<Redactor>,
    /// Bytes of an error answer read past [`MAX_ERROR_BYTES`] before it is
    /// redacted, so that a secret across the cut is seen whole.
    slack: usize,
}

impl HttpClient {
    /// A client of `url` (checked by `Url::parse`) whose error texts are
    /// redacted with `redactor`; `longest_secret` is the length of the
    /// longest secret it knows, in bytes.
    pub fn new(url: Url, redactor: Redactor, longest_secret: usize) -> Self {
        Self {
            url: Arc::new(url),
            pool: Arc::default(),
            redactor: Arc::new(redactor),
            slack: redaction_slack(longest_secret),
        }
    }

    fn request(
        &self,
        method: Method,
        session_id: Option<&str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> hyper::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(self.url.request_target())
            .header(hyper::header::HOST, self.url.host_header());
        for (name, value) in custom_headers {
            builder = builder.header(name, value);
        }
        if let Some(id) = session_id {
            builder = builder.header(SESSION_ID, id);
        }
        if let Some(token) = auth_header {
            builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        builder
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Vec<(Sender, Instant)>> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the kept connections that are closed or idle too long; one
    /// still busy with its response counts as idle from now on.
    fn prune(pool: &mut Vec<(Sender, Instant)>) {
        let now = Instant::now();
        pool.retain_mut(|(sender, since)| {
            if !sender.is_closed() && !sender.is_ready() {
                *since = now;
            }
            !sender.is_closed() && now - *since < IDLE_TIMEOUT
        });
    }

    /// An idle connection ready for a request.
    fn idle(&self) -> Option<Sender> {
        let mut pool = self.pool();
        Self::prune(&mut pool);
        let ready = pool.iter().position(|(sender, _)| sender.is_ready())?;
        Some(pool.swap_remove(ready).0)
    }

    /// Keeps `sender` for later requests, if there is room.
    fn keep(&self, sender: Sender) {
        let mut pool = self.pool();
        Self::prune(&mut pool);
        if pool.len() < MAX_IDLE_CONNECTIONS {
            pool.push((sender, Instant::now()));
        }
    }

    /// Sends `request` on an idle connection, or on a new one. A kept
    /// connection that breaks before a response head (the server closed
    /// it as the request arrived) is given up, and the request is sent
    /// once more on a new connection.
    async fn send(&self, mut request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Error> {
        while let Some(mut sender) = self.idle() {
            let again = copy(&request);
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.keep(sender);
                    return Ok(response);
                }
                // Closed before it was sent: another connection gets it.
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None if broke_early(e.error()) => return self.send_new(again).await,
                    None => return Err(e.into_error().into()),
                },
            }
        }
        self.send_new(request).await
    }

    /// Sends `request` on a new connection.
    async fn send_new(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Error> {
        let mut sender = self.connect().await?;
        let response = sender.send_request(request).await?;
        self.keep(sender);
        Ok(response)
    }

    /// A new connection to the upstream, within [`CONNECT_TIMEOUT`].
    async fn connect(&self) -> Result<Sender, Error> {
        let url = &*self.url;
        let address = format!("{}:{}", url.host, url.port);
        let unreachable = |reason: String| Error::UpstreamUnreachable {
            address: address.clone(),
            reason,
        };
        let connect = async {
            let tcp = tokio::net::TcpStream::connect(&address)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            if url.scheme == "https" {
                let tls = caplet_egress::connect_tls(url, tcp)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                handshake(tls).await
            } else {
                handshake(tcp).await
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                unreachable(format!(
                    "no connection within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
    }
}

/// A copy of `request` (its body is bytes in memory), to send it again.
fn copy(request: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// Whether `error` is a connection that ended before a response head:
/// closed (EOF) or reset by the server.
fn broke_early(error: &hyper::Error) -> bool {
    use std::error::Error as _;
    let reset = error
        .source()
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        });
    error.is_incomplete_message() || error.is_canceled() || reset
}

async fn handshake<S>(stream: S) -> Result<Sender, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection ends when the server closes it, or when its sender is
    // dropped (out of the pool) and its last response is over.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn header<'a>(response: &'a Response<Incoming>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn is_type(response: &Response<Incoming>, expected: &str) -> bool {
    header(response, hyper::header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
    })
}

/// The body of `response`, at most `limit` bytes.
async fn read_body(response: Response<Incoming>, limit: usize) -> HttpResult<Bytes> {
    match Limited::new(response.into_body(), limit).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(e) => match e.downcast::<hyper::Error>() {
            Ok(e) => Err(Error::from(*e).into()),
            Err(_) => Err(StreamableHttpError::ResponseBodyTooLarge { max_size: limit }),
        },
    }
}

/// The most bytes a secret of `longest` bytes takes in a text the
/// [`Redactor`] searches: percent-encoded twice (`%252D`, 5 bytes a byte).
fn redaction_slack(longest: usize) -> usize {
    longest.saturating_mul(5)
}

impl HttpClient {
    /// A failed status as an error: its code and the start of its text,
    /// redacted, on one line.
    async fn refused(&self, response: Response<Incoming>) -> StreamableHttpError<Error> {
        let status = response.status();
        let mut body = Vec::new();
        let mut stream = response.into_body().into_data_stream();
        while body.len() < MAX_ERROR_BYTES + self.slack {
            match stream.next().await {
                Some(Ok(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        self.refusal(status, &body).into()
    }

    /// The error of an answer with `status` and the start of `body`.
    fn refusal(&self, status: StatusCode, body: &[u8]) -> Error {
        refusal(status, body, &self.redactor, self.slack)
    }
}

/// The error of an answer with `status` and the start of `body`: its
/// first [`MAX_ERROR_BYTES`] + `slack` bytes are redacted, then cut to
/// [`MAX_ERROR_BYTES`] (cutting first could leave a secret's prefix).
fn refusal(status: StatusCode, body: &[u8], redactor: &Redactor, slack: usize) -> Error {
    let window = &body[..body.len().min(MAX_ERROR_BYTES + slack)];
    let mut text = redactor.redact(&String::from_utf8_lossy(window));
    if text.len() > MAX_ERROR_BYTES {
        let mut end = MAX_ERROR_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let reason = status.canonical_reason().unwrap_or("");
    Error::UpstreamRefused {
        status: status.as_u16(),
        detail: if text.is_empty() {
            reason.to_string()
        } else {
            format!("{reason}: {text}")
        },
    }
}

/// The events of a `text/event-stream` body, at most
/// [`MAX_RESPONSE_BYTES`] in all.
fn events(response: Response<Incoming>) -> BoxStream<'static, Result<Sse, sse_stream::Error>> {
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
        .map_err(|e| std::io::Error::other(e.to_string()));
    SseStream::new(body).boxed()
}

impl StreamableHttpClient for HttpClient {
    type Error = Error;

    async fn post_message(
        &self,
        _uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let body = serde_json::to_vec(&message)?;
        let builder = self
            .request(
                Method::POST,
                session_id.as_deref(),
                auth_header,
                custom_headers,
            )
            .header(hyper::header::CONTENT_TYPE, JSON)
            .header(hyper::header::ACCEPT, format!("{EVENT_STREAM}, {JSON}"));
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::UpstreamHttp(e.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        if matches!(status, StatusCode::ACCEPTED | StatusCode::NO_CONTENT) {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        let new_session = header(&response, SESSION_ID).map(str::to_string);
        let awaits_no_response = !matches!(message, ClientJsonRpcMessage::Request(_));
        if !status.is_success() {
            // A JSON-RPC error answered with an error status is an answer.
            if is_type(&response, JSON) && status != StatusCode::UNAUTHORIZED {
                let body = read_body(response, MAX_RESPONSE_BYTES).await?;
                return match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                    Ok(error @ ServerJsonRpcMessage::Error(_)) => {
                        Ok(StreamableHttpPostResponse::Json(error, new_session))
                    }
                    _ => Err(self.refusal(status, &body).into()),
                };
            }
            return Err(self.refused(response).await);
        }
        if is_type(&response, EVENT_STREAM) {
            return Ok(StreamableHttpPostResponse::Sse(
                events(response),
                new_session,
            ));
        }
        if is_type(&response, JSON) {
            let body = read_body(response, MAX_RESPONSE_BYTES).await?;
            return match serde_json::from_slice::<ServerJsonRpcMessage>(&body) {
                Ok(message) => Ok(StreamableHttpPostResponse::Json(message, new_session)),
                Err(_) if awaits_no_response => Ok(StreamableHttpPostResponse::Accepted),
                Err(e) => Err(StreamableHttpError::Deserialize(e)),
            };
        }
        if awaits_no_response {
            return Ok(StreamableHttpPostResponse::Accepted);
        }
        Err(StreamableHttpError::UnexpectedContentType(
            header(&response, hyper::header::CONTENT_TYPE.as_str()).map(str::to_string),
        ))
    }

    async fn delete_session(
        &self,
        _uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        let builder = self.request(
            Method::DELETE,
            Some(&session_id),
            auth_header,
            custom_headers,
        );
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::UpstreamHttp(e.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        if status.is_success() || status == StatusCode::METHOD_NOT_ALLOWED {
            return Ok(());
        }
        Err(self.refused(response).await)
    }

    async fn get_stream(
        &self,
        _uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<BoxStream<'static, Result<Sse, sse_stream::Error>>> {
        let mut builder = self
            .request(
                Method::GET,
                session_id.as_deref(),
                auth_header,
                custom_headers,
            )
            .header(hyper::header::ACCEPT, EVENT_STREAM);
        if let Some(id) = last_event_id {
            builder = builder.header(LAST_EVENT_ID, id);
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| Error::UpstreamHttp(e.to_string()))?;
        let response = self.send(request).await?;
        let status = response.status();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return Err(StreamableHttpError::ServerDoesNotSupportSse);
        }
        if status == StatusCode::NOT_FOUND && session_id.is_some() {
            return Err(StreamableHttpError::SessionExpired);
        }
        if !status.is_success() {
            return Err(self.refused(response).await);
        }
        if !is_type(&response, EVENT_STREAM) {
            return Err(StreamableHttpError::UnexpectedContentType(
                header(&response, hyper::header::CONTENT_TYPE.as_str()).map(str::to_string),
            ));
        }
        Ok(events(response))
    }
}

/// Checks a configured header: its name is a valid one that neither rmcp
/// nor this client sets; its value (secrets filled in) is a valid one.
pub fn check_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("headers.{name}: not a valid header name"))?;
    if RESERVED_HEADERS.contains(&parsed.as_str()) {
        return Err(format!(
            "headers.{name}: set by the MCP transport, it cannot be configured"
        ));
    }
    // The value may hold a secret: the error never shows it, and the value
    // is marked sensitive (never shown by `Debug`, never indexed by HPACK).
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        format!("headers.{name}: not a valid header value (it holds control characters)")
    })?;
    value.set_sensitive(true);
    Ok((parsed, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Reads one request head (the requests here have no body); `false`
    /// at the end of the connection.
    async fn read_request(stream: &mut tokio::net::TcpStream) -> bool {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    /// A raw HTTP/1.1 server on 127.0.0.1 answering `ok` to each request;
    /// on its first connection it reads the request after `answered` ones
    /// and closes it unanswered (as a server does whose keep-alive timeout
    /// ends as the request arrives). Counts the connections it accepts.
    async fn raw_server(answered: usize) -> (Url, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = Url::parse(&format!(
            "http://{}/mcp",
            listener.local_addr().expect("address")
        ))
        .expect("url");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
                tokio::spawn(async move {
                    let mut served = 0;
                    while read_request(&mut stream).await {
                        if first && served == answered {
                            return;
                        }
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(ok).await.is_err() {
                            return;
                        }
                        served += 1;
                    }
                });
            }
        });
        (url, accepted)
    }

    async fn get(client: &HttpClient) -> Result<String, Error> {
        let request = client
            .request(Method::GET, None, None, HashMap::new())
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = client.send(request).await?;
        let body = response.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_kept_connection_closed_as_a_request_arrives_is_retried_on_a_new_one() {
        let (url, accepted) = raw_server(1).await;
        let client = HttpClient::new(url, Redactor::default(), 0);
        assert_eq!(get(&client).await.expect("first"), "ok");
        // The kept connection is closed by the server as this arrives.
        assert_eq!(get(&client).await.expect("second"), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // The new connection is kept.
        assert_eq!(get(&client).await.expect("third"), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_idle_past_its_timeout_is_not_used_again() {
        let (url, accepted) = raw_server(usize::MAX).await;
        let client = HttpClient::new(url, Redactor::default(), 0);
        assert_eq!(get(&client).await.expect("first"), "ok");
        assert_eq!(get(&client).await.expect("kept"), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        tokio::time::pause();
        tokio::time::advance(IDLE_TIMEOUT).await;
        tokio::time::resume();
        assert_eq!(get(&client).await.expect("after"), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_error_answer_is_redacted_before_it_is_cut() {
        let secret = "s3cr3t-token-value";
        let redactor = Redactor::new([secret]);
        let slack = redaction_slack(secret.len());
        // The secret starts 6 bytes before the cut.
        let body = format!("{}{secret} and more", "x".repeat(MAX_ERROR_BYTES - 6));
        let error = refusal(StatusCode::BAD_REQUEST, body.as_bytes(), &redactor, slack);
        let text = error.to_string();
        assert!(!text.contains("s3cr"), "{text}");
        assert!(text.ends_with("xxxxxx[redac"), "{text}");
        // Percent-encoded twice, it is found whole too.
        let encoded: String = secret.bytes().map(|b| format!("%25{b:02X}")).collect();
        let body = format!("{}{encoded}", "x".repeat(MAX_ERROR_BYTES - 6));
        let text = refusal(StatusCode::BAD_REQUEST, body.as_bytes(), &redactor, slack).to_string();
        assert!(text.ends_with("xxxxxx[redac"), "{text}");
    }

    #[test]
    fn configured_headers_are_checked_without_showing_their_values() {
        assert!(check_header("Authorization", "Bearer abc").is_ok());
        assert!(check_header("X-Api-Key", "k").is_ok());
        for (name, value, needle) in [
            ("bad name", "v", "not a valid header name"),
            ("", "v", "not a valid header name"),
            ("Accept", "v", "set by the MCP transport"),
            ("Mcp-Session-Id", "v", "set by the MCP transport"),
            ("Host", "v", "set by the MCP transport"),
            ("X-Key", "s3cr3t\nInjected: 1", "not a valid header value"),
        ] {
            let error = check_header(name, value).unwrap_err();
            assert!(error.contains(needle), "{error}");
            assert!(!error.contains("s3cr3t"), "{error}");
        }
    }
}
