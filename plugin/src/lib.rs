//! auvik-sync: an Extism plugin that turns an MSP's Auvik account into per-client service
//! quantities and maps clients and services onto the PSA's companies and products.
//!
//! The logic lives in plain modules that build and test natively; `exports` is the only part
//! that exists in Wasm alone.

pub mod auvik;
pub mod connect;
pub mod connection;
pub mod counting;
pub mod describe;
pub mod error;
pub mod input;
pub mod mapping;
pub mod progress;
pub mod sync;
pub mod tenants;

#[cfg(target_arch = "wasm32")]
mod exports;
