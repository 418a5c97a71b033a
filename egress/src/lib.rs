//! caplet's outbound HTTP gateway: the `http` capability (`schema/http.capnp`),
//! the only way agent code reaches the network.

pub mod error;
pub mod gateway;
pub mod ip;
pub mod policy;
pub mod resolve;
pub mod secrets;
pub mod server;
pub mod url;
