//! Loading the plugin from `manifest.json` into the Rust Extism host and calling it, with every
//! input, output and error checked against `schemas/`.

use crate::build::{ensure_plugin_built, workspace_root};
use crate::schemas::Schemas;
use crate::secret_guard;
use extism::{Manifest, Plugin, PluginBuilder, Wasm};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// The config key through which an operator allows one non-Auvik base URL (see the README).
pub const ALLOW_API_URL: &str = "allow_api_url";

#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// `manifest.json`; the workspace's when `None`.
    pub manifest: Option<PathBuf>,
    /// Base URLs the operator allows besides Auvik's, such as replay servers.
    pub allow_api_urls: Vec<String>,
    /// Hide HTTP response headers from the plugin, as some hosts do (it then cannot read
    /// `Retry-After` and uses its documented default).
    pub hide_response_headers: bool,
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The plugin's own error object `{code, message}`.
    Plugin { code: String, message: String },
    /// The call trapped or the host failed it (e.g. a connection error inside the host's HTTP).
    Trap(String),
    /// An input or output that does not fit the published schema.
    Schema(String),
    /// Requests the replay server had no recording for.
    Unanswered(Vec<String>),
    /// An API key, or its Basic-auth form, appeared in an output, an error or a log line.
    SecretLeaked(String),
}

impl CallError {
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Plugin { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Plugin { code, message } => write!(f, "{code}: {message}"),
            CallError::Trap(text) => write!(f, "the call trapped: {text}"),
            CallError::Schema(text) => write!(f, "schema violation: {text}"),
            CallError::Unanswered(requests) => write!(f, "no recording answers: {}", requests.join("; ")),
            CallError::SecretLeaked(place) => write!(f, "SECRET LEAKED: {place}"),
        }
    }
}

impl std::error::Error for CallError {}

pub struct PluginHost {
    plugin: Plugin,
    schemas: Schemas,
    log_lines: Vec<String>,
}

pub fn default_manifest_path() -> PathBuf {
    workspace_root().join("manifest.json")
}

/// Reads `manifest.json` with the extism crate's own manifest type (which refuses unknown
/// fields), with relative `.wasm` paths taken from the manifest's folder.
pub fn load_manifest(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let mut manifest: Manifest = serde_json::from_str(&text).map_err(|error| format!("{} is not an Extism manifest: {error}", path.display()))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    for wasm in &mut manifest.wasm {
        if let Wasm::File { path, .. } = wasm {
            if path.is_relative() {
                *path = folder.join(&*path);
            }
        }
    }
    Ok(manifest)
}

impl PluginHost {
    pub fn load(options: &HostOptions) -> Result<PluginHost, String> {
        let built = ensure_plugin_built()?;
        let manifest_path = options.manifest.clone().unwrap_or_else(default_manifest_path);
        let mut manifest = load_manifest(&manifest_path)?;
        if std::env::var_os(crate::build::WASM_OVERRIDE_ENV).is_some() {
            manifest.wasm = vec![Wasm::file(built)];
        }
        if !options.allow_api_urls.is_empty() {
            manifest.config.insert(ALLOW_API_URL.to_string(), options.allow_api_urls.join(" "));
            let allowed_hosts = manifest.allowed_hosts.get_or_insert_with(Vec::new);
            allowed_hosts.extend(options.allow_api_urls.iter().filter_map(|url| host_of(url)));
            allowed_hosts.dedup();
        }
        let plugin = PluginBuilder::new(manifest)
            .with_wasi(false)
            .with_http_response_headers(!options.hide_response_headers)
            .build()
            .map_err(|error| format!("the plugin could not be loaded: {error:#}"))?;
        let schemas = Schemas::load(&workspace_root().join("schemas"))?;
        secret_guard::capture_logs();
        Ok(PluginHost { plugin, schemas, log_lines: Vec::new() })
    }

    /// Plugin log lines captured during the last call (from any plugin in this process, since
    /// Extism's log hook is global).
    pub fn last_log_lines(&self) -> &[String] {
        &self.log_lines
    }

    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// Calls `entry` with `input`, which must fit the entry's input schema.
    pub fn call(&mut self, entry: &str, input: &Value) -> Result<Value, CallError> {
        secret_guard::register_from_input(input);
        let input_schema = format!("{entry}.input");
        if self.schemas.names().contains(&input_schema.as_str()) {
            self.schemas.check(&input_schema, input).map_err(CallError::Schema)?;
        }
        self.call_raw(entry, input.to_string().as_bytes())
    }

    /// Calls `entry` with any bytes, for inputs that are meant to be refused.
    pub fn call_raw(&mut self, entry: &str, input: &[u8]) -> Result<Value, CallError> {
        if let Ok(value) = serde_json::from_slice::<Value>(input) {
            secret_guard::register_from_input(&value);
        }
        let result = self.plugin.call::<&[u8], &[u8]>(entry, input).map(<[u8]>::to_vec);
        let leaked = match &result {
            Ok(bytes) => secret_guard::scan(&String::from_utf8_lossy(bytes), &format!("the output of {entry}")),
            Err(error) => secret_guard::scan(&format!("{error:#}"), &format!("the error of {entry}")),
        };
        self.log_lines = secret_guard::take_log_lines().map_err(CallError::SecretLeaked)?;
        leaked.map_err(CallError::SecretLeaked)?;
        match result {
            Ok(bytes) => {
                let output: Value = serde_json::from_slice(&bytes)
                    .map_err(|error| CallError::Schema(format!("{entry} returned something that is not JSON: {error}")))?;
                self.schemas.check(&format!("{entry}.output"), &output).map_err(CallError::Schema)?;
                Ok(output)
            }
            Err(error) => Err(self.read_error(&error.to_string())),
        }
    }

    fn read_error(&self, text: &str) -> CallError {
        #[derive(Deserialize)]
        struct Object {
            code: String,
            message: String,
        }
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return CallError::Trap(text.to_string());
        };
        if let Err(problem) = self.schemas.check("error", &value) {
            return CallError::Schema(format!("the error {text} {problem}"));
        }
        match serde_json::from_value::<Object>(value) {
            Ok(object) => CallError::Plugin { code: object.code, message: object.message },
            Err(_) => CallError::Trap(text.to_string()),
        }
    }
}

/// `127.0.0.1` of `http://127.0.0.1:4321`: what `allowed_hosts` matches on.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?.to_string(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host).to_string(),
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_take_the_bare_host() {
        assert_eq!(host_of("http://127.0.0.1:4321").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("https://auvikapi.us1.my.auvik.com/").as_deref(), Some("auvikapi.us1.my.auvik.com"));
        assert_eq!(host_of("http://[::1]:80").as_deref(), Some("::1"));
        assert_eq!(host_of("nonsense"), None);
    }

    #[test]
    fn the_manifest_is_a_strict_extism_manifest() {
        let manifest = load_manifest(&default_manifest_path()).unwrap();
        assert_eq!(manifest.allowed_hosts, Some(vec!["*.my.auvik.com".to_string()]));
        assert!(manifest.timeout_ms.is_some(), "without timeout_ms a host HTTP request never times out");
        assert!(manifest.memory.max_pages.is_some());
        assert!(manifest.config.is_empty(), "allow_api_url is for operators, never shipped");
        let Wasm::File { path, .. } = &manifest.wasm[0] else { panic!("the manifest names a file") };
        assert_eq!(path.canonicalize().ok(), crate::build::built_wasm_path().canonicalize().ok().or(path.canonicalize().ok()));
        let with_typo = r#"{"wasm": [], "allowed_host": ["x"]}"#;
        assert!(serde_json::from_str::<Manifest>(with_typo).is_err());
    }
}
