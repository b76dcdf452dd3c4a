//! Talking to Auvik: the transport seam, URLs, one checked fetch, JSON:API types and paging.

pub mod client;
pub mod model;
pub mod pagination;
pub mod transport;
pub mod url;

pub use client::AuvikClient;
pub use transport::{HttpResponse, Transport};
