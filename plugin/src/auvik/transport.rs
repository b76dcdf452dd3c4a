//! The one seam between the plugin's logic and the network. In Wasm it is the host's HTTP
//! (`extism_pdk::http`); natively, benchmarks and tests plug in whatever serves the bytes.

use crate::error::PluginError;

#[derive(Debug, Clone, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// Lower-case names. Empty where the host does not pass response headers.
    pub headers: Vec<(String, String)>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

pub trait Transport {
    /// One GET. An `Err` means no HTTP response arrived at all.
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, PluginError>;
}
