//! The one error every entry point returns: a stable code a host can branch on and a message
//! that carries everything a person needs, since some hosts show only the top-level text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What went wrong, as a stable code (the README says how a host should handle each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is not what the entry point takes; nothing was sent to Auvik.
    InvalidInput,
    /// `connection.api_url` is not an Auvik API URL; nothing was sent.
    InvalidApiUrl,
    /// Auvik refused the credentials (HTTP 401). Never retried: Auvik may lock the key.
    AuthFailed,
    /// The credentials are valid but not allowed to read this data (HTTP 403).
    Forbidden,
    /// Auvik throttled the requests (HTTP 429, or a 403 that speaks of a rate limit).
    RateLimited,
    /// Auvik answered with a server error or an unexpected status.
    UpstreamError,
    /// Auvik answered with a body the plugin cannot read, or pagination that cannot be trusted.
    MalformedResponse,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::InvalidApiUrl => "invalid_api_url",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::MalformedResponse => "malformed_response",
        }
    }
}

/// `{"code": "...", "message": "..."}`: the text of a failed call, and the `error` of an
/// account that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PluginError {
    /// Stable code a host can branch on.
    pub code: ErrorCode,
    /// Everything a person needs to act on it, in one sentence or two; never a credential.
    pub message: String,
}

impl PluginError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PluginError { code, message: message.into() }
    }

    /// `field` is a path such as `billing_period.from` or `psa_companies[3].name`.
    pub fn invalid_input(field: &str, problem: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidInput, format!("{field}: {problem}"))
    }

    /// The error as the single JSON object a failed call returns.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an error of two strings always serializes")
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for PluginError {}

pub type Result<T, E = PluginError> = std::result::Result<T, E>;
