//! `caplet audit` end to end, through the binary: the report of built-in and
//! client-provided grants, and `--diff` as a CI gate (exit status 3 when the
//! surface grew: a method added, a host added to a policy, a volume switched
//! from read-only to read-write).

use crate::support;

use std::path::Path;

use caplet_client::{Builtin, Connection, InterfaceSchema, WorkerCode};
use support::{block_on, caplet, Server};

const SCHEMA: &str = "@0xe1c2d3e4f5a69722;
interface Notes {
  # Team notes.
  read @0 (id :UInt32) -> (text :Text);
  # One note.
}
";

const GROWN_SCHEMA: &str = "@0xe1c2d3e4f5a69722;
interface Notes {
  # Team notes.
  read @0 (id :UInt32) -> (text :Text);
  # One note.
  erase @1 (id :UInt32) -> ();
  # Deletes a note.
}
";

const CONFIG: &str = "[http.github]\nhosts = [\"api.github.com\"]\n";
const GROWN_CONFIG: &str = "[http.github]\nhosts = [\"api.github.com\", \"uploads.github.com\"]\n";

/// Writes the schema and configuration into `dir` and runs `caplet audit`
/// with `docs` granted as `mode` (`ro` or `rw`); returns (status, stdout).
fn audit(dir: &Path, schema: &str, config: &str, mode: &str, extra: &[&str]) -> (i32, String) {
    std::fs::write(dir.join("notes.capnp"), schema).unwrap();
    std::fs::write(dir.join("caplet.toml"), config).unwrap();
    let schema_arg = format!("{}:Notes=notes", dir.join("notes.capnp").display());
    let config_arg = dir.join("caplet.toml");
    let docs = format!("docs=fs:docs:{mode}");
    let mut args = vec![
        "audit",
        "--config",
        config_arg.to_str().unwrap(),
        "--grant",
        &docs,
        "--grant",
        "fetch=http:github",
        "--schema",
        &schema_arg,
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = caplet(&args);
    assert!(code == 0 || code == 3, "exit {code}: {stderr}");
    (code, stdout)
}

#[test]
fn the_report_names_every_binding_its_policy_and_what_it_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = audit(dir.path(), SCHEMA, CONFIG, "ro", &["--format", "json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let bindings = &report["bindings"];
    assert_eq!(bindings[0]["name"], "docs");
    assert_eq!(bindings[0]["kind"], "fs");
    assert_eq!(bindings[0]["policy"]["read_only"], true);
    assert_eq!(bindings[1]["kind"], "http");
    assert_eq!(
        bindings[1]["policy"]["hosts"],
        serde_json::json!(["api.github.com"])
    );
    assert_eq!(bindings[2]["name"], "notes");
    assert_eq!(bindings[2]["interface"], "notes.capnp:Notes");
    let names: Vec<&str> = report["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"notes.capnp:Notes"), "{names:?}");
    assert!(names.contains(&"fs.capnp:Volume"), "{names:?}");
    let notes = report["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "notes.capnp:Notes")
        .unwrap();
    assert_eq!(notes["methods"][0]["params"], "(id :UInt32)");
    assert_eq!(notes["methods"][0]["doc"], "One note.");
    assert_eq!(notes["reached_by"], "env.notes");
    assert_eq!(report["limits"]["cpuTimeMs"]["max"], 300000);
    assert!(report["quotas"]["workers"].as_u64().unwrap() > 0);

    let (_, markdown) = audit(dir.path(), SCHEMA, CONFIG, "ro", &[]);
    assert!(
        markdown.starts_with("# What these grants can reach\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("- `read(id :UInt32) -> (text :Text)`: One note."),
        "{markdown}"
    );
}

#[test]
fn diff_exits_3_when_the_surface_grew_and_0_when_it_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let (_, old) = audit(dir.path(), SCHEMA, CONFIG, "ro", &["--format", "json"]);
    let old_path = dir.path().join("old.json");
    std::fs::write(&old_path, old).unwrap();
    let diff = ["--diff", old_path.to_str().unwrap(), "--format", "json"];

    let (code, out) = audit(dir.path(), SCHEMA, CONFIG, "ro", &diff);
    assert_eq!(
        (code, out.trim()),
        (0, "{\n  \"grew\": [],\n  \"shrank\": []\n}")
    );

    let grew = |schema, config, mode| {
        let (code, out) = audit(dir.path(), schema, config, mode, &diff);
        let out: serde_json::Value = serde_json::from_str(&out).unwrap();
        (code, out["grew"].clone(), out["shrank"].clone())
    };
    let (code, grown, shrank) = grew(GROWN_SCHEMA, CONFIG, "ro");
    assert_eq!(code, 3);
    assert_eq!(
        grown,
        serde_json::json!(["+ method notes.capnp:Notes.erase(id :UInt32) -> ()"])
    );
    assert_eq!(shrank, serde_json::json!([]));

    let (code, grown, _) = grew(SCHEMA, GROWN_CONFIG, "ro");
    assert_eq!(code, 3);
    assert_eq!(
        grown,
        serde_json::json!(["+ env.fetch http hosts: uploads.github.com"])
    );

    let (code, grown, _) = grew(SCHEMA, CONFIG, "rw");
    assert_eq!(code, 3);
    assert_eq!(
        grown,
        serde_json::json!(["+ env.docs write access to volume docs"])
    );

    // A budget is part of the surface: raising a limit or dropping an
    // allowlist is growth.
    let (_, budgeted) = audit(
        dir.path(),
        SCHEMA,
        CONFIG,
        "ro,calls=5,methods=read|list",
        &["--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&budgeted).unwrap();
    assert_eq!(
        report["bindings"][0]["budget"],
        serde_json::json!({"calls": 5, "bytes": null, "expires_in_ms": null, "methods": ["list", "read"]})
    );
    std::fs::write(&old_path, budgeted).unwrap();
    let (code, grown, _) = grew(SCHEMA, CONFIG, "ro,calls=10,methods=read|list|stat");
    assert_eq!(code, 3);
    assert_eq!(
        grown,
        serde_json::json!([
            "+ env.docs budget calls: 5 -> 10",
            "+ env.docs allows method stat"
        ])
    );
    let (code, grown, _) = grew(SCHEMA, CONFIG, "ro");
    assert_eq!(code, 3);
    assert_eq!(
        grown,
        serde_json::json!([
            "+ env.docs budget calls: 5 -> unlimited",
            "+ env.docs method allowlist removed"
        ])
    );

    // Shrinking is not growth: the old report diffed against a smaller one.
    std::fs::write(
        &old_path,
        audit(
            dir.path(),
            GROWN_SCHEMA,
            CONFIG,
            "rw",
            &["--format", "json"],
        )
        .1,
    )
    .unwrap();
    let (code, out) = audit(
        dir.path(),
        SCHEMA,
        CONFIG,
        "ro",
        &["--diff", old_path.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert!(out.contains("## Shrank"), "{out}");
    assert!(
        out.contains("- `- env.docs write access to volume docs`"),
        "{out}"
    );
}

#[test]
fn bad_input_is_one_line_naming_the_cause() {
    let (code, _, stderr) = caplet(&["audit", "--schema", "nope"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("expected FILE.capnp:Interface=BINDING"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(&old, "{}").unwrap();
    let (code, _, stderr) = caplet(&[
        "audit",
        "--grant",
        "kv=kv:main",
        "--diff",
        old.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("make it with --format json"), "{stderr}");
    let (code, _, stderr) = caplet(&["audit", "--limit", "cpuTimeMs=999999999"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("limit_too_high: cpuTimeMs"), "{stderr}");
}

#[test]
fn broker_audit_answers_the_same_report_over_rpc() {
    let server = Server::start(1);
    block_on(async {
        let conn = Connection::connect(&server.socket).await.unwrap();
        // A grant of a capability this client never had: the report needs
        // only its schema.
        let notes: capnp::capability::Client =
            capnp_rpc::new_client::<caplet::caplet_capnp::revoker::Client, _>(NoRevoker).client;
        let code = WorkerCode::new("main.js", "export default {}")
            .grant_builtin("docs", Builtin::fs_read_only("docs"))
            .grant_builtin("kv", Builtin::kv("main"))
            .grant(
                "notes",
                notes,
                InterfaceSchema::source("notes.capnp", SCHEMA, "notes.capnp:Notes"),
            );
        let report: serde_json::Value =
            serde_json::from_str(&conn.audit(&code).await.unwrap()).unwrap();
        let bindings = &report["bindings"];
        assert_eq!(bindings[0]["name"], "notes");
        assert_eq!(bindings[0]["interface"], "notes.capnp:Notes");
        assert!(bindings[0].get("kind").is_none(), "{report}");
        assert_eq!(bindings[1]["kind"], "fs");
        assert_eq!(bindings[1]["policy"]["volume"], "docs");
        assert_eq!(bindings[1]["policy"]["read_only"], true);
        assert_eq!(bindings[2]["kind"], "kv");
        assert_eq!(report["interfaces"][0]["reached_by"], "env.notes");
        assert_eq!(report["interfaces"][0]["methods"][0]["doc"], "One note.");
        assert_eq!(report["limits"]["cpuTimeMs"]["value"], 1000);
        let too_high =
            WorkerCode::new("main.js", "export default {}").limits(caplet_client::Limits {
                cpu_time_ms: Some(u32::MAX),
                ..caplet_client::Limits::default()
            });
        let error = conn.audit(&too_high).await.unwrap_err().to_string();
        assert!(error.contains("limit_too_high: cpuTimeMs"), "{error}");
    });
}

/// A capability that is never called.
struct NoRevoker;

impl caplet::caplet_capnp::revoker::Server for NoRevoker {}
