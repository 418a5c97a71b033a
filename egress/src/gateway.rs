//! The gateway: one policy, its secrets and a resolver, turning a caller's
//! [`Request`] into a [`Response`] under that policy.
//!
//! Each hop (the request and every redirect) goes through the same steps:
//! policy check of scheme, host, port, method and path; one resolution of
//! the host; the address rules on every resolved address; a TCP connection
//! the gateway opens itself to one of those checked addresses; one HTTP/1.1
//! exchange over hyper's connection-level client (no pool, no proxy, no
//! automatic redirects, no second lookup). Redirects are handled here as
//! the request's [`RedirectMode`] says: followed (each hop checked from
//! scratch), returned as the final response, or refused before a second
//! request is sent. The whole fetch runs under one tokio timeout.
//!
//! Credentials from the policy are rendered into headers only at send time,
//! only for matching hosts, and only while the redirect chain stays on the
//! origin of the first request; caller `Authorization`, `Cookie` and
//! `Proxy-Authorization` headers are dropped once it leaves that origin.
//! Secret values, in any case, percent-encoded or in base64 (see
//! [`Redactor`]), are scrubbed from every byte returned: the final URL,
//! status text, header names and values, the body, and error messages
//! (which carry redirect locations).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::ip::check_ip;
use crate::policy::Policy;
use crate::resolve::{Resolver, SystemResolver};
use crate::secrets::{Redactor, Secrets};
use crate::url::{Host, Url};

/// Request headers the gateway sets itself; callers may not send them and
/// credential rules may not inject them. `proxy-*` is refused as well.
const MANAGED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "accept-encoding",
];

/// Connection-level response headers, never returned to the caller.
const HOP_BY_HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// Caller headers dropped once a redirect chain leaves the first origin.
const CROSS_ORIGIN_STRIPPED: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Request-body headers dropped when a redirect turns the request into a
/// body-less `GET`.
const BODY_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
];

/// URL schemes this build can fetch.
#[cfg(feature = "tls")]
const SCHEMES: &[&str] = &["http", "https"];
#[cfg(not(feature = "tls"))]
const SCHEMES: &[&str] = &["http"];

/// What [`SCHEMES`] means, for error messages.
#[cfg(feature = "tls")]
const SCHEMES_NOTE: &str = "http and https only";
#[cfg(not(feature = "tls"))]
const SCHEMES_NOTE: &str = "plain http only: built without the `tls` feature";

/// `User-Agent` sent when the caller sets none.
const USER_AGENT: &str = "caplet-egress";

fn is_managed(name: &str) -> bool {
    MANAGED_HEADERS.contains(&name) || name.starts_with("proxy-")
}

/// What a caller asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// HTTP method; empty means `GET`.
    pub method: String,
    /// Absolute `http://` URL.
    pub url: String,
    /// Headers in order, repeats allowed.
    pub headers: Vec<(String, String)>,
    /// Body; empty means none.
    pub body: Vec<u8>,
    /// What to do with a redirect.
    pub redirect: RedirectMode,
}

/// How a fetch treats a redirect (a 301, 302, 303, 307 or 308 with a
/// `Location` header): the Fetch Standard's `redirect` modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RedirectMode {
    /// Follow it, checking every hop, up to the policy's `max_redirects`.
    #[default]
    Follow,
    /// Return it as the final response; send no second request.
    Manual,
    /// Fail with [`Error::Redirected`]; send no second request.
    Error,
}

/// What the final server answered, already scrubbed of secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase as sent, or the standard one.
    pub status_text: String,
    /// Headers in order (names lower case), without hop-by-hop ones.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// URL of the final hop.
    pub url: String,
    /// Redirects followed.
    pub redirects: u8,
}

/// One hop's result.
enum Outcome {
    Redirect {
        status: StatusCode,
        location: String,
    },
    Final(Response),
}

/// An outbound HTTP gateway bound to one policy.
pub struct Gateway {
    policy: Policy,
    secrets: Secrets,
    redactor: Redactor,
    resolver: Box<dyn Resolver>,
    #[cfg(feature = "tls")]
    tls: crate::tls::Tls,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("policy", &self.policy)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Builds a gateway using the system resolver. Keeps only the secrets the
    /// policy's credential rules use; fails with `bad_config` when a rule
    /// names a missing secret, renders to an invalid header value, or would
    /// inject a header the gateway manages itself.
    pub fn new(policy: Policy, secrets: &Secrets) -> Result<Gateway> {
        let mut kept = Secrets::new();
        for rule in &policy.credentials {
            if is_managed(rule.header.as_str()) {
                return Err(Error::Config(format!(
                    "header {} cannot be injected: the gateway sets it",
                    rule.header
                )));
            }
            for name in rule.secret_names() {
                let value = secrets.get(name).ok_or_else(|| {
                    Error::Config(format!(
                        "credential rule for header {} uses unknown secret {name}",
                        rule.header
                    ))
                })?;
                kept.insert(name, value)?;
            }
            let rendered = rule.render(|name| kept.get(name).map(String::from));
            if rendered
                .and_then(|v| HeaderValue::from_str(&v).ok())
                .is_none()
            {
                return Err(Error::Config(format!(
                    "credential rule for header {} does not render to a valid header value",
                    rule.header
                )));
            }
        }
        let names: Vec<&str> = policy
            .credentials
            .iter()
            .flat_map(|rule| rule.secret_names())
            .collect();
        let redactor = kept.redactor(names);
        #[cfg(feature = "tls")]
        let policy_roots = policy.ca_certificates.clone();
        Ok(Gateway {
            policy,
            secrets: kept,
            redactor,
            resolver: Box::new(SystemResolver),
            #[cfg(feature = "tls")]
            tls: crate::tls::Tls::default_and(&policy_roots)?,
        })
    }

    /// Replaces the resolver (tests, pinned destinations).
    pub fn with_resolver(mut self, resolver: impl Resolver + 'static) -> Gateway {
        self.resolver = Box::new(resolver);
        self
    }

    /// Trusts exactly these DER-encoded root certificates for `https`
    /// instead of the default roots and the policy's own (tests). Fails with
    /// `bad_config` when one does not parse.
    #[cfg(feature = "tls")]
    pub fn with_root_certificates(
        mut self,
        roots: impl IntoIterator<Item = Vec<u8>>,
    ) -> Result<Gateway> {
        self.tls = crate::tls::Tls::with_roots(roots)?;
        Ok(self)
    }

    /// The policy this gateway enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// `text` with this gateway's secrets replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// Performs `request` under the policy, following redirects. Errors are
    /// already scrubbed of secrets.
    pub async fn fetch(&self, request: Request) -> Result<Response> {
        let limit = self.policy.limits.total_time;
        let result = match tokio::time::timeout(limit, self.fetch_inner(request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(limit)),
        };
        result.map_err(|e| e.map_detail(|detail| self.redactor.redact(&detail)))
    }

    async fn fetch_inner(&self, request: Request) -> Result<Response> {
        let limits = &self.policy.limits;
        let mut method = if request.method.is_empty() {
            Method::GET
        } else {
            Method::from_bytes(request.method.as_bytes())
                .map_err(|_| Error::BadRequest(format!("invalid method {:?}", request.method)))?
        };
        let mut headers = self.caller_headers(&request.headers)?;
        if request.body.len() as u64 > limits.max_request_bytes {
            return Err(Error::TooLarge(format!(
                "request body exceeds {} bytes",
                limits.max_request_bytes
            )));
        }
        let mut body = Bytes::from(request.body);
        let mut url = Url::parse(&request.url).map_err(Error::BadRequest)?;
        let first_origin = url.origin();
        let mut same_origin = true;
        let mut hop = 0usize;
        let mode = request.redirect;
        loop {
            let outcome = self
                .send(&method, &url, &headers, body.clone(), same_origin, mode)
                .await
                .map_err(|e| e.at_hop(hop, &url.to_string()))?;
            let (status, location) = match outcome {
                Outcome::Final(mut response) => {
                    response.redirects = u8::try_from(hop).unwrap_or(u8::MAX);
                    return Ok(response);
                }
                Outcome::Redirect { status, location } => (status, location),
            };
            if mode == RedirectMode::Error {
                return Err(Error::Redirected(format!(
                    "the server answered {} with location {location} and the request's redirect mode is error",
                    status.as_u16()
                )));
            }
            hop += 1;
            if hop > usize::from(limits.max_redirects) {
                return Err(
                    Error::Denied(format!("more than {} redirects", limits.max_redirects))
                        .at_hop(hop, &location),
                );
            }
            let next = url.join(&location).map_err(|why| {
                Error::Upstream(format!("invalid redirect location: {why}")).at_hop(hop, &location)
            })?;
            let to_get = status == StatusCode::SEE_OTHER && method != Method::HEAD
                || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method == Method::POST;
            if to_get {
                method = Method::GET;
                body = Bytes::new();
                headers.retain(|(name, _)| !BODY_HEADERS.contains(&name.as_str()));
            }
            if url.scheme == "https" && next.scheme != "https" {
                return Err(Error::Denied(format!(
                    "redirect from https to {} is not allowed",
                    next.scheme
                ))
                .at_hop(hop, &next.to_string()));
            }
            if next.origin() != first_origin {
                same_origin = false;
                headers.retain(|(name, _)| !CROSS_ORIGIN_STRIPPED.contains(&name.as_str()));
            }
            url = next;
        }
    }

    /// Validates the caller's headers once, up front.
    fn caller_headers(&self, raw: &[(String, String)]) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let limits = &self.policy.limits;
        if raw.len() > limits.max_request_headers {
            return Err(Error::TooLarge(format!(
                "request has more than {} headers",
                limits.max_request_headers
            )));
        }
        let total: usize = raw.iter().map(|(n, v)| n.len() + v.len()).sum();
        if total > limits.max_request_header_bytes {
            return Err(Error::TooLarge(format!(
                "request headers exceed {} bytes",
                limits.max_request_header_bytes
            )));
        }
        raw.iter()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| Error::BadRequest(format!("invalid header name {name:?}")))?;
                if is_managed(name.as_str()) {
                    return Err(Error::BadRequest(format!(
                        "header {name} is set by the gateway"
                    )));
                }
                let value = HeaderValue::from_str(value)
                    .map_err(|_| Error::BadRequest(format!("invalid value for header {name}")))?;
                Ok((name, value))
            })
            .collect()
    }

    /// Resolves the hop's host once and checks every address.
    async fn resolve_checked(&self, url: &Url) -> Result<Vec<IpAddr>> {
        let allowed = &self.policy.allowed_ranges;
        match &url.host {
            Host::Ip(ip) => {
                check_ip(*ip, allowed).map_err(Error::Denied)?;
                Ok(vec![*ip])
            }
            Host::Name(name) => {
                let ips = self.resolver.resolve(name).await.map_err(|e| {
                    Error::Resolve(format!("host {name} did not resolve: {}", lower_first(&e)))
                })?;
                if ips.is_empty() {
                    return Err(Error::Resolve(format!("host {name} has no addresses")));
                }
                for ip in &ips {
                    check_ip(*ip, allowed).map_err(|why| {
                        Error::Denied(format!("host {name} resolves to a denied address: {why}"))
                    })?;
                }
                Ok(ips)
            }
        }
    }

    /// The headers sent on one hop: caller headers (minus any the policy
    /// injects), injected credentials, and the gateway's own.
    fn hop_headers(
        &self,
        url: &Url,
        caller: &[(HeaderName, HeaderValue)],
        may_inject: bool,
    ) -> Result<hyper::HeaderMap> {
        let host = url.host_for_matching();
        let mut injected = Vec::new();
        if may_inject {
            for rule in self
                .policy
                .credentials
                .iter()
                .filter(|r| r.host.matches(&host))
            {
                let value = rule
                    .render(|name| self.secrets.get(name).map(String::from))
                    .and_then(|value| HeaderValue::from_str(&value).ok())
                    .ok_or_else(|| {
                        Error::Config(format!("credential for header {} is unusable", rule.header))
                    })?;
                let mut value = value;
                value.set_sensitive(true);
                injected.push((rule.header.clone(), value));
            }
        }
        let mut map = hyper::HeaderMap::new();
        for (name, value) in caller {
            if !injected.iter().any(|(n, _)| n == name) {
                map.append(name.clone(), value.clone());
            }
        }
        for (name, value) in injected {
            map.insert(name, value);
        }
        let host_header = HeaderValue::from_str(&url.host_header())
            .map_err(|_| Error::BadRequest("url host is not a valid host header".into()))?;
        map.insert(header::HOST, host_header);
        map.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        map.insert(header::CONNECTION, HeaderValue::from_static("close"));
        if !map.contains_key(header::USER_AGENT) {
            map.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        Ok(map)
    }

    /// One hop: checks, connects, sends, reads.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        caller: &[(HeaderName, HeaderValue)],
        body: Bytes,
        may_inject: bool,
        mode: RedirectMode,
    ) -> Result<Outcome> {
        if !SCHEMES.contains(&url.scheme.as_str()) {
            return Err(Error::Unsupported(format!(
                "{} urls are not supported by this gateway ({})",
                url.scheme, SCHEMES_NOTE
            )));
        }
        self.policy.check(method.as_str(), url)?;
        let ips = self.resolve_checked(url).await?;
        let headers = self.hop_headers(url, caller, may_inject)?;

        let mut request = hyper::Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = url
            .request_target()
            .parse()
            .map_err(|_| Error::BadRequest("url path is not a valid request target".into()))?;
        *request.headers_mut() = headers;

        let stream = connect(url, &ips).await?;
        #[cfg(feature = "tls")]
        if url.scheme == "https" {
            let stream = self.tls.connect(url, stream).await?;
            return self
                .exchange(TokioIo::new(stream), method, url, request, mode)
                .await;
        }
        self.exchange(TokioIo::new(stream), method, url, request, mode)
            .await
    }

    /// One HTTP/1.1 request/response over an established stream.
    async fn exchange<T>(
        &self,
        io: T,
        method: &Method,
        url: &Url,
        request: hyper::Request<Full<Bytes>>,
        mode: RedirectMode,
    ) -> Result<Outcome>
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin,
    {
        let limits = &self.policy.limits;
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_headers(limits.max_response_headers)
            .max_header_size(limits.max_response_header_bytes)
            .handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| self.hyper_error(&e))?;
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| self.hyper_error(&e))?;
            self.read_response(method, url, response, mode).await
        };
        // Drive the connection and the exchange together on this task: no
        // spawned task outlives the fetch, and dropping it closes the socket.
        let mut conn = std::pin::pin!(conn);
        let mut exchange = std::pin::pin!(exchange);
        tokio::select! {
            biased;
            outcome = &mut exchange => outcome,
            driven = &mut conn => match driven {
                Ok(()) => exchange.await,
                Err(e) => Err(self.hyper_error(&e)),
            },
        }
    }

    async fn read_response(
        &self,
        method: &Method,
        url: &Url,
        response: hyper::Response<Incoming>,
        mode: RedirectMode,
    ) -> Result<Outcome> {
        let status = response.status();
        // With `manual`, a redirect is read like any final response.
        if mode != RedirectMode::Manual && matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            if let Some(location) = response.headers().get(header::LOCATION) {
                let location = String::from_utf8_lossy(location.as_bytes()).into_owned();
                return Ok(Outcome::Redirect { status, location });
            }
        }
        if let Some(encoding) = response.headers().get(header::CONTENT_ENCODING) {
            let encoding = String::from_utf8_lossy(encoding.as_bytes())
                .trim()
                .to_ascii_lowercase();
            if !encoding.is_empty() && encoding != "identity" {
                return Err(Error::Unsupported(format!(
                    "response uses content-encoding {encoding} (the gateway accepts identity only)"
                )));
            }
        }
        let max = self.policy.limits.max_response_bytes;
        let too_large = || Error::TooLarge(format!("response body exceeds {max} bytes"));
        let declared = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if *method != Method::HEAD && declared.is_some_and(|len| len > max) {
            return Err(too_large());
        }
        let status_text = match response.extensions().get::<hyper::ext::ReasonPhrase>() {
            Some(reason) => String::from_utf8_lossy(reason.as_bytes()).into_owned(),
            None => status.canonical_reason().unwrap_or_default().to_string(),
        };
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                !HOP_BY_HOP_HEADERS.contains(&name.as_str()) && !name.as_str().starts_with("proxy-")
            })
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes());
                (
                    self.redactor.redact_token(name.as_str()),
                    self.redactor.redact(&value),
                )
            })
            .collect();
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| self.hyper_error(&e))?;
            if let Ok(data) = frame.into_data() {
                if (body.len() + data.len()) as u64 > max {
                    return Err(too_large());
                }
                body.extend_from_slice(&data);
            }
        }
        let received = body.len();
        let body = self.redactor.redact_bytes(body);
        let mut headers = headers;
        if body.len() != received {
            // Redaction changed the length: keep `content-length` truthful.
            for (name, value) in &mut headers {
                if name == "content-length" {
                    *value = body.len().to_string();
                }
            }
        }
        Ok(Outcome::Final(Response {
            status: status.as_u16(),
            status_text: self.redactor.redact(&status_text),
            headers,
            body,
            url: self.redactor.redact(&url.to_string()),
            redirects: 0,
        }))
    }

    fn hyper_error(&self, error: &hyper::Error) -> Error {
        // `is_parse_too_large` only exists with hyper's server feature; the
        // message is hyper's fixed text for `Parse::TooLarge`.
        if error.is_parse() && error.to_string().contains("too large") {
            let limits = &self.policy.limits;
            return Error::TooLarge(format!(
                "response head exceeds {} headers or {} bytes",
                limits.max_response_headers, limits.max_response_header_bytes
            ));
        }
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::Upstream(message)
    }
}

/// An outside error's text with its first letter lower-cased, to keep
/// messages in house style (`connection refused (os error 111)`).
fn lower_first(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// Connects to the first checked address that accepts.
async fn connect(url: &Url, ips: &[IpAddr]) -> Result<TcpStream> {
    let mut last_error = None;
    for ip in ips {
        match TcpStream::connect(SocketAddr::new(*ip, url.port)).await {
            Ok(stream) => {
                // Best effort: a missing TCP_NODELAY only costs latency.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    let addresses: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    Err(Error::Connect(format!(
        "could not connect to {} port {} ({}): {}",
        url.host,
        url.port,
        addresses.join(", "),
        last_error.map_or_else(|| "no address".to_string(), |e| lower_first(&e))
    )))
}
