# http.capnp — the outbound HTTP gateway, the only way agent code reaches the
# network.
#
# Who calls it: JavaScript workers granted a `Gateway` in their `env` (the
# isolate-host also builds the worker's global `fetch` on top of it), and any
# Cap'n Proto client the broker hands one to. The broker serves it; the
# isolate-host itself has no network access at all.
#
# What it can reach: only what the broker's egress policy for this grant
# allows, checked on every request and on every redirect hop:
#   - the URL scheme is `http` (`https` only when the broker is built with
#     TLS support; certificates are checked against the host name, and a
#     redirect from `https` to `http` is refused), the host matches the allowlist (exact names like
#     `api.example.com` or wildcards like `*.example.com`), the port is
#     allowed, the method is allowed and the path starts with an allowed
#     prefix (after `.`/`..` segments are resolved);
#   - the host is resolved ONCE by the broker, EVERY resolved address is
#     checked, and the broker connects to exactly a checked address (no second
#     lookup, so DNS rebinding cannot swap the target). Loopback, private,
#     link-local, carrier-grade NAT, cloud metadata, unique-local,
#     IPv4-mapped/compatible and NAT64 IPv6 (the embedded IPv4 address is
#     checked), unspecified, multicast, broadcast, documentation and
#     `0.0.0.0/8` addresses are refused unless the policy explicitly allows
#     their range. Literal IP hosts are checked the same way;
#   - proxies configured in the broker's environment (`HTTP_PROXY` …) are
#     never used.
#
# Credentials: API keys live only in the broker. A policy rule may add a
# header such as `Authorization: Bearer <secret>` for a given destination
# host; the caller never sees the secret (not in the response URL, status
# text, header names or values, body, error messages or logs; matched in any
# case, percent-encoded and in base64; replaced by `[redacted]`, or by
# `redacted` inside a header name) and cannot override the injected
# header. Injected
# credentials, and caller-supplied `Authorization`, `Cookie` and
# `Proxy-Authorization` headers, are dropped for the rest of a redirect chain
# once it leaves the origin (scheme, host, port) of the first request.
#
# Errors: a refused or failed fetch answers with a Cap'n Proto exception of
# type `failed` whose reason is one line starting with a stable snake_case
# kind and a colon:
#   `denied: …`          the policy or the address rules refused the request
#                        or a redirect hop (the reason names the hop and URL);
#   `bad_request: …`     malformed method, URL, header or body;
#   `unsupported: …`     e.g. an `https` URL on a broker built without TLS;
#   `resolve_failed: …`  the host name did not resolve;
#   `connect_failed: …`  no checked address accepted a connection;
#   `upstream_error: …`  the server broke the HTTP protocol or the connection;
#   `too_large: …`       e.g. `response body exceeds N bytes`, or too many /
#                        too large response headers;
#   `timeout: …`         the whole fetch, redirects included, took too long.
#   `redirected: …`      the server redirected and the request's redirect
#                        mode is `error`.
#   `bad_config: …`      the broker's policy for this grant is unusable.
# A server answering with an HTTP error status (404, 500 …) is not an
# exception: it is a normal `Response`.

@0x972a89d4746c2b51;

# ==============================================================================
# The gateway
# ==============================================================================

interface Gateway {
  # One egress policy, bound to a worker's grant. Stateless between calls: no
  # cookies, no connection reuse, no cache.

  fetch @0 (request :Request) -> (response :Response);
  # Sends `request` and returns the final response. A redirect (301, 302,
  # 303, 307 or 308 with a `Location` header) is handled as the request's
  # `redirect` mode says; with the default, `follow`, the gateway follows it
  # itself, up to the policy's redirect limit, and every hop is checked
  # exactly like the first request. 303, and 301/302 after a `POST`,
  # continue as `GET` without a body; 307/308 repeat the method and body.
  # Fails with one of the kinds listed in the header above.
}

# ==============================================================================
# Messages
# ==============================================================================

struct Request {
  # What the caller wants to send. Never trusted.

  method @0 :Text;
  # HTTP method token, e.g. `GET` or `POST`, case-sensitive as in HTTP. Empty
  # means `GET`. Must be in the policy's allowed methods; `CONNECT` is always
  # refused (`denied`).

  url @1 :Text;
  # Absolute URL, e.g. `http://api.example.com/v1/items?x=1`. No user info
  # (`user:pass@`), no fragment is sent (a `#…` suffix is dropped). The path
  # is normalized (`.` and `..` resolved); percent-encoded dots, slashes and
  # backslashes in the path are refused as ambiguous (`bad_request`).

  headers @2 :List(Header);
  # Request headers, in order; repeated names are sent repeatedly. `Host`,
  # `Content-Length`, `Transfer-Encoding`, `Connection`, `Keep-Alive`, `TE`,
  # `Trailer`, `Upgrade`, `Expect`, `Accept-Encoding` and `Proxy-*` are set by
  # the gateway and refused here (`bad_request`). A header the policy injects
  # for the destination replaces any caller value of the same name. Count and
  # total size are capped by the policy (default 100 headers, 16 KiB;
  # `too_large`).

  body @3 :Data;
  # Request body; empty means none. Capped by the policy's request body limit
  # (default 10 MiB, `too_large`).

  redirect @4 :RedirectMode = follow;
  # What to do when a server answers with a redirect. Default `follow`, so
  # callers that predate this field keep their behaviour.
}

enum RedirectMode {
  # How `Gateway.fetch` treats a redirect: a 301, 302, 303, 307 or 308
  # response with a `Location` header. (One without `Location` is always
  # the final response.) The names are the Fetch Standard's `redirect`
  # modes.

  follow @0;
  # Send the next request to `Location` (resolved against the request URL)
  # and return what the chain ends with: each hop is checked by the policy
  # like the first, at most the policy's `max_redirects` hops are followed
  # (more fail with `denied: … more than N redirects`), and `Response.url`
  # and `Response.redirects` say where it ended and how many hops it took.

  manual @1;
  # Return the redirect itself as the final response: its status, headers
  # (`location` included, as the server sent it, secrets redacted) and body.
  # No second request is sent; `redirects` is 0.

  error @2;
  # Fail at the first redirect with `redirected: …`, naming its status and
  # `Location`; no second request is sent.
}

struct Header {
  # One HTTP header line.

  name @0 :Text;
  # Header name, ASCII token characters only; responses give it in lower case.

  value @1 :Text;
  # Header value; no CR, LF or NUL. Response values that are not UTF-8 are
  # converted with U+FFFD replacement characters.
}

struct Response {
  # What the final server answered.

  status @0 :UInt16;
  # HTTP status code, 100–999. A 301/302/303/307/308 only when the request's
  # redirect mode is `manual` or it came without a `Location` header
  # (otherwise it was followed, or the fetch failed).

  statusText @1 :Text;
  # The reason phrase the server sent, or the standard one for `status` (may
  # be empty for unknown codes).

  headers @2 :List(Header);
  # Response headers, repeated names kept (values of one name are grouped,
  # in the order they were received), without connection-level ones
  # (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `TE`, `Trailer`,
  # `Upgrade`, `Proxy-*`). Any occurrence of a broker secret, in names and
  # values, is replaced by `[redacted]`. The policy caps their count and
  # total size (`too_large`; default 64 KiB, configurable up to 1 MiB).

  body @3 :Data;
  # The response body, exactly as sent (the gateway asks for
  # `Accept-Encoding: identity` and refuses compressed responses with
  # `unsupported`), except that any occurrence of a broker secret is replaced
  # by `[redacted]` (`content-length` in `headers` is then adjusted).
  # Capped by the policy's response limit (default 10 MiB, configurable up
  # to 64 MiB so a response fits in one message; a larger
  # `max_response_bytes` is refused when the configuration is read):
  # larger bodies fail with `too_large: response body exceeds N bytes`.

  url @4 :Text;
  # The URL that produced this response: the request URL, or the last
  # redirect target followed, with any occurrence of a broker secret replaced by
  # `[redacted]`.

  redirects @5 :UInt8;
  # How many redirects were followed to get here.
}
