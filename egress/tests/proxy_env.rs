//! Proxy settings in the broker's environment are never used: with
//! `HTTP_PROXY` and friends pointing at a recording "proxy" on 127.0.0.1,
//! the gateway still connects straight to the checked address.
//!
//! A test binary of its own, with one test, so that changing the process
//! environment cannot race with other tests.

mod support;

use caplet_egress::gateway::{Gateway, Request};
use caplet_egress::secrets::Secrets;
use support::{local_policy, reply, run, test_resolver, TestServer};

#[test]
fn environment_proxies_are_ignored() {
    run(async {
        let proxy = TestServer::start(|_, _| reply(200, &[], b"from the proxy")).await;
        let server = TestServer::start(|_, _| reply(200, &[], b"direct")).await;
        let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
        for name in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::set_var(name, &proxy_url);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");

        let gw = Gateway::new(local_policy(server.port), &Secrets::new())
            .expect("gateway")
            .with_resolver(test_resolver());
        let response = gw
            .fetch(Request {
                url: server.url("api.test", "/"),
                ..Request::default()
            })
            .await
            .expect("fetch");
        assert_eq!(response.body, b"direct");
        assert_eq!(proxy.connections(), 0);
        assert_eq!(server.seen().len(), 1);
    });
}
