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
use crate::error::Error;
use crate::service::{BrokerService, Shared};

/// How long the accept loop pauses after a failed `accept` (for example when
/// the process is out of file descriptors), so it does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// How often a listener logs a refused connection at most: a flood of
/// connections must not become a flood of log lines.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// A listener's log of refused connections: at most one line per
/// [`REFUSAL_LOG_INTERVAL`]; the next line says how many were left out.
#[derive(Default)]
struct RefusalLog {
    last: Cell<Option<Instant>>,
    left_out: Cell<u64>,
}

impl RefusalLog {
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
            n => format!("{} ({n} more refused since the last such line)", line()),
        })
    }
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
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    eprintln!("caplet: accept on {}: {error}", self.path.display());
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
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
            // Over its `connections` quota, the principal is told so (and
            // gets no more than an unauthenticated peer until then).
            let counted = shared.quotas.connection(&principal);
            if let Err(error) = &counted {
                log.refused(|| format!("caplet: refused a connection from {peer}: {error}"));
            }
            let shared = shared.clone();
            let authenticated = counted.is_ok();
            connection::spawn(
                stream,
                ticket,
                peer,
                limits,
                authenticated,
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
    ) -> Result<(), Error> {
        let log = RefusalLog::default();
        loop {
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("caplet: accept on TCP: {error}");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            };
            let Some(ticket) = admit(&admission, &log, &peer.to_string(), limits) else {
                continue;
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
