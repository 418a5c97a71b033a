//! Measures how long compiling a schema takes: `cargo run --release -p caplet-capnp-js --example compile_time`.
use std::time::Instant;

fn main() {
    let text = include_str!("../tests/schemas/test.capnp");
    for i in 0..3 {
        let t = Instant::now();
        let r =
            caplet_capnp_js::compile::compile_schema(&[("test.capnp", text)], "test.capnp:Derived");
        println!(
            "compile #{i}: {:?} ({} nodes)",
            t.elapsed(),
            r.as_ref().map(|c| c.schema.len()).unwrap_or(0)
        );
        if let Err(e) = r {
            println!("error: {e}");
        }
    }
    let t = Instant::now();
    let r = caplet_capnp_js::compile::compile_schema(
        &[(
            "bad.capnp",
            "@0xd7c2a1e0b9f84c64;\nstruct X {\n  a @0 :Txt;\n}\n",
        )],
        "bad.capnp:X",
    );
    println!(
        "bad: {:?} {:?}",
        t.elapsed(),
        r.err().map(|e| e.to_string())
    );
    let r = caplet_capnp_js::compile::compile_schema(
        &[("bad.capnp", "struct X {\n  a @0 Text;\n}\n")],
        "bad.capnp:X",
    );
    println!("bad2: {:?}", r.err().map(|e| e.to_string()));
}
