//! Progress lines for the host's log. Never given anything secret: callers pass counts, tenant
//! ids and paths, not requests.

#[cfg(target_arch = "wasm32")]
pub fn info(message: impl AsRef<str>) {
    extism_pdk::info!("{}", message.as_ref());
}

#[cfg(not(target_arch = "wasm32"))]
pub fn info(_message: impl AsRef<str>) {}
