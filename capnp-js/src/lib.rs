//! # caplet-capnp-js
//!
//! A schema-driven codec between JavaScript values (QuickJS, through
//! `rquickjs`) and Cap'n Proto messages, for interface schemas that are only
//! known at run time: a client hands the broker an interface's `.capnp`
//! source or compiled nodes, and JavaScript calls it with plain objects.
//! (capnp-rust's reflection only covers schemas compiled into the binary.)
//!
//! * [`schema`] — [`SchemaSet`]: owned schema nodes with precomputed struct
//!   layouts, enum tables and interface method tables (inherited methods
//!   resolved), and [`SchemaSet::check_interface`], which refuses generics and
//!   `AnyPointer` anywhere an interface can reach.
//! * [`compile`] — compiles `.capnp` source at run time with the embedded
//!   compiler ([`compile::compile_schema`], cached by [`compile::SchemaCompiler`]).
//! * [`codec`] — [`codec::write_struct`] (JS → capnp) and
//!   [`codec::read_struct`] (capnp → JS), plus [`codec::write_params`],
//!   [`codec::read_params`], [`codec::write_results`], [`codec::read_results`]
//!   for a method given `(interface id, method ordinal)`. Capabilities go
//!   through the integrator's [`codec::CapWriter`] / [`codec::CapReader`].
//! * [`json_schema`] — the same bindings as an MCP tool list (one tool per
//!   method, params as JSON Schema), to measure against the declarations;
//!   and [`json_schema::inline_refs`], which writes out the `$ref`s of an
//!   upstream MCP tool's schema so it can be declared.
//! * [`typescript`] — TypeScript declarations of a worker's `env` from its
//!   bindings' schemas, with their doc comments as JSDoc.
//!
//! ## Type mapping
//!
//! | Cap'n Proto | JavaScript written (accepted) | JavaScript read |
//! | --- | --- | --- |
//! | `Void` | `null` or `undefined` | `null` |
//! | `Bool` | `boolean` | `boolean` |
//! | `Int8`, `Int16`, `Int32`, `UInt8`, `UInt16`, `UInt32` | integral `number` in range (`-0` is 0) | `number` |
//! | `Int64`, `UInt64` | `bigint` in range, or a safe-integer `number` | `bigint` (always) |
//! | `Float32` | `number` (NaN, ±Infinity, -0 kept; finite values beyond Float32 are refused) | `number` |
//! | `Float64` | `number` (NaN, ±Infinity, -0 kept) | `number` |
//! | `Text` | `string` (lone surrogates are refused: no UTF-8 form) | `string` |
//! | `Data` | `Uint8Array`, any other typed array (its bytes), or `ArrayBuffer` | `Uint8Array` (a copy) |
//! | enum | enumerant name `string`; a raw ordinal `number` is accepted too | name; an ordinal this schema does not know reads as its `number` |
//! | struct | plain object | plain object with every field |
//! | group | nested plain object | nested plain object |
//! | union (named or not) | exactly one member property set | only the active member is present |
//! | `List(T)` | `Array` of `T` (every list kind, lists of lists, of structs, …) | `Array` |
//! | interface | whatever the [`codec::CapWriter`] accepts | whatever the [`codec::CapReader`] makes |
//!
//! Writing:
//! * Only own enumerable string-keyed properties are read. A property whose
//!   value is `undefined` counts as absent; a name that is not a field is a
//!   `TypeError` naming it (`params.extra: no such field in Params`).
//! * Absent fields take the schema default on read (data fields are stored
//!   XORed with their defaults, exactly as Cap'n Proto does, so an absent
//!   field is all zero bits on the wire).
//! * `null` for a Text, Data, List, struct or interface field leaves the
//!   pointer null (it reads back as the default); `null` for any other type
//!   is a `TypeError`. Inside a union, `null` selects a `Void` member.
//! * In a list, `null` is a null element for pointer element types (Text,
//!   Data, lists, interfaces); a hole or `undefined` element is an error.
//! * Every union must have exactly one member set, also a union inside an
//!   omitted group: `params.shape: exactly one of circle, square must be set`.
//! * Errors carry the full path and are never silent:
//!   `params.items[3].price: expected number, got string`,
//!   `params.count: 300 out of range for UInt8`,
//!   `params.kind: unknown enumerant "blue" for enum Color`.
//!   Type problems throw as `TypeError`, range problems as `RangeError`
//!   ([`codec::CodecError::throw`]); an exception thrown by JavaScript during
//!   conversion (a getter) propagates unchanged.
//! * Size and nesting are bounded ([`codec::Limits`]: 64 MiB, depth 64 by
//!   default), which also stops cyclic objects.
//!
//! Reading:
//! * A null pointer reads as the field's schema default when it has one;
//!   otherwise Text reads as `""`, Data as an empty `Uint8Array`, a list as
//!   `[]`, and a struct or interface as `null` (a struct is not expanded to
//!   its defaults: that would not terminate for recursive types, and `null`
//!   keeps "absent" visible). The root struct always reads as an object.
//! * Text that is not valid UTF-8 is an error naming the field.
//! * A union whose discriminant this schema does not know (a newer sender)
//!   shows no member.
//!
//! ## Speed
//!
//! Field tables (offsets, defaults, names, union members) are computed once
//! per [`SchemaSet`]. A call allocates one `String` per property name read
//! from a JS object and nothing per field on the Rust side otherwise; paths
//! are only formatted when an error is reported. `examples/bench.rs`
//! measures encode+decode round trips per second.
//!
//! Compiling a schema is much slower (the compiler is WebAssembly run by an
//! interpreter): about 55 ms for `tests/schemas/test.capnp` in a release
//! build (`examples/compile_time.rs`; ~85 ms in a debug build, whose profile
//! optimises the wasmi crates, and ~1 s without that). Compiles are
//! serialized process-wide. Cache compiled schemas
//! ([`compile::SchemaCompiler`]) and compile off the event loop.

pub mod codec;
pub mod compile;
pub mod dynamic;
pub mod json_schema;
pub mod schema;
pub mod typescript;

pub use codec::{CapReader, CapWriter, CodecError, ErrorKind, Limits, Path};
pub use compile::{compile_schema, CompileError, Compiled, SchemaCompiler};
pub use schema::{SchemaError, SchemaSet};
