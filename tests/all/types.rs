//! `Broker.types` over a real connection answers exactly what `caplet
//! types` prints for the same grants (a built-in and a client-provided
//! interface), and refuses a bad binding as `load` would.

use crate::support;

use caplet_client::{Builtin, Connection, Error, InterfaceSchema, WorkerCode};
use capnp::capability::Rc as CapRc;
use support::{block_on, Server};

use crate::caps_capnp;

use caps_capnp::named;

const SCHEMA: &str = include_str!("../schemas/caps.capnp");

struct NamedImpl;

impl named::Server for NamedImpl {
    async fn name(
        self: CapRc<Self>,
        _: named::NameParams,
        mut results: named::NameResults,
    ) -> Result<(), capnp::Error> {
        results.get().set_name("n");
        Ok(())
    }
}

#[test]
fn broker_types_answers_what_caplet_types_prints() {
    let schema_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas/caps.capnp");
    let (code, printed, stderr) = support::caplet(&[
        "types",
        "--grant",
        "fs=fs:workspace",
        "--schema",
        &format!("{schema_file}:Chain=chain"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(printed.contains("  chain: Chain;\n"), "{printed}");
    assert!(
        printed.contains("get(): Promise<{ next: Chain | null; value: number; info: Info | null }> & { next: Chain; info: { holder: Chain } };"),
        "{printed}"
    );

    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.expect("connect");
        let cap: named::Client = capnp_rpc::new_client(NamedImpl);
        let code = WorkerCode::new("unused.js", "")
            .grant_builtin("fs", Builtin::fs("workspace"))
            .grant(
                "chain",
                cap.clone(),
                InterfaceSchema::source("caps.capnp", SCHEMA, "caps.capnp:Chain"),
            );
        let answered = conn.types(&code).await.expect("Broker.types");
        assert_eq!(answered, printed);

        let bad = WorkerCode::new("unused.js", "").grant(
            "x",
            cap,
            InterfaceSchema::source("caps.capnp", SCHEMA, "caps.capnp:Nope"),
        );
        match conn.types(&bad).await {
            Err(Error::Refused { kind, message }) => {
                assert_eq!(kind, "schema_error");
                assert!(message.contains("no Nope in caps.capnp"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}
