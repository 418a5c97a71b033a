//! A deliberately strict URL parser for outbound requests and redirects.
//!
//! Only absolute `http`/`https` URLs in plain ASCII are accepted. Anything
//! that different parsers read differently is refused instead of guessed:
//! user info (`user@host`), backslashes, control characters and spaces,
//! percent-encoded host names, numeric host names that are not dotted quads
//! (`2130706433`, `0x7f.1`), IPv6 zone ids, and percent-encoded dots,
//! slashes or backslashes in the path. Dot segments are resolved, so the
//! path the policy checks is the path the server receives.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host part of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
    /// A literal IP address.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// A parsed, normalized absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`, lower case.
    pub scheme: String,
    /// Host name or literal address.
    pub host: Host,
    /// Port, explicit or the scheme's default.
    pub port: u16,
    /// Normalized path, always starting with `/`.
    pub path: String,
    /// The query without its `?`, as sent.
    pub query: Option<String>,
}

/// `(scheme, host, port)`: what "same origin" compares.
pub type Origin = (String, Host, u16);

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" {
        443
    } else {
        80
    }
}

impl Url {
    /// Parses an absolute URL; the error is a short lowercase reason.
    pub fn parse(input: &str) -> Result<Url, String> {
        if let Some(bad) = input.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(format!("url contains the character {bad:?}"));
        }
        if input.contains('\\') {
            return Err("url contains a backslash".into());
        }
        let input = input.split('#').next().unwrap_or_default();
        let (scheme, rest) = input
            .split_once("://")
            .ok_or_else(|| "url is not absolute (expected scheme://host/…)".to_string())?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "scheme {scheme} is not supported (only http and https)"
            ));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err("user info in urls is not allowed".into());
        }
        let (host, port) = parse_authority(authority)?;
        let port = port.unwrap_or_else(|| default_port(&scheme));
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query.to_string())),
            None => (rest, None),
        };
        let path = normalize_path(path)?;
        Ok(Url {
            scheme,
            host,
            port,
            path,
            query,
        })
    }

    /// Resolves a redirect `Location` against this URL.
    pub fn join(&self, location: &str) -> Result<Url, String> {
        let location = location.trim_matches([' ', '\t']);
        let has_scheme = location.split_once(':').is_some_and(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        let absolute = if has_scheme {
            location.to_string()
        } else if location.starts_with("//") {
            format!("{}:{location}", self.scheme)
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin_string())
        } else if location.starts_with('?') {
            format!("{}{}{location}", self.origin_string(), self.path)
        } else if location.is_empty() || location.starts_with('#') {
            self.to_string()
        } else {
            let dir = &self.path[..=self.path.rfind('/').unwrap_or(0)];
            format!("{}{dir}{location}", self.origin_string())
        };
        Url::parse(&absolute)
    }

    /// The origin, for same-origin comparisons.
    pub fn origin(&self) -> Origin {
        (self.scheme.clone(), self.host.clone(), self.port)
    }

    /// The host as allowlist patterns see it: a name, or an address in its
    /// canonical text form without brackets.
    pub fn host_for_matching(&self) -> String {
        match &self.host {
            Host::Name(name) => name.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }

    /// The `Host` header value: the host, plus the port when it is not the
    /// scheme's default.
    pub fn host_header(&self) -> String {
        if self.port == default_port(&self.scheme) {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The request target sent on the request line: path and query.
    pub fn request_target(&self) -> String {
        match &self.query {
            Some(query) => format!("{}?{query}", self.path),
            None => self.path.clone(),
        }
    }

    fn origin_string(&self) -> String {
        format!("{}://{}", self.scheme, self.host_header())
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin_string(), self.request_target())
    }
}

fn parse_authority(authority: &str) -> Result<(Host, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| "unterminated ipv6 address in url".to_string())?;
        if inside.contains('%') {
            return Err("ipv6 zone ids are not allowed".into());
        }
        let ip: Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("invalid ipv6 address {inside}"))?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("junk after ipv6 address")?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        (parse_host_name(host)?, port)
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => {
            let valid = port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
            match port.parse::<u16>() {
                Ok(n) if valid && n != 0 => Some(n),
                _ => return Err(format!("invalid port {port}")),
            }
        }
    };
    Ok((host, port))
}

fn parse_host_name(host: &str) -> Result<Host, String> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if host.is_empty() {
        return Err("url has no host".into());
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if host.len() > 253 {
        return Err("host name is longer than 253 bytes".into());
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(format!("invalid host name {host}"));
        }
    }
    let last = host.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        return Err(format!("ambiguous numeric host name {host}"));
    }
    Ok(Host::Name(host.to_string()))
}

fn normalize_path(path: &str) -> Result<String, String> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path.get(i + 1..i + 3).unwrap_or_default();
            let byte = u8::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| format!("invalid percent escape in path {path}"))?;
            if matches!(byte, b'.' | b'/' | b'\\') {
                return Err(format!(
                    "ambiguous percent-encoded {:?} in path {path}",
                    byte as char
                ));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (n, segment) in segments.iter().enumerate() {
        let last = n + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    Ok(format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_prints() {
        let u = url("HTTP://API.Example.com./v1/items?x=1#frag");
        assert_eq!(u.scheme, "http");
        assert_eq!(u.host, Host::Name("api.example.com".into()));
        assert_eq!(u.port, 80);
        assert_eq!(u.to_string(), "http://api.example.com/v1/items?x=1");
        assert_eq!(url("http://h.test").to_string(), "http://h.test/");
        let u = url("http://[::1]:8080/a");
        assert_eq!(u.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(u.host_header(), "[::1]:8080");
        assert_eq!(u.host_for_matching(), "::1");
        assert_eq!(url("https://h.test:443/").to_string(), "https://h.test/");
        assert_eq!(
            url("http://127.0.0.1:9/").host,
            Host::Ip("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn refuses_ambiguous_urls() {
        for bad in [
            "ftp://h.test/",
            "h.test/path",
            "http://user:pw@h.test/",
            "http://h.test\\@evil.test/",
            "http://h.test/a b",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[fe80::1%25eth0]/",
            "http://h.test:0/",
            "http://h.test:99999/",
            "http://h.test:80x/",
            "http://h.test/a/%2e%2e/b",
            "http://h.test/a%2fb",
            "http://h.test/a%zz",
            "http:///path",
            "http://bad..name/",
            "http://exämple.test/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn dot_segments_are_resolved() {
        assert_eq!(url("http://h.test/a/../b").path, "/b");
        assert_eq!(url("http://h.test/a/./b/.").path, "/a/b/");
        assert_eq!(url("http://h.test/../../etc").path, "/etc");
        assert_eq!(url("http://h.test/a/b/..").path, "/a/");
        assert_eq!(url("http://h.test/a//b").path, "/a//b");
    }

    #[test]
    fn joins_redirect_locations() {
        let base = url("http://h.test:8080/a/b?q=1");
        assert_eq!(base.join("/c").unwrap().to_string(), "http://h.test:8080/c");
        assert_eq!(
            base.join("c").unwrap().to_string(),
            "http://h.test:8080/a/c"
        );
        assert_eq!(
            base.join("../c").unwrap().to_string(),
            "http://h.test:8080/c"
        );
        assert_eq!(
            base.join("?z").unwrap().to_string(),
            "http://h.test:8080/a/b?z"
        );
        assert_eq!(
            base.join("//other.test/x").unwrap().to_string(),
            "http://other.test/x"
        );
        assert_eq!(
            base.join("HTTPS://other.test/x").unwrap().to_string(),
            "https://other.test/x"
        );
        assert!(base.join("javascript:alert(1)").is_err());
    }
}
