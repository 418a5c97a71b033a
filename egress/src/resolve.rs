//! Host name resolution, pluggable so tests (and brokers with their own DNS
//! policy) can decide what a name resolves to.
//!
//! The gateway resolves each hop's host exactly once through a [`Resolver`],
//! checks every address it gets back, and connects to one of those checked
//! addresses — it never lets a client library look the name up again.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;

use futures::future::LocalBoxFuture;

/// Turns a host name into IP addresses.
pub trait Resolver {
    /// All addresses of `host` (a lower-case DNS name, never an IP literal).
    /// An empty list counts as "does not resolve".
    fn resolve<'a>(&'a self, host: &'a str) -> LocalBoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio's blocking
/// pool), as configured in `/etc/hosts` and `/etc/resolv.conf`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> LocalBoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        })
    }
}

/// A fixed name → addresses table; unknown names fail to resolve. For tests
/// and for brokers that pin destinations.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    table: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Adds `host` (case-insensitive) resolving to `ips`.
    pub fn with(mut self, host: &str, ips: impl IntoIterator<Item = IpAddr>) -> StaticResolver {
        self.table
            .insert(host.to_ascii_lowercase(), ips.into_iter().collect());
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> LocalBoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let found = self.table.get(host).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "name not in table"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn system_resolver_resolves_localhost_to_loopback() {
        let ips = SystemResolver.resolve("localhost").await.unwrap();
        assert!(!ips.is_empty());
        assert!(ips.iter().all(IpAddr::is_loopback), "{ips:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn static_resolver_uses_its_table() {
        let resolver = StaticResolver::new().with("Evil.Test", ["10.0.0.5".parse().unwrap()]);
        let ips = resolver.resolve("evil.test").await.unwrap();
        assert_eq!(ips, vec!["10.0.0.5".parse::<IpAddr>().unwrap()]);
        assert!(resolver.resolve("other.test").await.is_err());
    }
}
