//! One checked fetch: signs the request, counts it against the call's budget, turns statuses
//! into error codes, and retries an idempotent GET once, immediately, on a 5xx or an unreadable
//! body. Waiting is never done here; throttling goes back to the host with a delay.

use super::model::ErrorDocument;
use super::transport::{HttpResponse, Transport};
use crate::connection::Credentials;
use crate::error::{ErrorCode, PluginError};
use serde::de::DeserializeOwned;

pub const ACCEPT: &str = "application/vnd.api+json";

#[derive(Debug, Clone, PartialEq)]
pub enum FetchError {
    /// The request could not be made within `max_requests`; nothing was sent.
    BudgetSpent,
    /// Auvik throttled us; `retry_after_seconds` comes from `Retry-After` when the host passes it.
    RateLimited { message: String, retry_after_seconds: Option<u64> },
    Failed(PluginError),
}

impl FetchError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            FetchError::BudgetSpent => None,
            FetchError::RateLimited { .. } => Some(ErrorCode::RateLimited),
            FetchError::Failed(error) => Some(error.code),
        }
    }
}

/// What one attempt amounted to, before the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    ServerError,
    Unreadable,
    Final,
}

/// At most one immediate retry, and only for failures that a second identical GET may not
/// repeat. 401 and 403 never retry: Auvik may lock a key after repeated failures.
pub fn should_retry(attempt: Attempt, attempts_made: u32) -> bool {
    attempts_made < 2 && matches!(attempt, Attempt::ServerError | Attempt::Unreadable)
}

pub struct AuvikClient<'a> {
    transport: &'a mut dyn Transport,
    credentials: &'a Credentials,
    requests_made: u32,
    request_limit: Option<u32>,
}

impl<'a> AuvikClient<'a> {
    pub fn new(transport: &'a mut dyn Transport, credentials: &'a Credentials, request_limit: Option<u32>) -> Self {
        AuvikClient { transport, credentials, requests_made: 0, request_limit }
    }

    pub fn requests_made(&self) -> u32 {
        self.requests_made
    }

    pub fn base_url(&self) -> &str {
        self.credentials.base_url.as_str()
    }

    /// GET `path_and_query` and read the body as `T`.
    pub fn get_json<T: DeserializeOwned>(&mut self, path_and_query: &str) -> Result<T, FetchError> {
        self.get_json_resumable(path_and_query, &mut 0)
    }

    /// As [`Self::get_json`], with the failed attempts of this request kept by the caller, so
    /// that a call stopped by its budget between an attempt and its retry still retries once
    /// in the next call, and never more.
    pub fn get_json_resumable<T: DeserializeOwned>(&mut self, path_and_query: &str, attempts: &mut u32) -> Result<T, FetchError> {
        loop {
            let response = self.send(path_and_query)?;
            *attempts += 1;
            let failure = match self.check_status(path_and_query, &response) {
                Ok(()) => match serde_json::from_slice::<T>(&response.body) {
                    Ok(value) => {
                        *attempts = 0;
                        return Ok(value);
                    }
                    Err(error) => (Attempt::Unreadable, self.unreadable(path_and_query, &error)),
                },
                Err(FetchError::Failed(error)) if response.status >= 500 => (Attempt::ServerError, FetchError::Failed(error)),
                Err(other) => (Attempt::Final, other),
            };
            if !should_retry(failure.0, *attempts) {
                *attempts = 0;
                return Err(failure.1);
            }
        }
    }

    /// GET where only the status matters (`/v1/authentication/verify`). Never retried.
    pub fn get_status_ok(&mut self, path_and_query: &str) -> Result<(), FetchError> {
        let response = self.send(path_and_query)?;
        self.check_status(path_and_query, &response)
    }

    fn send(&mut self, path_and_query: &str) -> Result<HttpResponse, FetchError> {
        if self.request_limit.is_some_and(|limit| self.requests_made >= limit) {
            return Err(FetchError::BudgetSpent);
        }
        self.requests_made += 1;
        let url = format!("{}{}", self.credentials.base_url.as_str(), path_and_query);
        let headers = [("Authorization", self.credentials.authorization_header()), ("Accept", ACCEPT)];
        self.transport.get(&url, &headers).map_err(|error| FetchError::Failed(self.redact(error)))
    }

    fn check_status(&self, path: &str, response: &HttpResponse) -> Result<(), FetchError> {
        let status = response.status;
        if (200..300).contains(&status) {
            return Ok(());
        }
        let said = self.auvik_said(&response.body);
        let request = describe_request(path);
        let error = |code, text: String| Err(FetchError::Failed(self.redact(PluginError::new(code, text))));
        match status {
            401 => error(
                ErrorCode::AuthFailed,
                format!(
                    "Auvik refused the credentials (HTTP 401 on {request}). Check the username, the API key, and the region in api_url: a wrong region is redirected and arrives here as 401. Not retried, since Auvik may lock a key after repeated failures."
                ),
            ),
            429 => Err(self.rate_limited(&request, response, &said)),
            403 if said.to_ascii_lowercase().contains("rate limit") => Err(self.rate_limited(&request, response, &said)),
            403 => error(ErrorCode::Forbidden, format!("Auvik refused access (HTTP 403 on {request}){said}")),
            300..=399 => error(
                ErrorCode::UpstreamError,
                format!("Auvik redirected {request} (HTTP {status}): the region in api_url is probably wrong. Credentials are never sent on to another host."),
            ),
            _ => error(ErrorCode::UpstreamError, format!("Auvik answered HTTP {status} to {request}{said}")),
        }
    }

    fn rate_limited(&self, request: &str, response: &HttpResponse, said: &str) -> FetchError {
        let retry_after_seconds = response.header("retry-after").and_then(|value| value.trim().parse::<u64>().ok());
        FetchError::RateLimited {
            message: self.redact_text(format!("Auvik throttled {request} (HTTP {}){said}", response.status)),
            retry_after_seconds,
        }
    }

    fn unreadable(&self, path: &str, error: &serde_json::Error) -> FetchError {
        FetchError::Failed(PluginError::new(
            ErrorCode::MalformedResponse,
            format!("Auvik's answer to {} could not be read: {error}", describe_request(path)),
        ))
    }

    /// `: <detail>` from a JSON:API error body, or a short piece of a plain-text body.
    fn auvik_said(&self, body: &[u8]) -> String {
        let detail = serde_json::from_slice::<ErrorDocument>(body)
            .ok()
            .and_then(|doc| doc.errors.into_iter().next())
            .and_then(|first| first.detail.or(first.title));
        let text = match detail {
            Some(detail) => detail,
            None => String::from_utf8_lossy(body).trim().to_string(),
        };
        if text.is_empty() {
            String::new()
        } else {
            format!(": {}", truncate(&text, 300))
        }
    }

    /// Auvik never echoes credentials, but a proxy or a fake server might: scrub them anyway.
    fn redact(&self, mut error: PluginError) -> PluginError {
        error.message = self.redact_text(error.message);
        error
    }

    fn redact_text(&self, text: String) -> String {
        let header = self.credentials.authorization_header();
        let token = header.strip_prefix("Basic ").unwrap_or(header);
        if token.len() >= 4 && text.contains(token) {
            text.replace(token, "<redacted>")
        } else {
            text
        }
    }
}

fn describe_request(path: &str) -> String {
    format!("GET {}", truncate(path, 200))
}

fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{validate_connection, ApiKey, ConnectionInput};
    use std::collections::VecDeque;

    struct Scripted(VecDeque<HttpResponse>, Vec<String>);

    impl Transport for Scripted {
        fn get(&mut self, url: &str, _: &[(&str, &str)]) -> Result<HttpResponse, PluginError> {
            self.1.push(url.to_string());
            Ok(self.0.pop_front().expect("no more scripted responses"))
        }
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, body: body.as_bytes().to_vec(), headers: vec![("retry-after".into(), "17".into())] }
    }

    fn credentials() -> Credentials {
        validate_connection(
            &ConnectionInput {
                api_url: "https://auvikapi.us1.my.auvik.com".into(),
                username: "u@x".into(),
                api_key: ApiKey::new("k3y"),
            },
            None,
        )
        .unwrap()
    }

    fn fetch(script: Vec<HttpResponse>, limit: Option<u32>) -> (Result<serde_json::Value, FetchError>, usize) {
        let creds = credentials();
        let mut transport = Scripted(script.into(), vec![]);
        let result = AuvikClient::new(&mut transport, &creds, limit).get_json("/v1/tenants");
        (result, transport.1.len())
    }

    #[test]
    fn retry_table() {
        assert!(should_retry(Attempt::ServerError, 1));
        assert!(should_retry(Attempt::Unreadable, 1));
        assert!(!should_retry(Attempt::ServerError, 2));
        assert!(!should_retry(Attempt::Final, 1));
    }

    #[test]
    fn a_5xx_or_garbage_is_retried_once_then_reported() {
        let (result, sent) = fetch(vec![response(502, ""), response(200, "{\"data\":[]}")], None);
        assert_eq!((result.unwrap(), sent), (serde_json::json!({"data": []}), 2));
        let (result, sent) = fetch(vec![response(500, "boom"), response(503, "")], None);
        assert_eq!((result.unwrap_err().code(), sent), (Some(ErrorCode::UpstreamError), 2));
        let (result, sent) = fetch(vec![response(200, "{\"data\": ["), response(200, "{\"data\": [")], None);
        assert_eq!((result.unwrap_err().code(), sent), (Some(ErrorCode::MalformedResponse), 2));
    }

    #[test]
    fn an_attempt_made_in_an_earlier_call_counts_toward_the_one_retry() {
        let creds = credentials();
        let mut transport = Scripted(vec![response(500, "")].into(), vec![]);
        let mut attempts = 1;
        let result = AuvikClient::new(&mut transport, &creds, None).get_json_resumable::<serde_json::Value>("/v1/tenants", &mut attempts);
        assert_eq!(result.unwrap_err().code(), Some(ErrorCode::UpstreamError));
        assert_eq!((transport.1.len(), attempts), (1, 0));

        let mut transport = Scripted(vec![response(500, "")].into(), vec![]);
        let mut attempts = 0;
        let result = AuvikClient::new(&mut transport, &creds, Some(1)).get_json_resumable::<serde_json::Value>("/v1/tenants", &mut attempts);
        assert_eq!((result.unwrap_err(), attempts), (FetchError::BudgetSpent, 1), "the failed attempt is kept for the next call");
    }

    #[test]
    fn auth_and_permission_failures_are_never_retried() {
        let (result, sent) = fetch(vec![response(401, "")], None);
        let error = result.unwrap_err();
        assert_eq!((error.code(), sent), (Some(ErrorCode::AuthFailed), 1));
        let (result, sent) = fetch(vec![response(403, r#"{"errors":[{"detail":"not authorized for tenant 9"}]}"#)], None);
        match result.unwrap_err() {
            FetchError::Failed(error) => {
                assert_eq!(error.code, ErrorCode::Forbidden);
                assert!(error.message.contains("not authorized for tenant 9"), "{}", error.message);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sent, 1);
    }

    #[test]
    fn throttling_arrives_as_429_or_a_403_about_rate_limits() {
        for script in [response(429, ""), response(403, r#"{"errors":[{"title":"Rate limit exceeded"}]}"#)] {
            let (result, sent) = fetch(vec![script], None);
            assert_eq!(sent, 1);
            match result.unwrap_err() {
                FetchError::RateLimited { retry_after_seconds, .. } => assert_eq!(retry_after_seconds, Some(17)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_budget_stops_before_sending() {
        let (result, sent) = fetch(vec![response(500, ""), response(200, "{}")], Some(1));
        assert_eq!((result.unwrap_err(), sent), (FetchError::BudgetSpent, 1));
        let (result, sent) = fetch(vec![], Some(0));
        assert_eq!((result.unwrap_err(), sent), (FetchError::BudgetSpent, 0));
    }

    #[test]
    fn an_echoed_authorization_header_is_scrubbed() {
        let creds = credentials();
        let echoed = format!("{{\"errors\":[{{\"detail\":\"bad header {}\"}}]}}", creds.authorization_header());
        let (result, _) = fetch(vec![response(400, &echoed)], None);
        let FetchError::Failed(error) = result.unwrap_err() else { panic!() };
        assert!(!error.message.contains(creds.authorization_header().trim_start_matches("Basic ")), "{}", error.message);
    }
}
