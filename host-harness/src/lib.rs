//! The test host for the auvik-sync plugin: builds and loads it through the Rust Extism host,
//! serves recorded Auvik responses on loopback, and checks every call against `schemas/`.

pub mod bench;
pub mod build;
pub mod host;
pub mod record;
pub mod replay;
pub mod report;
pub mod schemas;
pub mod secret_guard;
pub mod session;
pub mod temp_dir;
pub mod workflow;

pub use host::{CallError, HostOptions, PluginHost};
pub use session::{recordings_dir, Session};
