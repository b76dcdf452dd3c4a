//! Recordings a user can make: the plugin runs `connect` and `sync` against the real API through
//! a loopback proxy, which saves every exchange in the replay format (see `replay/recording.rs`)
//! with the credentials taken out, so the account can be replayed without them.

use crate::host::{HostOptions, PluginHost};
use crate::replay::http::{self, ReadError};
use crate::replay::recording::MatchKey;
use crate::replay::{BASE_URL_PLACEHOLDER, SCENARIO_FILE};
use crate::workflow::{sync_to_completion, LoopOptions};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What `scenario.json` says instead of the real username.
pub const RECORDED_USERNAME: &str = "recorded-user@example.invalid";
pub const REDACTED_API_KEY: &str = "[redacted-api-key]";
pub const REDACTED_BASIC_AUTH: &str = "[redacted-basic-auth]";
pub const REDACTED_USERNAME: &str = "[redacted-username]";

/// Each upstream request; the plugin's own call has a 5-minute budget for all of them.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
/// Above the manifest's 32 MiB response cap, so the plugin, not the proxy, decides what is too big.
const MAX_UPSTREAM_BODY: u64 = 64 * 1024 * 1024;
const CLIENT_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The response headers the plugin reads (and a redirect's target); nothing else is kept.
const KEPT_HEADERS: [&str; 3] = ["Content-Type", "Retry-After", "Location"];
const SLUG_MAX_CHARS: usize = 60;

pub struct RecordOptions {
    /// `https://auvikapi.<region>.my.auvik.com` (a trailing slash is ignored).
    pub upstream_base_url: String,
    pub username: String,
    pub api_key: String,
    /// Created if missing; must not already hold `*.json` files.
    pub out_dir: PathBuf,
    /// Merged into the `sync` input, e.g. `{"billing_period": {...}}`; `null` for none.
    pub sync_input_extra: Value,
    pub description: String,
}

/// Hand-written so that printing the options never prints the key.
impl fmt::Debug for RecordOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordOptions")
            .field("upstream_base_url", &self.upstream_base_url)
            .field("username", &self.username)
            .field("api_key", &"<redacted>")
            .field("out_dir", &self.out_dir)
            .field("sync_input_extra", &self.sync_input_extra)
            .field("description", &self.description)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordSummary {
    /// Every file written: the exchanges in request order, then `scenario.json`.
    pub files: Vec<PathBuf>,
    /// Requests the plugin sent through the proxy, repeats included.
    pub requests: usize,
    pub sync_calls: u32,
    pub connect: Value,
    /// The last `sync` output (the complete one).
    pub sync: Value,
    /// What could not be recorded faithfully (a repeated request answered differently,
    /// an unreachable upstream...). Free of credentials.
    pub warnings: Vec<String>,
}

/// Records `connect` then `sync` of the account into `out_dir`. When a call fails, whatever was
/// exchanged until then is still written, and the error says so.
pub fn record(options: &RecordOptions) -> Result<RecordSummary, String> {
    let redactor = Redactor::new(&options.username, &options.api_key);
    let upstream = options.upstream_base_url.trim_end_matches('/').to_string();
    if !(upstream.starts_with("https://") || upstream.starts_with("http://")) {
        return Err(redactor.text(&format!("the upstream URL {upstream:?} must start with https:// or http://")));
    }
    if options.username.is_empty() || options.api_key.is_empty() {
        return Err("the username and the API key must not be empty".into());
    }
    let extra = match &options.sync_input_extra {
        Value::Null => serde_json::Map::new(),
        Value::Object(fields) => fields.clone(),
        _ => return Err("sync_input_extra must be a JSON object".into()),
    };
    prepare_out_dir(&options.out_dir)?;

    let proxy = Proxy::start(&upstream)?;
    let proxy_url = proxy.base_url();
    let outcome = run_plugin(&proxy_url, options, extra);
    let log = proxy.finish();

    if log.requests == 0 {
        // Nothing to keep, and an empty scenario would only block recording again into `out_dir`.
        if let Err(error) = outcome {
            return Err(redactor.text(&format!("{error}; nothing was recorded")));
        }
    }
    let recorded = Recording {
        upstream: &upstream,
        proxy: &proxy_url,
        redactor: &redactor,
    };
    let files = recorded.write(&options.out_dir, &log, &options.description)?;
    let where_ = format!(
        "{} exchange(s) of {} request(s) were recorded in {}",
        files.len().saturating_sub(1),
        log.requests,
        options.out_dir.display()
    );
    let (connect, sync, sync_calls) = outcome.map_err(|error| redactor.text(&format!("{error}; {where_}")))?;
    Ok(RecordSummary {
        files,
        requests: log.requests,
        sync_calls,
        connect,
        sync,
        warnings: log.warnings.iter().map(|warning| redactor.text(warning)).collect(),
    })
}

fn run_plugin(proxy_url: &str, options: &RecordOptions, extra: serde_json::Map<String, Value>) -> Result<(Value, Value, u32), String> {
    let mut host = PluginHost::load(&HostOptions {
        allow_api_urls: vec![proxy_url.to_string()],
        ..HostOptions::default()
    })?;
    let connection = json!({"api_url": proxy_url, "username": options.username, "api_key": options.api_key});
    let connect = host
        .call("connect", &json!({ "connection": connection }))
        .map_err(|error| format!("connect failed: {error}"))?;
    let mut input = Value::Object(extra);
    input["connection"] = connection;
    let (sync, report) =
        sync_to_completion(&mut host, &input, &LoopOptions::default(), |_| {}).map_err(|error| format!("sync failed: {error}"))?;
    Ok((connect, sync, report.calls))
}

fn prepare_out_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let entries = std::fs::read_dir(dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".json") {
            return Err(format!(
                "{} already holds recordings ({}); record into an empty directory",
                dir.display(),
                entry.file_name().to_string_lossy()
            ));
        }
    }
    Ok(())
}

/// Looks random without a new dependency: `RandomState` is seeded per process by the OS.
fn fresh_api_key() -> String {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("recorded-key-{:016x}", hasher.finish())
}

// ---------------------------------------------------------------------------------------------
// The proxy

/// Forwards the plugin's requests upstream on a background thread and logs each exchange.
struct Proxy {
    shared: Arc<ProxyShared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

struct ProxyShared {
    upstream: String,
    base_url: String,
    agent: ureq::Agent,
    stopping: AtomicBool,
    log: Mutex<ProxyLog>,
}

#[derive(Default)]
struct ProxyLog {
    requests: usize,
    /// One per distinct request, in the order first seen.
    exchanges: Vec<Captured>,
    seen: HashMap<MatchKey, usize>,
    warnings: Vec<String>,
}

/// As upstream sent it, before any placeholder or redaction.
struct Captured {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}


fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    fn start(upstream: &str) -> Result<Proxy, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|error| format!("cannot bind 127.0.0.1:0: {error}"))?;
        let addr = listener
            .local_addr()
            .map_err(|error| format!("cannot read the bound address: {error}"))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Auvik answers a wrong region with 308; following it would send the credentials on.
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(UPSTREAM_TIMEOUT))
            .build()
            .into();
        let shared = Arc::new(ProxyShared {
            upstream: upstream.to_string(),
            base_url: format!("http://{addr}"),
            agent,
            stopping: AtomicBool::new(false),
            log: Mutex::default(),
        });
        let acceptor = thread::Builder::new()
            .name("record-proxy".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || {
                    for incoming in listener.incoming() {
                        if shared.stopping.load(Ordering::SeqCst) {
                            break;
                        }
                        match incoming {
                            // One client (the plugin) asking one request at a time: no worker threads.
                            Ok(stream) => shared.serve(stream),
                            Err(_) => thread::sleep(Duration::from_millis(10)),
                        }
                    }
                }
            })
            .map_err(|error| format!("cannot start the proxy thread: {error}"))?;
        Ok(Proxy {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    fn finish(mut self) -> ProxyLog {
        self.stop();
        std::mem::take(&mut *lock(&self.shared.log))
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // The acceptor blocks in accept(); one connection wakes it to see `stopping`.
        let woken = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take() {
            if woken {
                let _ = acceptor.join();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Forwarded {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl ProxyShared {
    fn serve(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(CLIENT_IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(CLIENT_IO_TIMEOUT));
        let _ = stream.set_nodelay(true);
        let request = match http::read_request(&mut stream) {
            Ok(request) => request,
            Err(ReadError::Silent) => return,
            Err(ReadError::Reject { status, reason }) => {
                lock(&self.log)
                    .warnings
                    .push(format!("an unreadable request was refused ({status}): {reason}"));
                let _ = http::write_response(&mut stream, status, &[], proxy_error(&reason).as_bytes(), false);
                http::linger(&mut stream);
                return;
            }
        };
        lock(&self.log).requests += 1;
        let described = describe(&request.method, &request.path, &request.query);
        let answer = if request.method != "GET" {
            Err((405, format!("{described}: the recording proxy forwards GET only")))
        } else {
            self.forward(&request).map_err(|error| (502, format!("{described}: {error}")))
        };
        match answer {
            Ok(forwarded) => {
                let headers: Vec<(String, String)> = forwarded
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), replace_url(value, &self.upstream, &self.base_url)))
                    .collect();
                let body = rewrite_body(&forwarded.body, &self.upstream, &self.base_url);
                let _ = http::write_response(&mut stream, forwarded.status, &headers, &body, false);
                self.keep(&request, forwarded, &described);
            }
            // Not Auvik's answer, so not recorded: a replay would then report the request unanswered.
            Err((status, message)) => {
                lock(&self.log).warnings.push(format!("not recorded: {message}"));
                let _ = http::write_response(&mut stream, status, &[], proxy_error(&message).as_bytes(), false);
            }
        }
        let _ = stream.shutdown(Shutdown::Both);
    }

    fn forward(&self, request: &http::Request) -> Result<Forwarded, String> {
        let (path, query) = http::split_target(&request.target)?;
        let target = match query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_string(),
        };
        let mut call = self.agent.get(format!("{}{target}", self.upstream));
        for authorization in &request.authorization {
            call = call.header("Authorization", authorization);
        }
        if let Some(accept) = &request.accept {
            call = call.header("Accept", accept);
        }
        // ureq's errors name the URL at most, never the headers.
        let response = call.call().map_err(|error| format!("the upstream request failed: {error}"))?;
        let status = response.status().as_u16();
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = response.headers().get(*name)?.to_str().ok()?;
                Some((name.to_string(), value.to_string()))
            })
            .collect();
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_UPSTREAM_BODY)
            .read_to_vec()
            .map_err(|error| format!("the upstream body could not be read: {error}"))?;
        Ok(Forwarded { status, headers, body })
    }

    fn keep(&self, request: &http::Request, forwarded: Forwarded, described: &str) {
        let captured = Captured {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            status: forwarded.status,
            headers: forwarded.headers,
            body: forwarded.body,
        };
        let mut log = lock(&self.log);
        let Some(key) = MatchKey::new(&captured.method, &captured.path, &captured.query) else {
            log.warnings.push(format!("not recorded: {described} repeats a query parameter"));
            return;
        };
        match log.seen.get(&key) {
            Some(&first) => {
                let kept = &log.exchanges[first];
                if (kept.status, &kept.headers, &kept.body) != (captured.status, &captured.headers, &captured.body) {
                    // The format holds one answer per request; the first is what the plugin saw first.
                    let warning = format!(
                        "{described} was answered differently when repeated (HTTP {} then {}); only the first answer is recorded",
                        log.exchanges[first].status, captured.status
                    );
                    log.warnings.push(warning);
                }
            }
            None => {
                let index = log.exchanges.len();
                log.seen.insert(key, index);
                log.exchanges.push(captured);
            }
        }
    }
}

fn describe(method: &str, path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return format!("{method} {path}");
    }
    let pairs: Vec<String> = query.iter().map(|(key, value)| format!("{key}={value}")).collect();
    format!("{method} {path}?{}", pairs.join("&"))
}

fn proxy_error(detail: &str) -> String {
    json!({"errors": [{"title": "Recording proxy", "detail": detail}]}).to_string()
}

/// The plugin refuses links to any host but its `api_url`, so upstream's own URLs must name the proxy.
fn rewrite_body(body: &[u8], upstream: &str, proxy: &str) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(body) else {
        return body.to_vec();
    };
    let text = replace_url(text, upstream, proxy);
    // JSON may escape slashes.
    replace_url(&text, &upstream.replace('/', "\\/"), &proxy.replace('/', "\\/")).into_bytes()
}

/// Replaces `url` where it is a whole base URL, not the start of a longer host or port
/// (`https://a.example` in `https://a.example.evil` or `http://127.0.0.1:80` in `...:8080`).
fn replace_url(text: &str, url: &str, with: &str) -> String {
    if url.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(url) {
        let after = &rest[at + url.len()..];
        let continues = after
            .chars()
            .next()
            .is_some_and(|next| next.is_ascii_alphanumeric() || matches!(next, '.' | '-' | ':' | '_'));
        out.push_str(&rest[..at]);
        out.push_str(if continues { url } else { with });
        rest = after;
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// Credentials out

struct Redactor {
    /// Replaced exactly, longest first.
    exact: Vec<(String, &'static str)>,
    /// Replaced ignoring ASCII case: e-mail addresses are.
    usernames: Vec<String>,
    /// What no written file may contain.
    forbidden: Vec<String>,
}

impl Redactor {
    fn new(username: &str, api_key: &str) -> Redactor {
        let basic = BASE64.encode(format!("{username}:{api_key}"));
        let mut exact = Vec::new();
        for (secret, placeholder) in [(basic.clone(), REDACTED_BASIC_AUTH), (api_key.to_string(), REDACTED_API_KEY)] {
            for variant in [secret.clone(), secret.replace('/', "\\/"), percent_encode(&secret)] {
                if !variant.is_empty() && !exact.iter().any(|(known, _)| *known == variant) {
                    exact.push((variant, placeholder));
                }
            }
        }
        let mut usernames = vec![username.to_string()];
        if percent_encode(username) != username {
            usernames.push(percent_encode(username));
        }
        usernames.retain(|name| !name.is_empty());
        Redactor {
            exact,
            usernames,
            forbidden: vec![api_key.to_string(), basic, username.to_ascii_lowercase()],
        }
    }

    fn text(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (secret, placeholder) in &self.exact {
            text = text.replace(secret.as_str(), placeholder);
        }
        for username in &self.usernames {
            text = replace_ignoring_ascii_case(&text, username, REDACTED_USERNAME);
        }
        text
    }

    /// The secret's kind (never the secret) if `text` still holds one.
    fn leak_in(&self, text: &str) -> Option<&'static str> {
        let lowered = text.to_ascii_lowercase();
        let [key, basic, username] = [&self.forbidden[0], &self.forbidden[1], &self.forbidden[2]];
        if text.contains(key.as_str()) {
            Some("the API key")
        } else if text.contains(basic.as_str()) {
            Some("the Basic authorization")
        } else if lowered.contains(username.as_str()) {
            Some("the username")
        } else {
            None
        }
    }
}

fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    // ASCII lowering keeps every byte offset, so matches found in the copy cut the original.
    let lowered = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(found) = lowered[from..].find(&needle) {
        let at = from + found;
        out.push_str(&text[from..at]);
        out.push_str(with);
        from = at + needle.len();
    }
    out.push_str(&text[from..]);
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Files

struct Recording<'a> {
    upstream: &'a str,
    proxy: &'a str,
    redactor: &'a Redactor,
}

impl Recording<'_> {
    /// Writes nothing at all if any file would still hold a credential.
    fn write(&self, dir: &Path, log: &ProxyLog, description: &str) -> Result<Vec<PathBuf>, String> {
        let width = log.exchanges.len().to_string().len().max(2);
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        for (i, captured) in log.exchanges.iter().enumerate() {
            let path = self.redactor.text(&captured.path);
            let name = format!("{:0width$}-{}-{}.json", i + 1, slug(&captured.method), slug(&path));
            files.push((dir.join(name), self.exchange(captured).pretty()));
        }
        let scenario = Json::Object(vec![
            ("description".into(), Json::Str(self.redactor.text(description))),
            ("username".into(), Json::Str(RECORDED_USERNAME.into())),
            ("api_key".into(), Json::Str(fresh_api_key())),
        ]);
        files.push((dir.join(SCENARIO_FILE), scenario.pretty()));
        for (path, text) in &files {
            if let Some(secret) = self.redactor.leak_in(text) {
                return Err(format!(
                    "{secret} would have been written to {}; nothing was written",
                    path.file_name()
                        .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
                ));
            }
        }
        for (path, text) in &files {
            std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        }
        Ok(files.into_iter().map(|(path, _)| path).collect())
    }

    fn clean(&self, text: &str) -> String {
        let text = self.redactor.text(text);
        // The longer first: one base URL may be a prefix of the other.
        let (long, short) = if self.proxy.len() >= self.upstream.len() {
            (self.proxy, self.upstream)
        } else {
            (self.upstream, self.proxy)
        };
        replace_url(&replace_url(&text, long, BASE_URL_PLACEHOLDER), short, BASE_URL_PLACEHOLDER)
    }

    fn exchange(&self, captured: &Captured) -> Json {
        let query = captured
            .query
            .iter()
            .map(|(key, value)| (self.clean(key), Json::Str(self.clean(value))))
            .collect();
        let request = Json::Object(vec![
            ("method".into(), Json::Str(captured.method.clone())),
            ("path".into(), Json::Str(self.clean(&captured.path))),
            ("query".into(), Json::Object(query)),
        ]);
        let headers = captured
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Json::Str(self.clean(value))))
            .collect();
        let mut response = vec![
            ("status".into(), Json::Number(captured.status.to_string())),
            ("headers".into(), Json::Object(headers)),
        ];
        if !captured.body.is_empty() {
            let text = String::from_utf8_lossy(&captured.body);
            match serde_json::from_str::<Json>(&text) {
                Ok(mut body) => {
                    body.map_strings(&|text| self.clean(text));
                    response.push(("body".into(), body));
                }
                Err(_) => response.push(("body_text".into(), Json::Str(self.clean(&text)))),
            }
        }
        Json::Object(vec![("request".into(), request), ("response".into(), Json::Object(response))])
    }
}

/// `v1-inventory-device-info` of `/v1/inventory/device/info`.
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug: String = slug.chars().take(SLUG_MAX_CHARS).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("root");
    }
    slug
}

/// JSON that keeps object keys in their order (this workspace's `serde_json::Value` sorts them),
/// so a recording reads like Auvik's answer.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// As serde_json writes it.
    Number(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn map_strings(&mut self, f: &impl Fn(&str) -> String) {
        match self {
            Json::Str(text) => *text = f(text),
            Json::Array(items) => items.iter_mut().for_each(|item| item.map_strings(f)),
            Json::Object(members) => members.iter_mut().for_each(|(_, value)| value.map_strings(f)),
            Json::Null | Json::Bool(_) | Json::Number(_) => {}
        }
    }

    /// serde_json's pretty layout (two spaces), with a final newline.
    fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Json::Number(text) => out.push_str(text),
            Json::Str(text) => out.push_str(&Value::from(text.as_str()).to_string()),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(members) if members.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Object(members) => {
                out.push_str("{\n");
                for (i, (key, value)) in members.iter().enumerate() {
                    indent(out, depth + 1);
                    out.push_str(&Value::from(key.as_str()).to_string());
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Number(Value::from(value).to_string()))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
        Ok(Json::Str(value.to_string()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
        Ok(Json::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{Exchange, RecordedResponse, ReplayServer, RequestMatcher, Scenario};

    const USER: &str = "Billing@FakeMSP.example";
    const KEY: &str = "record-unit-key-Xk42/Pq+";
    const JSON_API: &str = "application/vnd.api+json";

    use crate::temp_dir::TempDir;


    fn basic() -> String {
        format!("Basic {}", BASE64.encode(format!("{USER}:{KEY}")))
    }

    fn client() -> ureq::Agent {
        ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into()
    }

    fn get(proxy: &Proxy, target: &str) -> (u16, Vec<(String, String)>, String) {
        let response = client()
            .get(format!("{}{target}", proxy.base_url()))
            .header("Authorization", basic())
            .header("Accept", JSON_API)
            .call()
            .unwrap();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), value.to_str().unwrap().to_string()))
            .collect();
        let status = response.status().as_u16();
        (status, headers, response.into_body().read_to_string().unwrap())
    }

    fn upstream() -> ReplayServer {
        let echo = format!(
            r#"{{"data": [{{"id": "1", "attributes": {{"contact": "{}", "note": "key {KEY}", "auth": "{}", "percent": "{}"}}}}],
                 "links": {{"next": "{{{{base_url}}}}/v1/tenants?page%5Bafter%5D=c1", "self": "{{{{base_url}}}}x.evil/v1"}}}}"#,
            USER.to_uppercase(),
            basic(),
            percent_encode(USER)
        );
        let exchanges = vec![
            Exchange::new(
                "moved",
                RequestMatcher::get("/v1/authentication/verify", Vec::<(String, String)>::new()),
                RecordedResponse {
                    status: 308,
                    headers: vec![("Location".into(), "{{base_url}}/v1/authentication/verify?r=2".into())],
                    body: "".into(),
                },
            ),
            Exchange::new(
                "tenants",
                RequestMatcher::get("/v1/tenants", [("tenants", "2,1")]),
                RecordedResponse::json_text(200, echo),
            ),
            Exchange::new(
                "throttled",
                RequestMatcher::get("/v1/slow", Vec::<(String, String)>::new()),
                RecordedResponse {
                    status: 429,
                    headers: vec![("Retry-After".into(), "7".into()), ("X-Other".into(), "dropped".into())],
                    body: "slow down".into(),
                },
            ),
        ];
        ReplayServer::from_exchanges(Scenario::new("unit", USER, KEY), exchanges).unwrap()
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn the_proxy_forwards_rewrites_and_records_without_credentials() {
        let upstream = upstream();
        let proxy = Proxy::start(&upstream.base_url()).unwrap();
        let proxy_url = proxy.base_url();

        let (status, headers, _) = get(&proxy, "/v1/authentication/verify");
        assert_eq!(status, 308, "the redirect reaches the client as it was sent");
        let location = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.clone());
        assert_eq!(location, Some(format!("{proxy_url}/v1/authentication/verify?r=2")));

        let (status, _, body) = get(&proxy, "/v1/tenants?tenants=1%2C2");
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["links"]["next"], format!("{proxy_url}/v1/tenants?page%5Bafter%5D=c1"));
        assert_eq!(
            body["links"]["self"],
            format!("{}x.evil/v1", upstream.base_url()),
            "only whole base URLs are rewritten"
        );
        assert_eq!(
            body["data"][0]["attributes"]["note"],
            format!("key {KEY}"),
            "the client gets the body untouched otherwise"
        );
        get(&proxy, "/v1/tenants?tenants=2,1");

        let (status, headers, body) = get(&proxy, "/v1/slow");
        assert_eq!((status, body.as_str()), (429, "slow down"));
        assert!(headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("retry-after") && value == "7"));
        assert!(!headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("x-other")));

        let log = proxy.finish();
        assert_eq!(log.requests, 4);
        assert_eq!(log.exchanges.len(), 3, "the repeated tenants request is kept once");
        assert_eq!(log.warnings, Vec::<String>::new());
        let logged: Vec<(bool, u16)> = upstream.requests().iter().map(|r| (r.authorized, r.status)).collect();
        assert_eq!(
            logged,
            [(true, 308), (true, 200), (true, 200), (true, 429)],
            "the 308 was not followed"
        );

        let dir = TempDir::new("record-unit");
        std::fs::create_dir_all(&dir.0).unwrap();
        let redactor = Redactor::new(USER, KEY);
        let upstream_url = upstream.base_url();
        let recording = Recording {
            upstream: &upstream_url,
            proxy: &proxy_url,
            redactor: &redactor,
        };
        let files = recording.write(&dir.0, &log, &format!("made by {USER}")).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "01-get-v1-authentication-verify.json",
                "02-get-v1-tenants.json",
                "03-get-v1-slow.json",
                "scenario.json"
            ]
        );

        let moved: Value = serde_json::from_str(&read(&dir.0, &names[0])).unwrap();
        assert_eq!(
            moved,
            json!({"request": {"method": "GET", "path": "/v1/authentication/verify", "query": {}},
                   "response": {"status": 308, "headers": {"Location": "{{base_url}}/v1/authentication/verify?r=2"}}})
        );
        let tenants_text = read(&dir.0, &names[1]);
        let tenants: Value = serde_json::from_str(&tenants_text).unwrap();
        assert_eq!(tenants["request"]["query"], json!({"tenants": "1,2"}));
        assert_eq!(
            tenants["response"]["body"]["data"][0]["attributes"],
            json!({"contact": REDACTED_USERNAME, "note": format!("key {REDACTED_API_KEY}"),
                   "auth": format!("Basic {REDACTED_BASIC_AUTH}"), "percent": REDACTED_USERNAME})
        );
        assert_eq!(
            tenants["response"]["body"]["links"]["next"],
            "{{base_url}}/v1/tenants?page%5Bafter%5D=c1"
        );
        assert!(
            tenants_text.find("\"data\"").unwrap() < tenants_text.find("\"links\"").unwrap(),
            "keys keep upstream's order"
        );
        let slow: Value = serde_json::from_str(&read(&dir.0, &names[2])).unwrap();
        assert_eq!(
            slow["response"],
            json!({"status": 429, "headers": {"Retry-After": "7"}, "body_text": "slow down"})
        );
        let scenario: Value = serde_json::from_str(&read(&dir.0, SCENARIO_FILE)).unwrap();
        assert_eq!(scenario["username"], RECORDED_USERNAME);
        assert_eq!(scenario["description"], format!("made by {REDACTED_USERNAME}"));
        assert!(scenario["api_key"].as_str().unwrap().starts_with("recorded-key-"));

        for name in &names {
            let text = read(&dir.0, name);
            assert_eq!(redactor.leak_in(&text), None, "{name}: {text}");
            assert!(!text.contains(&proxy_url), "{name}: {text}");
        }
        // The recording serves as a scenario.
        let replayed = ReplayServer::start(&dir.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(replayed.scenario().username, RECORDED_USERNAME);
    }

    #[test]
    fn a_request_answered_differently_twice_keeps_the_first_answer_and_says_so() {
        let upstream = upstream();
        let proxy = Proxy::start(&upstream.base_url()).unwrap();
        upstream.set_faults(vec![crate::replay::Fault {
            request_number: 2,
            kind: crate::replay::FaultKind::Status(503, "busy".into(), Vec::new()),
        }]);
        assert_eq!(get(&proxy, "/v1/slow").0, 429);
        assert_eq!(get(&proxy, "/v1/slow").0, 503);
        let log = proxy.finish();
        assert_eq!(log.exchanges.len(), 1);
        assert_eq!(log.exchanges[0].status, 429);
        assert_eq!(log.warnings.len(), 1, "{:?}", log.warnings);
        assert!(
            log.warnings[0].contains("GET /v1/slow") && log.warnings[0].contains("429 then 503"),
            "{:?}",
            log.warnings
        );
    }

    #[test]
    fn an_unreachable_upstream_is_a_502_that_is_not_recorded() {
        let closed = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let proxy = Proxy::start(&url).unwrap();
        let (status, _, body) = get(&proxy, "/v1/tenants");
        assert_eq!(status, 502);
        assert!(body.contains("GET /v1/tenants"), "{body}");
        let log = proxy.finish();
        assert_eq!((log.requests, log.exchanges.len(), log.warnings.len()), (1, 0, 1));
        assert!(!log.warnings[0].contains(KEY) && !log.warnings[0].contains(&basic()[6..]));
    }

    #[test]
    fn json_keeps_order_and_is_laid_out_like_serde_json() {
        let text = r#"{"z": [1, -2, 9.4, 1e300, true, null, {}, []], "a": {"é\"": "x\ny"}, "m": "\u0001"}"#;
        let parsed: Json = serde_json::from_str(text).unwrap();
        let pretty = parsed.pretty();
        assert!(pretty.find("\"z\"").unwrap() < pretty.find("\"a\"").unwrap());
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&pretty).unwrap(), value);
        let sorted = r#"{"a": [1, {"b": null}], "c": {}}"#;
        assert_eq!(
            serde_json::from_str::<Json>(sorted).unwrap().pretty(),
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(sorted).unwrap()).unwrap() + "\n"
        );
    }

    #[test]
    fn redaction_covers_case_encodings_and_never_loops_on_empty_secrets() {
        let redactor = Redactor::new(USER, KEY);
        let basic_value = &basic()[6..];
        let text = format!(
            "{} {} {KEY} {basic_value} {} {}",
            USER.to_lowercase(),
            percent_encode(USER),
            basic_value.replace('/', "\\/"),
            percent_encode(KEY)
        );
        let cleaned = redactor.text(&text);
        assert_eq!(redactor.leak_in(&cleaned), None, "{cleaned}");
        assert_eq!(
            cleaned,
            format!(
                "{REDACTED_USERNAME} {REDACTED_USERNAME} {REDACTED_API_KEY} {REDACTED_BASIC_AUTH} {REDACTED_BASIC_AUTH} {REDACTED_API_KEY}"
            )
        );
        assert_eq!(redactor.leak_in(&format!("x{}x", USER.to_uppercase())), Some("the username"));
        assert_eq!(Redactor::new("u@x.example", "").text("abc"), "abc");
    }

    #[test]
    fn urls_are_replaced_only_whole_and_slugs_are_short() {
        assert_eq!(
            replace_url("http://h:1/a http://h:10/b http://h:1", "http://h:1", "B"),
            "B/a http://h:10/b B"
        );
        assert_eq!(
            rewrite_body(br#"{"u": "http:\/\/h:1\/x"}"#, "http://h:1", "http://p:2"),
            br#"{"u": "http:\/\/p:2\/x"}"#.to_vec()
        );
        assert_eq!(slug("/v1/inventory/device/info"), "v1-inventory-device-info");
        assert_eq!(slug("/"), "root");
        assert_eq!(slug(&format!("/v1/{}", "x".repeat(100))).len(), SLUG_MAX_CHARS);
    }

    #[test]
    fn options_are_checked_before_anything_is_sent() {
        let dir = TempDir::new("record-unit");
        let options = |url: &str, extra: Value| RecordOptions {
            upstream_base_url: url.into(),
            username: USER.into(),
            api_key: KEY.into(),
            out_dir: dir.0.clone(),
            sync_input_extra: extra,
            description: String::new(),
        };
        assert!(record(&options("ftp://x", Value::Null)).unwrap_err().contains("https://"));
        assert!(record(&options("http://127.0.0.1:9", json!([]))).unwrap_err().contains("object"));
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::write(dir.0.join("01-old.json"), "{}").unwrap();
        let error = record(&options("http://127.0.0.1:9", Value::Null)).unwrap_err();
        assert!(error.contains("01-old.json"), "{error}");
        assert!(!format!("{:?}", options("x", Value::Null)).contains(KEY));
    }

    #[test]
    fn fresh_keys_differ() {
        let (a, b) = (fresh_api_key(), fresh_api_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), "recorded-key-".len() + 16);
    }
}
