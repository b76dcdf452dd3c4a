//! `auvik-harness bench`: how the plugin performs on synthetic Auvik accounts of 1,000 to
//! 100,000 devices, against what the same work costs without it.
//!
//! For each size it generates an account ([`synthetic`]), serves it on loopback, and measures
//! the whole `sync` through the extism host (median of N runs, each on a fresh instance),
//! the plain fetch of the same requests with ureq (the floor), the same sync compiled
//! natively, the requests made against the minimum, and the peak linear memory ([`memory`]).
//! Every result is checked against the generator's counts before any figure is kept: a wrong
//! fast sync is an error, never a number. Then the start-up figures (`.wasm` size, compile,
//! instantiate) and `map` on 1,000 accounts × 10,000 PSA companies.
//!
//! The library functions ([`run_size`], [`run_startup`], [`run_map`]) are what the CLI and the
//! end-to-end test both call, so the test keeps this code path working.

pub mod memory;
pub mod native;
pub mod synthetic;
pub mod wasm;

pub use synthetic::Size;

use crate::replay::ReplayServer;
use memory::MemoryProbe;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use synthetic::{SyntheticAccount, EXCLUSION_KEYS, SERVICE_IDS};

pub const DEFAULT_RUNS: usize = 3;
pub const MAP_ACCOUNTS: usize = 1_000;
pub const MAP_COMPANIES: usize = 10_000;
/// Instantiation is quick, so it is sampled more often than the other figures.
const INSTANTIATE_SAMPLES: usize = 25;
const MIB: f64 = 1024.0 * 1024.0;

pub const USAGE: &str = "usage: auvik-harness bench [--sizes tiny,small,medium,large] [--runs N] [--markdown]
  sizes: tiny 3 sites/120 devices, small 10/1,000, medium 100/10,000, large 300/100,000
  (default small,medium,large); N runs per figure, median reported (default 3).
  Build with --release for figures worth reading.";

/// Durations of the runs of one measurement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    pub runs: Vec<Duration>,
}

impl Timing {
    pub fn push(&mut self, duration: Duration) {
        self.runs.push(duration);
    }

    pub fn median(&self) -> Duration {
        let mut sorted = self.runs.clone();
        sorted.sort();
        match sorted.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
        }
    }

    pub fn min(&self) -> Duration {
        self.runs.iter().copied().min().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.runs.iter().copied().max().unwrap_or_default()
    }
}

/// `a / b` of two medians.
fn ratio(a: &Timing, b: &Timing) -> f64 {
    a.median().as_secs_f64() / b.median().as_secs_f64().max(1e-9)
}

/// Linear memory of one instance after a call. Wasm memory never shrinks, so it is the peak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinearMemory {
    /// The plugin module's own memory.
    pub plugin_bytes: usize,
    /// extism's kernel memory, where the host puts inputs, outputs and HTTP response bodies.
    pub kernel_bytes: usize,
    /// The store's other memories: extism 1.30 instantiates the plugin module once more when
    /// it links it (an instance no call uses, at its initial size), plus wasmtime's own.
    pub other_bytes: usize,
}

impl LinearMemory {
    /// Plugin and kernel memory: what the call grows, and what `memory.max_pages` limits.
    pub fn total_bytes(&self) -> usize {
        self.plugin_bytes + self.kernel_bytes
    }
}

/// Everything measured for one size.
#[derive(Debug, Clone)]
pub struct SizeFigures {
    pub size: Size,
    pub tenants_listed: usize,
    pub multi_clients: usize,
    pub device_pages: usize,
    pub billing_requests: usize,
    /// Response bodies of one sync.
    pub body_bytes: u64,
    pub average_device_bytes: f64,
    /// Requests the Wasm sync made, as the replay server counted them (every run).
    pub requests: Vec<usize>,
    pub native_requests: usize,
    pub minimum_requests: usize,
    pub wasm: Timing,
    pub floor: Timing,
    pub native: Timing,
    /// The sync as measured (with a billing period).
    pub memory: LinearMemory,
    /// The same sync without a billing period: device pages only.
    pub memory_devices_only: LinearMemory,
    /// How the sync failed under `manifest.json`'s memory limit, when it did; the figures are
    /// then measured with the limit lifted.
    pub shipped_limit_failure: Option<String>,
}

impl SizeFigures {
    pub fn max_requests(&self) -> usize {
        self.requests.iter().copied().max().unwrap_or_default()
    }

    pub fn requests_ratio(&self) -> f64 {
        self.max_requests() as f64 / self.minimum_requests as f64
    }

    /// Wasm sync over plain fetch.
    pub fn floor_ratio(&self) -> f64 {
        ratio(&self.wasm, &self.floor)
    }

    /// Wasm sync over native sync.
    pub fn native_ratio(&self) -> f64 {
        ratio(&self.wasm, &self.native)
    }
}

#[derive(Debug, Clone)]
pub struct StartupFigures {
    pub wasm_bytes: u64,
    /// `Plugin::new` from the bytes (manifest as shipped), extism's cache disabled: a cold compile.
    pub compile: Timing,
    /// `Plugin::new_from_compiled`.
    pub instantiate: Timing,
    /// The first call on that instance (`describe`), which instantiates the module.
    pub first_call: Timing,
    /// A second `describe` on the same instance.
    pub warm_call: Timing,
}

impl StartupFigures {
    /// From a compiled plugin to one that has answered a call.
    pub fn ready(&self) -> Duration {
        self.instantiate.median() + self.first_call.median()
    }
}

#[derive(Debug, Clone)]
pub struct MapFigures {
    pub accounts: usize,
    pub companies: usize,
    pub input_bytes: usize,
    pub mapped: usize,
    pub suggested: usize,
    pub wasm: Timing,
    pub native: Timing,
}

/// The synced input the bench uses: every account, a billing period, no device lists.
fn sync_input(server: &ReplayServer, with_billing: bool) -> Vec<u8> {
    let scenario = server.scenario();
    let mut input = json!({
        "connection": {"api_url": server.base_url(), "username": scenario.username, "api_key": scenario.api_key}
    });
    if with_billing {
        input["billing_period"] = json!({"from": synthetic::BILLING_FROM, "thru": synthetic::BILLING_THRU});
    }
    input.to_string().into_bytes()
}

fn is_out_of_memory(error: &str) -> bool {
    error.contains("oom") || error.contains("out of memory")
}

fn parse_output(bytes: &[u8], what: &str) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("{what} returned something that is not JSON: {error}"))
}

/// Compares a sync's output with what the generator says every site holds.
pub fn check_sync(output: &Value, account: &SyntheticAccount, with_billing: bool) -> Result<(), String> {
    let mut problems = Vec::new();
    if output["complete"] != json!(true) {
        problems.push(format!("complete is {}", output["complete"]));
    }
    let accounts = output["accounts"].as_array().map(Vec::as_slice).unwrap_or_default();
    if accounts.len() != account.expected.len() {
        problems.push(format!("{} accounts, expected {}", accounts.len(), account.expected.len()));
    }
    let by_id: std::collections::HashMap<&str, &Value> =
        accounts.iter().filter_map(|row| Some((row["account_id"].as_str()?, row))).collect();
    for site in &account.expected {
        let Some(row) = by_id.get(site.id.as_str()) else {
            problems.push(format!("no result for site {}", site.id));
            continue;
        };
        let counts: Vec<u64> = SERVICE_IDS.iter().map(|id| row["counts"][id].as_u64().unwrap_or(u64::MAX)).collect();
        let excluded: Vec<u64> = EXCLUSION_KEYS.iter().map(|key| row["excluded"][key].as_u64().unwrap_or(u64::MAX)).collect();
        let average = row["average_billable_devices"].as_f64();
        let average_right = if with_billing {
            average.is_some_and(|average| (average - site.average_billable_devices).abs() < 1e-9)
        } else {
            average.is_none()
        };
        if row["status"] != "ok"
            || counts != site.counts
            || excluded != site.excluded
            || row["devices_seen"].as_u64() != Some(site.devices)
            || row["name"].as_str() != Some(site.domain_prefix.as_str())
            || !average_right
        {
            problems.push(format!(
                "site {}: got status {} counts {counts:?} excluded {excluded:?} devices_seen {} average {:?}; expected counts {:?} excluded {:?} devices_seen {} average {}",
                site.id, row["status"], row["devices_seen"], average, site.counts, site.excluded, site.devices,
                if with_billing { site.average_billable_devices.to_string() } else { "null".into() }
            ));
        }
    }
    if output["stats"]["devices_seen"].as_u64() != Some(account.total_devices()) {
        problems.push(format!("stats.devices_seen is {}, expected {}", output["stats"]["devices_seen"], account.total_devices()));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
        Err(format!("wrong sync result ({} problems): {}", problems.len(), shown.join("; ")))
    }
}

/// Compares a `map` output with the generator's expectations.
pub fn check_map(output: &Value, map: &synthetic::SyntheticMap) -> Result<(), String> {
    let rows = output["accounts"].as_array().map(Vec::as_slice).unwrap_or_default();
    if rows.len() != map.accounts {
        return Err(format!("map returned {} account rows for {} accounts", rows.len(), map.accounts));
    }
    let by_id: std::collections::HashMap<&str, &Value> = rows.iter().filter_map(|row| Some((row["account_id"].as_str()?, row))).collect();
    let summary = &output["summary"]["accounts"];
    if summary["mapped"].as_u64() != Some(map.exact.len() as u64) {
        return Err(format!("map mapped {} accounts, expected {}", summary["mapped"], map.exact.len()));
    }
    for (account, company) in &map.exact {
        let row = by_id.get(account.as_str()).ok_or_else(|| format!("map has no row for {account}"))?;
        if row["status"] != "mapped" || row["psa_company_id"] != json!(company) || row["match"] != "exact" {
            return Err(format!("map: account {account} should map exactly onto {company}, got {row}"));
        }
    }
    for (account, company) in &map.suggested {
        let row = by_id.get(account.as_str()).ok_or_else(|| format!("map has no row for {account}"))?;
        let suggested = row["suggestions"].as_array().is_some_and(|list| list.iter().any(|s| s["psa_company_id"] == json!(company)));
        if row["status"] != "unmapped" || !suggested {
            return Err(format!("map: account {account} should stay unmapped with {company} suggested, got {row}"));
        }
    }
    Ok(())
}

fn progress(text: &str) {
    eprintln!("bench: {text}");
}

/// One timed sync: the plugin's output (or its error), the wall time, the requests it made.
type TimedSync = (Result<Vec<u8>, String>, Duration, usize);

/// Generates the account for `size`, serves it, and measures it `runs` times (at least once).
/// Fails if any run returns a wrong result or asks for something the account does not answer.
pub fn run_size(size: &Size, runs: usize) -> Result<SizeFigures, String> {
    let runs = runs.max(1);
    progress(&format!("{}: generating {} sites, {} devices", size.name, size.sites, size.devices));
    let mut account = synthetic::account(size);
    let server = ReplayServer::from_exchanges(account.scenario.clone(), std::mem::take(&mut account.exchanges))?;
    let base_url = server.base_url();
    let input = sync_input(&server, true);
    let (_, wasm_bytes) = wasm::plugin_wasm()?;
    let mut manifest = wasm::manifest(&wasm_bytes, Some(&base_url))?;
    let mut compiled = wasm::compile(&manifest, None)?;
    let schemas = wasm::schemas()?;
    let scenario = server.scenario().clone();

    let mut figures = SizeFigures {
        size: *size,
        tenants_listed: account.tenants_listed,
        multi_clients: account.multi_clients,
        device_pages: account.device_pages,
        billing_requests: account.billing_requests,
        body_bytes: account.body_bytes,
        average_device_bytes: account.average_device_bytes(),
        requests: Vec::new(),
        native_requests: 0,
        minimum_requests: size.minimum_requests(true),
        wasm: Timing::default(),
        floor: Timing::default(),
        native: Timing::default(),
        memory: LinearMemory::default(),
        memory_devices_only: LinearMemory::default(),
        shipped_limit_failure: None,
    };
    let answered = |what: &str| -> Result<usize, String> {
        let unmatched = server.take_unmatched();
        if !unmatched.is_empty() {
            return Err(format!("{what} asked for what the synthetic account does not answer: {}", unmatched.join("; ")));
        }
        Ok(server.request_count())
    };

    // One timed sync on a fresh, warmed-up instance: its output, wall time and requests.
    let timed_wasm_sync = |compiled: &extism::CompiledPlugin| -> Result<TimedSync, String> {
        let mut plugin = wasm::instantiate(compiled)?;
        wasm::warm_up(&mut plugin)?;
        server.reset();
        let started = Instant::now();
        let output = wasm::call(&mut plugin, "sync", &input);
        let elapsed = started.elapsed();
        Ok((output, elapsed, answered("the Wasm sync")?))
    };

    for run in 1..=runs {
        progress(&format!("{}: run {run}/{runs}", size.name));
        // Interleaved, so that a slow moment of the machine does not hit one column only.
        let (output, elapsed, requests) = timed_wasm_sync(&compiled)?;
        let output = match output {
            // The shipped memory limit is part of what is measured: note that it was too small,
            // then measure with it lifted, so the other figures still exist.
            Err(error) if figures.shipped_limit_failure.is_none() && manifest.memory.max_pages.is_some() && is_out_of_memory(&error) => {
                progress(&format!("{}: {error} under the shipped memory limit; measuring with the limit lifted", size.name));
                figures.shipped_limit_failure = Some(format!(
                    "{error} (manifest.json memory.max_pages {} = {} MiB)",
                    manifest.memory.max_pages.unwrap_or_default(),
                    manifest.memory.max_pages.unwrap_or_default() / 16
                ));
                manifest.memory.max_pages = None;
                compiled = wasm::compile(&manifest, None)?;
                let (output, elapsed, requests) = timed_wasm_sync(&compiled)?;
                figures.requests.push(requests);
                figures.wasm.push(elapsed);
                output
            }
            other => {
                figures.requests.push(requests);
                figures.wasm.push(elapsed);
                other
            }
        };
        let output = parse_output(&output?, "the Wasm sync")?;
        schemas.check("sync.output", &output).map_err(|problem| format!("the Wasm sync output {problem}"))?;
        check_sync(&output, &account, true).map_err(|problem| format!("Wasm: {problem}"))?;

        server.reset();
        let started = Instant::now();
        let bytes = native::fetch_all(&base_url, &account.requests, &scenario.username, &scenario.api_key)?;
        figures.floor.push(started.elapsed());
        answered("the plain fetch")?;
        if bytes == 0 {
            return Err("the plain fetch read nothing".into());
        }

        server.reset();
        let started = Instant::now();
        let output = native::sync(&input, &base_url);
        let elapsed = started.elapsed();
        figures.native_requests = answered("the native sync")?;
        check_sync(&parse_output(&output?, "the native sync")?, &account, true).map_err(|problem| format!("native: {problem}"))?;
        figures.native.push(elapsed);
    }

    progress(&format!("{}: linear memory", size.name));
    let probe = MemoryProbe::new();
    let probed = wasm::compile(&manifest, Some(probe.wasmtime_config()))?;
    for with_billing in [true, false] {
        probe.start("kernel");
        let mut plugin = wasm::instantiate(&probed)?;
        probe.set_phase("plugin");
        server.reset();
        let output = wasm::call(&mut plugin, "sync", &sync_input(&server, with_billing));
        answered("the probed Wasm sync")?;
        check_sync(&parse_output(&output?, "the probed Wasm sync")?, &account, with_billing)
            .map_err(|problem| format!("probed Wasm: {problem}"))?;
        // `Plugin::new_from_compiled` links extism's kernel first (its memory comes first), then
        // eagerly instantiates the plugin module once more, an instance no call uses; the call
        // then instantiates the module that runs (the one memory made in phase `plugin`).
        let records = probe.records();
        let ran: Vec<&memory::MemoryRecord> = records.iter().filter(|record| record.phase == "plugin").collect();
        let (Some(kernel), [ran]) = (records.first().filter(|record| record.phase == "kernel"), ran.as_slice()) else {
            return Err(format!("expected the extism kernel's memory first and one memory made by the call, the probe saw {records:?}"));
        };
        let measured = LinearMemory {
            plugin_bytes: ran.peak_bytes,
            kernel_bytes: kernel.peak_bytes,
            other_bytes: records.iter().map(|record| record.peak_bytes).sum::<usize>() - ran.peak_bytes - kernel.peak_bytes,
        };
        drop(plugin);
        if with_billing {
            figures.memory = measured;
        } else {
            figures.memory_devices_only = measured;
        }
    }
    Ok(figures)
}

/// `.wasm` size, cold compile, and instantiation from a compiled plugin.
pub fn run_startup(runs: usize) -> Result<StartupFigures, String> {
    let runs = runs.max(1);
    let (path, bytes) = wasm::plugin_wasm()?;
    let wasm_bytes = std::fs::metadata(&path).map_err(|error| format!("{}: {error}", path.display()))?.len();
    let manifest = wasm::manifest(&bytes, None)?;
    let mut figures = StartupFigures {
        wasm_bytes,
        compile: Timing::default(),
        instantiate: Timing::default(),
        first_call: Timing::default(),
        warm_call: Timing::default(),
    };
    for run in 1..=runs {
        progress(&format!("compile {run}/{runs}"));
        let builder = extism::PluginBuilder::new(manifest.clone()).with_cache_disabled();
        let started = Instant::now();
        let plugin = builder.build().map_err(|error| format!("the plugin could not be loaded: {error:#}"))?;
        figures.compile.push(started.elapsed());
        drop(plugin);
    }
    let compiled = wasm::compile(&manifest, None)?;
    for _ in 0..INSTANTIATE_SAMPLES.max(runs) {
        let started = Instant::now();
        let mut plugin = wasm::instantiate(&compiled)?;
        let instantiated = Instant::now();
        wasm::call(&mut plugin, "describe", b"{}")?;
        let first = Instant::now();
        wasm::call(&mut plugin, "describe", b"{}")?;
        let warm = Instant::now();
        figures.instantiate.push(instantiated - started);
        figures.first_call.push(first - instantiated);
        figures.warm_call.push(warm - first);
    }
    Ok(figures)
}

/// `map` of `accounts` accounts onto `companies` PSA companies, in Wasm and natively.
pub fn run_map(accounts: usize, companies: usize, runs: usize) -> Result<MapFigures, String> {
    let runs = runs.max(1);
    progress(&format!("map: {accounts} accounts x {companies} companies"));
    let map = synthetic::map_input(accounts, companies);
    let input = serde_json::to_vec(&map.input).map_err(|error| error.to_string())?;
    let (_, bytes) = wasm::plugin_wasm()?;
    let compiled = wasm::compile(&wasm::manifest(&bytes, None)?, None)?;
    let schemas = wasm::schemas()?;
    schemas.check("map.input", &map.input)?;
    let mut figures = MapFigures {
        accounts,
        companies,
        input_bytes: input.len(),
        mapped: map.exact.len(),
        suggested: map.suggested.len(),
        wasm: Timing::default(),
        native: Timing::default(),
    };
    for _ in 0..runs {
        let mut plugin = wasm::instantiate(&compiled)?;
        wasm::warm_up(&mut plugin)?;
        let started = Instant::now();
        let output = wasm::call(&mut plugin, "map", &input);
        let elapsed = started.elapsed();
        let output = parse_output(&output?, "the Wasm map")?;
        schemas.check("map.output", &output).map_err(|problem| format!("the Wasm map output {problem}"))?;
        check_map(&output, &map).map_err(|problem| format!("Wasm: {problem}"))?;
        figures.wasm.push(elapsed);

        let started = Instant::now();
        let output = native::map(&input);
        let elapsed = started.elapsed();
        check_map(&parse_output(&output?, "the native map")?, &map).map_err(|problem| format!("native: {problem}"))?;
        figures.native.push(elapsed);
    }
    Ok(figures)
}

/// Whether a target is met, with the measurement it was judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCheck {
    pub target: &'static str,
    /// `None` when the sizes measured do not include what the target needs.
    pub met: Option<bool>,
    pub measured: String,
}

pub struct Report {
    pub runs: usize,
    pub sizes: Vec<SizeFigures>,
    pub startup: Option<StartupFigures>,
    pub map: Option<MapFigures>,
}

impl Report {
    fn size(&self, size: Size) -> Option<&SizeFigures> {
        self.sizes.iter().find(|figures| figures.size == size)
    }

    pub fn targets(&self) -> Vec<TargetCheck> {
        let mut checks = Vec::new();
        // The targets are about real account sizes; `tiny` exists for the tests.
        let sizes: Vec<&SizeFigures> = self.sizes.iter().filter(|figures| figures.size != Size::TINY).collect();
        let per_size = |value: &dyn Fn(&SizeFigures) -> String| {
            sizes.iter().map(|figures| format!("{} {}", figures.size.name, value(figures))).collect::<Vec<_>>().join(", ")
        };
        let all = |ok: &dyn Fn(&SizeFigures) -> bool| (!sizes.is_empty()).then(|| sizes.iter().all(|figures| ok(figures)));
        checks.push(TargetCheck {
            target: "requests within 1.1x the minimum at every size",
            met: all(&|figures| figures.requests_ratio() <= 1.1),
            measured: per_size(&|figures| format!("{}/{} = {:.3}x", figures.max_requests(), figures.minimum_requests, figures.requests_ratio())),
        });
        let large = self.size(Size::LARGE);
        checks.push(TargetCheck {
            target: "sync wall time within 1.5x the plain fetch at 100,000 devices",
            met: large.map(|figures| figures.floor_ratio() <= 1.5),
            measured: large.map_or("large not measured".into(), |figures| {
                format!(
                    "{}{} vs {} = {:.2}x",
                    if figures.shipped_limit_failure.is_some() { "memory limit lifted: " } else { "" },
                    ms(figures.wasm.median()),
                    ms(figures.floor.median()),
                    figures.floor_ratio()
                )
            }),
        });
        checks.push(TargetCheck {
            target: "Wasm within 2x native",
            met: all(&|figures| figures.native_ratio() <= 2.0),
            measured: per_size(&|figures| format!("{:.2}x", figures.native_ratio())),
        });
        let medium = self.size(Size::MEDIUM);
        let memory = match (medium, large) {
            (Some(medium), Some(large)) => {
                let growth = |pick: fn(&SizeFigures) -> LinearMemory| {
                    pick(large).total_bytes() as f64 / pick(medium).total_bytes().max(1) as f64
                };
                let (with_billing, devices_only) = (growth(|f| f.memory), growth(|f| f.memory_devices_only));
                let worst = large.memory.total_bytes().max(large.memory_devices_only.total_bytes());
                TargetCheck {
                    target: "peak linear memory not growing with pages (<= 1.5x from 10,000 to 100,000 devices) and < 64 MiB at 100,000 devices",
                    met: Some(
                        with_billing <= 1.5
                            && devices_only <= 1.5
                            && (worst as f64) < 64.0 * MIB
                            && large.shipped_limit_failure.is_none(),
                    ),
                    measured: format!(
                        "{}with billing {} -> {} ({with_billing:.2}x); devices only {} -> {} ({devices_only:.2}x)",
                        if large.shipped_limit_failure.is_some() { "large fails under the shipped 64 MiB limit (oom); limit lifted: " } else { "" },
                        mib(medium.memory.total_bytes()),
                        mib(large.memory.total_bytes()),
                        mib(medium.memory_devices_only.total_bytes()),
                        mib(large.memory_devices_only.total_bytes())
                    ),
                }
            }
            _ => TargetCheck {
                target: "peak linear memory not growing with pages and < 64 MiB at 100,000 devices",
                met: None,
                measured: "needs medium and large".into(),
            },
        };
        checks.push(memory);
        let startup = self.startup.as_ref();
        checks.push(TargetCheck {
            target: ".wasm < 1 MiB",
            met: startup.map(|s| s.wasm_bytes < 1024 * 1024),
            measured: startup.map_or("not measured".into(), |s| kib(s.wasm_bytes)),
        });
        checks.push(TargetCheck {
            target: "instantiate < 5 ms",
            met: startup.map(|s| s.ready() < Duration::from_millis(5)),
            measured: startup.map_or("not measured".into(), |s| {
                format!("{} + first call {} = {}", ms(s.instantiate.median()), ms(s.first_call.median()), ms(s.ready()))
            }),
        });
        let map = self.map.as_ref();
        checks.push(TargetCheck {
            target: "map 1,000 accounts x 10,000 companies < 1 s",
            met: map.map(|m| m.accounts >= MAP_ACCOUNTS && m.companies >= MAP_COMPANIES && m.wasm.median() < Duration::from_secs(1)),
            measured: map.map_or("not measured".into(), |m| format!("{} ({} x {})", ms(m.wasm.median()), m.accounts, m.companies)),
        });
        checks
    }
}

fn ms(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    if millis >= 100.0 {
        format!("{} ms", thousands(millis.round() as u64))
    } else {
        format!("{millis:.2} ms")
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

fn kib(bytes: u64) -> String {
    format!("{:.0} KiB ({} B)", bytes as f64 / 1024.0, thousands(bytes))
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn spread(timing: &Timing) -> String {
    if timing.runs.len() < 2 {
        return ms(timing.median());
    }
    format!("{} ({}–{})", ms(timing.median()), ms(timing.min()), ms(timing.max()))
}

fn memory_cell(memory: &LinearMemory) -> String {
    format!(
        "{} (plugin {} + extism kernel {}; idle in the store: {})",
        mib(memory.total_bytes()),
        mib(memory.plugin_bytes),
        mib(memory.kernel_bytes),
        mib(memory.other_bytes)
    )
}

struct Table {
    title: String,
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(title: String, header: &[&'static str]) -> Table {
        Table { title, header: header.to_vec(), rows: Vec::new() }
    }

    fn row(&mut self, cells: &[&str]) {
        self.rows.push(cells.iter().map(|cell| cell.to_string()).collect());
    }

    fn render(&self, markdown: bool, out: &mut String) {
        if markdown {
            let _ = writeln!(out, "### {}\n", self.title);
            let _ = writeln!(out, "| {} |", self.header.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
            for row in &self.rows {
                let _ = writeln!(out, "| {} |", row.iter().map(|cell| cell.replace('|', "\\|")).collect::<Vec<_>>().join(" | "));
            }
            out.push('\n');
            return;
        }
        let mut widths: Vec<usize> = self.header.iter().map(|cell| cell.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let _ = writeln!(out, "{}", self.title);
        let line = |cells: Vec<&str>, out: &mut String| {
            let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
            let _ = writeln!(out, "  {}", padded.join("  ").trim_end());
        };
        line(self.header.clone(), out);
        line(widths.iter().map(|width| "-".repeat(*width)).collect::<Vec<_>>().iter().map(String::as_str).collect(), out);
        for row in &self.rows {
            line(row.iter().map(String::as_str).collect(), out);
        }
        out.push('\n');
    }
}

impl Report {
    pub fn render(&self, markdown: bool) -> String {
        let mut out = String::new();
        let runs = self.runs;
        for figures in &self.sizes {
            let size = figures.size;
            let mut table = Table::new(
                format!("{}: {} sites, {} devices", size.name, thousands(size.sites as u64), thousands(size.devices as u64)),
                &["Measure", "Value", "Reference", "Ratio"],
            );
            if let Some(failure) = &figures.shipped_limit_failure {
                table.row(&[
                    "Sync under the shipped manifest.json",
                    &format!("FAILED: {failure}"),
                    "every figure below is measured with memory.max_pages lifted",
                    "",
                ]);
            }
            table.row(&[
                "Account",
                &format!(
                    "{} tenants listed (root, {} multi-clients, {} sites); device pages: {}; billing requests: {}",
                    figures.tenants_listed, figures.multi_clients, size.sites, figures.device_pages, figures.billing_requests
                ),
                &format!("{:.0} B per device; {:.1} MiB of bodies per sync", figures.average_device_bytes, figures.body_bytes as f64 / MIB),
                "",
            ]);
            let requests = if figures.requests.iter().all(|&r| r == figures.max_requests()) {
                figures.max_requests().to_string()
            } else {
                format!("{:?}", figures.requests)
            };
            table.row(&[
                "Requests made (Wasm; native made the same)",
                &format!("{requests}{}", if figures.native_requests == figures.max_requests() { String::new() } else { format!(" (native {})", figures.native_requests) }),
                &format!("minimum {} (1 tenants + {} pages of 1,000 + 1 billing)", figures.minimum_requests, size.devices.div_ceil(synthetic::PAGE_SIZE)),
                &format!("{:.3}x", figures.requests_ratio()),
            ]);
            table.row(&[
                &format!("Sync wall time, Wasm in extism (median of {runs})"),
                &spread(&figures.wasm),
                &format!("plain ureq fetch of the same requests {}", spread(&figures.floor)),
                &format!("{:.2}x the fetch", figures.floor_ratio()),
            ]);
            table.row(&[
                "Same sync compiled natively (ureq transport)",
                &spread(&figures.native),
                &format!("Wasm {}", ms(figures.wasm.median())),
                &format!("Wasm {:.2}x native", figures.native_ratio()),
            ]);
            table.row(&[
                "Throughput, Wasm",
                &format!("{} devices/s", thousands((size.devices as f64 / figures.wasm.median().as_secs_f64().max(1e-9)) as u64)),
                &format!("native {} devices/s", thousands((size.devices as f64 / figures.native.median().as_secs_f64().max(1e-9)) as u64)),
                "",
            ]);
            table.row(&["Peak linear memory after the sync", &memory_cell(&figures.memory), "with the billing period, as timed", ""]);
            table.row(&["Peak linear memory, devices only", &memory_cell(&figures.memory_devices_only), "same sync without billing_period", ""]);
            if let (true, Some(medium)) = (size == Size::LARGE, self.size(Size::MEDIUM)) {
                let growth = |pick: fn(&SizeFigures) -> LinearMemory| {
                    let (from, to) = (pick(medium).total_bytes(), pick(figures).total_bytes());
                    format!("{:.2}x ({} -> {})", to as f64 / from.max(1) as f64, mib(from), mib(to))
                };
                table.row(&[
                    "Peak linear memory, 10,000 -> 100,000 devices",
                    &format!("with billing {}", growth(|f| f.memory)),
                    &format!("devices only {}", growth(|f| f.memory_devices_only)),
                    "",
                ]);
            }
            table.render(markdown, &mut out);
        }
        if let Some(startup) = &self.startup {
            let mut table = Table::new("Start-up".into(), &["Measure", "Value", "Reference", "Ratio"]);
            table.row(&[".wasm size (release)", &kib(startup.wasm_bytes), "target < 1 MiB", ""]);
            table.row(&[
                &format!("Compile: Plugin::new from bytes, cache disabled (median of {})", startup.compile.runs.len()),
                &spread(&startup.compile),
                "",
                "",
            ]);
            table.row(&[
                &format!("Instantiate: Plugin::new_from_compiled (median of {})", startup.instantiate.runs.len()),
                &ms(startup.instantiate.median()),
                "",
                "",
            ]);
            table.row(&["First call on the instance (describe; instantiates the module)", &ms(startup.first_call.median()), "", ""]);
            table.row(&["Ready: instantiate + first call", &ms(startup.ready()), "target < 5 ms", ""]);
            table.row(&["Warm describe call, for comparison", &ms(startup.warm_call.median()), "", ""]);
            table.render(markdown, &mut out);
        }
        if let Some(map) = &self.map {
            let mut table = Table::new(
                format!("map: {} accounts x {} PSA companies", thousands(map.accounts as u64), thousands(map.companies as u64)),
                &["Measure", "Value", "Reference", "Ratio"],
            );
            table.row(&[
                &format!("map wall time, Wasm (median of {})", map.wasm.runs.len()),
                &spread(&map.wasm),
                &format!("native {}", spread(&map.native)),
                &format!("Wasm {:.2}x native", ratio(&map.wasm, &map.native)),
            ]);
            table.row(&[
                "Input and outcome",
                &format!("{:.2} MiB of input", map.input_bytes as f64 / MIB),
                &format!("{} mapped exactly, {} unmapped with the suffixed name suggested, checked", map.mapped, map.suggested),
                "",
            ]);
            table.row(&[
                "Throughput, Wasm",
                &format!("{} account-company pairs/s", thousands((map.accounts as f64 * map.companies as f64 / map.wasm.median().as_secs_f64().max(1e-9)) as u64)),
                "",
                "",
            ]);
            table.render(markdown, &mut out);
        }
        let mut table = Table::new("Targets".into(), &["Target", "Measured", "Met"]);
        for check in self.targets() {
            let met = match check.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "not measured",
            };
            table.row(&[check.target, &check.measured, met]);
        }
        table.render(markdown, &mut out);
        out
    }
}

/// How a bench invocation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchError {
    Usage(String),
    Failed(String),
}

/// One line about the machine, for the report.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, name)| name.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown memory".into(), |kb| format!("{:.1} GiB RAM", kb / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores ({model}), {memory}, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// `auvik-harness bench ...`.
pub fn run(args: &[String]) -> Result<(), BenchError> {
    let usage = |text: String| BenchError::Usage(format!("{text}\n{USAGE}"));
    let mut sizes = vec![Size::SMALL, Size::MEDIUM, Size::LARGE];
    let mut runs = DEFAULT_RUNS;
    let mut markdown = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--markdown" => markdown = true,
            "--runs" => {
                let value = iter.next().ok_or_else(|| usage("--runs needs a number".into()))?;
                runs = value.parse().ok().filter(|&n| n >= 1).ok_or_else(|| usage(format!("--runs takes a number from 1, not {value}")))?;
            }
            "--sizes" => {
                let value = iter.next().ok_or_else(|| usage("--sizes needs a list".into()))?;
                sizes = value
                    .split(',')
                    .map(|name| Size::by_name(name.trim()).ok_or_else(|| usage(format!("unknown size {name:?}"))))
                    .collect::<Result<_, _>>()?;
            }
            "help" | "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(usage(format!("unexpected argument {other:?}"))),
        }
    }
    if cfg!(debug_assertions) {
        progress("this is a debug build of the harness: native and host-side figures are not representative; use cargo run --release");
    }
    let mut report = Report { runs, sizes: Vec::new(), startup: None, map: None };
    for size in &sizes {
        report.sizes.push(run_size(size, runs).map_err(BenchError::Failed)?);
    }
    report.startup = Some(run_startup(runs).map_err(BenchError::Failed)?);
    report.map = Some(run_map(MAP_ACCOUNTS, MAP_COMPANIES, runs).map_err(BenchError::Failed)?);
    let header = format!(
        "auvik-harness bench: {}; {} runs per figure (median); plugin {}; harness {} build",
        machine(),
        runs,
        crate::build::built_wasm_path().display(),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!("{header}\n");
    print!("{}", report.render(markdown));
    Ok(())
}
