//! The broker's membrane around capabilities granted to workers.
//!
//! Every call a worker makes on a granted capability passes through here, so
//! this is where the broker sees (and later meters and revokes) it. The
//! membrane is closed both ways: every capability in the params or the
//! results of a call through it (in interface fields, lists, unions and
//! structs, at any depth) is wrapped in a membrane of its own, typed by the
//! schema. So a capability a worker passes out (a JS object served as a
//! capability) reaches the provider through a membrane, and so does every
//! capability the provider then passes back into the worker. Params and
//! results are copied field by field from the schema; a pointer the schema
//! does not name is not copied. Every struct, with or without capability
//! fields, is copied cut to its schema's size (a struct sent larger than its
//! schema loses the words and pointers the schema does not name, and any
//! capability in them); the rest (text, data, lists of those and of
//! numbers) is copied whole but without capabilities: one hidden in such a
//! value (e.g. a struct list read as a list of numbers) fails the call with
//! `bad_request`. Params or results too large for one message
//! (`caplet::check_payload`) fail that call with `too_large`, before they
//! are copied, instead of ending the connection they would be sent on.
//!
//! It also keeps promise pipelining intact across the broker: capnp-rust
//! forwards a call on a proxied capability by copying params and results,
//! and queues calls pipelined on its answer until the forwarded call
//! returns. The membrane instead forwards the call itself and, before the
//! answer arrives, fills the results with *pipelined* capabilities (every
//! interface field outside unions, also inside struct and group fields) and
//! calls `set_pipeline`, so calls pipelined on them go out at once. Those
//! pipelined capabilities are membranes too, so chains of any length stay
//! pipelined, and they stay in the results when the answer comes.
//!
//! It records the worker's calls (those on granted capabilities and on
//! what their answers return, not the provider's calls on capabilities the
//! worker passed out) in the worker's call log (`calls`), with the call a
//! pipelined call was made on.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use caplet_capnp_js::codec::raw::{
    self, CapTableReader, ClientHook, ElementSize, PointerBuilder, PointerReader,
    RawPointerBuilder, RawPointerReader, RawStruct, StructBuilder, StructReader, StructSize,
};
use caplet_capnp_js::dynamic::{self, DynServer};
use caplet_capnp_js::schema::{FieldKind, Layout, SchemaSet, Type};
use capnp::capability::{Params, Promise, RemotePromise, Results};
use capnp::traits::FromPointerReader;
use capnp::{any_pointer, any_pointer_list, struct_list};

use crate::calls::{self, CallLog, Ticket};
use crate::grant::Grant;
use crate::metrics::{self, Metrics};

/// How deep struct fields are followed when pre-filling pipelined results.
const MAX_DEPTH: u32 = 16;

/// How deeply nested (structs and lists) params or results may be for the
/// membrane to copy them: Cap'n Proto's own default nesting limit. Deeper
/// ones fail the call rather than pass unchecked.
const MAX_NESTING: u32 = 64;

/// A capability seen through the broker.
pub struct Membrane {
    target: capnp::capability::Client,
    plans: Rc<Plans>,
    /// The interface it was granted as: only its methods (own and
    /// inherited) pass.
    interface_id: u64,
    /// The grant's call log.
    tap: Rc<Tap>,
    /// Calls on it are the worker's (recorded): the granted capability and
    /// those its answers return. Capabilities the worker passes out are
    /// called by the provider, and are not.
    side: Side,
}

/// Where a grant's calls are recorded.
struct Tap {
    log: Option<Rc<CallLog>>,
    binding: Rc<str>,
    /// The broker's metrics, counting the worker's calls.
    metrics: Option<Rc<Metrics>>,
}

/// Which way the calls on a membrane go, and the call whose answer it came
/// in (for the call log's `pipelined_on`).
#[derive(Clone, Copy)]
struct Side {
    recorded: bool,
    origin: Option<Ticket>,
}

/// What the membranes of one grant do with each method and each struct,
/// worked out from the schema on first use and kept: a chain of pipelined
/// calls forwards the same method many times. Shared by the granted
/// capability and every membrane reached through it.
struct Plans {
    schema: Arc<SchemaSet>,
    /// The grant's budget and revocation, checked on every call.
    grant: Rc<Grant>,
    /// By (granted interface, called interface, method). Only methods of
    /// the schema are kept: a call naming anything else is refused, and is
    /// not remembered (a peer choosing the ids cannot grow this map).
    methods: RefCell<HashMap<(u64, u64, u16), Rc<MethodPlan>>>,
    /// By struct id; only ids the schema's own fields name.
    structs: RefCell<HashMap<u64, Rc<StructPlan>>>,
    /// [`Plans::reaches_cap`]'s answers, by struct id.
    reaches: RefCell<HashMap<u64, bool>>,
}

enum MethodPlan {
    /// Not a method of the granted interface.
    NotGranted,
    Granted {
        /// `Interface.method`, for errors.
        name: Box<str>,
        params: Rc<StructPlan>,
        results: Rc<StructPlan>,
    },
}

/// How one struct is copied through the membrane.
struct StructPlan {
    size: StructSize,
    /// Every pointer field; the members of a union that share a slot have
    /// one entry each.
    pointers: Vec<Slot>,
    /// Some interface field is reached through fields outside unions, so
    /// the results can be pre-filled with pipelined capabilities.
    prefills: bool,
}

/// One pointer field of a struct (or of a group in it).
struct Slot {
    index: u16,
    /// The union members, as (discriminant offset, value), that must be set
    /// for the field to be present: the field's own, and its groups'.
    when: Vec<(u32, u16)>,
    what: What,
}

/// What a pointer holds, as far as capabilities go.
enum What {
    /// Text, data, or a list of those or of numbers: copied whole, and no
    /// capability may be in it.
    Plain,
    /// A capability of this interface: wrapped in a membrane.
    Cap(u64),
    /// A struct (by id): copied field by field, cut to its schema's size.
    Struct(u64),
    /// A list of structs, of lists of those, or of capabilities.
    List(Box<What>),
}

impl Plans {
    fn new(schema: Arc<SchemaSet>, grant: Rc<Grant>) -> Rc<Self> {
        Rc::new(Plans {
            schema,
            grant,
            methods: RefCell::new(HashMap::new()),
            structs: RefCell::new(HashMap::new()),
            reaches: RefCell::new(HashMap::new()),
        })
    }

    fn method(
        &self,
        granted: u64,
        interface_id: u64,
        method_id: u16,
    ) -> Result<Rc<MethodPlan>, capnp::Error> {
        let key = (granted, interface_id, method_id);
        if let Some(plan) = self.methods.borrow().get(&key) {
            return Ok(plan.clone());
        }
        let plan = Rc::new(self.plan_method(granted, interface_id, method_id)?);
        if !matches!(*plan, MethodPlan::NotGranted) {
            self.methods.borrow_mut().insert(key, plan.clone());
        }
        Ok(plan)
    }

    fn plan_method(
        &self,
        granted: u64,
        interface_id: u64,
        method_id: u16,
    ) -> Result<MethodPlan, capnp::Error> {
        let method = self
            .schema
            .interface(granted)
            .ok()
            .and_then(|interface| interface.method_by_id(interface_id, method_id));
        let Some(method) = method else {
            return Ok(MethodPlan::NotGranted);
        };
        Ok(MethodPlan::Granted {
            name: format!("{}.{}", method.interface_name, method.name).into(),
            params: self.struct_plan(method.param_struct)?,
            results: self.struct_plan(method.result_struct)?,
        })
    }

    fn struct_plan(&self, id: u64) -> Result<Rc<StructPlan>, capnp::Error> {
        if let Some(plan) = self.structs.borrow().get(&id) {
            return Ok(plan.clone());
        }
        let info = self
            .schema
            .struct_info(id)
            .map_err(|e| capnp::Error::failed(e.to_string()))?;
        let mut pointers = Vec::new();
        self.plan_pointers(&info.layout, &[], &mut pointers);
        let plan = Rc::new(StructPlan {
            size: StructSize {
                data: info.data_words,
                pointers: info.pointer_count,
            },
            pointers,
            prefills: self.reaches_cap(id),
        });
        self.structs.borrow_mut().insert(id, plan.clone());
        Ok(plan)
    }

    fn plan_pointers(&self, layout: &Layout, when: &[(u32, u16)], out: &mut Vec<Slot>) {
        for field in &layout.fields {
            let mut when = when.to_vec();
            if let Some(value) = field.discriminant {
                when.push((layout.discriminant_offset, value));
            }
            match &field.kind {
                FieldKind::Group(group) => self.plan_pointers(group, &when, out),
                FieldKind::Slot { ty, offset, .. } if ty.data_bits().is_none() => {
                    // A type the codec refuses has no slot: never copied.
                    if let (Some(what), Ok(index)) = (self.what(ty), u16::try_from(*offset)) {
                        out.push(Slot { index, when, what });
                    }
                }
                FieldKind::Slot { .. } => {}
            }
        }
    }

    /// What a pointer of type `ty` holds; `None` for a type the codec
    /// refuses.
    fn what(&self, ty: &Type) -> Option<What> {
        Some(match ty {
            Type::Interface(id) => What::Cap(*id),
            // Even without capability fields: a struct sent larger than its
            // schema could carry one in a pointer the schema does not name.
            Type::Struct(id) => What::Struct(*id),
            Type::List(element) => match self.what(element)? {
                What::Plain => What::Plain,
                element => What::List(Box::new(element)),
            },
            Type::Unsupported(_) => return None,
            _ => What::Plain,
        })
    }

    /// Whether an interface field can be reached from struct `id` through
    /// struct and group fields outside unions (what can be pre-filled). The
    /// schema's own structs are walked once each, so recursive types end.
    fn reaches_cap(&self, id: u64) -> bool {
        if let Some(&reaches) = self.reaches.borrow().get(&id) {
            return reaches;
        }
        let reaches = self.walk_for_cap(id);
        self.reaches.borrow_mut().insert(id, reaches);
        reaches
    }

    fn walk_for_cap(&self, id: u64) -> bool {
        let mut seen = HashSet::from([id]);
        let mut todo = vec![id];
        while let Some(id) = todo.pop() {
            let Ok(info) = self.schema.struct_info(id) else {
                continue;
            };
            let mut layouts = vec![&info.layout];
            while let Some(layout) = layouts.pop() {
                for field in &layout.fields {
                    if field.discriminant.is_some() {
                        continue;
                    }
                    let ty = match &field.kind {
                        FieldKind::Group(group) => {
                            layouts.push(group);
                            continue;
                        }
                        FieldKind::Slot { ty, .. } => ty,
                    };
                    match ty {
                        Type::Interface(_) => return true,
                        Type::Struct(inner) if seen.insert(*inner) => todo.push(*inner),
                        _ => {}
                    }
                }
            }
        }
        false
    }
}

impl Membrane {
    /// Wraps `target`, granted as `interface_id` of `schema`, under
    /// `grant`'s budget and revocation.
    pub fn wrap(
        target: capnp::capability::Client,
        schema: Arc<SchemaSet>,
        interface_id: u64,
        grant: Rc<Grant>,
    ) -> capnp::capability::Client {
        let tap = Rc::new(Tap {
            log: None,
            binding: "".into(),
            metrics: None,
        });
        Self::wrap_with(
            target,
            Plans::new(schema, grant),
            interface_id,
            tap,
            Side::WORKER,
        )
    }

    /// Wraps `target` like [`Self::wrap`], recording the worker's calls
    /// through it (and through what it returns) in `log` as `binding`'s,
    /// and counting them in `metrics`.
    pub fn wrap_recorded(
        target: capnp::capability::Client,
        schema: Arc<SchemaSet>,
        interface_id: u64,
        grant: Rc<Grant>,
        log: Rc<CallLog>,
        binding: &str,
        metrics: Rc<Metrics>,
    ) -> capnp::capability::Client {
        let tap = Rc::new(Tap {
            log: Some(log),
            binding: binding.into(),
            metrics: Some(metrics),
        });
        Self::wrap_with(
            target,
            Plans::new(schema, grant),
            interface_id,
            tap,
            Side::WORKER,
        )
    }

    fn wrap_with(
        target: capnp::capability::Client,
        plans: Rc<Plans>,
        interface_id: u64,
        tap: Rc<Tap>,
        side: Side,
    ) -> capnp::capability::Client {
        dynamic::client(Rc::new(Membrane {
            target,
            plans,
            interface_id,
            tap,
            side,
        }))
    }

    /// Records the start of a call on this membrane, if it is the worker's.
    fn record(&self, interface_id: u64, method_id: u16, params_bytes: u64) -> Option<Ticket> {
        let log = self.tap.log.as_ref().filter(|_| self.side.recorded)?;
        let schema = &self.plans.schema;
        let interface = schema.name(interface_id).unwrap_or("?");
        let method = schema
            .method(interface_id, method_id)
            .map_or("?", |m| &*m.name);
        log.start(
            &self.tap.binding,
            interface,
            method,
            params_bytes,
            self.side.origin,
        )
    }

    async fn forward(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> Result<(), capnp::Error> {
        let plan = self
            .plans
            .method(self.interface_id, interface_id, method_id)?;
        let MethodPlan::Granted {
            name,
            params: params_plan,
            results: plan,
        } = &*plan
        else {
            return Err(capnp::Error::unimplemented(format!(
                "method {method_id} of interface {interface_id:#x} is not part of the granted interface"
            )));
        };
        let params = params.get()?;
        let params_size = params.target_size()?;
        caplet::check_payload(params_size, &format!("the params of {name}"))?;
        let params_bytes = params_size.word_count * 8;
        let method = name.rsplit('.').next().unwrap_or(name);
        let ticket = self.record(interface_id, method_id, params_bytes);
        let counted = match &self.tap.metrics {
            Some(metrics) if self.side.recorded => Some((metrics, Instant::now())),
            _ => None,
        };
        // A call the grant refuses is in the call log too, with its kind.
        let answered = match self
            .plans
            .grant
            .admit(self.interface_id, method, params_bytes)
        {
            Ok(()) => {
                self.call(
                    name,
                    interface_id,
                    method_id,
                    params,
                    params_plan,
                    plan,
                    ticket,
                    &mut results,
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        if let (Some(log), Some(ticket)) = (&self.tap.log, ticket) {
            match &answered {
                Ok(bytes) => log.finish(ticket, *bytes, "ok"),
                Err(e) => log.finish(ticket, 0, &calls::outcome_of(e)),
            }
        }
        if let Some((metrics, started)) = counted {
            let outcome = match &answered {
                Ok(_) => metrics::outcome_index("ok"),
                Err(e) => metrics::outcome_index(&calls::outcome_of(e)),
            };
            metrics.capability_call(outcome, started, metrics::store_op(interface_id, method));
        }
        answered.map(|_| ())
    }

    /// Forwards the call; returns the size of its results in bytes.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        name: &str,
        interface_id: u64,
        method_id: u16,
        params: any_pointer::Reader<'_>,
        params_plan: &StructPlan,
        plan: &StructPlan,
        ticket: Option<Ticket>,
        results: &mut Results<any_pointer::Owned>,
    ) -> Result<u64, capnp::Error> {
        let passed_out = Side {
            recorded: !self.side.recorded,
            origin: None,
        };
        let returned = Side {
            recorded: self.side.recorded,
            origin: ticket,
        };
        let mut request = self
            .target
            .new_call::<any_pointer::Owned, any_pointer::Owned>(
                interface_id,
                method_id,
                Some(params.target_size()?),
            );
        let from = params
            .get_as::<RawPointerReader<'_>>()?
            .0
            .get_struct(None)?;
        let to = request.get().get_as::<RawPointerBuilder<'_>>()?.0;
        start_copy();
        charge(struct_words(params_plan.size))?;
        self.copy_struct(
            params_plan,
            &from,
            &mut StructBuilder::init(to, params_plan.size),
            0,
            passed_out,
        )?;
        let RemotePromise { promise, pipeline } = request.send();

        if plan.prefills {
            let root = results.get().get_as::<RawPointerBuilder<'_>>()?.0;
            self.fill(
                plan,
                &mut StructBuilder::init(root, plan.size),
                &pipeline,
                0,
                returned,
            )?;
            results.set_pipeline()?;
        }
        let response = self.plans.grant.track(promise).await?;
        let answer = response.get()?;
        // Checked before it is copied: an answer too large for one message
        // fails this call (and is freed) instead of ending the caller's
        // connection, and every call on it.
        let size = answer.target_size()?;
        caplet::check_payload(size, &format!("the results of {name}"))?;
        let bytes = size.word_count * 8;
        self.plans.grant.count_bytes(bytes)?;
        let answer = answer
            .get_as::<RawPointerReader<'_>>()?
            .0
            .get_struct(None)?;
        let root = results.get().get_as::<RawPointerBuilder<'_>>()?.0;
        start_copy();
        charge(struct_words(plan.size))?;
        let mut out = if plan.prefills {
            StructBuilder::get(root, plan.size)?
        } else {
            StructBuilder::init(root, plan.size)
        };
        self.copy_struct(plan, &answer, &mut out, 0, returned)?;
        Ok(bytes)
    }

    /// `cap` behind a membrane of this grant, as `interface_id`.
    fn wrap_cap(
        &self,
        cap: Box<dyn ClientHook>,
        interface_id: u64,
        side: Side,
    ) -> Box<dyn ClientHook> {
        Membrane::wrap_with(
            capnp::capability::Client::new(cap),
            self.plans.clone(),
            interface_id,
            self.tap.clone(),
            side,
        )
        .hook
    }

    /// Sets every interface field reachable through pointers outside
    /// unions to a membrane around the pipelined capability at the same
    /// place.
    fn fill(
        &self,
        plan: &StructPlan,
        out: &mut StructBuilder<'_>,
        pipeline: &any_pointer::Pipeline,
        depth: u32,
        side: Side,
    ) -> Result<(), capnp::Error> {
        for slot in plan.pointers.iter().filter(|slot| slot.when.is_empty()) {
            match slot.what {
                What::Cap(interface_id) => {
                    let cap = pipeline.get_pointer_field(slot.index).as_cap();
                    out.reborrow()
                        .pointer(slot.index.into())?
                        .set_capability(self.wrap_cap(cap, interface_id, side));
                }
                What::Struct(id) if depth + 1 < MAX_DEPTH => {
                    let inner = self.plans.struct_plan(id)?;
                    if inner.prefills {
                        let mut built = StructBuilder::init(
                            out.reborrow().pointer(slot.index.into())?,
                            inner.size,
                        );
                        let pipeline = pipeline.get_pointer_field(slot.index);
                        self.fill(&inner, &mut built, &pipeline, depth + 1, side)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Copies `from` into `to` as `plan` says, wrapping every capability.
    /// A pointer already set in `to` was pre-filled by [`Self::fill`]: a
    /// pre-filled capability stays (it is a membrane around the promise of
    /// the capability at the same place, which that promise now resolves
    /// to, so calls pipelined on it stay in order), and a pre-filled struct
    /// is copied into. capnp-rust cannot overwrite a pointer to a
    /// capability (it panics zeroing it), so nothing set is overwritten.
    fn copy_struct(
        &self,
        plan: &StructPlan,
        from: &StructReader<'_>,
        to: &mut StructBuilder<'_>,
        depth: u32,
        side: Side,
    ) -> Result<(), capnp::Error> {
        if depth > MAX_NESTING {
            return Err(nested_too_deep());
        }
        for word in 0..usize::from(plan.size.data) {
            to.set_data::<u64>(word, from.get_data_field::<u64>(word), 0)?;
        }
        for slot in &plan.pointers {
            let present = slot
                .when
                .iter()
                .all(|&(offset, value)| from.get_data_field::<u16>(offset as usize) == value);
            if !present {
                continue;
            }
            let source = from.get_pointer_field(slot.index.into());
            let target = to.reborrow().pointer(slot.index.into())?;
            if !target.is_null() {
                if let What::Struct(id) = slot.what {
                    let inner = self.plans.struct_plan(id)?;
                    charge(struct_words(inner.size))?;
                    let mut built = StructBuilder::get(target, inner.size)?;
                    self.copy_struct(
                        &inner,
                        &source.get_struct(None)?,
                        &mut built,
                        depth + 1,
                        side,
                    )?;
                }
            } else if !source.is_null() {
                self.copy_pointer(&slot.what, source, target, depth, side)?;
            }
        }
        Ok(())
    }

    /// Copies the non-null pointer `from` to the null pointer `to`.
    fn copy_pointer(
        &self,
        what: &What,
        from: PointerReader<'_>,
        to: PointerBuilder<'_>,
        depth: u32,
        side: Side,
    ) -> Result<(), capnp::Error> {
        match what {
            What::Plain => {
                // Read without the message's capabilities: a capability
                // pointer in it fails the copy instead of passing unwrapped.
                let mut from = from;
                from.imbue(CapTableReader::Dummy);
                charge(from.total_size()?.word_count)?;
                any_pointer::Builder::new(to)
                    .set_as(any_pointer::Reader::new(from))
                    .map_err(|e| match e.kind {
                        capnp::ErrorKind::MessageContainsInvalidCapabilityPointer => {
                            capnp::Error::failed(
                                "bad_request: a capability where the schema has none".into(),
                            )
                        }
                        _ => e,
                    })
            }
            What::Cap(interface_id) => {
                let mut to = to;
                to.set_capability(self.wrap_cap(from.get_capability()?, *interface_id, side));
                Ok(())
            }
            What::Struct(id) => {
                let plan = self.plans.struct_plan(*id)?;
                charge(struct_words(plan.size))?;
                let mut built = StructBuilder::init(to, plan.size);
                self.copy_struct(&plan, &from.get_struct(None)?, &mut built, depth + 1, side)
            }
            What::List(element) => self.copy_list(element, from, to, depth + 1, side),
        }
    }

    /// Copies a list whose `element`s can hold capabilities.
    fn copy_list(
        &self,
        element: &What,
        from: PointerReader<'_>,
        to: PointerBuilder<'_>,
        depth: u32,
        side: Side,
    ) -> Result<(), capnp::Error> {
        if depth > MAX_NESTING {
            return Err(nested_too_deep());
        }
        if let What::Struct(id) = element {
            let plan = self.plans.struct_plan(*id)?;
            let list = struct_list::Reader::<RawStruct>::get_from_pointer(&from, None)?;
            charge(u64::from(list.len()) * struct_words(plan.size))?;
            let mut built = raw::StructListBuilder::init(to, list.len(), plan.size)?;
            for i in 0..list.len() {
                let mut out = built.get(i)?;
                self.copy_struct(&plan, &list.get(i).0, &mut out, depth + 1, side)?;
            }
            return Ok(());
        }
        let list = any_pointer_list::Reader::get_from_pointer(&from, None)?;
        charge(u64::from(list.len()))?;
        let mut built = to.init_list(ElementSize::Pointer, list.len());
        for i in 0..list.len() {
            let item = list.get(i).get_as::<RawPointerReader<'_>>()?.0;
            if !item.is_null() {
                let out = built.reborrow().get_pointer_element(i);
                self.copy_pointer(element, item, out, depth, side)?;
            }
        }
        Ok(())
    }
}

thread_local! {
    /// Words the current copy (one call's params or results) has built so
    /// far. A copy runs without an `.await`, so one copy at a time per thread.
    static COPIED_WORDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Starts counting a new copy's words (see [`charge`]).
fn start_copy() {
    COPIED_WORDS.with(|w| w.set(0));
}

/// Counts `words` more of the copy being built, and fails it with
/// `too_large` past one message's payload (`caplet::MAX_PAYLOAD_WORDS`). A
/// copy is rebuilt at the schema's sizes, so it can be far larger than the
/// message it copies (a list of zero-size structs whose schema is large
/// costs its sender a word); counted before each allocation, it never is.
fn charge(words: u64) -> Result<(), capnp::Error> {
    COPIED_WORDS.with(|w| {
        let total = w.get().saturating_add(words);
        w.set(total);
        if total > caplet::MAX_PAYLOAD_WORDS {
            Err(capnp::Error::failed(format!(
                "too_large: the copy of this call's payload at its schema's sizes passes {} bytes, the limit of one message",
                caplet::MAX_PAYLOAD_WORDS * 8
            )))
        } else {
            Ok(())
        }
    })
}

/// Words of one struct of `size`.
fn struct_words(size: StructSize) -> u64 {
    u64::from(size.data) + u64::from(size.pointers)
}

impl Side {
    /// A granted capability: the worker calls it.
    const WORKER: Side = Side {
        recorded: true,
        origin: None,
    };
}

fn nested_too_deep() -> capnp::Error {
    capnp::Error::failed(format!(
        "the membrane copies params and results nested at most {MAX_NESTING} deep"
    ))
}

impl DynServer for Membrane {
    fn dispatch(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> Promise<(), capnp::Error> {
        Promise::from_future(self.forward(interface_id, method_id, params, results))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use capnp::capability::{Client, Response};

    use super::*;

    const SCHEMA: &str = r#"
@0xb1c2d3e4f5a69788;
interface Link @0xc0ffee0000000001 {
  next @0 () -> (next :Link, depth :UInt32);
  nested @1 () -> (inner :Holder, plain :Text);
  choice @2 () -> (pick :Pick);
  count @3 () -> (n :UInt32);
  many @4 () -> (links :List(Link), holders :List(Holder), deep :List(List(Link)));
  give @5 (to :Taker) -> ();
  tree @6 () -> (root :Node);
  texts @7 () -> (names :List(Text));
  keep @8 (node :Node) -> ();
  bomb @9 () -> (holders :List(Holder));
}
interface Extended @0xc0ffee0000000002 extends(Link) {
  more @0 () -> ();
}
interface Taker @0xc0ffee0000000003 {
  take @0 (link :Link) -> ();
}
struct Holder { a @0 :Int32; link @1 :Link; deeper @2 :Deeper; }
struct Deeper { link @0 :Link; }
struct Pick { union { link @0 :Link; none @1 :Void; } }
struct Node @0xc0ffee0000000004 { next @0 :Node; names @1 :List(Text); }
"#;

    const LINK: u64 = 0xc0ffee0000000001;
    const EXTENDED: u64 = 0xc0ffee0000000002;
    const TAKER: u64 = 0xc0ffee0000000003;
    const NODE: u64 = 0xc0ffee0000000004;

    fn plans() -> Rc<Plans> {
        let schema = caplet_capnp_js::compile::compile_files(&[("t.capnp", SCHEMA)]).unwrap();
        Plans::new(Arc::new(schema), Grant::unlimited("link", LINK))
    }

    fn granted(plan: &MethodPlan) -> (&StructPlan, &StructPlan) {
        match plan {
            MethodPlan::Granted {
                params, results, ..
            } => (params, results),
            MethodPlan::NotGranted => panic!("planned as not granted"),
        }
    }

    fn slots(plan: &StructPlan) -> Vec<(u16, String)> {
        fn name(what: &What) -> String {
            match what {
                What::Plain => "plain".into(),
                What::Cap(id) => format!("cap {id:#x}"),
                What::Struct(_) => "struct".into(),
                What::List(element) => format!("list of {}", name(element)),
            }
        }
        plan.pointers
            .iter()
            .map(|slot| (slot.index, name(&slot.what)))
            .collect()
    }

    #[test]
    fn every_pointer_that_can_hold_a_capability_is_planned() {
        let plans = plans();
        let plan = plans.method(LINK, LINK, 0).unwrap();
        let (params, next) = granted(&plan);
        assert!(params.pointers.is_empty() && !params.prefills);
        assert_eq!(slots(next), [(0, format!("cap {LINK:#x}"))]);
        assert!(next.prefills);
        assert_eq!((next.size.data, next.size.pointers), (1, 1));

        let plan = plans.method(LINK, LINK, 1).unwrap();
        let (_, nested) = granted(&plan);
        assert_eq!(slots(nested), [(0, "struct".into()), (1, "plain".into())]);
        assert!(nested.prefills, "inner.link can be pre-filled");

        // A capability only inside a union is copied, never pre-filled: its
        // slot may hold the other member.
        let plan = plans.method(LINK, LINK, 2).unwrap();
        let (_, choice) = granted(&plan);
        assert_eq!(slots(choice), [(0, "struct".into())]);
        assert!(!choice.prefills);

        let plan = plans.method(LINK, LINK, 4).unwrap();
        let (_, many) = granted(&plan);
        let cap = format!("cap {LINK:#x}");
        assert_eq!(
            slots(many),
            [
                (0, format!("list of {cap}")),
                (1, "list of struct".into()),
                (2, format!("list of list of {cap}")),
            ]
        );
        assert!(!many.prefills);

        // A capability passed out in params is planned like one in results.
        let plan = plans.method(LINK, LINK, 5).unwrap();
        let (give, _) = granted(&plan);
        assert_eq!(slots(give), [(0, format!("cap {TAKER:#x}"))]);

        // A struct without capabilities is still copied field by field (cut
        // to its schema's size), and planning a recursive one ends.
        let plan = plans.method(LINK, LINK, 6).unwrap();
        let (_, tree) = granted(&plan);
        assert_eq!(slots(tree), [(0, "struct".into())]);
        assert!(!tree.prefills);
        let node = plans.struct_plan(NODE).unwrap();
        assert_eq!(slots(&node), [(0, "struct".into()), (1, "plain".into())]);
    }

    #[test]
    fn only_methods_of_the_granted_interface_pass_and_refusals_are_not_kept() {
        let plans = plans();
        // Granted as Extended: its own and its inherited methods pass.
        granted(&plans.method(EXTENDED, EXTENDED, 0).unwrap());
        granted(&plans.method(EXTENDED, LINK, 0).unwrap());
        // Granted as Link: Extended's method does not.
        assert!(matches!(
            *plans.method(LINK, EXTENDED, 0).unwrap(),
            MethodPlan::NotGranted
        ));
        for method in 0..100u16 {
            assert!(matches!(
                *plans.method(LINK, 0xdead, method).unwrap(),
                MethodPlan::NotGranted
            ));
        }
        assert_eq!(plans.methods.borrow().len(), 2, "refusals must not be kept");
    }

    /// A provider that would answer `Extended` (not only `Link`): it
    /// counts every call that reaches it, returns new links in every place
    /// `Link`'s methods have one, and `give` passes a new link to a `Taker`.
    struct Provider {
        reached: Rc<Cell<u32>>,
    }

    impl Provider {
        fn link(&self) -> Box<dyn ClientHook> {
            dynamic::client(Rc::new(Provider {
                reached: self.reached.clone(),
            }))
            .hook
        }

        fn answer(&self, method_id: u16, out: PointerBuilder<'_>) {
            let size = |data, pointers| StructSize { data, pointers };
            match method_id {
                0 => {
                    let root = StructBuilder::init(out, size(1, 1));
                    root.set_data::<u32>(0, 1, 0).unwrap();
                    root.pointer(0).unwrap().set_capability(self.link());
                }
                2 => {
                    let root = StructBuilder::init(out, size(0, 1));
                    let pick = StructBuilder::init(root.pointer(0).unwrap(), size(1, 1));
                    // Discriminant 0: `link`.
                    pick.pointer(0).unwrap().set_capability(self.link());
                }
                4 => {
                    let mut root = StructBuilder::init(out, size(0, 3));
                    let mut links = root
                        .reborrow()
                        .pointer(0)
                        .unwrap()
                        .init_list(ElementSize::Pointer, 2);
                    for i in 0..2 {
                        links
                            .reborrow()
                            .get_pointer_element(i)
                            .set_capability(self.link());
                    }
                    let holders = root.reborrow().pointer(1).unwrap();
                    let mut holders = raw::StructListBuilder::init(holders, 1, size(1, 2)).unwrap();
                    let holder = holders.get(0).unwrap();
                    holder.pointer(0).unwrap().set_capability(self.link());
                    let outer = root.pointer(2).unwrap().init_list(ElementSize::Pointer, 1);
                    let mut inner = outer
                        .get_pointer_element(0)
                        .init_list(ElementSize::Pointer, 1);
                    inner
                        .reborrow()
                        .get_pointer_element(0)
                        .set_capability(self.link());
                }
                6 => {
                    // `root` is a Node sent larger than its schema, with a
                    // capability in a pointer the schema does not name, and
                    // so is its `next`.
                    let root = StructBuilder::init(out, size(0, 1));
                    let mut node = StructBuilder::init(root.pointer(0).unwrap(), size(1, 3));
                    node.reborrow()
                        .pointer(2)
                        .unwrap()
                        .set_capability(self.link());
                    node.reborrow()
                        .pointer(1)
                        .unwrap()
                        .init_list(ElementSize::Pointer, 0);
                    let next = StructBuilder::init(node.pointer(0).unwrap(), size(0, 4));
                    next.pointer(3).unwrap().set_capability(self.link());
                }
                9 => {
                    // Four million Holders (3 words each in the schema)
                    // sent as zero-size structs: one word on the wire.
                    let root = StructBuilder::init(out, size(0, 1));
                    raw::StructListBuilder::init(root.pointer(0).unwrap(), 4_000_000, size(0, 0))
                        .unwrap();
                }
                7 => {
                    // A capability where the schema has a list of text.
                    let root = StructBuilder::init(out, size(0, 1));
                    let mut names = root.pointer(0).unwrap().init_list(ElementSize::Pointer, 1);
                    names
                        .reborrow()
                        .get_pointer_element(0)
                        .set_capability(self.link());
                }
                _ => {}
            }
        }
    }

    impl DynServer for Provider {
        fn dispatch(
            self: Rc<Self>,
            _interface_id: u64,
            method_id: u16,
            params: Params<any_pointer::Owned>,
            mut results: Results<any_pointer::Owned>,
        ) -> Promise<(), capnp::Error> {
            self.reached.set(self.reached.get() + 1);
            if method_id == 5 {
                return Promise::from_future(async move {
                    let to = params.get()?.get_as::<RawPointerReader<'_>>()?.0;
                    let to =
                        Client::new(to.get_struct(None)?.get_pointer_field(0).get_capability()?);
                    let mut request =
                        to.new_call::<any_pointer::Owned, any_pointer::Owned>(TAKER, 0, None);
                    let root = request.get().get_as::<RawPointerBuilder<'_>>()?.0;
                    StructBuilder::init(
                        root,
                        StructSize {
                            data: 0,
                            pointers: 1,
                        },
                    )
                    .pointer(0)?
                    .set_capability(self.link());
                    request.send().promise.await?;
                    Ok(())
                });
            }
            match results.get().get_as::<RawPointerBuilder<'_>>() {
                Ok(root) => self.answer(method_id, root.0),
                Err(e) => return Promise::err(e),
            }
            Promise::ok(())
        }
    }

    /// A capability served on the worker's side: keeps the link it is given.
    struct Taker {
        got: RefCell<Option<Client>>,
    }

    impl DynServer for Taker {
        fn dispatch(
            self: Rc<Self>,
            _interface_id: u64,
            _method_id: u16,
            params: Params<any_pointer::Owned>,
            _results: Results<any_pointer::Owned>,
        ) -> Promise<(), capnp::Error> {
            let link = params
                .get()
                .and_then(|p| p.get_as::<RawPointerReader<'_>>())
                .and_then(|p| p.0.get_struct(None))
                .and_then(|s| s.get_pointer_field(0).get_capability());
            match link {
                Ok(link) => {
                    *self.got.borrow_mut() = Some(Client::new(link));
                    Promise::ok(())
                }
                Err(e) => Promise::err(e),
            }
        }
    }

    fn call(
        cap: &Client,
        interface_id: u64,
        method_id: u16,
    ) -> Promise<Response<any_pointer::Owned>, capnp::Error> {
        cap.new_call::<any_pointer::Owned, any_pointer::Owned>(interface_id, method_id, None)
            .send()
            .promise
    }

    fn root(response: &Response<any_pointer::Owned>) -> StructReader<'_> {
        response
            .get()
            .unwrap()
            .get_as::<RawPointerReader<'_>>()
            .unwrap()
            .0
            .get_struct(None)
            .unwrap()
    }

    fn cap_at(pointer: PointerReader<'_>) -> Client {
        Client::new(pointer.get_capability().unwrap())
    }

    fn list_at(pointer: PointerReader<'_>) -> any_pointer_list::Reader<'_> {
        any_pointer_list::Reader::get_from_pointer(&pointer, None).unwrap()
    }

    fn item<'a>(list: &any_pointer_list::Reader<'a>, i: u32) -> PointerReader<'a> {
        list.get(i).get_as::<RawPointerReader<'a>>().unwrap().0
    }

    #[test]
    fn a_copy_larger_than_one_message_fails_the_call_before_it_is_built() {
        let (granted, _) = grant();
        futures::executor::block_on(async {
            let error = call(&granted, LINK, 9)
                .await
                .err()
                .expect("12 million words were copied");
            assert!(
                error
                    .to_string()
                    .contains("too_large: the copy of this call's payload"),
                "{error}"
            );
            // The membrane still answers.
            call(&granted, LINK, 3).await.unwrap();
        });
    }

    /// A provider (that would also answer `Extended`) granted as `Link`.
    fn grant() -> (Client, Rc<Cell<u32>>) {
        let reached = Rc::new(Cell::new(0));
        let provider = dynamic::client(Rc::new(Provider {
            reached: reached.clone(),
        }));
        let plans = plans();
        (
            Membrane::wrap(
                provider,
                plans.schema.clone(),
                LINK,
                Grant::unlimited("link", LINK),
            ),
            reached,
        )
    }

    /// `link` reaches the provider for `Link`'s methods, and refuses
    /// `Extended`'s, which the provider would answer: it is a membrane.
    async fn assert_behind_membrane(link: &Client, reached: &Cell<u32>, what: &str) {
        let before = reached.get();
        call(link, LINK, 3).await.unwrap();
        assert_eq!(reached.get(), before + 1, "{what}: Link's method passes");
        let refused = call(link, EXTENDED, 0).await.err().expect("refused");
        assert!(
            refused
                .to_string()
                .contains("not part of the granted interface"),
            "{what}: {refused}"
        );
        assert_eq!(
            reached.get(),
            before + 1,
            "{what}: reached the provider unchecked"
        );
    }

    #[test]
    fn capabilities_returned_in_interface_fields_stay_behind_the_membrane() {
        let (granted, reached) = grant();
        futures::executor::block_on(async {
            let response = call(&granted, LINK, 0).await.unwrap();
            let answer = root(&response);
            assert_eq!(answer.get_data_field::<u32>(0), 1, "data is copied");
            assert_eq!(reached.get(), 1);
            let next = cap_at(answer.get_pointer_field(0));
            assert_behind_membrane(&next, &reached, "next").await;
        });
    }

    #[test]
    fn capabilities_in_unions_and_lists_of_results_are_wrapped() {
        let (granted, reached) = grant();
        futures::executor::block_on(async {
            let response = call(&granted, LINK, 2).await.unwrap();
            let pick = root(&response)
                .get_pointer_field(0)
                .get_struct(None)
                .unwrap();
            assert_eq!(
                pick.get_data_field::<u16>(0),
                0,
                "the union's member is kept"
            );
            assert_behind_membrane(&cap_at(pick.get_pointer_field(0)), &reached, "pick.link").await;

            let response = call(&granted, LINK, 4).await.unwrap();
            let answer = root(&response);
            let links = list_at(answer.get_pointer_field(0));
            assert_eq!(links.len(), 2);
            for i in 0..2 {
                let link = cap_at(item(&links, i));
                assert_behind_membrane(&link, &reached, &format!("links[{i}]")).await;
            }
            let holders = struct_list::Reader::<RawStruct>::get_from_pointer(
                &answer.get_pointer_field(1),
                None,
            )
            .unwrap();
            assert_eq!(holders.len(), 1);
            let link = cap_at(holders.get(0).0.get_pointer_field(0));
            assert_behind_membrane(&link, &reached, "holders[0].link").await;
            let deep = list_at(answer.get_pointer_field(2));
            let inner = list_at(item(&deep, 0));
            let link = cap_at(item(&inner, 0));
            assert_behind_membrane(&link, &reached, "deep[0][0]").await;
        });
    }

    #[test]
    fn capabilities_passed_into_the_worker_are_wrapped() {
        let (granted, reached) = grant();
        let taker = Rc::new(Taker {
            got: RefCell::new(None),
        });
        futures::executor::block_on(async {
            let mut request =
                granted.new_call::<any_pointer::Owned, any_pointer::Owned>(LINK, 5, None);
            let root = request.get().get_as::<RawPointerBuilder<'_>>().unwrap().0;
            StructBuilder::init(
                root,
                StructSize {
                    data: 0,
                    pointers: 1,
                },
            )
            .pointer(0)
            .unwrap()
            .set_capability(dynamic::client(taker.clone()).hook);
            request.send().promise.await.unwrap();
            let link = taker.got.borrow_mut().take().expect("the taker was called");
            assert_behind_membrane(&link, &reached, "the link given to the taker").await;
        });
    }

    /// Counts the capabilities a `keep` call's node brings in pointers its
    /// schema does not name.
    struct Keeper {
        smuggled: Rc<Cell<u32>>,
        calls: Rc<Cell<u32>>,
    }

    impl DynServer for Keeper {
        fn dispatch(
            self: Rc<Self>,
            _interface_id: u64,
            _method_id: u16,
            params: Params<any_pointer::Owned>,
            _results: Results<any_pointer::Owned>,
        ) -> Promise<(), capnp::Error> {
            self.calls.set(self.calls.get() + 1);
            let node = params
                .get()
                .and_then(|p| p.get_as::<RawPointerReader<'_>>())
                .and_then(|p| p.0.get_struct(None))
                .and_then(|root| root.get_pointer_field(0).get_struct(None));
            match node {
                Ok(node) => {
                    for i in 0..4 {
                        if node.get_pointer_field(i).get_capability().is_ok() {
                            self.smuggled.set(self.smuggled.get() + 1);
                        }
                    }
                    Promise::ok(())
                }
                Err(e) => Promise::err(e),
            }
        }
    }

    #[test]
    fn a_capability_in_a_pointer_the_schema_does_not_name_does_not_pass() {
        let (granted, reached) = grant();
        futures::executor::block_on(async {
            // Results: the provider's oversized Node loses its extra
            // pointers, and so does the Node inside it.
            let response = call(&granted, LINK, 6).await.unwrap();
            let node = root(&response)
                .get_pointer_field(0)
                .get_struct(None)
                .unwrap();
            assert!(
                node.get_pointer_field(2).is_null(),
                "an unnamed capability passed"
            );
            let next = node.get_pointer_field(0).get_struct(None).unwrap();
            assert!(
                next.get_pointer_field(3).is_null(),
                "an unnamed capability passed"
            );
            assert_eq!(reached.get(), 1);

            // A capability inside a list of text fails the call.
            let error = call(&granted, LINK, 7)
                .await
                .err()
                .expect("a capability passed");
            assert!(
                error
                    .to_string()
                    .contains("bad_request: a capability where the schema has none"),
                "{error}"
            );
        });

        // Params: a Node the worker sends larger than its schema reaches the
        // provider without the capability in its extra pointer.
        let keeper = Rc::new(Keeper {
            smuggled: Rc::new(Cell::new(0)),
            calls: Rc::new(Cell::new(0)),
        });
        let kept = Membrane::wrap(
            dynamic::client(keeper.clone()),
            plans().schema.clone(),
            LINK,
            Grant::unlimited("link", LINK),
        );
        let (link, _) = grant();
        futures::executor::block_on(async {
            let mut request =
                kept.new_call::<any_pointer::Owned, any_pointer::Owned>(LINK, 8, None);
            let root = request.get().get_as::<RawPointerBuilder<'_>>().unwrap().0;
            let root = StructBuilder::init(
                root,
                StructSize {
                    data: 0,
                    pointers: 1,
                },
            );
            let node = StructBuilder::init(
                root.pointer(0).unwrap(),
                StructSize {
                    data: 0,
                    pointers: 4,
                },
            );
            node.pointer(3).unwrap().set_capability(link.hook);
            request.send().promise.await.unwrap();
        });
        assert_eq!(keeper.calls.get(), 1);
        assert_eq!(
            keeper.smuggled.get(),
            0,
            "an unnamed capability reached the provider"
        );
    }
}
