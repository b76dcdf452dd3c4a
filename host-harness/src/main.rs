//! `auvik-harness`: run the plugin from a shell.
//!
//!   auvik-harness demo [--json]
//!   auvik-harness call <connect|sync|map|describe> [--input FILE|-] [--recordings DIR] [--format json|table|csv]
//!   auvik-harness serve [--recordings DIR]

use auvik_harness::report::{companies_from_map, sync_csv, sync_table};
use auvik_harness::{recordings_dir, CallError, HostOptions, PluginHost, Session};
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  auvik-harness demo [--json]
      connect -> sync -> map on the bundled recorded Auvik account, printed as a table
  auvik-harness call <connect|sync|map|describe> [--input FILE|-] [--recordings DIR] [--format json|table|csv]
      run one entry point; with --recordings the input's connection is pointed at a replay server of DIR
  auvik-harness serve [--recordings DIR]
      serve recordings on loopback until stopped (for other Extism hosts)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("call") => call(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(Failure::Usage(format!("expected a command\n{USAGE}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("auvik-harness: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

enum Failure {
    Usage(String),
    Setup(String),
    Call(CallError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(text) | Failure::Setup(text) => f.write_str(text),
            Failure::Call(error) => write!(f, "{error}"),
        }
    }
}

impl Failure {
    /// Distinct per error code, so a workflow step can branch without parsing text.
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Setup(_) => 3,
            Failure::Call(CallError::Plugin { code, .. }) => match code.as_str() {
                "invalid_input" => 10,
                "invalid_api_url" => 11,
                "auth_failed" => 12,
                "forbidden" => 13,
                "rate_limited" => 14,
                "upstream_error" => 15,
                "malformed_response" => 16,
                _ => 19,
            },
            Failure::Call(CallError::Trap(_)) => 20,
            Failure::Call(CallError::Schema(_)) => 21,
            Failure::Call(CallError::Unanswered(_)) => 22,
            Failure::Call(CallError::SecretLeaked(_)) => 23,
        }
    }
}

struct Flags {
    positional: Vec<String>,
    values: Vec<(String, String)>,
    switches: Vec<String>,
}

fn parse_flags(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Flags, Failure> {
    let mut flags = Flags { positional: Vec::new(), values: Vec::new(), switches: Vec::new() };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if with_value.contains(&arg.as_str()) {
            let value = iter.next().ok_or_else(|| Failure::Usage(format!("{arg} needs a value\n{USAGE}")))?;
            flags.values.push((arg.clone(), value.clone()));
        } else if switches.contains(&arg.as_str()) {
            flags.switches.push(arg.clone());
        } else if arg.starts_with("--") {
            return Err(Failure::Usage(format!("unknown option {arg}\n{USAGE}")));
        } else {
            flags.positional.push(arg.clone());
        }
    }
    Ok(flags)
}

impl Flags {
    fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
    fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|switch| switch == name)
    }
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON values serialize"));
}

fn demo(args: &[String]) -> Result<(), Failure> {
    let flags = parse_flags(args, &[], &["--json"])?;
    let mut session = Session::start(&recordings_dir("main")).map_err(Failure::Setup)?;
    let psa: Value = read_json_file(&auvik_harness::build::workspace_root().join("tests/psa/main.json"))?;
    let connection = session.connection();
    let connected = session.call("connect", &json!({ "connection": connection })).map_err(Failure::Call)?;
    let period = json!({"from": "2026-11-01", "thru": "2026-11-30"});
    let synced = session
        .call("sync", &json!({"connection": connection, "billing_period": period}))
        .map_err(Failure::Call)?;
    let mapped = session
        .call(
            "map",
            &json!({"accounts": connected["accounts"], "services": connected["services"],
                    "psa_companies": psa["psa_companies"], "psa_products": psa["psa_products"]}),
        )
        .map_err(Failure::Call)?;
    if flags.switch("--json") {
        print_json(&json!({"connect": connected, "sync": synced, "map": mapped}));
        return Ok(());
    }
    println!("Recorded Auvik account: {}", session.server.scenario().description);
    println!("connect: {} accounts, {} services (status {})\n", connected["accounts"].as_array().map_or(0, Vec::len), connected["services"].as_array().map_or(0, Vec::len), connected["status"]);
    println!("sync, billing period {} to {}:\n", period["from"].as_str().unwrap_or(""), period["thru"].as_str().unwrap_or(""));
    print!("{}", sync_table(&synced, &companies_from_map(&mapped, &psa["psa_companies"])));
    let summary = &mapped["summary"];
    println!(
        "map: accounts {} mapped, {} unmapped, {} excluded; services {} mapped, {} unmapped",
        summary["accounts"]["mapped"], summary["accounts"]["unmapped"], summary["accounts"]["excluded"], summary["services"]["mapped"], summary["services"]["unmapped"]
    );
    Ok(())
}

fn read_json_file(path: &std::path::Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| Failure::Setup(format!("cannot read {}: {error}", path.display())))?;
    serde_json::from_str(&text).map_err(|error| Failure::Setup(format!("{} is not JSON: {error}", path.display())))
}

fn call(args: &[String]) -> Result<(), Failure> {
    let flags = parse_flags(args, &["--input", "--recordings", "--format"], &[])?;
    let [entry] = flags.positional.as_slice() else {
        return Err(Failure::Usage(format!("call takes one entry point name\n{USAGE}")));
    };
    let format = flags.value("--format").unwrap_or("json");
    if !["json", "table", "csv"].contains(&format) {
        return Err(Failure::Usage(format!("--format takes json, table or csv, not {format}")));
    }
    let input = read_input(flags.value("--input").unwrap_or("-"))?;
    let output = match flags.value("--recordings") {
        Some(dir) => {
            let mut session = Session::start(&PathBuf::from(dir)).map_err(Failure::Setup)?;
            let mut input = input;
            if input.get("connection").is_none() && matches!(entry.as_str(), "connect" | "sync") {
                input["connection"] = session.connection();
            }
            session.call(entry, &input)
        }
        None => {
            let mut host = PluginHost::load(&HostOptions::default()).map_err(Failure::Setup)?;
            host.call(entry, &input)
        }
    }
    .map_err(Failure::Call)?;
    match (format, entry.as_str()) {
        ("table", "sync") => print!("{}", sync_table(&output, &Default::default())),
        ("csv", "sync") => print!("{}", sync_csv(&output)),
        ("json", _) => print_json(&output),
        _ => return Err(Failure::Usage(format!("--format {format} is for sync; use json for {entry}"))),
    }
    Ok(())
}

fn read_input(source: &str) -> Result<Value, Failure> {
    let mut text = String::new();
    if source == "-" {
        std::io::stdin().read_to_string(&mut text).map_err(|error| Failure::Setup(format!("cannot read stdin: {error}")))?;
    } else {
        text = std::fs::read_to_string(source).map_err(|error| Failure::Setup(format!("cannot read {source}: {error}")))?;
    }
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&text).map_err(|error| Failure::Usage(format!("the input is not JSON: {error}")))
}

fn serve(args: &[String]) -> Result<(), Failure> {
    let flags = parse_flags(args, &["--recordings"], &[])?;
    let dir = flags.value("--recordings").map(PathBuf::from).unwrap_or_else(|| recordings_dir("main"));
    let server = auvik_harness::replay::ReplayServer::start(&dir).map_err(Failure::Setup)?;
    println!("{}", server.base_url());
    loop {
        std::thread::park();
    }
}
