//! One grant's budget and revocation (`Binding.budget`, `Worker.revoker`).
//!
//! A [`Grant`] is shared by the membrane of a granted capability and every
//! membrane reached through it (the same `Plans` in `membrane`), so a
//! budget counts, and a revocation reaches, everything the grant leads to:
//! capabilities returned by its methods and JS objects passed out through
//! it, in every invocation of the worker. Every call is checked
//! before it is forwarded; calls in flight are tracked so that a revocation
//! fails them at once instead of leaving the worker waiting on a provider
//! it should no longer reach.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use caplet::caplet_capnp::budget;
use futures::future::{AbortHandle, Abortable};

use crate::error::Error;

/// Most method names a budget's allowlist may hold.
const MAX_METHODS: u32 = 1024;

/// The use one grant allows, and what it has used.
pub struct Grant {
    /// `env.<binding>`, for messages.
    binding: String,
    /// The interface granted: the allowlist names its methods.
    interface_id: u64,
    max_calls: Option<u64>,
    max_bytes: Option<u64>,
    expires_in_ms: Option<u64>,
    expires: Option<Instant>,
    methods: Option<HashSet<String>>,
    calls: Cell<u64>,
    bytes: Cell<u64>,
    revoked: Cell<bool>,
    in_flight: RefCell<HashMap<u64, AbortHandle>>,
    next_call: Cell<u64>,
}

impl Grant {
    /// A grant without a budget (revocable all the same).
    pub fn unlimited(binding: &str, interface_id: u64) -> Rc<Grant> {
        Rc::new(Grant::new(binding, interface_id))
    }

    fn new(binding: &str, interface_id: u64) -> Grant {
        Grant {
            binding: binding.to_string(),
            interface_id,
            max_calls: None,
            max_bytes: None,
            expires_in_ms: None,
            expires: None,
            methods: None,
            calls: Cell::new(0),
            bytes: Cell::new(0),
            revoked: Cell::new(false),
            in_flight: RefCell::new(HashMap::new()),
            next_call: Cell::new(0),
        }
    }

    /// The grant of a binding of `interface_id` of `schema`, under `budget`
    /// when it has one (`Binding.budget`).
    pub fn for_binding(
        binding: &str,
        schema: &caplet_capnp_js::schema::SchemaSet,
        interface_id: u64,
        budget: Option<budget::Reader<'_>>,
    ) -> Result<Rc<Grant>, Error> {
        let Some(budget) = budget else {
            return Ok(Grant::unlimited(binding, interface_id));
        };
        let methods: Vec<String> = schema
            .interface(interface_id)
            .map(|info| info.methods.iter().map(|m| m.name.to_string()).collect())
            .unwrap_or_default();
        Grant::read(binding, interface_id, budget, &methods)
    }

    /// The grant of `Binding.budget`; `method_names` are the granted
    /// interface's methods, which the allowlist must name.
    fn read(
        binding: &str,
        interface_id: u64,
        budget: budget::Reader<'_>,
        method_names: &[String],
    ) -> Result<Rc<Grant>, Error> {
        let positive = |n: u64| (n > 0).then_some(n);
        let methods = budget.get_methods()?;
        if methods.len() > MAX_METHODS {
            return Err(Error::BadCode(format!(
                "binding {binding:?}: a method allowlist holds at most {MAX_METHODS} names"
            )));
        }
        let mut allowed = HashSet::new();
        for name in methods.iter() {
            let name = name?.to_str()?;
            if !method_names.iter().any(|m| m == name) {
                return Err(Error::BadCode(format!(
                    "binding {binding:?}: the budget allows method {name:?}, which its interface does not have"
                )));
            }
            allowed.insert(name.to_string());
        }
        let expires_in_ms = positive(budget.get_expires_in_ms());
        let expires = expires_in_ms.map(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
        Ok(Rc::new(Grant {
            max_calls: positive(budget.get_calls()),
            max_bytes: positive(budget.get_bytes()),
            expires_in_ms,
            // An expiry too far to represent never comes.
            expires: expires.flatten(),
            methods: (!allowed.is_empty()).then_some(allowed),
            ..Grant::new(binding, interface_id)
        }))
    }

    /// The budget `budget` describes for a grant of `interface_id` of
    /// `schema`, checked as a load checks it, as [`Grant::budget`] reports
    /// it (for `caplet audit` and `Broker.audit`).
    pub fn describe_budget(
        binding: &str,
        schema: &caplet_capnp_js::schema::SchemaSet,
        interface_id: u64,
        budget: budget::Reader<'_>,
    ) -> Result<Option<serde_json::Value>, Error> {
        Ok(Grant::for_binding(binding, schema, interface_id, Some(budget))?.budget())
    }

    /// The budget as the grant was given it, `None` when it limits nothing:
    /// `{calls, bytes, expires_in_ms, methods}`, each `null` when unlimited
    /// (`methods` sorted). What `Broker.get` compares and the audit reports.
    pub fn budget(&self) -> Option<serde_json::Value> {
        let mut methods: Option<Vec<&String>> = self.methods.as_ref().map(|m| m.iter().collect());
        if let Some(methods) = &mut methods {
            methods.sort();
        }
        let limited = self.max_calls.is_some()
            || self.max_bytes.is_some()
            || self.expires_in_ms.is_some()
            || methods.is_some();
        limited.then(|| {
            serde_json::json!({
                "calls": self.max_calls,
                "bytes": self.max_bytes,
                "expires_in_ms": self.expires_in_ms,
                "methods": methods,
            })
        })
    }

    /// Checks a call of `method` (bare name) on a membrane granted as
    /// `interface_id`, with params of `params_bytes`, and counts it.
    pub fn admit(
        &self,
        interface_id: u64,
        method: &str,
        params_bytes: u64,
    ) -> Result<(), capnp::Error> {
        if self.revoked.get() {
            return Err(self.revoked_error());
        }
        if let (Some(methods), true) = (&self.methods, interface_id == self.interface_id) {
            if !methods.contains(method) {
                return Err(capnp::Error::unimplemented(format!(
                    "method_not_allowed: {method} is not among the methods granted to env.{}",
                    self.binding
                )));
            }
        }
        if self.expires.is_some_and(|at| Instant::now() >= at) {
            return Err(self.exhausted("expires", "the grant has expired".into()));
        }
        if let Some(max) = self.max_calls {
            if self.calls.get() >= max {
                return Err(self.exhausted("calls", format!("all {max} calls are used")));
            }
        }
        self.count_bytes(params_bytes)?;
        self.calls.set(self.calls.get() + 1);
        Ok(())
    }

    /// Counts `bytes` of params or results against the budget.
    pub fn count_bytes(&self, bytes: u64) -> Result<(), capnp::Error> {
        let total = self.bytes.get().saturating_add(bytes);
        if let Some(max) = self.max_bytes {
            if total > max {
                return Err(self.exhausted(
                    "bytes",
                    format!("{total} bytes would pass the budget of {max}"),
                ));
            }
        }
        self.bytes.set(total);
        Ok(())
    }

    /// Runs `call` (a forwarded call), failing it at once with `revoked`
    /// if the grant is revoked before it returns.
    pub async fn track<T>(
        &self,
        call: impl Future<Output = Result<T, capnp::Error>>,
    ) -> Result<T, capnp::Error> {
        if self.revoked.get() {
            return Err(self.revoked_error());
        }
        let (handle, registration) = AbortHandle::new_pair();
        let id = self.next_call.get();
        self.next_call.set(id + 1);
        self.in_flight.borrow_mut().insert(id, handle);
        // Removed however the call ends, also when its caller drops it.
        let _untrack = Untrack { grant: self, id };
        match Abortable::new(call, registration).await {
            Ok(result) => result,
            Err(_aborted) => Err(self.revoked_error()),
        }
    }

    /// Revokes the grant: every later call fails, and so does every call in
    /// flight.
    pub fn revoke(&self) {
        self.revoked.set(true);
        let in_flight: Vec<AbortHandle> = self
            .in_flight
            .borrow_mut()
            .drain()
            .map(|(_, h)| h)
            .collect();
        for handle in in_flight {
            handle.abort();
        }
    }

    fn revoked_error(&self) -> capnp::Error {
        capnp::Error::disconnected(format!(
            "revoked: the grant env.{} was revoked",
            self.binding
        ))
    }

    fn exhausted(&self, budget: &str, detail: String) -> capnp::Error {
        capnp::Error::overloaded(format!(
            "budget_exhausted: {budget}: env.{}: {detail}",
            self.binding
        ))
    }
}

/// Forgets a call in flight when it ends.
struct Untrack<'a> {
    grant: &'a Grant,
    id: u64,
}

impl Drop for Untrack<'_> {
    fn drop(&mut self) {
        self.grant.in_flight.borrow_mut().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(
        calls: u64,
        bytes: u64,
        methods: &[&str],
    ) -> capnp::message::Builder<capnp::message::HeapAllocator> {
        let mut message = capnp::message::Builder::new_default();
        let mut b = message.init_root::<budget::Builder>();
        b.set_calls(calls);
        b.set_bytes(bytes);
        let mut list = b.init_methods(methods.len() as u32);
        for (i, m) in methods.iter().enumerate() {
            list.set(i as u32, m);
        }
        message
    }

    fn grant(calls: u64, bytes: u64, methods: &[&str]) -> Rc<Grant> {
        let message = budget(calls, bytes, methods);
        let reader = message.get_root_as_reader::<budget::Reader>().unwrap();
        Grant::read("kv", 1, reader, &["get".into(), "put".into()]).unwrap()
    }

    #[test]
    fn calls_bytes_and_methods_are_enforced_with_named_errors() {
        let g = grant(2, 100, &["get"]);
        g.admit(1, "get", 10).unwrap();
        let e = g.admit(1, "put", 10).unwrap_err();
        assert_eq!(e.kind, capnp::ErrorKind::Unimplemented);
        assert!(
            e.extra.starts_with("method_not_allowed: put "),
            "{}",
            e.extra
        );
        // Another interface reached through the grant keeps its methods.
        g.admit(2, "put", 10).unwrap();
        let e = g.admit(1, "get", 10).unwrap_err();
        assert_eq!(e.kind, capnp::ErrorKind::Overloaded);
        assert!(
            e.extra.starts_with("budget_exhausted: calls: "),
            "{}",
            e.extra
        );

        let g = grant(0, 100, &[]);
        g.admit(1, "get", 60).unwrap();
        let e = g.count_bytes(41).unwrap_err();
        assert!(
            e.extra.starts_with("budget_exhausted: bytes: "),
            "{}",
            e.extra
        );
        g.count_bytes(40).unwrap();
    }

    #[test]
    fn an_allowlist_must_name_methods_of_the_interface() {
        let message = budget(0, 0, &["delete"]);
        let reader = message.get_root_as_reader::<budget::Reader>().unwrap();
        let error = Grant::read("kv", 1, reader, &["get".into()]).err().unwrap();
        assert!(error.to_string().contains("\"delete\""), "{error}");
    }

    #[test]
    fn revoking_fails_calls_in_flight_and_later_ones() {
        let g = grant(0, 0, &[]);
        let pending = g.track(futures::future::pending::<Result<(), capnp::Error>>());
        let mut pending = Box::pin(pending);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(pending.as_mut().poll(&mut cx).is_pending());
        g.revoke();
        let std::task::Poll::Ready(Err(e)) = pending.as_mut().poll(&mut cx) else {
            panic!("the call in flight did not fail");
        };
        assert_eq!(e.kind, capnp::ErrorKind::Disconnected);
        assert!(e.extra.starts_with("revoked: "), "{}", e.extra);
        assert!(g
            .admit(1, "get", 0)
            .unwrap_err()
            .extra
            .starts_with("revoked: "));
        assert!(g.in_flight.borrow().is_empty());
    }
}
