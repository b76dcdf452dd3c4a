//! One plugin, every Extism host: the same `.wasm` in the Rust host (this harness), the Python
//! host (PyPI `extism`) and the Node host (`@extism/extism`), the last two through the example
//! programs in `host-harness/hosts/`, all against one replay server.
//!
//! The Python and Node packages are installed into `target/hosts/` on first use (again only when
//! their pins change). That needs PyPI and the npm registry: when they cannot be reached, these
//! tests fail and say so, since skipping would let CI pass without proving anything.

use auvik_harness::build::{ensure_plugin_built, workspace_root};
use auvik_harness::replay::{Fault, FaultKind, LoggedRequest, ReplayServer};
use auvik_harness::{recordings_dir, CallError, HostOptions, PluginHost};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Generous for 2 busy cores. (A Node program that does not exit explicitly lingers for the
/// manifest's whole `timeout_ms`, 5 minutes, after its last call.)
const RUN_DEADLINE: Duration = Duration::from_secs(180);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Host {
    Rust,
    Python,
    Node,
}

const HOSTS: [Host; 3] = [Host::Rust, Host::Python, Host::Node];

/// What one host's connect -> sync -> map printed, and what the replay server saw meanwhile.
struct HostRun {
    host: Host,
    /// `{"connect", "sync", "map"}`, or the plugin's error object.
    result: Result<Value, Value>,
    requests: Vec<LoggedRequest>,
}

fn hosts_dir() -> PathBuf {
    workspace_root().join("target").join("hosts")
}

fn example(host: &str, file: &str) -> PathBuf {
    workspace_root().join("host-harness").join("hosts").join(host).join(file)
}

// ---------------------------------------------------------------------------------------------
// The plugin, as all three hosts load it

/// The built plugin copied beside a copy of `manifest.json` whose `wasm` path is relative, so that
/// all three hosts load the very same bytes (another build may replace `target/wasm` meanwhile;
/// the folder is named by the bytes) and each must resolve that path against the manifest's
/// folder, not its working directory.
fn manifest() -> &'static Path {
    static MANIFEST: OnceLock<PathBuf> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let built = ensure_plugin_built().unwrap_or_else(|error| panic!("{error}"));
        let bytes = std::fs::read(&built).unwrap();
        let mut hasher = std::hash::DefaultHasher::new();
        bytes.hash(&mut hasher);
        let dir = hosts_dir().join(format!("plugin-{:016x}", hasher.finish()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(workspace_root().join("manifest.json")).unwrap()).unwrap();
        let wasm = manifest["wasm"].as_array_mut().unwrap();
        assert_eq!(wasm.len(), 1, "one module");
        wasm[0]["path"] = json!("auvik_sync.wasm");
        write_atomically(&dir.join("auvik_sync.wasm"), &bytes);
        let path = dir.join("manifest.json");
        write_atomically(&path, serde_json::to_string_pretty(&manifest).unwrap().as_bytes());
        path
    })
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes).unwrap();
    std::fs::rename(&partial, path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Installing the Python and Node hosts

/// Runs an install step; a failure fails the test with the tool's own words.
fn install_step(what: &str, mut command: Command) {
    let started = Instant::now();
    let output = command.output().unwrap_or_else(|error| panic!("{what}: cannot run {command:?}: {error}. These tests need python3 and node/npm on PATH."));
    assert!(
        output.status.success(),
        "{what} failed ({}). These tests install the Python and Node Extism hosts from PyPI and the npm \
         registry and must fail, not skip, when those cannot be reached.\n{command:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("hosts: {what} took {:.1} s", started.elapsed().as_secs_f64());
}

/// Installs into `dir` unless the stamp there says the same `pins` are installed: into a
/// neighbouring folder first, renamed into place, so an interrupted install is never taken as done.
fn install_once(dir: &Path, pins: &str, install: impl FnOnce(&Path)) {
    let stamp = |dir: &Path| dir.join(".installed");
    if std::fs::read_to_string(stamp(dir)).ok().as_deref() == Some(pins) {
        return;
    }
    /// Removed however the install ends, a failed one included.
    struct Partial(PathBuf);
    impl Drop for Partial {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let partial = Partial(dir.with_extension(format!("partial-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&partial.0);
    std::fs::create_dir_all(&partial.0).unwrap();
    install(&partial.0);
    std::fs::write(stamp(&partial.0), pins).unwrap();
    let _ = std::fs::remove_dir_all(dir);
    if std::fs::rename(&partial.0, dir).is_err() {
        // Another test process installed it at the same moment.
        assert_eq!(std::fs::read_to_string(stamp(dir)).ok().as_deref(), Some(pins), "{} is not installed", dir.display());
    }
}

fn tool_version(program: &str) -> String {
    let output = Command::new(program)
        .arg("--version")
        .output()
        .unwrap_or_else(|error| panic!("{program} is needed by the host tests (the Python and Node Extism hosts) and cannot be run: {error}"));
    assert!(output.status.success(), "{program} --version failed");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `target/hosts/python`, with the packages of `requirements.txt` (for PYTHONPATH).
fn python_packages() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let requirements = example("python", "requirements.txt");
        // The native parts (cffi) are built for one Python version.
        let pins = format!("{}\n{}", tool_version("python3"), std::fs::read_to_string(&requirements).unwrap());
        let dir = hosts_dir().join("python");
        install_once(&dir, &pins, |target| {
            let mut pip = Command::new("python3");
            pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "--retries", "2", "--timeout", "30", "--target"])
                .arg(target)
                .arg("-r")
                .arg(&requirements);
            install_step("installing the Python Extism host (pip install -r host-harness/hosts/python/requirements.txt)", pip);
        });
        dir
    })
}

/// `target/hosts/node`, with `npm ci` of the committed package.json and package-lock.json.
fn node_packages() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let package = std::fs::read_to_string(example("node", "package.json")).unwrap();
        let lock = std::fs::read_to_string(example("node", "package-lock.json")).unwrap();
        let pins = format!("{}\n{package}\n{lock}", tool_version("node"));
        let dir = hosts_dir().join("node");
        install_once(&dir, &pins, |prefix| {
            std::fs::write(prefix.join("package.json"), &package).unwrap();
            std::fs::write(prefix.join("package-lock.json"), &lock).unwrap();
            let mut npm = Command::new("npm");
            npm.args(["ci", "--no-audit", "--no-fund", "--prefix"]).arg(prefix);
            install_step("installing the Node Extism host (npm ci of host-harness/hosts/node)", npm);
        });
        // An ES module finds its packages beside itself: the program runs from a copy in `dir`.
        write_atomically(&dir.join("run_demo.mjs"), &std::fs::read(example("node", "run_demo.mjs")).unwrap());
        dir
    })
}

// ---------------------------------------------------------------------------------------------
// Running connect -> sync -> map in each host

fn period() -> Value {
    json!({"from": "2026-11-01", "thru": "2026-11-30"})
}

fn psa() -> Value {
    serde_json::from_str(&std::fs::read_to_string(workspace_root().join("tests/psa/main.json")).unwrap()).unwrap()
}

/// The same sequence as the example programs, in this harness's Rust host.
fn run_rust(server: &ReplayServer, api_key: &str) -> Result<Value, Value> {
    let options = HostOptions { manifest: Some(manifest().to_path_buf()), allow_api_urls: vec![server.base_url()], ..Default::default() };
    let mut host = PluginHost::load(&options).unwrap_or_else(|error| panic!("{error}"));
    let connection = json!({"api_url": server.base_url(), "username": server.scenario().username, "api_key": api_key});
    let error_object = |error: CallError| match error {
        CallError::Plugin { code, message } => json!({"code": code, "message": message}),
        other => panic!("the Rust host: {other}"),
    };
    let connected = host.call("connect", &json!({"connection": connection})).map_err(error_object)?;
    let synced = host.call("sync", &json!({"connection": connection, "billing_period": period()})).map_err(error_object)?;
    let psa = psa();
    let mapped = host
        .call(
            "map",
            &json!({"accounts": connected["accounts"], "services": connected["services"],
                    "psa_companies": psa["psa_companies"], "psa_products": psa["psa_products"]}),
        )
        .map_err(error_object)?;
    Ok(json!({"connect": connected, "sync": synced, "map": mapped}))
}

/// An example program as a person runs it: from the workspace root, credentials in the
/// environment, the manifest as its argument. Exit code, stdout, stderr.
fn run_example_raw(host: Host, server: &ReplayServer, api_key: &str, log_level: Option<&str>) -> (Option<i32>, String, String) {
    let mut command = match host {
        Host::Python => {
            let mut python = Command::new("python3");
            python.arg(example("python", "run_demo.py")).env("PYTHONPATH", python_packages()).env("PYTHONDONTWRITEBYTECODE", "1");
            python
        }
        Host::Node => {
            let mut node = Command::new("node");
            node.arg("--disable-warning=ExperimentalWarning").arg(node_packages().join("run_demo.mjs"));
            node
        }
        Host::Rust => unreachable!("the Rust host runs in this process"),
    };
    command
        .arg(manifest())
        .current_dir(workspace_root())
        .env("AUVIK_API_URL", server.base_url())
        .env("AUVIK_USERNAME", &server.scenario().username)
        .env("AUVIK_API_KEY", api_key);
    match log_level {
        Some(level) => command.env("AUVIK_LOG_LEVEL", level),
        None => command.env_remove("AUVIK_LOG_LEVEL"),
    };
    let (status, stdout, stderr) = run_with_deadline(command, RUN_DEADLINE);
    assert!(!stdout.contains(api_key) && !stderr.contains(api_key), "{host:?}: the key was printed:\n{stdout}\n{stderr}");
    (status, stdout, stderr)
}

/// Exit 0 with the outputs as the one JSON value on stdout, or exit 1 with the plugin's error
/// object as the one line on stderr; nothing else on the other stream.
fn run_example(host: Host, server: &ReplayServer, api_key: &str) -> Result<Value, Value> {
    let (status, stdout, stderr) = run_example_raw(host, server, api_key, None);
    match status {
        Some(0) => {
            assert!(stderr.is_empty(), "{host:?}: a successful run prints nothing on stderr, got:\n{stderr}");
            Ok(serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{host:?}: stdout is not one JSON value ({error}):\n{stdout}")))
        }
        Some(1) => {
            assert!(stdout.is_empty(), "{host:?}: a failed run prints nothing on stdout, got:\n{stdout}");
            let line = stderr.strip_suffix('\n').unwrap_or(&stderr);
            assert!(!line.contains('\n'), "{host:?}: stderr is the error object alone, got:\n{stderr}");
            Err(serde_json::from_str(line).unwrap_or_else(|error| panic!("{host:?}: stderr is not the error JSON ({error}):\n{stderr}")))
        }
        other => panic!("{host:?}: exit status {other:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"),
    }
}

/// Exit code (None when killed by a signal), stdout, stderr; kills the child after `deadline`.
fn run_with_deadline(mut command: Command, deadline: Duration) -> (Option<i32>, String, String) {
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit within {deadline:?}; stderr so far:\n{}", stderr.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), stdout.join().unwrap(), stderr.join().unwrap())
}

/// Every host in turn against `server` (reset before each), checking that every request was
/// answered by a recording.
fn run_all(server: &ReplayServer, api_key: &str) -> Vec<HostRun> {
    HOSTS
        .iter()
        .map(|&host| {
            server.reset();
            let result = match host {
                Host::Rust => run_rust(server, api_key),
                other => run_example(other, server, api_key),
            };
            let unanswered = server.take_unmatched();
            assert!(unanswered.is_empty(), "{host:?}: no recording answers {unanswered:?}");
            HostRun { host, result, requests: server.requests() }
        })
        .collect()
}

/// JSON with every integral float written as an integer: Node's `JSON.stringify` writes the
/// plugin's `1.0` as `1`, which is the same number.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Number(number) => match number.as_f64() {
            Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 9.0e15 => json!(float as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(key, value)| (key.clone(), canonical(value))).collect()),
        other => other.clone(),
    }
}

/// Where two JSON values first differ, as a JSON pointer with both sides.
fn first_difference(want: &Value, got: &Value, at: &str) -> Option<String> {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|key| first_difference(a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null), &format!("{at}/{key}")))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(index, (a, b))| first_difference(a, b, &format!("{at}/{index}")))
        }
        _ => (want != got).then(|| format!("{at}: the Rust host says {want}, this one {got}")),
    }
}

/// Every host answered exactly as the Rust host did, through exactly the same requests.
fn assert_all_alike(runs: &[HostRun]) {
    let rust = &runs[0];
    assert_eq!(rust.host, Host::Rust);
    for other in &runs[1..] {
        let outcome = |run: &HostRun| match &run.result {
            Ok(output) => json!({"output": canonical(output)}),
            Err(error) => json!({"error": canonical(error)}),
        };
        if let Some(difference) = first_difference(&outcome(rust), &outcome(other), "") {
            panic!("{:?} answered differently from the Rust host: {difference}", other.host);
        }
        assert_eq!(other.requests, rust.requests, "{:?} made other requests than the Rust host", other.host);
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_wasm_answers_alike_in_the_rust_python_and_node_hosts() {
    let server = ReplayServer::start(&recordings_dir("main")).unwrap();
    let key = server.scenario().api_key.clone();
    let runs = run_all(&server, &key);
    assert_all_alike(&runs);

    let output = runs[0].result.as_ref().unwrap();
    assert_eq!(output["connect"]["accounts"].as_array().unwrap().len(), 8);
    assert_eq!(output["sync"]["complete"], true);
    assert_eq!(output["map"]["summary"]["accounts"]["mapped"].as_u64().map(|mapped| mapped > 0), Some(true), "{}", output["map"]["summary"]);
    let requests = &runs[0].requests;
    let paths: Vec<&str> = requests.iter().take(3).map(|request| request.path.as_str()).collect();
    assert_eq!(paths, ["/v1/authentication/verify", "/v1/tenants", "/v1/tenants/detail"], "connect");
    assert_eq!(output["sync"]["stats"]["requests"].as_u64(), Some(requests.len() as u64 - 3), "stats.requests counts the sync's own requests in every host");
    assert!(requests.iter().all(|request| request.authorized && request.status < 500));
}

#[test]
fn every_host_hands_the_plugins_error_object_to_its_caller() {
    let server = ReplayServer::start(&recordings_dir("main")).unwrap();
    let runs = run_all(&server, "wrong-key-0000");
    assert_all_alike(&runs);
    for run in &runs {
        let error = run.result.as_ref().expect_err("a refused key fails the call");
        assert_eq!(error["code"], "auth_failed", "{:?}: {error}", run.host);
        assert!(error["message"].as_str().unwrap().contains("HTTP 401 on GET /v1/authentication/verify"), "{:?}: {error}", run.host);
        assert_eq!(run.requests.len(), 1, "{:?}: one request, never retried: {:?}", run.host, run.requests);
        assert!(!run.requests[0].authorized);
    }
}

/// The plugin reads only `Retry-After` from response headers, and works without it. The Rust host
/// (`with_http_response_headers`) and the Node example (`allowHttpResponseHeaders`) pass headers;
/// the Python SDK has no option for it, so there the plugin waits its documented default.
#[test]
fn a_throttled_sync_hears_retry_after_where_the_host_passes_headers() {
    let server = ReplayServer::start(&recordings_dir("main")).unwrap();
    let key = server.scenario().api_key.clone();
    // Request 4 is the sync's first; connect's three are answered as recorded.
    let throttle = FaultKind::Status(429, String::new(), vec![("Retry-After".into(), "7".into())]);
    server.set_faults(vec![Fault { request_number: 4, kind: throttle }]);
    let runs = run_all(&server, &key);
    for run in &runs {
        let output = run.result.as_ref().unwrap_or_else(|error| panic!("{:?}: {error}", run.host));
        assert_eq!(output["sync"]["complete"], false, "{:?}", run.host);
        let want = if run.host == Host::Python { 60 } else { 7 };
        assert_eq!(output["sync"]["retry_after_seconds"], want, "{:?}: Retry-After when the host passes headers, else the default", run.host);
        let paused = output["sync"]["paused"].as_str().unwrap();
        assert!(paused.ends_with(&format!("after {want} s")), "{:?}: {paused}", run.host);
        assert_eq!(run.requests, runs[0].requests, "{:?}", run.host);
    }
    // Apart from the wait, nothing differs.
    let without_wait = |run: &HostRun| {
        let mut output = canonical(run.result.as_ref().unwrap());
        let sync = output["sync"].as_object_mut().unwrap();
        sync.remove("retry_after_seconds");
        sync.remove("paused");
        output
    };
    for run in &runs[1..] {
        if let Some(difference) = first_difference(&without_wait(&runs[0]), &without_wait(run), "") {
            panic!("{:?}: {difference}", run.host);
        }
    }
}

/// Plugin log lines are opt-in (`AUVIK_LOG_LEVEL`) and go to stderr, never among the JSON on
/// stdout: Node's default logger would print them on stdout.
#[test]
fn plugin_progress_lines_go_to_stderr_in_the_examples() {
    let server = ReplayServer::start(&recordings_dir("main")).unwrap();
    let key = server.scenario().api_key.clone();
    for host in [Host::Python, Host::Node] {
        server.reset();
        let (status, stdout, stderr) = run_example_raw(host, &server, &key, Some("info"));
        assert_eq!(status, Some(0), "{host:?}: {stderr}");
        let output: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{host:?}: stdout is not one JSON value ({error}):\n{stdout}"));
        assert_eq!(output["sync"]["complete"], true);
        assert!(stderr.contains("sync: page read"), "{host:?}: the plugin's progress on stderr, got:\n{stderr}");
    }
}
