//! The pool of isolate-host processes: spawns them, each on its own
//! socketpair (the host's stdin), watches them, and respawns any that exits.
//!
//! Every host slot has a generation that grows each time its process is
//! replaced; a worker placed on a slot remembers the generation, so the
//! broker can tell when the host it lived on is gone.
//!
//! With a *cordon* ([`HostCommand`] aside, see [`PoolOptions::cordon`]) every
//! host process belongs to the first principal placed on it, for its whole
//! life: no other principal's worker is ever placed there, and once its last
//! worker is gone the process is killed and replaced by a fresh one, so
//! nothing of one principal's code or data is left where the next one runs.
//!
//! A host that stops answering (see [`HostPool::check_stuck`]) is killed;
//! the calls in flight on it fail with `disconnected`, and it is respawned.

use std::cell::{Cell, RefCell};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use caplet::host_capnp::isolate_host;
use capnp_rpc::{rpc_twoparty_capnp, RpcSystem};
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
    /// The `caplet` binary at `program`, run as `caplet isolate-host`,
    /// confining itself with this process as the parent it must outlive
    /// no longer than, and spinning before it sleeps as long as this thread
    /// does (`caplet::spin`).
    pub fn caplet(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: vec![
                "isolate-host".into(),
                "--broker-pid".into(),
                std::process::id().to_string().into(),
                "--spin-us".into(),
                caplet::spin::limit().as_micros().to_string().into(),
            ],
        }
    }

    /// Makes a host whose kernel lacks a protection exit instead of only
    /// logging it (`caplet isolate-host --require-confinement`).
    pub fn require_confinement(mut self) -> Self {
        self.args.push("--require-confinement".into());
        self
    }
}

/// How the pool places workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// Keep workers of different principals in different host processes.
    pub cordon: bool,
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
    /// Workers currently placed on this slot's host (for placement),
    /// including loads under way.
    placed: Cell<usize>,
    /// Under a cordon: the principal this host process belongs to.
    owner: RefCell<Option<String>>,
    /// The largest CPU limit of a worker placed on this process: how long
    /// one stretch of JavaScript may legitimately keep it from answering.
    longest_cpu: Cell<Duration>,
}

/// The isolate-host processes of one broker.
pub struct HostPool {
    command: HostCommand,
    options: PoolOptions,
    slots: Vec<Slot>,
    /// Bumped whenever a slot comes up or goes down; placement waits on it.
    changes: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
    /// Hosts that exited while the pool was running (each is restarted).
    restarts: Cell<u64>,
}

/// How long placement waits for a host to come up.
const HOST_WAIT: Duration = Duration::from_secs(10);

/// How long a suspect host has to answer a `status` call before it is
/// considered stuck and killed.
pub const STUCK_AFTER: Duration = Duration::from_secs(2);

impl HostPool {
    /// Starts `count` hosts. Must run inside a `LocalSet`.
    pub fn start(command: HostCommand, count: usize, options: PoolOptions) -> Rc<Self> {
        let pool = Rc::new(Self {
            command,
            options,
            slots: (0..count.max(1))
                .map(|_| Slot {
                    state: RefCell::new(SlotState::Starting),
                    generation: Cell::new(0),
                    placed: Cell::new(0),
                    owner: RefCell::new(None),
                    longest_cpu: Cell::new(Duration::ZERO),
                })
                .collect(),
            changes: watch::channel(0).0,
            shutdown: watch::channel(false).0,
            restarts: Cell::new(0),
        });
        for index in 0..pool.slots.len() {
            tokio::task::spawn_local(supervise(pool.clone(), index));
        }
        pool
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

    /// How many hosts exited while the pool ran, and were started again.
    pub fn restarts(&self) -> u64 {
        self.restarts.get()
    }

    /// Whether the host a worker was placed on is still the same process.
    pub fn is_current(&self, slot: usize, generation: u64) -> bool {
        let slot = &self.slots[slot];
        slot.generation.get() == generation && matches!(&*slot.state.borrow(), SlotState::Up { .. })
    }

    /// Picks the live host with the fewest workers for a worker of
    /// `principal`, waiting for one to come up if none is, and counts the
    /// worker as placed there (undo with [`HostPool::release`] if the load
    /// fails). Under a cordon only hosts free or already `principal`'s
    /// qualify, and a principal that has a host takes no free one unless
    /// another stays free, so one principal cannot lock all others out;
    /// none left fails with `no_host` (`overloaded`).
    pub async fn pick(&self, principal: &str) -> Result<HostHandle, Error> {
        let mut changes = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + HOST_WAIT;
        loop {
            if let Some(handle) = self.least_loaded(principal) {
                let slot = &self.slots[handle.slot];
                slot.placed.set(slot.placed.get() + 1);
                if self.options.cordon {
                    *slot.owner.borrow_mut() = Some(principal.to_string());
                }
                return Ok(handle);
            }
            if *self.shutdown.borrow() {
                return Err(Error::NoHost("the broker is shutting down".into()));
            }
            if self.options.cordon && self.pids().iter().all(|pid| *pid != 0) {
                return Err(Error::NoHost(format!(
                    "every isolate-host is cordoned off for another principal ({} hosts)",
                    self.slots.len()
                )));
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

    fn least_loaded(&self, principal: &str) -> Option<HostHandle> {
        let may_take_free = !self.options.cordon || {
            let (mut owns_one, mut free) = (false, 0);
            for slot in &self.slots {
                if matches!(&*slot.state.borrow(), SlotState::Up { .. }) {
                    match slot.owner.borrow().as_deref() {
                        Some(owner) => owns_one |= owner == principal,
                        None => free += 1,
                    }
                }
            }
            !owns_one || free > 1
        };
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| match slot.owner.borrow().as_deref() {
                Some(owner) => !self.options.cordon || owner == principal,
                None => may_take_free,
            })
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

    /// Counts a worker gone from (or never loaded on) a host. Under a
    /// cordon, a host left without workers is replaced by a fresh process.
    pub fn release(&self, slot: usize, generation: u64) {
        if !self.is_current(slot, generation) {
            return;
        }
        let entry = &self.slots[slot];
        entry.placed.set(entry.placed.get().saturating_sub(1));
        if self.options.cordon && entry.placed.get() == 0 && entry.owner.borrow().is_some() {
            self.kill(slot, generation, "its principal's last worker is gone");
        }
    }

    /// Kills the host process of `slot` if it is still `generation`; the
    /// supervisor respawns it.
    pub fn kill(&self, slot: usize, generation: u64, why: &str) {
        if !self.is_current(slot, generation) {
            return;
        }
        let pid = match &*self.slots[slot].state.borrow() {
            SlotState::Up { pid, .. } => *pid,
            _ => return,
        };
        log(&format!("killing isolate-host {slot} (pid {pid}): {why}"));
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is our
        // unreaped child (the supervisor has not seen it exit), so it cannot
        // have been reused.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        // Nothing is placed on it any more; placement waits for its successor.
        self.set_state(slot, SlotState::Starting);
    }

    /// Asks a host that let an invocation overrun its wall-clock time for
    /// its status; if it does not answer within [`STUCK_AFTER`] (plus the
    /// largest CPU limit of its workers) it is stuck
    /// (a loop the interrupt handler cannot reach, or a stopped process) and
    /// is killed. Runs in the background.
    pub fn check_stuck(self: &Rc<Self>, slot: usize, generation: u64) {
        let client = match &*self.slots[slot].state.borrow() {
            SlotState::Up { client, .. } if self.is_current(slot, generation) => client.clone(),
            _ => return,
        };
        // The host is one thread: a co-located worker may keep it busy for
        // up to its own CPU limit, which is no reason to kill it.
        let patience = STUCK_AFTER + self.slots[slot].longest_cpu.get();
        let pool = self.clone();
        tokio::task::spawn_local(async move {
            let ping = client.status_request().send().promise;
            if tokio::time::timeout(patience, ping).await.is_err() {
                pool.kill(
                    slot,
                    generation,
                    &format!("no answer within {} ms", patience.as_millis()),
                );
            }
        });
    }

    /// Records a worker with CPU limit `cpu` placed on `slot`.
    pub fn note_cpu_limit(&self, slot: usize, generation: u64, cpu: Duration) {
        let slot = &self.slots[slot];
        if slot.generation.get() == generation && cpu > slot.longest_cpu.get() {
            slot.longest_cpu.set(cpu);
        }
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
            *slot.owner.borrow_mut() = None;
            slot.longest_cpu.set(Duration::ZERO);
        }
        *slot.state.borrow_mut() = state;
        self.changes.send_modify(|n| *n += 1);
    }
}

/// Writes one line on stderr in a single write, so that it never interleaves
/// with what the hosts (which share that stderr) write.
fn log(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("caplet: {line}\n").as_bytes());
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
                        log(&format!("isolate-host {index} (pid {pid}) exited ({status}); restarting it"));
                        pool.restarts.set(pool.restarts.get() + 1);
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
                log(&format!("isolate-host {index} failed to start: {error}"));
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
    caplet::spin::watch(std::os::fd::AsRawFd::as_raw_fd(&ours));
    let stream =
        tokio::net::UnixStream::from_std(ours).map_err(|e| Error::io("isolate-host socket", e))?;
    let (reader, writer) = stream.compat().split();
    let network = caplet::transport::network(
        reader,
        writer,
        rpc_twoparty_capnp::Side::Client,
        crate::reader_options(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let client: isolate_host::Client = rpc.bootstrap(rpc_twoparty_capnp::Side::Server);
    tokio::task::spawn_local(rpc);
    // A host that hangs before answering is killed (dropping `child` does).
    let status = tokio::time::timeout(HOST_WAIT, client.status_request().send().promise)
        .await
        .map_err(|_| {
            Error::NoHost(format!(
                "an isolate-host did not answer within {} s",
                HOST_WAIT.as_secs()
            ))
        })??;
    let pid = status.get()?.get_pid();
    Ok((child, client, pid))
}
