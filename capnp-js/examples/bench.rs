//! Encode+decode throughput for a typical params struct:
//! `cargo run --release -p caplet-capnp-js --example bench`.
use std::time::Instant;

use caplet_capnp_js::codec::{self, NoCaps};
use capnp::{any_pointer, message};
use rquickjs::{Context, Runtime, Value};

fn main() {
    let text = include_str!("../tests/schemas/test.capnp");
    let compiled =
        caplet_capnp_js::compile_schema(&[("test.capnp", text)], "test.capnp:Shop").unwrap();
    let schema = &compiled.schema;
    let shop = compiled.interface_id;
    let rt = Runtime::new().unwrap();
    let ctx = Context::full(&rt).unwrap();
    ctx.with(|ctx| {
        for (label, src) in [
            ("small params (3 fields)", r#"({ count: 3, kind: "green", shape: { square: 2 } })"#),
            (
                "params with list of 2 structs, text, bigint",
                r#"({ count: 3, kind: "green", items: [{ price: 1.25, name: "apple" }, { price: 2, name: "pear" }],
                     shape: { circle: 1.5 }, big: 123456789012n, name: "a name", flag: true })"#,
            ),
        ] {
            let v: Value = ctx.eval(src).unwrap();
            let n = 200_000;
            let start = Instant::now();
            for _ in 0..n {
                let mut msg = message::Builder::new_default();
                codec::write_params(&ctx, schema, shop, 0, &v, msg.init_root(), &mut NoCaps).unwrap();
                let reader = msg.get_root_as_reader::<any_pointer::Reader<'_>>().unwrap();
                let obj = codec::read_params(&ctx, schema, shop, 0, reader, &mut NoCaps).unwrap();
                std::hint::black_box(obj);
            }
            let el = start.elapsed();
            println!(
                "{label}: {:.0} encode+decode/s ({:.2} µs each)",
                n as f64 / el.as_secs_f64(),
                el.as_secs_f64() * 1e6 / n as f64
            );
            let start = Instant::now();
            for _ in 0..n {
                let mut msg = message::Builder::new_default();
                codec::write_params(&ctx, schema, shop, 0, &v, msg.init_root(), &mut NoCaps).unwrap();
                std::hint::black_box(&msg);
            }
            let el = start.elapsed();
            println!("  encode only: {:.2} µs each", el.as_secs_f64() * 1e6 / n as f64);
        }
    });
}
