//! Compiles the end-to-end tests' schemas (`tests/schemas/*.capnp`) into
//! `OUT_DIR` the way `schema/build.rs` compiles the public ones; only
//! `tests/all` includes them (`caps_capnp`), the binary never does. Their
//! `CodeGeneratorRequest` (the compiled nodes, for tests that grant a
//! compiled schema) is written to `OUT_DIR/tests_schemas.request.bin`.

use std::collections::HashMap;
use std::path::PathBuf;

fn main() {
    // Cargo runs a build script in its package's folder, the root.
    let folder = "tests/schemas";
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
        compile.file(file);
    }
    let request = compile
        .compile()
        .unwrap_or_else(|e| panic!("schema compilation failed: {e}"));

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out_dir.join("tests_schemas.request.bin"), &request)
        .expect("write tests_schemas.request.bin");

    capnpc::codegen::CodeGenerationCommand::new()
        .output_directory(&out_dir)
        .crates_provide_map(HashMap::from([(0xa93fc509624c72d9, "capnp".to_string())]))
        .run(&request[..])
        .expect("capnp code generation failed");
}
