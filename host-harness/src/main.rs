//! `auvik-harness`: run the plugin from a shell. `USAGE` below lists the commands.

use auvik_harness::report::{companies_from_map, sync_csv, sync_table};
use auvik_harness::{recordings_dir, CallError, HostOptions, PluginHost, Session};
use serde_json::{json, Value};
use auvik_harness::workflow::{log_message, sync_to_completion, LoopOptions};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  auvik-harness demo [--json]
      connect -> sync -> map on the bundled recorded Auvik account, printed as a table
  auvik-harness call <connect|sync|map|describe> [--input FILE|-] [--recordings DIR] [--format json|table|csv] [--max-requests N] [--allow-api-url URL]
      run one entry point (input from FILE or stdin); a missing connection comes from a replay server
      of DIR with --recordings, else from AUVIK_API_URL, AUVIK_USERNAME and AUVIK_API_KEY; sync is
      resumed with its token until complete, waiting when Auvik asks to; --allow-api-url lets the
      plugin reach one more exact base URL (an operator's choice, e.g. `serve`'s)
  auvik-harness record --out DIR [--billing-period FROM..THRU] [--description TEXT]
      run connect and sync against AUVIK_API_URL with AUVIK_USERNAME and AUVIK_API_KEY and save every
      response as a recording (credentials removed) that `call --recordings DIR` replays offline
  auvik-harness serve [--recordings DIR]
      serve recordings on loopback until stopped (for other Extism hosts)
  auvik-harness bench [--sizes small,medium,large] [--runs N] [--markdown]
      generate Auvik accounts of 1,000 to 100,000 devices, time sync and map, print the tables";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&args[1..]),
        Some("call") => call(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("record") => record(&args[1..]),
        Some("bench") => auvik_harness::bench::run(&args[1..]).map_err(|error| match error {
            auvik_harness::bench::BenchError::Usage(text) => Failure::Usage(text),
            auvik_harness::bench::BenchError::Failed(text) => Failure::Setup(text),
        }),
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
    let flags = parse_flags(args, &["--input", "--recordings", "--format", "--max-requests", "--allow-api-url"], &[])?;
    let [entry] = flags.positional.as_slice() else {
        return Err(Failure::Usage(format!("call takes one entry point name\n{USAGE}")));
    };
    let format = flags.value("--format").unwrap_or("json");
    if !["json", "table", "csv"].contains(&format) {
        return Err(Failure::Usage(format!("--format takes json, table or csv, not {format}")));
    }
    if format != "json" && entry != "sync" {
        return Err(Failure::Usage(format!("--format {format} is for sync; use json for {entry}")));
    }
    let mut input = read_input(flags.value("--input").unwrap_or("-"))?;
    if let Some(budget) = flags.value("--max-requests") {
        let budget: u32 = budget.parse().map_err(|_| Failure::Usage(format!("--max-requests takes a whole number, not {budget}")))?;
        input["max_requests"] = json!(budget);
    }
    let needs_connection = matches!(entry.as_str(), "connect" | "sync") && input.get("connection").is_none();
    let session = match flags.value("--recordings") {
        Some(dir) => Some(Session::start(&PathBuf::from(dir)).map_err(Failure::Setup)?),
        None => None,
    };
    let mut host = match session {
        Some(session) => {
            if needs_connection {
                input["connection"] = session.connection();
            }
            CallHost::Replay(session)
        }
        None => {
            if needs_connection {
                input["connection"] = connection_from_env()?;
            }
            let allow_api_urls = flags.value("--allow-api-url").map(|url| vec![url.to_string()]).unwrap_or_default();
            CallHost::Plain(PluginHost::load(&HostOptions { allow_api_urls, ..HostOptions::default() }).map_err(Failure::Setup)?)
        }
    };
    let output = if entry == "sync" {
        let progress = Progress::start();
        let result = sync_to_completion(host.plugin(), &input, &LoopOptions::default(), |event| progress.show(event));
        progress.finish();
        result.map(|(output, _)| output)
    } else {
        host.plugin().call_raw(entry, input.to_string().as_bytes())
    };
    if let CallHost::Replay(session) = &host {
        let unanswered = session.server.take_unmatched();
        if !unanswered.is_empty() {
            return Err(Failure::Call(CallError::Unanswered(unanswered)));
        }
    }
    let output = output.map_err(Failure::Call)?;
    match format {
        "table" => print!("{}", sync_table(&output, &Default::default())),
        "csv" => print!("{}", sync_csv(&output)),
        _ => print_json(&output),
    }
    Ok(())
}

enum CallHost {
    Replay(Session),
    Plain(PluginHost),
}

impl CallHost {
    fn plugin(&mut self) -> &mut PluginHost {
        match self {
            CallHost::Replay(session) => &mut session.host,
            CallHost::Plain(host) => host,
        }
    }
}

/// Credentials stay out of command lines and files: a workflow step passes them in the environment.
fn connection_from_env() -> Result<Value, Failure> {
    let names = ["AUVIK_API_URL", "AUVIK_USERNAME", "AUVIK_API_KEY"];
    let values: Vec<Option<String>> = names.iter().map(|name| std::env::var(name).ok().filter(|value| !value.is_empty())).collect();
    let missing: Vec<&str> = names.iter().zip(&values).filter(|(_, value)| value.is_none()).map(|(name, _)| *name).collect();
    if !missing.is_empty() {
        return Err(Failure::Usage(format!(
            "the input has no connection, so it is taken from the environment, but {} is not set",
            missing.join(", ")
        )));
    }
    let [url, username, key] = [&values[0], &values[1], &values[2]].map(|value| value.clone().unwrap_or_default());
    Ok(json!({"api_url": url, "username": username, "api_key": key}))
}

/// Progress on stderr, fed by the plugin's own log lines: one line rewritten in place on a
/// terminal, plain lines otherwise.
struct Progress {
    terminal: bool,
}

impl Progress {
    fn start() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        auvik_harness::secret_guard::set_log_listener(Some(Box::new(move |line: &str| {
            Progress::print(terminal, log_message(line));
        })));
        Progress { terminal }
    }

    fn print(terminal: bool, message: &str) {
        if terminal {
            eprint!("\r\x1b[2K{message}");
        } else {
            eprintln!("auvik-harness: {message}");
        }
    }

    fn show(&self, event: &str) {
        Progress::print(self.terminal, event);
    }

    fn finish(self) {
        auvik_harness::secret_guard::set_log_listener(None);
        if self.terminal {
            eprintln!();
        }
    }
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

fn record(args: &[String]) -> Result<(), Failure> {
    let flags = parse_flags(args, &["--out", "--billing-period", "--description"], &[])?;
    let out_dir = flags.value("--out").ok_or_else(|| Failure::Usage(format!("record needs --out DIR\n{USAGE}")))?;
    let connection = connection_from_env()?;
    let sync_input_extra = match flags.value("--billing-period") {
        Some(period) => {
            let (from, thru) = period
                .split_once("..")
                .ok_or_else(|| Failure::Usage(format!("--billing-period takes FROM..THRU, e.g. 2026-11-01..2026-11-30, not {period}")))?;
            json!({"billing_period": {"from": from, "thru": thru}})
        }
        None => json!({}),
    };
    let options = auvik_harness::record::RecordOptions {
        upstream_base_url: connection["api_url"].as_str().unwrap_or_default().to_string(),
        username: connection["username"].as_str().unwrap_or_default().to_string(),
        api_key: connection["api_key"].as_str().unwrap_or_default().to_string(),
        out_dir: PathBuf::from(out_dir),
        sync_input_extra,
        description: flags.value("--description").unwrap_or("recorded with auvik-harness record").to_string(),
    };
    let progress = Progress::start();
    let result = auvik_harness::record::record(&options);
    progress.finish();
    let summary = result.map_err(Failure::Setup)?;
    for warning in &summary.warnings {
        eprintln!("auvik-harness: warning: {warning}");
    }
    println!("recorded {} requests into {} files in {out_dir}", summary.requests, summary.files.len());
    Ok(())
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
