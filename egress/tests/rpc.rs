//! `GatewayServer` over a real two-party Cap'n Proto connection (a Unix
//! socket pair, current-thread runtime + `LocalSet`), talking to a real HTTP
//! server on 127.0.0.1.

mod support;

use caplet::http_capnp::{gateway, request, response, RedirectMode};
use caplet_egress::policy::CredentialRule;
use caplet_egress::secrets::Secrets;
use caplet_egress::{Gateway, GatewayServer};
use capnp_rpc::{rpc_twoparty_capnp::Side, twoparty, RpcSystem};
use support::{local_policy, redirect, reply, run, test_resolver, TestServer};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

const SECRET: &str = "sk_live_rpcSecretValue";

/// Serves `gw` on one end of a socket pair and returns the bootstrap
/// capability from the other end.
fn connect(gw: Gateway) -> gateway::Client {
    let (server_end, client_end) = tokio::net::UnixStream::pair().expect("socket pair");

    let (read, write) = server_end.into_split();
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(read.compat()),
        futures::io::BufWriter::new(write.compat_write()),
        Side::Server,
        Default::default(),
    );
    let bootstrap = GatewayServer::client(gw);
    tokio::task::spawn_local(RpcSystem::new(Box::new(network), Some(bootstrap.client)));

    let (read, write) = client_end.into_split();
    let network = twoparty::VatNetwork::new(
        futures::io::BufReader::new(read.compat()),
        futures::io::BufWriter::new(write.compat_write()),
        Side::Client,
        Default::default(),
    );
    let mut rpc = RpcSystem::new(Box::new(network), None);
    let client: gateway::Client = rpc.bootstrap(Side::Server);
    tokio::task::spawn_local(rpc);
    client
}

fn gateway_for(port: u16) -> Gateway {
    let mut secrets = Secrets::new();
    secrets.insert("stripe", SECRET).expect("secret");
    let rule = CredentialRule::new("api.test", "X-Api-Key", "{secret:stripe}").expect("rule");
    Gateway::new(local_policy(port).inject(rule), &secrets)
        .expect("gateway")
        .with_resolver(test_resolver())
}

#[test]
fn fetch_over_rpc() {
    run(async {
        let server = TestServer::start(|seen, _| match seen.target.as_str() {
            "/start" => redirect(302, "/final"),
            _ => reply(
                201,
                &[("x-key-echo", &seen.header("x-api-key").join(","))],
                &seen.body,
            ),
        })
        .await;
        let client = connect(gateway_for(server.port));

        let mut request = client.fetch_request();
        {
            let mut r = request.get().init_request();
            r.set_method("PUT");
            r.set_url(server.url("api.test", "/start"));
            let mut headers = r.reborrow().init_headers(1);
            headers.reborrow().get(0).set_name("X-Trace");
            headers.reborrow().get(0).set_value("abc");
            r.set_body(b"binary\x00body");
        }
        let reply = request.send().promise.await.expect("fetch");
        let response = reply.get().unwrap().get_response().unwrap();
        assert_eq!(response.get_status(), 201);
        assert_eq!(
            response.get_status_text().unwrap().to_str().unwrap(),
            "Whatever"
        );
        assert_eq!(response.get_body().unwrap(), b"binary\x00body");
        assert_eq!(
            response.get_url().unwrap().to_str().unwrap(),
            server.url("api.test", "/final")
        );
        assert_eq!(response.get_redirects(), 1);
        let headers: Vec<(String, String)> = response
            .get_headers()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h.get_name().unwrap().to_string().unwrap(),
                    h.get_value().unwrap().to_string().unwrap(),
                )
            })
            .collect();
        assert!(headers.contains(&("x-key-echo".to_string(), "[redacted]".to_string())));

        let seen = server.seen();
        assert_eq!(
            seen[1].method, "PUT",
            "307/308 keep the method; 302 after PUT too"
        );
        assert_eq!(seen[1].header("x-api-key"), [SECRET]);
        assert_eq!(seen[1].header("x-trace"), ["abc"]);
    });
}

#[test]
fn denials_are_failed_exceptions_over_rpc() {
    run(async {
        let server = TestServer::start(|_, port| {
            redirect(302, &format!("http://evil.test:{port}/{SECRET}"))
        })
        .await;
        let client = connect(gateway_for(server.port));

        let mut request = client.fetch_request();
        request
            .get()
            .init_request()
            .set_url(server.url("unlisted.test", "/"));
        let err = request.send().promise.await.map(|_| ()).unwrap_err();
        assert_eq!(err.kind, capnp::ErrorKind::Failed);
        assert!(
            err.extra
                .ends_with("denied: host unlisted.test is not in the allowlist"),
            "{}",
            err.extra
        );

        let mut request = client.fetch_request();
        request
            .get()
            .init_request()
            .set_url(server.url("api.test", "/"));
        let err = request.send().promise.await.map(|_| ()).unwrap_err();
        assert_eq!(err.kind, capnp::ErrorKind::Failed);
        assert!(err.extra.contains("denied: redirect 1 to"), "{}", err.extra);
        assert!(err.extra.contains("[redacted]"), "{}", err.extra);
        assert!(!err.extra.contains(SECRET), "{}", err.extra);
        assert!(!err.extra.contains('\n'), "{}", err.extra);

        let mut request = client.fetch_request();
        request.get().init_request().set_url("not a url");
        let err = request.send().promise.await.map(|_| ()).unwrap_err();
        assert!(
            err.extra.contains("bad_request: url contains"),
            "{}",
            err.extra
        );
    });
}

#[test]
fn redirect_modes_over_rpc() {
    run(async {
        let server = TestServer::start(|seen, _| match seen.target.as_str() {
            "/start" => reply(308, &[("location", "/final")], b"see /final"),
            _ => reply(200, &[], b"final"),
        })
        .await;
        let client = connect(gateway_for(server.port));
        let fetch = |mode| {
            let mut request = client.fetch_request();
            let mut r = request.get().init_request();
            r.set_url(server.url("api.test", "/start"));
            r.set_redirect(mode);
            request.send().promise
        };

        let reply = fetch(RedirectMode::Manual).await.expect("manual");
        let response = reply.get().unwrap().get_response().unwrap();
        assert_eq!(response.get_status(), 308);
        assert_eq!(response.get_redirects(), 0);
        assert_eq!(response.get_body().unwrap(), b"see /final");
        let location: Vec<String> = response
            .get_headers()
            .unwrap()
            .iter()
            .filter(|h| h.get_name().unwrap() == "location")
            .map(|h| h.get_value().unwrap().to_string().unwrap())
            .collect();
        assert_eq!(location, ["/final"]);

        let err = fetch(RedirectMode::Error).await.map(|_| ()).unwrap_err();
        assert_eq!(err.kind, capnp::ErrorKind::Failed);
        assert!(
            err.extra.ends_with(
                "redirected: the server answered 308 with location /final and the request's redirect mode is error"
            ),
            "{}",
            err.extra
        );
        let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
        assert_eq!(targets, ["/start", "/start"], "no second request");

        let reply = fetch(RedirectMode::Follow).await.expect("follow");
        let response = reply.get().unwrap().get_response().unwrap();
        assert_eq!((response.get_status(), response.get_redirects()), (200, 1));
    });
}

#[test]
fn an_unknown_redirect_mode_is_a_bad_request() {
    run(async {
        let server = TestServer::start(|_, _| reply(200, &[], b"")).await;
        let client = connect(gateway_for(server.port));
        // A newer client's mode, 7: `Response.status` has the same place in
        // the data section as `Request.redirect`.
        let mut raw = capnp::message::Builder::new_default();
        raw.init_root::<response::Builder>().set_status(7);
        let raw = raw.get_root_as_reader::<request::Reader>().unwrap();
        let mut request = client.fetch_request();
        request.get().set_request(raw).unwrap();
        let err = request.send().promise.await.map(|_| ()).unwrap_err();
        assert!(
            err.extra.ends_with("bad_request: unknown redirect mode 7"),
            "{}",
            err.extra
        );
        assert_eq!(server.connections(), 0);
    });
}
