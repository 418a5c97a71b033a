//! The broker's proxy around a client's `LogSink` (`Worker.invoke`'s
//! `logSink`): the isolate-host gets this proxy, never the client's sink
//! itself, and the proxy is revoked when the invocation's answer is sent,
//! so nothing can write to the client's sink after the invocation, whatever
//! a host does.

use std::cell::Cell;
use std::rc::Rc;

use caplet::caplet_capnp::log_sink;
use capnp::capability::Rc as CapRc;

/// Forwards `write` to the client's sink until revoked.
pub struct SinkProxy {
    target: log_sink::Client,
    open: Rc<Cell<bool>>,
}

/// Ends a [`SinkProxy`] when dropped.
pub struct Revoke(Rc<Cell<bool>>);

impl Drop for Revoke {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl SinkProxy {
    /// A proxy for `target`, and the guard that revokes it.
    pub fn wrap(target: log_sink::Client) -> (log_sink::Client, Revoke) {
        let open = Rc::new(Cell::new(true));
        let proxy = SinkProxy {
            target,
            open: open.clone(),
        };
        (capnp_rpc::new_client(proxy), Revoke(open))
    }
}

impl log_sink::Server for SinkProxy {
    async fn write(
        self: CapRc<Self>,
        params: log_sink::WriteParams,
        _results: log_sink::WriteResults,
    ) -> Result<(), capnp::Error> {
        if !self.open.get() {
            return Err(capnp::Error::failed(
                "log sink revoked: the invocation has ended".into(),
            ));
        }
        let mut request = self.target.write_request();
        request.get().set_line(params.get()?.get_line()?)?;
        request.send().promise.await?;
        Ok(())
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

    #[test]
    fn a_revoked_proxy_forwards_nothing() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async {
            let count = Rc::new(Cell::new(0));
            let (proxy, revoke) = SinkProxy::wrap(capnp_rpc::new_client(Count(count.clone())));
            proxy.write_request().send().promise.await.unwrap();
            drop(revoke);
            let Err(error) = proxy.write_request().send().promise.await else {
                panic!("a revoked proxy forwarded a line");
            };
            assert!(error.extra.contains("revoked"), "{error}");
            assert_eq!(count.get(), 1);
        });
    }
}
