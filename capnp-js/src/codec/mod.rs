//! The codec (being split into files along its sections).

mod write;
pub use write::*;
