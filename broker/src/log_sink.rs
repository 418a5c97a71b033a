//! The broker's proxy around a client's `LogSink` (`Worker.invoke`'s
//! `logSink`): the isolate-host gets this proxy, never the client's sink
//! itself, and the proxy is revoked when the invocation's answer is sent,
//! so nothing can write to the client's sink after the invocation, whatever
//! a host does.
//!
//! A client's sink may answer slowly or never, so the proxy keeps at most
//! [`MAX_OUTSTANDING_WRITES`] writes waiting for the client's answer (each
//! answers the host when the client answers it); a line that comes while
//! that many wait is dropped, counted ([`Revoke::dropped`]) and answered at
//! once, and the invocation's `logs` end with a warning saying how many.
//! Revoking answers the writes still waiting and lets go of the client's
//! answers (capnp-rpc tells the client it no longer wants them), so nothing
//! of the invocation stays once it has ended.
//!
//! The broker streams the invocation's call records to the same sink
//! (`LogSink.call`, [`Revoke::call_stream`]) under the same bound: lines
//! and records share the writes waiting, and records beyond it are counted
//! apart ([`Revoke::calls_dropped`]). A sink that answers a record
//! `unimplemented` (written before `call` existed) gets no more. Before the
//! broker answers the invocation it waits, up to `LOG_FLUSH_TIMEOUT_MS`,
//! for the client to answer the records sent ([`Revoke::flushed`]), so the
//! answer never overtakes a record in the client's hands.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use caplet::caplet_capnp::log_sink;

use crate::calls;
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
    /// Call records not sent because [`MAX_OUTSTANDING_WRITES`] were waiting.
    calls_dropped: Cell<u64>,
    /// Wakes the waiting writes when the proxy is revoked (an `Arc` for
    /// `notified_owned`, a future that borrows nothing).
    revoked: Arc<Notify>,
    /// Call records among `outstanding` ([`Revoke::flushed`]).
    records_outstanding: Cell<usize>,
    /// Signalled each time a call record stops waiting.
    answered: Notify,
}

/// Forwards `write` to the client's sink until revoked.
pub struct SinkProxy {
    target: log_sink::Client,
    shared: Rc<Shared>,
}

/// Ends a [`SinkProxy`] when dropped, letting go of the writes still
/// waiting for the client.
pub struct Revoke {
    shared: Rc<Shared>,
    target: log_sink::Client,
}

impl Revoke {
    /// How many lines were dropped so far because the sink was too slow.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.get()
    }

    /// How many call records were not sent because the sink was too slow.
    pub fn calls_dropped(&self) -> u64 {
        self.shared.calls_dropped.get()
    }

    /// Waits until every call record sent to the client's sink has been
    /// answered, or `timeout` has passed. The broker calls it before it
    /// answers the invocation, so a client has handled every record
    /// streamed to it by the time it reads the answer (the host waits for
    /// lines the same way, so lines are not waited for twice); without it
    /// the last records could reach a client's handler after the answer.
    pub async fn flushed(&self, timeout: std::time::Duration) {
        let all_answered = async {
            while self.shared.records_outstanding.get() > 0 {
                self.shared.answered.notified().await;
            }
        };
        let _ = tokio::time::timeout(timeout, all_answered).await;
    }

    /// Sends call records to the client's sink (`LogSink.call`) until
    /// revoked, each answered on its own (the sender never waits).
    pub fn call_stream(&self) -> calls::Stream {
        let shared = self.shared.clone();
        let target = self.target.clone();
        let unimplemented = Rc::new(Cell::new(false));
        Rc::new(move |record: &calls::Record| {
            if !shared.open.get() || unimplemented.get() {
                return;
            }
            if shared.outstanding.get() >= MAX_OUTSTANDING_WRITES {
                shared.calls_dropped.set(shared.calls_dropped.get() + 1);
                return;
            }
            let mut request = target.call_request();
            calls::write_one(record, request.get().init_record());
            shared.outstanding.set(shared.outstanding.get() + 1);
            shared
                .records_outstanding
                .set(shared.records_outstanding.get() + 1);
            let waiting = Waiting(shared.clone(), true);
            let revoked = shared.revoked.clone().notified_owned();
            let answer = request.send().promise;
            let unimplemented = unimplemented.clone();
            tokio::task::spawn_local(async move {
                let _waiting = waiting;
                tokio::select! {
                    answer = answer => {
                        if answer.is_err_and(|e| e.kind == capnp::ErrorKind::Unimplemented) {
                            unimplemented.set(true);
                        }
                    }
                    () = revoked => {}
                }
            });
        })
    }
}

impl Drop for Revoke {
    fn drop(&mut self) {
        self.shared.open.set(false);
        self.shared.revoked.notify_waiters();
    }
}

/// Counts one write (a call record if `.1`) as waiting until dropped.
struct Waiting(Rc<Shared>, bool);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.outstanding.set(self.0.outstanding.get() - 1);
        if self.1 {
            let records = &self.0.records_outstanding;
            records.set(records.get() - 1);
            self.0.answered.notify_waiters();
        }
    }
}

impl SinkProxy {
    /// A proxy for `target`, and the guard that revokes it.
    pub fn wrap(target: log_sink::Client) -> (log_sink::Client, Revoke) {
        let shared = Rc::new(Shared {
            open: Cell::new(true),
            outstanding: Cell::new(0),
            dropped: Cell::new(0),
            calls_dropped: Cell::new(0),
            revoked: Arc::new(Notify::new()),
            records_outstanding: Cell::new(0),
            answered: Notify::new(),
        });
        let proxy = SinkProxy {
            target: target.clone(),
            shared: shared.clone(),
        };
        (capnp_rpc::new_client(proxy), Revoke { shared, target })
    }
}

impl log_sink::Server for SinkProxy {
    /// Decides at once, so lines are counted in the order they come.
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
            let waiting = Waiting(shared.clone(), false);
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
            if let Some(waiting) = forward? {
                waiting.await;
            }
            Ok(())
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

    impl Silent {
        /// Counts a write or record as held, forever (until dropped).
        async fn hold(&self) -> Result<(), capnp::Error> {
            self.0.set(self.0.get() + 1);
            let _held = Held(self.0.clone());
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    impl log_sink::Server for Silent {
        async fn write(
            self: CapRc<Self>,
            _: log_sink::WriteParams,
            _: log_sink::WriteResults,
        ) -> Result<(), capnp::Error> {
            self.hold().await
        }

        async fn call(
            self: CapRc<Self>,
            _: log_sink::CallParams,
            _: log_sink::CallResults,
        ) -> Result<(), capnp::Error> {
            self.hold().await
        }
    }

    fn record() -> calls::Record {
        calls::Record {
            binding: "b".into(),
            interface: "I".into(),
            method: "m".into(),
            start_us: 1,
            duration_us: Some(2),
            params_bytes: 8,
            results_bytes: 8,
            outcome: "ok".into(),
            pipelined_on: None,
        }
    }

    #[test]
    fn call_records_share_the_bound_of_writes_waiting_and_stop_when_revoked() {
        local(async {
            let held = Rc::new(Cell::new(0));
            let (proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(Silent(held.clone())));
            // Lines take half the writes waiting, records the rest; the
            // records past the bound are counted apart from lines.
            let lines: Vec<_> = (0..MAX_OUTSTANDING_WRITES / 2)
                .map(|_| tokio::task::spawn_local(proxy.write_request().send().promise))
                .collect();
            while held.get() < MAX_OUTSTANDING_WRITES / 2 {
                tokio::task::yield_now().await;
            }
            let stream = revoke.call_stream();
            for _ in 0..MAX_OUTSTANDING_WRITES / 2 + 9 {
                stream(&record());
            }
            while held.get() < MAX_OUTSTANDING_WRITES {
                tokio::task::yield_now().await;
            }
            assert_eq!(revoke.calls_dropped(), 9);
            assert_eq!(revoke.dropped(), 0);
            drop(revoke);
            for line in lines {
                line.await.unwrap().unwrap();
            }
            // Revoked: every record let go, and nothing more is sent.
            while held.get() > 0 {
                tokio::task::yield_now().await;
            }
            stream(&record());
            tokio::task::yield_now().await;
            assert_eq!(held.get(), 0);
        });
    }

    /// A sink written before `LogSink.call`: it answers `unimplemented`.
    struct LinesOnly(Rc<Cell<u32>>);

    impl log_sink::Server for LinesOnly {
        async fn write(
            self: CapRc<Self>,
            _: log_sink::WriteParams,
            _: log_sink::WriteResults,
        ) -> Result<(), capnp::Error> {
            Ok(())
        }

        async fn call(
            self: CapRc<Self>,
            _: log_sink::CallParams,
            _: log_sink::CallResults,
        ) -> Result<(), capnp::Error> {
            self.0.set(self.0.get() + 1);
            Err(capnp::Error::unimplemented("no call records here".into()))
        }
    }

    #[test]
    fn a_sink_that_answers_unimplemented_gets_no_more_records() {
        local(async {
            let asked = Rc::new(Cell::new(0));
            let (_proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(LinesOnly(asked.clone())));
            let stream = revoke.call_stream();
            stream(&record());
            while asked.get() == 0 {
                tokio::task::yield_now().await;
            }
            // Its answer has reached the stream once it no longer waits.
            while revoke.shared.outstanding.get() > 0 {
                tokio::task::yield_now().await;
            }
            for _ in 0..5 {
                stream(&record());
            }
            assert_eq!(revoke.shared.outstanding.get(), 0, "a record was sent");
            assert_eq!(asked.get(), 1);
        });
    }

    /// Answers each record once `open` is notified; counts the answered.
    struct Gated {
        open: Rc<Notify>,
        answered: Rc<Cell<u32>>,
    }

    impl log_sink::Server for Gated {
        async fn call(
            self: CapRc<Self>,
            _: log_sink::CallParams,
            _: log_sink::CallResults,
        ) -> Result<(), capnp::Error> {
            self.open.notified().await;
            self.answered.set(self.answered.get() + 1);
            Ok(())
        }
    }

    #[test]
    fn flushed_waits_until_the_client_has_answered_every_record() {
        local(async {
            let open = Rc::new(Notify::new());
            let answered = Rc::new(Cell::new(0));
            let sink = Gated {
                open: open.clone(),
                answered: answered.clone(),
            };
            let (_proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(sink));
            let revoke = Rc::new(revoke);
            let stream = revoke.call_stream();
            for _ in 0..3 {
                stream(&record());
            }
            let flushing = {
                let revoke = revoke.clone();
                tokio::task::spawn_local(async move {
                    revoke.flushed(std::time::Duration::from_secs(3600)).await;
                })
            };
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            assert!(!flushing.is_finished(), "flushed before the sink answered");
            assert_eq!(answered.get(), 0);
            while answered.get() < 3 {
                open.notify_waiters();
                tokio::task::yield_now().await;
            }
            flushing.await.unwrap();
            assert_eq!(revoke.shared.outstanding.get(), 0);
        });
    }

    #[test]
    fn flushed_gives_up_on_a_sink_that_never_answers() {
        local(async {
            let held = Rc::new(Cell::new(0));
            let (_proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(Silent(held.clone())));
            revoke.call_stream()(&record());
            revoke.flushed(std::time::Duration::from_millis(20)).await;
            assert_eq!(revoke.shared.outstanding.get(), 1);
        });
    }

    #[test]
    fn flushed_does_not_wait_for_lines_the_host_already_waited_for() {
        local(async {
            let held = Rc::new(Cell::new(0));
            let (proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(Silent(held.clone())));
            let _line = tokio::task::spawn_local(proxy.write_request().send().promise);
            while held.get() == 0 {
                tokio::task::yield_now().await;
            }
            // A line still waits, no record does: done at once, never at
            // the timeout.
            let flushed = revoke.flushed(std::time::Duration::from_secs(3600));
            tokio::time::timeout(std::time::Duration::from_secs(60), flushed)
                .await
                .expect("flushed waited for a line");
            assert_eq!(revoke.shared.outstanding.get(), 1);
        });
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
            // Sent in order (a local call is dispatched when first polled).
            let mut writes: Vec<_> = (0..MAX_OUTSTANDING_WRITES + 500)
                .map(|_| tokio::task::spawn_local(proxy.write_request().send().promise))
                .collect();
            while held.get() < MAX_OUTSTANDING_WRITES || revoke.dropped() < 500 {
                tokio::task::yield_now().await;
            }
            assert_eq!(held.get(), MAX_OUTSTANDING_WRITES);
            assert_eq!(revoke.dropped(), 500);
            // The lines past the bound are answered without the sink.
            let dropped = writes.split_off(MAX_OUTSTANDING_WRITES);
            let answered = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                for write in dropped {
                    write.await.unwrap().unwrap();
                }
            });
            answered.await.expect("a dropped line was not answered");
            assert!(writes.iter().all(|write| !write.is_finished()));
            drop(revoke);
            // Revoking answers the waiting writes and lets go of every
            // write the sink held.
            for write in writes {
                write.await.unwrap().unwrap();
            }
            while held.get() > 0 {
                tokio::task::yield_now().await;
            }
        });
    }
}
