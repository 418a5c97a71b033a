//! The crate's one error type, and its single conversion to `capnp::Error`.
//!
//! Every message is one lowercase line starting with a stable snake_case
//! kind (`denied: …`, `too_large: …`), as documented in `schema/http.capnp`.
//! Messages are built only from the gateway's own text, URLs and names —
//! never from secret values — and the capnp boundary additionally runs them
//! through the secret redactor.

use std::time::Duration;

/// Why a fetch (or building a gateway) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The policy or the address rules refused the request or a redirect hop.
    #[error("denied: {0}")]
    Denied(String),
    /// The request was malformed: method, URL, header or body.
    #[error("bad_request: {0}")]
    BadRequest(String),
    /// Something this gateway does not do (e.g. `https` without TLS support).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The host name did not resolve.
    #[error("resolve_failed: {0}")]
    Resolve(String),
    /// No checked address accepted a TCP connection.
    #[error("connect_failed: {0}")]
    Connect(String),
    /// The server broke the HTTP protocol or dropped the connection.
    #[error("upstream_error: {0}")]
    Upstream(String),
    /// A size limit was exceeded (body, headers, request).
    #[error("too_large: {0}")]
    TooLarge(String),
    /// The whole fetch took longer than the policy allows.
    #[error("timeout: fetch took longer than {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The server redirected and the request's redirect mode is `error`.
    #[error("redirected: {0}")]
    Redirected(String),
    /// The policy, a credential rule or the secrets are misconfigured.
    #[error("bad_config: {0}")]
    Config(String),
}

impl Error {
    /// Prefixes the detail with the redirect hop that failed, e.g.
    /// `denied: redirect 2 to http://evil.test/: host evil.test is not allowed`.
    pub(crate) fn at_hop(self, hop: usize, url: &str) -> Error {
        if hop == 0 {
            return self;
        }
        self.map_detail(|detail| format!("redirect {hop} to {url}: {detail}"))
    }

    /// Rewrites the free-text part of the message (used for hop context and
    /// for redacting secrets).
    pub(crate) fn map_detail(self, f: impl FnOnce(String) -> String) -> Error {
        match self {
            Error::Denied(d) => Error::Denied(f(d)),
            Error::BadRequest(d) => Error::BadRequest(f(d)),
            Error::Unsupported(d) => Error::Unsupported(f(d)),
            Error::Resolve(d) => Error::Resolve(f(d)),
            Error::Connect(d) => Error::Connect(f(d)),
            Error::Upstream(d) => Error::Upstream(f(d)),
            Error::TooLarge(d) => Error::TooLarge(f(d)),
            Error::Redirected(d) => Error::Redirected(f(d)),
            Error::Config(d) => Error::Config(f(d)),
            timeout @ Error::Timeout(_) => timeout,
        }
    }
}

/// Longest exception reason sent to a caller, in bytes; longer ones are cut
/// and end in `…`.
pub const MAX_MESSAGE_BYTES: usize = 1024;

impl From<Error> for capnp::Error {
    /// Every gateway error is a `failed` exception: none of them means the
    /// broker connection is gone or overloaded. The reason is one line (any
    /// control character, e.g. from a server's `Location`, becomes a space)
    /// of at most [`MAX_MESSAGE_BYTES`].
    fn from(error: Error) -> capnp::Error {
        let mut message: String = error
            .to_string()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        capnp::Error::failed(message)
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_lowercase_line_with_a_kind() {
        let e = Error::Denied("host evil.test is not allowed".into());
        assert_eq!(e.to_string(), "denied: host evil.test is not allowed");
        let e = Error::Timeout(Duration::from_millis(1500));
        assert_eq!(e.to_string(), "timeout: fetch took longer than 1500 ms");
    }

    #[test]
    fn hop_context_names_the_redirect() {
        let e = Error::Denied("address 10.0.0.5 is private".into()).at_hop(2, "http://x.test/");
        assert_eq!(
            e.to_string(),
            "denied: redirect 2 to http://x.test/: address 10.0.0.5 is private"
        );
        let e = Error::Denied("nope".into()).at_hop(0, "http://x.test/");
        assert_eq!(e.to_string(), "denied: nope");
    }

    #[test]
    fn capnp_errors_are_failed() {
        let e: capnp::Error = Error::Denied("x".into()).into();
        assert_eq!(e.kind, capnp::ErrorKind::Failed);
        assert!(e.extra.contains("denied: x"));
    }

    #[test]
    fn capnp_reasons_are_one_bounded_line() {
        let e: capnp::Error = Error::Upstream("a\tb\u{7}c".into()).into();
        assert!(e.extra.ends_with("upstream_error: a b c"), "{}", e.extra);
        let e: capnp::Error = Error::Denied("é".repeat(2000)).into();
        assert!(
            e.extra.len() <= MAX_MESSAGE_BYTES + 3 + 16,
            "{}",
            e.extra.len()
        );
        assert!(e.extra.ends_with('…'));
    }
}
