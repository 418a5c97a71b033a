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
//! pipelined.

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
    schema: Arc<SchemaSet>,
    /// The interface it was granted as: only its methods (own and
    /// inherited) pass.
    interface_id: u64,
}

impl Membrane {
    /// Wraps `target`, granted as `interface_id` of `schema`.
    pub fn wrap(
        target: capnp::capability::Client,
        schema: Arc<SchemaSet>,
        interface_id: u64,
    ) -> capnp::capability::Client {
        dynamic::client(Rc::new(Membrane {
            target,
            schema,
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
        let granted = self
            .schema
            .interface(self.interface_id)
            .is_ok_and(|interface| interface.method_by_id(interface_id, method_id).is_some());
        if !granted {
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

        let results_struct = self
            .schema
            .method(interface_id, method_id)
            .ok()
            .and_then(|method| self.schema.struct_info(method.result_struct).ok())
            .filter(|info| self.has_caps(&info.layout, 0));
        let Some(info) = results_struct else {
            let response = promise.await?;
            return results.get().set_as(response.get()?);
        };
        let size = StructSize {
            data: info.data_words,
            pointers: info.pointer_count,
        };
        let root = results.get().get_as::<RawPointerBuilder<'_>>()?.0;
        self.fill(&info.layout, &mut root.init_struct(size), &pipeline, 0);
        results.set_pipeline()?;

        let response = promise.await?;
        let answer = response
            .get()?
            .get_as::<RawPointerReader<'_>>()?
            .0
            .get_struct(None)?;
        let root = results.get().get_as::<RawPointerBuilder<'_>>()?.0;
        let mut out = root.get_struct(size, None)?;
        self.merge(&info.layout, size, &mut out, &answer, 0)
    }

    /// Whether a layout holds an interface field, directly or in struct and
    /// group fields.
    fn has_caps(&self, layout: &Layout, depth: u32) -> bool {
        depth < MAX_DEPTH
            && layout.fields.iter().any(|field| match &field.kind {
                FieldKind::Slot {
                    ty: Type::Interface(_),
                    ..
                } => true,
                FieldKind::Slot {
                    ty: Type::Struct(id),
                    ..
                } => self
                    .schema
                    .struct_info(*id)
                    .is_ok_and(|info| self.has_caps(&info.layout, depth + 1)),
                FieldKind::Group(group) => self.has_caps(group, depth + 1),
                FieldKind::Slot { .. } => false,
            })
    }

    /// The pointer fields of one struct that [`Membrane::fill`] sets: pipelined
    /// capabilities, and structs holding them (with their layouts). Fields in
    /// unions are left alone, since their slot may hold another member.
    fn prefilled(
        &self,
        layout: &Layout,
        depth: u32,
        caps: &mut Vec<(u16, u64)>,
        structs: &mut Vec<(u16, u64)>,
    ) {
        for field in &layout.fields {
            if field.discriminant.is_some() {
                continue;
            }
            match &field.kind {
                FieldKind::Slot {
                    ty: Type::Interface(id),
                    offset,
                    ..
                } => caps.push((*offset as u16, *id)),
                FieldKind::Slot {
                    ty: Type::Struct(id),
                    offset,
                    ..
                } if depth + 1 < MAX_DEPTH
                    && self
                        .schema
                        .struct_info(*id)
                        .is_ok_and(|info| self.has_caps(&info.layout, depth + 1)) =>
                {
                    structs.push((*offset as u16, *id))
                }
                FieldKind::Group(group) => self.prefilled(group, depth + 1, caps, structs),
                FieldKind::Slot { .. } => {}
            }
        }
    }

    /// Sets every interface field reachable through pointers to a membrane
    /// around the pipelined capability at the same place.
    fn fill(
        &self,
        layout: &Layout,
        out: &mut StructBuilder<'_>,
        pipeline: &any_pointer::Pipeline,
        depth: u32,
    ) {
        let (mut caps, mut structs) = (Vec::new(), Vec::new());
        self.prefilled(layout, depth, &mut caps, &mut structs);
        for (index, interface_id) in caps {
            let cap = pipeline.get_pointer_field(index).as_cap();
            let wrapped = Membrane::wrap(
                capnp::capability::Client::new(cap),
                self.schema.clone(),
                interface_id,
            );
            out.reborrow()
                .get_pointer_field(index.into())
                .set_capability(wrapped.hook);
        }
        for (index, id) in structs {
            let Ok(info) = self.schema.struct_info(id) else {
                continue;
            };
            let size = StructSize {
                data: info.data_words,
                pointers: info.pointer_count,
            };
            let mut inner = out
                .reborrow()
                .get_pointer_field(index.into())
                .init_struct(size);
            self.fill(
                &info.layout,
                &mut inner,
                &pipeline.get_pointer_field(index),
                depth + 1,
            );
        }
    }

    /// Writes the real answer over the pre-filled results. capnp-rust cannot
    /// overwrite a struct that holds capabilities (it panics zeroing them),
    /// so the answer is merged field by field: the data section is copied,
    /// pre-filled capabilities are replaced (`set_capability` does not zero),
    /// pre-filled structs are merged in turn, and every other pointer is
    /// still null and is copied as it is.
    fn merge(
        &self,
        layout: &Layout,
        size: StructSize,
        out: &mut StructBuilder<'_>,
        answer: &StructReader<'_>,
        depth: u32,
    ) -> Result<(), capnp::Error> {
        for word in 0..u32::from(size.data) {
            out.set_data_field::<u64>(word as usize, answer.get_data_field::<u64>(word as usize));
        }
        let (mut caps, mut structs) = (Vec::new(), Vec::new());
        self.prefilled(layout, depth, &mut caps, &mut structs);
        for index in 0..size.pointers {
            let from = answer.get_pointer_field(index.into());
            let mut to = out.reborrow().get_pointer_field(index.into());
            if caps.iter().any(|(i, _)| *i == index) {
                if !from.is_null() {
                    to.set_capability(from.get_capability()?);
                }
            } else if let Some((_, id)) = structs.iter().find(|(i, _)| *i == index) {
                let info = self
                    .schema
                    .struct_info(*id)
                    .map_err(|e| capnp::Error::failed(e.to_string()))?;
                let inner_size = StructSize {
                    data: info.data_words,
                    pointers: info.pointer_count,
                };
                let mut inner = to.get_struct(inner_size, None)?;
                self.merge(
                    &info.layout,
                    inner_size,
                    &mut inner,
                    &from.get_struct(None)?,
                    depth + 1,
                )?;
            } else {
                any_pointer::Builder::new(to).set_as(any_pointer::Reader::new(from))?;
            }
        }
        Ok(())
    }
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
