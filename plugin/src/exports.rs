//! The Wasm entry points: read the input, call one module, write JSON or the error object.
//! Named exports like `connect` would clash with libc natively, hence Wasm only.

use crate::auvik::{HttpResponse, Transport};
use crate::error::{ErrorCode, PluginError};
use extism_pdk::{config, http, plugin_fn, FnResult, HttpRequest, WithReturnCode};
use serde::Serialize;

/// Config key through which the host operator (never an input) may allow one other base URL,
/// such as a loopback replay server.
const ALLOW_API_URL: &str = "allow_api_url";

struct HostHttp;

impl Transport for HostHttp {
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, PluginError> {
        let mut request = HttpRequest::new(url).with_method("GET");
        for (name, value) in headers {
            request = request.with_header(*name, *value);
        }
        let response = http::request::<()>(&request, None)
            .map_err(|error| PluginError::new(ErrorCode::UpstreamError, format!("the host could not complete the request: {error}")))?;
        let copied = HttpResponse {
            status: response.status_code(),
            body: response.body(),
            headers: response.headers().iter().map(|(name, value)| (name.to_ascii_lowercase(), value.clone())).collect(),
        };
        // The body also sits in the host's memory until freed; without this every page of a
        // sync stays there and 100,000 devices no longer fit the manifest's 64 MiB.
        response.into_memory().free();
        Ok(copied)
    }
}

fn allowed_api_url() -> Option<String> {
    config::get(ALLOW_API_URL).ok().flatten().filter(|url| !url.is_empty())
}

fn respond<T: Serialize>(result: Result<T, PluginError>) -> FnResult<Vec<u8>> {
    let failure = |error: PluginError| WithReturnCode::new(extism_pdk::Error::msg(error.to_json()), 1);
    let output = result.map_err(failure)?;
    serde_json::to_vec(&output)
        .map_err(|error| failure(PluginError::new(ErrorCode::MalformedResponse, format!("the output could not be written: {error}"))))
}

#[plugin_fn]
pub fn connect(input: Vec<u8>) -> FnResult<Vec<u8>> {
    respond(crate::input::parse(&input).and_then(|input| crate::connect::run(input, allowed_api_url().as_deref(), &mut HostHttp)))
}

#[plugin_fn]
pub fn sync(input: Vec<u8>) -> FnResult<Vec<u8>> {
    respond(crate::input::parse(&input).and_then(|input| crate::sync::run(input, allowed_api_url().as_deref(), &mut HostHttp)))
}

#[plugin_fn]
pub fn map(input: Vec<u8>) -> FnResult<Vec<u8>> {
    respond(crate::input::parse(&input).and_then(crate::mapping::map))
}

#[plugin_fn]
pub fn describe(_input: Vec<u8>) -> FnResult<Vec<u8>> {
    respond(Ok(crate::describe::describe()))
}
