//! Compiles every `.capnp` file of this folder (`schema/`) into Rust with
//! the embedded Cap'n Proto compiler (WebAssembly, no system `capnp`
//! needed) and `capnpc` codegen. This is the only place the library's
//! generated code comes from.
//!
//! The `CodeGeneratorRequest` of `schema/` (every node, as the compiler
//! wrote it) is also kept in `OUT_DIR/schema-nodes.bin`, exposed as
//! `caplet::SCHEMA_NODES`: the broker sends the nodes of the built-in
//! interfaces to isolate-hosts from it.

use std::collections::HashMap;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // The folder itself, so that a new schema file reruns this script.
    println!("cargo:rerun-if-changed=.");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("schema/ folder is unreadable: {e}"))
        .map(|entry| entry.expect("schema folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "capnp"))
        .collect();
    files.sort();

    let mut compile = capnpc_embedded::CompileCommand::new();
    compile.src_prefix(&dir);
    for file in &files {
        compile.file(file);
    }
    let request = compile
        .compile()
        .unwrap_or_else(|e| panic!("schema compilation failed: {e}"));

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out_dir.join("schema-nodes.bin"), &request).expect("write schema-nodes.bin");

    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(&out_dir)
        // `/capnp/schema.capnp` (used for compiled interface schemas) is provided by the capnp crate.
        .crates_provide_map(HashMap::from([(0xa93fc509624c72d9, "capnp".to_string())]))
        .run(&request[..])
        .expect("capnp code generation failed");
}
