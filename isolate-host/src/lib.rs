//! caplet's isolate-host: a process that runs many JavaScript workers, each in
//! its own QuickJS runtime, on one thread interleaved by async.
//!
//! Its only channel is the Cap'n Proto connection to the broker on its stdin
//! (a socketpair the broker created). It serves `IsolateHost` from
//! `schema/host.capnp`. Right after start-up, before it reads a byte from the
//! broker, it confines itself with `caplet-confine` (parent-death signal,
//! rlimits, no_new_privs, Landlock, seccomp allowlist): from then on it cannot
//! open a file, create a socket, run a program or start a thread. Missing
//! kernel features are logged on stderr, or fatal with
//! [`HostOptions::require_confinement`]. Code map (dependencies go
//! down: `server` → `worker` → {`caps`, `fetch`, `platform`} →
//! `invocation` → {`console`, `tasks`} → `engine`; the engine installs the
//! platform's lazy globals and loads bytecode through `modules`):
//! - `server`: the Cap'n Proto servers.
//! - `worker`: a loaded worker (its capabilities, exports, loading).
//! - `caps`: capabilities in JavaScript (stubs, calls, pipelining, exports).
//! - `fetch`: the global `fetch()` of workers granted `env.fetch`.
//! - `console`: captured `console.*` output, and the lines sent to the
//!   caller while it runs.
//! - `platform`: the Web platform's globals, built lazily on first use
//!   (timers among them, on `tasks`).
//! - `invocation`: one invocation as a value (its start, budgets, the
//!   driver protocol for calls into the worker, its end in `Drop`).
//! - `tasks`: host operations and timers an invocation waits on.
//! - [`engine`]: the engine boundary, where a runtime is configured.
//! - [`modules`]: module names, import resolution, compilation to bytecode.
//! - `idle`: freeing released workers and preparing the next isolate when idle.
//! - `exception`: thrown JS values turned into messages and locations.

mod caps;
mod console;
pub mod engine;
mod error;
mod exception;
mod fetch;
mod idle;
mod invocation;
pub mod modules;
mod platform;
mod server;
mod stack;
mod tasks;
mod typescript;
mod worker;

pub use error::{Error, InvokeFailure};

use std::os::fd::OwnedFd;

use capnp_rpc::{rpc_twoparty_capnp, RpcSystem};
use futures::AsyncReadExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// How an isolate-host starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostOptions {
    /// The broker's pid, which must be this process's parent; `None` takes
    /// the current parent.
    pub broker_pid: Option<i32>,
    /// Exit if any protection is missing, instead of logging it.
    pub require_confinement: bool,
}

/// Runs an isolate-host on the socket at stdin until the broker hangs up.
pub fn serve_stdin(options: &HostOptions) -> Result<(), Error> {
    let fd: OwnedFd = std::io::stdin()
        .lock()
        .as_fd_owned()
        .map_err(|e| Error::Engine(format!("stdin is not usable as the broker socket: {e}")))?;
    let runtime = start_up(options)?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(fd))
}

/// Everything that needs a file or a new descriptor, then confinement: the
/// event loop (whose driver opens descriptors) and the engine prelude are
/// built first.
fn start_up(options: &HostOptions) -> Result<tokio::runtime::Runtime, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Idle work first (`idle`), then the spin.
        .on_thread_park(idle::before_park)
        .build()
        .map_err(|e| Error::Engine(format!("cannot start the event loop: {e}")))?;
    engine::prelude()?;
    platform::js::bytecode()?;
    engine::init_stack_ceiling();
    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = options
        .broker_pid
        .unwrap_or_else(|| unsafe { libc::getppid() });
    let mut confine = caplet_confine::Options::new(parent);
    confine.require_all = options.require_confinement;
    // A host holds tens of thousands of workers, each with its own heap: its
    // address space may grow to the machine's memory, never beyond (at least
    // the confinement default).
    confine.address_space = Some(physical_memory().max(confine.address_space.unwrap_or(0)));
    let report =
        caplet_confine::confine(&confine).map_err(|e| Error::Confinement(e.to_string()))?;
    if !report.is_complete() {
        for line in report.to_string().lines() {
            eprintln!("isolate-host {}: {line}", std::process::id());
        }
    }
    Ok(runtime)
}

/// A diagnostic, used by the end-to-end tests: starts up and confines itself
/// exactly like a host, then tries what a host must never manage to do
/// (open `file`, create sockets) and describes each attempt, one per line,
/// e.g. `open /etc/hostname: denied (Operation not permitted (os error 1))`.
/// It grants nothing: every attempt happens inside the confined process.
pub fn probe_confinement(options: &HostOptions, file: &std::path::Path) -> Result<String, Error> {
    let _runtime = start_up(options)?;
    let outcome = |what: String, result: std::io::Result<()>| match result {
        Ok(()) => format!("{what}: allowed"),
        Err(e) => format!("{what}: denied ({e})"),
    };
    let socket = |domain: libc::c_int| -> std::io::Result<()> {
        // SAFETY: socket(2) has no memory-safety preconditions; a descriptor
        // it returns is closed at once.
        let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2) and is ours.
        unsafe { libc::close(fd) };
        Ok(())
    };
    let lines = [
        outcome(
            format!("open {}", file.display()),
            std::fs::File::open(file).map(drop),
        ),
        outcome("socket unix".into(), socket(libc::AF_UNIX)),
        outcome("socket inet".into(), socket(libc::AF_INET)),
        outcome(
            "spawn thread".into(),
            std::thread::Builder::new().spawn(|| ()).map(drop),
        ),
    ];
    Ok(lines.join("\n"))
}

trait AsFdOwned {
    fn as_fd_owned(&self) -> std::io::Result<OwnedFd>;
}

impl AsFdOwned for std::io::StdinLock<'_> {
    fn as_fd_owned(&self) -> std::io::Result<OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}

/// The machine's physical memory in bytes (0 if unknown).
fn physical_memory() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || page <= 0 {
        return 0;
    }
    (pages as u64).saturating_mul(page as u64)
}

async fn serve(fd: OwnedFd) -> Result<(), Error> {
    engine::prepare_spare()?;
    caplet::spin::watch(std::os::fd::AsRawFd::as_raw_fd(&fd));
    let std_stream = std::os::unix::net::UnixStream::from(fd);
    std_stream
        .set_nonblocking(true)
        .map_err(|e| Error::Engine(format!("broker socket: {e}")))?;
    let stream = tokio::net::UnixStream::from_std(std_stream)
        .map_err(|e| Error::Engine(format!("broker socket: {e}")))?;
    let (reader, writer) = stream.compat().split();
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(Some(caplet::MAX_MESSAGE_WORDS));
    options.nesting_limit(64);
    let network =
        caplet::transport::network(reader, writer, rpc_twoparty_capnp::Side::Server, options);
    let host: caplet::host_capnp::isolate_host::Client =
        capnp_rpc::new_client(server::HostServer::new()?);
    let rpc = RpcSystem::new(Box::new(network), Some(host.client));
    // A task of the `LocalSet`, not the future it runs until: the RPC system
    // yields after each message it handles, and a yield of the outermost
    // future goes back to the runtime, which polls the OS (`epoll_wait`)
    // before polling it again: one system call per message. A local task's
    // yield just requeues it within the set's turn.
    tokio::task::spawn_local(rpc)
        .await
        .map_err(|e| Error::Engine(format!("the RPC system stopped: {e}")))?
        .map_err(Error::Protocol)
}
