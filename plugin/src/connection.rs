//! Where and as whom the plugin talks to Auvik: the API URL check that runs before any request,
//! and credentials that cannot be printed.

use crate::error::{ErrorCode, PluginError, Result};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;

/// `connection` in the input of `connect` and `sync`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    /// The Auvik API base URL of the account's region, `https://auvikapi.<region>.my.auvik.com`.
    #[schemars(example = &"https://auvikapi.us1.my.auvik.com")]
    pub api_url: String,
    /// The Auvik user's login e-mail.
    #[schemars(example = &"billing@msp.example", length(max = 320))]
    pub username: String,
    /// The API key generated on that user's Auvik profile page. Never echoed back.
    pub api_key: ApiKey,
}

/// A secret that prints as `<redacted>` and cannot be serialized, so no output, log or error
/// can carry it by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for ApiKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// Reads the key as a string. A key given as a number is refused without the number, which
/// serde would otherwise quote in the error.
struct KeyVisitor;

impl serde::de::Visitor<'_> for KeyVisitor {
    type Value = ApiKey;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> std::result::Result<ApiKey, E> {
        Ok(ApiKey(key.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, key: String) -> std::result::Result<ApiKey, E> {
        Ok(ApiKey(key))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<ApiKey, E> {
        Err(E::invalid_type(serde::de::Unexpected::Other("a number"), &self))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<ApiKey, E> {
        Err(E::invalid_type(serde::de::Unexpected::Other("a number"), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<ApiKey, E> {
        Err(E::invalid_type(serde::de::Unexpected::Other("a number"), &self))
    }
}

impl JsonSchema for ApiKey {
    fn schema_name() -> Cow<'static, str> {
        "ApiKey".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_API_KEY_CHARS,
            "writeOnly": true,
            "description": "The Auvik API key. Sent only as HTTP Basic auth to the validated api_url; never returned, logged or put in a resume token."
        })
    }
}

/// Longer than any e-mail address (320) or Auvik API key. Both travel in the header of every
/// request, where megabytes would only be refused by Auvik or a proxy.
pub const MAX_USERNAME_CHARS: usize = 320;
pub const MAX_API_KEY_CHARS: usize = 1024;

/// Validated base URL: scheme and authority only, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The credentials a request is signed with, checked once.
#[derive(Clone)]
pub struct Credentials {
    pub base_url: BaseUrl,
    pub username: String,
    authorization: ApiKey,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The `Authorization` header value. The only place the key leaves its wrapper.
    pub fn authorization_header(&self) -> &str {
        self.authorization.expose()
    }
}

/// Checks the connection before any request: the URL must be an Auvik API URL, or exactly the
/// base URL the host operator allowed through the `allow_api_url` config key.
pub fn validate_connection(input: &ConnectionInput, allow_api_url: Option<&str>) -> Result<Credentials> {
    let base_url = validate_api_url(&input.api_url, allow_api_url)?;
    let username = input.username.trim();
    if username.is_empty() {
        return Err(PluginError::invalid_input("connection.username", "must not be empty"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(PluginError::invalid_input("connection.username", format!("must be at most {MAX_USERNAME_CHARS} characters")));
    }
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(PluginError::invalid_input(
            "connection.username",
            "must not contain ':' or control characters (HTTP Basic auth cannot carry them)",
        ));
    }
    let key = input.api_key.expose();
    if key.trim().is_empty() {
        return Err(PluginError::invalid_input("connection.api_key", "must not be empty"));
    }
    if key.chars().count() > MAX_API_KEY_CHARS {
        return Err(PluginError::invalid_input("connection.api_key", format!("must be at most {MAX_API_KEY_CHARS} characters")));
    }
    if key.chars().any(char::is_control) {
        return Err(PluginError::invalid_input("connection.api_key", "must not contain control characters"));
    }
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{key}"));
    Ok(Credentials {
        base_url,
        username: username.to_string(),
        authorization: ApiKey(format!("Basic {token}")),
    })
}

pub fn validate_api_url(raw: &str, allow_api_url: Option<&str>) -> Result<BaseUrl> {
    let trimmed = raw.strip_suffix('/').unwrap_or(raw);
    // The operator may allow several exact base URLs, separated by spaces or commas.
    let allowed = allow_api_url.unwrap_or("").split([' ', ',', '\n', '\t']).filter(|url| !url.is_empty());
    for allowed in allowed {
        let allowed = allowed.strip_suffix('/').unwrap_or(allowed);
        // An entry of just "/" must not let an empty api_url through.
        if !allowed.is_empty() && trimmed == allowed {
            return Ok(BaseUrl(trimmed.to_string()));
        }
    }
    let refuse = |why: &str| {
        PluginError::new(
            ErrorCode::InvalidApiUrl,
            format!(
                "connection.api_url: expected https://auvikapi.<region>.my.auvik.com (region letters and digits, e.g. us1, eu2), got {:?}: {why}",
                shorten(raw)
            ),
        )
    };
    let host = trimmed.strip_prefix("https://").ok_or_else(|| refuse("the scheme must be https"))?;
    if host.contains(['/', '?', '#', '@', ':', '\\']) {
        return Err(refuse("no path, query, port or user info is allowed"));
    }
    let host = host.to_ascii_lowercase();
    let region = host
        .strip_prefix("auvikapi.")
        .and_then(|rest| rest.strip_suffix(".my.auvik.com"))
        .ok_or_else(|| refuse("the host must be auvikapi.<region>.my.auvik.com"))?;
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse("the region must be letters and digits"));
    }
    Ok(BaseUrl(format!("https://{host}")))
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 120;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str) -> ConnectionInput {
        ConnectionInput { api_url: url.into(), username: "billing@msp.example".into(), api_key: ApiKey::new("s3cret-key") }
    }

    #[test]
    fn accepts_any_region_with_or_without_trailing_slash() {
        for (url, base) in [
            ("https://auvikapi.us1.my.auvik.com", "https://auvikapi.us1.my.auvik.com"),
            ("https://auvikapi.eu2.my.auvik.com/", "https://auvikapi.eu2.my.auvik.com"),
            ("https://auvikapi.lnx.my.auvik.com", "https://auvikapi.lnx.my.auvik.com"),
            ("https://AUVIKAPI.US6.MY.AUVIK.COM", "https://auvikapi.us6.my.auvik.com"),
        ] {
            assert_eq!(validate_api_url(url, None).unwrap().as_str(), base, "{url}");
        }
    }

    #[test]
    fn refuses_look_alikes_and_other_shapes() {
        for url in [
            "http://auvikapi.us1.my.auvik.com",
            "https://auvikapi.us1.my.auvik.com.evil.example",
            "https://auvikapi.us1.my.auvik.com@evil.example",
            "https://user:pw@auvikapi.us1.my.auvik.com",
            "https://auvikapi.us1.my.auvik.com/v1",
            "https://auvikapi.us1.my.auvik.com:8443",
            "https://auvikapi.us1.my.auvik.com?x=1",
            "https://auvikapi.us-1.my.auvik.com",
            "https://auvikapi..my.auvik.com",
            "https://evilauvikapi.us1.my.auvik.com",
            "https://acme.us1.my.auvik.com",
            "https://auvikapi.us1.my.auvik.com//",
            "",
            "https://127.0.0.1:8080",
        ] {
            let err = validate_api_url(url, None).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidApiUrl, "{url}");
            assert!(err.message.starts_with("connection.api_url"), "{}", err.message);
        }
    }

    #[test]
    fn only_the_exact_operator_allowed_url_passes() {
        let allowed = Some("http://127.0.0.1:4321");
        assert_eq!(validate_api_url("http://127.0.0.1:4321/", allowed).unwrap().as_str(), "http://127.0.0.1:4321");
        assert!(validate_api_url("http://127.0.0.1:4322", allowed).is_err());
        assert!(validate_api_url("http://127.0.0.1:4321/v1", allowed).is_err());
        assert!(validate_api_url("", Some("")).is_err());
        let two = Some("http://127.0.0.1:1, http://127.0.0.1:2/");
        assert!(validate_api_url("http://127.0.0.1:1", two).is_ok());
        assert!(validate_api_url("http://127.0.0.1:2", two).is_ok());
        assert!(validate_api_url("http://127.0.0.1:1, http://127.0.0.1:2", two).is_err());
        for allowed in ["/", "http://127.0.0.1:1, /", " / "] {
            for empty in ["", "/"] {
                assert!(validate_api_url(empty, Some(allowed)).is_err(), "{empty:?} with {allowed:?}");
            }
        }
    }

    #[test]
    fn the_key_never_prints() {
        let creds = validate_connection(&input("https://auvikapi.us1.my.auvik.com"), None).unwrap();
        let shown = format!("{creds:?} {:?} {}", input("x").api_key, input("x").api_key);
        assert!(!shown.contains("s3cret-key"), "{shown}");
        let basic = base64::engine::general_purpose::STANDARD.encode("billing@msp.example:s3cret-key");
        assert!(!shown.contains(&basic), "{shown}");
        assert_eq!(creds.authorization_header(), format!("Basic {basic}"));
    }

    #[test]
    fn refuses_empty_or_unsendable_credentials() {
        let mut bad = input("https://auvikapi.us1.my.auvik.com");
        bad.username = " ".into();
        assert!(validate_connection(&bad, None).unwrap_err().message.starts_with("connection.username"));
        bad.username = "a:b".into();
        assert!(validate_connection(&bad, None).unwrap_err().message.starts_with("connection.username"));
        let mut bad = input("https://auvikapi.us1.my.auvik.com");
        bad.api_key = ApiKey::new("line\r\nX-Evil: 1");
        let err = validate_connection(&bad, None).unwrap_err();
        assert!(err.message.starts_with("connection.api_key"));
        assert!(!err.message.contains("X-Evil"));
    }

    #[test]
    fn refuses_credentials_too_long_for_a_header_without_echoing_them() {
        let mut bad = input("https://auvikapi.us1.my.auvik.com");
        bad.username = "u".repeat(MAX_USERNAME_CHARS);
        assert!(validate_connection(&bad, None).is_ok());
        bad.username = format!("{}@x", "u".repeat(5_000_000));
        let err = validate_connection(&bad, None).unwrap_err();
        assert_eq!(err.message, "connection.username: must be at most 320 characters");
        let mut bad = input("https://auvikapi.us1.my.auvik.com");
        bad.api_key = ApiKey::new("k".repeat(MAX_API_KEY_CHARS + 1));
        let err = validate_connection(&bad, None).unwrap_err();
        assert_eq!(err.message, "connection.api_key: must be at most 1024 characters");
    }

    #[test]
    fn a_key_of_the_wrong_type_is_not_quoted() {
        for (key, shown) in [("123456789012", "a number"), ("-98765432101", "a number"), ("1.25e3", "a number"), ("[\"s3cret\"]", "sequence")] {
            let text = format!("{{\"api_url\": \"x\", \"username\": \"u\", \"api_key\": {key}}}");
            let error = serde_json::from_str::<ConnectionInput>(&text).unwrap_err().to_string();
            assert!(error.starts_with(&format!("invalid type: {shown}, expected a string")), "{error}");
            for secret in ["123456789012", "98765432101", "1.25", "1250", "s3cret"] {
                assert!(!error.contains(secret), "{error}");
            }
        }
        let key: ApiKey = serde_json::from_str("\"s3cret\"").unwrap();
        assert_eq!(key.expose(), "s3cret");
    }
}
