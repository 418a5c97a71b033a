//! The broker's membrane around capabilities granted to workers.
//!
//! Every call a worker makes on a granted capability passes through here, so
//! this is where the broker sees (and later meters and revokes) it. It also
//! keeps promise pipelining intact across the broker: capnp-rust forwards a
//! call on a proxied capability by copying params and results, and queues
//! calls pipelined on its answer until the forwarded call returns. The
//! membrane instead forwards the call itself and, before the answer arrives,
//! fills the results with *pipelined* capabilities (from the schema: every
//! interface field, also inside struct and group fields) and calls
//! `set_pipeline`, so calls pipelined on them go out at once. Those
//! pipelined capabilities are membranes too, so chains of any length stay
//! pipelined, and they stay in the results when the answer comes: a
//! capability returned in an interface field (also inside struct and group
//! fields) is reached only through the membrane. Capabilities inside lists
//! and unions are not pre-filled, and are passed on as they come.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use caplet_capnp_js::codec::{RawPointerBuilder, RawPointerReader};
use caplet_capnp_js::dynamic::{self, DynServer};
use caplet_capnp_js::schema::{FieldKind, Layout, SchemaSet, Type};
use capnp::any_pointer;
use capnp::capability::{Params, Promise, RemotePromise, Results};
use capnp::private::layout::{StructBuilder, StructReader, StructSize};

/// How deep struct fields are followed when pre-filling pipelined results.
const MAX_DEPTH: u32 = 16;

/// A capability seen through the broker.
pub struct Membrane {
    target: capnp::capability::Client,
    plans: Rc<Plans>,
    /// The interface it was granted as: only its methods (own and
    /// inherited) pass.
    interface_id: u64,
}

/// What the membranes of one grant do with each method, worked out from the
/// schema on its first call and kept: a chain of pipelined calls forwards
/// the same method many times. Shared by the granted capability and every
/// membrane reached through its results.
struct Plans {
    schema: Arc<SchemaSet>,
    /// By (granted interface, called interface, method). Only methods of
    /// the schema are kept: a call naming anything else is refused, and is
    /// not remembered (a peer choosing the ids cannot grow this map).
    methods: RefCell<HashMap<(u64, u64, u16), Rc<MethodPlan>>>,
}

enum MethodPlan {
    /// Not a method of the granted interface.
    NotGranted,
    /// Results without capabilities: copied as they come.
    Copy,
    /// Results pre-filled with pipelined capabilities, then merged.
    Pipelined(StructPlan),
}

/// The pointer fields of one results struct (or of a struct within it) that
/// the membrane pre-fills: interface fields, and struct fields holding them.
/// Group fields share their struct's sections, so theirs are listed with
/// it. Fields in unions are left alone, since their slot may hold another
/// member.
struct StructPlan {
    size: StructSize,
    caps: Vec<(u16, u64)>,
    structs: Vec<(u16, StructPlan)>,
}

impl Plans {
    fn method(&self, granted: u64, interface_id: u64, method_id: u16) -> Rc<MethodPlan> {
        let key = (granted, interface_id, method_id);
        if let Some(plan) = self.methods.borrow().get(&key) {
            return plan.clone();
        }
        let plan = Rc::new(self.plan_method(granted, interface_id, method_id));
        if !matches!(*plan, MethodPlan::NotGranted) {
            self.methods.borrow_mut().insert(key, plan.clone());
        }
        plan
    }

    fn plan_method(&self, granted: u64, interface_id: u64, method_id: u16) -> MethodPlan {
        let granted = self
            .schema
            .interface(granted)
            .is_ok_and(|interface| interface.method_by_id(interface_id, method_id).is_some());
        if !granted {
            return MethodPlan::NotGranted;
        }
        let plan = self
            .schema
            .method(interface_id, method_id)
            .ok()
            .and_then(|method| self.plan_struct(method.result_struct, 0));
        match plan {
            Some(plan) => MethodPlan::Pipelined(plan),
            None => MethodPlan::Copy,
        }
    }

    /// The plan of struct `id`, or `None` if nothing in it is pre-filled.
    fn plan_struct(&self, id: u64, depth: u32) -> Option<StructPlan> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let info = self.schema.struct_info(id).ok()?;
        let mut plan = StructPlan {
            size: StructSize {
                data: info.data_words,
                pointers: info.pointer_count,
            },
            caps: Vec::new(),
            structs: Vec::new(),
        };
        self.plan_fields(&info.layout, depth, &mut plan);
        (!plan.caps.is_empty() || !plan.structs.is_empty()).then_some(plan)
    }

    fn plan_fields(&self, layout: &Layout, depth: u32, plan: &mut StructPlan) {
        if depth >= MAX_DEPTH {
            return;
        }
        for field in &layout.fields {
            if field.discriminant.is_some() {
                continue;
            }
            match &field.kind {
                FieldKind::Slot {
                    ty: Type::Interface(id),
                    offset,
                    ..
                } => plan.caps.push((*offset as u16, *id)),
                FieldKind::Slot {
                    ty: Type::Struct(id),
                    offset,
                    ..
                } => {
                    if let Some(inner) = self.plan_struct(*id, depth + 1) {
                        plan.structs.push((*offset as u16, inner));
                    }
                }
                FieldKind::Group(group) => self.plan_fields(group, depth + 1, plan),
                FieldKind::Slot { .. } => {}
            }
        }
    }
}

impl Membrane {
    /// Wraps `target`, granted as `interface_id` of `schema`.
    pub fn wrap(
        target: capnp::capability::Client,
        schema: Arc<SchemaSet>,
        interface_id: u64,
    ) -> capnp::capability::Client {
        let plans = Rc::new(Plans {
            schema,
            methods: RefCell::new(HashMap::new()),
        });
        Self::wrap_with(target, plans, interface_id)
    }

    fn wrap_with(
        target: capnp::capability::Client,
        plans: Rc<Plans>,
        interface_id: u64,
    ) -> capnp::capability::Client {
        dynamic::client(Rc::new(Membrane {
            target,
            plans,
            interface_id,
        }))
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
            .method(self.interface_id, interface_id, method_id);
        if let MethodPlan::NotGranted = *plan {
            return Err(capnp::Error::unimplemented(format!(
                "method {method_id} of interface {interface_id:#x} is not part of the granted interface"
            )));
        }
        let params = params.get()?;
        let mut request = self
            .target
            .new_call::<any_pointer::Owned, any_pointer::Owned>(
                interface_id,
                method_id,
                Some(params.target_size()?),
            );
        request.get().set_as(params)?;
        let RemotePromise { promise, pipeline } = request.send();

        let MethodPlan::Pipelined(plan) = &*plan else {
            let response = promise.await?;
            return results.get().set_as(response.get()?);
        };
        let root = results.get().get_as::<RawPointerBuilder<'_>>()?.0;
        self.fill(plan, &mut root.init_struct(plan.size), &pipeline);
        results.set_pipeline()?;

        let response = promise.await?;
        let answer = response
            .get()?
            .get_as::<RawPointerReader<'_>>()?
            .0
            .get_struct(None)?;
        let root = results.get().get_as::<RawPointerBuilder<'_>>()?.0;
        let mut out = root.get_struct(plan.size, None)?;
        merge(plan, &mut out, &answer)
    }

    /// Sets every interface field reachable through pointers to a membrane
    /// around the pipelined capability at the same place.
    fn fill(
        &self,
        plan: &StructPlan,
        out: &mut StructBuilder<'_>,
        pipeline: &any_pointer::Pipeline,
    ) {
        for &(index, interface_id) in &plan.caps {
            let cap = pipeline.get_pointer_field(index).as_cap();
            let wrapped = Membrane::wrap_with(
                capnp::capability::Client::new(cap),
                self.plans.clone(),
                interface_id,
            );
            out.reborrow()
                .get_pointer_field(index.into())
                .set_capability(wrapped.hook);
        }
        for (index, inner) in &plan.structs {
            let mut built = out
                .reborrow()
                .get_pointer_field((*index).into())
                .init_struct(inner.size);
            self.fill(inner, &mut built, &pipeline.get_pointer_field(*index));
        }
    }
}

/// Writes the real answer over the pre-filled results. capnp-rust cannot
/// overwrite a struct that holds capabilities (it panics zeroing them), so
/// the answer is merged field by field: the data section is copied,
/// pre-filled structs are merged in turn, and every other pointer is still
/// null and is copied as it is. Pre-filled capabilities stay: each is a
/// membrane around the promise of the answer's capability at the same
/// place, which that promise now resolves to. So the capability the caller
/// gets stays behind the membrane, and its calls stay in order with those
/// pipelined on it before the answer came.
fn merge(
    plan: &StructPlan,
    out: &mut StructBuilder<'_>,
    answer: &StructReader<'_>,
) -> Result<(), capnp::Error> {
    for word in 0..usize::from(plan.size.data) {
        out.set_data_field::<u64>(word, answer.get_data_field::<u64>(word));
    }
    for index in 0..plan.size.pointers {
        if plan.caps.iter().any(|(i, _)| *i == index) {
            continue;
        }
        let from = answer.get_pointer_field(index.into());
        let to = out.reborrow().get_pointer_field(index.into());
        if let Some((_, inner)) = plan.structs.iter().find(|(i, _)| *i == index) {
            let mut built = to.get_struct(inner.size, None)?;
            merge(inner, &mut built, &from.get_struct(None)?)?;
        } else {
            any_pointer::Builder::new(to).set_as(any_pointer::Reader::new(from))?;
        }
    }
    Ok(())
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
    use super::*;

    const SCHEMA: &str = r#"
@0xb1c2d3e4f5a69788;
interface Link @0xc0ffee0000000001 {
  next @0 () -> (next :Link, depth :UInt32);
  nested @1 () -> (inner :Holder, plain :Text);
  choice @2 () -> (pick :Pick);
  count @3 () -> (n :UInt32);
}
interface Extended @0xc0ffee0000000002 extends(Link) {
  more @0 () -> ();
}
struct Holder { a @0 :Int32; link @1 :Link; deeper @2 :Deeper; }
struct Deeper { link @0 :Link; }
struct Pick { union { link @0 :Link; none @1 :Void; } }
"#;

    fn plans() -> (Plans, u64, u64) {
        let schema = caplet_capnp_js::compile::compile_files(&[("t.capnp", SCHEMA)]).unwrap();
        let id = |name: &str| schema.find_by_display_name(name).unwrap();
        let (link, extended) = (id("t.capnp:Link"), id("t.capnp:Extended"));
        let plans = Plans {
            schema: Arc::new(schema),
            methods: RefCell::new(HashMap::new()),
        };
        (plans, link, extended)
    }

    fn pipelined(plan: &MethodPlan) -> &StructPlan {
        match plan {
            MethodPlan::Pipelined(plan) => plan,
            MethodPlan::Copy => panic!("planned as a copy"),
            MethodPlan::NotGranted => panic!("planned as not granted"),
        }
    }

    #[test]
    fn interface_fields_are_prefilled_at_their_pointer() {
        let (plans, link, _) = plans();
        let plan = plans.method(link, link, 0);
        let next = pipelined(&plan);
        assert_eq!(next.caps, vec![(0, link)]);
        assert!(next.structs.is_empty());
        assert_eq!((next.size.data, next.size.pointers), (1, 1));
    }

    #[test]
    fn structs_holding_capabilities_are_followed_and_others_copied() {
        let (plans, link, _) = plans();
        let plan = plans.method(link, link, 1);
        let nested = pipelined(&plan);
        assert!(nested.caps.is_empty());
        let [(0, holder)] = nested.structs.as_slice() else {
            panic!(
                "expected only `inner` pre-filled, got {} structs",
                nested.structs.len()
            );
        };
        assert_eq!(holder.caps, vec![(0, link)]);
        let [(1, deeper)] = holder.structs.as_slice() else {
            panic!("expected `deeper` pre-filled");
        };
        assert_eq!(deeper.caps, vec![(0, link)]);
    }

    #[test]
    fn results_without_prefilled_capabilities_are_copied() {
        let (plans, link, _) = plans();
        // A capability inside a union is never pre-filled: its slot may
        // hold the other member.
        assert!(matches!(*plans.method(link, link, 2), MethodPlan::Copy));
        assert!(matches!(*plans.method(link, link, 3), MethodPlan::Copy));
    }

    /// A `Link` (or `Extended`) provider: `next` returns another link, and
    /// counts every call that reaches it.
    struct Provider {
        reached: Rc<std::cell::Cell<u32>>,
    }

    impl DynServer for Provider {
        fn dispatch(
            self: Rc<Self>,
            _interface_id: u64,
            method_id: u16,
            _params: Params<any_pointer::Owned>,
            mut results: Results<any_pointer::Owned>,
        ) -> Promise<(), capnp::Error> {
            self.reached.set(self.reached.get() + 1);
            if method_id == 0 {
                let next = dynamic::client(Rc::new(Provider {
                    reached: self.reached.clone(),
                }));
                let out = match results.get().get_as::<RawPointerBuilder<'_>>() {
                    Ok(root) => root.0.init_struct(StructSize {
                        data: 1,
                        pointers: 1,
                    }),
                    Err(e) => return Promise::err(e),
                };
                out.set_data_field::<u32>(0, 1);
                out.get_pointer_field(0).set_capability(next.hook);
            }
            Promise::ok(())
        }
    }

    #[test]
    fn capabilities_returned_in_results_stay_behind_the_membrane() {
        let (plans, link, extended) = plans();
        let reached = Rc::new(std::cell::Cell::new(0));
        let provider = dynamic::client(Rc::new(Provider {
            reached: reached.clone(),
        }));
        // Granted as Link, though the provider would answer Extended too.
        let granted = Membrane::wrap(provider, plans.schema.clone(), link);
        futures::executor::block_on(async {
            let call = |cap: &capnp::capability::Client, interface_id: u64| {
                cap.new_call::<any_pointer::Owned, any_pointer::Owned>(interface_id, 0, None)
                    .send()
                    .promise
            };
            let response = call(&granted, link).await.unwrap();
            let next = response
                .get()
                .unwrap()
                .get_as::<RawPointerReader<'_>>()
                .unwrap()
                .0
                .get_struct(None)
                .unwrap()
                .get_pointer_field(0)
                .get_capability()
                .unwrap();
            let next = capnp::capability::Client::new(next);
            assert_eq!(reached.get(), 1);
            // The returned link answers Link's methods, through the membrane.
            call(&next, link).await.unwrap();
            assert_eq!(reached.get(), 2);
            // And refuses what its field's type does not have.
            let refused = call(&next, extended).await.err().expect("refused");
            assert!(
                refused
                    .to_string()
                    .contains("not part of the granted interface"),
                "{refused}"
            );
            assert_eq!(reached.get(), 2, "the refused call reached the provider");
        });
    }

    #[test]
    fn only_methods_of_the_granted_interface_pass_and_refusals_are_not_kept() {
        let (plans, link, extended) = plans();
        // Granted as Extended: its own and its inherited methods pass.
        assert!(matches!(
            *plans.method(extended, extended, 0),
            MethodPlan::Copy
        ));
        pipelined(&plans.method(extended, link, 0));
        // Granted as Link: Extended's method does not.
        assert!(matches!(
            *plans.method(link, extended, 0),
            MethodPlan::NotGranted
        ));
        for method in 0..100u16 {
            assert!(matches!(
                *plans.method(link, 0xdead, method),
                MethodPlan::NotGranted
            ));
        }
        assert_eq!(plans.methods.borrow().len(), 2, "refusals must not be kept");
    }
}
