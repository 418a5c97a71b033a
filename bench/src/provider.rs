//! The Rust capability the benchmark grants to workers: `Bench` from
//! `bench/schema/bench.capnp`, served with capnp's untyped
//! [`capnp::capability::Server`] on the raw struct layout.
//!
//! Generated code comes only from the root `build.rs`, and this tiny
//! interface does not need it: its two methods read and write one `UInt32`
//! and one capability at layout positions fixed by the schema.

use std::cell::Cell;
use std::rc::Rc;

use caplet_client::InterfaceSchema;
use capnp::any_pointer;
use capnp::capability::{self, DispatchCallResult, FromClientHook, Params, Promise, Results};
use capnp::private::capability::ClientHook;
use capnp::private::layout::{PointerBuilder, PointerReader, StructSize};
use capnp::traits::{FromPointerBuilder, FromPointerReader};

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
pub fn new(calls: Rc<Cell<u64>>) -> BenchClient {
    capnp_rpc::new_client(Bench { depth: 0, calls })
}

/// One link of `Bench`.
pub struct Bench {
    depth: u32,
    calls: Rc<Cell<u64>>,
}

impl Bench {
    fn dispatch(
        &self,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> capnp::Result<()> {
        self.calls.set(self.calls.get() + 1);
        match method_id {
            0 => {
                let params = params.get()?.get_as::<RawReader>()?.0.get_struct(None)?;
                let n: u32 = params.get_data_field(0);
                let out = results
                    .get()
                    .get_as::<RawBuilder>()?
                    .0
                    .init_struct(ONE_WORD);
                out.set_data_field::<u32>(0, n);
            }
            1 => {
                let depth = self.depth + 1;
                let next: BenchClient = capnp_rpc::new_client(Bench {
                    depth,
                    calls: self.calls.clone(),
                });
                let out = results
                    .get()
                    .get_as::<RawBuilder>()?
                    .0
                    .init_struct(WORD_AND_POINTER);
                out.set_data_field::<u32>(0, depth);
                out.get_pointer_field(0)
                    .set_capability(next.into_client_hook());
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

/// A client of `Bench` (untyped: calls go through the worker's JS stubs).
pub struct BenchClient {
    client: capability::Client,
}

impl FromClientHook for BenchClient {
    fn new(hook: Box<dyn ClientHook>) -> Self {
        Self {
            client: capability::Client::new(hook),
        }
    }

    fn into_client_hook(self) -> Box<dyn ClientHook> {
        self.client.hook
    }

    fn as_client_hook(&self) -> &dyn ClientHook {
        &*self.client.hook
    }
}

/// Dispatches calls on a [`Bench`].
#[derive(Clone)]
pub struct BenchDispatch(Rc<Bench>);

impl std::ops::Deref for BenchDispatch {
    type Target = Bench;

    fn deref(&self) -> &Bench {
        &self.0
    }
}

impl capability::Server for BenchDispatch {
    fn dispatch_call(
        self,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> DispatchCallResult {
        let done = if interface_id == INTERFACE_ID {
            self.0.dispatch(method_id, params, results)
        } else {
            Err(capnp::Error::unimplemented(format!(
                "not Bench: interface {interface_id:#x}"
            )))
        };
        let promise = match done {
            Ok(()) => Promise::ok(()),
            Err(error) => Promise::err(error),
        };
        DispatchCallResult::new(promise, false)
    }

    fn as_ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }
}

impl capability::FromServer<Bench> for BenchClient {
    type Dispatch = BenchDispatch;

    fn from_server(server: Rc<Bench>) -> BenchDispatch {
        BenchDispatch(server)
    }
}

/// The raw pointer behind an `any_pointer::Reader`.
struct RawReader<'a>(PointerReader<'a>);

impl<'a> FromPointerReader<'a> for RawReader<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawReader(*reader))
    }
}

/// The raw pointer behind an `any_pointer::Builder`.
struct RawBuilder<'a>(PointerBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for RawBuilder<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _length: u32) -> Self {
        RawBuilder(builder)
    }

    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawBuilder(builder))
    }
}
