//! The broker's proxy around a client's `LogSink` (`Worker.invoke`'s
//! `logSink`): the isolate-host gets this proxy, never the client's sink
//! itself, and the proxy is revoked when the invocation's answer is sent,
//! so nothing can write to the client's sink after the invocation, whatever
//! a host does.
//!
//! A client's sink may answer slowly or never, so the proxy answers the host
//! at once and keeps at most [`MAX_OUTSTANDING_WRITES`] writes waiting for
//! the client's answer; a line that comes while that many wait is dropped
//! and counted ([`Revoke::dropped`]), and the invocation's `logs` end with
//! a warning saying how many. Revoking lets go of the writes still waiting
//! (capnp-rpc tells the client it no longer wants their answers), so
//! nothing of the invocation stays once it has ended.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use caplet::caplet_capnp::log_sink;
use capnp::capability::Rc as CapRc;
use tokio::sync::Notify;

/// The most writes to one client's sink waiting for its answer at once.
pub const MAX_OUTSTANDING_WRITES: usize = 1024;

/// State shared by a proxy and its [`Revoke`].
struct Shared {
    open: Cell<bool>,
    /// Writes sent to the client's sink and not yet answered.
    outstanding: Cell<usize>,
    /// Lines not forwarded because [`MAX_OUTSTANDING_WRITES`] were waiting.
    dropped: Cell<u64>,
    /// Wakes the waiting writes when the proxy is revoked (an `Arc` for
    /// `notified_owned`, a future that borrows nothing).
    revoked: Arc<Notify>,
}

/// Forwards `write` to the client's sink until revoked.
pub struct SinkProxy {
    target: log_sink::Client,
    shared: Rc<Shared>,
}

/// Ends a [`SinkProxy`] when dropped, letting go of the writes still
/// waiting for the client.
pub struct Revoke(Rc<Shared>);

impl Revoke {
    /// How many lines were dropped so far because the sink was too slow.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.get()
    }
}

impl Drop for Revoke {
    fn drop(&mut self) {
        self.0.open.set(false);
        self.0.revoked.notify_waiters();
    }
}

/// Counts one write as waiting until dropped.
struct Waiting(Rc<Shared>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.outstanding.set(self.0.outstanding.get() - 1);
    }
}

impl SinkProxy {
    /// A proxy for `target`, and the guard that revokes it.
    pub fn wrap(target: log_sink::Client) -> (log_sink::Client, Revoke) {
        let shared = Rc::new(Shared {
            open: Cell::new(true),
            outstanding: Cell::new(0),
            dropped: Cell::new(0),
            revoked: Arc::new(Notify::new()),
        });
        let proxy = SinkProxy {
            target,
            shared: shared.clone(),
        };
        (capnp_rpc::new_client(proxy), Revoke(shared))
    }
}

impl log_sink::Server for SinkProxy {
    /// Decides at once (so lines are counted in the order they come) and
    /// answers the host without waiting for the client's answer.
    fn write(
        self: CapRc<Self>,
        params: log_sink::WriteParams,
        _results: log_sink::WriteResults,
    ) -> impl Future<Output = Result<(), capnp::Error>> + 'static {
        let shared = self.shared.clone();
        let target = self.target.clone();
        let forward = (move || {
            if !shared.open.get() {
                return Err(capnp::Error::failed(
                    "log sink revoked: the invocation has ended".into(),
                ));
            }
            if shared.outstanding.get() >= MAX_OUTSTANDING_WRITES {
                shared.dropped.set(shared.dropped.get() + 1);
                return Ok(None);
            }
            let mut request = target.write_request();
            request.get().set_line(params.get()?.get_line()?)?;
            shared.outstanding.set(shared.outstanding.get() + 1);
            let waiting = Waiting(shared.clone());
            // Made before this returns, so a revoke from now on wakes it.
            let revoked = shared.revoked.clone().notified_owned();
            let answer = request.send().promise;
            Ok(Some(async move {
                let _waiting = waiting;
                // A failing sink is the client's problem, not the worker's;
                // on revoke the answer is let go.
                tokio::select! {
                    _ = answer => {}
                    () = revoked => {}
                }
            }))
        })();
        async move {
            match forward? {
                Some(waiting) => {
                    tokio::task::spawn_local(waiting);
                    Ok(())
                }
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(Rc<Cell<u32>>);

    impl log_sink::Server for Count {
        async fn write(
            self: CapRc<Self>,
            _: log_sink::WriteParams,
            _: log_sink::WriteResults,
        ) -> Result<(), capnp::Error> {
            self.0.set(self.0.get() + 1);
            Ok(())
        }
    }

    /// Never answers; counts the writes it still holds.
    struct Silent(Rc<Cell<usize>>);

    struct Held(Rc<Cell<usize>>);

    impl Drop for Held {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }

    impl log_sink::Server for Silent {
        async fn write(
            self: CapRc<Self>,
            _: log_sink::WriteParams,
            _: log_sink::WriteResults,
        ) -> Result<(), capnp::Error> {
            self.0.set(self.0.get() + 1);
            let _held = Held(self.0.clone());
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    fn local(test: impl Future<Output = ()>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, test);
    }

    #[test]
    fn a_revoked_proxy_forwards_nothing() {
        local(async {
            let count = Rc::new(Cell::new(0));
            let (proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(Count(count.clone())));
            proxy.write_request().send().promise.await.unwrap();
            // The proxy answered at once; the line reaches the sink after.
            while count.get() == 0 {
                tokio::task::yield_now().await;
            }
            drop(revoke);
            let Err(error) = proxy.write_request().send().promise.await else {
                panic!("a revoked proxy forwarded a line");
            };
            assert!(error.extra.contains("revoked"), "{error}");
            assert_eq!(count.get(), 1);
        });
    }

    #[test]
    fn a_sink_that_never_answers_holds_a_bounded_number_of_writes_until_revoked() {
        local(async {
            let held = Rc::new(Cell::new(0));
            let (proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(Silent(held.clone())));
            let lines = MAX_OUTSTANDING_WRITES + 500;
            for _ in 0..lines {
                // The proxy answers at once, whatever the sink does.
                proxy.write_request().send().promise.await.unwrap();
            }
            while held.get() < MAX_OUTSTANDING_WRITES {
                tokio::task::yield_now().await;
            }
            assert_eq!(held.get(), MAX_OUTSTANDING_WRITES);
            assert_eq!(revoke.dropped(), 500);
            drop(revoke);
            // Every write the sink held is let go.
            while held.get() > 0 {
                tokio::task::yield_now().await;
            }
        });
    }
}
