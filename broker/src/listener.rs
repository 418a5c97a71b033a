//! Accepting clients: on a Unix socket (owner-only; the bootstrap capability
//! is `Broker`, for the principal `unix:<uid>` of the connecting process) and
//! on TCP (the bootstrap capability is `Gatekeeper`: nothing is reachable
//! before a valid token). Each accepted stream becomes one hardened RPC
//! connection ([`crate::connection`]).

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet::caplet_capnp::{broker, gatekeeper};

use crate::auth::{Authenticator, Backoff, GatekeeperService, Tokens};
use crate::connection::{self, Admission, ConnectionLimits};
use crate::descriptors::Budget;
use crate::error::Error;
use crate::service::{BrokerService, Shared};

/// How long the accept loop first pauses after a failed `accept` (for
/// example when the process is out of file descriptors), so it does not
/// spin; the pause doubles while `accept` keeps failing.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// The longest pause after failed `accept`s.
const ACCEPT_RETRY_MAX: Duration = Duration::from_secs(1);

/// How often a listener logs a refused connection, or a failed `accept`, at
/// most: a flood of connections must not become a flood of log lines.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// A listener's log of refused connections (or failed accepts): at most one
/// line per [`REFUSAL_LOG_INTERVAL`]; the next line says how many were left
/// out.
struct RefusalLog {
    last: Cell<Option<Instant>>,
    left_out: Cell<u64>,
    /// What the count of left-out lines counts ("refused", "failed").
    noun: &'static str,
}

impl Default for RefusalLog {
    fn default() -> Self {
        Self::new("refused")
    }
}

impl RefusalLog {
    fn new(noun: &'static str) -> Self {
        Self {
            last: Cell::new(None),
            left_out: Cell::new(0),
            noun,
        }
    }

    fn refused(&self, line: impl FnOnce() -> String) {
        if let Some(line) = self.line_at(Instant::now(), line) {
            eprintln!("{line}");
        }
    }

    /// The line to log for a refusal at `now`, if any.
    fn line_at(&self, now: Instant, line: impl FnOnce() -> String) -> Option<String> {
        let recent = self
            .last
            .get()
            .is_some_and(|last| now.duration_since(last) < REFUSAL_LOG_INTERVAL);
        if recent {
            self.left_out.set(self.left_out.get() + 1);
            return None;
        }
        self.last.set(Some(now));
        Some(match self.left_out.replace(0) {
            0 => line(),
            n => format!(
                "{} ({n} more {} since the last such line)",
                line(),
                self.noun
            ),
        })
    }
}

/// A listener's pauses after failed `accept`s: growing while they fail,
/// logged at most once a second.
struct AcceptBackoff {
    pause: Duration,
    log: RefusalLog,
}

impl AcceptBackoff {
    fn new() -> Self {
        Self {
            pause: ACCEPT_RETRY,
            log: RefusalLog::new("failed"),
        }
    }

    /// `accept` on `listener` failed: logs it and waits before the next try.
    async fn failed(&mut self, listener: &str, error: std::io::Error) {
        let pause = self.next_pause();
        self.log.refused(|| {
            format!(
                "caplet: accept on {listener}: {error} (retrying in {} ms)",
                pause.as_millis()
            )
        });
        tokio::time::sleep(pause).await;
    }

    /// How long to wait after this failure; the next one waits twice as
    /// long, up to [`ACCEPT_RETRY_MAX`].
    fn next_pause(&mut self) -> Duration {
        let pause = self.pause;
        self.pause = (pause * 2).min(ACCEPT_RETRY_MAX);
        pause
    }

    /// `accept` succeeded: the next failure pauses briefly again.
    fn succeeded(&mut self) {
        self.pause = ACCEPT_RETRY;
    }
}

/// The places the descriptor budget leaves to unauthenticated TCP
/// connections.
#[derive(Clone)]
pub(crate) struct Unauthenticated {
    pub(crate) admission: Admission,
    pub(crate) budget: Budget,
}

/// A ticket for a connection from `peer`, or `None` (and a log line) when
/// the broker has as many open as it allows; the caller then drops the
/// stream, which closes it.
fn admit(
    admission: &Admission,
    log: &RefusalLog,
    peer: &str,
    limits: ConnectionLimits,
) -> Option<connection::Ticket> {
    match admission.admit() {
        Ok(ticket) => Some(ticket),
        Err(open) => {
            log.refused(|| format!(
                "caplet: refused a connection from {peer}: {open} open on this listener, the limit is {} (--max-connections)",
                limits.max_connections
            ));
            None
        }
    }
}

/// The `Broker` of a connection refused by a quota: every call fails with
/// the reason, and the connection is closed once it is answered.
struct Refused {
    error: capnp::Error,
    gate: Rc<connection::Gate>,
}

impl Refused {
    fn refuse<T>(&self) -> Result<T, capnp::Error> {
        self.gate.close_after_answers();
        Err(self.error.clone())
    }
}

impl broker::Server for Refused {
    async fn load(
        self: capnp::capability::Rc<Self>,
        _: broker::LoadParams,
        _: broker::LoadResults,
    ) -> Result<(), capnp::Error> {
        self.refuse()
    }

    async fn get(
        self: capnp::capability::Rc<Self>,
        _: broker::GetParams,
        _: broker::GetResults,
    ) -> Result<(), capnp::Error> {
        self.refuse()
    }

    async fn builtin(
        self: capnp::capability::Rc<Self>,
        _: broker::BuiltinParams,
        _: broker::BuiltinResults,
    ) -> Result<(), capnp::Error> {
        self.refuse()
    }
}

/// A bound Unix socket; the socket file is removed when this is dropped.
pub struct UnixListener {
    listener: tokio::net::UnixListener,
    path: PathBuf,
}

impl UnixListener {
    /// Binds `path`. A stale socket file left by a dead broker is replaced; a
    /// live one (something accepts connections there) is an error.
    pub fn bind(path: &Path) -> Result<Self, Error> {
        if let Ok(found) = std::fs::symlink_metadata(path) {
            // Only ever replace a socket: `--socket notes.txt` must not delete a file.
            if !std::os::unix::fs::FileTypeExt::is_socket(&found.file_type()) {
                return Err(Error::io(
                    format!("bind {}", path.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "a file that is not a socket is there",
                    ),
                ));
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Error::io(
                    format!("bind {}", path.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        "another broker is listening there",
                    ),
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("remove stale socket {}", path.display()), e))?;
        }
        let listener = tokio::net::UnixListener::bind(path)
            .map_err(|e| Error::io(format!("bind {}", path.display()), e))?;
        // Only the owner may connect: the socket is the broker's front door.
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts clients forever, serving each on the current `LocalSet`.
    pub(crate) async fn serve(
        &self,
        shared: Rc<Shared>,
        limits: ConnectionLimits,
        admission: Admission,
    ) -> Result<(), Error> {
        let log = RefusalLog::default();
        let mut backoff = AcceptBackoff::new();
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    backoff
                        .failed(&self.path.display().to_string(), error)
                        .await;
                    continue;
                }
            };
            backoff.succeeded();
            caplet::spin::watch(std::os::fd::AsRawFd::as_raw_fd(&stream));
            let credentials = match stream.peer_cred() {
                Ok(credentials) => credentials,
                Err(error) => {
                    // Without the peer's uid there is no principal: refuse.
                    log.refused(|| {
                        format!(
                            "caplet: refused a connection on {}: no peer credentials: {error}",
                            self.path.display()
                        )
                    });
                    continue;
                }
            };
            let principal = format!("unix:{}", credentials.uid());
            let peer = match credentials.pid() {
                Some(pid) => format!("{principal} (pid {pid})"),
                None => principal.clone(),
            };
            let Some(ticket) = admit(&admission, &log, &peer, limits) else {
                continue;
            };
            // Over its `connections` quota, the principal is told so at its
            // first call, and the connection is closed.
            let counted = shared.quotas.connection(&principal);
            if let Err(error) = &counted {
                log.refused(|| format!("caplet: refused a connection from {peer}: {error}"));
            }
            let shared = shared.clone();
            connection::spawn(
                stream,
                ticket,
                peer,
                limits,
                true,
                move |gate| match counted {
                    Ok(held) => {
                        gate.keep(held);
                        let client: broker::Client =
                            capnp_rpc::new_client(BrokerService::new(shared, principal));
                        client.client
                    }
                    Err(error) => {
                        let client: broker::Client = capnp_rpc::new_client(Refused {
                            error: error.into(),
                            gate: gate.clone(),
                        });
                        client.client
                    }
                },
            );
        }
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A bound TCP socket whose clients must present a token.
pub struct TcpListener {
    listener: tokio::net::TcpListener,
    auth: Rc<Authenticator>,
}

impl TcpListener {
    /// Binds `address` (port 0 picks a free port; see [`Self::local_addr`]).
    /// Clients authenticate with one of `tokens`.
    pub async fn bind(address: SocketAddr, tokens: Tokens) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Error::io(format!("listen on {address}"), e))?;
        Ok(Self {
            listener,
            auth: Rc::new(Authenticator {
                tokens,
                backoff: Backoff::default(),
            }),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener
            .local_addr()
            .map_err(|e| Error::io("local address of the TCP listener", e))
    }

    /// Accepts clients forever, serving each on the current `LocalSet`.
    pub(crate) async fn serve(
        &self,
        shared: Rc<Shared>,
        limits: ConnectionLimits,
        admission: Admission,
        unauthenticated: Unauthenticated,
    ) -> Result<(), Error> {
        let log = RefusalLog::default();
        let mut backoff = AcceptBackoff::new();
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    backoff.failed("TCP", error).await;
                    continue;
                }
            };
            backoff.succeeded();
            let Some(ticket) = admit(&admission, &log, &peer.to_string(), limits) else {
                continue;
            };
            // Peers without a token never take the descriptors kept in reserve.
            let until_authenticated = match unauthenticated.admission.admit() {
                Ok(ticket) => ticket,
                Err(open) => {
                    let budget = unauthenticated.budget;
                    log.refused(|| format!(
                        "caplet: refused a connection from {peer}: {open} unauthenticated connections open, the limit is {} (half of the {} file descriptors less a reserve of {})",
                        budget.unauthenticated, budget.limit, budget.reserve
                    ));
                    continue;
                }
            };
            // Small RPC messages must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            caplet::spin::watch(std::os::fd::AsRawFd::as_raw_fd(&stream));
            let shared = shared.clone();
            let auth = self.auth.clone();
            connection::spawn(
                stream,
                ticket,
                peer.to_string(),
                limits,
                false,
                move |gate| {
                    gate.until_authenticated(until_authenticated);
                    let client: gatekeeper::Client = capnp_rpc::new_client(GatekeeperService::new(
                        shared,
                        auth,
                        peer,
                        gate.clone(),
                    ));
                    client.client
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_wait_longer_and_longer_up_to_a_second() {
        let mut backoff = AcceptBackoff::new();
        let pauses: Vec<u128> = (0..7).map(|_| backoff.next_pause().as_millis()).collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.next_pause(), ACCEPT_RETRY);
    }

    #[test]
    fn refusals_are_logged_at_most_once_a_second_with_a_count_of_the_rest() {
        let log = RefusalLog::default();
        let start = Instant::now();
        let line = |n: u32| move || format!("refused {n}");
        assert_eq!(log.line_at(start, line(1)).as_deref(), Some("refused 1"));
        let soon = start + Duration::from_millis(400);
        assert_eq!(log.line_at(soon, line(2)), None);
        assert_eq!(log.line_at(soon, line(3)), None);
        let later = start + REFUSAL_LOG_INTERVAL;
        assert_eq!(
            log.line_at(later, line(4)).as_deref(),
            Some("refused 4 (2 more refused since the last such line)")
        );
        assert_eq!(log.line_at(later, line(5)), None);
        let much_later = later + REFUSAL_LOG_INTERVAL * 5;
        assert_eq!(
            log.line_at(much_later, line(6)).as_deref(),
            Some("refused 6 (1 more refused since the last such line)")
        );
        assert_eq!(
            log.line_at(much_later + REFUSAL_LOG_INTERVAL, line(7))
                .as_deref(),
            Some("refused 7")
        );
    }
}
