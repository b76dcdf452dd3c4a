use crate::common::*;
use serde_json::{json, Value};

const PERIOD: &str = r#"{"from": "2026-11-01", "thru": "2026-11-30"}"#;

fn period() -> Value {
    serde_json::from_str(PERIOD).unwrap()
}

/// Compares a sync's accounts with the hand-computed oracle, field by field.
fn assert_matches_expected(output: &Value, expected: &Value, check_average: bool) {
    let accounts = output["accounts"].as_array().unwrap();
    let expected = expected.as_object().unwrap();
    let ids: Vec<&str> = accounts.iter().map(|account| account["account_id"].as_str().unwrap()).collect();
    let mut expected_ids: Vec<&str> = expected.keys().map(String::as_str).collect();
    expected_ids.sort();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    assert_eq!(sorted_ids, expected_ids);
    for account in accounts {
        let id = account["account_id"].as_str().unwrap();
        let want = &expected[id];
        assert_eq!(account["status"], want["status"], "{id}");
        if want["status"] == "ok" {
            assert_eq!(account["counts"], want["counts"], "{id}");
            assert_eq!(account["excluded"], want["excluded"], "{id}");
            assert_eq!(account["devices_seen"], want["devices_seen"], "{id}");
            assert!(account.get("error").is_none(), "{id}");
            if check_average {
                assert_eq!(account["average_billable_devices"], want["average_billable_devices"], "{id}");
            }
        } else {
            assert_eq!(account["counts"], Value::Null, "{id}: an unreadable account must never read as zero");
            assert_eq!(account["excluded"], Value::Null, "{id}");
            assert_eq!(account["error"]["code"], want["error_code"], "{id}");
        }
    }
}

#[test]
fn site_rollup_counts_every_service_of_every_site_and_names_the_unreadable_one() {
    let mut session = main_session();
    let input = sync_input(&session, json!({ "billing_period": period() }));
    let output = session.call("sync", &input).unwrap();
    assert_eq!(output["complete"], true);
    assert_matches_expected(&output, &expected()["site"], true);

    let initech = output["accounts"].as_array().unwrap().iter().find(|a| a["account_id"] == "400000000000000301").unwrap();
    assert!(initech["error"]["message"].as_str().unwrap().contains("not authorized for tenant 400000000000000301"));
    let emptyco = output["accounts"].as_array().unwrap().iter().find(|a| a["account_id"] == "400000000000000401").unwrap();
    assert_eq!(emptyco["average_error"]["code"], "upstream_error", "no usage row is said, not hidden");

    // tenants, the refused batch and its narrowing (9 device requests), one billing request.
    assert_eq!(output["stats"]["requests"], 11);
    assert_eq!(session.server.request_count(), 11);
    assert_eq!(output["stats"]["devices_seen"], 44);
    assert_no_secret(&session, &output.to_string());
}

#[test]
fn customer_rollup_folds_nested_sites_into_their_customer() {
    let mut session = main_session();
    let input = sync_input(&session, json!({ "rollup": "customer", "billing_period": period() }));
    let output = session.call("sync", &input).unwrap();
    assert_matches_expected(&output, &expected()["customer"], true);
    let globex = output["accounts"].as_array().unwrap().iter().find(|a| a["account_id"] == "400000000000000201").unwrap();
    assert_eq!(globex["sites"], json!(["400000000000000202", "400000000000000204"]));
    assert_eq!(globex["tenant_type"], "multiClient");
    let listed: Vec<&str> = output["accounts"].as_array().unwrap().iter().map(|a| a["account_id"].as_str().unwrap()).collect();
    assert!(!listed.contains(&"400000000000000202") && !listed.contains(&"400000000000000204"), "folded sites are not listed on their own");
}

#[test]
fn without_a_billing_period_no_usage_is_asked() {
    let mut session = main_session();
    let output = session.call("sync", &sync_input(&session, json!({}))).unwrap();
    assert_matches_expected(&output, &expected()["site"], false);
    for account in output["accounts"].as_array().unwrap() {
        assert_eq!(account["average_billable_devices"], Value::Null);
        assert!(account.get("devices").is_none(), "devices are listed only when asked");
    }
    assert!(session.server.requests().iter().all(|request| !request.path.contains("billing")));
}

#[test]
fn pages_are_followed_by_cursor_with_raw_and_encoded_links() {
    let mut session = main_session();
    session.call("sync", &sync_input(&session, json!({}))).unwrap();
    let three_sites = "400000000000000101,400000000000000202,400000000000000204";
    let pages: Vec<_> = session
        .server
        .requests()
        .into_iter()
        .filter(|request| param(request, "tenants") == Some(three_sites))
        .collect();
    assert_eq!(pages.len(), 3, "three pages of one batch: {pages:?}");
    assert_eq!(param(&pages[0], "page[after]"), None);
    assert!(param(&pages[1], "page[after]").is_some());
    assert!(param(&pages[2], "page[after]").is_some());
    for page in &pages {
        assert_eq!(param(page, "page[first]"), Some("1000"));
        assert_eq!(param(page, "include"), Some("deviceDetail"));
        assert_eq!(param(page, "fields[deviceDetail]"), Some("manageStatus"));
    }
    let batched = session.server.requests().iter().filter(|request| request.path == "/v1/inventory/device/info").count();
    assert!(batched < 6 * 3, "never one request per tenant per page");
}

#[test]
fn one_account_alone() {
    let mut session = main_session();
    let output = session.call("sync", &sync_input(&session, json!({"account_ids": ["400000000000000202"]}))).unwrap();
    assert_matches_expected(&output, &expected()["site_only_202"], false);
    assert_eq!(output["stats"]["requests"], 2);
}

#[test]
fn ids_this_user_cannot_see_are_unavailable_and_ids_of_the_wrong_level_are_refused() {
    let mut session = main_session();
    let input = sync_input(&session, json!({"account_ids": ["400000000000000202", "400000000000009999"]}));
    let output = session.call("sync", &input).unwrap();
    let accounts = output["accounts"].as_array().unwrap();
    assert_eq!(accounts[0]["status"], "ok");
    assert_eq!(accounts[1]["account_id"], "400000000000009999");
    assert_eq!(accounts[1]["status"], "unavailable");
    assert_eq!(accounts[1]["counts"], Value::Null);
    assert_eq!(accounts[1]["error"]["code"], "forbidden");

    let input = sync_input(&session, json!({"account_ids": ["400000000000000201"]}));
    let (code, message) = plugin_error(session.call("sync", &input));
    assert_eq!(code, "invalid_input");
    assert!(message.starts_with("account_ids[0]: 400000000000000201 (globexgroup) is a multi-client"), "{message}");
    let input = sync_input(&session, json!({"account_ids": ["400000000000000204"], "rollup": "customer"}));
    let (_, message) = plugin_error(session.call("sync", &input));
    assert!(message.contains("folded into customer 400000000000000201"), "{message}");
}

#[test]
fn every_listed_device_explains_the_numbers() {
    let mut session = main_session();
    let output = session.call("sync", &sync_input(&session, json!({"include_devices": true}))).unwrap();
    let services = ["total_billable_devices", "firewalls", "controllers", "routers", "layer_3_switches", "voip_switches", "switch_stacks", "total_switches", "access_points"];
    for account in output["accounts"].as_array().unwrap() {
        if account["status"] != "ok" {
            assert!(account.get("devices").is_none());
            continue;
        }
        let devices = account["devices"].as_array().unwrap();
        assert_eq!(devices.len() as u64, account["devices_seen"].as_u64().unwrap());
        for service in services {
            let listed = devices.iter().filter(|device| device["counted_toward"].as_array().unwrap().iter().any(|s| s == service)).count();
            assert_eq!(listed as u64, account["counts"][service].as_u64().unwrap(), "{} {service}", account["account_id"]);
        }
        for reason in ["offline", "unmanaged", "manage_status_unknown", "other_type"] {
            let listed = devices.iter().filter(|device| device["excluded"] == reason).count();
            assert_eq!(listed as u64, account["excluded"][reason].as_u64().unwrap(), "{} {reason}", account["account_id"]);
        }
        for device in devices {
            assert_eq!(device["site_id"], account["account_id"]);
            assert!(device["counted_toward"].as_array().unwrap().is_empty() != device["excluded"].is_null());
        }
    }
    let acme = &output["accounts"][0];
    let quantum = acme["devices"].as_array().unwrap().iter().find(|device| device["type"] == "quantumRouter").unwrap();
    assert_eq!(quantum["excluded"], "other_type", "a type never seen before is read and counts nowhere");
}
