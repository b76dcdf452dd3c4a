//! Properties of the plugin's logic under hostile input: nothing panics (in Wasm a panic is a
//! trap for the host), every refused input is an `invalid_input` that starts with the field's
//! path, and what is accepted is counted and mapped by the documented rules, checked against
//! recounts written here from those rules rather than with the plugin's own code.
//!
//! `PROPTEST_CASES` sets the number of cases of every property; without it each block runs the
//! number given in its config, chosen so that the file stays well under a minute in debug on
//! two cores. Failures are kept in `properties.proptest-regressions` beside this file and
//! replayed first on every run.

use auvik_sync::auvik::model::{ClientUsageDocument, DevicePage, TenantsDocument};
use auvik_sync::auvik::pagination::{next_cursor, Next};
use auvik_sync::auvik::url::{decode, parse_absolute, query_pairs};
use auvik_sync::auvik::{HttpResponse, Transport};
use auvik_sync::connect::ConnectInput;
use auvik_sync::connection::validate_api_url;
use auvik_sync::error::{ErrorCode, PluginError};
use auvik_sync::input::{parse, parse_date, MAX_STRING_BYTES};
use auvik_sync::mapping::{map, MapInput, MapStatus, MatchKind};
use auvik_sync::sync::{AccountStatus, SyncInput};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

type Checked = Result<(), TestCaseError>;

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|text| text.trim().parse().ok()).unwrap_or(default_cases);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators shared by the properties

/// Strings that have broken parsers before: empty, blank, control and zero-width characters,
/// case-folding oddities, near-miss dates and URLs, escapes, numbers spelt as text.
const TRICKY: &[&str] = &[
    "",
    " ",
    "\t\n",
    "\u{0}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{3000}",
    "é",
    "e\u{301}",
    "İ",
    "ß",
    "ǅ",
    "😀",
    "\u{10FFFF}",
    "online",
    "offline",
    "router",
    "switch",
    "accessPoint",
    "deviceDetail",
    "client",
    "multiClient",
    "2026-02-30",
    "2026-13-01",
    "2024-02-29",
    "2026-11-01",
    "https://auvikapi.us1.my.auvik.com",
    "http://127.0.0.1:1",
    "a:b",
    "\r\nX-Evil: 1",
    "%",
    "%zz",
    "%C3%A9",
    "%FF",
    "page[after]",
    "page%5Bafter%5D=",
    "null",
    "true",
    "-1",
    "1e400",
    "18446744073709551616",
    "customer",
    "site",
    "{{base_url}}",
    "..",
    "\\",
];

/// Field names of the inputs and of Auvik's bodies, so that random objects hit real fields.
const KEYS: &[&str] = &[
    "connection",
    "api_url",
    "username",
    "api_key",
    "account_ids",
    "rollup",
    "billing_period",
    "from",
    "thru",
    "include_devices",
    "accounts",
    "psa_companies",
    "services",
    "psa_products",
    "existing",
    "id",
    "name",
    "display_name",
    "account_id",
    "psa_company_id",
    "service_id",
    "psa_product_id",
    "excluded",
    "data",
    "attributes",
    "relationships",
    "included",
    "links",
    "next",
    "meta",
    "cursor",
    "type",
    "tenant",
    "parent",
    "deviceType",
    "onlineStatus",
    "manageStatus",
    "domainPrefix",
    "tenantType",
    "displayName",
    "deviceUsage",
    "averageDays",
    "max_requests",
    "resume_token",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        3 => "[a-zA-Z0-9 ._:/%-]{0,24}",
        3 => prop::sample::select(TRICKY).prop_map(str::to_string),
        1 => (prop::sample::select(TRICKY), 0usize..1500).prop_map(|(piece, times)| piece.repeat(times)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_string), 1 => text()]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        text().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6).prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node of `value` (the root included), depth first.
fn paths(value: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(here.clone());
        match value {
            Value::Object(members) => {
                for (name, member) in members {
                    here.push(Step::Key(name.clone()));
                    walk(member, here, out);
                    here.pop();
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    here.push(Step::Index(index));
                    walk(item, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn node_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(name) => node.get_mut(name.as_str()),
        Step::Index(index) => node.get_mut(*index),
    })
}

/// One change to a JSON document, at the node `selector` picks among all its nodes.
#[derive(Debug, Clone)]
enum Edit {
    Replace(Value),
    Remove,
    Insert(String, Value),
    Duplicate,
}

fn edit() -> impl Strategy<Value = (usize, Edit)> {
    let kind = prop_oneof![
        4 => json_value().prop_map(Edit::Replace),
        2 => Just(Edit::Remove),
        2 => (key(), json_value()).prop_map(|(name, value)| Edit::Insert(name, value)),
        1 => Just(Edit::Duplicate),
    ];
    (any::<usize>(), kind)
}

fn apply_at(value: &mut Value, path: &[Step], edit: &Edit) {
    match edit {
        Edit::Replace(new) => {
            if let Some(node) = node_mut(value, path) {
                *node = new.clone();
            }
        }
        Edit::Insert(name, new) => match node_mut(value, path) {
            Some(Value::Object(members)) => {
                members.insert(name.clone(), new.clone());
            }
            Some(Value::Array(items)) => items.push(new.clone()),
            Some(other) => *other = new.clone(),
            None => {}
        },
        Edit::Remove | Edit::Duplicate => {
            let Some((last, parent_path)) = path.split_last() else { return };
            match (node_mut(value, parent_path), last) {
                (Some(Value::Object(members)), Step::Key(name)) if matches!(edit, Edit::Remove) => {
                    members.remove(name);
                }
                (Some(Value::Array(items)), Step::Index(index)) if matches!(edit, Edit::Remove) => {
                    items.remove(*index);
                }
                (Some(Value::Array(items)), Step::Index(index)) => {
                    let copy = items[*index].clone();
                    items.insert(*index, copy);
                }
                _ => {}
            }
        }
    }
}

fn apply(value: &mut Value, (selector, edit): &(usize, Edit)) {
    let all = paths(value);
    let path = all[selector % all.len()].clone();
    apply_at(value, &path, edit);
}

/// Changes to the text itself: what no `Value` can hold (duplicate keys, broken syntax,
/// invalid UTF-8, numbers beyond any type).
#[derive(Debug, Clone)]
enum TextEdit {
    Keep,
    Truncate(usize),
    InsertByte(usize, u8),
    DuplicateFirstMember(usize),
    ReplaceNumber(usize, &'static str),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        4 => Just(TextEdit::Keep),
        1 => any::<usize>().prop_map(TextEdit::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| TextEdit::InsertByte(at, byte)),
        2 => any::<usize>().prop_map(TextEdit::DuplicateFirstMember),
        1 => (any::<usize>(), prop::sample::select(&["1e400", "-1e400", "18446744073709551616", "-9223372036854775809", "-0", "1.5"][..]))
            .prop_map(|(at, number)| TextEdit::ReplaceNumber(at, number)),
    ]
}

/// Compact JSON, with the first member of the `duplicate`-th object (depth first) written twice.
fn write_json(value: &Value, duplicate: Option<usize>, objects: &mut usize, out: &mut String) {
    match value {
        Value::Object(members) => {
            let this = *objects;
            *objects += 1;
            out.push('{');
            let mut written: Vec<(&String, &Value)> = members.iter().collect();
            if duplicate == Some(this) {
                if let Some(&first) = written.first() {
                    written.push(first);
                }
            }
            for (position, (name, member)) in written.into_iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(name).unwrap());
                out.push(':');
                write_json(member, duplicate, objects, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_json(item, duplicate, objects, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn render(value: &Value, text_edit: &TextEdit) -> Vec<u8> {
    let duplicate = match text_edit {
        TextEdit::DuplicateFirstMember(which) => Some(*which % (count_objects(value).max(1))),
        _ => None,
    };
    let mut out = String::new();
    write_json(value, duplicate, &mut 0, &mut out);
    let mut bytes = out.into_bytes();
    match *text_edit {
        TextEdit::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
        TextEdit::InsertByte(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
        TextEdit::ReplaceNumber(which, number) => {
            let digits: Vec<usize> = (0..bytes.len())
                .filter(|&at| bytes[at].is_ascii_digit() && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric()))
                .collect();
            if !digits.is_empty() {
                let start = digits[which % digits.len()];
                let end = (start..bytes.len()).find(|&at| !bytes[at].is_ascii_digit()).unwrap_or(bytes.len());
                bytes.splice(start..end, number.bytes());
            }
        }
        TextEdit::Keep | TextEdit::DuplicateFirstMember(_) => {}
    }
    bytes
}

fn count_objects(value: &Value) -> usize {
    match value {
        Value::Object(members) => 1 + members.values().map(count_objects).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_objects).sum(),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Entry-point inputs: arbitrary bytes, arbitrary JSON, and valid inputs with a few changes

const API_URL: &str = "https://auvikapi.us1.my.auvik.com";

fn valid_connection() -> Value {
    json!({"api_url": API_URL, "username": "billing@msp.example", "api_key": "k3y-for-tests"})
}

fn valid_inputs() -> Vec<Value> {
    vec![
        json!({"connection": valid_connection()}),
        json!({
            "connection": valid_connection(),
            "account_ids": ["400000000000000101", "400000000000000202"],
            "rollup": "customer",
            "billing_period": {"from": "2026-11-01", "thru": "2026-11-30"},
            "include_devices": true,
            "max_requests": 5
        }),
        json!({
            "accounts": [{"id": "a1", "name": "Acme Dental", "display_name": "ACME"}, {"id": "a2", "name": "Globex"}],
            "psa_companies": [{"id": "c1", "name": "acme dental"}, {"id": "c2", "name": "Globex Ltd"}],
            "services": [{"id": "firewalls", "name": "Firewalls"}],
            "psa_products": [{"id": "p1", "name": "Firewalls"}],
            "existing": {"accounts": [{"account_id": "a2", "psa_company_id": "c2"}], "services": [{"service_id": "firewalls", "excluded": true}]}
        }),
    ]
}

fn input_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..300),
        2 => (json_value(), text_edit()).prop_map(|(value, text_edit)| render(&value, &text_edit)),
        6 => (prop::sample::select(valid_inputs()), prop::collection::vec(edit(), 0..4), text_edit()).prop_map(
            |(mut value, edits, text_edit)| {
                for one in &edits {
                    apply(&mut value, one);
                }
                render(&value, &text_edit)
            }
        ),
        // One value or key about as long as the longest string the plugin reads.
        1 => (prop::sample::select(valid_inputs()), any::<usize>(), prop::sample::select(&["x", "é", "\u{200B}", "\"", "\u{1}"][..]), -8i64..8, any::<bool>())
            .prop_map(|(mut value, selector, piece, offset, as_key)| {
                let bytes = (MAX_STRING_BYTES as i64 + offset) as usize;
                let long = piece.repeat(bytes / piece.len().max(1));
                let edit = if as_key { Edit::Insert(long, json!(1)) } else { Edit::Replace(Value::String(long)) };
                apply(&mut value, &(selector, edit));
                render(&value, &TextEdit::Keep)
            }),
    ]
}

/// Every property name in the published input schemas.
fn schema_field_names() -> &'static HashSet<String> {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        fn collect(schema: &Value, names: &mut HashSet<String>) {
            match schema {
                Value::Object(members) => {
                    if let Some(Value::Object(properties)) = members.get("properties") {
                        names.extend(properties.keys().cloned());
                    }
                    members.values().for_each(|member| collect(member, names));
                }
                Value::Array(items) => items.iter().for_each(|item| collect(item, names)),
                _ => {}
            }
        }
        let mut names = HashSet::new();
        for text in [
            include_str!("../../schemas/connect.input.json"),
            include_str!("../../schemas/sync.input.json"),
            include_str!("../../schemas/map.input.json"),
        ] {
            collect(&serde_json::from_str(text).unwrap(), &mut names);
        }
        names
    })
}

/// An `invalid_input` whose message is `input: ...` or `<path>: ...`, the path starting with a
/// field of the published input, or being the unknown field the message is about.
fn check_refusal(error: &PluginError) -> Checked {
    prop_assert_eq!(error.code, ErrorCode::InvalidInput, "{}", error.message);
    let message = &error.message;
    prop_assert!(message.chars().count() < 1000, "the message is {} characters long", message.chars().count());
    let first = message.split(['.', '[', ':']).next().unwrap_or_default();
    let named = message.starts_with("input: ")
        || (schema_field_names().contains(first) && message[first.len()..].starts_with(['.', '[', ':']))
        || message.contains(": unknown field `");
    prop_assert!(named, "the message does not start with a field path: {:?}", message);
    let problem = message.rsplit_once(": ").map_or("", |(_, problem)| problem);
    prop_assert!(!problem.trim().is_empty(), "no problem stated: {:?}", message);
    Ok(())
}

/// A network that is not there, counting what was asked of it.
#[derive(Default)]
struct NoNetwork {
    requests: usize,
}

impl Transport for NoNetwork {
    fn get(&mut self, _url: &str, _headers: &[(&str, &str)]) -> Result<HttpResponse, PluginError> {
        self.requests += 1;
        Err(PluginError::new(ErrorCode::UpstreamError, "no network in this test"))
    }
}

/// Refusals come before any request; anything else needs the (absent) network.
fn check_call_outcome<T>(result: Result<T, PluginError>, requests: usize) -> Checked {
    match result {
        Ok(_) => Err(TestCaseError::fail("answered without a network")),
        Err(error) if error.code == ErrorCode::InvalidApiUrl => {
            prop_assert!(error.message.starts_with("connection.api_url: "), "{}", error.message);
            prop_assert_eq!(requests, 0);
            Ok(())
        }
        Err(error) if error.code == ErrorCode::InvalidInput => {
            check_refusal(&error)?;
            prop_assert_eq!(requests, 0, "refused after sending: {}", error.message);
            Ok(())
        }
        Err(error) => {
            prop_assert!(requests > 0, "{error:?} without a request");
            prop_assert_eq!(error.code, ErrorCode::UpstreamError, "{}", error.message);
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn inputs_are_read_or_refused_naming_the_field(bytes in input_bytes()) {
        match parse::<SyncInput>(&bytes) {
            Ok(input) => {
                let mut network = NoNetwork::default();
                let result = auvik_sync::sync::run(input, None, &mut network);
                check_call_outcome(result, network.requests)?;
            }
            Err(error) => check_refusal(&error)?,
        }
        match parse::<ConnectInput>(&bytes) {
            Ok(input) => {
                let mut network = NoNetwork::default();
                let result = auvik_sync::connect::run(input, None, &mut network);
                check_call_outcome(result, network.requests)?;
            }
            Err(error) => check_refusal(&error)?,
        }
        match parse::<MapInput>(&bytes) {
            Ok(input) => {
                let accounts = input.accounts.len();
                match map(input) {
                    Ok(output) => prop_assert_eq!(output.accounts.len(), accounts),
                    Err(error) => check_refusal(&error)?,
                }
            }
            Err(error) => check_refusal(&error)?,
        }
    }

    #[test]
    fn dates_are_real_calendar_dates(text in prop_oneof![
        text(),
        (0u32..10_000, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        // Month ends, and February of leap, common and century years.
        (prop_oneof![0u32..10_000, (0u32..100).prop_map(|c| c * 100), (0u32..2500).prop_map(|q| q * 4)], prop_oneof![Just(2u32), 1u32..13], 28u32..32)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
    ]) {
        let expected = calendar_date(&text);
        match parse_date("billing_period.from", &text) {
            Ok(date) => prop_assert_eq!(Some(date), expected, "{:?}", text),
            Err(error) => {
                prop_assert_eq!(expected, None, "{:?} refused: {}", text, error.message);
                prop_assert!(error.message.starts_with("billing_period.from: "), "{}", error.message);
            }
        }
    }
}

/// `YYYY-MM-DD` in ASCII digits naming a day that exists (Gregorian leap years).
fn calendar_date(text: &str) -> Option<(i32, u32, u32)> {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts[..] else { return None };
    let digits = |part: &str, len: usize| (part.len() == len && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse::<u32>().ok()).flatten();
    let (year, month, day) = (digits(year, 4)?, digits(month, 2)?, digits(day, 2)?);
    let leap = year % 400 == 0 || (year % 4 == 0 && year % 100 != 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let last = *days.get((month as usize).checked_sub(1)?)?;
    (1..=last).contains(&day).then_some((year as i32, month, day))
}

// ---------------------------------------------------------------------------------------------
// 2. Auvik's bodies: arbitrary JSON and real recorded pages with changes

fn recordings() -> &'static Vec<(String, Value)> {
    static BODIES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    BODIES.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/recordings/main");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
        files.sort();
        let bodies: Vec<(String, Value)> = files
            .iter()
            .filter_map(|file| {
                let recording: Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
                let path = recording.pointer("/request/path")?.as_str()?.to_string();
                let body = recording.pointer("/response/body")?.clone();
                (recording.pointer("/response/status")? == 200 && body.get("data").is_some()).then_some((path, body))
            })
            .collect();
        assert!(bodies.len() >= 8, "the recordings moved: {}", dir.display());
        bodies
    })
}

/// Reads `body` as the document its path returns; `Some(number of resources)` when readable.
fn read_as(path: &str, body: &[u8]) -> Option<usize> {
    match path {
        "/v1/inventory/device/info" => serde_json::from_slice::<DevicePage>(body).ok().map(|page| page.data.len()),
        "/v1/billing/usage/client" => serde_json::from_slice::<ClientUsageDocument>(body).ok().map(|doc| doc.data.len()),
        _ => serde_json::from_slice::<TenantsDocument>(body).ok().map(|doc| doc.data.len()),
    }
}

/// The nodes inside a resource's `attributes` or `relationships`, or an `included` entry:
/// what the model promises to read leniently.
fn lenient_paths(body: &Value) -> Vec<Vec<Step>> {
    paths(body)
        .into_iter()
        .filter(|path| match path.as_slice() {
            [Step::Key(list), Step::Index(_), Step::Key(part), ..] if list == "data" => part == "attributes" || part == "relationships",
            [Step::Key(list), Step::Index(_), ..] => list == "included",
            _ => false,
        })
        .collect()
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn any_body_is_read_or_refused_without_panic(value in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for candidate in [value.to_string().into_bytes(), bytes] {
            for path in ["/v1/inventory/device/info", "/v1/tenants", "/v1/billing/usage/client"] {
                let _ = read_as(path, &candidate);
            }
        }
    }

    #[test]
    fn changed_real_pages_are_read_or_refused_without_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..5),
        text_edit in text_edit(),
    ) {
        let (path, body) = which.get(recordings());
        let mut body = body.clone();
        for one in &edits {
            apply(&mut body, one);
        }
        let _ = read_as(path, &render(&body, &text_edit));
    }

    /// "Every attribute may be missing or null": an odd value inside a resource's attributes or
    /// relationships, or an odd `included` entry, never makes the whole body unreadable.
    #[test]
    fn odd_attributes_never_cost_the_page(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![
            3 => json_value().prop_map(Edit::Replace),
            1 => Just(Edit::Remove),
            1 => (key(), json_value()).prop_map(|(name, value)| Edit::Insert(name, value)),
        ]), 1..4),
    ) {
        let (path, original) = which.get(recordings());
        let mut body = original.clone();
        for (at, one) in &edits {
            let candidates = lenient_paths(&body);
            if candidates.is_empty() {
                continue;
            }
            let path: &Vec<Step> = at.get(&candidates);
            apply_at(&mut body, path, one);
        }
        let resources = body["data"].as_array().map(Vec::len);
        prop_assert_eq!(read_as(path, body.to_string().as_bytes()), resources, "{} became unreadable: {}", path, body);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A whole sync over a fake network that serves generated, changed pages

const BASE: &str = API_URL;
const ROOT: &str = "400000000000000001";
const OUTSIDE: &str = "499999999999999999";

#[derive(Debug, Clone)]
enum TenantRef {
    Home,
    Missing,
    Other(&'static str),
}

#[derive(Debug, Clone)]
struct DeviceSpec {
    id: usize,
    /// Index of the site the device lives in; `None` for a tenant outside every request.
    home: Option<usize>,
    tenant_ref: TenantRef,
    device_type: Value,
    online: Value,
    /// 0: no deviceDetail; 1: managed; 2: unmanaged; 3: deviceDetail with an odd manageStatus.
    detail: u8,
}

#[derive(Debug, Clone, Copy)]
enum LinkStyle {
    Raw,
    Encoded,
    Relative,
    MetaCursor,
    OtherHost,
    RepeatCursor,
    NotAString,
}

#[derive(Debug, Clone, Copy)]
enum EndStyle {
    Null,
    NoNext,
    NoLinks,
    Blank,
    LinksNotAnObject,
    NextIsEmptyObject,
}

#[derive(Debug, Clone)]
struct World {
    /// Per site: `None` under the root, `Some(g)` under multi-client `g`; and corporate IT or not.
    sites: Vec<(Option<usize>, bool)>,
    groups: usize,
    devices: Vec<DeviceSpec>,
    page_size: usize,
    links: Vec<LinkStyle>,
    end: EndStyle,
    forbidden: Option<usize>,
    flaky: bool,
    /// `(page number, edit)`: applied to that page of every request.
    page_edits: Vec<(usize, (usize, Edit))>,
    customer_rollup: bool,
    /// averageDays served per account, picked by the account's position; `None`: no row.
    billing: Option<Vec<Option<Value>>>,
}

impl World {
    fn site_id(&self, site: usize) -> String {
        format!("4000000000000{:05}", 200 + site)
    }

    fn group_id(group: usize) -> String {
        format!("4000000000000{:05}", 100 + group)
    }

    /// No hostile feature at all: every account must come back ok.
    fn is_clean(&self) -> bool {
        self.forbidden.is_none()
            && self.page_edits.is_empty()
            && self.links.iter().all(|style| matches!(style, LinkStyle::Raw | LinkStyle::Encoded | LinkStyle::Relative | LinkStyle::MetaCursor))
            && matches!(self.end, EndStyle::Null | EndStyle::NoNext | EndStyle::NoLinks | EndStyle::Blank)
            && self.devices.iter().all(|device| matches!(device.tenant_ref, TenantRef::Home) && device.home.is_some())
    }

    fn tenants_document(&self) -> Value {
        let tenant = |id: String, kind: &str, parent: Option<String>| {
            let mut tenant = json!({"type": "tenant", "id": id, "attributes": {"domainPrefix": format!("p{id}"), "tenantType": kind}});
            if let Some(parent) = parent {
                tenant["relationships"] = json!({"parent": {"data": {"type": "tenant", "id": parent}}});
            }
            tenant
        };
        let mut data = vec![tenant(ROOT.into(), "multiClient", None)];
        data.extend((0..self.groups).map(|group| tenant(Self::group_id(group), "multiClient", Some(ROOT.into()))));
        data.extend(self.sites.iter().enumerate().map(|(site, (group, corporate))| {
            let parent = group.map_or(ROOT.to_string(), Self::group_id);
            tenant(self.site_id(site), if *corporate { "corporateIt" } else { "client" }, Some(parent))
        }));
        json!({ "data": data })
    }

    /// The accounts a sync reports, in Auvik's order, with the sites each sums.
    fn units(&self) -> Vec<(String, Vec<String>)> {
        if !self.customer_rollup {
            return (0..self.sites.len()).map(|site| (self.site_id(site), vec![self.site_id(site)])).collect();
        }
        let groups = (0..self.groups).map(|group| {
            let sites = (0..self.sites.len()).filter(|&site| self.sites[site].0 == Some(group)).map(|site| self.site_id(site)).collect();
            (Self::group_id(group), sites)
        });
        let top_sites = (0..self.sites.len()).filter(|&site| self.sites[site].0.is_none()).map(|site| (self.site_id(site), vec![self.site_id(site)]));
        groups.chain(top_sites).collect()
    }

    fn device_json(&self, device: &DeviceSpec) -> Value {
        let mut json = json!({"type": "device", "id": format!("d{}", device.id),
            "attributes": {"deviceName": format!("dev {}", device.id), "deviceType": device.device_type, "onlineStatus": device.online}});
        let tenant = match (&device.tenant_ref, device.home) {
            (TenantRef::Missing, _) => None,
            (TenantRef::Other(id), _) => Some(id.to_string()),
            (TenantRef::Home, Some(site)) => Some(self.site_id(site)),
            (TenantRef::Home, None) => Some(OUTSIDE.to_string()),
        };
        if let Some(tenant) = tenant {
            json["relationships"] = json!({"tenant": {"data": {"type": "tenant", "id": tenant}}});
        }
        json
    }

    /// Page `number` of the device listing for `tenants`, or `None` past the end.
    fn device_page(&self, tenants: &[String], number: usize) -> Option<Value> {
        let listed: Vec<&DeviceSpec> = self
            .devices
            .iter()
            .filter(|device| device.home.is_none_or(|site| tenants.contains(&self.site_id(site))))
            .collect();
        let pages: Vec<&[&DeviceSpec]> = if listed.is_empty() { vec![&[]] } else { listed.chunks(self.page_size).collect() };
        let devices = pages.get(number)?;
        let included: Vec<Value> = devices
            .iter()
            .filter(|device| device.detail != 0)
            .map(|device| {
                let managed = match device.detail {
                    1 => json!(true),
                    2 => json!(false),
                    _ => json!("yes"),
                };
                json!({"type": "deviceDetail", "id": format!("d{}", device.id), "attributes": {"manageStatus": managed}})
            })
            .collect();
        let mut page = json!({"data": devices.iter().map(|device| self.device_json(device)).collect::<Vec<_>>(), "included": included});
        if number + 1 < pages.len() {
            let cursor = format!("c{}", number + 1);
            let query = format!("tenants={}&page%5Bfirst%5D=1000", tenants.join(","));
            page["links"] = match self.links[number % self.links.len()] {
                LinkStyle::Raw => json!({"next": format!("{BASE}/v1/inventory/device/info?{query}&page[after]={cursor}")}),
                LinkStyle::Encoded => json!({"next": format!("{BASE}/v1/inventory/device/info?page%5Bafter%5D={cursor}&{query}")}),
                LinkStyle::Relative => json!({"next": format!("/v1/inventory/device/info?page[after]={cursor}")}),
                LinkStyle::MetaCursor => json!({"next": {"meta": {"cursor": cursor}}}),
                LinkStyle::OtherHost => json!({"next": format!("https://evil.example/v1/inventory/device/info?page[after]={cursor}")}),
                LinkStyle::RepeatCursor => json!({"next": format!("{BASE}/v1/inventory/device/info?page[after]=c{number}")}),
                LinkStyle::NotAString => json!({"next": 1}),
            };
        } else {
            match self.end {
                EndStyle::Null => page["links"] = json!({"next": null}),
                EndStyle::NoNext => page["links"] = json!({"self": format!("{BASE}/v1/inventory/device/info")}),
                EndStyle::NoLinks => {}
                EndStyle::Blank => page["links"] = json!({"next": " "}),
                EndStyle::LinksNotAnObject => page["links"] = json!(["next"]),
                EndStyle::NextIsEmptyObject => page["links"] = json!({"next": {}}),
            }
        }
        for (page_number, one) in &self.page_edits {
            if *page_number == number {
                apply(&mut page, one);
            }
        }
        Some(page)
    }

    fn average_for(&self, account: &str) -> Option<Value> {
        let billing = self.billing.as_ref()?;
        let position = self.units().iter().position(|(id, _)| id == account)?;
        billing[position % billing.len()].clone()
    }
}

#[derive(Debug, Clone)]
struct Served {
    path: String,
    tenants: Vec<String>,
    after: Option<String>,
    status: u16,
    body: Vec<u8>,
}

struct FakeAuvik<'w> {
    world: &'w World,
    log: Vec<Served>,
    seen: HashSet<String>,
}

/// `%XX` decoding for the fake server; the plugin's own decoder is what is under test.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[at] == b'%' && at + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[at + 1]), hex(bytes[at + 2])) {
                out.push((high * 16 + low) as u8);
                at += 3;
                continue;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Transport for FakeAuvik<'_> {
    fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, PluginError> {
        assert!(url.starts_with(BASE), "a request left the API URL: {url}");
        assert!(headers.iter().any(|(name, _)| *name == "Authorization"));
        let target = &url[BASE.len()..];
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let params: HashMap<String, String> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(name), percent_decode(value))
            })
            .collect();
        let tenants: Vec<String> = params.get("tenants").map(|list| list.split(',').map(str::to_string).collect()).unwrap_or_default();
        let after = params.get("page[after]").cloned();
        let first_time = self.seen.insert(target.to_string());
        let world = self.world;
        let (status, body) = if world.flaky && first_time && path != "/v1/tenants" {
            (503, json!({"errors": [{"title": "try again"}]}))
        } else {
            match path {
                "/v1/tenants" => (200, world.tenants_document()),
                "/v1/inventory/device/info" => {
                    let forbidden = world.forbidden.map(|site| world.site_id(site)).filter(|site| tenants.contains(site));
                    let number = match after.as_deref() {
                        None => Some(0),
                        Some(cursor) => cursor.strip_prefix('c').and_then(|n| n.parse().ok()),
                    };
                    match (forbidden, number.and_then(|number| world.device_page(&tenants, number))) {
                        (Some(site), _) => (403, json!({"errors": [{"detail": format!("not authorized for tenant {site}")}]})),
                        (None, Some(page)) => (200, page),
                        (None, None) => (400, json!({"errors": [{"detail": "no such cursor"}]})),
                    }
                }
                "/v1/billing/usage/client" => {
                    let rows: Vec<Value> = tenants
                        .iter()
                        .filter_map(|id| {
                            let average = world.average_for(id)?;
                            Some(json!({"type": "clientUsage", "id": id, "attributes": {"deviceUsage": {"averageDays": average}}}))
                        })
                        .collect();
                    (200, json!({ "data": rows }))
                }
                other => panic!("the plugin asked for {other}"),
            }
        };
        let body = body.to_string().into_bytes();
        self.log.push(Served { path: path.to_string(), tenants, after, status, body: body.clone() });
        Ok(HttpResponse { status, body, headers: Vec::new() })
    }
}

/// Counts of one account in the order of `counts` in the output, plus the exclusions.
#[derive(Debug, Default, Clone, PartialEq)]
struct Recount {
    counts: [u64; 9],
    excluded: [u64; 4],
}

impl Recount {
    fn add(&mut self, other: &Recount) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        for (mine, theirs) in self.excluded.iter_mut().zip(other.excluded) {
            *mine += theirs;
        }
    }

    /// The counting rules: online first, then managed, then a type a service counts.
    fn count(&mut self, online: Option<&str>, managed: Option<bool>, device_type: Option<&str>) {
        let reason = match (online, managed) {
            (Some("online"), Some(true)) => None,
            (Some("online"), Some(false)) => Some(1),
            (Some("online"), None) => Some(2),
            _ => Some(0),
        };
        if let Some(reason) = reason {
            self.excluded[reason] += 1;
            return;
        }
        // (its own service, if any; billable; a switch)
        let (service, billable, switch) = match device_type.unwrap_or("") {
            "firewall" | "utm" => (Some(1), true, false),
            "controller" => (Some(2), true, false),
            "router" => (Some(3), true, false),
            "l3Switch" => (Some(4), true, true),
            "voipSwitch" => (Some(5), true, true),
            "stack" => (Some(6), true, true),
            "switch" => (None, true, true),
            "accessPoint" | "thinAccessPoint" => (Some(ACCESS_POINTS), false, false),
            _ => {
                self.excluded[3] += 1;
                return;
            }
        };
        if let Some(service) = service {
            self.counts[service] += 1;
        }
        if billable {
            self.counts[TOTAL] += 1;
        }
        if switch {
            self.counts[SWITCHES] += 1;
        }
    }

    /// Every device read once: each counted one is billable or an access point, or excluded.
    fn devices(&self) -> u64 {
        self.counts[TOTAL] + self.counts[ACCESS_POINTS] + self.excluded.iter().sum::<u64>()
    }
}

/// Positions in `counts`, which follows the order of the nine services.
const TOTAL: usize = 0;
const SWITCHES: usize = 7;
const ACCESS_POINTS: usize = 8;
const SERVICE_IDS: [&str; 9] =
    ["total_billable_devices", "firewalls", "controllers", "routers", "layer_3_switches", "voip_switches", "switch_stacks", "total_switches", "access_points"];
const EXCLUSIONS: [&str; 4] = ["offline", "unmanaged", "manage_status_unknown", "other_type"];

fn string_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// Whether a page's links say there is no next page: `links` absent or null, or `links.next`
/// absent, null or blank.
fn is_last_page(page: &Value) -> bool {
    match page.get("links") {
        None | Some(Value::Null) => true,
        Some(Value::Object(links)) => match links.get("next") {
            None | Some(Value::Null) => true,
            Some(Value::String(next)) => next.trim().is_empty(),
            Some(_) => false,
        },
        Some(_) => false,
    }
}

/// What `site`'s devices add up to in the last read that covered it, from the bodies served.
fn recount_site(log: &[Served], site: &str) -> Result<Recount, String> {
    let reads: Vec<usize> = (0..log.len())
        .filter(|&at| log[at].path == "/v1/inventory/device/info" && log[at].tenants.iter().any(|t| t == site))
        .collect();
    let last = *reads.last().ok_or("the site was never read")?;
    let tenants = &log[last].tenants;
    let start = (0..=last)
        .rev()
        .find(|&at| log[at].path == log[last].path && log[at].tenants == *tenants && log[at].after.is_none())
        .ok_or("the read has no first page")?;
    if log[start..=last].iter().any(|served| served.path != log[last].path || served.tenants != *tenants) {
        return Err("the pages of the read were not asked one after another".into());
    }
    let pages: Vec<Value> = log[start..=last]
        .iter()
        .filter(|served| served.status == 200)
        .map(|served| serde_json::from_slice(&served.body).unwrap())
        .collect();
    let last_page = pages.last().ok_or("no page of the read was served with 200")?;
    if !is_last_page(last_page) {
        return Err(format!("the read stopped on a page that points onward: {}", last_page.get("links").unwrap_or(&Value::Null)));
    }
    let mut per_site: HashMap<&str, Recount> = HashMap::new();
    let mut seen = HashSet::new();
    for page in &pages {
        let devices = page.get("data").and_then(Value::as_array).ok_or("a page without a data array was accepted")?;
        let mut managed: HashMap<&str, Option<bool>> = HashMap::new();
        for detail in page.get("included").and_then(Value::as_array).into_iter().flatten() {
            if let (Some("deviceDetail"), Some(id)) = (string_at(detail, "/type"), string_at(detail, "/id")) {
                managed.insert(id, detail.pointer("/attributes/manageStatus").and_then(Value::as_bool));
            }
        }
        for device in devices {
            let id = string_at(device, "/id").ok_or("a device without an id was accepted")?;
            let owner = match string_at(device, "/relationships/tenant/data/id") {
                Some(tenant) if tenants.iter().any(|t| t == tenant) => tenant,
                Some(_) => continue,
                None if tenants.len() == 1 => tenants[0].as_str(),
                None => return Err("a device without a tenant in a read of several sites was accepted".into()),
            };
            if !seen.insert(id) {
                continue;
            }
            per_site.entry(owner).or_default().count(
                string_at(device, "/attributes/onlineStatus"),
                managed.get(id).copied().flatten(),
                string_at(device, "/attributes/deviceType"),
            );
        }
    }
    Ok(per_site.remove(site).unwrap_or_default())
}

fn world() -> impl Strategy<Value = World> {
    let device_type = prop_oneof![
        6 => prop::sample::select(&["firewall", "utm", "controller", "router", "l3Switch", "voipSwitch", "stack", "switch", "accessPoint", "thinAccessPoint", "server", "Router"][..]).prop_map(Value::from),
        1 => json_leaf(),
    ];
    let online = prop_oneof![
        6 => prop::sample::select(&["online", "offline", "unreachable", "Online"][..]).prop_map(Value::from),
        1 => json_leaf(),
    ];
    let tenant_ref = prop_oneof![
        8 => Just(TenantRef::Home),
        1 => Just(TenantRef::Missing),
        1 => Just(TenantRef::Other(OUTSIDE)),
    ];
    let device = (0usize..14, prop::option::weighted(0.9, 0usize..6), tenant_ref, device_type, online, 0u8..4).prop_map(
        |(id, home, tenant_ref, device_type, online, detail)| DeviceSpec { id, home, tenant_ref, device_type, online, detail },
    );
    let link = prop_oneof![
        8 => prop::sample::select(&[LinkStyle::Raw, LinkStyle::Encoded, LinkStyle::Relative, LinkStyle::MetaCursor][..]),
        1 => prop::sample::select(&[LinkStyle::OtherHost, LinkStyle::RepeatCursor, LinkStyle::NotAString][..]),
    ];
    let end = prop_oneof![
        8 => prop::sample::select(&[EndStyle::Null, EndStyle::NoNext, EndStyle::NoLinks, EndStyle::Blank][..]),
        1 => prop::sample::select(&[EndStyle::LinksNotAnObject, EndStyle::NextIsEmptyObject][..]),
    ];
    let average = prop::option::weighted(0.9, prop_oneof![4 => (0.0f64..500.0).prop_map(Value::from), 1 => json_leaf()]);
    (
        (0usize..3).prop_flat_map(|groups| {
            (Just(groups), prop::collection::vec((prop::option::of(0..groups.max(1)).prop_map(move |g| g.filter(|_| groups > 0)), prop::bool::weighted(0.2)), 1..6))
        }),
        prop::collection::vec(device, 0..14),
        1usize..5,
        (prop::collection::vec(link, 1..4), end),
        (prop::option::weighted(0.2, 0usize..6), prop::bool::weighted(0.2)),
        prop::collection::vec((0usize..4, edit()), 0..3),
        any::<bool>(),
        prop::option::weighted(0.5, prop::collection::vec(average, 1..5)),
    )
        .prop_map(|((groups, sites), mut devices, page_size, (links, end), (forbidden, flaky), page_edits, customer_rollup, billing)| {
            for device in &mut devices {
                device.home = device.home.filter(|&site| site < sites.len());
            }
            World { forbidden: forbidden.filter(|&site| site < sites.len()), sites, groups, devices, page_size, links, end, flaky, page_edits, customer_rollup, billing }
        })
}

fn sync_input_for(world: &World) -> Value {
    let mut input = json!({"connection": valid_connection(), "rollup": if world.customer_rollup { "customer" } else { "site" }});
    if world.billing.is_some() {
        input["billing_period"] = json!({"from": "2026-11-01", "thru": "2026-11-30"});
    }
    input
}

fn sync_over(world: &World) -> (Result<auvik_sync::sync::SyncOutput, PluginError>, Vec<Served>) {
    let input: SyncInput = parse(sync_input_for(world).to_string().as_bytes()).expect("a valid input");
    let mut fake = FakeAuvik { world, log: Vec::new(), seen: HashSet::new() };
    let result = auvik_sync::sync::run(input, None, &mut fake);
    (result, fake.log)
}

/// The sync as a host runs it with a budget: call again with the token until complete.
fn sync_in_calls(world: &World, budget: u32) -> Result<auvik_sync::sync::SyncOutput, String> {
    let mut fake = FakeAuvik { world, log: Vec::new(), seen: HashSet::new() };
    let mut token: Option<String> = None;
    for _ in 0..1_000 {
        let mut input = sync_input_for(world);
        input["max_requests"] = json!(budget);
        input["resume_token"] = json!(token);
        let input: SyncInput = parse(input.to_string().as_bytes()).map_err(|error| error.message)?;
        let output = auvik_sync::sync::run(input, None, &mut fake).map_err(|error| format!("{error:?}"))?;
        if output.complete {
            return Ok(output);
        }
        token = Some(output.resume_token.ok_or("an incomplete output without a token")?);
    }
    Err("no end after 1,000 calls".into())
}

/// What an account's final result says, without the wording of its messages.
fn settled(account: &auvik_sync::sync::AccountResult) -> Value {
    let value = serde_json::to_value(account).unwrap();
    json!([value["account_id"], value["status"], value["counts"], value["excluded"], value["devices_seen"],
           value["error"]["code"], value["average_billable_devices"], value["average_error"]["code"]])
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn every_account_is_counted_by_the_rules_or_unavailable(world in world()) {
        let (result, log) = sync_over(&world);
        let output = match result {
            Ok(output) => output,
            Err(error) => return Err(TestCaseError::fail(format!("the sync failed as a whole: {error:?}"))),
        };
        prop_assert!(output.complete && output.resume_token.is_none(), "a sync without a budget stopped early: {:?}", output.paused);
        let units = world.units();
        let listed: Vec<&str> = output.accounts.iter().map(|account| account.account_id.as_str()).collect();
        let expected: Vec<&str> = units.iter().map(|(id, _)| id.as_str()).collect();
        prop_assert_eq!(listed, expected);

        for (account, (_, sites)) in output.accounts.iter().zip(&units) {
            let value = serde_json::to_value(account).unwrap();
            match account.status {
                AccountStatus::Unavailable => {
                    prop_assert!(!world.is_clean(), "an account of a clean world is unavailable: {}", value);
                    prop_assert!(account.error.is_some(), "{}", value);
                    prop_assert!(account.counts.is_none() && account.excluded.is_none(), "an unavailable account has numbers: {}", value);
                    prop_assert!(account.average_billable_devices.is_none());
                }
                AccountStatus::Pending => return Err(TestCaseError::fail(format!("pending in a complete output: {value}"))),
                AccountStatus::Ok => {
                    prop_assert!(account.error.is_none(), "{}", value);
                    let mut recount = Recount::default();
                    for site in sites {
                        match recount_site(&log, site) {
                            Ok(site_recount) => recount.add(&site_recount),
                            Err(why) => return Err(TestCaseError::fail(format!("{} is ok, but {why}", account.account_id))),
                        }
                    }
                    let counts: Vec<u64> = SERVICE_IDS.iter().map(|service| value["counts"][service].as_u64().unwrap()).collect();
                    let excluded: Vec<u64> = EXCLUSIONS.iter().map(|reason| value["excluded"][reason].as_u64().unwrap()).collect();
                    prop_assert_eq!(&counts[..], &recount.counts[..], "counts of {}", account.account_id);
                    prop_assert_eq!(&excluded[..], &recount.excluded[..], "exclusions of {}", account.account_id);
                    prop_assert_eq!(value["devices_seen"].as_u64(), Some(recount.devices()));

                    match world.average_for(&account.account_id) {
                        _ if world.billing.is_none() => {
                            prop_assert!(account.average_billable_devices.is_none() && account.average_error.is_none());
                        }
                        Some(Value::Number(number)) if number.as_f64().is_some_and(|n| n.is_finite() && n >= 0.0) => {
                            // serde_json reads floats to within a unit in the last place unless
                            // its `float_roundtrip` feature is on.
                            let (served, read) = (number.as_f64().unwrap(), account.average_billable_devices);
                            prop_assert!(read.is_some_and(|read| (read - served).abs() <= served * 1e-12), "{} served, {}", served, value);
                        }
                        _ => prop_assert!(
                            account.average_billable_devices.is_none() && account.average_error.is_some(),
                            "an unusable average was not said: {}", value
                        ),
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// "A run split into any number of calls gives exactly the counts of one uninterrupted call."
    #[test]
    fn a_sync_split_by_its_budget_ends_as_one_uninterrupted_call(world in world(), budget in 1u32..6) {
        let (whole, _) = sync_over(&world);
        let whole = whole.map_err(|error| TestCaseError::fail(format!("{error:?}")))?;
        let split = sync_in_calls(&world, budget).map_err(TestCaseError::fail)?;
        let whole: Vec<Value> = whole.accounts.iter().map(settled).collect();
        let split: Vec<Value> = split.accounts.iter().map(settled).collect();
        prop_assert_eq!(split, whole);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Links and URLs

fn link_parts() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(&["", "", "", " ", "/", "//", "/\\", "\\\\"][..]);
    let scheme = prop::sample::select(&["https://", "http://", "HTTPS://", "ftp://", "https:/", "https:", "", "h ttps://"][..]);
    let authority = prop::sample::select(
        &[
            "auvikapi.us1.my.auvik.com",
            "AUVIKAPI.US1.MY.AUVIK.COM",
            "auvikapi.us1.my.auvik.com.evil.example",
            "auvikapi.us1.my.auvik.com:443",
            "user@auvikapi.us1.my.auvik.com",
            "auvikapi.us1.my.auvik.com\\@evil.example",
            "auvikapi.us1.my.auvik.com@evil.example",
            "evil.example",
            "127.0.0.1:1",
            "",
        ][..],
    );
    let path = prop::sample::select(&["", "/", "/v1/inventory/device/info", "/v1/x/", "#", "#/"][..]);
    let query = prop::sample::select(&["", "?page[after]=c1", "?page%5Bafter%5D=c%3D1", "?a=1&page[after]=c2&b", "?page[after]=", "?page[after]=%FF"][..]);
    let fragment = prop::sample::select(&["", "#f", "#?page[after]=z"][..]);
    (prefix, scheme, authority, path, query, fragment)
        .prop_map(|(prefix, scheme, authority, path, query, fragment)| format!("{prefix}{scheme}{authority}{path}{query}{fragment}"))
}

/// A link that can only mean the base's own origin: an absolute path, or an absolute URL whose
/// scheme and authority are the base's (ignoring case).
fn same_origin(link: &str, base: &str) -> bool {
    if let Some(rest) = link.strip_prefix('/') {
        return !rest.starts_with(['/', '\\']);
    }
    link.get(..base.len()).is_some_and(|start| start.eq_ignore_ascii_case(base))
        && matches!(link[base.len()..].chars().next(), None | Some('/' | '?' | '#'))
}

proptest! {
    #![proptest_config(config(5000))]

    #[test]
    fn url_helpers_take_any_text(text in prop_oneof![text(), link_parts()]) {
        let _ = decode(&text);
        let _ = query_pairs(&text);
        if let Some(parsed) = parse_absolute(&text) {
            prop_assert!(text.to_ascii_lowercase().starts_with(&parsed.origin), "{:?} → {:?}", text, parsed.origin);
        }
    }

    #[test]
    fn next_cursor_takes_any_links_value(links in json_value(), base in prop::sample::select(&[BASE, "http://127.0.0.1:4321", "", "not a url"][..])) {
        let _ = next_cursor(Some(&links), base);
        let _ = next_cursor(Some(&json!({ "next": links })), base);
    }

    #[test]
    fn a_link_to_another_origin_never_gives_a_cursor(link in prop_oneof![link_parts(), text()]) {
        let result = next_cursor(Some(&json!({ "next": link })), BASE);
        if let Ok(Next::After(cursor)) = &result {
            prop_assert!(same_origin(&link, BASE), "{:?} is followed (cursor {:?}) though it is not the base's origin", link, cursor);
            prop_assert!(!cursor.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The API URL check

/// `https://auvikapi.<letters and digits>.my.auvik.com`, host in any case, one optional
/// trailing slash: the base URL it stands for, lower-cased.
fn auvik_base(raw: &str) -> Option<String> {
    let host = raw.strip_prefix("https://")?;
    let host = host.strip_suffix('/').unwrap_or(host);
    let labels: Vec<String> = host.split('.').map(str::to_ascii_lowercase).collect();
    match &labels[..] {
        [api, region, my, auvik, com]
            if api == "auvikapi" && my == "my" && auvik == "auvik" && com == "com"
                && !region.is_empty() && region.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Some(format!("https://{}", labels.join(".")))
        }
        _ => None,
    }
}

fn api_url_parts() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(&["https://", "https://", "http://", "HTTPS://", "https:/", "", " https://"][..]);
    let head = prop::sample::select(&["auvikapi.", "AUVIKAPI.", "AuvikApi.", "auvikapi", "evilauvikapi.", "", "user@auvikapi."][..]);
    let region = prop::sample::select(&["us1", "EU2", "lnx", "", "us-1", "u s", "ü", "us1.evil", "x0x0x0x0x0x0x0x0x0x0x0x0x0", "..", "us1:8"][..]);
    let tail = prop::sample::select(&[".my.auvik.com", ".MY.AUVIK.COM", ".my.auvik.com.evil.example", ".my.auvik.co", "my.auvik.com", ".my.auvik.com."][..]);
    let end = prop::sample::select(&["", "", "/", "//", "/v1", ":443", "?x=1", "#f", "@evil.example", " ", "\n", "\\"][..]);
    (scheme, head, region, tail, end).prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}{d}{e}"))
}

proptest! {
    #![proptest_config(config(5000))]

    #[test]
    fn only_auvik_api_urls_pass(
        raw in prop_oneof![api_url_parts(), text()],
        allowed in prop::option::weighted(0.3, prop::sample::select(&[
            "http://127.0.0.1:4321", "http://127.0.0.1:4321/", "", "/", " / ", "http://127.0.0.1:1, http://127.0.0.1:4321/", "http://a,/",
        ][..])),
    ) {
        let result = validate_api_url(&raw, allowed);
        // The operator's list: exact base URLs separated by spaces or commas, one trailing slash
        // ignored on either side.
        let trimmed = raw.strip_suffix('/').unwrap_or(&raw);
        let operator_url = allowed
            .into_iter()
            .flat_map(|list| list.split([' ', ',', '\n', '\t']))
            .map(|url| url.strip_suffix('/').unwrap_or(url))
            .find(|url| !url.is_empty() && *url == trimmed);
        match (result, auvik_base(&raw), operator_url) {
            (Ok(base), Some(expected), _) => prop_assert_eq!(base.as_str(), expected.as_str()),
            (Ok(base), None, Some(url)) => prop_assert_eq!(base.as_str(), url),
            (Ok(base), None, None) => return Err(TestCaseError::fail(format!("{raw:?} passed as {}", base.as_str()))),
            (Err(error), None, None) => {
                prop_assert_eq!(error.code, ErrorCode::InvalidApiUrl);
                prop_assert!(error.message.starts_with("connection.api_url: "), "{}", error.message);
                prop_assert!(error.message.chars().count() < 2000, "the message echoes too much: {} chars", error.message.chars().count());
            }
            (Err(error), _, _) => return Err(TestCaseError::fail(format!("{raw:?} refused: {}", error.message))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Mapping

fn name() -> impl Strategy<Value = String> {
    let collide = prop::sample::select(
        &[
            "Acme", "acme", " ACME ", "Acme  Dental", "acme dental", "ACME\tDENTAL", "Acme\u{3000}Dental", "Globex", "GLOBEX",
            "Globex Ltd", "Ω", "ω", "İ", "i\u{307}", "ß", "SS", "ss", "x", "",
        ][..],
    );
    prop_oneof![
        6 => collide.prop_map(str::to_string),
        2 => any::<String>(),
        1 => prop::sample::select(TRICKY).prop_map(str::to_string),
        1 => (0usize..1100).prop_map(|n| "a".repeat(n)),
    ]
}

fn entries(ids: usize, len: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(((0..ids).prop_map(|n| format!("id{n}")), name()), 0..len)
}

/// Names as automatic mapping compares them: whitespace runs as one space, no space at the
/// ends, and case ignored.
fn same_name(a: &str, b: &str) -> bool {
    let words = |text: &str| text.split(char::is_whitespace).filter(|w| !w.is_empty()).map(str::to_lowercase).collect::<Vec<_>>();
    words(a) == words(b)
}

#[derive(Debug, Clone)]
struct MapCase {
    accounts: Vec<(String, String, Option<String>)>,
    companies: Vec<(String, String)>,
    existing: Vec<(String, Option<String>, bool)>,
}

fn map_case() -> impl Strategy<Value = MapCase> {
    (
        prop::collection::vec(((0..14usize).prop_map(|n| format!("a{n}")), name(), prop::option::weighted(0.4, name())), 0..10),
        entries(14, 10),
        prop::collection::vec(
            (
                (0..14usize).prop_map(|n| format!("a{n}")),
                prop::option::weighted(0.7, prop_oneof![(0..14usize).prop_map(|n| format!("id{n}")), Just(" ".to_string())]),
                prop::bool::weighted(0.3),
            ),
            0..4,
        ),
    )
        .prop_map(|(accounts, companies, existing)| MapCase { accounts, companies, existing })
}

impl MapCase {
    fn input(&self) -> Value {
        json!({
            "accounts": self.accounts.iter().map(|(id, name, display)| json!({"id": id, "name": name, "display_name": display})).collect::<Vec<_>>(),
            "psa_companies": self.companies.iter().map(|(id, name)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
            "services": [],
            "existing": {"accounts": self.existing.iter().map(|(id, company, excluded)| json!({"account_id": id, "psa_company_id": company, "excluded": excluded})).collect::<Vec<_>>()},
        })
    }

    /// The documented validity rules, checked here without the plugin.
    fn is_valid(&self) -> bool {
        let blank = |text: &str| text.trim().is_empty();
        let long = |text: &str| text.chars().count() > 1000;
        let unique = |ids: Vec<&String>| ids.iter().collect::<HashSet<_>>().len() == ids.len();
        self.accounts.iter().all(|(id, name, display)| !blank(id) && !blank(name) && !long(name) && !display.as_deref().is_some_and(long))
            && self.companies.iter().all(|(id, name)| !blank(id) && !blank(name) && !long(name))
            && unique(self.accounts.iter().map(|(id, _, _)| id).collect())
            && unique(self.companies.iter().map(|(id, _)| id).collect())
            && unique(self.existing.iter().map(|(id, _, _)| id).collect())
            && self.existing.iter().all(|(_, company, excluded)| match (company, excluded) {
                (Some(company), false) => !blank(company),
                (None, true) => true,
                _ => false,
            })
    }

    /// The names an account is matched by: its display name when not blank, and its name.
    fn names(&self, account: usize) -> Vec<&str> {
        let (_, name, display) = &self.accounts[account];
        display.as_deref().filter(|d| !d.trim().is_empty()).into_iter().chain([name.as_str()]).collect()
    }
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn mapping_answers_every_row_and_maps_only_unique_exact_names(case in map_case()) {
        let input: MapInput = serde_json::from_value(case.input()).expect("the generator builds the shape");
        let result = map(input);
        let output = match result {
            Err(error) => {
                check_refusal(&error)?;
                prop_assert!(!case.is_valid(), "a valid input was refused: {}", error.message);
                return Ok(());
            }
            Ok(output) => output,
        };
        prop_assert!(case.is_valid(), "an invalid input was accepted");
        let ids: Vec<&str> = output.accounts.iter().map(|row| row.account_id.as_str()).collect();
        let expected: Vec<&str> = case.accounts.iter().map(|(id, _, _)| id.as_str()).collect();
        prop_assert_eq!(ids, expected);
        prop_assert_eq!(output.services.len(), 0);
        let decided: HashMap<&str, (Option<&str>, bool)> =
            case.existing.iter().map(|(id, company, excluded)| (id.as_str(), (company.as_deref(), *excluded))).collect();
        let undecided: Vec<usize> = (0..case.accounts.len()).filter(|&a| !decided.contains_key(case.accounts[a].0.as_str())).collect();
        let taken: HashSet<&str> = case
            .accounts
            .iter()
            .filter_map(|(id, _, _)| decided.get(id.as_str()).and_then(|(company, _)| *company))
            .collect();
        // The companies each account's names match exactly.
        let matches = |account: usize| -> Vec<usize> {
            (0..case.companies.len()).filter(|&c| case.names(account).iter().any(|n| same_name(n, &case.companies[c].1))).collect()
        };

        let mut mapped = 0;
        for (account, row) in output.accounts.iter().enumerate() {
            let row_value = serde_json::to_value(row).unwrap();
            match decided.get(row.account_id.as_str()) {
                Some((Some(company), _)) => {
                    prop_assert_eq!((row.status, row.psa_company_id.as_deref(), row.match_kind), (MapStatus::Mapped, Some(*company), Some(MatchKind::Existing)));
                }
                Some((None, _)) => prop_assert_eq!((row.status, row.match_kind), (MapStatus::Excluded, Some(MatchKind::Existing))),
                None => {
                    let found = matches(account);
                    let unique_both_ways = match found[..] {
                        [company] => {
                            !taken.contains(case.companies[company].0.as_str())
                                && undecided.iter().filter(|&&other| other != account).all(|&other| !matches(other).contains(&company))
                        }
                        _ => false,
                    };
                    if unique_both_ways {
                        prop_assert_eq!(row.status, MapStatus::Mapped, "a unique exact match was not applied: {}", row_value);
                    }
                    if row.status == MapStatus::Mapped {
                        prop_assert!(unique_both_ways, "mapped without a unique exact match on both sides: {} (matches {:?})", row_value, found);
                        prop_assert_eq!(row.match_kind, Some(MatchKind::Exact));
                        prop_assert_eq!(row.psa_company_id.as_deref(), Some(case.companies[found[0]].0.as_str()));
                    } else {
                        prop_assert_eq!((row.status, row.match_kind, row.psa_company_id.as_deref()), (MapStatus::Unmapped, None, None));
                    }
                }
            }
            if row.status == MapStatus::Mapped {
                mapped += 1;
            }
            if row.status != MapStatus::Unmapped {
                prop_assert!(row.suggestions.is_empty(), "{}", row_value);
            }
            prop_assert!(row.suggestions.len() <= 5);
            for pair in row.suggestions.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score, "{}", row_value);
            }
            for suggestion in &row.suggestions {
                prop_assert!((0.5..=1.0).contains(&suggestion.score), "{}", row_value);
                prop_assert!(case.companies.iter().any(|(id, name)| *id == suggestion.psa_company_id && *name == suggestion.name));
            }
        }
        prop_assert_eq!(output.summary.accounts.mapped, mapped);
        prop_assert_eq!(
            output.summary.accounts.mapped + output.summary.accounts.unmapped + output.summary.accounts.excluded,
            case.accounts.len()
        );
    }
}
