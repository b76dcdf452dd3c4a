//! Every API key that goes into the plugin is remembered, with its Basic-auth form, and every
//! output, error and log line that comes out is searched for them: a leak fails the call.
//! Because every test drives the plugin through the harness, the whole suite is scanned.

use base64::Engine;
use serde_json::Value;
use std::sync::{Mutex, Once};

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static LOG_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
type Listener = Box<dyn Fn(&str) + Send>;
static LISTENER: Mutex<Option<Listener>> = Mutex::new(None);

/// Also hands every clean log line to `listener` as it arrives (for live progress).
pub fn set_log_listener(listener: Option<Listener>) {
    *LISTENER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = listener;
}

/// Remembers `connection.api_key` of an input (and the Basic value built from it).
pub fn register_from_input(input: &Value) {
    let connection = &input["connection"];
    if let Some(key) = connection["api_key"].as_str() {
        register(key, connection["username"].as_str().unwrap_or(""));
    }
}

pub fn register(api_key: &str, username: &str) {
    // Short keys would match innocent text; real Auvik keys are long.
    if api_key.len() < 6 {
        return;
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{api_key}"));
    let mut secrets = SECRETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for secret in [api_key.to_string(), basic] {
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
}

/// `Err` naming where a remembered secret appears in `text`.
pub fn scan(text: &str, place: &str) -> Result<(), String> {
    let secrets = SECRETS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match secrets.iter().find(|secret| text.contains(secret.as_str())) {
        Some(_) => Err(format!("a credential leaked into {place}")),
        None => Ok(()),
    }
}

/// Routes the plugin's log lines (Extism logging, info and above) here, once per process.
pub fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = extism::set_log_callback(
            |line: &str| {
                if scan(line, "a log line").is_ok() {
                    if let Some(listener) = LISTENER.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
                        listener(line);
                    }
                }
                LOG_LINES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(line.to_string());
            },
            "info",
        );
    });
}

/// The log lines captured since the last call, after checking them for secrets.
pub fn take_log_lines() -> Result<Vec<String>, String> {
    let lines = std::mem::take(&mut *LOG_LINES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    for line in &lines {
        scan(line, "a plugin log line")?;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_key_and_its_basic_form() {
        register("guard-test-key-123", "someone@example");
        let basic = base64::engine::general_purpose::STANDARD.encode("someone@example:guard-test-key-123");
        assert!(scan("all clear", "x").is_ok());
        assert!(scan("oops guard-test-key-123", "an output").unwrap_err().contains("an output"));
        assert!(scan(&format!("Authorization: Basic {basic}"), "y").is_err());
        assert!(!scan("z guard-test-key-123", "z").unwrap_err().contains("guard-test-key-123"), "the report never repeats the secret");
    }
}
