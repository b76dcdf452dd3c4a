//! Recorded exchanges: the on-disk format, exchanges built in code, and the lookup index.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::http::is_token;

pub const SCENARIO_FILE: &str = "scenario.json";
/// Sits next to the recordings but holds the harness's expected output, not an exchange.
pub const EXPECTED_FILE: &str = "expected.json";
pub const BASE_URL_PLACEHOLDER: &str = "{{base_url}}";
pub(crate) const JSON_API: &str = "application/vnd.api+json";
/// Compared as a set: the plugin may list tenant ids in any order.
const SET_VALUED_KEY: &str = "tenants";

#[derive(Clone, PartialEq, Eq)]
pub struct Scenario {
    pub description: String,
    pub username: String,
    pub api_key: String,
}

impl Scenario {
    pub fn new(
        description: impl Into<String>,
        username: impl Into<String>,
        api_key: impl Into<String>,
    ) -> Self {
        Scenario {
            description: description.into(),
            username: username.into(),
            api_key: api_key.into(),
        }
    }
}

/// Hand-written so that printing a scenario never prints its key.
impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("description", &self.description)
            .field("username", &self.username)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// Which request an exchange answers. `query` pairs are decoded; order is irrelevant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestMatcher {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl RequestMatcher {
    pub fn get<K, V>(path: impl Into<String>, query: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        RequestMatcher {
            method: "GET".to_string(),
            path: path.into(),
            query: query
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

/// The body is kept serialized (and shared) so large generated bodies cost nothing per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Arc<str>,
}

impl RecordedResponse {
    /// A JSON:API response with the Content-Type Auvik sends.
    pub fn json(status: u16, body: &Value) -> Self {
        Self::json_text(status, body.to_string())
    }

    /// Like [`RecordedResponse::json`] for a body that is already serialized.
    pub fn json_text(status: u16, body: impl Into<Arc<str>>) -> Self {
        RecordedResponse {
            status,
            headers: vec![("Content-Type".to_string(), JSON_API.to_string())],
            body: body.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Names the exchange in errors and in `LoggedRequest::answered_by`: the file name
    /// for recordings (`name.json[i]` inside an array file).
    pub source: String,
    pub request: RequestMatcher,
    pub response: RecordedResponse,
}

impl Exchange {
    pub fn new(
        source: impl Into<String>,
        request: RequestMatcher,
        response: RecordedResponse,
    ) -> Self {
        Exchange {
            source: source.into(),
            request,
            response,
        }
    }
}

/// An exchange ready to serve: validated, with `{{base_url}}` already substituted.
pub(crate) struct Prepared {
    pub source: String,
    pub status: u16,
    pub headers: Arc<[(String, String)]>,
    pub body: Arc<str>,
}

/// A request as the server matches it: parameter order and tenant order do not matter.
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct MatchKey {
    method: String,
    path: String,
    query: Vec<(String, String)>,
}

impl MatchKey {
    /// `None` when a key repeats: such a request never matches.
    pub(crate) fn new(method: &str, path: &str, query: &[(String, String)]) -> Option<MatchKey> {
        let mut query = query.to_vec();
        query.sort();
        if query.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return None;
        }
        for (key, value) in &mut query {
            if key == SET_VALUED_KEY {
                *value = value
                    .split(',')
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(",");
            }
        }
        Some(MatchKey {
            method: method.to_string(),
            path: path.to_string(),
            query,
        })
    }
}

/// One hash lookup per request: the canonical key makes matching independent of
/// parameter order and of tenant order, so no scan is needed even for 10,000 exchanges.
pub(crate) struct Index {
    prepared: Vec<Prepared>,
    by_request: HashMap<MatchKey, usize>,
}

impl Index {
    pub(crate) fn build(exchanges: Vec<Exchange>, base_url: &str) -> Result<Index, String> {
        let mut prepared: Vec<Prepared> = Vec::with_capacity(exchanges.len());
        let mut by_request: HashMap<MatchKey, usize> = HashMap::with_capacity(exchanges.len());
        for exchange in exchanges {
            validate(&exchange).map_err(|problem| format!("{}: {problem}", exchange.source))?;
            let Exchange {
                source,
                request,
                response,
            } = exchange;
            let key = MatchKey::new(&request.method, &request.path, &request.query)
                .ok_or_else(|| format!("{source}: query repeats a key, so it could never match"))?;
            match by_request.entry(key) {
                Entry::Occupied(first) => {
                    return Err(format!(
                        "{} and {source} record the same request {}",
                        prepared[*first.get()].source,
                        describe(&request.method, &request.path, &request.query)
                    ))
                }
                Entry::Vacant(slot) => {
                    slot.insert(prepared.len());
                }
            }
            let headers = response
                .headers
                .into_iter()
                .map(|(name, value)| (name, value.replace(BASE_URL_PLACEHOLDER, base_url)))
                .collect();
            let body = if response.body.contains(BASE_URL_PLACEHOLDER) {
                Arc::from(response.body.replace(BASE_URL_PLACEHOLDER, base_url))
            } else {
                response.body
            };
            prepared.push(Prepared {
                source,
                status: response.status,
                headers,
                body,
            });
        }
        Ok(Index {
            prepared,
            by_request,
        })
    }

    pub(crate) fn lookup(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Option<&Prepared> {
        let key = MatchKey::new(method, path, query)?;
        self.by_request.get(&key).map(|&i| &self.prepared[i])
    }
}

fn validate(exchange: &Exchange) -> Result<(), String> {
    let request = &exchange.request;
    if !is_token(&request.method) {
        return Err(format!("invalid method {:?}", request.method));
    }
    if !request.path.starts_with('/') {
        return Err(format!("path {:?} must start with '/'", request.path));
    }
    if request.path.contains('?') {
        return Err(format!(
            "path {:?} contains '?'; put parameters in `query`",
            request.path
        ));
    }
    let status = exchange.response.status;
    if !(100..=999).contains(&status) {
        return Err(format!("invalid status {status}"));
    }
    for (name, value) in &exchange.response.headers {
        if !is_token(name) || value.contains(['\r', '\n']) {
            return Err(format!("invalid header {name:?}"));
        }
    }
    Ok(())
}

/// How requests are named in 404 bodies, errors and `take_unmatched`.
pub(crate) fn describe(method: &str, path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return format!("{method} {path}");
    }
    let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{method} {path}?{}", pairs.join("&"))
}

/// Reads `scenario.json` and every other `*.json` exchange file, in file-name order.
pub(crate) fn load_dir(dir: &Path) -> Result<(Scenario, Vec<Exchange>), String> {
    let unreadable =
        |e: std::io::Error| format!("{}: cannot read recordings directory: {e}", dir.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let name = file_name(&path);
        if path.is_file()
            && name.ends_with(".json")
            && name != SCENARIO_FILE
            && name != EXPECTED_FILE
        {
            files.push((name, path));
        }
    }
    files.sort();

    let scenario = load_scenario(&dir.join(SCENARIO_FILE))?;
    let mut exchanges = Vec::new();
    for (name, path) in files {
        exchanges.extend(load_exchange_file(&name, &path)?);
    }
    Ok((scenario, exchanges))
}

/// Parsed by hand rather than through serde so no error message can echo the key.
fn load_scenario(path: &Path) -> Result<Scenario, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Syntax errors report only a position, never content.
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?;
    let Value::Object(fields) = value else {
        return Err(format!("{}: expected a JSON object", path.display()));
    };
    let field = |name: &str, required: bool| match fields.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        None if !required => Ok(String::new()),
        None => Err(format!("{}: missing field `{name}`", path.display())),
        Some(_) => Err(format!(
            "{}: field `{name}` must be a string",
            path.display()
        )),
    };
    Ok(Scenario {
        description: field("description", false)?,
        username: field("username", true)?,
        api_key: field("api_key", true)?,
    })
}

fn load_exchange_file(name: &str, path: &Path) -> Result<Vec<Exchange>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let invalid = |e: serde_json::Error| format!("{}: {e}", path.display());
    let array = text.trim_start().starts_with('[');
    // Deserialized straight from the text (not via `Value`) so errors carry line and column.
    let files = if array {
        serde_json::from_str::<Vec<FileExchange>>(&text).map_err(invalid)?
    } else {
        vec![serde_json::from_str::<FileExchange>(&text).map_err(invalid)?]
    };
    files
        .into_iter()
        .enumerate()
        .map(|(i, file)| {
            let source = if array {
                format!("{name}[{i}]")
            } else {
                name.to_string()
            };
            file.into_exchange(source).map_err(|e| {
                format!(
                    "{}{}: {e}",
                    path.display(),
                    if array {
                        format!("[{i}]")
                    } else {
                        String::new()
                    }
                )
            })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileExchange {
    request: FileRequest,
    response: FileResponse,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRequest {
    method: String,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileResponse {
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `"body": null` is a body (`null`), unlike an absent field.
    #[serde(default, deserialize_with = "present")]
    body: Option<CompactJson>,
    body_text: Option<String>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<CompactJson>, D::Error> {
    CompactJson::deserialize(deserializer).map(Some)
}

impl FileExchange {
    fn into_exchange(self, source: String) -> Result<Exchange, String> {
        let body: Arc<str> = match (self.response.body, self.response.body_text) {
            (Some(_), Some(_)) => return Err("response has both `body` and `body_text`".into()),
            (Some(CompactJson(json)), None) => json.into(),
            (None, Some(text)) => text.into(),
            (None, None) => "".into(),
        };
        Ok(Exchange {
            source,
            request: RequestMatcher {
                method: self.request.method,
                path: self.request.path,
                query: self.request.query.into_iter().collect(),
            },
            response: RecordedResponse {
                status: self.response.status,
                headers: self.response.headers.into_iter().collect(),
                body,
            },
        })
    }
}

/// A JSON value re-serialized compactly with object keys in recorded order
/// (`serde_json::Value` would sort them, making replayed bodies differ from the recording).
struct CompactJson(String);

impl<'de> Deserialize<'de> for CompactJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(CompactVisitor)
            .map(CompactJson)
    }
}

struct CompactVisitor;

impl<'de> Visitor<'de> for CompactVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".into())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<String, E> {
        Ok(Value::from(value).to_string())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<String, E> {
        Ok(Value::from(value).to_string())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut items = Vec::new();
        while let Some(CompactJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(format!("[{}]", items.join(",")))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let CompactJson(value) = map.next_value()?;
            members.push(format!("{}:{value}", Value::from(key)));
        }
        Ok(format!("{{{}}}", members.join(",")))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn page(i: usize) -> Exchange {
        Exchange::new(
            format!("page-{i}"),
            RequestMatcher::get(
                "/v1/inventory/device/info",
                [("tenants", "1,2"), ("page[after]", &*i.to_string())],
            ),
            RecordedResponse::json_text(200, format!("{{\"page\":{i}}}")),
        )
    }

    #[test]
    fn tenants_are_a_set_and_other_values_are_exact() {
        let a = MatchKey::new("GET", "/p", &pairs(&[("tenants", "3,1,2"), ("x", "b,a")]));
        let b = MatchKey::new("GET", "/p", &pairs(&[("x", "b,a"), ("tenants", "1,2,3")]));
        let c = MatchKey::new("GET", "/p", &pairs(&[("x", "a,b"), ("tenants", "1,2,3")]));
        assert!(a.is_some() && a == b);
        assert!(b != c);
        assert!(MatchKey::new("GET", "/p", &pairs(&[("a", "1"), ("a", "1")])).is_none());
    }

    #[test]
    fn index_finds_each_of_ten_thousand_exchanges() {
        let index = Index::build((0..10_000).map(page).collect(), "http://x").unwrap();
        for i in 0..10_000 {
            let query = pairs(&[("page[after]", &i.to_string()), ("tenants", "2,1")]);
            let found = index
                .lookup("GET", "/v1/inventory/device/info", &query)
                .unwrap();
            assert_eq!(found.source, format!("page-{i}"));
            assert_eq!(&*found.body, format!("{{\"page\":{i}}}"));
        }
        assert!(index
            .lookup(
                "GET",
                "/v1/inventory/device/info",
                &pairs(&[("tenants", "1,2")])
            )
            .is_none());
        assert!(index
            .lookup(
                "POST",
                "/v1/inventory/device/info",
                &pairs(&[("tenants", "1,2"), ("page[after]", "1")])
            )
            .is_none());
    }

    #[test]
    fn index_rejects_duplicates_and_invalid_exchanges_by_source() {
        let mut twin = page(7);
        twin.source = "twin".into();
        twin.request.query = pairs(&[("page[after]", "7"), ("tenants", "2,1")]);
        let err = Index::build(vec![page(7), twin], "http://x").err().unwrap();
        assert!(err.contains("page-7") && err.contains("twin"), "{err}");

        let mut bad = page(1);
        bad.request.path = "/v1/x?a=1".into();
        assert!(Index::build(vec![bad], "http://x")
            .err()
            .unwrap()
            .starts_with("page-1:"));
        let mut repeated = page(2);
        repeated.request.query.push(("tenants".into(), "9".into()));
        assert!(Index::build(vec![repeated], "http://x")
            .err()
            .unwrap()
            .starts_with("page-2:"));
    }

    #[test]
    fn base_url_is_substituted_once_at_build_time() {
        let mut exchange = page(1);
        exchange.response.body =
            "{\"next\":\"{{base_url}}/v1/a\",\"self\":\"{{base_url}}\"}".into();
        exchange
            .response
            .headers
            .push(("Link".into(), "<{{base_url}}/v1/b>".into()));
        let index = Index::build(vec![exchange], "http://127.0.0.1:5").unwrap();
        let found = &index.prepared[0];
        assert_eq!(
            &*found.body,
            "{\"next\":\"http://127.0.0.1:5/v1/a\",\"self\":\"http://127.0.0.1:5\"}"
        );
        assert!(found
            .headers
            .contains(&("Link".to_string(), "<http://127.0.0.1:5/v1/b>".to_string())));
    }

    #[test]
    fn scenario_debug_hides_the_key() {
        let shown = format!("{:?}", Scenario::new("d", "u", "very-secret-key"));
        assert!(
            !shown.contains("very-secret-key") && shown.contains("redacted"),
            "{shown}"
        );
    }
}
