//! The plugin in the extism host, as the bench drives it: compiled once, a fresh instance per
//! measured call, and calls made on the raw `Plugin` so that the harness's schema checks (done
//! afterwards, outside the timers) are not part of what is measured.

use crate::build::{ensure_plugin_built, workspace_root};
use crate::host::{default_manifest_path, load_manifest, ALLOW_API_URL};
use extism::{CompiledPlugin, Manifest, Plugin, PluginBuilder, Wasm};
use std::path::PathBuf;

/// The built `.wasm` and its bytes.
pub fn plugin_wasm() -> Result<(PathBuf, Vec<u8>), String> {
    let path = ensure_plugin_built()?;
    let bytes = std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok((path, bytes))
}

/// The shipped `manifest.json` with the module given as bytes, and `allow_api_url` (plus its
/// host in `allowed_hosts`) set as an operator would for the replay server.
pub fn manifest(wasm: &[u8], allow_api_url: Option<&str>) -> Result<Manifest, String> {
    let shipped = load_manifest(&default_manifest_path())?;
    let mut manifest = Manifest::new([Wasm::data(wasm.to_vec())]);
    manifest.memory = shipped.memory;
    manifest.timeout_ms = shipped.timeout_ms;
    manifest.allowed_hosts = shipped.allowed_hosts;
    manifest.config = shipped.config;
    if let Some(url) = allow_api_url {
        manifest.config.insert(ALLOW_API_URL.to_string(), url.to_string());
        manifest.allowed_hosts.get_or_insert_with(Vec::new).push("127.0.0.1".to_string());
    }
    Ok(manifest)
}

/// Compiles without extism's on-disk cache, so every compile is a cold one.
pub fn compile(manifest: &Manifest, config: Option<wasmtime::Config>) -> Result<CompiledPlugin, String> {
    let mut builder = PluginBuilder::new(manifest.clone()).with_cache_disabled();
    if let Some(config) = config {
        builder = builder.with_wasmtime_config(config);
    }
    builder.compile().map_err(|error| format!("the plugin could not be compiled: {error:#}"))
}

pub fn instantiate(compiled: &CompiledPlugin) -> Result<Plugin, String> {
    Plugin::new_from_compiled(compiled).map_err(|error| format!("the plugin could not be instantiated: {error:#}"))
}

/// Calls `entry`; the error text is the plugin's error object or the host's failure.
pub fn call(plugin: &mut Plugin, entry: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    plugin.call::<&[u8], &[u8]>(entry, input).map(<[u8]>::to_vec).map_err(|error| format!("{entry} failed: {error:#}"))
}

/// extism instantiates the module on the first call; `describe` makes that happen before a
/// measured call, so what is measured is the call alone.
pub fn warm_up(plugin: &mut Plugin) -> Result<(), String> {
    call(plugin, "describe", b"{}").map(|_| ())
}

pub fn schemas() -> Result<crate::schemas::Schemas, String> {
    crate::schemas::Schemas::load(&workspace_root().join("schemas"))
}
