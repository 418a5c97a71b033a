//! Routing `get(id)` over several brokers that share one store: a
//! [`Router`] ranks the brokers for each (principal, id) by rendezvous
//! (highest-random-weight) hashing, and asks them in that order.
//!
//! `get` is a per-broker cache, so the same (principal, id) must keep
//! reaching the same broker to find its worker again: with every client
//! ranking the same address list the same way, it does, across reconnects
//! and across clients. When the first broker is down (it refuses the
//! connection, or the connection drops and a fresh one cannot be made)
//! the router goes on to the next in the ranking, which loads the worker
//! afresh; when a broker joins or leaves the list, only the ids whose
//! first choice it is move.
//!
//! The weight of a broker is the first 8 bytes (big-endian) of
//! SHA-256(len(principal) ‖ principal ‖ len(id) ‖ id ‖ len(key) ‖ key),
//! each length a big-endian u64 and `key` the broker's address as
//! [`BrokerAddress::key`] writes it, so the Python client ranks the same
//! way.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::{Connection, Error, Worker, WorkerCode};

/// Where one broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerAddress {
    /// `caplet serve --socket PATH`.
    Unix(PathBuf),
    /// `caplet serve --listen ADDR --token-file …`, with this client's token.
    Tcp { address: String, token: String },
}

impl BrokerAddress {
    /// `tcp://HOST:PORT` (with `token`) or a Unix socket path.
    pub fn parse(text: &str, token: Option<&str>) -> Result<Self, Error> {
        match text.strip_prefix("tcp://") {
            Some(address) => match token {
                Some(token) => Ok(Self::Tcp {
                    address: address.to_string(),
                    token: token.to_string(),
                }),
                None => Err(Error::Refused {
                    kind: "bad_request".into(),
                    message: format!("the broker {text} needs a token"),
                }),
            },
            None => Ok(Self::Unix(PathBuf::from(text))),
        }
    }

    /// What the ranking hashes: `tcp://HOST:PORT`, or `unix:PATH`.
    pub fn key(&self) -> String {
        match self {
            Self::Unix(path) => format!("unix:{}", path.display()),
            Self::Tcp { address, .. } => format!("tcp://{address}"),
        }
    }

    async fn connect(&self) -> Result<Connection, Error> {
        match self {
            Self::Unix(path) => Connection::connect(path).await,
            Self::Tcp { address, token } => Connection::connect_tcp(address, token).await,
        }
    }
}

/// The weight of `broker` for (`principal`, `id`): higher ranks first.
pub fn weight(principal: &str, id: &str, broker: &str) -> u64 {
    let mut hash = Sha256::new();
    for part in [principal, id, broker] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// A worker `get` found or loaded, and the broker (its index in the
/// router's list) that serves it.
pub struct Routed {
    pub worker: Worker,
    pub broker: usize,
}

/// Several brokers, one connection to each at most (made when first
/// needed, made again after it drops).
pub struct Router {
    brokers: Vec<BrokerAddress>,
    principal: String,
    connections: RefCell<Vec<Option<Rc<Connection>>>>,
}

impl Router {
    /// A router over `brokers` for `principal`: the name the brokers know
    /// this client by (its token's name, or `unix:<uid>`), so that every
    /// client of one principal ranks the brokers alike.
    pub fn new(brokers: Vec<BrokerAddress>, principal: impl Into<String>) -> Result<Self, Error> {
        if brokers.is_empty() {
            return Err(Error::Refused {
                kind: "bad_request".into(),
                message: "a router needs at least one broker address".into(),
            });
        }
        let connections = RefCell::new(vec![None; brokers.len()]);
        Ok(Self {
            brokers,
            principal: principal.into(),
            connections,
        })
    }

    /// The brokers, as given.
    pub fn brokers(&self) -> &[BrokerAddress] {
        &self.brokers
    }

    /// The brokers' indexes in the order `get(id)` tries them.
    pub fn ranking(&self, id: &str) -> Vec<usize> {
        let mut ranked: Vec<(u64, usize)> = self
            .brokers
            .iter()
            .enumerate()
            .map(|(index, broker)| (weight(&self.principal, id, &broker.key()), index))
            .collect();
        // Ties (never seen with SHA-256) fall back to the list's order.
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.into_iter().map(|(_, index)| index).collect()
    }

    /// `Connection::get` on the first broker of `id`'s ranking that
    /// answers. A broker that is down (cannot be connected to, or drops
    /// the connection and cannot be reached again) passes the request to
    /// the next; any other error is the answer. When every broker is down,
    /// the last broker's error.
    pub async fn get(&self, id: &str, code: &WorkerCode) -> Result<Routed, Error> {
        let mut last = None;
        for broker in self.ranking(id) {
            // A connection that dropped (a broker restarted) is made again
            // once before the broker counts as down.
            for _ in 0..2 {
                let connection = match self.connection(broker).await {
                    Ok(connection) => connection,
                    Err(error) => {
                        last = Some(error);
                        break;
                    }
                };
                match connection.get(id, code).await {
                    Ok(worker) => return Ok(Routed { worker, broker }),
                    Err(error @ Error::Disconnected(_)) => {
                        self.connections.borrow_mut()[broker] = None;
                        last = Some(error);
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Err(last.expect("a router has at least one broker"))
    }

    /// The open connection to `broker`, connecting first when needed.
    pub async fn connection(&self, broker: usize) -> Result<Rc<Connection>, Error> {
        if let Some(connection) = self.connections.borrow()[broker].clone() {
            return Ok(connection);
        }
        let connection = Rc::new(self.brokers[broker].connect().await?);
        // Another `get` may have connected meanwhile: keep the first.
        let mut connections = self.connections.borrow_mut();
        Ok(connections[broker].get_or_insert(connection).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(keys: &[&str]) -> Router {
        let brokers = keys
            .iter()
            .map(|key| BrokerAddress::parse(key, Some("t")).unwrap())
            .collect();
        Router::new(brokers, "alice").unwrap()
    }

    #[test]
    fn weights_are_stable_and_separate_their_fields() {
        // The Python client's tests check the same value.
        assert_eq!(
            weight("alice", "job-1", "tcp://10.0.0.1:7420"),
            weight("alice", "job-1", "tcp://10.0.0.1:7420")
        );
        assert_ne!(weight("a", "bc", "x"), weight("ab", "c", "x"));
        assert_eq!(
            format!("{:016x}", weight("alice", "job-1", "tcp://10.0.0.1:7420")),
            WEIGHT_ALICE_JOB_1
        );
    }

    /// `weight("alice", "job-1", "tcp://10.0.0.1:7420")`, shared with the
    /// Python client's tests.
    const WEIGHT_ALICE_JOB_1: &str = "b9d887dc94a2577c";

    #[test]
    fn ids_spread_over_brokers_and_only_a_removed_brokers_ids_move() {
        let three = router(&["tcp://a:1", "tcp://b:1", "tcp://c:1"]);
        let two = router(&["tcp://a:1", "tcp://c:1"]);
        let mut per_broker = [0; 3];
        for i in 0..300 {
            let id = format!("id-{i}");
            let first = three.ranking(&id)[0];
            per_broker[first] += 1;
            let now = two.brokers()[two.ranking(&id)[0]].key();
            if first != 1 {
                // Not on the removed broker: it stays where it was.
                assert_eq!(now, three.brokers()[first].key(), "{id}");
            }
        }
        assert!(per_broker.iter().all(|n| *n > 60), "{per_broker:?}");
    }

    #[test]
    fn a_router_needs_brokers_and_tcp_needs_a_token() {
        assert!(Router::new(Vec::new(), "alice").is_err());
        assert!(BrokerAddress::parse("tcp://127.0.0.1:1", None).is_err());
        assert_eq!(
            BrokerAddress::parse("/run/caplet.sock", None)
                .unwrap()
                .key(),
            "unix:/run/caplet.sock"
        );
    }
}
