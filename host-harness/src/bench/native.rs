//! The two references a Wasm sync is measured against, both in this process: the plugin's own
//! code compiled natively, behind a [`Transport`] over ureq (the HTTP client extism itself
//! uses), and a plain fetch of the same requests that reads every body and parses nothing.

use auvik_sync::auvik::{HttpResponse, Transport};
use auvik_sync::error::{ErrorCode, PluginError};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::io::Read;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// ureq behind the plugin's transport seam; no body limit, like the Wasm host's 32 MiB cap
/// never being reached by these accounts.
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport { agent: agent() }
    }
}

impl Transport for UreqTransport {
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, PluginError> {
        let mut request = self.agent.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let failed = |error: &dyn std::fmt::Display| PluginError::new(ErrorCode::UpstreamError, format!("the request failed: {error}"));
        let response = request.call().map_err(|error| failed(&error))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_ascii_lowercase(), value.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        response.into_body().into_reader().read_to_end(&mut body).map_err(|error| failed(&error))?;
        Ok(HttpResponse { status, body, headers })
    }
}

/// The floor: GETs `targets` (paths with queries) from `base_url` one after the other, as the
/// plugin does, reading each body to the end. Returns the bytes read.
pub fn fetch_all(base_url: &str, targets: &[String], username: &str, api_key: &str) -> Result<u64, String> {
    let agent = agent();
    let authorization = format!("Basic {}", BASE64.encode(format!("{username}:{api_key}")));
    let mut bytes = 0u64;
    let mut body = Vec::new();
    for target in targets {
        let response = agent
            .get(format!("{base_url}{target}"))
            .header("Authorization", &authorization)
            .header("Accept", "application/vnd.api+json")
            .call()
            .map_err(|error| format!("plain fetch of {target}: {error}"))?;
        if response.status() != 200 {
            return Err(format!("plain fetch of {target}: HTTP {}", response.status()));
        }
        body.clear();
        response.into_body().into_reader().read_to_end(&mut body).map_err(|error| format!("plain fetch of {target}: {error}"))?;
        bytes += body.len() as u64;
    }
    Ok(bytes)
}

/// `sync` as the Wasm export runs it: parse the input bytes, run, serialize the output.
pub fn sync(input: &[u8], allow_api_url: &str) -> Result<Vec<u8>, String> {
    let input = auvik_sync::input::parse(input).map_err(|error| error.to_json())?;
    let output = auvik_sync::sync::run(input, Some(allow_api_url), &mut UreqTransport::default()).map_err(|error| error.to_json())?;
    serde_json::to_vec(&output).map_err(|error| error.to_string())
}

/// `map` as the Wasm export runs it.
pub fn map(input: &[u8]) -> Result<Vec<u8>, String> {
    let input = auvik_sync::input::parse(input).map_err(|error| error.to_json())?;
    let output = auvik_sync::mapping::map(input).map_err(|error| error.to_json())?;
    serde_json::to_vec(&output).map_err(|error| error.to_string())
}
