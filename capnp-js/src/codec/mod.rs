//! The codec: JavaScript values ⇄ Cap'n Proto structs, driven by a
//! [`SchemaSet`](crate::SchemaSet). See the crate documentation for the type
//! mapping.
//!
//! * [`error`](CodecError) — [`CodecError`], [`ErrorKind`] and the [`Path`]
//!   every error names;
//! * `raw` — [`raw`]: the only use of `capnp::private` in the workspace,
//!   with its safety argument (every struct write is bounds-checked);
//! * `js` — the integrator's capability hooks ([`CapWriter`],
//!   [`CapReader`]) and the QuickJS FFI that reads strings and bytes;
//! * `write` — JS → capnp ([`write_struct`], [`Limits`]);
//! * `read` — capnp → JS ([`read_struct`]).
//!
//! Files import one way: `write` and `read` use `js`, `raw` and `error`;
//! `js` uses `raw` and `error`; `error` and `raw` use no sibling.

mod error;
mod js;
pub mod raw;
mod read;
mod write;

pub use error::{CodecError, ErrorKind, Path};
pub use js::{js_type_name, CapReader, CapWriter, NoCaps};
pub use raw::{RawPointerBuilder, RawPointerReader, RawStruct, RawStructBuilder, RawStructReader};
pub use read::{read_params, read_results, read_struct, read_struct_at};
pub use write::{write_params, write_results, write_struct, write_struct_with, Limits};
