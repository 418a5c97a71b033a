//! placeholder
pub mod codec;
pub mod compile;
pub mod schema;
