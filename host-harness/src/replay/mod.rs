//! A loopback HTTP server that replays recorded Auvik API responses, with
//! scripted faults, so the plugin can be exercised without the real API.
//!
//! A scenario directory holds `scenario.json` (credentials the server demands)
//! and one exchange (or an array of them) per other `*.json` file;
//! `expected.json` is left to the harness.

pub(crate) mod http;
pub(crate) mod recording;

pub use recording::{
    Exchange, RecordedResponse, RequestMatcher, Scenario, BASE_URL_PLACEHOLDER, EXPECTED_FILE,
    SCENARIO_FILE,
};

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

use recording::{describe, Index, Prepared, JSON_API};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MALFORMED_JSON_BODY: &str = "{\"data\": [";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    /// 1-based since the last reset.
    pub number: usize,
    pub method: String,
    /// Percent-decoded.
    pub path: String,
    /// Decoded, in request order.
    pub query: Vec<(String, String)>,
    pub raw_target: String,
    pub authorized: bool,
    /// Source of the recording that answered; `None` for 401, 404, and Status/DropConnection faults.
    pub answered_by: Option<String>,
    /// Status sent (0 when a DropConnection fault sent nothing).
    pub status: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status, body and extra headers instead of the recording.
    Status(u16, String, Vec<(String, String)>),
    /// The normal status and headers with the body `{"data": [`.
    MalformedJson,
    /// Announce the full Content-Length, send half the body, close.
    TruncatedBody,
    /// Read the request, close without answering.
    DropConnection,
    /// Sleep, then answer normally.
    Delay(Duration),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// 1-based since the last reset.
    pub request_number: usize,
    pub kind: FaultKind,
}

/// Serves on a background thread until dropped.
pub struct ReplayServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    scenario: Scenario,
    /// `username:api_key`, what a valid Basic credential decodes to.
    credentials: String,
    index: Index,
    state: Mutex<State>,
    stopping: AtomicBool,
    /// Delay faults sleep on this so dropping the server does not wait them out.
    wake: Condvar,
    wake_lock: Mutex<()>,
    /// Clones of live client sockets, so shutdown can unblock workers waiting on idle clients.
    connections: Mutex<HashMap<u64, TcpStream>>,
}

#[derive(Default)]
struct State {
    log: Vec<LoggedRequest>,
    unmatched: Vec<String>,
    faults: Vec<Fault>,
}

enum Delivery {
    Full,
    Truncated,
    Nothing,
}

struct Plan {
    status: u16,
    headers: Arc<[(String, String)]>,
    body: Arc<str>,
    delivery: Delivery,
    delay: Option<Duration>,
}

impl ReplayServer {
    /// Loads a scenario directory and serves it on `127.0.0.1` at a free port.
    pub fn start(dir: &Path) -> Result<ReplayServer, String> {
        let (scenario, exchanges) = recording::load_dir(dir)?;
        Self::from_exchanges(scenario, exchanges).map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// Serves exchanges built in code. Errors name the offending `Exchange::source`.
    pub fn from_exchanges(
        scenario: Scenario,
        exchanges: Vec<Exchange>,
    ) -> Result<ReplayServer, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        let index = Index::build(exchanges, &base_url(addr))?;
        let shared = Arc::new(Shared {
            credentials: format!("{}:{}", scenario.username, scenario.api_key),
            scenario,
            index,
            state: Mutex::default(),
            stopping: AtomicBool::new(false),
            wake: Condvar::new(),
            wake_lock: Mutex::new(()),
            connections: Mutex::default(),
        });
        let acceptor = thread::Builder::new()
            .name("replay-accept".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(listener, shared)
            })
            .map_err(|e| format!("cannot start the replay thread: {e}"))?;
        Ok(ReplayServer {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.state).log.clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared.state).log.len()
    }

    /// Clears the log, the unmatched list and the request numbering; the fault plan stays.
    pub fn reset(&self) {
        let mut state = lock(&self.shared.state);
        state.log.clear();
        state.unmatched.clear();
    }

    /// Descriptions (`GET /path?query`) of requests no recording answered, oldest first;
    /// also unparseable requests. Clears the list.
    pub fn take_unmatched(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.shared.state).unmatched)
    }

    /// Replaces the fault plan. If two faults name the same request, the first wins.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        lock(&self.shared.state).faults = faults;
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let _guard = lock(&self.shared.wake_lock);
            self.shared.wake.notify_all();
        }
        // The acceptor blocks in accept(); one connection wakes it to see `stopping`.
        // If even that fails, detaching beats hanging the caller.
        let woken = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take() {
            if woken {
                let _ = acceptor.join();
            }
        }
    }
}

fn base_url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker must not take the whole server down with it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    for incoming in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = incoming else {
            // Typically out of file descriptors; back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        workers.retain(|worker| !worker.is_finished());
        next_id += 1;
        let id = next_id;
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.connections).insert(id, clone);
        }
        let worker_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("replay-conn".into())
            .spawn(move || {
                let _registered = Registered {
                    shared: &worker_shared,
                    id,
                };
                serve_connection(&worker_shared, stream);
            });
        match spawned {
            Ok(worker) => workers.push(worker),
            Err(_) => {
                lock(&shared.connections).remove(&id);
            }
        }
    }
    for stream in lock(&shared.connections).values() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for worker in workers {
        let _ = worker.join();
    }
}

/// Unregisters a connection however its worker ends, panics included.
struct Registered<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        lock(&self.shared.connections).remove(&self.id);
    }
}

fn serve_connection(shared: &Shared, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    // Head and body go out in two writes; Nagle would hold the second back for an ACK.
    let _ = stream.set_nodelay(true);

    let request = match http::read_request(&mut stream) {
        Ok(request) => request,
        Err(http::ReadError::Silent) => return,
        Err(http::ReadError::Reject { status, reason }) => {
            lock(&shared.state)
                .unmatched
                .push(format!("unparseable request ({status}): {reason}"));
            let title = if status == 431 {
                "Request Header Fields Too Large"
            } else {
                "Bad Request"
            };
            let body = error_body(status, title, &reason);
            let headers = [("Content-Type".to_string(), JSON_API.to_string())];
            let _ = http::write_response(&mut stream, status, &headers, body.as_bytes(), false);
            http::linger(&mut stream);
            return;
        }
    };

    let plan = shared.answer(&request);
    if let Some(delay) = plan.delay {
        shared.sleep(delay);
    }
    let truncate = match plan.delivery {
        Delivery::Full => false,
        Delivery::Truncated => true,
        Delivery::Nothing => {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    };
    let _ = http::write_response(
        &mut stream,
        plan.status,
        &plan.headers,
        plan.body.as_bytes(),
        truncate,
    );
    // Explicit, because the registry's clone keeps the socket open until the worker ends.
    let _ = stream.shutdown(Shutdown::Both);
}

impl Shared {
    fn is_authorized(&self, values: &[String]) -> bool {
        let [value] = values else { return false };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("basic")
            && BASE64
                .decode(token.trim())
                .is_ok_and(|decoded| decoded == self.credentials.as_bytes())
    }

    /// Decides the answer and logs the request under one lock, so numbering and
    /// fault lookup agree even with concurrent clients.
    fn answer(&self, request: &http::Request) -> Plan {
        let authorized = self.is_authorized(&request.authorization);
        let recording = if authorized {
            self.index
                .lookup(&request.method, &request.path, &request.query)
        } else {
            None
        };
        let described = describe(&request.method, &request.path, &request.query);
        let mut plan = match recording {
            Some(recorded) => Plan::recorded(recorded),
            None if !authorized => Plan::error(401, "Unauthorized", "Invalid credentials"),
            None => Plan::error(
                404,
                "No recording",
                &format!("no recording answers {described}"),
            ),
        };
        let mut answered_by = recording.map(|recorded| recorded.source.clone());
        let mut unmatched = authorized && recording.is_none();

        let mut state = lock(&self.state);
        let number = state.log.len() + 1;
        let fault = state
            .faults
            .iter()
            .find(|fault| fault.request_number == number)
            .map(|fault| fault.kind.clone());
        match fault {
            None => {}
            // These two replace the answer outright, so whether a recording exists is moot.
            Some(FaultKind::Status(status, body, headers)) => {
                plan = Plan {
                    status,
                    headers: headers.into(),
                    body: body.into(),
                    delivery: Delivery::Full,
                    delay: None,
                };
                answered_by = None;
                unmatched = false;
            }
            Some(FaultKind::DropConnection) => {
                plan.delivery = Delivery::Nothing;
                answered_by = None;
                unmatched = false;
            }
            Some(FaultKind::MalformedJson) => plan.body = MALFORMED_JSON_BODY.into(),
            Some(FaultKind::TruncatedBody) => plan.delivery = Delivery::Truncated,
            Some(FaultKind::Delay(delay)) => plan.delay = Some(delay),
        }
        if unmatched {
            state.unmatched.push(described);
        }
        state.log.push(LoggedRequest {
            number,
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            raw_target: request.target.clone(),
            authorized,
            answered_by,
            status: if matches!(plan.delivery, Delivery::Nothing) {
                0
            } else {
                plan.status
            },
        });
        plan
    }

    fn sleep(&self, delay: Duration) {
        let guard = lock(&self.wake_lock);
        let _ = self
            .wake
            .wait_timeout_while(guard, delay, |_| !self.stopping.load(Ordering::SeqCst));
    }
}

impl Plan {
    fn recorded(recorded: &Prepared) -> Plan {
        Plan {
            status: recorded.status,
            headers: Arc::clone(&recorded.headers),
            body: Arc::clone(&recorded.body),
            delivery: Delivery::Full,
            delay: None,
        }
    }

    fn error(status: u16, title: &str, detail: &str) -> Plan {
        Plan {
            status,
            headers: Arc::new([("Content-Type".to_string(), JSON_API.to_string())]),
            body: error_body(status, title, detail).into(),
            delivery: Delivery::Full,
            delay: None,
        }
    }
}

/// Byte-for-byte Auvik's error shape (key order included, which `json!` would sort).
fn error_body(status: u16, title: &str, detail: &str) -> String {
    format!(
        r#"{{"errors":[{{"status":"{status}","title":{},"detail":{}}}]}}"#,
        Value::from(title),
        Value::from(detail)
    )
}

#[cfg(test)]
mod tests;
