//! Schema sets (being split into files along their sections).

mod build;
pub use build::*;
pub(crate) use build::words_reader;
