//! Schema sets (being split into files along their sections).

mod build;
pub(crate) use build::words_reader;
pub use build::*;
