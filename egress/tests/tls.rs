//! `https` through the gateway (cargo feature `tls`, on by default), against
//! a TLS server on 127.0.0.1 whose certificate (`tests/tls/`) names
//! `api.test` and `127.0.0.1` and is signed by a test CA (`ca.der`, and the
//! same certificate as PEM in `ca.pem`).

#![cfg(feature = "tls")]

mod support;

use std::path::Path;

use caplet_egress::config::PolicyConfig;
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
fn a_policy_ca_file_is_trusted_besides_the_default_roots() {
    run(async {
        let server = TestServer::start_tls(|seen, _| reply(200, &[], seen.target.as_bytes())).await;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let config: PolicyConfig = serde_json::from_str(&format!(
            r#"{{"hosts": ["api.test"], "ports": [{}], "allow_ranges": ["127.0.0.0/8"],
                "ca_file": "tls/ca.pem"}}"#,
            server.port
        ))
        .expect("config");
        let policy = config.to_policy_in(&dir).expect("policy");
        assert_eq!(policy.ca_certificates, vec![TEST_CA.to_vec()]);
        let gw = Gateway::new(policy, &Secrets::new())
            .expect("gateway")
            .with_resolver(test_resolver());
        let response = gw
            .fetch(get(&https(&server, "api.test", "/via-ca-file")))
            .await
            .expect("fetch");
        assert_eq!(response.body, b"/via-ca-file");

        // Relative to the directory given, not the working directory.
        let err = config.to_policy_in(Path::new("/nonexistent")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad_config: ca_file /nonexistent/tls/ca.pem: no such file or directory (os error 2)"
        );
    });
}

#[test]
fn untrusted_or_mismatched_certificates_fail() {
    run(async {
        let server = TestServer::start_tls(|_, _| reply(200, &[], b"")).await;
        // The default roots (the system's or Mozilla's) do not know the
        // test CA.
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
