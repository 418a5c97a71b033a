//! The egress policy: which destinations, methods and paths a gateway may
//! reach, which address ranges it may re-allow, which credentials it injects
//! where, and its size and time limits.
//!
//! Every allowlist starts empty except the harmless ones: a default policy
//! reaches no host at all. Allowlists are checked on the first request and
//! on every redirect hop.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hyper::header::HeaderName;
use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::url::Url;

/// One allowed host: an exact name (`api.example.com`), a wildcard for every
/// subdomain at any depth but not the name itself (`*.example.com`), an
/// exact IP literal (`127.0.0.1`, `::1`), or `*` for any host (the address
/// rules still apply).
#[derive(Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lower case, no trailing dot).
    Exact(String),
    /// Any name ending in `.` + this suffix.
    Subdomains(String),
    /// Any host.
    Any,
}

impl HostPattern {
    /// Whether `host` (as [`Url::host_for_matching`] gives it) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            HostPattern::Any => true,
        }
    }
}

impl FromStr for HostPattern {
    type Err = Error;

    fn from_str(pattern: &str) -> Result<HostPattern> {
        let bad = |why: &str| Error::Config(format!("host pattern {pattern:?}: {why}"));
        let lower = pattern.to_ascii_lowercase();
        let lower = lower.strip_suffix('.').unwrap_or(&lower);
        if lower == "*" {
            return Ok(HostPattern::Any);
        }
        if let Ok(ip) = lower.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
            return Ok(HostPattern::Exact(ip.to_string()));
        }
        let (wildcard, name) = match lower.strip_prefix("*.") {
            Some(name) => (true, name),
            None => (false, lower),
        };
        // Validate the name the same way request URLs are validated.
        match Url::parse(&format!("http://{name}/")) {
            Ok(url) if url.host_for_matching() == name => {}
            Ok(_) | Err(_) => return Err(bad("not a valid host name")),
        }
        if name.contains('*') {
            return Err(bad("`*` is only allowed as a leading `*.` label"));
        }
        Ok(if wildcard {
            HostPattern::Subdomains(name.to_string())
        } else {
            HostPattern::Exact(name.to_string())
        })
    }
}

impl fmt::Debug for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => write!(f, "{name}"),
            HostPattern::Subdomains(name) => write!(f, "*.{name}"),
            HostPattern::Any => write!(f, "*"),
        }
    }
}

/// One credential rule: for destinations matching `host`, set `header` to
/// `template` with every `{secret:NAME}` replaced by the broker secret NAME,
/// e.g. `Authorization: Bearer {secret:github}` for `api.github.com`.
///
/// The rule itself holds only secret *names*, so its `Debug` output is safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRule {
    /// Destinations the header is added for.
    pub host: HostPattern,
    /// The header to set; replaces any caller value of the same name.
    pub header: HeaderName,
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Text(String),
    Secret(String),
}

impl CredentialRule {
    /// Builds a rule; fails with `bad_config` on a bad host pattern, header
    /// name or template (unbalanced `{`, unknown `{…}` placeholder).
    pub fn new(host: &str, header: &str, template: &str) -> Result<CredentialRule> {
        let host = host.parse()?;
        let header = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| Error::Config(format!("invalid credential header name {header:?}")))?;
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            if start > 0 {
                parts.push(TemplatePart::Text(rest[..start].to_string()));
            }
            let end = rest[start..].find('}').ok_or_else(|| {
                Error::Config(format!(
                    "unterminated `{{` in credential template for {header}"
                ))
            })? + start;
            let name = rest[start + 1..end]
                .strip_prefix("secret:")
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    Error::Config(format!(
                        "credential template for {header}: placeholders must be {{secret:NAME}}"
                    ))
                })?;
            parts.push(TemplatePart::Secret(name.to_string()));
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_string()));
        }
        Ok(CredentialRule {
            host,
            header,
            parts,
        })
    }

    /// Names of the secrets the template uses.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            TemplatePart::Secret(name) => Some(name.as_str()),
            TemplatePart::Text(_) => None,
        })
    }

    /// The value with the secrets of `secrets` filled in; `None` when one
    /// is missing. For values the broker hands to a party it trusts with
    /// them (the process of an upstream MCP server), never to a worker.
    pub fn render_from(&self, secrets: &crate::secrets::Secrets) -> Option<String> {
        self.render(|name| secrets.get(name).map(str::to_string))
    }

    /// The header value with secrets filled in; `None` when a secret is
    /// missing. Only the gateway calls this, right before sending.
    pub(crate) fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => out.push_str(text),
                TemplatePart::Secret(name) => out.push_str(&lookup(name)?),
            }
        }
        Some(out)
    }
}

/// The most `max_response_bytes` may be (64 MiB): a response travels to the
/// worker in one Cap'n Proto message, at most `caplet::MAX_MESSAGE_WORDS`
/// (80 MiB) with its head, URL and framing.
pub const MAX_RESPONSE_BYTES_LIMIT: u64 = 64 << 20;

/// The most `max_response_header_bytes` may be (1 MiB), for the same reason.
pub const MAX_RESPONSE_HEADER_BYTES_LIMIT: usize = 1 << 20;

/// Size, count and time limits of one gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest response body, in bytes (default 10 MiB, at most
    /// [`MAX_RESPONSE_BYTES_LIMIT`] from configuration).
    pub max_response_bytes: u64,
    /// Largest request body, in bytes (default 10 MiB).
    pub max_request_bytes: u64,
    /// Most response headers (default 100).
    pub max_response_headers: usize,
    /// Largest response head (status line and headers), in bytes (default
    /// 64 KiB, at most [`MAX_RESPONSE_HEADER_BYTES_LIMIT`] from
    /// configuration).
    pub max_response_header_bytes: usize,
    /// Most caller-supplied request headers (default 100).
    pub max_request_headers: usize,
    /// Largest total size of caller-supplied header names and values, in
    /// bytes (default 16 KiB).
    pub max_request_header_bytes: usize,
    /// Wall-clock time for a whole fetch, redirects and body included
    /// (default 30 s).
    pub total_time: Duration,
    /// Most redirects followed for one fetch (default 5). One more redirect
    /// fails the fetch with `denied`; 0 refuses every redirect.
    pub max_redirects: u8,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_response_bytes: 10 << 20,
            max_request_bytes: 10 << 20,
            max_response_headers: 100,
            max_response_header_bytes: 64 << 10,
            max_request_headers: 100,
            max_request_header_bytes: 16 << 10,
            total_time: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}

/// What one gateway may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Allowed destination hosts (default: none).
    pub hosts: Vec<HostPattern>,
    /// Allowed destination ports (default: 80 and 443).
    pub ports: BTreeSet<u16>,
    /// Allowed methods, case-sensitive (default: GET, HEAD, POST, PUT,
    /// PATCH, DELETE, OPTIONS). `CONNECT` is refused whatever this says.
    pub methods: BTreeSet<String>,
    /// Allowed path prefixes (default: `/`, everything). A prefix ending in
    /// `/` matches any path starting with it; any other prefix matches
    /// itself and paths continuing with `/`, so `/v1/repos` allows
    /// `/v1/repos` and `/v1/repos/x` but not `/v1/reposecret`. The query is
    /// not considered.
    pub path_prefixes: Vec<String>,
    /// Address ranges allowed even though the default address rules deny
    /// them (default: none), e.g. `127.0.0.0/8` for a sidecar on loopback.
    pub allowed_ranges: Vec<IpNet>,
    /// Credential headers added per destination (default: none).
    pub credentials: Vec<CredentialRule>,
    /// Size and time limits.
    pub limits: Limits,
    /// CA certificates (DER) trusted for `https` in addition to the default
    /// roots (default: none); `ca_file` in configuration.
    pub ca_certificates: Vec<Vec<u8>>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            hosts: Vec::new(),
            ports: BTreeSet::from([80, 443]),
            methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                .into_iter()
                .map(String::from)
                .collect(),
            path_prefixes: vec!["/".to_string()],
            allowed_ranges: Vec::new(),
            credentials: Vec::new(),
            limits: Limits::default(),
            ca_certificates: Vec::new(),
        }
    }
}

impl Policy {
    /// Adds allowed hosts (see [`HostPattern`]).
    pub fn allow_hosts<'a>(mut self, patterns: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        for pattern in patterns {
            self.hosts.push(pattern.parse()?);
        }
        Ok(self)
    }

    /// Replaces the allowed ports.
    pub fn allow_ports(mut self, ports: impl IntoIterator<Item = u16>) -> Self {
        self.ports = ports.into_iter().collect();
        self
    }

    /// Replaces the allowed methods.
    pub fn allow_methods<'a>(mut self, methods: impl IntoIterator<Item = &'a str>) -> Self {
        self.methods = methods.into_iter().map(String::from).collect();
        self
    }

    /// Replaces the allowed path prefixes; each must start with `/`.
    pub fn allow_path_prefixes<'a>(
        mut self,
        prefixes: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self> {
        self.path_prefixes.clear();
        for prefix in prefixes {
            if !prefix.starts_with('/') {
                return Err(Error::Config(format!(
                    "path prefix {prefix:?} does not start with /"
                )));
            }
            self.path_prefixes.push(prefix.to_string());
        }
        Ok(self)
    }

    /// Also trusts the CA certificates of the PEM file at `path` for
    /// `https`. Fails with `bad_config` naming the file when it cannot be
    /// read, holds no certificate or one that is not usable, and with
    /// `unsupported` in a build without the `tls` feature.
    pub fn trust_ca_file(mut self, path: &std::path::Path) -> Result<Self> {
        #[cfg(feature = "tls")]
        {
            let ders = crate::tls::read_pem_certificates(path)?;
            self.ca_certificates.extend(ders);
            Ok(self)
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = &mut self;
            Err(Error::Unsupported(format!(
                "ca_file {}: built without the `tls` feature",
                path.display()
            )))
        }
    }

    /// Adds address ranges in CIDR notation (`127.0.0.0/8`, `fd00::/8`) that
    /// override the default address rules.
    pub fn allow_ranges<'a>(mut self, ranges: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        for range in ranges {
            let net = range
                .parse()
                .map_err(|_| Error::Config(format!("invalid address range {range:?}")))?;
            self.allowed_ranges.push(net);
        }
        Ok(self)
    }

    /// Adds a credential rule.
    pub fn inject(mut self, rule: CredentialRule) -> Self {
        self.credentials.push(rule);
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks method, host, port and path of one hop (not its addresses).
    pub fn check(&self, method: &str, url: &Url) -> Result<()> {
        let host = url.host_for_matching();
        if !self.hosts.iter().any(|pattern| pattern.matches(&host)) {
            return Err(Error::Denied(format!(
                "host {host} is not in the allowlist"
            )));
        }
        if !self.ports.contains(&url.port) {
            return Err(Error::Denied(format!("port {} is not allowed", url.port)));
        }
        if method == "CONNECT" || !self.methods.contains(method) {
            return Err(Error::Denied(format!("method {method} is not allowed")));
        }
        let path_ok = self.path_prefixes.iter().any(|prefix| {
            url.path == *prefix
                || (prefix.ends_with('/') && url.path.starts_with(prefix.as_str()))
                || url
                    .path
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if !path_ok {
            return Err(Error::Denied(format!(
                "path {} is not under an allowed prefix",
                url.path
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn host_patterns() {
        let exact: HostPattern = "API.example.com.".parse().unwrap();
        assert!(exact.matches("api.example.com"));
        assert!(!exact.matches("x.api.example.com"));
        let wild: HostPattern = "*.example.com".parse().unwrap();
        assert!(wild.matches("a.example.com"));
        assert!(wild.matches("a.b.example.com"));
        assert!(!wild.matches("example.com"));
        assert!(!wild.matches("badexample.com"));
        assert!(!wild.matches(".example.com"));
        let ip: HostPattern = "[::1]".parse().unwrap();
        assert!(ip.matches("::1"));
        assert!("*".parse::<HostPattern>().unwrap().matches("anything.test"));
        for bad in ["", "a.*.com", "*example.com", "exa mple.com", "x:80"] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad}");
        }
    }

    #[test]
    fn default_policy_reaches_nothing() {
        let policy = Policy::default();
        let err = policy
            .check("GET", &url("http://example.com/"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "denied: host example.com is not in the allowlist"
        );
    }

    #[test]
    fn checks_port_method_and_path() {
        let policy = Policy::default()
            .allow_hosts(["api.example.com"])
            .unwrap()
            .allow_methods(["GET"])
            .allow_path_prefixes(["/v1/repos", "/static/"])
            .unwrap();
        assert!(policy
            .check("GET", &url("http://api.example.com/v1/repos"))
            .is_ok());
        assert!(policy
            .check("GET", &url("http://api.example.com/v1/repos/x?y"))
            .is_ok());
        assert!(policy
            .check("GET", &url("http://api.example.com/static/a.css"))
            .is_ok());
        let err = |m: &str, u: &str| policy.check(m, &url(u)).unwrap_err().to_string();
        assert_eq!(
            err("GET", "http://api.example.com/v1/reposecret"),
            "denied: path /v1/reposecret is not under an allowed prefix"
        );
        assert_eq!(
            err("GET", "http://api.example.com/v1/repos/../admin"),
            "denied: path /v1/admin is not under an allowed prefix"
        );
        assert_eq!(
            err("POST", "http://api.example.com/v1/repos"),
            "denied: method POST is not allowed"
        );
        assert_eq!(
            err("GET", "http://api.example.com:8080/v1/repos"),
            "denied: port 8080 is not allowed"
        );
        let connect = Policy::default()
            .allow_hosts(["*"])
            .unwrap()
            .allow_methods(["CONNECT"]);
        assert!(connect.check("CONNECT", &url("http://x.test/")).is_err());
    }

    #[test]
    fn credential_templates() {
        let rule = CredentialRule::new("api.github.com", "Authorization", "Bearer {secret:github}")
            .unwrap();
        assert_eq!(rule.secret_names().collect::<Vec<_>>(), ["github"]);
        let value = rule.render(|name| (name == "github").then(|| "s3cr3t".to_string()));
        assert_eq!(value.as_deref(), Some("Bearer s3cr3t"));
        assert_eq!(rule.render(|_| None), None);
        assert!(CredentialRule::new("h.test", "X-Key", "{env:HOME}").is_err());
        assert!(CredentialRule::new("h.test", "X-Key", "{secret:a").is_err());
        assert!(CredentialRule::new("h.test", "Bad Header", "x").is_err());
    }
}
