//! The bench's own code path on the `tiny` account, so `auvik-harness bench` cannot rot: the
//! generated account is served, synced in Wasm and natively, fetched plainly, probed for memory,
//! and every result checked against the generator's counts (run_size fails otherwise). No
//! timing is asserted: this machine's speed is not what the test is about.

use auvik_harness::bench::{run_map, run_size, run_startup, Report, Size};

#[test]
fn the_tiny_bench_syncs_right_with_the_fewest_requests() {
    let figures = run_size(&Size::TINY, 1).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(figures.minimum_requests, 3, "1 tenants + 1 page + 1 billing");
    assert!(figures.max_requests() as f64 <= 1.1 * figures.minimum_requests as f64, "{:?}", figures.requests);
    assert_eq!(figures.native_requests, figures.max_requests());
    assert_eq!((figures.wasm.runs.len(), figures.floor.runs.len(), figures.native.runs.len()), (1, 1, 1));
    assert_eq!(figures.shipped_limit_failure, None);
    assert!(figures.memory.plugin_bytes > 0 && figures.memory.kernel_bytes > 0, "{:?}", figures.memory);
    assert!(figures.memory_devices_only.plugin_bytes > 0, "{:?}", figures.memory_devices_only);

    let startup = run_startup(1).unwrap_or_else(|error| panic!("{error}"));
    assert!(startup.wasm_bytes > 0 && !startup.instantiate.runs.is_empty());
    let map = run_map(20, 200, 1).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((map.mapped, map.suggested), (12, 4));

    let report = Report { runs: 1, sizes: vec![figures], startup: Some(startup), map: Some(map) };
    let markdown = report.render(true);
    assert!(markdown.contains("### tiny: 3 sites, 120 devices") && markdown.contains("| Target | Measured | Met |"), "{markdown}");
    let requests = report.targets().into_iter().find(|check| check.target.starts_with("requests")).unwrap();
    assert_eq!(requests.met, None, "tiny alone is not one of the sizes the targets speak of");
}
