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
//! with `wallTimeExceeded` (and waits up to `caplet::LOG_FLUSH_TIMEOUT_MS`
//! for a slow log sink before it answers), and here, [`WALL_GRACE`] after
//! both, should the host be stuck: the caller gets `wallTimeExceeded`
//! anyway, the worker is reloaded at its next invocation, and the pool
//! checks the host (`Limits.wallTimeMs` in `schema/caplet.capnp`).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet::caplet_capnp::{
    broker, builtin_grant, invoke_error, log_line, revoker, worker, worker_code,
};
use caplet::host_capnp::{host_worker, worker_spec};
use caplet_capnp_js::compile::SchemaCompiler;
use capnp::capability::Rc as CapRc;
use capnp::message::{Builder, HeapAllocator};

use crate::audit::{AuditBinding, BuiltinPolicy};
use crate::bindings::{self, Bound};
use crate::builtins::Builtins;
use crate::cache::{Cache, Lookup};
use crate::error::Error;
use crate::grant::Grant;
use crate::limits::{LimitPolicy, Limits};
use crate::membrane::Membrane;
use crate::metrics::{self, Metrics};
use crate::pool::{HostHandle, HostPool};
use crate::quota;

/// Most modules one worker may have.
const MAX_MODULES: u32 = 1024;
/// Longest `get` id, in bytes.
const MAX_ID_BYTES: usize = 256;
/// Longest principal, in bytes.
const MAX_PRINCIPAL_BYTES: usize = 256;
/// How long after a worker's wall-clock limit the broker stops waiting for
/// its host.
pub const WALL_GRACE: Duration = Duration::from_millis(500);

/// State shared by every connection of one broker.
pub struct Shared {
    pub pool: Rc<HostPool>,
    pub limits: LimitPolicy,
    /// `get` ids: (principal or sub-principal, id) → worker, counted per
    /// authenticated principal against its `cached_ids` quota.
    cache: RefCell<Cache<WorkerService>>,
    /// What each principal holds, against its quotas.
    pub quotas: Rc<quota::Book>,
    /// Interface schemas sent as `.capnp` source, compiled once per content.
    schemas: SchemaCompiler,
    /// The capabilities `Broker.builtin` hands out.
    pub builtins: Builtins,
    /// Whether workers' calls are recorded (`Config::call_log`).
    call_log: bool,
    /// What `caplet serve --metrics` reports.
    pub metrics: Rc<Metrics>,
}

impl Shared {
    pub fn new(
        pool: Rc<HostPool>,
        limits: LimitPolicy,
        builtins: Builtins,
        quotas: quota::Quotas,
        call_log: bool,
    ) -> Rc<Self> {
        Rc::new(Self {
            pool,
            limits,
            builtins,
            call_log,
            cache: RefCell::new(Cache::default()),
            quotas: quota::Book::new(quotas),
            schemas: SchemaCompiler::new(256),
            metrics: Metrics::new(),
        })
    }

    /// Forgets `principal`'s least recently used cached worker that no
    /// client holds (dropping it gives back its share of the quotas);
    /// whether there was one.
    fn forget_one(&self, principal: &str) -> bool {
        let forgotten = self.cache.borrow_mut().forget_unused(principal);
        // Dropped here, after the cache's borrow ended.
        forgotten.is_some()
    }

    /// Makes room in the cache for one more id of `principal`, forgetting
    /// unheld workers as needed.
    fn room_for_id(&self, principal: &str) -> Result<(), Error> {
        let quota = self.quotas.quotas().cached_ids;
        loop {
            let count = self.cache.borrow().count(principal) as u64;
            if count < quota {
                return Ok(());
            }
            if !self.forget_one(principal) {
                return Err(Error::QuotaExceeded {
                    quota: "cached_ids",
                    detail: format!(
                        "{principal:?} has {count} ids cached, all of them held, the quota is {quota}"
                    ),
                });
            }
        }
    }

    /// Room for one more live worker of `principal` with `memory_bytes` of
    /// memory limit. The cache gives way first: unheld cached workers are
    /// forgotten, least recently used first, until the worker fits.
    fn hold_worker(&self, principal: &str, memory_bytes: u64) -> Result<quota::Held, Error> {
        let quota = self.quotas.quotas().memory_bytes;
        if memory_bytes > quota {
            // Nothing forgotten could make room: keep the cache.
            return Err(Error::QuotaExceeded {
                quota: "memory_bytes",
                detail: format!(
                    "a worker's memoryBytes of {memory_bytes} is above the quota of {quota}"
                ),
            });
        }
        loop {
            match self.quotas.worker(principal, memory_bytes) {
                Ok(held) => return Ok(held),
                Err(error) => {
                    if !self.forget_one(principal) {
                        return Err(error);
                    }
                }
            }
        }
    }
}

/// Serves `Broker` for one connection, on behalf of one principal.
pub struct BrokerService {
    shared: Rc<Shared>,
    principal: String,
    /// The latest built-ins `builtin` handed out on this connection, kept
    /// (so their identity cannot be reused) for `audit` to recognise.
    granted: RefCell<VecDeque<(capnp::capability::Client, BuiltinPolicy)>>,
}

/// How many built-ins `audit` recognises per connection.
const AUDIT_BUILTINS: usize = 256;

impl BrokerService {
    /// A `Broker` for `principal`: `unix:<uid>` on the Unix socket, the
    /// token's name over TCP. Its `get` cache is the principal's own.
    pub fn new(shared: Rc<Shared>, principal: impl Into<String>) -> Self {
        Self {
            shared,
            principal: principal.into(),
            granted: RefCell::new(VecDeque::new()),
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

    /// Checks `code`, for whom the worker will act.
    fn check(&self, code: worker_code::Reader<'_>) -> Result<Checked, Error> {
        Checked::new(code, &self.shared, self.cordon(code)?)
    }

    /// A worker of checked code, not yet loaded on a host, counted against
    /// this connection's principal's quotas while it lives.
    fn admit(&self, checked: Checked) -> Result<Rc<WorkerService>, Error> {
        let held = self
            .shared
            .hold_worker(&self.principal, checked.limits.memory_bytes)?;
        Ok(Rc::new(WorkerService {
            shared: self.shared.clone(),
            principal: checked.principal,
            spec: checked.spec,
            bindings: checked.bindings,
            calls: checked.calls,
            wall_time: Duration::from_millis(checked.limits.wall_time_ms.into()),
            cpu_time: Duration::from_millis(checked.limits.cpu_time_ms.into()),
            placement: RefCell::new(None),
            pending: RefCell::new(None),
            loading: tokio::sync::Mutex::new(()),
            _held: held,
            _live: self.shared.metrics.live_worker(),
            account: self.principal.clone(),
        }))
    }
}

/// The `outcome` label of a call's result.
fn outcome<T>(result: &Result<T, capnp::Error>) -> usize {
    match result {
        Ok(_) => metrics::outcome_index("ok"),
        Err(error) => metrics::outcome_index(&crate::calls::outcome_of(error)),
    }
}

impl broker::Server for BrokerService {
    async fn load(
        self: CapRc<Self>,
        params: broker::LoadParams,
        mut results: broker::LoadResults,
    ) -> Result<(), capnp::Error> {
        let started = Instant::now();
        let loaded = async {
            let checked = self.check(params.get()?.get_code()?)?;
            let worker = self.admit(checked)?;
            // Answer with the worker before its host has loaded it, so an
            // invocation pipelined on this call goes out at once (it waits
            // for the load on the host, not for a round trip through the
            // client).
            results
                .get()
                .set_worker(capnp_rpc::new_client_from_rc(worker.clone()));
            results.set_pipeline()?;
            worker.host_worker().await?;
            Ok(())
        }
        .await;
        self.shared
            .metrics
            .load(outcome(&loaded), started.elapsed());
        loaded
    }

    async fn get(
        self: CapRc<Self>,
        params: broker::GetParams,
        mut results: broker::GetResults,
    ) -> Result<(), capnp::Error> {
        let started = Instant::now();
        // A cached worker is no load; a refused `get` counts as a failed one.
        let mut loads = false;
        let answer = async {
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
            let checked = self.check(params.get_code()?)?;
            let canonical = checked.canonical();
            // One principal never sees another's ids; a named sub-principal
            // has its own too, counted against its principal's quota.
            let key = (checked.principal.clone(), id);
            let found = self.shared.cache.borrow_mut().lookup(&key, &canonical);
            match found {
                Lookup::Hit(worker) => {
                    results
                        .get()
                        .set_worker(capnp_rpc::new_client_from_rc(worker));
                    return Ok(());
                }
                Lookup::Conflict => return Err(Error::IdConflict(key.1).into()),
                Lookup::Miss => loads = true,
            }
            self.shared.room_for_id(&self.principal)?;
            let worker = self.admit(checked)?;
            worker.host_worker().await?;
            // Other `get`s may have filled the cache, or cached this id,
            // meanwhile.
            self.shared.room_for_id(&self.principal)?;
            let cached = self.shared.cache.borrow_mut().insert(
                &self.principal,
                key.clone(),
                canonical,
                worker,
            );
            match cached {
                Lookup::Hit(worker) => {
                    results
                        .get()
                        .set_worker(capnp_rpc::new_client_from_rc(worker));
                    Ok(())
                }
                Lookup::Conflict | Lookup::Miss => Err(Error::IdConflict(key.1).into()),
            }
        }
        .await;
        if loads || answer.is_err() {
            self.shared
                .metrics
                .load(outcome(&answer), started.elapsed());
        }
        answer
    }

    async fn builtin(
        self: CapRc<Self>,
        params: broker::BuiltinParams,
        mut results: broker::BuiltinResults,
    ) -> Result<(), capnp::Error> {
        let grant = params.get()?.get_grant()?;
        let upstream;
        let (client, schema) = match grant.get_kind()? {
            builtin_grant::Kind::Mcp => {
                upstream = self.shared.builtins.upstream(grant).await?;
                upstream.grant()?
            }
            _ => self.shared.builtins.grant(&self.principal, grant)?,
        };
        let policy = self.shared.builtins.policy(grant)?;
        let mut granted = self.granted.borrow_mut();
        if granted.len() == AUDIT_BUILTINS {
            granted.pop_front();
        }
        granted.push_back((client.clone(), policy));
        drop(granted);
        let mut out = results.get();
        out.reborrow().init_cap().set_as_capability(client.hook);
        out.init_interface_schema().set_compiled(schema)?;
        Ok(())
    }

    async fn types(
        self: CapRc<Self>,
        params: broker::TypesParams,
        mut results: broker::TypesResults,
    ) -> Result<(), capnp::Error> {
        let env = params.get()?.get_env()?;
        let mut bindings = Vec::new();
        let mut upstreams = Vec::new();
        for b in crate::types::env_bindings(env, &self.shared.schemas)? {
            match self.shared.builtins.upstream_binding(&b).await? {
                Some(up) => upstreams.push(up),
                None => bindings.push(b),
            }
        }
        let text = crate::types::declarations_with_upstreams(&bindings, &upstreams)?;
        results.get().set_typescript(&text);
        Ok(())
    }

    async fn audit(
        self: CapRc<Self>,
        params: broker::AuditParams,
        mut results: broker::AuditResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let mut audited: Vec<AuditBinding> = Vec::new();
        for (name, entry) in bindings::entries(params.get_env()?)? {
            let (schema, interface_id) = bindings::resolve_unchecked(
                entry.get_interface_schema()?,
                &self.shared.schemas,
                &format!("binding {name:?}"),
            )?;
            let builtin = match entry
                .get_cap()
                .get_as_capability::<capnp::capability::Client>()
            {
                Ok(cap) => {
                    let ptr = cap.hook.get_ptr();
                    self.granted
                        .borrow()
                        .iter()
                        .find(|(client, _)| client.hook.get_ptr() == ptr)
                        .map(|(_, policy)| policy.clone())
                }
                Err(_) => None,
            };
            let budget = if entry.has_budget() {
                Grant::describe_budget(&name, &schema, interface_id, entry.get_budget()?)?
            } else {
                None
            };
            audited.push(AuditBinding {
                name,
                schema,
                interface_id,
                builtin,
                budget,
            });
        }
        let limits = self.shared.limits.resolve(params.get_limits()?)?;
        let report = crate::audit::report(
            &audited,
            &limits,
            &self.shared.limits,
            self.shared.quotas.quotas(),
        );
        results.get().set_json(report.to_string());
        Ok(())
    }
}

/// A client's code, checked: the host's `WorkerSpec` (without `env`,
/// serialized), the bindings, the effective limits, and whom it acts for.
struct Checked {
    /// The spec is kept serialized, at its exact size: a message builder's
    /// first segment alone is 8 KiB, and the broker keeps one spec per live
    /// worker.
    spec: Vec<u8>,
    bindings: Vec<Bound>,
    limits: Limits,
    /// The connection's principal, or a sub-principal under it (cordons).
    principal: String,
    calls: Rc<crate::calls::CallLog>,
}

impl Checked {
    fn new(
        code: worker_code::Reader<'_>,
        shared: &Shared,
        principal: String,
    ) -> Result<Self, Error> {
        let (spec, limits) = make_spec(code, &shared.limits)?;
        let calls = match shared.call_log {
            true => crate::calls::CallLog::new(),
            false => crate::calls::CallLog::off(),
        };
        let bindings = bindings::read(code.get_env()?, &shared.schemas, &calls, &shared.metrics)?;
        Ok(Self {
            spec: capnp::serialize::write_message_to_words(&spec),
            bindings,
            limits,
            principal,
            calls,
        })
    }

    /// What `get` compares: the spec, and each binding's name and schema.
    /// Capabilities themselves cannot be compared: a cached worker keeps
    /// those of the `get` that created it.
    fn canonical(&self) -> Vec<u8> {
        let mut bytes = self.spec.clone();
        for binding in &self.bindings {
            bytes.extend_from_slice(binding.name.as_bytes());
            bytes.push(0);
            bytes.extend(binding.schema_words());
            // A budget is part of what a grant is: the same id with another
            // budget is other code (`id_conflict`), never the unlimited one.
            if let Some(budget) = binding.grant.budget() {
                bytes.extend_from_slice(budget.to_string().as_bytes());
            }
            bytes.push(0);
        }
        bytes
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
    /// This worker's share of its principal's quotas, given back with it.
    _held: quota::Held,
    /// Counts it in `caplet_live_workers` while it lives.
    _live: metrics::LiveWorker,
    /// The connection's principal, whose invocations it counts.
    account: String,
    /// The call log its bindings' membranes record into.
    calls: Rc<crate::calls::CallLog>,
}

#[derive(Clone)]
struct Placement {
    slot: usize,
    generation: u64,
    worker: host_worker::Client,
}

impl WorkerService {
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
        // Compiled schemas can be larger than the source the client sent.
        caplet::check_payload(
            request.get().into_reader().total_size()?,
            "the worker's spec",
        )?;
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
    async fn revoker(
        self: CapRc<Self>,
        params: worker::RevokerParams,
        mut results: worker::RevokerResults,
    ) -> Result<(), capnp::Error> {
        let binding = params.get()?.get_binding()?.to_str()?;
        let Some(bound) = self.bindings.iter().find(|b| b.name == binding) else {
            return Err(capnp::Error::failed(format!(
                "bad_request: the worker has no grant env.{binding}"
            )));
        };
        results
            .get()
            .set_revoker(capnp_rpc::new_client(RevokerService(bound.grant.clone())));
        Ok(())
    }

    async fn entrypoint(
        self: CapRc<Self>,
        params: worker::EntrypointParams,
        mut results: worker::EntrypointResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let name = params
            .get_export_name()?
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
        results.get().init_cap().set_as_capability(
            Membrane::wrap(
                cap,
                interface.set,
                interface.interface_id,
                Grant::unlimited(&format!("entrypoint {name:?}"), interface.interface_id),
            )
            .hook,
        );
        Ok(())
    }

    async fn invoke(
        self: CapRc<Self>,
        params: worker::InvokeParams,
        mut results: worker::InvokeResults,
    ) -> Result<(), capnp::Error> {
        let started = Instant::now();
        // `ok`, or the kind of the error the invocation answered with.
        let mut kind = "ok";
        let answer = async {
            let params = params.get()?;
            // Read once: a second read (even to measure the params) would count
            // twice against the message's traversal limit.
            let (entrypoint, input) = (params.get_entrypoint()?, params.get_input()?);
            for (field, text) in [("entrypoint", entrypoint), ("input", input)] {
                text.to_str()
                    .map_err(|_| Error::BadInput(format!("the {field} is not valid utf-8")))?;
            }
            let host_worker = self.host_worker().await?;
            // The host writes to a proxy, revoked when this call returns (or is
            // cancelled); the call records go to the same sink.
            let sink = if params.has_log_sink() {
                Some(crate::log_sink::SinkProxy::wrap(params.get_log_sink()?))
            } else {
                None
            };
            // Its calls are recorded from here until it answers; invocations of
            // one worker take turns (the host runs them one after another).
            let recording = self
                .calls
                .begin(sink.as_ref().map(|(_, revoke)| revoke.call_stream()))
                .await;
            let mut request = host_worker.invoke_request();
            request.get().set_entrypoint(entrypoint);
            request.get().set_input(input);
            let revoke = sink.map(|(sink, revoke)| {
                request.get().set_log_sink(sink);
                revoke
            });
            // What goes to the host must fit one message, measured on the copy
            // (a builder is read without a traversal limit).
            caplet::check_payload(
                request.get().into_reader().total_size()?,
                "the invocation's params",
            )?;
            let mut out = results.get();
            // The host answers a worker past its wall time itself, after waiting
            // up to LOG_FLUSH_TIMEOUT_MS for a slow log sink; only later is it stuck.
            let backstop =
                self.wall_time + Duration::from_millis(caplet::LOG_FLUSH_TIMEOUT_MS) + WALL_GRACE;
            let answered = tokio::time::timeout(backstop, request.send().promise).await;
            // Closed first: the records still to stream go out (and are
            // counted) before the logs are written, and before the answer.
            let window = recording.finish();
            match answered {
                Ok(response) => {
                    // The records just streamed are answered before the
                    // invocation is (bounded like the host's wait for lines).
                    if let Some(revoke) = &revoke {
                        revoke
                            .flushed(Duration::from_millis(caplet::LOG_FLUSH_TIMEOUT_MS))
                            .await;
                    }
                    let response = response?;
                    let response = response.get()?;
                    caplet::check_payload(response.total_size()?, "the invocation's results")?;
                    out.set_output(response.get_output()?);
                    // The host has had every write answered (or waited for them
                    // as long as it does) before it answered: the count is final.
                    let dropped = revoke
                        .as_ref()
                        .map_or((0, 0), |r| (r.dropped(), r.calls_dropped()));
                    write_logs(out.reborrow(), response.get_logs()?, dropped)?;
                    out.set_stats(response.get_stats()?)?;
                    if response.has_error() {
                        let error = response.get_error()?;
                        kind = error.get_kind().map_or("other", metrics::invoke_error_kind);
                        out.set_error(error)?;
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
                    let mut error = out.reborrow().init_error();
                    error.set_kind(invoke_error::Kind::WallTimeExceeded);
                    kind = "wall_time_exceeded";
                    error.set_message(format!(
                        "the invocation took longer than {} ms",
                        self.wall_time.as_millis()
                    ));
                }
            }
            let len = u32::try_from(window.records.len()).unwrap_or(u32::MAX);
            crate::calls::write(&window.records, out.reborrow().init_calls(len));
            out.set_calls_dropped(u32::try_from(window.dropped).unwrap_or(u32::MAX));
            Ok(())
        }
        .await;
        let outcome = match &answer {
            Ok(()) => metrics::outcome_index(kind),
            Err(error) => metrics::outcome_index(&crate::calls::outcome_of(error)),
        };
        self.shared
            .metrics
            .invocation(&self.account, outcome, started.elapsed());
        answer
    }
}

/// Serves `Revoker` for one grant.
struct RevokerService(Rc<Grant>);

impl revoker::Server for RevokerService {
    async fn revoke(
        self: CapRc<Self>,
        _: revoker::RevokeParams,
        _: revoker::RevokeResults,
    ) -> Result<(), capnp::Error> {
        self.0.revoke();
        Ok(())
    }
}

/// Copies the host's `logs` into the client's results; when the client's
/// sink was too slow for `dropped` (lines, call records), last warnings say
/// so.
fn write_logs(
    mut out: worker::invoke_results::Builder<'_>,
    logs: capnp::struct_list::Reader<'_, log_line::Owned>,
    (lines, records): (u64, u64),
) -> capnp::Result<()> {
    let warnings: Vec<String> = [
        (lines, "log lines dropped"),
        (records, "call records not streamed"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}: the log sink was too slow"))
    .collect();
    if warnings.is_empty() {
        return out.set_logs(logs);
    }
    let mut list = out.init_logs(logs.len() + warnings.len() as u32);
    for (i, line) in logs.iter().enumerate() {
        list.set_with_caveats(i as u32, line)?;
    }
    for (i, text) in warnings.iter().enumerate() {
        let mut warning = list.reborrow().get(logs.len() + i as u32);
        warning.set_level(log_line::Level::Warn);
        warning.set_text(text);
    }
    Ok(())
}
