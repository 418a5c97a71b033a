//! The isolate-host's Cap'n Proto face: `IsolateHost` (load workers) and
//! `HostWorker` (invoke them), served to the broker over the socketpair.
//!
//! A `HostWorker` keeps what its worker was built from (bytecode, limits,
//! capabilities), so a worker poisoned by a tripped limit is dropped and
//! built again, from the same bytecode, before its next invocation.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use caplet::caplet_capnp;
use caplet::host_capnp::{host_worker, isolate_host, worker_spec};
use capnp::capability::Rc as CapRc;

use caplet_capnp_js::schema::SchemaSet;

use crate::caps::Binding;
use crate::engine::EngineLimits;
use crate::error::Error;
use crate::invocation::{Outcome, WorkerLimits};
use crate::modules::{Bytecode, Compiler, Kind, Source};
use crate::worker::JsWorker;

/// Serves `IsolateHost`.
pub struct HostServer {
    compiler: Compiler,
    live_workers: Rc<Cell<u32>>,
}

impl HostServer {
    pub fn new() -> Result<Self, Error> {
        Ok(Self {
            // The compiler only parses; these bounds stop hostile sources from
            // exhausting the host while being parsed.
            compiler: Compiler::new(256 << 20, 1 << 20)?,
            live_workers: Rc::new(Cell::new(0)),
        })
    }
}

/// The worker's capabilities and one schema set covering all their
/// interfaces (a node shared by several bindings is taken once).
fn read_env(spec: worker_spec::Reader<'_>) -> Result<(Rc<SchemaSet>, Vec<Binding>), Error> {
    let env = spec.get_env()?;
    let mut nodes = std::collections::HashMap::new();
    let mut bindings = Vec::new();
    for binding in env.iter() {
        let schema = match binding
            .get_interface_schema()?
            .which()
            .map_err(capnp::Error::from)?
        {
            caplet_capnp::interface_schema::Which::Compiled(compiled) => compiled?,
            caplet_capnp::interface_schema::Which::Source(_) => {
                return Err(Error::BadCode(
                    "the broker must compile schemas before loading".into(),
                ))
            }
        };
        for node in schema.get_nodes()? {
            nodes.entry(node.get_id()).or_insert(node);
        }
        bindings.push(Binding {
            name: binding
                .get_name()?
                .to_string()
                .map_err(capnp::Error::from)?,
            client: binding.get_cap().get_as_capability()?,
            interface_id: schema.get_interface_id(),
        });
    }
    let schema =
        SchemaSet::from_nodes(nodes.into_values()).map_err(|e| Error::BadCode(e.to_string()))?;
    for binding in &bindings {
        schema
            .check_interface(binding.interface_id)
            .map_err(|e| Error::BadCode(format!("env.{}: {e}", binding.name)))?;
    }
    Ok((Rc::new(schema), bindings))
}

fn read_spec(spec: worker_spec::Reader<'_>) -> Result<(Vec<Source>, String, WorkerLimits), Error> {
    let mut sources = Vec::new();
    for module in spec.get_modules()? {
        let kind = match module.get_kind().map_err(capnp::Error::from)? {
            caplet_capnp::module::Kind::Js => Kind::Js,
            caplet_capnp::module::Kind::Json => Kind::Json,
        };
        sources.push(Source {
            name: module.get_name()?.to_string().map_err(capnp::Error::from)?,
            kind,
            text: module
                .get_source()?
                .to_string()
                .map_err(capnp::Error::from)?,
        });
    }
    let main = spec
        .get_main_module()?
        .to_string()
        .map_err(capnp::Error::from)?;
    let allow_eval = spec.get_allow_eval();
    let limits = spec.get_limits()?;
    let limits = WorkerLimits {
        engine: EngineLimits {
            memory_bytes: limits.get_memory_bytes() as usize,
            stack_bytes: limits.get_stack_bytes() as usize,
            cpu_time: Duration::from_millis(u64::from(limits.get_cpu_time_ms())),
            wall_time: Duration::from_millis(u64::from(limits.get_wall_time_ms())),
            allow_eval,
        },
        output_bytes: limits.get_output_bytes() as usize,
        log_bytes: limits.get_log_bytes() as usize,
        subrequests: limits.get_subrequests(),
        calls_in_flight: limits.get_calls_in_flight(),
        pending_timers: limits.get_pending_timers(),
    };
    Ok((sources, main, limits))
}

impl isolate_host::Server for HostServer {
    async fn load(
        self: CapRc<Self>,
        params: isolate_host::LoadParams,
        mut results: isolate_host::LoadResults,
    ) -> Result<(), capnp::Error> {
        let spec = params.get()?.get_spec()?;
        let (sources, main, limits) = read_spec(spec)?;
        let (schema, bindings) = read_env(spec)?;
        let bytecode = self.compiler.compile(&sources)?;
        let recipe = Recipe {
            bytecode,
            main,
            limits,
            schema,
            bindings,
        };
        // Took the spare isolate: the next is prepared in idle time, once
        // this answer is on its way (`idle`).
        let worker = recipe.build().await?;
        self.live_workers.set(self.live_workers.get() + 1);
        let server = HostWorkerServer {
            recipe,
            worker: RefCell::new(Some(Rc::new(worker))),
            busy: tokio::sync::Mutex::new(()),
            live_workers: self.live_workers.clone(),
        };
        results.get().set_worker(capnp_rpc::new_client(server));
        Ok(())
    }

    async fn status(
        self: CapRc<Self>,
        _params: isolate_host::StatusParams,
        mut results: isolate_host::StatusResults,
    ) -> Result<(), capnp::Error> {
        let mut out = results.get();
        out.set_workers(self.live_workers.get());
        out.set_pid(std::process::id());
        Ok(())
    }
}

/// What a worker is built from, kept to rebuild it.
struct Recipe {
    bytecode: Bytecode,
    main: String,
    limits: WorkerLimits,
    schema: Rc<SchemaSet>,
    bindings: Vec<Binding>,
}

impl Recipe {
    async fn build(&self) -> Result<JsWorker, Error> {
        JsWorker::load(
            self.bytecode.clone(),
            &self.main,
            self.limits,
            self.schema.clone(),
            self.bindings.clone(),
        )
        .await
    }
}

/// Serves `HostWorker`: one loaded worker. Dropped (and its runtime freed)
/// when the broker releases the capability.
struct HostWorkerServer {
    recipe: Recipe,
    /// `None` after a tripped limit poisoned the runtime: rebuilt on next use.
    worker: RefCell<Option<Rc<JsWorker>>>,
    busy: tokio::sync::Mutex<()>,
    live_workers: Rc<Cell<u32>>,
}

impl Drop for HostWorkerServer {
    fn drop(&mut self) {
        self.live_workers
            .set(self.live_workers.get().saturating_sub(1));
        if let Some(worker) = self.worker.get_mut().take() {
            crate::idle::bury(worker);
        }
    }
}

impl HostWorkerServer {
    /// The worker, rebuilt first if a tripped limit poisoned it.
    async fn current(&self) -> Result<Rc<JsWorker>, Error> {
        let current = self.worker.borrow().clone();
        match current {
            Some(worker) if !worker.poisoned() => Ok(worker),
            _ => {
                let worker = Rc::new(self.recipe.build().await?);
                if let Some(old) = self.worker.replace(Some(worker.clone())) {
                    crate::idle::bury(old);
                }
                Ok(worker)
            }
        }
    }
}

impl host_worker::Server for HostWorkerServer {
    async fn entrypoint(
        self: CapRc<Self>,
        params: host_worker::EntrypointParams,
        mut results: host_worker::EntrypointResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let name = params.get_name()?.to_str()?.to_string();
        let compiled = params.get_schema()?;
        let interface_id = compiled.get_interface_id();
        let schema = SchemaSet::from_nodes(compiled.get_nodes()?.iter())
            .map_err(|e| Error::BadCode(format!("entrypoint {name:?}: {e}")))?;
        schema
            .check_interface(interface_id)
            .map_err(|e| Error::BadCode(format!("entrypoint {name:?}: {e}")))?;
        let worker = {
            let _turn = self.busy.lock().await;
            self.current().await?
        };
        let cap = worker
            .entrypoint(&name, &schema, interface_id)
            .map_err(|f| capnp::Error::failed(f.to_string()))?;
        results.get().init_cap().set_as_capability(cap.hook);
        Ok(())
    }

    async fn invoke(
        self: CapRc<Self>,
        params: host_worker::InvokeParams,
        mut results: host_worker::InvokeResults,
    ) -> Result<(), capnp::Error> {
        let params = params.get()?;
        let entrypoint = params.get_entrypoint()?.to_str()?.to_string();
        let input = params.get_input()?.to_str()?.to_string();
        let stream = if params.has_log_sink() {
            Some(crate::console::LogStream::new(params.get_log_sink()?))
        } else {
            None
        };
        // Invocations of one worker run one after another.
        let _turn = self.busy.lock().await;
        let worker = self.current().await?;
        let (outcome, stream) = worker.invoke(&entrypoint, &input, stream).await;
        if let Some(stream) = stream {
            stream.flush().await;
        }
        drop(worker);
        // A runtime a limit stopped never runs again: rebuilt on next use.
        let poisoned = self.worker.borrow().as_ref().is_some_and(|w| w.poisoned());
        if poisoned {
            if let Some(old) = self.worker.borrow_mut().take() {
                crate::idle::bury(old);
            }
        }
        write_outcome(&outcome, results.get());
        Ok(())
    }
}

fn write_outcome(outcome: &Outcome, mut out: host_worker::invoke_results::Builder<'_>) {
    match &outcome.result {
        Ok(output) => out.set_output(output),
        Err(failure) => {
            let mut error = out.reborrow().init_error();
            error.set_kind(failure.kind);
            error.set_message(&failure.message);
            error.set_stack(&failure.stack);
        }
    }
    let mut logs = out.reborrow().init_logs(outcome.logs.len() as u32);
    for (i, line) in outcome.logs.iter().enumerate() {
        let mut entry = logs.reborrow().get(i as u32);
        entry.set_level(line.level);
        entry.set_text(&line.text);
    }
    let mut stats = out.init_stats();
    stats.set_wall_time_us(outcome.stats.wall_time.as_micros() as u64);
    stats.set_cpu_time_us(outcome.stats.cpu_time.as_micros() as u64);
    stats.set_peak_memory_bytes(outcome.stats.peak_memory_bytes);
}
