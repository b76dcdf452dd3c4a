//! `sync` as a workflow step runs it: call, resume with the token until complete (waiting when
//! Auvik throttles), call again with the last token after a trap, and hand back one output.

use crate::host::{CallError, PluginHost};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// Most calls before giving up (a sync that never completes is a bug, not a wait).
    pub max_calls: u32,
    /// Most traps in a row before giving up.
    pub max_traps_in_a_row: u32,
    /// Longest wait honoured for `retry_after_seconds`.
    pub max_wait: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions { max_calls: 10_000, max_traps_in_a_row: 5, max_wait: Duration::from_secs(900) }
    }
}

/// What a loop did, besides its output.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LoopReport {
    pub calls: u32,
    pub traps: u32,
    pub waited: Duration,
}

/// Runs `sync` with `input` to completion. The returned output is the last call's, with the
/// device lists of every call merged into it when `include_devices` was asked.
pub fn sync_to_completion(
    host: &mut PluginHost,
    input: &Value,
    options: &LoopOptions,
    mut on_event: impl FnMut(&str),
) -> Result<(Value, LoopReport), CallError> {
    let mut report = LoopReport::default();
    let mut token: Option<Value> = input.get("resume_token").cloned().filter(|token| !token.is_null());
    let mut devices: HashMap<String, Vec<Value>> = HashMap::new();
    let mut traps_in_a_row = 0;
    loop {
        if report.calls >= options.max_calls {
            return Err(CallError::Trap(format!("sync did not complete in {} calls", options.max_calls)));
        }
        let mut call_input = input.clone();
        if let Some(token) = &token {
            call_input["resume_token"] = token.clone();
        }
        report.calls += 1;
        // The plugin judges its own input, so a workflow step gets its field-naming `invalid_input`.
        let output = match host.call_raw("sync", call_input.to_string().as_bytes()) {
            Ok(output) => output,
            Err(CallError::Trap(text)) if traps_in_a_row < options.max_traps_in_a_row => {
                traps_in_a_row += 1;
                report.traps += 1;
                on_event(&format!("the call trapped ({text}); calling again with the last resume token"));
                continue;
            }
            Err(other) => return Err(other),
        };
        traps_in_a_row = 0;
        for account in output["accounts"].as_array().into_iter().flatten() {
            if let (Some(id), Some(list)) = (account["account_id"].as_str(), account["devices"].as_array()) {
                devices.entry(id.to_string()).or_default().extend(list.iter().cloned());
            }
        }
        if output["complete"] == true {
            return Ok((merge_devices(output, devices), report));
        }
        token = Some(output["resume_token"].clone());
        if let Some(seconds) = output["retry_after_seconds"].as_u64() {
            let wait = Duration::from_secs(seconds).min(options.max_wait);
            on_event(&format!("Auvik asked to wait; waiting {} s before resuming", wait.as_secs()));
            std::thread::sleep(wait);
            report.waited += wait;
        }
    }
}

fn merge_devices(mut output: Value, mut devices: HashMap<String, Vec<Value>>) -> Value {
    for account in output["accounts"].as_array_mut().into_iter().flatten() {
        if account.get("devices").is_some() {
            let id = account["account_id"].as_str().unwrap_or("").to_string();
            account["devices"] = json!(devices.remove(&id).unwrap_or_default());
        }
    }
    output
}

/// The message of a captured plugin log line, without the timestamp and plugin id.
pub fn log_message(line: &str) -> &str {
    let message = line.split_once("extism::pdk: ").map_or(line, |(_, message)| message);
    let message = message.rsplit_once(" plugin=").map_or(message, |(message, _)| message);
    message.trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_lose_their_decoration() {
        let line = "2026-12-04T16:12:27.657346Z  INFO extism::pdk: sync: 9 tenants, 6 accounts selected plugin=\"c23e\"\n";
        assert_eq!(log_message(line), "sync: 9 tenants, 6 accounts selected");
        assert_eq!(log_message("plain"), "plain");
    }

    #[test]
    fn devices_of_every_call_are_merged_into_the_last_output() {
        let last = json!({"accounts": [{"account_id": "a", "devices": [{"id": 3}]}, {"account_id": "b"}]});
        let earlier = HashMap::from([("a".to_string(), vec![json!({"id": 1}), json!({"id": 2}), json!({"id": 3})])]);
        let merged = merge_devices(last, earlier);
        assert_eq!(merged["accounts"][0]["devices"], json!([{"id": 1}, {"id": 2}, {"id": 3}]));
        assert!(merged["accounts"][1].get("devices").is_none());
    }
}
