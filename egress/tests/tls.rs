//! `https` through the gateway (cargo feature `tls`), against a TLS server on
//! 127.0.0.1 whose certificate (`tests/tls/`) names `api.test` and
//! `127.0.0.1` and is signed by a test CA.

#![cfg(feature = "tls")]

mod support;

use caplet_egress::gateway::{Gateway, Request};
use caplet_egress::secrets::Secrets;
use support::{local_policy, redirect, reply, run, test_resolver, TestServer};

const TEST_CA: &[u8] = include_bytes!("tls/ca.der");

fn get(url: &str) -> Request {
    Request {
        url: url.into(),
        ..Request::default()
    }
}

fn gateway(port: u16) -> Gateway {
    Gateway::new(local_policy(port), &Secrets::new())
        .expect("gateway")
        .with_resolver(test_resolver())
}

fn https(server: &TestServer, host: &str, path: &str) -> String {
    format!("https://{host}:{}{path}", server.port)
}

#[test]
fn https_with_a_trusted_certificate() {
    run(async {
        let server = TestServer::start_tls(|seen, _| reply(200, &[], seen.target.as_bytes())).await;
        let gw = gateway(server.port)
            .with_root_certificates([TEST_CA.to_vec()])
            .expect("roots");
        let response = gw
            .fetch(get(&https(&server, "api.test", "/secure")))
            .await
            .expect("fetch");
        assert_eq!(response.body, b"/secure");
        assert_eq!(response.url, https(&server, "api.test", "/secure"));
        let response = gw
            .fetch(get(&https(&server, "127.0.0.1", "/ip")))
            .await
            .expect("fetch");
        assert_eq!(response.body, b"/ip");
    });
}

#[test]
fn untrusted_or_mismatched_certificates_fail() {
    run(async {
        let server = TestServer::start_tls(|_, _| reply(200, &[], b"")).await;
        // The built-in Mozilla roots do not know the test CA.
        let err = gateway(server.port)
            .fetch(get(&https(&server, "api.test", "/")))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "connect_failed: tls handshake with api.test failed: invalid peer certificate"
            ),
            "{err}"
        );
        // Trusted CA, but the certificate does not name other.test.
        let gw = gateway(server.port)
            .with_root_certificates([TEST_CA.to_vec()])
            .expect("roots");
        let err = gw
            .fetch(get(&https(&server, "other.test", "/")))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "connect_failed: tls handshake with other.test failed: invalid peer certificate"
            ),
            "{err}"
        );
        assert!(server.seen().is_empty());
    });
}

#[test]
fn redirects_from_https_to_http_are_refused() {
    run(async {
        let server = TestServer::start_tls(|_, port| {
            redirect(302, &format!("http://api.test:{port}/plain"))
        })
        .await;
        let gw = gateway(server.port)
            .with_root_certificates([TEST_CA.to_vec()])
            .expect("roots");
        let err = gw
            .fetch(get(&https(&server, "api.test", "/")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "denied: redirect 1 to http://api.test:{}/plain: redirect from https to http is not allowed",
                server.port
            )
        );
    });
}
