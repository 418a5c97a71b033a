//! caplet's isolate-host: a process that runs many JavaScript workers, each in
//! its own QuickJS runtime, on one thread interleaved by async.
//!
//! Its only channel is the Cap'n Proto connection to the broker on its stdin
//! (a socketpair the broker created). It serves `IsolateHost` from
//! `schema/host.capnp`. Code map:
//! - [`caps`]: capabilities in JavaScript (stubs, calls, pipelining, exports).
//! - [`engine`]: the engine boundary; the only place a runtime is configured.
//! - [`modules`]: module names, import resolution, compilation to bytecode.
//! - [`worker`]: a loaded worker and its invocation loop.
//! - [`tasks`]: host operations an invocation waits on.
//! - [`console`]: captured `console.*` output.
//! - [`log_stream`]: console lines sent to the caller while it runs.
//! - [`fetch`]: the global `fetch()` of workers granted `env.fetch`.
//! - [`exception`]: thrown JS values turned into messages and locations.
//! - [`server`]: the Cap'n Proto servers.

pub mod caps;
pub mod console;
pub mod engine;
mod error;
pub mod exception;
pub mod fetch;
pub mod log_stream;
pub mod modules;
pub mod server;
pub mod tasks;
pub mod worker;

pub use error::{Error, InvokeFailure};

use std::os::fd::OwnedFd;

use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::AsyncReadExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Reader limits for messages from the broker: generous for module sources,
/// bounded against runaway traversal.
const TRAVERSAL_LIMIT_WORDS: usize = 64 << 20 >> 3;

/// Runs an isolate-host on the socket at stdin until the broker hangs up.
pub fn serve_stdin() -> Result<(), Error> {
    let fd: OwnedFd = std::io::stdin()
        .lock()
        .as_fd_owned()
        .map_err(|e| Error::Engine(format!("stdin is not usable as the broker socket: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Engine(format!("cannot start the event loop: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(fd))
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

async fn serve(fd: OwnedFd) -> Result<(), Error> {
    let std_stream = std::os::unix::net::UnixStream::from(fd);
    std_stream
        .set_nonblocking(true)
        .map_err(|e| Error::Engine(format!("broker socket: {e}")))?;
    let stream = tokio::net::UnixStream::from_std(std_stream)
        .map_err(|e| Error::Engine(format!("broker socket: {e}")))?;
    let (reader, writer) = stream.compat().split();
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(Some(TRAVERSAL_LIMIT_WORDS));
    options.nesting_limit(64);
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(reader),
        futures::io::BufWriter::new(writer),
        rpc_twoparty_capnp::Side::Server,
        options,
    );
    let host: caplet::host_capnp::isolate_host::Client =
        capnp_rpc::new_client(server::HostServer::new()?);
    let rpc = RpcSystem::new(Box::new(network), Some(host.client));
    rpc.await.map_err(Error::Protocol)
}
