//! Resumable, bounded syncs and faults: whatever happens, an account that says `ok` has
//! exactly the right counts, and every other account says why.

use crate::common::*;
use auvik_harness::replay::{Fault, FaultKind};
use auvik_harness::{CallError, Session};
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;

fn full_input(session: &Session, include_devices: bool) -> Value {
    sync_input(session, json!({"billing_period": {"from": "2026-11-01", "thru": "2026-11-30"}, "include_devices": include_devices}))
}

/// The parts of an account result that must not depend on how the sync was split.
fn settled(output: &Value) -> Vec<Value> {
    output["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| {
            let mut account = account.clone();
            account.as_object_mut().unwrap().remove("devices");
            account
        })
        .collect()
}

fn devices_by_account(outputs: &[Value]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut devices = std::collections::BTreeMap::<String, Vec<String>>::new();
    for output in outputs {
        for account in output["accounts"].as_array().unwrap() {
            for device in account["devices"].as_array().into_iter().flatten() {
                devices.entry(account["account_id"].as_str().unwrap().to_string()).or_default().push(device.to_string());
            }
        }
    }
    for list in devices.values_mut() {
        list.sort();
    }
    devices
}

/// What a well-behaved host does: call, and on `complete: false` call again with the token;
/// on a trap, call again with the last token it had. Returns every output, or the error that
/// ended the sync (no account can be read without the tenant list, for instance).
fn try_host_loop(session: &mut Session, input: &Value, budget: Option<u32>) -> Result<Vec<Value>, CallError> {
    let mut outputs = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..300 {
        let mut call_input = input.clone();
        if let Some(budget) = budget {
            call_input["max_requests"] = json!(budget);
        }
        if let Some(token) = &token {
            call_input["resume_token"] = json!(token);
        }
        let before = session.server.request_count();
        // Faults can make the plugin narrow a batch into tenant subsets that no recording
        // covers; the server answers those 404, which must end as `unavailable`, never as a number.
        let result = session.host.call("sync", &call_input);
        for unanswered in session.server.take_unmatched() {
            assert!(unanswered.starts_with("GET /v1/inventory/device/info?tenants="), "unexpected request: {unanswered}");
        }
        match result {
            Ok(output) => {
                let made = session.server.request_count() - before;
                assert_eq!(output["stats"]["requests"], json!(made), "stats.requests counts this call's requests");
                if let Some(budget) = budget {
                    assert!(made <= budget as usize, "a call made {made} requests on a budget of {budget}");
                }
                if let Some(next) = output["resume_token"].as_str() {
                    assert_no_secret(session, next);
                    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(next).unwrap();
                    assert_no_secret(session, &String::from_utf8_lossy(&decoded));
                }
                let complete = output["complete"] == true;
                token = output["resume_token"].as_str().map(String::from);
                outputs.push(output);
                if complete {
                    return Ok(outputs);
                }
                assert!(token.is_some(), "an incomplete output carries a token");
            }
            Err(CallError::Trap(_)) => continue,
            Err(other) => return Err(other),
        }
    }
    panic!("the sync did not finish in 300 calls");
}

fn host_loop(session: &mut Session, input: &Value, budget: Option<u32>) -> Vec<Value> {
    try_host_loop(session, input, budget).unwrap_or_else(|error| panic!("the sync failed: {error}"))
}

/// A sync under faults either completes with every `ok` account exact, or fails as a whole
/// with an upstream code because the tenant list itself could not be read.
fn assert_fault_tolerant_run(session: &mut Session, input: &Value, budget: Option<u32>, context: &str) {
    match try_host_loop(session, input, budget) {
        Ok(outputs) => assert_fault_tolerant(outputs.last().unwrap()),
        Err(CallError::Plugin { code, message }) => {
            assert!(["upstream_error", "malformed_response"].contains(&code.as_str()), "{context}: {code}: {message}");
            assert!(message.contains("/v1/tenants"), "{context}: only an unreadable tenant list fails the call: {message}");
        }
        Err(other) => panic!("{context}: {other}"),
    }
}

/// Faults make the billing request name fewer tenants than any recording does, so the fault
/// runs leave billing out; billing faults have their own test.
fn devices_only(session: &Session) -> Value {
    sync_input(session, json!({}))
}

#[test]
fn any_split_of_a_sync_gives_exactly_the_counts_of_one_uninterrupted_call() {
    let mut session = main_session();
    let whole = session.call("sync", &full_input(&session, true)).unwrap();
    let total_requests = whole["stats"]["requests"].as_u64().unwrap() as u32;
    assert_eq!(whole["totals"], whole["stats"]);
    let whole_devices = devices_by_account(std::slice::from_ref(&whole));
    let device_ids: Vec<String> = whole["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|account| account["devices"].as_array().into_iter().flatten().map(|device| device["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(device_ids.len(), 44);

    for budget in 1..=total_requests + 1 {
        session.server.reset();
        let outputs = { let input = full_input(&session, true); host_loop(&mut session, &input, Some(budget)) };
        let last = outputs.last().unwrap();
        assert_eq!(settled(last), settled(&whole), "budget {budget}: the last output holds every account's final result");
        assert_eq!(last["totals"]["requests"], json!(total_requests), "budget {budget}: no request is made twice");
        assert_eq!(devices_by_account(&outputs), whole_devices, "budget {budget}: the calls' device lists add up to the whole list");
        assert_eq!(outputs.len() as u32, total_requests.div_ceil(budget), "budget {budget}");
        for output in &outputs[..outputs.len() - 1] {
            let token = output["resume_token"].as_str().unwrap();
            let decoded = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap();
            for id in &device_ids {
                assert!(!decoded.contains(id.as_str()), "a token carries no device list");
            }
        }
    }
}

#[test]
fn a_token_only_resumes_the_sync_it_was_issued_for() {
    let mut session = main_session();
    let mut input = full_input(&session, false);
    input["max_requests"] = json!(2);
    let first = session.call("sync", &input).unwrap();
    assert_eq!(first["complete"], false);
    assert!(first["accounts"].as_array().unwrap().iter().all(|account| account["status"] == "pending"));
    let token = first["resume_token"].as_str().unwrap().to_string();
    let sent = session.server.request_count();

    let mut other_options = input.clone();
    other_options["resume_token"] = json!(token);
    other_options["rollup"] = json!("customer");
    let mut other_user = input.clone();
    other_user["resume_token"] = json!(token);
    other_user["connection"]["username"] = json!("someone-else@fakemsp.example");
    for refused in [other_options, other_user] {
        let (code, message) = plugin_error(session.call("sync", &refused));
        assert_eq!(code, "invalid_input");
        assert!(message.starts_with("resume_token: was issued for another connection or other options"), "{message}");
    }
    let mut tampered = input.clone();
    tampered["resume_token"] = json!(format!("{}x", &token[..token.len() - 3]));
    let (code, message) = plugin_error(session.call("sync", &tampered));
    assert_eq!((code.as_str(), message.starts_with("resume_token:")), ("invalid_input", true), "{message}");
    let mut future = input.clone();
    future["resume_token"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"v":99,"binding":"x","state":{}}"#));
    let (_, message) = plugin_error(session.call("sync", &future));
    assert!(message.contains("format version 99"), "{message}");
    assert_eq!(session.server.request_count(), sent, "a refused token sends nothing");

    let mut rotated_key = input.clone();
    rotated_key["resume_token"] = json!(token);
    rotated_key["max_requests"] = json!(100);
    let resumed = session.call("sync", &rotated_key).unwrap();
    assert_eq!(resumed["complete"], true);
}

#[test]
fn throttling_hands_the_wait_back_to_the_host_and_resumes_exactly() {
    let mut session = main_session();
    let whole = session.call("sync", &full_input(&session, false)).unwrap();
    for (position, fault) in [
        (3, FaultKind::Status(429, String::new(), vec![("Retry-After".into(), "7".into())])),
        (1, FaultKind::Status(403, r#"{"errors":[{"title":"Rate limit exceeded"}]}"#.into(), vec![])),
        (11, FaultKind::Status(429, String::new(), vec![])),
    ] {
        session.server.reset();
        session.server.set_faults(vec![Fault { request_number: position, kind: fault }]);
        let first = session.call("sync", &full_input(&session, false)).unwrap();
        assert_eq!(first["complete"], false, "throttled at request {position}");
        let expected_wait = if position == 3 { 7 } else { 60 };
        assert_eq!(first["retry_after_seconds"], expected_wait, "Retry-After is passed on, else the documented default");
        assert!(first["paused"].as_str().unwrap().contains("throttled"));
        let mut resume = full_input(&session, false);
        resume["resume_token"] = first["resume_token"].clone();
        let last = session.call("sync", &resume).unwrap();
        assert_eq!(settled(&last), settled(&whole), "throttled at request {position}");
        session.server.set_faults(vec![]);
    }
}

#[test]
fn a_refused_key_in_the_middle_of_a_sync_stops_it_without_a_retry() {
    let mut session = main_session();
    session.server.set_faults(vec![Fault { request_number: 3, kind: FaultKind::Status(401, String::new(), vec![]) }]);
    let (code, _) = plugin_error(session.call("sync", &full_input(&session, false)));
    assert_eq!(code, "auth_failed");
    assert_eq!(session.server.request_count(), 3);
}

#[test]
fn one_server_error_is_retried_once_and_two_make_the_batch_unavailable() {
    let mut session = main_session();
    let whole = session.call("sync", &full_input(&session, false)).unwrap();
    let error = |n| Fault { request_number: n, kind: FaultKind::Status(502, "Bad Gateway".into(), vec![]) };

    session.server.reset();
    session.server.set_faults(vec![error(5)]);
    let retried = session.call("sync", &full_input(&session, false)).unwrap();
    assert_eq!(settled(&retried), settled(&whole));
    assert_eq!(retried["stats"]["requests"], whole["stats"]["requests"].as_u64().unwrap() + 1);

    // Request 5 is the first page of hooli-it (after the refused batches); twice wrong, it is
    // unavailable and everyone else is exact.
    session.server.reset();
    session.server.set_faults(vec![error(5), error(6)]);
    let output = session.call("sync", &devices_only(&session)).unwrap();
    assert_fault_tolerant(&output);
    let unavailable: Vec<&Value> = output["accounts"].as_array().unwrap().iter().filter(|a| a["status"] == "unavailable").collect();
    assert!(unavailable.iter().any(|a| a["error"]["code"] == "upstream_error"), "{unavailable:?}");
}

#[test]
fn after_a_trapped_call_the_last_token_finishes_the_sync() {
    let mut session = main_session();
    let whole = session.call("sync", &full_input(&session, false)).unwrap();
    session.server.reset();
    session.server.set_faults(vec![Fault { request_number: 4, kind: FaultKind::DropConnection }]);
    let mut input = full_input(&session, false);
    input["max_requests"] = json!(2);
    let first = session.call("sync", &input).unwrap();
    input["resume_token"] = first["resume_token"].clone();
    let trapped = session.call("sync", &input);
    assert!(matches!(trapped, Err(CallError::Trap(_))), "a dropped connection traps the call in the Rust host: {trapped:?}");
    input["max_requests"] = json!(100);
    let last = session.call("sync", &input).unwrap();
    assert_eq!(settled(&last), settled(&whole));
}

#[test]
fn a_failed_billing_read_costs_the_average_not_the_counts() {
    let mut session = main_session();
    let whole = session.call("sync", &full_input(&session, false)).unwrap();
    session.server.reset();
    let billing_request = whole["stats"]["requests"].as_u64().unwrap() as usize;
    let error = |n| Fault { request_number: n, kind: FaultKind::Status(500, String::new(), vec![]) };
    session.server.set_faults(vec![error(billing_request), error(billing_request + 1)]);
    let output = session.call("sync", &full_input(&session, false)).unwrap();
    for (account, before) in output["accounts"].as_array().unwrap().iter().zip(whole["accounts"].as_array().unwrap()) {
        assert_eq!(account["counts"], before["counts"]);
        assert_eq!(account["status"], before["status"]);
        if account["status"] == "ok" {
            assert!(account["average_billable_devices"].is_null());
            assert_eq!(account["average_error"]["code"], "upstream_error");
        }
    }
}

#[test]
fn a_host_that_hides_headers_gets_the_default_wait() {
    let options = auvik_harness::HostOptions { hide_response_headers: true, ..Default::default() };
    let mut session = auvik_harness::Session::start_with(&auvik_harness::recordings_dir("main"), options).unwrap();
    session.server.set_faults(vec![Fault { request_number: 2, kind: FaultKind::Status(429, String::new(), vec![("Retry-After".into(), "7".into())]) }]);
    let output = session.call("sync", &full_input(&session, false)).unwrap();
    assert_eq!(output["complete"], false);
    assert_eq!(output["retry_after_seconds"], 60);
}

/// Every `ok` account exact, every other one explained, nothing pending at the end.
fn assert_fault_tolerant(output: &Value) {
    let expected = &expected()["site"];
    assert_eq!(output["complete"], true);
    for account in output["accounts"].as_array().unwrap() {
        let id = account["account_id"].as_str().unwrap();
        match account["status"].as_str().unwrap() {
            "ok" => {
                assert_eq!(account["counts"], expected[id]["counts"], "{id}");
                assert_eq!(account["excluded"], expected[id]["excluded"], "{id}");
                if !account["average_billable_devices"].is_null() {
                    assert_eq!(account["average_billable_devices"], expected[id]["average_billable_devices"], "{id}");
                }
            }
            "unavailable" => {
                assert!(account["counts"].is_null(), "{id}");
                assert!(account["error"]["code"].is_string() && account["error"]["message"].is_string(), "{id}");
            }
            other => panic!("{id}: status {other} in a complete output"),
        }
    }
}

fn fault_kinds() -> Vec<(&'static str, Vec<FaultKind>)> {
    let status = |code: u16| FaultKind::Status(code, "boom".into(), vec![]);
    vec![
        ("500 once", vec![status(500)]),
        ("503 twice", vec![status(503), status(503)]),
        ("malformed twice", vec![FaultKind::MalformedJson, FaultKind::MalformedJson]),
        ("malformed once", vec![FaultKind::MalformedJson]),
        ("truncated", vec![FaultKind::TruncatedBody]),
        ("dropped", vec![FaultKind::DropConnection]),
        ("delayed", vec![FaultKind::Delay(Duration::from_millis(30))]),
        ("404", vec![status(404)]),
    ]
}

#[test]
fn a_fault_at_every_request_position_never_yields_a_wrong_number() {
    let mut session = main_session();
    let input = devices_only(&session);
    let positions = session.call("sync", &input).unwrap()["stats"]["requests"].as_u64().unwrap() as usize;
    for position in 1..=positions {
        for (name, kinds) in fault_kinds() {
            session.server.reset();
            let faults = kinds.into_iter().enumerate().map(|(offset, kind)| Fault { request_number: position + offset, kind }).collect();
            session.server.set_faults(faults);
            assert_fault_tolerant_run(&mut session, &input, Some(3), &format!("{name} at request {position}"));
        }
    }
}

#[test]
fn seeded_random_fault_storms_never_yield_a_wrong_number() {
    let mut session = main_session();
    for seed in 1..=25u64 {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let kinds = fault_kinds();
        let faults: Vec<Fault> = (0..1 + next(4))
            .map(|_| {
                let (_, kind) = &kinds[next(kinds.len() as u64) as usize];
                Fault { request_number: 1 + next(16) as usize, kind: kind[0].clone() }
            })
            .collect();
        session.server.reset();
        session.server.set_faults(faults.clone());
        let budget = [None, Some(1), Some(2), Some(5)][next(4) as usize];
        let input = devices_only(&session);
        assert_fault_tolerant_run(&mut session, &input, budget, &format!("seed {seed}: {faults:?}"));
    }
}

#[test]
fn bad_budgets_are_refused() {
    let mut session = main_session();
    let mut input = full_input(&session, false);
    input["max_requests"] = json!(0);
    let (code, message) = plugin_error(session.call_raw("sync", input.to_string().as_bytes()));
    assert_eq!(code, "invalid_input");
    assert!(message.starts_with("max_requests"), "{message}");
    input["max_requests"] = json!(-3);
    let (_, message) = plugin_error(session.call_raw("sync", input.to_string().as_bytes()));
    assert!(message.starts_with("max_requests"), "{message}");
    assert_eq!(session.server.request_count(), 0);
}

/// A large MSP's token (its tenant list, and the hashes of a batch's devices so far) outgrows
/// the 64 KiB that other strings are held to; resuming with it must still work.
#[test]
fn a_large_accounts_tokens_resume_to_the_exact_counts() {
    use auvik_harness::bench::synthetic::{self, Size};
    use auvik_harness::replay::ReplayServer;
    use auvik_harness::workflow::{sync_to_completion, LoopOptions};
    let mut account = synthetic::account(&Size::MEDIUM);
    let server = ReplayServer::from_exchanges(account.scenario.clone(), std::mem::take(&mut account.exchanges)).unwrap();
    let options = auvik_harness::HostOptions { allow_api_urls: vec![server.base_url()], ..Default::default() };
    let mut host = auvik_harness::PluginHost::load(&options).unwrap();
    let scenario = server.scenario();
    let input = json!({
        "connection": {"api_url": server.base_url(), "username": scenario.username, "api_key": scenario.api_key},
        "billing_period": {"from": synthetic::BILLING_FROM, "thru": synthetic::BILLING_THRU},
        "max_requests": 6
    });
    let first = host.call("sync", &input).unwrap();
    let token = first["resume_token"].as_str().unwrap();
    assert!(token.len() > 64 * 1024, "the test needs a token past 64 KiB, got {} bytes", token.len());
    let (output, report) = sync_to_completion(&mut host, &input, &LoopOptions::default(), |_| {}).unwrap();
    assert!(report.calls > 1);
    // The check reads `stats` as one call's; a split sync's whole is in `totals`.
    let mut whole = output.clone();
    whole["stats"] = output["totals"].clone();
    auvik_harness::bench::check_sync(&whole, &account, true).unwrap();
    assert!(server.take_unmatched().is_empty());
}
