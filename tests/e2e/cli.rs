//! The CLI as a workflow step runs it: a subprocess with input on stdin, credentials in the
//! environment, JSON, a table or CSV on stdout, progress on stderr, and an exit status per error.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

const MAIN_KEY: &str = "replay-key-7f3a9c1e5b2d";

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auvik-harness"))
}

fn run(mut command: Command, stdin: &str) -> Output {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let everything = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!everything.contains(MAIN_KEY), "the CLI printed the key: {everything}");
    output
}

/// `auvik-harness serve` in the background, with its base URL; killed on drop.
struct Served(Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve() -> Served {
    let mut child = harness().args(["serve", "--recordings"]).arg(auvik_harness::recordings_dir("main")).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    Served(child, line.trim().to_string())
}

fn with_env(mut command: Command, url: &str, key: &str) -> Command {
    command.env("AUVIK_API_URL", url).env("AUVIK_USERNAME", "billing@fakemsp.example").env("AUVIK_API_KEY", key);
    command
}

#[test]
fn sync_from_stdin_resumes_on_its_own_and_reports_progress() {
    let mut resumed = harness();
    resumed.args(["call", "sync", "--recordings"]).arg(auvik_harness::recordings_dir("main")).args(["--max-requests", "2"]);
    let output = run(resumed, r#"{"include_devices": true}"#);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let split: Value = serde_json::from_slice(&output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("page read"), "progress comes from the plugin's log: {stderr}");
    assert!(stderr.contains("paused"), "{stderr}");

    let mut whole = harness();
    whole.args(["call", "sync", "--input", "-", "--recordings"]).arg(auvik_harness::recordings_dir("main"));
    let whole: Value = serde_json::from_slice(&run(whole, r#"{"include_devices": true}"#).stdout).unwrap();
    assert_eq!(split["complete"], true);
    assert_eq!(split["accounts"], whole["accounts"], "the CLI's resumed run equals one call, device lists included");
    assert_eq!(split["totals"]["requests"], whole["stats"]["requests"]);
}

#[test]
fn credentials_come_from_the_environment_and_every_error_has_its_own_exit_status() {
    let served = serve();
    let mut connect = with_env(harness(), &served.1, MAIN_KEY);
    connect.args(["call", "connect", "--allow-api-url", &served.1]);
    let output = run(connect, "");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let connected: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(connected["accounts"].as_array().unwrap().len(), 8);

    let cases: Vec<(Command, &str, i32, &str)> = vec![
        ({ let mut c = with_env(harness(), &served.1, "wrong-key-123456"); c.args(["call", "connect", "--allow-api-url", &served.1]); c }, "", 12, "auth_failed"),
        ({ let mut c = with_env(harness(), &served.1, MAIN_KEY); c.args(["call", "connect"]); c }, "", 11, "invalid_api_url"),
        ({ let mut c = with_env(harness(), &served.1, MAIN_KEY); c.args(["call", "sync", "--allow-api-url", &served.1]); c }, r#"{"rollup": "everything"}"#, 10, "rollup"),
        ({ let mut c = harness(); c.env_remove("AUVIK_API_KEY").args(["call", "connect"]); c }, "", 2, "AUVIK_API_KEY"),
        ({ let mut c = harness(); c.args(["call", "nonsense", "--format", "yaml"]); c }, "", 2, "--format"),
    ];
    for (command, stdin, status, says) in cases {
        let output = run(command, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(status), "{stderr}");
        assert!(stderr.contains(says), "expected {says:?} in {stderr}");
    }
}

#[test]
fn table_and_csv_are_what_people_open() {
    let mut table = harness();
    table.args(["call", "sync", "--format", "table", "--recordings"]).arg(auvik_harness::recordings_dir("main"));
    let output = run(table, "{}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.lines().next().unwrap().starts_with("Account"), "{text}");
    assert!(text.lines().any(|line| line.starts_with("initech") && line.contains("unavailable")), "{text}");

    let mut csv = harness();
    csv.args(["call", "sync", "--format", "csv", "--recordings"]).arg(auvik_harness::recordings_dir("main"));
    let text = String::from_utf8_lossy(&run(csv, "{}").stdout).to_string();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 1 + 6 * 9, "one row per account and service");
    assert!(rows.contains(&"400000000000000101,acmedental,ok,total_billable_devices,9,,"), "{text}");
    assert!(rows.contains(&"400000000000000301,initech,unavailable,firewalls,,,forbidden"), "{text}");
    let _ = json!(null);
}
