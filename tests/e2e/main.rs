//! End-to-end: the built `.wasm` in the Rust Extism host, talking HTTP through the host to the
//! replay server on loopback. Every output is checked against `schemas/` by the harness.

mod common;
mod connect;
mod map;
mod sync;
mod hostile;
mod reliability;
mod isolation;
mod cli;
mod record;
mod hosts;
mod bench;
