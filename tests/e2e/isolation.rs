//! Two customers' syncs side by side, on separate instances and on one reused instance: no
//! result, token or credential crosses over.

use auvik_harness::replay::ReplayServer;
use auvik_harness::{recordings_dir, HostOptions, PluginHost, Session};
use serde_json::{json, Value};

fn expected_for(scenario: &str) -> Value {
    let text = std::fs::read_to_string(recordings_dir(scenario).join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["site"].clone()
}

fn connection_of(server: &ReplayServer) -> Value {
    let scenario = server.scenario();
    json!({"api_url": server.base_url(), "username": scenario.username, "api_key": scenario.api_key})
}

/// Each account exactly as its own customer's oracle says, and no account of anyone else.
fn assert_is_customers_own(output: &Value, expected: &Value, scenario: &str) {
    let accounts = output["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), expected.as_object().unwrap().len(), "{scenario}");
    for account in accounts {
        let id = account["account_id"].as_str().unwrap();
        let want = expected.get(id).unwrap_or_else(|| panic!("{scenario} got an account that is not its own: {id}"));
        assert_eq!(account["status"], want["status"], "{scenario} {id}");
        if want["status"] == "ok" {
            assert_eq!(account["counts"], want["counts"], "{scenario} {id}");
            assert_eq!(account["excluded"], want["excluded"], "{scenario} {id}");
        }
    }
}

#[test]
fn two_customers_on_separate_instances_at_the_same_time() {
    let runs: Vec<_> = ["main", "second"]
        .into_iter()
        .map(|scenario| {
            std::thread::spawn(move || {
                let mut session = Session::start(&recordings_dir(scenario)).unwrap();
                let other_key = if scenario == "main" { "replay-key-second-91c4e2" } else { "replay-key-7f3a9c1e5b2d" };
                for budget in [None, Some(1), Some(3)] {
                    let mut input = json!({"connection": session.connection()});
                    let mut token: Option<String> = None;
                    loop {
                        if let Some(budget) = budget {
                            input["max_requests"] = json!(budget);
                        }
                        if let Some(token) = &token {
                            input["resume_token"] = json!(token);
                        }
                        let output = session.call("sync", &input).unwrap();
                        assert!(!output.to_string().contains(other_key));
                        if output["complete"] == true {
                            assert_is_customers_own(&output, &expected_for(scenario), scenario);
                            break;
                        }
                        token = output["resume_token"].as_str().map(String::from);
                    }
                }
                assert!(session.server.requests().iter().all(|request| request.authorized), "{scenario}: every request carried its own key");
            })
        })
        .collect();
    for run in runs {
        run.join().expect("a customer's sync failed");
    }
}

#[test]
fn two_customers_interleaved_on_one_reused_instance() {
    let first = ReplayServer::start(&recordings_dir("main")).unwrap();
    let second = ReplayServer::start(&recordings_dir("second")).unwrap();
    let mut host = PluginHost::load(&HostOptions { allow_api_urls: vec![first.base_url(), second.base_url()], ..Default::default() }).unwrap();
    let customers = [(&first, "main", 2u32), (&second, "second", 1u32)];
    let mut tokens: Vec<Option<String>> = vec![None, None];
    let mut finished = [false, false];
    let mut rounds = 0;
    while !finished.iter().all(|done| *done) {
        rounds += 1;
        assert!(rounds < 50);
        for (index, (server, scenario, budget)) in customers.iter().enumerate() {
            if finished[index] {
                continue;
            }
            let mut input = json!({"connection": connection_of(server), "max_requests": budget});
            if let Some(token) = &tokens[index] {
                input["resume_token"] = json!(token);
            }
            let output = host.call("sync", &input).unwrap();
            if output["complete"] == true {
                assert_is_customers_own(&output, &expected_for(scenario), scenario);
                finished[index] = true;
            } else {
                tokens[index] = output["resume_token"].as_str().map(String::from);
            }
        }
        if let (Some(first_token), false) = (&tokens[0], finished[0]) {
            let stolen = json!({"connection": connection_of(&second), "resume_token": first_token});
            let before = second.request_count();
            match host.call("sync", &stolen) {
                Err(auvik_harness::CallError::Plugin { code, message }) => {
                    assert_eq!(code, "invalid_input");
                    assert!(message.starts_with("resume_token: was issued for another connection"), "{message}");
                }
                other => panic!("one customer's token was accepted for another: {other:?}"),
            }
            assert_eq!(second.request_count(), before);
        }
    }
    assert!(first.take_unmatched().is_empty() && second.take_unmatched().is_empty());
}
