//! The gateway against a real HTTP server on 127.0.0.1: policy, address
//! rules, redirects, credentials and limits.

mod support;

use std::time::Duration;

use caplet_egress::gateway::{Gateway, RedirectMode, Request, Response};
use caplet_egress::policy::{CredentialRule, Limits, Policy};
use caplet_egress::resolve::StaticResolver;
use caplet_egress::secrets::Secrets;
use caplet_egress::Error;
use support::{local_policy, redirect, reply, run, test_resolver, Reply, TestServer};

const SECRET: &str = "ghp_Sup3rS3cretT0ken";

fn get(url: &str) -> Request {
    Request {
        method: "GET".into(),
        url: url.into(),
        ..Request::default()
    }
}

fn gateway(policy: Policy) -> Gateway {
    Gateway::new(policy, &Secrets::new())
        .expect("gateway")
        .with_resolver(test_resolver())
}

fn secrets() -> Secrets {
    let mut secrets = Secrets::new();
    secrets.insert("github", SECRET).expect("secret");
    secrets
}

/// A gateway injecting `Authorization: Bearer <SECRET>` for `api.test`.
fn credential_gateway(port: u16) -> Gateway {
    let rule =
        CredentialRule::new("api.test", "Authorization", "Bearer {secret:github}").expect("rule");
    Gateway::new(local_policy(port).inject(rule), &secrets())
        .expect("gateway")
        .with_resolver(test_resolver())
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn echo_server() -> impl Fn(&support::Seen, u16) -> Reply {
    |seen, _| {
        reply(
            200,
            &[("x-path", &seen.target), ("keep-alive", "timeout=5")],
            format!("hello {}", seen.method).as_bytes(),
        )
    }
}

#[test]
fn allowed_request_passes() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let gw = gateway(local_policy(server.port));
        let response = gw
            .fetch(Request {
                method: "POST".into(),
                url: server.url("127.0.0.1", "/hello?x=1"),
                headers: vec![("X-Custom".into(), "yes".into())],
                body: b"payload".to_vec(),
                ..Request::default()
            })
            .await
            .expect("fetch");
        assert_eq!(response.status, 200);
        assert_eq!(response.status_text, "Whatever");
        assert_eq!(response.body, b"hello POST");
        assert_eq!(response.url, server.url("127.0.0.1", "/hello?x=1"));
        assert_eq!(response.redirects, 0);
        assert_eq!(header(&response, "x-path"), Some("/hello?x=1"));
        assert_eq!(header(&response, "keep-alive"), None, "hop-by-hop dropped");
        assert_eq!(header(&response, "connection"), None, "hop-by-hop dropped");

        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].target, "/hello?x=1");
        assert_eq!(seen[0].body, b"payload");
        assert_eq!(seen[0].header("x-custom"), ["yes"]);
        assert_eq!(
            seen[0].header("host"),
            [format!("127.0.0.1:{}", server.port)]
        );
        assert_eq!(seen[0].header("accept-encoding"), ["identity"]);
        assert_eq!(seen[0].header("content-length"), ["7"]);
    });
}

#[test]
fn names_resolve_through_the_resolver() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let gw = gateway(local_policy(server.port));
        let response = gw
            .fetch(get(&server.url("API.test", "/x")))
            .await
            .expect("fetch");
        assert_eq!(response.status, 200);
        assert_eq!(
            server.seen()[0].header("host"),
            [format!("api.test:{}", server.port)]
        );
    });
}

#[test]
fn denied_host_fails_without_a_connection() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let gw = gateway(local_policy(server.port));
        let url = server.url("unlisted.test", "/");
        let err = gw.fetch(get(&url)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "denied: host unlisted.test is not in the allowlist"
        );
        assert!(matches!(err, Error::Denied(_)));
        assert_eq!(server.connections(), 0);
    });
}

#[test]
fn loopback_is_denied_by_default_and_allowed_by_range() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let policy = Policy::default()
            .allow_hosts(["127.0.0.1", "[::1]"])
            .unwrap()
            .allow_ports([server.port]);
        let gw = gateway(policy.clone());
        let err = gw
            .fetch(get(&server.url("127.0.0.1", "/")))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "denied: address 127.0.0.1 is loopback");
        let err = gw.fetch(get(&server.url("[::1]", "/"))).await.unwrap_err();
        assert_eq!(err.to_string(), "denied: address ::1 is loopback");
        assert_eq!(server.connections(), 0);

        let gw = gateway(policy.allow_ranges(["127.0.0.0/8"]).unwrap());
        let response = gw
            .fetch(get(&server.url("127.0.0.1", "/")))
            .await
            .expect("fetch");
        assert_eq!(response.status, 200);
    });
}

#[test]
fn localhost_resolving_to_loopback_is_denied() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let policy = Policy::default()
            .allow_hosts(["localhost"])
            .unwrap()
            .allow_ports([server.port]);
        // The real system resolver.
        let gw = Gateway::new(policy, &Secrets::new()).unwrap();
        let err = gw
            .fetch(get(&server.url("localhost", "/")))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("denied: host localhost resolves to a denied address: address ")
                && message.ends_with(" is loopback"),
            "{message}"
        );
        assert_eq!(server.connections(), 0);
    });
}

#[test]
fn private_resolution_is_denied_before_any_connection() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let policy = local_policy(server.port)
            .allow_hosts(["evil.test", "mixed.test", "mapped.test"])
            .unwrap();
        let resolver = test_resolver()
            // One good address and one bad: the whole name is refused.
            .with(
                "mixed.test",
                ["127.0.0.1".parse().unwrap(), "10.0.0.5".parse().unwrap()],
            )
            .with("mapped.test", ["::ffff:10.0.0.5".parse().unwrap()]);
        let gw = Gateway::new(policy, &Secrets::new())
            .unwrap()
            .with_resolver(resolver);
        let err = gw
            .fetch(get(&server.url("evil.test", "/")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "denied: host evil.test resolves to a denied address: address 10.0.0.5 is private"
        );
        let err = gw
            .fetch(get(&server.url("mixed.test", "/")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "denied: host mixed.test resolves to a denied address: address 10.0.0.5 is private"
        );
        let err = gw
            .fetch(get(&server.url("mapped.test", "/")))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("embeds a denied ipv4 address"),
            "{err}"
        );
        assert_eq!(server.connections(), 0);
    });
}

#[test]
fn unresolvable_names_fail_cleanly() {
    run(async {
        let gw = gateway(local_policy(80).allow_hosts(["nowhere.test"]).unwrap());
        let err = gw.fetch(get("http://nowhere.test/")).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("resolve_failed: host nowhere.test did not resolve"),
            "{err}"
        );
    });
}

#[test]
fn redirect_to_a_denied_host_is_refused_and_names_the_hop() {
    run(async {
        let server = TestServer::start(|seen, port| match seen.target.as_str() {
            "/to-unlisted" => redirect(302, &format!("http://unlisted.test:{port}/x")),
            "/to-evil" => redirect(307, &format!("http://evil.test:{port}/x")),
            "/to-loopback" => redirect(301, &format!("http://api.test:{port}/hop2")),
            "/hop2" => redirect(302, "http://localhost/"),
            _ => reply(200, &[], b"ok"),
        })
        .await;
        let port = server.port;
        let policy = local_policy(port).allow_hosts(["evil.test"]).unwrap();
        let gw = gateway(policy);
        let err = gw
            .fetch(get(&server.url("api.test", "/to-unlisted")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "denied: redirect 1 to http://unlisted.test:{port}/x: host unlisted.test is not in the allowlist"
            )
        );
        let err = gw
            .fetch(get(&server.url("api.test", "/to-evil")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "denied: redirect 1 to http://evil.test:{port}/x: host evil.test resolves to a denied address: address 10.0.0.5 is private"
            )
        );
        let err = gw
            .fetch(get(&server.url("api.test", "/to-loopback")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "denied: redirect 2 to http://localhost/: host localhost is not in the allowlist"
        );
        let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
        assert_eq!(
            targets,
            ["/to-unlisted", "/to-evil", "/to-loopback", "/hop2"]
        );
    });
}

#[test]
fn redirects_are_followed_and_limited() {
    run(async {
        let server = TestServer::start(|seen, _| match seen.target.as_str() {
            "/a" => redirect(302, "/b"),
            "/b" => redirect(308, "c?q=1"),
            "/loop" => redirect(302, "/loop"),
            "/post" => redirect(303, "/done"),
            "/keep" => redirect(307, "/done"),
            _ => reply(200, &[], seen.method.as_bytes()),
        })
        .await;
        let limits = Limits {
            max_redirects: 2,
            ..Limits::default()
        };
        let gw = gateway(local_policy(server.port).with_limits(limits));
        let response = gw
            .fetch(get(&server.url("api.test", "/a")))
            .await
            .expect("fetch");
        assert_eq!(response.redirects, 2);
        assert_eq!(response.url, server.url("api.test", "/c?q=1"));

        let err = gw
            .fetch(get(&server.url("api.test", "/loop")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "denied: redirect 3 to /loop: more than 2 redirects"
        );

        let post = |path: &str| Request {
            method: "POST".into(),
            url: server.url("api.test", path),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"data".to_vec(),
            ..Request::default()
        };
        let response = gw.fetch(post("/post")).await.expect("303");
        assert_eq!(response.body, b"GET");
        let last = server.seen().pop().unwrap();
        assert!(last.body.is_empty() && last.header("content-type").is_empty());
        let response = gw.fetch(post("/keep")).await.expect("307");
        assert_eq!(response.body, b"POST");
        assert_eq!(server.seen().pop().unwrap().body, b"data");
    });
}

#[test]
fn secrets_in_the_final_url_header_names_and_any_spelling_are_redacted() {
    run(async {
        let server = TestServer::start(|seen, _| {
            let auth = seen.header("authorization").join(",");
            let secret = auth.strip_prefix("Bearer ").unwrap_or("none").to_string();
            let upper = secret.to_ascii_uppercase();
            if seen.target.starts_with("/start") {
                return redirect(302, &format!("/echo?a=Bearer%20{secret}"));
            }
            let name = format!("x-{}", secret.to_ascii_lowercase());
            let encoded: String = secret.bytes().map(|b| format!("%{b:02x}")).collect();
            reply(
                200,
                &[
                    (name.as_str(), "1"),
                    ("x-upper", &upper),
                    ("x-encoded", &encoded),
                ],
                format!("{upper} {encoded}").as_bytes(),
            )
        })
        .await;
        let gw = credential_gateway(server.port);
        let response = gw
            .fetch(get(&server.url("api.test", "/start")))
            .await
            .expect("fetch");
        assert_eq!(
            response.url,
            server.url("api.test", "/echo?a=Bearer%20[redacted]")
        );
        assert_eq!(header(&response, "x-redacted"), Some("1"));
        assert_eq!(header(&response, "x-upper"), Some("[redacted]"));
        assert_eq!(header(&response, "x-encoded"), Some("[redacted]"));
        assert_eq!(response.body, b"[redacted] [redacted]");
        let all = format!("{response:?}").to_ascii_lowercase();
        assert!(!all.contains(&SECRET.to_ascii_lowercase()), "{all}");
    });
}

#[test]
fn injected_credential_reaches_the_server_but_never_the_caller() {
    run(async {
        let server = TestServer::start(|seen, port| {
            let auth = seen.header("authorization").join(",");
            match seen.target.as_str() {
                // A server that echoes the credential everywhere it can.
                "/echo" => reply(
                    200,
                    &[("x-echo", &auth), ("x-other", "fine")],
                    format!("you sent {auth}").as_bytes(),
                ),
                "/leak" => redirect(302, &format!("http://unlisted.test:{port}/{SECRET}")),
                _ => reply(404, &[], b""),
            }
        })
        .await;
        let gw = credential_gateway(server.port);

        // Callers cannot override the injected header.
        let mut request = get(&server.url("api.test", "/echo"));
        request
            .headers
            .push(("Authorization".into(), "Bearer mine".into()));
        let response = gw.fetch(request).await.expect("fetch");
        let seen = server.seen();
        assert_eq!(
            seen[0].header("authorization"),
            [format!("Bearer {SECRET}")]
        );

        assert_eq!(header(&response, "x-echo"), Some("Bearer [redacted]"));
        assert_eq!(header(&response, "x-other"), Some("fine"));
        assert_eq!(response.body, b"you sent Bearer [redacted]");
        let length = response.body.len().to_string();
        assert_eq!(header(&response, "content-length"), Some(length.as_str()));
        assert!(!format!("{response:?}").contains(SECRET));

        let err = gw
            .fetch(get(&server.url("api.test", "/leak")))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("denied: redirect 1 to"), "{message}");
        assert!(
            message.contains("[redacted]") && !message.contains(SECRET),
            "{message}"
        );

        let debug = format!("{gw:?} {:?} {:?}", gw.policy(), secrets());
        assert!(debug.contains("github"), "{debug}");
        assert!(!debug.contains(SECRET), "{debug}");

        // Not injected for other hosts.
        gw.fetch(get(&server.url("other.test", "/echo")))
            .await
            .expect("fetch");
        assert!(server.seen()[2].header("authorization").is_empty());
    });
}

#[test]
fn credentials_are_stripped_on_cross_origin_redirects() {
    run(async {
        let server = TestServer::start(|seen, port| match seen.target.as_str() {
            "/same" => redirect(302, "/landing"),
            "/cross" => redirect(302, &format!("http://other.test:{port}/landing")),
            "/back" => redirect(302, &format!("http://other.test:{port}/return")),
            "/return" => redirect(302, &format!("http://api.test:{port}/landing")),
            _ => reply(200, &[], b"landed"),
        })
        .await;
        let gw = credential_gateway(server.port);
        let with_caller_headers = |path: &str| Request {
            method: "GET".into(),
            url: server.url("api.test", path),
            headers: vec![
                ("Cookie".into(), "session=abc".into()),
                ("X-Keep".into(), "1".into()),
            ],
            body: Vec::new(),
            ..Request::default()
        };

        gw.fetch(with_caller_headers("/same"))
            .await
            .expect("same origin");
        let seen = server.seen();
        assert_eq!(seen[1].target, "/landing");
        assert_eq!(
            seen[1].header("authorization"),
            [format!("Bearer {SECRET}")]
        );
        assert_eq!(seen[1].header("cookie"), ["session=abc"]);

        gw.fetch(with_caller_headers("/cross"))
            .await
            .expect("cross origin");
        let seen = server.seen();
        assert_eq!(
            seen[2].header("authorization"),
            [format!("Bearer {SECRET}")]
        );
        assert_eq!(
            seen[3].header("host"),
            [format!("other.test:{}", server.port)]
        );
        assert!(seen[3].header("authorization").is_empty());
        assert!(seen[3].header("cookie").is_empty());
        assert_eq!(seen[3].header("x-keep"), ["1"]);

        // Once the chain has left the origin, coming back does not restore them.
        gw.fetch(with_caller_headers("/back"))
            .await
            .expect("round trip");
        let seen = server.seen();
        assert_eq!(seen[6].target, "/landing");
        assert!(seen[6].header("authorization").is_empty());
        assert!(seen[6].header("cookie").is_empty());
    });
}

#[test]
fn oversized_responses_are_cut_off() {
    run(async {
        let server = TestServer::start(|seen, _| match seen.target.as_str() {
            "/declared" => reply(200, &[], &[b'x'; 2000]),
            "/chunked" => {
                let mut raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..5 {
                    raw.extend_from_slice(b"12c\r\n");
                    raw.extend_from_slice(&[b'y'; 300]);
                    raw.extend_from_slice(b"\r\n");
                }
                raw.extend_from_slice(b"0\r\n\r\n");
                Reply::Raw(raw)
            }
            "/headers" => {
                let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..150 {
                    raw.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
                }
                raw.extend_from_slice(b"content-length: 0\r\n\r\n");
                Reply::Raw(raw)
            }
            _ => reply(200, &[], &[b'z'; 1000]),
        })
        .await;
        let limits = Limits {
            max_response_bytes: 1000,
            ..Limits::default()
        };
        let gw = gateway(local_policy(server.port).with_limits(limits));
        for path in ["/declared", "/chunked"] {
            let err = gw
                .fetch(get(&server.url("api.test", path)))
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "too_large: response body exceeds 1000 bytes"
            );
        }
        let exact = gw
            .fetch(get(&server.url("api.test", "/exact")))
            .await
            .expect("fetch");
        assert_eq!(exact.body.len(), 1000);
        let err = gw
            .fetch(get(&server.url("api.test", "/headers")))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("too_large: response head exceeds 100 headers"),
            "{err}"
        );
    });
}

#[test]
fn method_and_path_prefix_policy() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let policy = local_policy(server.port)
            .allow_methods(["GET"])
            .allow_path_prefixes(["/v1/public"])
            .unwrap();
        let gw = gateway(policy);
        let ok = gw
            .fetch(get(&server.url("api.test", "/v1/public/items")))
            .await;
        assert_eq!(ok.expect("fetch").status, 200);
        let mut post = get(&server.url("api.test", "/v1/public/items"));
        post.method = "POST".into();
        let err = gw.fetch(post).await.unwrap_err();
        assert_eq!(err.to_string(), "denied: method POST is not allowed");
        for path in ["/v1/private", "/v1/publicity", "/v1/public/../private"] {
            let err = gw
                .fetch(get(&server.url("api.test", path)))
                .await
                .unwrap_err();
            assert!(
                err.to_string().starts_with("denied: path "),
                "{path}: {err}"
            );
        }
        let err = gw
            .fetch(get(&server.url("api.test", "/v1/public/%2e%2e/private")))
            .await;
        assert!(err
            .unwrap_err()
            .to_string()
            .starts_with("bad_request: ambiguous"));
        assert_eq!(server.seen().len(), 1);
    });
}

#[test]
fn bad_requests_are_refused_before_sending() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let gw = gateway(local_policy(server.port));
        let url = server.url("api.test", "/");
        let cases: Vec<(Request, &str)> = vec![
            (
                Request {
                    headers: vec![("Host".into(), "evil.test".into())],
                    ..get(&url)
                },
                "bad_request: header host is set by the gateway",
            ),
            (
                Request {
                    headers: vec![("X-A".into(), "a\r\nInjected: 1".into())],
                    ..get(&url)
                },
                "bad_request: invalid value for header x-a",
            ),
            (
                Request {
                    method: "GE T".into(),
                    ..get(&url)
                },
                "bad_request: invalid method \"GE T\"",
            ),
            (
                get(&format!("ftp://api.test:{}/", server.port)),
                "bad_request: scheme ftp is not supported (only http and https)",
            ),
            (
                get(&format!("http://user@api.test:{}/", server.port)),
                "bad_request: user info in urls is not allowed",
            ),
        ];
        for (request, expected) in cases {
            let err = gw.fetch(request).await.unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
        assert_eq!(server.connections(), 0);
    });
}

#[test]
fn compressed_responses_are_refused() {
    run(async {
        let server =
            TestServer::start(|_, _| reply(200, &[("content-encoding", "gzip")], b"\x1f\x8b"))
                .await;
        let gw = gateway(local_policy(server.port));
        let err = gw
            .fetch(get(&server.url("api.test", "/")))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported: response uses content-encoding gzip (the gateway accepts identity only)"
        );
    });
}

#[test]
fn slow_servers_hit_the_total_time_limit() {
    run(async {
        let server = TestServer::start(|_, _| Reply::Hang).await;
        let limits = Limits {
            total_time: Duration::from_millis(200),
            ..Limits::default()
        };
        let gw = gateway(local_policy(server.port).with_limits(limits));
        let err = gw
            .fetch(get(&server.url("api.test", "/")))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "timeout: fetch took longer than 200 ms");
    });
}

#[test]
fn bad_credential_configuration_is_refused() {
    let rule = CredentialRule::new("api.test", "Authorization", "Bearer {secret:missing}").unwrap();
    let err = Gateway::new(Policy::default().inject(rule), &secrets()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad_config: credential rule for header authorization uses unknown secret missing"
    );
    let rule = CredentialRule::new("api.test", "Host", "{secret:github}").unwrap();
    let err = Gateway::new(Policy::default().inject(rule), &secrets()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad_config: header host cannot be injected: the gateway sets it"
    );
    let _ = StaticResolver::new();
}

#[test]
fn refused_connections_name_the_checked_address() {
    run(async {
        // A port that was just free: nothing listens there any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let gw = gateway(local_policy(port));
        let err = gw
            .fetch(get(&format!("http://api.test:{port}/")))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "connect_failed: could not connect to api.test port {port} (127.0.0.1): connection refused"
            )),
            "{message}"
        );
    });
}

#[cfg(not(feature = "tls"))]
#[test]
fn https_needs_the_tls_feature() {
    run(async {
        let gw = gateway(local_policy(443));
        let err = gw.fetch(get("https://api.test/")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported: https urls are not supported by this gateway (plain http only: built without the `tls` feature)"
        );
    });
}

#[test]
fn request_size_limits() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let limits = Limits {
            max_request_bytes: 10,
            max_request_headers: 2,
            max_request_header_bytes: 64,
            ..Limits::default()
        };
        let gw = gateway(local_policy(server.port).with_limits(limits));
        let url = server.url("api.test", "/");
        let mut big_body = get(&url);
        big_body.body = vec![0; 11];
        let err = gw.fetch(big_body).await.unwrap_err();
        assert_eq!(err.to_string(), "too_large: request body exceeds 10 bytes");
        let mut many = get(&url);
        many.headers = vec![("a".into(), "1".into()); 3];
        let err = gw.fetch(many).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "too_large: request has more than 2 headers"
        );
        let mut long = get(&url);
        long.headers = vec![("a".into(), "x".repeat(64))];
        let err = gw.fetch(long).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "too_large: request headers exceed 64 bytes"
        );
        assert_eq!(server.connections(), 0);
    });
}

#[test]
fn redirect_modes_manual_and_error_send_no_second_request() {
    run(async {
        let server = TestServer::start(|seen, port| match seen.target.as_str() {
            "/moved" => reply(
                301,
                &[("location", "/landing"), ("x-hop", "first")],
                b"moved to /landing",
            ),
            "/away" => redirect(302, &format!("http://unlisted.test:{port}/x")),
            "/nowhere" => reply(302, &[], b"no location"),
            _ => reply(200, &[], b"landed"),
        })
        .await;
        let gw = gateway(local_policy(server.port));
        let fetch = |path: &str, redirect| Request {
            redirect,
            ..get(&server.url("api.test", path))
        };
        let targets = || -> Vec<String> { server.seen().into_iter().map(|s| s.target).collect() };

        // manual: the redirect itself is the answer, body and all.
        let manual = gw
            .fetch(fetch("/moved", RedirectMode::Manual))
            .await
            .expect("manual");
        assert_eq!((manual.status, manual.redirects), (301, 0));
        assert_eq!(header(&manual, "location"), Some("/landing"));
        assert_eq!(header(&manual, "x-hop"), Some("first"));
        assert_eq!(manual.body, b"moved to /landing");
        assert_eq!(manual.url, server.url("api.test", "/moved"));
        // Not followed, so a location the policy would refuse is no error.
        let away = gw
            .fetch(fetch("/away", RedirectMode::Manual))
            .await
            .expect("manual away");
        assert_eq!(away.status, 302);
        assert_eq!(
            header(&away, "location"),
            Some(format!("http://unlisted.test:{}/x", server.port).as_str())
        );
        assert_eq!(targets(), ["/moved", "/away"]);

        // error: fails at the first redirect.
        let err = gw
            .fetch(fetch("/moved", RedirectMode::Error))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "redirected: the server answered 301 with location /landing and the request's redirect mode is error"
        );
        // A 3xx without a location is not a redirect in any mode.
        let nowhere = gw
            .fetch(fetch("/nowhere", RedirectMode::Error))
            .await
            .expect("no location");
        assert_eq!(
            (nowhere.status, nowhere.body.as_slice()),
            (302, &b"no location"[..])
        );
        assert_eq!(targets(), ["/moved", "/away", "/moved", "/nowhere"]);

        // follow, the default, goes on to the landing page.
        let followed = gw
            .fetch(fetch("/moved", RedirectMode::default()))
            .await
            .expect("follow");
        assert_eq!((followed.status, followed.redirects), (200, 1));
        assert_eq!(followed.body, b"landed");
        assert_eq!(followed.url, server.url("api.test", "/landing"));
        assert_eq!(
            targets(),
            ["/moved", "/away", "/moved", "/nowhere", "/moved", "/landing"]
        );
    });
}

#[test]
fn manual_redirects_are_scrubbed_of_secrets() {
    run(async {
        let server = TestServer::start(|seen, _| {
            let key = seen.header("authorization").join(",");
            reply(
                307,
                &[("location", &format!("/next?auth={key}"))],
                key.as_bytes(),
            )
        })
        .await;
        let gw = credential_gateway(server.port);
        let response = gw
            .fetch(Request {
                redirect: RedirectMode::Manual,
                ..get(&server.url("api.test", "/"))
            })
            .await
            .expect("fetch");
        assert_eq!(response.status, 307);
        assert_eq!(
            header(&response, "location"),
            Some("/next?auth=Bearer [redacted]")
        );
        assert_eq!(response.body, b"Bearer [redacted]");
        let err = gw
            .fetch(Request {
                redirect: RedirectMode::Error,
                ..get(&server.url("api.test", "/"))
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "redirected: the server answered 307 with location /next?auth=Bearer [redacted] and the request's redirect mode is error"
        );
        assert_eq!(server.seen().len(), 2);
    });
}

#[test]
fn redirects_without_location_are_returned_as_is() {
    run(async {
        let server = TestServer::start(|_, _| reply(302, &[], b"nowhere")).await;
        let gw = gateway(local_policy(server.port));
        let response = gw
            .fetch(get(&server.url("api.test", "/")))
            .await
            .expect("fetch");
        assert_eq!((response.status, response.redirects), (302, 0));
        assert_eq!(response.body, b"nowhere");
    });
}

#[test]
fn odd_paths_stay_paths() {
    run(async {
        let server = TestServer::start(echo_server()).await;
        let gw = gateway(local_policy(server.port));
        for path in ["//evil.test/x", "/a?b=c&d=%20e", "/{x}|y"] {
            let response = gw
                .fetch(get(&server.url("api.test", path)))
                .await
                .expect(path);
            assert_eq!(header(&response, "x-path"), Some(path));
        }
        for seen in server.seen() {
            assert_eq!(seen.header("host"), [format!("api.test:{}", server.port)]);
        }
    });
}
