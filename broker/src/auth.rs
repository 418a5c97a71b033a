//! Authentication of TCP clients: the token file, constant-time token
//! lookup, the failure backoff (per connection and per peer address), and the
//! `Gatekeeper` a TCP connection bootstraps with.
//!
//! Nothing but `Gatekeeper.authenticate` is reachable over TCP before a valid
//! token; the `Broker` it returns carries the token's name as its principal.
//! Tokens never appear in logs or error messages.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use caplet::caplet_capnp::{broker, gatekeeper};
use capnp::capability::Rc as CapRc;
use tokio::time::Instant;

use crate::connection::Gate;
use crate::error::Error;
use crate::service::{BrokerService, Shared};

/// Failed authentications after which a connection is closed.
pub const MAX_FAILURES_PER_CONNECTION: u32 = 5;
/// Delay before answering the first failure.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest delay before answering a failure.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// How long a peer address's failures are remembered after its last one.
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// Peer addresses remembered at most; beyond this the oldest is forgotten.
const MAX_PEERS: usize = 4096;
/// Shortest token accepted in a token file, in bytes.
const MIN_TOKEN_BYTES: usize = 16;
/// Longest token or name accepted in a token file, in bytes.
const MAX_TOKEN_BYTES: usize = 1024;
const MAX_NAME_BYTES: usize = 64;

/// The principals a broker accepts over TCP: `name:token` pairs from a token
/// file.
pub struct Tokens {
    entries: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: tokens never reach a log.
        let names: Vec<&str> = self.entries.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

impl Tokens {
    /// Reads a token file: one `name:token` per line; blank lines and lines
    /// starting with `#` are skipped. Names are 1–64 bytes of letters, digits,
    /// `.`, `_`, `-` and `@`; tokens are 16–1024 bytes without whitespace or
    /// `:`. Names and tokens are unique.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read token file {}", path.display()), e))?;
        Self::parse(&text).map_err(|reason| Error::TokenFile {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses token file text; the error names the line (never the token).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, token)) = line.split_once(':') else {
                return Err(format!("line {number}: expected name:token"));
            };
            let name_ok = !name.is_empty()
                && name.len() <= MAX_NAME_BYTES
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
            if !name_ok {
                return Err(format!(
                    "line {number}: a name is 1 to {MAX_NAME_BYTES} letters, digits, '.', '_', '-' or '@'"
                ));
            }
            if token.len() < MIN_TOKEN_BYTES || token.len() > MAX_TOKEN_BYTES {
                return Err(format!(
                    "line {number}: a token is {MIN_TOKEN_BYTES} to {MAX_TOKEN_BYTES} bytes"
                ));
            }
            if token.bytes().any(|b| b.is_ascii_whitespace() || b == b':') {
                return Err(format!(
                    "line {number}: a token may not contain whitespace or ':'"
                ));
            }
            for (known, known_token) in &entries {
                if known == name {
                    return Err(format!("line {number}: name {name:?} appears twice"));
                }
                if known_token.as_slice() == token.as_bytes() {
                    return Err(format!(
                        "line {number}: {name:?} has the same token as {known:?}"
                    ));
                }
            }
            entries.push((name.to_string(), token.as_bytes().to_vec()));
        }
        if entries.is_empty() {
            return Err("no tokens in the file".into());
        }
        Ok(Self { entries })
    }

    /// The principal whose token is `token`. Every entry is compared, each in
    /// time that depends only on the stored token's length.
    pub fn principal_for(&self, token: &[u8]) -> Option<&str> {
        let mut found = None;
        for (name, known) in &self.entries {
            if constant_time_eq(token, known) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// Whether `given == secret`, in time that depends only on `secret.len()`.
fn constant_time_eq(given: &[u8], secret: &[u8]) -> bool {
    let mut diff = (given.len() != secret.len()) as u8;
    for (i, s) in secret.iter().enumerate() {
        // Out-of-range indices compare against 0; the length check above
        // already made the result false.
        let g = given.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(g ^ s);
    }
    std::hint::black_box(diff) == 0
}

/// The delay before answering a connection's or address's `failures`-th
/// failure: 100 ms, doubling, at most 5 s.
pub fn failure_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let shift = (failures - 1).min(16);
    (FIRST_DELAY * (1u32 << shift)).min(MAX_DELAY)
}

/// Failed authentications per peer address (IPv4 address or IPv6 /64),
/// shared by every TCP connection of one listener.
#[derive(Default)]
pub struct Backoff {
    peers: RefCell<HashMap<IpAddr, PeerRecord>>,
}

struct PeerRecord {
    failures: u32,
    /// Attempts from this address start no earlier than this, one at a time.
    next_slot: Instant,
    last_failure: Instant,
}

impl Backoff {
    /// Reserves the next attempt slot for `peer`: when it may check a token.
    /// Attempts from an address that failed before are spaced by the failure
    /// delay, so parallel connections do not multiply guesses.
    fn reserve(&self, peer: IpAddr) -> Instant {
        let now = Instant::now();
        let mut peers = self.peers.borrow_mut();
        let Some(record) = peers.get_mut(&peer_key(peer)) else {
            return now;
        };
        if now.duration_since(record.last_failure) > FORGET_AFTER {
            peers.remove(&peer_key(peer));
            return now;
        }
        let start = record.next_slot.max(now);
        record.next_slot = start + failure_delay(record.failures);
        start
    }

    /// Records a failure from `peer`; returns the address's failure count.
    fn failed(&self, peer: IpAddr) -> u32 {
        let now = Instant::now();
        let mut peers = self.peers.borrow_mut();
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer_key(peer)) {
            peers.retain(|_, r| now.duration_since(r.last_failure) <= FORGET_AFTER);
            if peers.len() >= MAX_PEERS {
                let oldest = peers
                    .iter()
                    .min_by_key(|(_, r)| r.last_failure)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    peers.remove(&oldest);
                }
            }
        }
        let record = peers.entry(peer_key(peer)).or_insert(PeerRecord {
            failures: 0,
            next_slot: now,
            last_failure: now,
        });
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        record.failures
    }
}

/// IPv6 peers are grouped by /64 (one host usually owns a whole /64).
fn peer_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// What every TCP connection of one listener authenticates against.
pub struct Authenticator {
    pub tokens: Tokens,
    pub backoff: Backoff,
}

/// Serves `Gatekeeper` for one TCP connection.
pub struct GatekeeperService {
    shared: Rc<Shared>,
    auth: Rc<Authenticator>,
    peer: std::net::SocketAddr,
    gate: Rc<Gate>,
    failures: Cell<u32>,
    /// Held while an attempt runs: one connection's attempts are answered one
    /// at a time, so pipelining them gains nothing.
    turn: tokio::sync::Mutex<()>,
}

impl GatekeeperService {
    pub(crate) fn new(
        shared: Rc<Shared>,
        auth: Rc<Authenticator>,
        peer: std::net::SocketAddr,
        gate: Rc<Gate>,
    ) -> Self {
        Self {
            shared,
            auth,
            peer,
            gate,
            failures: Cell::new(0),
            turn: tokio::sync::Mutex::new(()),
        }
    }
}

impl gatekeeper::Server for GatekeeperService {
    async fn authenticate(
        self: CapRc<Self>,
        params: gatekeeper::AuthenticateParams,
        mut results: gatekeeper::AuthenticateResults,
    ) -> Result<(), capnp::Error> {
        let _turn = self.turn.lock().await;
        if self.failures.get() >= MAX_FAILURES_PER_CONNECTION {
            // The connection is closing; answer at once.
            return Err(Error::Unauthenticated.into());
        }
        let ip = self.peer.ip();
        tokio::time::sleep_until(self.auth.backoff.reserve(ip)).await;
        let principal = {
            let params = params.get()?;
            let token = params.get_token()?.as_bytes();
            self.auth.tokens.principal_for(token).map(str::to_string)
        };
        match principal {
            Some(principal) => {
                // A principal over its `connections` quota stays
                // unauthenticated on this connection.
                self.gate.count_for(&self.shared.quotas, &principal)?;
                self.gate.authenticated();
                let broker: broker::Client =
                    capnp_rpc::new_client(BrokerService::new(self.shared.clone(), principal));
                results.get().set_broker(broker);
                Ok(())
            }
            None => {
                let failures = self.failures.get() + 1;
                self.failures.set(failures);
                let from_peer = self.auth.backoff.failed(ip);
                eprintln!(
                    "caplet: failed authentication from {} ({failures} on this connection)",
                    self.peer
                );
                tokio::time::sleep(failure_delay(failures.max(from_peer))).await;
                if failures >= MAX_FAILURES_PER_CONNECTION {
                    self.gate.close_after_answers();
                }
                Err(Error::Unauthenticated.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# operators\nalice:0123456789abcdef0123\n\n  bob:fedcba9876543210fedc  \n";

    #[test]
    fn a_token_file_maps_tokens_to_names() {
        let tokens = Tokens::parse(FILE).unwrap();
        assert_eq!(tokens.entries.len(), 2);
        assert_eq!(tokens.principal_for(b"0123456789abcdef0123"), Some("alice"));
        assert_eq!(tokens.principal_for(b"fedcba9876543210fedc"), Some("bob"));
        assert_eq!(tokens.principal_for(b"fedcba9876543210fed"), None);
        assert_eq!(tokens.principal_for(b""), None);
        assert_eq!(tokens.principal_for(b"0123456789abcdef0123x"), None);
    }

    #[test]
    fn bad_lines_name_their_number_and_never_the_token() {
        let cases = [
            ("a:0123456789abcdef\nnocolon", "line 2: expected name:token"),
            (":0123456789abcdef", "line 1: a name is"),
            ("bad name:0123456789abcdef", "line 1: a name is"),
            ("a:short", "line 1: a token is 16 to 1024 bytes"),
            ("a:0123456789 abcdef", "line 1: a token may not contain"),
            ("a:0123456789abcdef:x", "line 1: a token may not contain"),
            (
                "a:0123456789abcdef\na:1123456789abcdef",
                "line 2: name \"a\" appears twice",
            ),
            (
                "a:0123456789abcdef\nb:0123456789abcdef",
                "line 2: \"b\" has the same token as \"a\"",
            ),
            ("# nothing\n", "no tokens in the file"),
        ];
        for (text, expected) in cases {
            let error = Tokens::parse(text).err().unwrap();
            assert!(error.starts_with(expected), "{text:?}: {error}");
            assert!(!error.contains("0123456789"), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn debug_output_hides_tokens() {
        let tokens = Tokens::parse(FILE).unwrap();
        let shown = format!("{tokens:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("0123456789"), "{shown}");
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abc\0", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
    }

    #[test]
    fn the_failure_delay_doubles_up_to_five_seconds() {
        let delays: Vec<u128> = (0..9).map(|n| failure_delay(n).as_millis()).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(failure_delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn ipv6_peers_are_grouped_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(peer_key(a), peer_key(b));
        assert_ne!(peer_key(a), peer_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(peer_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn attempts_after_failures_are_spaced_out() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let backoff = Backoff::default();
            let peer: IpAddr = "192.0.2.7".parse().unwrap();
            let first = backoff.reserve(peer);
            assert!(first <= Instant::now());
            assert_eq!(backoff.failed(peer), 1);
            assert_eq!(backoff.failed(peer), 2);
            // Two attempts reserved at once are 200 ms apart (two failures).
            let a = backoff.reserve(peer);
            let b = backoff.reserve(peer);
            assert_eq!(b - a, Duration::from_millis(200));
            // Another address is not affected.
            let other: IpAddr = "192.0.2.8".parse().unwrap();
            assert!(backoff.reserve(other) <= Instant::now());
        });
    }
}
