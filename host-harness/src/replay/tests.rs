use super::*;
use std::io::{ErrorKind, Read, Write};
use std::time::Instant;

use serde_json::json;

const USER: &str = "billing@fakemsp.example";
const KEY: &str = "replay-test-key-Zq81xv";
const DEVICES: &str = "/v1/inventory/device/info";
const DEVICES_TARGET: &str = "/v1/inventory/device/info?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus&page[after]=abc";
const DEVICES_BODY: &str = r#"{"data":[{"id":"d1","attributes":{"deviceName":"core-sw"}}]}"#;
const VERIFY: &str = "/v1/authentication/verify";

use crate::temp_dir::TempDir;

fn temp_dir_with(files: &[(&str, String)]) -> TempDir {
    let dir = TempDir::new("replay");
    std::fs::create_dir_all(dir.path()).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    dir
}

fn scenario_file() -> (&'static str, String) {
    (
        SCENARIO_FILE,
        json!({"description": "unit test", "username": USER, "api_key": KEY}).to_string(),
    )
}

fn recording(path: &str, query: Value, status: u16, body: Value) -> String {
    json!({
        "request": {"method": "GET", "path": path, "query": query},
        "response": {"status": status, "headers": {"Content-Type": JSON_API}, "body": body}
    })
    .to_string()
}

/// Serves the scenario file plus `files`.
fn serve(files: &[(&str, String)]) -> ReplayServer {
    let mut all = vec![scenario_file()];
    all.extend(files.iter().cloned());
    let dir = temp_dir_with(&all);
    ReplayServer::start(&dir.0).unwrap_or_else(|e| panic!("{e}"))
}

fn load_error(files: &[(&str, String)]) -> String {
    let dir = temp_dir_with(files);
    match ReplayServer::start(&dir.0) {
        Ok(_) => panic!("loaded {files:?}"),
        Err(e) => e,
    }
}

fn devices_server() -> ReplayServer {
    serve(&[
        (
            "01-verify.json",
            json!({"request": {"method": "GET", "path": VERIFY}, "response": {"status": 200}})
                .to_string(),
        ),
        (
            "02-devices.json",
            format!(
                r#"{{"request": {{"method": "GET", "path": "{DEVICES}", "query": {{"tenants": "101,202,303", "include": "deviceDetail", "fields[deviceDetail]": "manageStatus", "page[after]": "abc"}}}},
                    "response": {{"status": 200, "headers": {{"Content-Type": "{JSON_API}"}}, "body": {DEVICES_BODY}}}}}"#
            ),
        ),
        (
            "03-accepted.json",
            recording("/v1/accepted", json!({}), 202, json!({"data": []})),
        ),
    ])
}

fn basic(user: &str, key: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{key}")))
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Sends raw bytes and collects everything until the server closes.
fn roundtrip(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(raw);
    let mut received = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("server hung")
            }
            Err(_) => break,
        }
    }
    received
}

fn parse_reply(bytes: &[u8]) -> Reply {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap();
            (name.to_string(), value.to_string())
        })
        .collect();
    Reply {
        status: status_line[9..12].parse().unwrap(),
        headers,
        body: bytes[end + 4..].to_vec(),
    }
}

fn get_as(server: &ReplayServer, target: &str, authorization: Option<&str>) -> Reply {
    let mut raw = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/vnd.api+json\r\n",
        server.addr
    );
    if let Some(value) = authorization {
        raw.push_str(&format!("Authorization: {value}\r\n"));
    }
    raw.push_str("\r\n");
    parse_reply(&roundtrip(server.addr, raw.as_bytes()))
}

fn get(server: &ReplayServer, target: &str) -> Reply {
    get_as(server, target, Some(&basic(USER, KEY)))
}

fn statuses(server: &ReplayServer) -> Vec<u16> {
    server.requests().iter().map(|r| r.status).collect()
}

const UNAUTHORIZED: &str =
    r#"{"errors":[{"status":"401","title":"Unauthorized","detail":"Invalid credentials"}]}"#;

#[test]
fn requires_basic_auth_with_the_scenario_credentials() {
    let server = devices_server();
    for authorization in [
        None,
        Some(basic(USER, "wrong-key")),
        Some(basic("someone@else.example", KEY)),
        Some(format!("Bearer {KEY}")),
        Some("Basic !!not-base64!!".to_string()),
    ] {
        let reply = get_as(&server, VERIFY, authorization.as_deref());
        assert_eq!(reply.status, 401, "{authorization:?}");
        assert_eq!(reply.text(), UNAUTHORIZED);
    }
    let twice = format!(
        "GET {VERIFY} HTTP/1.1\r\nAuthorization: {0}\r\nAuthorization: {0}\r\n\r\n",
        basic(USER, KEY)
    );
    assert_eq!(
        parse_reply(&roundtrip(server.addr, twice.as_bytes())).status,
        401
    );
    let lowercase_scheme = basic(USER, KEY).replace("Basic", "basic");
    assert_eq!(get_as(&server, VERIFY, Some(&lowercase_scheme)).status, 200);
    assert_eq!(get(&server, VERIFY).status, 200);

    let authorized: Vec<bool> = server.requests().iter().map(|r| r.authorized).collect();
    assert_eq!(
        authorized,
        [false, false, false, false, false, false, true, true]
    );
    assert!(server.requests()[..6]
        .iter()
        .all(|r| r.answered_by.is_none() && r.status == 401));
    assert!(
        server.take_unmatched().is_empty(),
        "a 401 is not an unmatched request"
    );
}

#[test]
fn replays_recorded_status_headers_and_compact_body() {
    let server = devices_server();
    let verify = get(&server, VERIFY);
    assert_eq!((verify.status, verify.body.len()), (200, 0));
    assert_eq!(verify.header("Content-Length"), Some("0"));
    assert_eq!(verify.header("Connection"), Some("close"));

    let devices = get(&server, DEVICES_TARGET);
    assert_eq!(devices.status, 200);
    assert_eq!(devices.text(), DEVICES_BODY);
    assert_eq!(devices.header("Content-Type"), Some(JSON_API));
    assert_eq!(
        devices.header("Content-Length"),
        Some(&*DEVICES_BODY.len().to_string())
    );
    assert_eq!(get(&server, "/v1/accepted").status, 202);
}

#[test]
fn logs_every_request_decoded_and_in_order() {
    let server = devices_server();
    let target = "/v1/inventory/device/info?page%5Bafter%5D=abc&tenants=303%2C101%2C202&include=deviceDetail&fields[deviceDetail]=manageStatus";
    get(&server, VERIFY);
    get(&server, target);
    get_as(&server, "/v1/x%20y?a=1", None);
    let pairs = |items: &[(&str, &str)]| {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let log = server.requests();
    assert_eq!(server.request_count(), 3);
    assert_eq!(log[0].number, 1);
    assert_eq!(
        log[1],
        LoggedRequest {
            number: 2,
            method: "GET".into(),
            path: DEVICES.into(),
            query: pairs(&[
                ("page[after]", "abc"),
                ("tenants", "303,101,202"),
                ("include", "deviceDetail"),
                ("fields[deviceDetail]", "manageStatus"),
            ]),
            raw_target: target.into(),
            authorized: true,
            answered_by: Some("02-devices.json".into()),
            status: 200,
        }
    );
    assert_eq!(
        (
            log[2].number,
            &*log[2].path,
            log[2].authorized,
            log[2].status
        ),
        (3, "/v1/x y", false, 401)
    );
}

#[test]
fn query_matching_decodes_brackets_and_ignores_parameter_order() {
    let server = devices_server();
    let matching = [
        "/v1/inventory/device/info?tenants=101%2C202%2C303&include=deviceDetail&fields%5BdeviceDetail%5D=manageStatus&page%5Bafter%5D=abc",
        "/v1/inventory/device/info?page[after]=abc&fields[deviceDetail]=manageStatus&include=deviceDetail&tenants=101,202,303",
        "/v1/inventory%2Fdevice/info?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus&page%5bafter%5d=abc",
    ];
    for target in matching {
        assert_eq!(get(&server, target).status, 200, "{target}");
    }
    let not_matching = [
        "/v1/inventory/device/info?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus",
        "/v1/inventory/device/info?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus&page[after]=abc&page[first]=1",
        "/v1/inventory/device/info?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus&page[after]=abd",
        "/v1/inventory/device/info?tenants=101,202,303&include=deviceDetail&fields[devicedetail]=manageStatus&page[after]=abc",
        "/v1/inventory/device/info?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus&page[after]=abc&page[after]=abc",
        "/v1/inventory/device/info/?tenants=101,202,303&include=deviceDetail&fields[deviceDetail]=manageStatus&page[after]=abc",
        "/v1/authentication/verify?x=1",
    ];
    for target in not_matching {
        assert_eq!(get(&server, target).status, 404, "{target}");
    }
    assert_eq!(server.take_unmatched().len(), not_matching.len());
}

#[test]
fn plus_is_a_literal_plus_not_a_space() {
    let server = serve(&[
        (
            "plus.json",
            recording("/v1/plus", json!({"q": "a+b"}), 200, json!("plus")),
        ),
        (
            "space.json",
            recording("/v1/space", json!({"q": "a b"}), 200, json!("space")),
        ),
    ]);
    assert_eq!(get(&server, "/v1/plus?q=a+b").status, 200);
    assert_eq!(get(&server, "/v1/plus?q=a%2Bb").status, 200);
    assert_eq!(get(&server, "/v1/space?q=a%20b").status, 200);
    assert_eq!(get(&server, "/v1/space?q=a+b").status, 404);
}

#[test]
fn tenants_match_as_a_set() {
    let server = devices_server();
    let target = |tenants: &str| {
        format!("{DEVICES}?tenants={tenants}&include=deviceDetail&fields[deviceDetail]=manageStatus&page[after]=abc")
    };
    for tenants in ["303,101,202", "202,303,101", "101%2C303%2C202"] {
        assert_eq!(get(&server, &target(tenants)).status, 200, "{tenants}");
    }
    for tenants in ["101,202", "101,202,303,404", "101202303", ""] {
        assert_eq!(get(&server, &target(tenants)).status, 404, "{tenants}");
    }
}

#[test]
fn unmatched_requests_get_404_and_are_remembered() {
    let server = devices_server();
    let reply = get(&server, "/v1/nope?page%5Bafter%5D=x&tenants=1,2");
    assert_eq!(reply.status, 404);
    let expected = "GET /v1/nope?page[after]=x&tenants=1,2";
    assert_eq!(
        reply.json(),
        json!({"errors": [{"status": "404", "title": "No recording", "detail": format!("no recording answers {expected}")}]})
    );
    get(&server, VERIFY);
    assert_eq!(get(&server, "/v1/also-missing").status, 404);
    assert_eq!(server.take_unmatched(), [expected, "GET /v1/also-missing"]);
    assert!(server.take_unmatched().is_empty());
    assert_eq!(statuses(&server), [404, 200, 404]);
}

#[test]
fn base_url_placeholder_is_replaced_in_bodies_and_headers() {
    let first = json!({
        "request": {"method": "GET", "path": "/v1/first"},
        "response": {
            "status": 200,
            "headers": {"Link": "<{{base_url}}/v1/second?page%5Bafter%5D=2>; rel=next"},
            "body": {"links": {"next": "{{base_url}}/v1/second?page%5Bafter%5D=2"}}
        }
    });
    let second = recording(
        "/v1/second",
        json!({"page[after]": "2"}),
        200,
        json!({"data": [], "links": {"next": null}}),
    );
    let server = serve(&[("a.json", first.to_string()), ("b.json", second)]);
    let base = server.base_url();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with('/'));

    let reply = get(&server, "/v1/first");
    assert!(!reply.text().contains("{{base_url}}"));
    let next = reply.json()["links"]["next"].as_str().unwrap().to_string();
    assert_eq!(next, format!("{base}/v1/second?page%5Bafter%5D=2"));
    assert_eq!(reply.header("Link"), Some(&*format!("<{next}>; rel=next")));
    let followed = get(&server, next.strip_prefix(&base).unwrap());
    assert_eq!(followed.status, 200);
    assert_eq!(server.requests()[1].answered_by.as_deref(), Some("b.json"));
}

#[test]
fn body_text_is_sent_verbatim() {
    let broken = "{\"data\": [ {\"id\": 1,}  ]  \n";
    let server = serve(&[
        (
            "broken.json",
            json!({"request": {"method": "GET", "path": "/v1/broken"}, "response": {"status": 200, "body_text": broken}}).to_string(),
        ),
        ("null.json", json!({"request": {"method": "GET", "path": "/v1/null"}, "response": {"status": 200, "body": null}}).to_string()),
    ]);
    let reply = get(&server, "/v1/broken");
    assert_eq!(reply.text(), broken);
    assert_eq!(
        reply.header("Content-Length"),
        Some(&*broken.len().to_string())
    );
    assert_eq!(get(&server, "/v1/null").text(), "null");
}

#[test]
fn array_files_hold_several_exchanges() {
    let pages = format!(
        "[{}, {}]",
        recording("/v1/pages", json!({}), 200, json!({"page": 1})),
        recording(
            "/v1/pages",
            json!({"page[after]": "1"}),
            200,
            json!({"page": 2})
        )
    );
    let server = serve(&[("pages.json", pages)]);
    assert_eq!(get(&server, "/v1/pages").json(), json!({"page": 1}));
    assert_eq!(
        get(&server, "/v1/pages?page[after]=1").json(),
        json!({"page": 2})
    );
    let sources: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.answered_by)
        .collect();
    assert_eq!(
        sources,
        [
            Some("pages.json[0]".to_string()),
            Some("pages.json[1]".to_string())
        ]
    );
}

#[test]
fn status_fault_replaces_the_answer_once() {
    let server = devices_server();
    let body = r#"{"errors":[{"status":"429","title":"Too Many Requests"}]}"#;
    server.set_faults(vec![Fault {
        request_number: 1,
        kind: FaultKind::Status(429, body.into(), vec![("Retry-After".into(), "7".into())]),
    }]);
    let faulted = get(&server, DEVICES_TARGET);
    assert_eq!((faulted.status, faulted.text()), (429, body.to_string()));
    assert_eq!(faulted.header("Retry-After"), Some("7"));
    assert_eq!(get(&server, DEVICES_TARGET).text(), DEVICES_BODY);
    assert_eq!(statuses(&server), [429, 200]);
    assert_eq!(server.requests()[0].answered_by, None);
}

#[test]
fn malformed_json_fault_keeps_the_recorded_status() {
    let server = devices_server();
    server.set_faults(vec![Fault {
        request_number: 1,
        kind: FaultKind::MalformedJson,
    }]);
    let reply = get(&server, "/v1/accepted");
    assert_eq!(reply.status, 202);
    assert_eq!(reply.text(), MALFORMED_JSON_BODY);
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    assert_eq!(get(&server, "/v1/accepted").json(), json!({"data": []}));
}

#[test]
fn truncated_body_fault_announces_more_than_it_sends() {
    let server = devices_server();
    server.set_faults(vec![Fault {
        request_number: 1,
        kind: FaultKind::TruncatedBody,
    }]);
    let reply = get(&server, DEVICES_TARGET);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Length"),
        Some(&*DEVICES_BODY.len().to_string())
    );
    assert_eq!(
        reply.body,
        DEVICES_BODY.as_bytes()[..DEVICES_BODY.len() / 2]
    );
}

#[test]
fn drop_connection_fault_sends_nothing() {
    let server = devices_server();
    server.set_faults(vec![Fault {
        request_number: 1,
        kind: FaultKind::DropConnection,
    }]);
    let raw = format!(
        "GET {VERIFY} HTTP/1.1\r\nAuthorization: {}\r\n\r\n",
        basic(USER, KEY)
    );
    assert!(roundtrip(server.addr, raw.as_bytes()).is_empty());
    assert_eq!(get(&server, VERIFY).status, 200);
    assert_eq!(statuses(&server), [0, 200]);
    assert!(server.take_unmatched().is_empty());
}

#[test]
fn delay_fault_answers_normally_after_the_delay() {
    let server = devices_server();
    server.set_faults(vec![Fault {
        request_number: 1,
        kind: FaultKind::Delay(Duration::from_millis(400)),
    }]);
    let started = Instant::now();
    let reply = get(&server, DEVICES_TARGET);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (reply.status, reply.text()),
        (200, DEVICES_BODY.to_string())
    );
    assert_eq!(
        server.requests()[0].answered_by.as_deref(),
        Some("02-devices.json")
    );
}

#[test]
fn reset_restarts_numbering_for_faults_and_clears_the_log() {
    let server = devices_server();
    server.set_faults(vec![Fault {
        request_number: 2,
        kind: FaultKind::Status(500, String::new(), Vec::new()),
    }]);
    get(&server, VERIFY);
    get(&server, "/v1/unrecorded");
    assert_eq!(statuses(&server), [200, 500]);
    server.reset();
    assert_eq!(
        (
            server.request_count(),
            server.requests(),
            server.take_unmatched()
        ),
        (0, Vec::new(), Vec::<String>::new())
    );
    get(&server, VERIFY);
    assert_eq!(
        get(&server, VERIFY).status,
        500,
        "the fault plan survives reset and counts from it"
    );
    server.set_faults(Vec::new());
    assert_eq!(get(&server, VERIFY).status, 200);
    let numbers: Vec<usize> = server.requests().iter().map(|r| r.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
}

#[test]
fn nothing_returned_or_logged_contains_the_key() {
    let server = devices_server();
    let good = basic(USER, KEY);
    let wrong = basic(USER, "wrong-key-Hq77");
    let mut seen = String::new();
    for (target, authorization) in [
        (DEVICES_TARGET, Some(&good)),
        ("/v1/missing", Some(&good)),
        (DEVICES_TARGET, Some(&wrong)),
        (VERIFY, None),
    ] {
        let reply = get_as(&server, target, authorization.map(String::as_str));
        seen.push_str(&format!(
            "{} {:?} {}\n",
            reply.status,
            reply.headers,
            String::from_utf8_lossy(&reply.body)
        ));
    }
    for mangled in [
        format!("GET {VERIFY} HTTP/1.1\r\nAuthorization {good}\r\n\r\n"),
        format!("GET {VERIFY} HTTP/1.1\r\nX: y\r\n {good}\r\n\r\n"),
    ] {
        let reply = parse_reply(&roundtrip(server.addr, mangled.as_bytes()));
        assert_eq!(reply.status, 400);
        seen.push_str(&String::from_utf8_lossy(&reply.body));
    }
    let log = format!("{:?}", server.requests());
    assert!(
        log.contains("authorized: true") && log.contains("authorized: false"),
        "{log}"
    );
    seen.push_str(&log);
    seen.push_str(&format!(
        "{:?} {:?}",
        server.take_unmatched(),
        server.scenario()
    ));
    for secret in [
        KEY,
        &good["Basic ".len()..],
        &wrong["Basic ".len()..],
        "wrong-key-Hq77",
    ] {
        assert!(!seen.contains(secret), "{secret} leaked into {seen}");
    }
}

#[test]
fn loading_errors_name_the_file() {
    let good = (
        "01-good.json",
        recording("/v1/a", json!({"tenants": "1,2"}), 200, json!({})),
    );
    type Case<'a> = (Vec<(&'a str, String)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (vec![scenario_file(), good.clone(), ("02-broken.json", "{\"request\": ".into())], &["02-broken.json"]),
        (
            vec![scenario_file(), ("03-nostatus.json", json!({"request": {"method": "GET", "path": "/v1/a"}, "response": {}}).to_string())],
            &["03-nostatus.json", "status"],
        ),
        (
            vec![scenario_file(), ("04-both.json", json!({"request": {"method": "GET", "path": "/v1/a"}, "response": {"status": 200, "body": 1, "body_text": "1"}}).to_string())],
            &["04-both.json", "body_text"],
        ),
        (
            vec![scenario_file(), ("05-typo.json", json!({"request": {"method": "GET", "path": "/v1/a"}, "response": {"status": 200, "bdy": {}}}).to_string())],
            &["05-typo.json", "bdy"],
        ),
        (
            vec![scenario_file(), ("06-number.json", recording("/v1/a", json!({"page[first]": 1000}), 200, json!({})))],
            &["06-number.json"],
        ),
        (
            vec![scenario_file(), ("07-query-in-path.json", recording("/v1/a?x=1", json!({}), 200, json!({})))],
            &["07-query-in-path.json", "query"],
        ),
        (vec![scenario_file(), ("pages.json", format!("[{}, 5]", good.1))], &["pages.json", "line 1"]),
        (
            vec![scenario_file(), ("both.json", format!("[{}, {}]", good.1, json!({"request": {"method": "GET", "path": "/v1/b"}, "response": {"status": 200, "body": 1, "body_text": "1"}})))],
            &["both.json[1]", "body_text"],
        ),
        (
            vec![scenario_file(), ("a.json", good.1.clone()), ("b.json", recording("/v1/a", json!({"tenants": "2,1"}), 404, json!({})))],
            &["a.json and b.json", "GET /v1/a?tenants=2,1"],
        ),
        (vec![good.clone()], &[SCENARIO_FILE]),
        (vec![(SCENARIO_FILE, json!({"username": USER}).to_string())], &[SCENARIO_FILE, "api_key"]),
        (vec![(SCENARIO_FILE, "[".into())], &[SCENARIO_FILE]),
    ];
    for (files, expected) in cases {
        let error = load_error(&files);
        for fragment in expected {
            assert!(
                error.contains(fragment),
                "{error:?} should mention {fragment:?}"
            );
        }
    }

    let numeric_key = load_error(&[(
        SCENARIO_FILE,
        json!({"username": USER, "api_key": 987654321}).to_string(),
    )]);
    assert!(
        numeric_key.contains("api_key") && !numeric_key.contains("987654321"),
        "{numeric_key}"
    );
    let missing = std::env::temp_dir().join("auvik-replay-no-such-dir");
    assert!(ReplayServer::start(&missing)
        .err()
        .unwrap()
        .contains("auvik-replay-no-such-dir"));

    let dir = temp_dir_with(&[
        scenario_file(),
        good,
        (EXPECTED_FILE, json!({"site": {}}).to_string()),
    ]);
    assert!(
        ReplayServer::start(&dir.0).is_ok(),
        "expected.json is not an exchange"
    );
}

#[test]
fn garbage_and_disconnects_do_not_stop_the_server() {
    let server = devices_server();
    let idle = TcpStream::connect(server.addr).unwrap();
    drop(TcpStream::connect(server.addr).unwrap());
    {
        let mut half = TcpStream::connect(server.addr).unwrap();
        half.write_all(b"GET /v1/auth").unwrap();
    }
    assert_eq!(
        parse_reply(&roundtrip(server.addr, b"\x00\x01\x02garbage\r\n\r\n")).status,
        400
    );
    assert_eq!(
        parse_reply(&roundtrip(server.addr, b"HELLO\n\n")).status,
        400
    );
    let started = Instant::now();
    assert_eq!(get(&server, VERIFY).status, 200);
    assert!(
        started.elapsed() < IO_TIMEOUT,
        "an idle client must not block others"
    );
    drop(idle);

    assert_eq!(
        server.request_count(),
        1,
        "unparseable requests are not logged as requests"
    );
    let unmatched = server.take_unmatched();
    assert!(unmatched.len() >= 2, "{unmatched:?}");
    assert!(
        unmatched
            .iter()
            .all(|u| u.starts_with("unparseable request (400)")),
        "{unmatched:?}"
    );
}

#[test]
fn heads_up_to_64_kib_are_served_and_larger_get_431() {
    let server = devices_server();
    let with_padding = |padding: usize| {
        format!(
            "GET {VERIFY} HTTP/1.1\r\nAuthorization: {}\r\nX-Padding: {}\r\n\r\n",
            basic(USER, KEY),
            "p".repeat(padding)
        )
    };
    assert_eq!(
        parse_reply(&roundtrip(server.addr, with_padding(60_000).as_bytes())).status,
        200
    );
    let rejected = parse_reply(&roundtrip(server.addr, with_padding(70_000).as_bytes()));
    assert_eq!(rejected.status, 431);
    assert_eq!(rejected.json()["errors"][0]["status"], "431");
    let endless = format!("GET {VERIFY} HTTP/1.1\r\nX-Padding: {}", "p".repeat(70_000));
    let started = Instant::now();
    assert_eq!(
        parse_reply(&roundtrip(server.addr, endless.as_bytes())).status,
        431
    );
    assert!(
        started.elapsed() < IO_TIMEOUT,
        "must not wait for the end of an oversized head"
    );
    assert_eq!(get(&server, VERIFY).status, 200);
}

#[test]
fn generated_exchanges_serve_large_bodies_and_reject_duplicates() {
    let page = |source: &str, i: usize| {
        Exchange::new(
            source,
            RequestMatcher::get(
                DEVICES,
                [
                    ("tenants", "1,2".to_string()),
                    ("page[after]", i.to_string()),
                ],
            ),
            RecordedResponse::json_text(200, format!("{{\"page\":{i}}}")),
        )
    };
    let big = format!("{{\"data\":\"{}\"}}", "x".repeat(5 * 1024 * 1024));
    let mut exchanges: Vec<Exchange> =
        (0..10_000).map(|i| page(&format!("gen-{i}"), i)).collect();
    exchanges.push(Exchange::new(
        "big",
        RequestMatcher::get("/v1/big", Vec::<(String, String)>::new()),
        RecordedResponse::json_text(200, big.as_str()),
    ));
    let server =
        ReplayServer::from_exchanges(Scenario::new("generated", USER, KEY), exchanges).unwrap();
    assert_eq!(server.scenario().description, "generated");
    for i in [0, 1, 4_999, 9_999] {
        let reply = get(
            &server,
            &format!("{DEVICES}?page%5Bafter%5D={i}&tenants=2%2C1"),
        );
        assert_eq!(reply.json(), json!({"page": i}));
    }
    let reply = get(&server, "/v1/big");
    assert_eq!(reply.header("Content-Type"), Some(JSON_API));
    assert!(
        reply.body == big.as_bytes(),
        "large body arrived incomplete ({} bytes)",
        reply.body.len()
    );

    let duplicate = ReplayServer::from_exchanges(
        Scenario::new("d", USER, KEY),
        vec![page("first", 3), page("second", 3)],
    );
    let error = duplicate.err().unwrap();
    assert!(
        error.contains("first") && error.contains("second"),
        "{error}"
    );
}

#[test]
fn drop_stops_promptly_despite_idle_and_delayed_clients() {
    let server = devices_server();
    let addr = server.addr;
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    server.set_faults(vec![Fault {
        request_number: 1,
        kind: FaultKind::Delay(Duration::from_secs(30)),
    }]);
    let raw = format!(
        "GET {VERIFY} HTTP/1.1\r\nAuthorization: {}\r\n\r\n",
        basic(USER, KEY)
    );
    let delayed = thread::spawn(move || roundtrip(addr, raw.as_bytes()));
    let waiting = Instant::now();
    while server.request_count() == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(5),
            "delayed request never arrived"
        );
        thread::sleep(Duration::from_millis(10));
    }

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(matches!(idle.read(&mut [0u8; 16]), Ok(0) | Err(_)));
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after drop"
    );
    let _ = delayed.join();
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every exchange in the shipped scenario answers its own (percent-encoded) request,
/// and every `links.next` it hands out leads to another recording.
#[test]
fn replays_the_main_recordings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/recordings/main");
    let server = ReplayServer::start(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.ends_with(".json") && name != SCENARIO_FILE && name != EXPECTED_FILE
        })
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let base = server.base_url();
    let authorization = basic(&server.scenario().username, &server.scenario().api_key);
    let get = |target: &str| get_as(&server, target, Some(&authorization));
    for name in names {
        let recorded: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(&name)).unwrap()).unwrap();
        let exchanges = match recorded {
            Value::Array(items) => items,
            single => vec![single],
        };
        for exchange in exchanges {
            let request = &exchange["request"];
            let mut target = request["path"].as_str().unwrap().to_string();
            if let Some(query) = request["query"].as_object().filter(|q| !q.is_empty()) {
                let pairs: Vec<String> = query
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v.as_str().unwrap())))
                    .collect();
                target = format!("{target}?{}", pairs.join("&"));
            }
            let reply = get(&target);
            assert_eq!(
                u64::from(reply.status),
                exchange["response"]["status"].as_u64().unwrap(),
                "{name}"
            );
            assert!(server
                .requests()
                .last()
                .unwrap()
                .answered_by
                .as_deref()
                .unwrap()
                .starts_with(&name));
            if reply.body.is_empty() {
                continue;
            }
            if let Some(next) = reply.json()["links"]["next"].as_str() {
                let followed = get(next
                    .strip_prefix(&base)
                    .unwrap_or_else(|| panic!("{name}: {next}")));
                assert_eq!(followed.status, 200, "{name}: next link {next}");
            }
        }
    }
    assert_eq!(server.take_unmatched(), Vec::<String>::new());
}
