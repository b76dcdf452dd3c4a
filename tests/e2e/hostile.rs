//! Hostile input through the real Wasm plugin, within the manifest's limits (64 MiB of memory):
//! every case is either refused as `invalid_input` starting with the field's path before any
//! request, or answered correctly. A trap fails the test with the trap's text.

use crate::common::*;
use auvik_harness::{CallError, Session};
use serde_json::{json, Value};
use std::time::Instant;

fn clip(text: &str) -> String {
    text.chars().take(400).collect()
}

/// The refusal of `input`: `invalid_input`, the message starting with `field` (then `: `, `.` or
/// `[`), no secret in it, and no request sent.
fn refused(session: &mut Session, entry: &str, input: &[u8], field: &str) -> String {
    session.server.reset();
    match session.call_raw(entry, input) {
        Err(CallError::Plugin { code, message }) => {
            assert_no_secret(session, &message);
            assert_eq!(code, "invalid_input", "{entry}: {}", clip(&message));
            let rest = message.strip_prefix(field).unwrap_or_else(|| panic!("{entry}: expected {field} first in {}", clip(&message)));
            assert!(rest.starts_with([':', '.', '[']), "{entry}: expected {field} first in {}", clip(&message));
            assert!(message.chars().count() < 1_000, "{entry}: a message of {} characters", message.chars().count());
            assert_eq!(session.server.request_count(), 0, "{entry} sent requests before refusing: {}", clip(&message));
            message
        }
        Err(CallError::Trap(text)) => panic!("{entry} trapped: {text}"),
        other => panic!("{entry}: expected invalid_input at {field}, got {}", clip(&format!("{other:?}"))),
    }
}

/// The answer to `input`; an error or a trap fails the test.
fn answered(session: &mut Session, entry: &str, input: &[u8]) -> Value {
    session.server.reset();
    match session.call_raw(entry, input) {
        Ok(output) => output,
        Err(CallError::Trap(text)) => panic!("{entry} trapped: {text}"),
        Err(other) => panic!("{entry}: {}", clip(&other.to_string())),
    }
}

fn bytes(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn with(session: &Session, extra: Value) -> Vec<u8> {
    bytes(&sync_input(session, extra))
}

#[test]
fn input_over_eight_mib_is_refused_and_just_under_it_is_read() {
    let mut session = main_session();
    let limit = auvik_sync::input::MAX_INPUT_BYTES;
    let padding = "x".repeat(limit);
    let sync = with(&session, json!({ "padding": padding }));
    let map = bytes(&json!({"accounts": [], "psa_companies": [], "padding": padding}));
    for (entry, input) in [("sync", &sync), ("connect", &sync), ("map", &map)] {
        let message = refused(&mut session, entry, input, "input");
        assert!(message.contains(&input.len().to_string()) && message.contains(&limit.to_string()), "{message}");
    }

    // Unknown fields of an account are ignored, so this is a valid input of nearly 8 MiB.
    let note = "n".repeat(auvik_sync::input::MAX_STRING_BYTES);
    let accounts: Vec<Value> = (0..limit / note.len() - 1).map(|n| json!({"id": format!("a{n}"), "name": format!("Acme {n}"), "note": note})).collect();
    let input = bytes(&json!({"accounts": accounts, "psa_companies": [{"id": "c1", "name": "ACME 7"}]}));
    assert!(input.len() <= limit && input.len() > limit - 2 * note.len(), "{}", input.len());
    let output = answered(&mut session, "map", &input);
    assert_eq!(output["accounts"][7]["psa_company_id"], "c1");
    assert_eq!(output["accounts"].as_array().unwrap().len(), accounts.len());
    assert_eq!(session.server.request_count(), 0);
}

#[test]
fn json_nested_a_hundred_thousand_deep_is_refused_or_skipped() {
    let mut session = main_session();
    const DEPTH: usize = 100_000;
    let arrays = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let objects = format!("{}1{}", "{\"a\":".repeat(DEPTH), "}".repeat(DEPTH));
    let connection = session.connection().to_string();

    refused(&mut session, "sync", arrays.as_bytes(), "input");
    refused(&mut session, "sync", format!("{{\"connection\": {{\"api_url\": {arrays}}}}}").as_bytes(), "connection.api_url");
    refused(&mut session, "sync", format!("{{\"connection\": {connection}, \"rollup\": {objects}}}").as_bytes(), "rollup");
    refused(&mut session, "connect", format!("{{\"connection\": {objects}}}").as_bytes(), "connection");
    refused(&mut session, "map", format!("{{\"accounts\": {arrays}, \"psa_companies\": []}}").as_bytes(), "accounts");

    // Deep values in fields that are ignored are skipped, and the input is answered.
    let input = format!(
        "{{\"accounts\": [{{\"id\": \"a1\", \"name\": \"Acme\", \"deep\": {arrays}, \"deeper\": {objects}}}], \"psa_companies\": [{{\"id\": \"c1\", \"name\": \"acme\"}}]}}"
    );
    let output = answered(&mut session, "map", input.as_bytes());
    assert_eq!(output["accounts"][0]["psa_company_id"], "c1");
}

#[test]
fn five_megabyte_credentials_are_refused_without_being_echoed() {
    let mut session = main_session();
    let huge = "u".repeat(5_000_000);
    let mut connection = session.connection();
    connection["username"] = json!(huge);
    for entry in ["connect", "sync"] {
        let message = refused(&mut session, entry, &bytes(&json!({ "connection": connection })), "connection.username");
        assert!(!message.contains("uuuuuuuuuu"), "{message}");
    }

    let key = session.server.scenario().api_key.clone();
    let mut connection = session.connection();
    connection["api_key"] = json!(key.repeat(5_000_000 / key.len()));
    for entry in ["connect", "sync"] {
        refused(&mut session, entry, &bytes(&json!({ "connection": connection })), "connection.api_key");
    }

    // Megabytes where a boolean belongs, which serde would quote whole (escaped, up to three
    // times as long) in its error.
    for text in ["x".repeat(8_000_000), "\u{200B}".repeat(2_700_000), "\u{80}".repeat(4_000_000)] {
        let input = with(&session, json!({ "include_devices": text }));
        assert!(input.len() <= auvik_sync::input::MAX_INPUT_BYTES);
        let message = refused(&mut session, "sync", &input, "include_devices");
        assert!(message.contains("holds a string of"), "{message}");
    }
}

#[test]
fn bytes_that_are_not_utf8_are_refused() {
    let mut session = main_session();
    refused(&mut session, "connect", b"\xff\xfe\xfd", "input");
    refused(&mut session, "map", b"{\"accounts\": [], \"psa_companies\": []}\xff", "input");
    let connection = session.connection();
    let input = format!(
        "{{\"connection\": {{\"api_url\": {}, \"username\": \"bill@@ing\", \"api_key\": {}}}}}",
        connection["api_url"], connection["api_key"]
    );
    let mut raw = input.into_bytes();
    let at = raw.windows(6).position(|window| window == b"bill@@").unwrap() + 4;
    raw.splice(at..at + 2, [0xff, 0xfe]);
    for entry in ["connect", "sync"] {
        refused(&mut session, entry, &raw, "connection.username");
    }
}

#[test]
fn duplicate_keys_are_refused() {
    // A duplicate is found by the object that holds it: the path is the parent's, and the
    // problem names the key.
    let mut session = main_session();
    let connection = session.connection().to_string();
    let twice = format!("{{\"connection\": {connection}, \"connection\": {connection}}}");
    for entry in ["connect", "sync"] {
        let message = refused(&mut session, entry, twice.as_bytes(), "input");
        assert!(message.contains("duplicate field `connection`"), "{message}");
    }
    let key_twice = connection.replacen("\"api_key\"", "\"api_key\": \"other\", \"api_key\"", 1);
    assert_ne!(key_twice, connection);
    let message = refused(&mut session, "sync", format!("{{\"connection\": {key_twice}}}").as_bytes(), "connection");
    assert!(message.contains("duplicate field `api_key`"), "{message}");
    let map_twice = r#"{"accounts": [], "psa_companies": [], "existing": {"accounts": [], "accounts": []}}"#;
    let message = refused(&mut session, "map", map_twice.as_bytes(), "existing");
    assert!(message.contains("duplicate field `accounts`"), "{message}");
}

#[test]
fn numbers_where_strings_or_booleans_belong_are_refused() {
    let mut session = main_session();
    let connection = session.connection();
    let sync_cases: Vec<(String, &str)> = vec![
        (r#""include_devices": -1"#.into(), "include_devices"),
        (r#""include_devices": 1e400"#.into(), "include_devices"),
        (r#""rollup": -1e999"#.into(), "rollup"),
        (r#""account_ids": [-400000000000000101]"#.into(), "account_ids[0]"),
        (r#""account_ids": [1e400]"#.into(), "account_ids[0]"),
        (r#""billing_period": {"from": 20261101, "thru": "2026-11-30"}"#.into(), "billing_period.from"),
    ];
    for (field, path) in &sync_cases {
        let input = format!("{{\"connection\": {connection}, {field}}}");
        refused(&mut session, "sync", input.as_bytes(), path);
    }
    for (name, value) in [("username", "18446744073709551616"), ("api_url", "-9223372036854775809"), ("api_key", "-987654321987")] {
        let mut text = connection.to_string();
        let quoted = connection[name].to_string();
        text = text.replacen(&quoted, value, 1);
        let message = refused(&mut session, "connect", format!("{{\"connection\": {text}}}").as_bytes(), &format!("connection.{name}"));
        if name == "api_key" {
            assert!(!message.contains("987654321987"), "a key given as a number is echoed: {message}");
        }
    }
    let map_cases = [
        (r#"{"accounts": [{"id": 5, "name": "A"}], "psa_companies": []}"#, "accounts[0].id"),
        (r#"{"accounts": [], "psa_companies": [{"id": "c", "name": -0.0}]}"#, "psa_companies[0].name"),
        (r#"{"accounts": [], "psa_companies": [], "existing": {"accounts": [{"account_id": "a", "excluded": 1}]}}"#, "existing.accounts[0].excluded"),
        (r#"{"accounts": 18446744073709551616, "psa_companies": []}"#, "accounts"),
    ];
    for (input, path) in map_cases {
        refused(&mut session, "map", input.as_bytes(), path);
    }
}

#[test]
fn billing_periods_that_are_not_real_or_not_ordered_are_refused() {
    let mut session = main_session();
    for (from, thru, path) in [
        ("2026-02-01", "2026-02-30", "billing_period.thru"),
        ("2026-13-01", "2026-12-31", "billing_period.from"),
        ("2026-11-30", "2026-11-01", "billing_period.thru"),
        ("2026-01-01", "2026-12-31", "billing_period"),
        ("2026-11-1", "2026-11-30", "billing_period.from"),
    ] {
        let input = with(&session, json!({"billing_period": {"from": from, "thru": thru}}));
        let message = refused(&mut session, "sync", &input, path);
        assert!(!message.is_empty());
    }
}

#[test]
fn two_hundred_thousand_account_ids_are_refused_and_the_most_allowed_are_answered() {
    let mut session = main_session();
    let limit = auvik_sync::sync::MAX_ACCOUNT_IDS;
    let ids: Vec<String> = (0..200_000u64).map(|n| (500_000_000_000_000_000 + n).to_string()).collect();
    let input = with(&session, json!({ "account_ids": ids }));
    let message = refused(&mut session, "sync", &input, "account_ids");
    assert!(message.contains(&limit.to_string()) && message.contains("200000"), "{message}");

    // As many ids as allowed, none of which this user can see: each is reported, not dropped.
    let input = with(&session, json!({ "account_ids": &ids[..limit] }));
    let output = answered(&mut session, "sync", &input);
    let accounts = output["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), limit);
    assert!(accounts.iter().zip(&ids).all(|(account, id)| account["account_id"] == *id
        && account["status"] == "unavailable"
        && account["error"]["code"] == "forbidden"));
    assert_eq!(session.server.request_count(), 1, "only the tenant list is read");
    assert_no_secret(&session, &output.to_string());
}

#[test]
fn map_with_an_empty_psa_list_answers_every_row_unmapped() {
    let mut session = main_session();
    let input = json!({"accounts": [{"id": "a1", "name": "Acme"}, {"id": "a2", "name": "Globex", "display_name": "Globex HQ"}], "psa_companies": []});
    let output = answered(&mut session, "map", &bytes(&input));
    let rows = output["accounts"].as_array().unwrap();
    assert_eq!(rows.iter().map(|row| row["account_id"].as_str().unwrap()).collect::<Vec<_>>(), ["a1", "a2"]);
    assert!(rows.iter().all(|row| row["status"] == "unmapped" && row["suggestions"] == json!([])));
    assert_eq!(output["services"].as_array().unwrap().len(), 9);
    assert_eq!(output["summary"]["accounts"], json!({"mapped": 0, "unmapped": 2, "excluded": 0}));
    assert_eq!(session.server.request_count(), 0);
}

#[test]
fn map_of_a_thousand_accounts_onto_ten_thousand_companies() {
    let mut session = main_session();
    const FIRST: [&str; 20] = [
        "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Adventure", "Proseware", "Lucerne", "Margie",
        "Alpine", "Blue", "Coho", "Consolidated", "Fourth", "Graphic", "Humongous", "Southridge", "Trey", "Wide",
    ];
    const TRADE: [&str; 10] = ["Dental", "Legal", "Plumbing", "Logistics", "Clinic", "Bakery", "Motors", "Realty", "Design", "Labs"];
    let company = |i: usize| format!("{} {} Client {i:05} LLC", FIRST[i % 20], TRADE[(i / 20) % 10]);
    let companies: Vec<Value> = (0..10_000).map(|i| json!({"id": format!("c{i}"), "name": company(i)})).collect();
    // Every fourth account has a company's name in other case and spacing; the others are a
    // legal suffix away, misspelt, or unknown.
    let accounts: Vec<Value> = (0..1_000)
        .map(|j| {
            let i = j * 10;
            let name = match j % 4 {
                0 => format!("  {}  ", company(i).to_uppercase().replace(' ', "   ")),
                1 => company(i).replace(" LLC", ", Inc."),
                2 => company(i).replace("Client", "Clinet"),
                _ => format!("Unknown Tenant {j}"),
            };
            json!({"id": format!("a{j}"), "name": name})
        })
        .collect();
    let input = bytes(&json!({ "accounts": accounts, "psa_companies": companies }));
    let started = Instant::now();
    let output = answered(&mut session, "map", &input);
    eprintln!("map: 1,000 accounts onto 10,000 companies in {:.2?} ({} KB of input)", started.elapsed(), input.len() / 1024);

    let rows = output["accounts"].as_array().unwrap();
    assert_eq!(rows.len(), 1_000);
    for (j, company_id) in [(0, "c0"), (4, "c40"), (996, "c9960")] {
        assert_eq!((rows[j]["status"].as_str(), rows[j]["psa_company_id"].as_str(), rows[j]["match"].as_str()), (Some("mapped"), Some(company_id), Some("exact")), "a{j}");
    }
    for (j, first_suggestion) in [(1, "c10"), (2, "c20"), (997, "c9970")] {
        assert_eq!(rows[j]["status"], "unmapped", "a{j}");
        assert_eq!(rows[j]["suggestions"][0]["psa_company_id"], first_suggestion, "a{j}: {}", rows[j]);
    }
    assert_eq!(rows[3]["suggestions"], json!([]), "an unknown name gets no suggestion: {}", rows[3]);
    assert_eq!(output["summary"]["accounts"], json!({"mapped": 250, "unmapped": 750, "excluded": 0}));
    assert_eq!(session.server.request_count(), 0);
}

#[test]
fn map_with_duplicate_ids_names_the_second_one() {
    let mut session = main_session();
    let companies: Vec<Value> = (0..8).map(|i| json!({"id": format!("c{}", [0, 1, 2, 3, 4, 2, 5, 6][i]), "name": format!("Company {i}")})).collect();
    let message = refused(&mut session, "map", &bytes(&json!({"accounts": [], "psa_companies": companies})), "psa_companies[5].id");
    assert!(message.contains("duplicate id \"c2\""), "{message}");
    let accounts = json!([{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]);
    refused(&mut session, "map", &bytes(&json!({"accounts": accounts, "psa_companies": []})), "accounts[1].id");
    let products = json!([{"id": "p", "name": "A"}, {"id": "p", "name": "A"}]);
    refused(&mut session, "map", &bytes(&json!({"accounts": [], "psa_companies": [], "psa_products": products})), "psa_products[1].id");
}

#[test]
fn unknown_top_level_fields_are_refused_by_name() {
    let mut session = main_session();
    let connection = session.connection();
    for (entry, input, field) in [
        ("connect", json!({"connection": connection, "api_key": "smuggled"}), "api_key"),
        ("sync", json!({"connection": connection, "accountIds": ["400000000000000101"]}), "accountIds"),
        ("sync", json!({"connection": connection, "billing_period": {"from": "2026-11-01", "thru": "2026-11-30", "to": "x"}}), "billing_period.to"),
        ("map", json!({"accounts": [], "psa_companies": [], "psa_company": []}), "psa_company"),
    ] {
        let message = refused(&mut session, entry, &bytes(&input), field);
        let name = field.rsplit('.').next().unwrap();
        assert!(message.contains(&format!("unknown field `{name}`")), "{message}");
    }
}
