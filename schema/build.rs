//! Compiles every `schema/*.capnp` into Rust with the embedded Cap'n Proto
//! compiler (WebAssembly, no system `capnp` needed) and `capnpc` codegen.
//! This is the only place generated code comes from.
//!
//! The `CodeGeneratorRequest` of `schema/` (every node, as the compiler
//! wrote it) is also kept in `OUT_DIR/schema-nodes.bin`, exposed as
//! `caplet::SCHEMA_NODES`: the broker sends the nodes of the built-in
//! interfaces to isolate-hosts from it.
//!
//! The schemas of the end-to-end tests (`tests/schemas/*.capnp`) are
//! compiled the same way into `OUT_DIR`, where only the tests include them;
//! they are never part of the library. Each folder's `CodeGeneratorRequest`
//! (the compiled schema nodes) is also written to
//! `OUT_DIR/<folder>.request.bin`.

use std::collections::HashMap;
use std::path::PathBuf;

fn main() {
    let request = generate("schema");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"))
        .join("schema-nodes.bin");
    std::fs::write(&out, request).expect("write schema-nodes.bin");
    generate("tests/schemas");
}

/// Compiles every `.capnp` file of `folder` into `OUT_DIR`; returns the
/// serialized `CodeGeneratorRequest`.
fn generate(folder: &str) -> Vec<u8> {
    println!("cargo:rerun-if-changed={folder}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{folder}/ folder is unreadable: {e}"))
        .map(|entry| entry.expect("schema folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "capnp"))
        .collect();
    files.sort();

    let mut compile = capnpc_embedded::CompileCommand::new();
    compile.src_prefix(folder);
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        compile.file(file);
    }
    let request = compile
        .compile()
        .unwrap_or_else(|e| panic!("schema compilation failed: {e}"));

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    // The compiled nodes themselves, for code that sends schemas at run time.
    let request_file = out_dir.join(format!("{}.request.bin", folder.replace('/', "_")));
    std::fs::write(&request_file, &request)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", request_file.display()));

    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(&out_dir)
        // `/capnp/schema.capnp` (used for compiled interface schemas) is provided by the capnp crate.
        .crates_provide_map(HashMap::from([(0xa93fc509624c72d9, "capnp".to_string())]))
        .run(&request[..])
        .expect("capnp code generation failed");
    request
}
