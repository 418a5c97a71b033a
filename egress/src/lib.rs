//! caplet's outbound HTTP gateway: the `http` capability
//! (`schema/http.capnp:Gateway`), the only way agent code reaches the
//! network.
//!
//! The broker builds one [`Gateway`] per grant from a [`Policy`] and the
//! broker-held [`Secrets`], wraps it in a [`GatewayServer`] and hands the
//! resulting capability to a worker. Each `fetch`:
//!
//! 1. validates the request ([`url`] is a strict parser: no user info, no
//!    ambiguous hosts or encoded dot segments; gateway-managed headers such
//!    as `Host` cannot be set by the caller);
//! 2. checks scheme, host, port, method and path against the [`policy`];
//! 3. resolves the host once through a pluggable [`resolve::Resolver`],
//!    checks **every** resolved address against the address rules in [`ip`]
//!    (loopback, private, link-local, CGNAT, metadata, unique-local,
//!    IPv4-mapped / NAT64 embeddings, multicast, documentation … are denied
//!    unless the policy re-allows the range), and connects its own
//!    `TcpStream` to one of those checked addresses — no second lookup, no
//!    environment proxy (`HTTP_PROXY` and friends are never read);
//! 4. speaks HTTP/1.1 over that stream with hyper's connection-level client
//!    (`Accept-Encoding: identity`, `Connection: close`, no pool);
//! 5. follows redirects itself (unless the request's [`RedirectMode`] is
//!    `manual`, which returns the redirect, or `error`, which fails on it),
//!    re-running steps 2–4 for every hop, and drops injected credentials and
//!    caller `Authorization`/`Cookie` once the chain leaves the first origin;
//! 6. enforces the [`policy::Limits`]: response body (streamed, aborted at
//!    the limit), response head size and header count, request size, number
//!    of redirects, and one timeout over the whole fetch.
//!
//! Credentials ([`policy::CredentialRule`], e.g.
//! `Authorization: Bearer {secret:github}` for `api.github.com`) are rendered
//! only at send time. Secret values are scrubbed from response headers,
//! bodies and error messages, and no `Debug` output shows them.
//!
//! `https` comes with the cargo feature `tls`, on by default (rustls with
//! the `ring` provider; the system's roots, or the Mozilla roots from
//! `webpki-roots` where the system has none, plus a policy's own CA
//! certificates, `ca_file`); without it `https` URLs fail with
//! `unsupported: …`. Redirects from `https` to `http` are refused
//! (`denied: … redirect from https to http is not allowed`).
//!
//! Not supported: compressed responses (never advertised; a server that
//! compresses anyway gets `unsupported: …`), HTTP/2, connection reuse.
//!
//! Everything runs on the caller's task: no threads, no spawned tasks, so it
//! fits the broker's current-thread runtime and `LocalSet` (capnp-rpc is
//! `!Send`). The system resolver uses tokio's blocking pool.

pub mod config;
pub mod error;
pub mod gateway;
pub mod ip;
pub mod policy;
pub mod resolve;
pub mod secrets;
pub mod server;
#[cfg(feature = "tls")]
mod tls;
pub mod url;

pub use config::PolicyConfig;
pub use error::{Error, Result};
pub use gateway::{Gateway, RedirectMode, Request, Response};
pub use policy::{CredentialRule, HostPattern, Limits, Policy};
pub use resolve::{Resolver, StaticResolver, SystemResolver};
pub use secrets::Secrets;
pub use server::GatewayServer;

/// Runs a TLS handshake for `url` over `stream`, trusting the default roots
/// (the system's, or Mozilla's where the system has none; see the `tls`
/// module): for clients of the broker's own, such as upstream MCP servers
/// over `https`, that have no policy of their own.
#[cfg(feature = "tls")]
pub async fn connect_tls(
    url: &url::Url,
    stream: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    tls::connect_default(url, stream).await
}
