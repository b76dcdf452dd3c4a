use crate::common::*;
use serde_json::{json, Value};

fn connected_accounts() -> (auvik_harness::Session, Value) {
    let mut session = main_session();
    let output = session.call("connect", &json!({ "connection": session.connection() })).unwrap();
    (session, output["accounts"].clone())
}

fn row<'a>(output: &'a Value, kind: &str, key: &str, id: &str) -> &'a Value {
    output[kind].as_array().unwrap().iter().find(|row| row[key] == id).unwrap_or_else(|| panic!("no {kind} row {id}"))
}

#[test]
fn map_auto_maps_exact_names_only_and_keeps_existing_choices() {
    let (mut session, accounts) = connected_accounts();
    let input = json!({
        "accounts": accounts,
        "psa_companies": [
            {"id": "c-acme", "name": "  ACME dental   clinics "},
            {"id": "c-globex-1", "name": "Globex HQ"},
            {"id": "c-globex-2", "name": "globex hq"},
            {"id": "c-initech", "name": "Initech Incorporated"},
            {"id": "c-hooli", "name": "Hooli Corp"},
            {"id": "c-boston", "name": "Globex Boston Office"}
        ],
        "psa_products": [{"id": "p-fw", "name": "Firewalls"}, {"id": "p-total", "name": "Managed Network Device"}],
        "existing": {
            "accounts": [{"account_id": "400000000000000204", "psa_company_id": "c-other"},
                         {"account_id": "400000000000000203", "excluded": true}],
            "services": [{"service_id": "total_billable_devices", "psa_product_id": "p-total"}]
        }
    });
    let output = session.call("map", &input).unwrap();
    assert_eq!(session.server.request_count(), 3, "map makes no request of its own");

    let acme = row(&output, "accounts", "account_id", "400000000000000101");
    assert_eq!((acme["status"].as_str(), acme["psa_company_id"].as_str(), acme["match"].as_str()), (Some("mapped"), Some("c-acme"), Some("exact")));

    let hq = row(&output, "accounts", "account_id", "400000000000000202");
    assert_eq!(hq["status"], "unmapped", "two PSA companies match: ambiguous, left to a person");
    assert!(hq["suggestions"].as_array().unwrap().len() >= 2);

    let boston = row(&output, "accounts", "account_id", "400000000000000204");
    assert_eq!((boston["psa_company_id"].as_str(), boston["match"].as_str()), (Some("c-other"), Some("existing")));
    assert_eq!(row(&output, "accounts", "account_id", "400000000000000203")["status"], "excluded");

    let initech = row(&output, "accounts", "account_id", "400000000000000301");
    assert_eq!(initech["status"], "unmapped", "'Initech, Inc.' is only similar to 'Initech Incorporated'");
    assert_eq!(initech["match"], Value::Null);
    let suggestion = &initech["suggestions"][0];
    assert_eq!(suggestion["psa_company_id"], "c-initech");
    assert!(suggestion["score"].as_f64().unwrap() > 0.9);
    assert!(!suggestion["reason"].as_str().unwrap().is_empty());

    let firewalls = row(&output, "services", "service_id", "firewalls");
    assert_eq!((firewalls["psa_product_id"].as_str(), firewalls["match"].as_str()), (Some("p-fw"), Some("exact")));
    let total = row(&output, "services", "service_id", "total_billable_devices");
    assert_eq!((total["psa_product_id"].as_str(), total["match"].as_str()), (Some("p-total"), Some("existing")));
    assert_eq!(output["services"].as_array().unwrap().len(), 9, "connect's nine services when none are given");

    let summary = &output["summary"]["accounts"];
    let total_rows = summary["mapped"].as_u64().unwrap() + summary["unmapped"].as_u64().unwrap() + summary["excluded"].as_u64().unwrap();
    assert_eq!(total_rows, 8);
    assert_eq!(summary["excluded"], 1);
}

#[test]
fn map_with_an_empty_psa_list_leaves_everything_unmapped() {
    let (mut session, accounts) = connected_accounts();
    let output = session.call("map", &json!({"accounts": accounts, "psa_companies": []})).unwrap();
    assert_eq!(output["summary"]["accounts"]["unmapped"], 8);
    assert!(output["accounts"].as_array().unwrap().iter().all(|row| row["suggestions"].as_array().unwrap().is_empty()));
}
