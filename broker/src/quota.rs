//! Per-principal quotas: how much of a shared broker one principal may hold.
//!
//! A principal is who a connection authenticated as (`unix:<uid>`, or a
//! token's name). The sub-principals a client names in
//! `WorkerCode.principal` (`<principal>/<name>`) are counted inside their
//! principal, never apart, so naming more of them gains nothing. The quotas:
//! - `workers`: live workers (a worker lives while a client, or the `get`
//!   cache, holds it);
//! - `cached_ids`: ids in the `get` cache;
//! - `memory_bytes`: the sum of the live workers' `memoryBytes` limits;
//! - `connections`: open connections authenticated as the principal.
//!
//! Taking more fails with `overloaded` and the reason
//! `quota_exceeded: <name>: …`, and affects no other principal. What a
//! principal holds is given back as it lets go: a [`Held`] returns its share
//! when dropped (with the worker it belongs to, or its connection). This
//! module only counts; the `get` cache counts its own ids (see
//! `crate::cache`) against [`Quotas::cached_ids`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde::Deserialize;

use crate::error::Error;

/// The quota values, the same for every principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quotas {
    /// Live workers per principal. Default 256.
    pub workers: u64,
    /// Ids in the `get` cache per principal. Default 256. A new id beyond
    /// it forgets the principal's least recently used id whose worker no
    /// client holds; when every cached worker is held, the `get` fails.
    pub cached_ids: u64,
    /// The sum of the live workers' `memoryBytes` limits per principal.
    /// Default 16 GiB: 256 workers at the default 64 MiB, or 8 at the
    /// 2 GiB maximum.
    pub memory_bytes: u64,
    /// Open connections per principal (the Unix socket and TCP together).
    /// Default 256.
    pub connections: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self::DEFAULTS
    }
}

impl Quotas {
    /// The defaults, for a server shared by several principals.
    pub const DEFAULTS: Quotas = Quotas {
        workers: 256,
        cached_ids: 256,
        memory_bytes: 16 << 30,
        connections: 256,
    };

    /// The quotas' names, as in `--quota NAME=VALUE` and `[quotas]`.
    pub const NAMES: [&'static str; 4] = ["workers", "cached_ids", "memory_bytes", "connections"];

    /// Sets the quota called `name` to `value` (at least 1).
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        let slot = match name {
            "workers" => &mut self.workers,
            "cached_ids" => &mut self.cached_ids,
            "memory_bytes" => &mut self.memory_bytes,
            "connections" => &mut self.connections,
            other => {
                return Err(format!(
                    "no quota called {other:?} (expected one of {})",
                    Self::NAMES.join(", ")
                ))
            }
        };
        if value == 0 {
            return Err(format!("{name}: a quota must be at least 1"));
        }
        *slot = value;
        Ok(())
    }

    /// Checks that every quota is at least 1 (a `[quotas]` table may say 0).
    pub fn check(&self) -> Result<(), String> {
        let values = [
            self.workers,
            self.cached_ids,
            self.memory_bytes,
            self.connections,
        ];
        match Self::NAMES.iter().zip(values).find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("{name}: a quota must be at least 1")),
            None => Ok(()),
        }
    }

    /// Parses `NAME=VALUE` (the argument of `caplet serve --quota`).
    pub fn parse_setting(spec: &str) -> Result<(String, u64), String> {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=VALUE, got {spec:?}"))?;
        let value = value.parse::<u64>().map_err(|e| format!("{name}: {e}"))?;
        let mut scratch = Self::DEFAULTS;
        scratch.set(name, value)?;
        Ok((name.to_string(), value))
    }
}

/// What one principal holds now.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub workers: u64,
    pub memory_bytes: u64,
    pub connections: u64,
}

impl Usage {
    fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// Counts what every principal holds, against the [`Quotas`].
#[derive(Debug)]
pub struct Book {
    quotas: Quotas,
    usage: RefCell<HashMap<Rc<str>, Usage>>,
}

impl Book {
    pub fn new(quotas: Quotas) -> Rc<Self> {
        Rc::new(Self {
            quotas,
            usage: RefCell::new(HashMap::new()),
        })
    }

    /// The quota values.
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// What `principal` holds now.
    pub fn usage(&self, principal: &str) -> Usage {
        self.usage
            .borrow()
            .get(principal)
            .copied()
            .unwrap_or_default()
    }

    /// Room for one more worker of `principal` whose memory limit is
    /// `memory_bytes`, held until the returned [`Held`] is dropped.
    pub fn worker(self: &Rc<Self>, principal: &str, memory_bytes: u64) -> Result<Held, Error> {
        let now = self.usage(principal);
        if now.workers >= self.quotas.workers {
            return Err(Error::QuotaExceeded {
                quota: "workers",
                detail: format!(
                    "{principal:?} has {} live workers, the quota is {}",
                    now.workers, self.quotas.workers
                ),
            });
        }
        let total = now.memory_bytes.checked_add(memory_bytes);
        if total.is_none_or(|total| total > self.quotas.memory_bytes) {
            return Err(Error::QuotaExceeded {
                quota: "memory_bytes",
                detail: format!(
                    "{principal:?}'s live workers may use {} bytes, {memory_bytes} more would pass the quota of {}",
                    now.memory_bytes, self.quotas.memory_bytes
                ),
            });
        }
        Ok(self.take(
            principal,
            Usage {
                workers: 1,
                memory_bytes,
                connections: 0,
            },
        ))
    }

    /// Room for one more connection of `principal`, held until the returned
    /// [`Held`] is dropped.
    pub fn connection(self: &Rc<Self>, principal: &str) -> Result<Held, Error> {
        let now = self.usage(principal);
        if now.connections >= self.quotas.connections {
            return Err(Error::QuotaExceeded {
                quota: "connections",
                detail: format!(
                    "{principal:?} has {} connections open, the quota is {}",
                    now.connections, self.quotas.connections
                ),
            });
        }
        Ok(self.take(
            principal,
            Usage {
                connections: 1,
                ..Usage::default()
            },
        ))
    }

    fn take(self: &Rc<Self>, principal: &str, share: Usage) -> Held {
        let mut usage = self.usage.borrow_mut();
        let key = match usage.get_key_value(principal) {
            Some((key, _)) => key.clone(),
            None => Rc::from(principal),
        };
        let entry = usage.entry(key.clone()).or_default();
        entry.workers += share.workers;
        entry.memory_bytes += share.memory_bytes;
        entry.connections += share.connections;
        Held {
            book: self.clone(),
            principal: key,
            share,
        }
    }
}

/// A principal's share of a quota (one worker, or one connection); given
/// back when dropped.
#[derive(Debug)]
pub struct Held {
    book: Rc<Book>,
    principal: Rc<str>,
    share: Usage,
}

impl Held {
    /// The principal this share is counted against.
    pub fn principal(&self) -> &str {
        &self.principal
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut usage = self.book.usage.borrow_mut();
        if let Some(entry) = usage.get_mut(&*self.principal) {
            entry.workers -= self.share.workers;
            entry.memory_bytes -= self.share.memory_bytes;
            entry.connections -= self.share.connections;
            if entry.is_empty() {
                usage.remove(&*self.principal);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tight() -> Rc<Book> {
        Book::new(Quotas {
            workers: 2,
            cached_ids: 1,
            memory_bytes: 100,
            connections: 1,
        })
    }

    fn tripped(result: Result<Held, Error>) -> String {
        let error = result.unwrap_err();
        let text = error.to_string();
        assert_eq!(
            capnp::Error::from(error).kind,
            capnp::ErrorKind::Overloaded,
            "{text}"
        );
        text
    }

    #[test]
    fn workers_are_counted_per_principal_and_given_back() {
        let book = tight();
        let a = book.worker("alice", 10).unwrap();
        let b = book.worker("alice", 10).unwrap();
        let error = tripped(book.worker("alice", 10));
        assert!(
            error.starts_with(
                "quota_exceeded: workers: \"alice\" has 2 live workers, the quota is 2"
            ),
            "{error}"
        );
        // Another principal is not affected.
        let bob = book.worker("bob", 10).unwrap();
        assert_eq!(book.usage("bob").workers, 1);
        drop(a);
        let c = book.worker("alice", 10).unwrap();
        drop((b, c, bob));
        assert_eq!(book.usage("alice"), Usage::default());
        assert!(book.usage.borrow().is_empty(), "nothing stays behind");
    }

    #[test]
    fn memory_is_the_sum_of_the_limits() {
        let book = tight();
        let a = book.worker("alice", 60).unwrap();
        let error = tripped(book.worker("alice", 41));
        assert!(
            error.starts_with("quota_exceeded: memory_bytes: "),
            "{error}"
        );
        let b = book.worker("alice", 40).unwrap();
        assert_eq!(book.usage("alice").memory_bytes, 100);
        drop((a, b));
        let error = tripped(book.worker("alice", 101));
        assert!(error.contains("the quota of 100"), "{error}");
    }

    #[test]
    fn connections_are_counted() {
        let book = tight();
        let one = book.connection("alice").unwrap();
        let error = tripped(book.connection("alice"));
        assert!(
            error.starts_with("quota_exceeded: connections: "),
            "{error}"
        );
        let _bob = book.connection("bob").unwrap();
        drop(one);
        let _again = book.connection("alice").unwrap();
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        assert_eq!(
            Quotas::parse_setting("workers=10"),
            Ok(("workers".into(), 10))
        );
        for (bad, expected) in [
            ("workers", "expected NAME=VALUE"),
            ("workerz=1", "no quota called \"workerz\""),
            ("workers=-1", "workers: invalid digit"),
            ("workers=0", "workers: a quota must be at least 1"),
            ("memory_bytes=lots", "memory_bytes: invalid digit"),
        ] {
            let error = Quotas::parse_setting(bad).unwrap_err();
            assert!(error.starts_with(expected), "{bad}: {error}");
        }
        let mut quotas = Quotas::DEFAULTS;
        quotas.connections = 0;
        assert!(quotas.check().unwrap_err().starts_with("connections:"));
    }
}
