use auvik_harness::{recordings_dir, CallError, Session};
use serde_json::{json, Value};

pub fn main_session() -> Session {
    Session::start(&recordings_dir("main")).unwrap_or_else(|error| panic!("{error}"))
}

pub fn expected() -> Value {
    let text = std::fs::read_to_string(recordings_dir("main").join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn sync_input(session: &Session, extra: Value) -> Value {
    let mut input = json!({ "connection": session.connection() });
    for (key, value) in extra.as_object().unwrap() {
        input[key] = value.clone();
    }
    input
}

/// The plugin's error code and message, or a panic naming what happened instead.
pub fn plugin_error(result: Result<Value, CallError>) -> (String, String) {
    match result {
        Err(CallError::Plugin { code, message }) => (code, message),
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

/// Decoded query parameter of a logged request.
pub fn param<'a>(request: &'a auvik_harness::replay::LoggedRequest, key: &str) -> Option<&'a str> {
    request.query.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
}

/// Fails if the key or its Basic-auth form appears anywhere in `text`.
pub fn assert_no_secret(session: &Session, text: &str) {
    use base64::Engine;
    let scenario = session.server.scenario();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", scenario.username, scenario.api_key));
    assert!(!text.contains(&scenario.api_key), "the API key leaked into: {text}");
    assert!(!text.contains(&basic), "the Basic auth value leaked into: {text}");
}
