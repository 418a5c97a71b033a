//! The public services: `Broker` (load and cached get) and `Worker` (invoke),
//! proxied onto isolate-hosts.
//!
//! The broker checks a client's `WorkerCode` once, turns it into a
//! `WorkerSpec` (concrete limits, validated modules), and keeps that spec, so
//! a worker whose host died is loaded again on a live host at its next
//! invocation. An invocation in flight when its host dies fails with
//! `disconnected` and is never retried.
//!
//! Wall-clock time is enforced twice: by the host, which ends the invocation
//! with `wallTimeExceeded`, and here, [`WALL_GRACE`] later, should the host
//! be stuck: the caller gets `wallTimeExceeded` anyway, the worker is
//! reloaded at its next invocation, and the pool checks the host.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use caplet::caplet_capnp::{broker, invoke_error, worker, worker_code};
use caplet::host_capnp::{host_worker, worker_spec};
use caplet_capnp_js::compile::SchemaCompiler;
use capnp::capability::Rc as CapRc;
use capnp::message::{Builder, HeapAllocator};

use crate::bindings::{self, Bound};
use crate::builtins::Builtins;
use crate::error::Error;
use crate::limits::{LimitPolicy, Limits};
use crate::membrane::Membrane;
use crate::pool::{HostHandle, HostPool};

/// Most modules one worker may have.
const MAX_MODULES: u32 = 1024;
/// Longest `get` id, in bytes.
const MAX_ID_BYTES: usize = 256;
/// Longest principal, in bytes.
const MAX_PRINCIPAL_BYTES: usize = 256;
/// How long after a worker's wall-clock limit the broker stops waiting for
/// its host.
pub const WALL_GRACE: Duration = Duration::from_millis(500);

/// A `get` cache key: (principal, id). One principal never sees another's ids.
type CacheKey = (String, String);

/// Most `get` ids one principal may have cached; beyond, the oldest is
/// forgotten (its worker lives on while someone holds it).
const MAX_CACHED: usize = 1024;

/// A worker cached under a `get` id.
#[derive(Clone)]
struct Cached {
    /// What `get` compares (see `WorkerService::canonical`).
    canonical: Vec<u8>,
    worker: worker::Client,
    /// When it was cached (`Shared::cached_count`).
    made: u64,
}

/// State shared by every connection of one broker.
pub struct Shared {
    pub pool: Rc<HostPool>,
    pub limits: LimitPolicy,
    /// `get` ids: (principal, id) → worker, at most `MAX_CACHED` per principal.
    cache: RefCell<HashMap<CacheKey, Cached>>,
    /// Numbers cache entries in the order they were made.
    cached_count: std::cell::Cell<u64>,
    /// Interface schemas sent as `.capnp` source, compiled once per content.
    schemas: SchemaCompiler,
    /// The capabilities `Broker.builtin` hands out.
    pub builtins: Builtins,
}

impl Shared {
    /// Caches `worker` under `key` unless a worker is cached there already
    /// (a `get` that loaded meanwhile); returns what is cached. Keeps each
    /// principal's ids to `MAX_CACHED`, forgetting the oldest.
    fn remember(&self, key: CacheKey, canonical: Vec<u8>, worker: worker::Client) -> Cached {
        let mut cache = self.cache.borrow_mut();
        if let Some(entry) = cache.get(&key) {
            return entry.clone();
        }
        let made = self.cached_count.get() + 1;
        self.cached_count.set(made);
        let principal = key.0.clone();
        let entry = Cached {
            canonical,
            worker,
            made,
        };
        cache.insert(key, entry.clone());
        let mine: Vec<(&CacheKey, u64)> = cache
            .iter()
            .filter(|(k, _)| k.0 == principal)
            .map(|(k, e)| (k, e.made))
            .collect();
        if mine.len() > MAX_CACHED {
            if let Some(oldest) = mine
                .iter()
                .min_by_key(|(_, made)| *made)
                .map(|(k, _)| (*k).clone())
            {
                cache.remove(&oldest);
            }
        }
        entry
    }

    pub fn new(pool: Rc<HostPool>, limits: LimitPolicy, builtins: Builtins) -> Rc<Self> {
        Rc::new(Self {
            pool,
            limits,
            builtins,
            cache: RefCell::new(HashMap::new()),
            cached_count: std::cell::Cell::new(0),
            schemas: SchemaCompiler::new(256),
        })
    }
}

/// Serves `Broker` for one connection, on behalf of one principal.
pub struct BrokerService {
    shared: Rc<Shared>,
    principal: String,
}

impl BrokerService {
    /// A `Broker` for `principal`: `unix:<uid>` on the Unix socket, the
    /// token's name over TCP. Its `get` cache is the principal's own.
    pub fn new(shared: Rc<Shared>, principal: impl Into<String>) -> Self {
        Self {
            shared,
            principal: principal.into(),
        }
    }

    /// Whom a worker acts for, for cordons: this connection's principal, or a
    /// sub-principal `code` names under it (a client can separate its own
    /// workers, never join another principal's).
    fn cordon(&self, code: worker_code::Reader<'_>) -> Result<String, Error> {
        let named = code
            .get_principal()?
            .to_str()
            .map_err(|_| Error::BadCode("principal is not valid UTF-8".into()))?;
        if named.len() > MAX_PRINCIPAL_BYTES {
            return Err(Error::BadCode(format!(
                "principal must be at most {MAX_PRINCIPAL_BYTES} bytes"
            )));
        }
        Ok(if named.is_empty() {
            self.principal.clone()
        } else {
            format!("{}/{named}", self.principal)
        })
    }

    /// Checks `code` into a worker, not yet loaded on a host.
    fn check(&self, code: worker_code::Reader<'_>) -> Result<Rc<WorkerService>, Error> {
        let checked = Checked::new(code, &self.shared)?;
        Ok(Rc::new(WorkerService {
            shared: self.shared.clone(),
            principal: self.cordon(code)?,
            spec: capnp::serialize::write_message_to_words(&checked.spec),
            bindings: checked.bindings,
            wall_time: Duration::from_millis(checked.limits.wall_time_ms.into()),
            cpu_time: Duration::from_millis(checked.limits.cpu_time_ms.into()),
            placement: RefCell::new(None),
            pending: RefCell::new(None),
            loading: tokio::sync::Mutex::new(()),
        }))
    }
}

impl broker::Server for BrokerService {
    async fn load(
        self: CapRc<Self>,
        params: broker::LoadParams,
        mut results: broker::LoadResults,
    ) -> Result<(), capnp::Error> {
        let worker = self.check(params.get()?.get_code()?)?;
        // Answer with the worker before its host has loaded it, so an
        // invocation pipelined on this call goes out at once (it waits for
        // the load on the host, not for a round trip through the client).
        results
            .get()
            .set_worker(capnp_rpc::new_client_from_rc(worker.clone()));
        results.set_pipeline()?;
        worker.host_worker().await?;
        Ok(())
    }

    async fn get(
        self: CapRc<Self>,
        params: broker::GetParams,
        mut results: broker::GetResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let id = params
            .get_id()?
            .to_str()
            .map_err(|_| Error::BadCode("worker id is not valid UTF-8".into()))?
            .to_string();
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return Err(
                Error::BadCode(format!("worker id must be 1 to {MAX_ID_BYTES} bytes")).into(),
            );
        }
        let code = params.get_code()?;
        let worker = self.check(code)?;
        let canonical = worker.canonical();
        // One principal never sees another's ids; under a cordon a named
        // sub-principal has its own too.
        let key = (worker.principal.clone(), id);
        let cached = self.shared.cache.borrow().get(&key).cloned();
        if let Some(entry) = cached {
            if entry.canonical != canonical {
                return Err(Error::IdConflict(key.1).into());
            }
            results.get().set_worker(entry.worker);
            return Ok(());
        }
        worker.host_worker().await?;
        let worker: worker::Client = capnp_rpc::new_client_from_rc(worker);
        // Another `get` for the same id may have finished while this one loaded.
        let entry = self.shared.remember(key.clone(), canonical.clone(), worker);
        if entry.canonical != canonical {
            return Err(Error::IdConflict(key.1).into());
        }
        results.get().set_worker(entry.worker);
        Ok(())
    }

    async fn builtin(
        self: CapRc<Self>,
        params: broker::BuiltinParams,
        mut results: broker::BuiltinResults,
    ) -> Result<(), capnp::Error> {
        let grant = params.get()?.get_grant()?;
        let (client, schema) = self.shared.builtins.grant(&self.principal, grant)?;
        let mut out = results.get();
        out.reborrow().init_cap().set_as_capability(client.hook);
        out.init_interface_schema().set_compiled(schema)?;
        Ok(())
    }
}

/// A client's code, checked: the host's `WorkerSpec` (without `env`), the
/// bindings, and the effective limits.
struct Checked {
    spec: Builder<HeapAllocator>,
    bindings: Vec<Bound>,
    limits: Limits,
}

impl Checked {
    fn new(code: worker_code::Reader<'_>, shared: &Shared) -> Result<Self, Error> {
        let (spec, limits) = make_spec(code, &shared.limits)?;
        let bindings = bindings::read(code.get_env()?, &shared.schemas)?;
        Ok(Self {
            spec,
            bindings,
            limits,
        })
    }
}

/// Checks a client's modules and limits and turns them into the host's
/// `WorkerSpec` (its `env` is written per load, from the bindings).
fn make_spec(
    code: worker_code::Reader<'_>,
    policy: &LimitPolicy,
) -> Result<(Builder<HeapAllocator>, Limits), Error> {
    let limits = policy.resolve(code.get_limits()?)?;
    let modules = code.get_modules()?;
    if modules.is_empty() {
        return Err(Error::BadCode("a worker needs at least one module".into()));
    }
    if modules.len() > MAX_MODULES {
        return Err(Error::BadCode(format!(
            "a worker may have at most {MAX_MODULES} modules, got {}",
            modules.len()
        )));
    }
    let text =
        |field: &str, value: capnp::Result<capnp::text::Reader<'_>>| -> Result<String, Error> {
            value?
                .to_str()
                .map(str::to_string)
                .map_err(|_| Error::BadCode(format!("{field} is not valid UTF-8")))
        };
    let mut total: u64 = 0;
    let mut names = std::collections::HashSet::new();
    // Only the fields the host reads are copied: a client cannot smuggle
    // anything else (unknown fields, extra pointers) past the size check.
    let mut checked = Vec::with_capacity(modules.len() as usize);
    for module in modules.iter() {
        let name = text("module name", module.get_name())?;
        if !names.insert(name.clone()) {
            return Err(Error::BadCode(format!(
                "module name {name:?} appears twice"
            )));
        }
        let kind = module
            .get_kind()
            .map_err(|_| Error::BadCode(format!("module {name:?}: unknown kind")))?;
        let source = text(&format!("module {name:?}"), module.get_source())?;
        total += source.len() as u64 + name.len() as u64;
        checked.push((name, kind, source));
    }
    if total > limits.module_bytes {
        return Err(Error::ModuleTooLarge {
            total,
            limit: limits.module_bytes,
        });
    }
    let main = text("main module", code.get_main_module())?;
    let main = match main.as_str() {
        "" => checked[0].0.as_str(),
        name if names.contains(name) => name,
        name => {
            return Err(Error::BadCode(format!(
                "main module {name:?} is not among the modules"
            )))
        }
    };
    let mut message = Builder::new_default();
    let mut spec = message.init_root::<worker_spec::Builder>();
    spec.set_main_module(main);
    let mut out = spec.reborrow().init_modules(checked.len() as u32);
    for (i, (name, kind, source)) in checked.iter().enumerate() {
        let mut module = out.reborrow().get(i as u32);
        module.set_name(name);
        module.set_kind(*kind);
        module.set_source(source);
    }
    spec.set_allow_eval(code.get_policy()?.get_allow_eval());
    limits.write(spec.init_limits());
    Ok((message, limits))
}

/// Serves `Worker`: a checked spec and where it currently lives.
///
/// The spec is kept serialized, at its exact size: a message builder's first
/// segment alone is 8 KiB, and the broker keeps one spec per live worker.
struct WorkerService {
    shared: Rc<Shared>,
    /// Whom the worker acts for (cordons).
    principal: String,
    spec: Vec<u8>,
    bindings: Vec<Bound>,
    wall_time: Duration,
    /// The worker's CPU limit: how long it may keep its host busy at once.
    cpu_time: Duration,
    placement: RefCell<Option<Placement>>,
    /// The host's worker while its load is in flight: a promise capability,
    /// so invocations pipeline on the load instead of waiting for it.
    pending: RefCell<Option<host_worker::Client>>,
    /// Held while (re)loading, so concurrent invocations load only once.
    loading: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Placement {
    slot: usize,
    generation: u64,
    worker: host_worker::Client,
}

impl WorkerService {
    /// What `get` compares: the spec, and each binding's name and schema.
    /// Capabilities themselves cannot be compared: a cached worker keeps
    /// those of the `get` that created it.
    fn canonical(&self) -> Vec<u8> {
        let mut bytes = self.spec.clone();
        for binding in &self.bindings {
            bytes.extend_from_slice(binding.name.as_bytes());
            bytes.push(0);
            bytes.extend(binding.schema_words());
        }
        bytes
    }

    /// The worker on a live host, loading it there if its host is gone.
    /// While a load is in flight, its promised worker (calls on it fail if
    /// the load fails).
    async fn host_worker(&self) -> Result<host_worker::Client, Error> {
        if let Some(pending) = self.pending.borrow().clone() {
            return Ok(pending);
        }
        let _loading = self.loading.lock().await;
        let current = self.placement.borrow().clone();
        if let Some(placement) = current {
            if self
                .shared
                .pool
                .is_current(placement.slot, placement.generation)
            {
                return Ok(placement.worker);
            }
        }
        let host = self.shared.pool.pick(&self.principal).await?;
        let loaded = self.load_on(&host).await;
        if loaded.is_err() {
            self.shared.pool.release(host.slot, host.generation);
        }
        loaded
    }

    /// Loads the worker on `host` and records the placement.
    async fn load_on(&self, host: &HostHandle) -> Result<host_worker::Client, Error> {
        let mut request = host.client.load_request();
        request.get().set_spec(
            capnp::serialize::read_message_from_flat_slice(
                &mut self.spec.as_slice(),
                crate::reader_options(),
            )?
            .get_root::<worker_spec::Reader>()?,
        )?;
        let mut env = request
            .get()
            .get_spec()?
            .init_env(self.bindings.len() as u32);
        for (i, binding) in self.bindings.iter().enumerate() {
            binding.write(env.reborrow().get(i as u32))?;
        }
        let sent = request.send();
        *self.pending.borrow_mut() = Some(sent.pipeline.get_worker());
        let response = sent.promise.await;
        self.pending.borrow_mut().take();
        let response = response?;
        let worker = response.get()?.get_worker()?;
        self.shared
            .pool
            .note_cpu_limit(host.slot, host.generation, self.cpu_time);
        *self.placement.borrow_mut() = Some(Placement {
            slot: host.slot,
            generation: host.generation,
            worker: worker.clone(),
        });
        Ok(worker)
    }
}

impl WorkerService {
    /// Forgets where the worker lives (so its next invocation loads it
    /// afresh) and returns the placement it had.
    fn forget_placement(&self) -> Option<Placement> {
        let placement = self.placement.borrow_mut().take();
        if let Some(placement) = &placement {
            self.shared
                .pool
                .release(placement.slot, placement.generation);
        }
        placement
    }
}

impl Drop for WorkerService {
    fn drop(&mut self) {
        self.forget_placement();
    }
}

impl worker::Server for WorkerService {
    async fn entrypoint(
        self: CapRc<Self>,
        params: worker::EntrypointParams,
        mut results: worker::EntrypointResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let name = params
            .get_name()?
            .to_str()
            .map_err(|_| Error::Schema("the entrypoint name is not valid utf-8".into()))?
            .to_string();
        let interface = bindings::resolve(
            params.get_interface_schema()?,
            &self.shared.schemas,
            &format!("entrypoint {name:?}"),
        )?;
        let host_worker = self.host_worker().await?;
        let mut request = host_worker.entrypoint_request();
        request.get().set_name(&name);
        request
            .get()
            .set_schema(interface.compiled.get_root_as_reader()?)?;
        let response = request.send().promise.await?;
        let cap: capnp::capability::Client = response.get()?.get_cap().get_as_capability()?;
        // Through a membrane, like grants: calls pass the broker, pipelined.
        results
            .get()
            .init_cap()
            .set_as_capability(Membrane::wrap(cap, interface.set, interface.interface_id).hook);
        Ok(())
    }

    async fn invoke(
        self: CapRc<Self>,
        params: worker::InvokeParams,
        mut results: worker::InvokeResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        // Read once: a second read would count twice against the message's
        // traversal limit.
        let (entrypoint, input) = (params.get_entrypoint()?, params.get_input()?);
        for (field, text) in [("entrypoint", entrypoint), ("input", input)] {
            text.to_str()
                .map_err(|_| Error::BadInput(format!("the {field} is not valid utf-8")))?;
        }
        let host_worker = self.host_worker().await?;
        let mut request = host_worker.invoke_request();
        request.get().set_entrypoint(entrypoint);
        request.get().set_input(input);
        // The host writes to a proxy, revoked when this call returns.
        let _revoke = if params.has_log_sink() {
            let (sink, revoke) = crate::log_sink::SinkProxy::wrap(params.get_log_sink()?);
            request.get().set_log_sink(sink);
            Some(revoke)
        } else {
            None
        };
        let mut out = results.get();
        // The host answers a worker past its wall time itself, after waiting
        // up to LOG_FLUSH_TIMEOUT_MS for a slow log sink; only later is it stuck.
        let backstop =
            self.wall_time + Duration::from_millis(caplet::LOG_FLUSH_TIMEOUT_MS) + WALL_GRACE;
        match tokio::time::timeout(backstop, request.send().promise).await {
            Ok(response) => {
                let response = response?;
                let response = response.get()?;
                out.set_output(response.get_output()?);
                out.set_logs(response.get_logs()?)?;
                out.set_stats(response.get_stats()?)?;
                if response.has_error() {
                    out.set_error(response.get_error()?)?;
                }
            }
            Err(_) => {
                // The host did not end the invocation itself: it may be
                // stuck. Never use this placement again, and check the host.
                if let Some(placement) = self.forget_placement() {
                    self.shared
                        .pool
                        .check_stuck(placement.slot, placement.generation);
                }
                let mut error = out.init_error();
                error.set_kind(invoke_error::Kind::WallTimeExceeded);
                error.set_message(format!(
                    "the invocation took longer than {} ms",
                    self.wall_time.as_millis()
                ));
            }
        }
        Ok(())
    }
}
