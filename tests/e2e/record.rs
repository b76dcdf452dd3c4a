//! Recording through the proxy: the replay server of the main scenario stands in for Auvik, and
//! what gets recorded must replay to the same outputs without any of the original credentials.

use auvik_harness::record::{
    record, RecordOptions, RecordSummary, RECORDED_USERNAME, REDACTED_API_KEY, REDACTED_BASIC_AUTH, REDACTED_USERNAME,
};
use auvik_harness::replay::{Exchange, RecordedResponse, ReplayServer, RequestMatcher, Scenario, SCENARIO_FILE};
use auvik_harness::{recordings_dir, Session};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const VERIFY: &str = "/v1/authentication/verify";
const JSON_API: &str = "application/vnd.api+json";

fn period() -> Value {
    json!({"from": "2026-11-01", "thru": "2026-11-30"})
}

use auvik_harness::temp_dir::TempDir;

fn options(upstream: &ReplayServer, out_dir: &Path, extra: Value) -> RecordOptions {
    let scenario = upstream.scenario();
    RecordOptions {
        upstream_base_url: upstream.base_url(),
        username: scenario.username.clone(),
        api_key: scenario.api_key.clone(),
        out_dir: out_dir.to_path_buf(),
        sync_input_extra: extra,
        description: "recorded in a test".into(),
    }
}

/// Every `*.json` of `dir`, parsed, by file name.
fn recorded_files(dir: &Path) -> BTreeMap<String, (String, Value)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            (name, (text, value))
        })
        .collect()
}

/// Fails if any file holds the key, its Basic form or the username (in any case).
fn assert_no_credentials(files: &BTreeMap<String, (String, Value)>, username: &str, api_key: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{api_key}"));
    for (name, (text, _)) in files {
        assert!(!text.contains(api_key), "{name} holds the API key");
        assert!(!text.contains(&basic), "{name} holds the Basic authorization");
        assert!(!text.to_lowercase().contains(&username.to_lowercase()), "{name} holds the username");
    }
}

/// An exchange as a comparable value: `tenants` is a set.
fn canonical_request(exchange: &Value) -> Value {
    let mut request = exchange["request"].clone();
    if let Some(tenants) = request["query"]["tenants"].as_str() {
        let mut ids: Vec<&str> = tenants.split(',').collect();
        ids.sort();
        request["query"]["tenants"] = json!(ids.join(","));
    }
    request
}

fn record_ok(options: &RecordOptions) -> RecordSummary {
    record(options).unwrap_or_else(|error| panic!("recording failed: {error}"))
}

#[test]
fn a_recording_of_the_main_account_replays_to_the_same_outputs() {
    let upstream = ReplayServer::start(&recordings_dir("main")).unwrap();
    let original = upstream.scenario().clone();
    let out = TempDir::new("record-main");
    let summary = record_ok(&options(&upstream, &out.0, json!({"billing_period": period()})));

    assert_eq!(upstream.take_unmatched(), Vec::<String>::new());
    assert!(
        upstream.requests().iter().all(|request| request.authorized),
        "the proxy passed the credentials on"
    );
    assert_eq!(summary.requests, upstream.request_count());
    assert_eq!(summary.sync["complete"], true);
    assert_eq!(summary.sync_calls, 1);
    assert_eq!(summary.warnings, Vec::<String>::new());

    let files = recorded_files(&out.0);
    let mut written: Vec<String> = summary
        .files
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, files.keys().cloned().collect::<Vec<_>>());
    assert_no_credentials(&files, &original.username, &original.api_key);
    assert!(
        files.values().all(|(text, _)| !text.contains("127.0.0.1")),
        "no base URL survives but as {{{{base_url}}}}"
    );
    assert!(
        files
            .values()
            .any(|(text, _)| text.contains("{{base_url}}/v1/inventory/device/info")),
        "the next links are kept as placeholders"
    );

    // Each recorded exchange is the original one: same request, status, headers and body.
    let originals: Vec<Value> = recorded_files(&recordings_dir("main"))
        .into_iter()
        .filter(|(name, _)| name != SCENARIO_FILE && name != "expected.json")
        .map(|(_, (_, value))| value)
        .collect();
    let exchanges: Vec<(&String, &Value)> = files
        .iter()
        .filter(|(name, _)| *name != SCENARIO_FILE)
        .map(|(name, (_, value))| (name, value))
        .collect();
    let distinct_requests: std::collections::HashSet<String> = upstream
        .requests()
        .iter()
        .map(|r| {
            let query: BTreeMap<_, _> = r.query.iter().cloned().collect();
            canonical_request(&json!({"request": {"method": r.method, "path": r.path, "query": query}})).to_string()
        })
        .collect();
    assert_eq!(
        exchanges.len(),
        distinct_requests.len(),
        "one file per distinct request, repeats once"
    );
    assert!(
        exchanges.len() < summary.requests,
        "connect and sync both read /v1/tenants; it is recorded once"
    );
    for (name, recorded) in &exchanges {
        let twin = originals
            .iter()
            .find(|original| canonical_request(original) == canonical_request(recorded))
            .unwrap_or_else(|| panic!("{name} records a request the scenario does not have: {}", recorded["request"]));
        assert_eq!(recorded["response"], twin["response"], "{name}");
    }

    let (_, scenario) = &files[SCENARIO_FILE];
    assert_eq!(scenario["username"], RECORDED_USERNAME);
    assert_eq!(scenario["description"], "recorded in a test");
    assert_ne!(scenario["api_key"], original.api_key.as_str());

    let mut session = Session::start(&out.0).unwrap_or_else(|error| panic!("the recording does not load: {error}"));
    assert_eq!(session.server.scenario().username, RECORDED_USERNAME);
    let connect = session.call("connect", &json!({"connection": session.connection()})).unwrap();
    assert_eq!(connect, summary.connect);
    let sync = session
        .call("sync", &json!({"connection": session.connection(), "billing_period": period()}))
        .unwrap();
    assert_eq!(
        sync, summary.sync,
        "the replayed sync (stats and totals included) is the recorded one"
    );
    assert_eq!(sync["stats"]["requests"], 11);
}

/// Auvik redirects a wrong region with 308. The proxy must hand that on (and record it), not
/// follow it with the credentials.
#[test]
fn an_upstream_308_is_recorded_as_such_and_never_followed_with_credentials() {
    let scenario = Scenario::new("moved", "billing@moved.example", "record-308-key-5Tq9wz");
    let moved = RecordedResponse {
        status: 308,
        headers: vec![
            ("Location".into(), format!("{{{{base_url}}}}{VERIFY}?region=us2")),
            ("Content-Type".into(), JSON_API.into()),
        ],
        body: r#"{"errors":[{"status":"308","title":"Permanent Redirect"}]}"#.into(),
    };
    let upstream = ReplayServer::from_exchanges(
        scenario.clone(),
        vec![Exchange::new(
            "moved",
            RequestMatcher::get(VERIFY, Vec::<(String, String)>::new()),
            moved,
        )],
    )
    .unwrap();
    let out = TempDir::new("record-moved");
    let error = record(&options(&upstream, &out.0, json!({}))).expect_err("connect cannot succeed on a redirect");
    assert!(error.starts_with("connect failed: auth_failed"), "{error}");
    assert!(!error.contains(&scenario.api_key));

    // The plugin's host followed the 308 itself, without the Authorization header.
    let upstream_log: Vec<(String, bool, u16)> = upstream
        .requests()
        .iter()
        .map(|r| (r.raw_target.clone(), r.authorized, r.status))
        .collect();
    assert_eq!(
        upstream_log,
        [(VERIFY.to_string(), true, 308), (format!("{VERIFY}?region=us2"), false, 401)]
    );

    let files = recorded_files(&out.0);
    assert_no_credentials(&files, &scenario.username, &scenario.api_key);
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(
        names,
        [
            "01-get-v1-authentication-verify.json",
            "02-get-v1-authentication-verify.json",
            SCENARIO_FILE
        ]
    );
    let (_, first) = &files["01-get-v1-authentication-verify.json"];
    assert_eq!(first["request"]["query"], json!({}));
    assert_eq!(first["response"]["status"], 308);
    assert_eq!(
        first["response"]["headers"]["Location"],
        format!("{{{{base_url}}}}{VERIFY}?region=us2")
    );
    let (_, second) = &files["02-get-v1-authentication-verify.json"];
    assert_eq!(
        (second["request"]["query"].clone(), second["response"]["status"].clone()),
        (json!({"region": "us2"}), json!(401))
    );
}

/// A body that echoes the credentials (in another case, percent-encoded, as Basic) is recorded
/// with placeholders, and the recording still replays.
#[test]
fn credentials_echoed_in_bodies_are_replaced_by_placeholders() {
    let scenario = Scenario::new("echo", "Billing@Echo.example", "record-echo-key-Mn3/x+Q");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", scenario.username, scenario.api_key));
    let tenants = json!({"data": [{"type": "tenant", "id": "900000000000000001",
        "attributes": {"domainPrefix": "echomsp", "tenantType": "multiClient",
                       "createdBy": scenario.username.to_uppercase(), "note": format!("key {} auth Basic {basic}", scenario.api_key),
                       "profile": format!("{{{{base_url}}}}/v1/users?name={}", scenario.username.replace('@', "%40"))}}]});
    let exchanges = vec![
        Exchange::new(
            "verify",
            RequestMatcher::get(VERIFY, Vec::<(String, String)>::new()),
            RecordedResponse {
                status: 200,
                headers: Vec::new(),
                body: "".into(),
            },
        ),
        Exchange::new(
            "tenants",
            RequestMatcher::get("/v1/tenants", Vec::<(String, String)>::new()),
            RecordedResponse::json(200, &tenants),
        ),
    ];
    let upstream = ReplayServer::from_exchanges(scenario.clone(), exchanges).unwrap();
    let out = TempDir::new("record-echo");
    let summary = record_ok(&options(&upstream, &out.0, Value::Null));
    assert_eq!(summary.connect["accounts"], json!([]));

    let files = recorded_files(&out.0);
    assert_no_credentials(&files, &scenario.username, &scenario.api_key);
    let (_, recorded) = &files["02-get-v1-tenants.json"];
    let attributes = &recorded["response"]["body"]["data"][0]["attributes"];
    assert_eq!(attributes["createdBy"], REDACTED_USERNAME);
    assert_eq!(
        attributes["note"],
        format!("key {REDACTED_API_KEY} auth Basic {REDACTED_BASIC_AUTH}")
    );
    assert_eq!(attributes["profile"], format!("{{{{base_url}}}}/v1/users?name={REDACTED_USERNAME}"));
    assert_eq!(attributes["domainPrefix"], "echomsp");

    let mut session = Session::start(&out.0).unwrap();
    assert_eq!(
        session.call("connect", &json!({"connection": session.connection()})).unwrap(),
        summary.connect
    );
    assert_eq!(
        session.call("sync", &json!({"connection": session.connection()})).unwrap(),
        summary.sync
    );
}
