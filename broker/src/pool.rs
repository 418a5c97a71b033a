//! The pool of isolate-host processes: spawns them, each on its own
//! socketpair (the host's stdin), watches them, and respawns any that exits.
//!
//! Every host slot has a generation that grows each time its process is
//! replaced; a worker placed on a slot remembers the generation, so the
//! broker can tell when the host it lived on is gone.

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use caplet::host_capnp::isolate_host;
use capnp_rpc::{rpc_twoparty_capnp, twoparty, RpcSystem};
use futures::AsyncReadExt;
use tokio::sync::watch;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::error::Error;

/// How to start an isolate-host process.
#[derive(Debug, Clone)]
pub struct HostCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl HostCommand {
    /// The `caplet` binary at `program`, run as `caplet isolate-host`.
    pub fn caplet(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: vec!["isolate-host".into()],
        }
    }
}

/// A live host a worker can be placed on.
#[derive(Clone)]
pub struct HostHandle {
    pub slot: usize,
    pub generation: u64,
    pub client: isolate_host::Client,
}

enum SlotState {
    Starting,
    Up {
        client: isolate_host::Client,
        pid: u32,
    },
    Stopped,
}

struct Slot {
    state: RefCell<SlotState>,
    generation: Cell<u64>,
    /// Workers currently placed on this slot's host (for placement).
    placed: Cell<usize>,
}

/// The isolate-host processes of one broker.
pub struct HostPool {
    command: HostCommand,
    slots: Vec<Slot>,
    /// Bumped whenever a slot comes up or goes down; placement waits on it.
    changes: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
}

/// How long placement waits for a host to come up.
const HOST_WAIT: Duration = Duration::from_secs(10);

impl HostPool {
    /// Starts `count` hosts. Must run inside a `LocalSet`.
    pub fn start(command: HostCommand, count: usize) -> Rc<Self> {
        let pool = Rc::new(Self {
            command,
            slots: (0..count.max(1))
                .map(|_| Slot {
                    state: RefCell::new(SlotState::Starting),
                    generation: Cell::new(0),
                    placed: Cell::new(0),
                })
                .collect(),
            changes: watch::channel(0).0,
            shutdown: watch::channel(false).0,
        });
        for index in 0..pool.slots.len() {
            tokio::task::spawn_local(supervise(pool.clone(), index));
        }
        pool
    }

    /// Number of host slots.
    pub fn size(&self) -> usize {
        self.slots.len()
    }

    /// The pids of the hosts that are up, by slot (0 when down).
    pub fn pids(&self) -> Vec<u32> {
        self.slots
            .iter()
            .map(|slot| match &*slot.state.borrow() {
                SlotState::Up { pid, .. } => *pid,
                _ => 0,
            })
            .collect()
    }

    /// Whether the host a worker was placed on is still the same process.
    pub fn is_current(&self, slot: usize, generation: u64) -> bool {
        let slot = &self.slots[slot];
        slot.generation.get() == generation && matches!(&*slot.state.borrow(), SlotState::Up { .. })
    }

    /// Picks the live host with the fewest workers, waiting for one to come
    /// up if none is.
    pub async fn pick(&self) -> Result<HostHandle, Error> {
        let mut changes = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + HOST_WAIT;
        loop {
            if let Some(handle) = self.least_loaded() {
                return Ok(handle);
            }
            if *self.shutdown.borrow() {
                return Err(Error::NoHost("the broker is shutting down".into()));
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => {
                    return Err(Error::NoHost(format!(
                        "no isolate-host came up within {} s",
                        HOST_WAIT.as_secs()
                    )))
                }
            }
        }
    }

    fn least_loaded(&self) -> Option<HostHandle> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| match &*slot.state.borrow() {
                SlotState::Up { client, .. } => Some((slot.placed.get(), index, client.clone())),
                _ => None,
            })
            .min_by_key(|(placed, index, _)| (*placed, *index))
            .map(|(_, index, client)| HostHandle {
                slot: index,
                generation: self.slots[index].generation.get(),
                client,
            })
    }

    /// Counts a worker placed on (or removed from) a slot.
    pub fn placed(&self, slot: usize, delta: isize) {
        let slot = &self.slots[slot];
        slot.placed
            .set(slot.placed.get().saturating_add_signed(delta));
    }

    /// Ends every host and stops respawning.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until every host is up (at start-up), or fails after a while
    /// naming how many came up.
    pub async fn ready(&self) -> Result<(), Error> {
        let mut changes = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + HOST_WAIT;
        loop {
            let up = self.pids().iter().filter(|pid| **pid != 0).count();
            if up == self.slots.len() {
                return Ok(());
            }
            if !matches!(
                tokio::time::timeout_at(deadline, changes.changed()).await,
                Ok(Ok(()))
            ) {
                return Err(Error::NoHost(format!(
                    "only {up} of {} isolate-hosts started within {} s",
                    self.slots.len(),
                    HOST_WAIT.as_secs()
                )));
            }
        }
    }

    /// Waits until every host has ended after [`HostPool::shutdown`].
    pub async fn stopped(&self) {
        let mut changes = self.changes.subscribe();
        while !self
            .slots
            .iter()
            .all(|slot| matches!(&*slot.state.borrow(), SlotState::Stopped))
        {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    fn set_state(&self, index: usize, state: SlotState) {
        let slot = &self.slots[index];
        if matches!(state, SlotState::Up { .. }) {
            slot.generation.set(slot.generation.get() + 1);
            slot.placed.set(0);
        }
        *slot.state.borrow_mut() = state;
        self.changes.send_modify(|n| *n += 1);
    }
}

/// Keeps one slot's host running until shutdown.
async fn supervise(pool: Rc<HostPool>, index: usize) {
    let mut shutdown = pool.shutdown.subscribe();
    let mut failures = 0u32;
    loop {
        if *shutdown.borrow() {
            break;
        }
        pool.set_state(index, SlotState::Starting);
        match spawn_host(&pool.command).await {
            Ok((mut child, client, pid)) => {
                failures = 0;
                pool.set_state(index, SlotState::Up { client, pid });
                tokio::select! {
                    status = child.wait() => {
                        let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                        eprintln!("caplet: isolate-host {index} (pid {pid}) exited ({status}); restarting it");
                    }
                    _ = shutdown.wait_for(|stop| *stop) => {
                        let _ = child.start_kill();
                        let _ = child.wait().await;
                        break;
                    }
                }
            }
            Err(error) => {
                failures += 1;
                eprintln!("caplet: isolate-host {index} failed to start: {error}");
                // Back off while a host keeps failing to start, up to 2 s.
                let pause = Duration::from_millis(20u64 << failures.min(7));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            }
        }
    }
    pool.set_state(index, SlotState::Stopped);
}

/// Starts one host and connects to it; returns once it has answered.
async fn spawn_host(
    command: &HostCommand,
) -> Result<(tokio::process::Child, isolate_host::Client, u32), Error> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| Error::io("socketpair for an isolate-host", e))?;
    let child = tokio::process::Command::new(&command.program)
        .args(&command.args)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: command.program.display().to_string(),
            source,
        })?;
    ours.set_nonblocking(true)
        .map_err(|e| Error::io("isolate-host socket", e))?;
    let stream =
        tokio::net::UnixStream::from_std(ours).map_err(|e| Error::io("isolate-host socket", e))?;
    let (reader, writer) = stream.compat().split();
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(reader),
        futures::io::BufWriter::new(writer),
        rpc_twoparty_capnp::Side::Client,
        crate::reader_options(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let client: isolate_host::Client = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(rpc);
    let status = client.status_request().send().promise.await?;
    let pid = status.get()?.get_pid();
    Ok((child, client, pid))
}
