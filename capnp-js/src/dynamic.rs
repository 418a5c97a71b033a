//! Serving capabilities whose interface is only known at run time.
//!
//! capnp-rust's generated code pairs each interface's `Server` trait with a
//! client type; for schemas loaded at run time there is none. Implement
//! [`DynServer`] and wrap it with [`client`]: calls arrive with their
//! interface id and method ordinal, and the server decodes them by schema.

use std::rc::Rc;

use crate::codec::raw::ClientHook;
use capnp::any_pointer;
use capnp::capability::{DispatchCallResult, FromClientHook, Params, Promise, Results};

/// A capability server that dispatches by (interface id, method ordinal).
pub trait DynServer: 'static {
    /// Handles one call.
    fn dispatch(
        self: Rc<Self>,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> Promise<(), capnp::Error>;
}

/// A capability served by `server`.
pub fn client<S: DynServer>(server: Rc<S>) -> capnp::capability::Client {
    let client: DynClient = capnp_rpc::new_client_from_rc(server);
    client.client
}

/// The client type of every [`DynServer`].
pub struct DynClient {
    client: capnp::capability::Client,
}

impl FromClientHook for DynClient {
    fn new(hook: Box<dyn ClientHook>) -> Self {
        Self {
            client: capnp::capability::Client::new(hook),
        }
    }

    fn into_client_hook(self) -> Box<dyn ClientHook> {
        self.client.hook
    }

    fn as_client_hook(&self) -> &dyn ClientHook {
        &*self.client.hook
    }
}

/// Dispatches calls to a [`DynServer`].
pub struct Dispatch<S>(Rc<S>);

impl<S> Clone for Dispatch<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S> std::ops::Deref for Dispatch<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S: DynServer> capnp::capability::Server for Dispatch<S> {
    fn dispatch_call(
        self,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        results: Results<any_pointer::Owned>,
    ) -> DispatchCallResult {
        DispatchCallResult::new(
            self.0.dispatch(interface_id, method_id, params, results),
            false,
        )
    }

    fn as_ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }
}

impl<S: DynServer> capnp::capability::FromServer<S> for DynClient {
    type Dispatch = Dispatch<S>;

    fn from_server(server: Rc<S>) -> Dispatch<S> {
        Dispatch(server)
    }
}
