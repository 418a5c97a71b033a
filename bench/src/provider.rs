//! The Rust capability the benchmark grants to workers: `Bench` from
//! `bench/schema/bench.capnp`, served as a [`caplet_capnp_js::dynamic`]
//! server on the raw struct layout.
//!
//! Generated code comes only from `schema/build.rs`, and this tiny
//! interface does not need it: its two methods read and write one `UInt32`
//! and one capability at layout positions fixed by the schema.

use std::cell::Cell;
use std::rc::Rc;

use caplet_capnp_js::codec::raw::{RawPointerBuilder, RawPointerReader, StructBuilder, StructSize};
use caplet_capnp_js::dynamic::{self, DynServer};
use caplet_client::InterfaceSchema;
use capnp::any_pointer;
use capnp::capability::{Params, Promise, Results};

/// The schema file, as sent to the broker with each grant.
pub const SCHEMA: &str = include_str!("../schema/bench.capnp");
/// `Bench`'s interface id (explicit in the schema).
const INTERFACE_ID: u64 = 0xd9a3f5cd46bd7c65;
/// `ping`'s params and results, and `next`'s results: one data word
/// (`n`/`depth` at offset 0) and, for `next`, one pointer (`next`).
const ONE_WORD: StructSize = StructSize {
    data: 1,
    pointers: 0,
};
const WORD_AND_POINTER: StructSize = StructSize {
    data: 1,
    pointers: 1,
};

/// The schema to grant `Bench` with.
pub fn schema() -> InterfaceSchema {
    InterfaceSchema::source("bench.capnp", SCHEMA, "bench.capnp:Bench")
}

/// A `Bench` capability at depth 0, counting every call made on it or on any
/// link reached from it.
pub fn new(calls: Rc<Cell<u64>>) -> capnp::capability::Client {
    dynamic::client(Rc::new(Bench { depth: 0, calls }))
}

/// One link of `Bench`.
pub struct Bench {
    depth: u32,
    calls: Rc<Cell<u64>>,
}

impl Bench {
    fn call(
        &self,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> capnp::Result<()> {
        self.calls.set(self.calls.get() + 1);
        match method_id {
            0 => {
                let params = params
                    .get()?
                    .get_as::<RawPointerReader>()?
                    .0
                    .get_struct(None)?;
                let n: u32 = params.get_data_field(0);
                let out =
                    StructBuilder::init(results.get().get_as::<RawPointerBuilder>()?.0, ONE_WORD);
                out.set_data::<u32>(0, n, 0)?;
            }
            1 => {
                let depth = self.depth + 1;
                let next = dynamic::client(Rc::new(Bench {
                    depth,
                    calls: self.calls.clone(),
                }));
                let out = StructBuilder::init(
                    results.get().get_as::<RawPointerBuilder>()?.0,
                    WORD_AND_POINTER,
                );
                out.set_data::<u32>(0, depth, 0)?;
                out.pointer(0)?.set_capability(next.hook);
            }
            other => {
                return Err(capnp::Error::unimplemented(format!(
                    "Bench has no method {other}"
                )))
            }
        }
        Ok(())
    }
}

impl DynServer for Bench {
    fn dispatch(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> Promise<(), capnp::Error> {
        let done = if interface_id == INTERFACE_ID {
            self.call(method_id, params, results)
        } else {
            Err(capnp::Error::unimplemented(format!(
                "not Bench: interface {interface_id:#x}"
            )))
        };
        match done {
            Ok(()) => Promise::ok(()),
            Err(error) => Promise::err(error),
        }
    }
}
