//! Compiles every `schema/*.capnp` into Rust with the embedded Cap'n Proto
//! compiler (WebAssembly, no system `capnp` needed) and `capnpc` codegen.
//! This is the only place generated code comes from.

use std::collections::HashMap;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=schema");
    let mut files: Vec<PathBuf> = std::fs::read_dir("schema")
        .expect("schema/ folder is missing")
        .map(|entry| entry.expect("schema/ folder is unreadable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "capnp"))
        .collect();
    files.sort();

    let mut compile = capnpc_embedded::CompileCommand::new();
    compile.src_prefix("schema");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        compile.file(file);
    }
    let request = compile
        .compile()
        .unwrap_or_else(|e| panic!("schema compilation failed: {e}"));

    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"))
        // `/capnp/schema.capnp` (used for compiled interface schemas) is provided by the capnp crate.
        .crates_provide_map(HashMap::from([(0xa93fc509624c72d9, "capnp".to_string())]))
        .run(&request[..])
        .expect("capnp code generation failed");
}
