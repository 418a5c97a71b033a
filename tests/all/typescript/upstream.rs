//! The declarations of an upstream MCP server's tools checked by `tsc`:
//! `tests/mcp/typed.py` (the Python SDK's MCPServer, whose input schemas
//! hold required and optional fields, string enums, integers and numbers,
//! booleans, arrays, nullable fields and nested models as `$defs`/`$ref`)
//! is granted as `mcp:shop` to `caplet types --config`; `tsc --noEmit
//! --strict` accepts a worker that uses its tools correctly, and that
//! worker runs as typed, while a wrong argument name, a wrong type, a
//! missing required field and a value outside an enum each fail naming
//! the field.
//!
//! It needs both `tsc` and python3 with the `mcp` SDK, so it builds only
//! with both `typescript-tests` and `mcp-tests` (CI runs `typescript::`
//! with both).

use super::{data, tsc};
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// A folder with `caplet.toml`, which names `typed.py` as `[mcp_servers.shop]`.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/typed.py");
    std::fs::write(
        config(dir.path()),
        format!("[mcp_servers.shop]\ncommand = [\"python3\", {server:?}]\n"),
    )
    .expect("write caplet.toml");
    dir
}

fn config(dir: &Path) -> PathBuf {
    dir.join("caplet.toml")
}

/// The declarations of `shop=mcp:shop`, made once (each run starts the
/// upstream to list its tools).
fn shop_declarations() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let dir = config_dir();
        let out = Command::new(support::caplet_bin())
            .args(["types", "--grant", "shop=mcp:shop", "--stats", "--config"])
            .arg(config(dir.path()))
            .output()
            .expect("run caplet types");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.starts_with("declarations: "), "{stderr}");
        String::from_utf8(out.stdout).expect("UTF-8 declarations")
    })
}

/// `tsc` on the shop's declarations and `script`, in a fresh folder.
fn check(script: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("env.d.ts"), shop_declarations()).expect("write env.d.ts");
    tsc(dir.path(), script)
}

/// `tsc` refuses `script`, with an error at the first `field` in it (the
/// field's name, `NAME:`); its errors are returned.
fn refused(script: &str, field: &str) -> String {
    let (ok, output) = check(script);
    assert!(!ok, "tsc accepted {script}:\n{}", shop_declarations());
    let source = std::fs::read_to_string(data(script)).expect("read the script");
    let (line, col) = source
        .lines()
        .enumerate()
        .find_map(|(i, text)| text.find(&format!("{field}:")).map(|c| (i + 1, c + 1)))
        .unwrap_or_else(|| panic!("{field} is not in {script}"));
    assert!(
        output.contains(&format!("{script}({line},{col}): error")),
        "no error at `{field}` ({line},{col}):\n{output}"
    );
    output
}

#[test]
fn the_tools_are_declared_from_their_json_schemas() {
    let text = shop_declarations();
    assert!(text.contains("  shop: ShopTools;\n"), "{text}");
    assert!(
        text.contains(
            "  /** Places an order of `lines` for `customer`, shipped to `ship_to`. */\n"
        ),
        "{text}"
    );
    // Nested models (`$ref`s into `$defs`) are written out, with their
    // enums; fields with a default are optional, nullable ones take null.
    assert!(
        text.contains(
            "place_order(args: { customer: string; express?: boolean; \
             lines: Array<{ quantity: number; size?: \"small\" | \"large\"; sku: string; }>; \
             note?: string | null; \
             ship_to: { city: string; street: string; zip?: string | null; }; }): \
             Promise<{ id: number; lines: number; total: number; }>;"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "search(args: { limit?: number; max_price?: number | null; query: string; \
             sort?: \"price\" | \"name\"; tags?: Array<string>; }): \
             Promise<{ result: Array<string>; }>;"
        ),
        "{text}"
    );
}

#[test]
fn tsc_accepts_a_worker_using_the_tools_and_it_runs_as_typed() {
    let (ok, output) = check("shop_good.ts");
    assert!(
        ok,
        "tsc refused shop_good.ts:\n{output}\n{}",
        shop_declarations()
    );

    // The same script, run against the upstream, returns what its types say.
    let dir = config_dir();
    let out = Command::new(support::caplet_bin())
        .arg("run")
        .arg(data("shop_good.ts"))
        .args([
            "--grant",
            "shop=mcp:shop",
            "--input",
            r#"{"customer":"ann"}"#,
        ])
        .arg("--config")
        .arg(config(dir.path()))
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .expect("run caplet run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(
        result,
        json!({ "id": 7, "lines": 2, "total": 15.5, "first": "tea-1", "count": 10 }),
        "{stderr}"
    );
}

#[test]
fn tsc_rejects_a_wrong_argument_name() {
    let output = refused("shop_bad_name.ts", "limits");
    assert!(
        output.contains("'limits' does not exist in type"),
        "{output}"
    );
}

#[test]
fn tsc_rejects_a_wrong_argument_type() {
    let output = refused("shop_bad_type.ts", "limit");
    assert!(
        output.contains("Type 'string' is not assignable to type 'number'"),
        "{output}"
    );
}

#[test]
fn tsc_rejects_a_missing_required_field() {
    let output = refused("shop_missing.ts", "ship_to");
    assert!(
        output.contains("Property 'city' is missing in type '{ street: string; }'"),
        "{output}"
    );
}

#[test]
fn tsc_rejects_a_value_outside_an_enum() {
    let output = refused("shop_bad_enum.ts", "size");
    assert!(
        output.contains(
            "Type '\"medium\"' is not assignable to type '\"small\" | \"large\" | undefined'"
        ),
        "{output}"
    );
}
