use crate::common::*;
use serde_json::{json, Value};

#[test]
fn connect_verifies_once_and_lists_every_account_and_the_nine_services() {
    let mut session = main_session();
    let output = session.call("connect", &json!({ "connection": session.connection() })).unwrap();
    assert_no_secret(&session, &output.to_string());
    assert_eq!(output["status"], "pending");

    let accounts = output["accounts"].as_array().unwrap();
    let ids: Vec<&str> = accounts.iter().map(|account| account["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "400000000000000101",
            "400000000000000201",
            "400000000000000202",
            "400000000000000203",
            "400000000000000204",
            "400000000000000301",
            "400000000000000401",
            "400000000000000501"
        ],
        "every tenant but the MSP root, nested sites included, in Auvik's order"
    );
    let by_id = |id: &str| accounts.iter().find(|account| account["id"] == id).unwrap().clone();
    assert_eq!(
        by_id("400000000000000204"),
        json!({"id": "400000000000000204", "name": "globex-boston", "display_name": "Globex Boston Office",
               "tenant_type": "client", "parent_id": "400000000000000203"})
    );
    assert_eq!(by_id("400000000000000203")["tenant_type"], "multiClient");
    assert_eq!(by_id("400000000000000501")["tenant_type"], "corporateIt");
    assert_eq!(by_id("400000000000000401")["display_name"], Value::Null, "emptyco has no displayName");
    assert_eq!(by_id("400000000000000101")["parent_id"], "400000000000000001");

    let services: Vec<(&str, &str)> = output["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|service| (service["id"].as_str().unwrap(), service["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        services,
        [
            ("total_billable_devices", "Total Billable Devices"),
            ("firewalls", "Firewalls"),
            ("controllers", "Controllers"),
            ("routers", "Routers"),
            ("layer_3_switches", "Layer 3 Switches"),
            ("voip_switches", "VoIP Switches"),
            ("switch_stacks", "Switch Stacks"),
            ("total_switches", "Total Switches"),
            ("access_points", "Access Points")
        ]
    );

    let paths: Vec<String> = session.server.requests().iter().map(|request| request.path.clone()).collect();
    assert_eq!(paths, ["/v1/authentication/verify", "/v1/tenants", "/v1/tenants/detail"]);
}

#[test]
fn refused_credentials_fail_after_exactly_one_request_and_are_never_retried() {
    let mut session = main_session();
    let mut connection = session.connection();
    connection["api_key"] = json!("wrong-key-0000");
    let (code, message) = plugin_error(session.call("connect", &json!({ "connection": connection })));
    assert_eq!(code, "auth_failed");
    assert!(message.contains("region"), "the message must mention the region: {message}");
    assert!(!message.contains("wrong-key-0000"));
    let requests = session.server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/v1/authentication/verify");
    assert!(!requests[0].authorized);
}

#[test]
fn urls_other_than_auvik_or_the_operator_allowed_one_are_refused_before_any_request() {
    let mut session = main_session();
    let base = session.server.base_url();
    for url in [
        "http://auvikapi.us1.my.auvik.com".to_string(),
        "https://auvikapi.us1.my.auvik.com.evil.example".to_string(),
        "https://auvikapi.us1.my.auvik.com/v1".to_string(),
        "https://user@auvikapi.us1.my.auvik.com".to_string(),
        "https://auvikapi.us1.my.auvik.com:444".to_string(),
        format!("{base}/v1"),
        format!("{base}.evil.example"),
        base.replace("http://", "https://"),
        "http://localhost".to_string(),
    ] {
        let mut connection = session.connection();
        connection["api_url"] = json!(url);
        for entry in ["connect", "sync"] {
            let (code, message) = plugin_error(session.call(entry, &json!({ "connection": connection })));
            assert_eq!(code, "invalid_api_url", "{entry} {url}: {message}");
            assert!(message.starts_with("connection.api_url"), "{message}");
        }
    }
    assert_eq!(session.server.request_count(), 0);
}

#[test]
fn bad_input_names_the_field_and_sends_nothing() {
    let mut session = main_session();
    let connection = session.connection();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("connect", b"{}".to_vec(), "input: missing field `connection`"),
        ("connect", b"not json".to_vec(), "input: "),
        ("connect", json!({"connection": {"api_url": 5}}).to_string().into_bytes(), "connection.api_url: invalid type"),
        ("connect", json!({"connection": connection, "extra": 1}).to_string().into_bytes(), "unknown field `extra`"),
        ("sync", json!({"connection": connection, "account_ids": "101"}).to_string().into_bytes(), "account_ids: invalid type"),
        (
            "sync",
            json!({"connection": connection, "billing_period": {"from": "2026-02-01", "thru": "2026-02-30"}}).to_string().into_bytes(),
            "billing_period.thru: \"2026-02-30\" is not a real calendar date",
        ),
        ("sync", json!({"connection": connection, "rollup": "tenant"}).to_string().into_bytes(), "rollup: unknown variant `tenant`"),
        (
            "sync",
            json!({"connection": {"api_url": connection["api_url"], "username": "", "api_key": "k"}}).to_string().into_bytes(),
            "connection.username: must not be empty",
        ),
        ("map", json!({"accounts": [], "psa_companies": [{"id": "1"}]}).to_string().into_bytes(), "psa_companies[0]"),
    ];
    for (entry, input, expected) in cases {
        let (code, message) = plugin_error(session.call_raw(entry, &input));
        assert_eq!(code, "invalid_input", "{entry}: {message}");
        assert!(message.contains(expected), "{entry}: expected {expected:?} in {message:?}");
        assert_no_secret(&session, &message);
    }
    assert_eq!(session.server.request_count(), 0);
}

#[test]
fn describe_returns_the_published_schemas() {
    let mut session = main_session();
    let output = session.call("describe", &json!(null)).unwrap();
    assert_eq!(output["name"], "auvik-sync");
    let schemas = auvik_harness::build::workspace_root().join("schemas");
    let read = |file: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(schemas.join(file)).unwrap()).unwrap() };
    for entry in output["entry_points"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        assert_eq!(entry["output_schema"], read(&format!("{name}.output.json")), "{name}");
        if name != "describe" {
            assert_eq!(entry["input_schema"], read(&format!("{name}.input.json")), "{name}");
        }
    }
    assert_eq!(output["error_schema"], read("error.json"));
}
