//! Builds the plugin's `.wasm` on demand, so that `cargo test` and `cargo run` are all a
//! reader needs: the wasm32 target is added when missing, and cargo skips the build when
//! nothing changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Set to a `.wasm` file to use it instead of building (for a host trying a released plugin).
pub const WASM_OVERRIDE_ENV: &str = "AUVIK_PLUGIN_WASM";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host-harness sits in the workspace").to_path_buf()
}

/// A target directory of its own, so this nested cargo never waits on the outer one's lock.
pub fn wasm_target_dir() -> PathBuf {
    workspace_root().join("target").join("wasm")
}

pub fn built_wasm_path() -> PathBuf {
    wasm_target_dir().join(WASM_TARGET).join("release").join("auvik_sync.wasm")
}

/// The plugin's `.wasm`, built (once per process) if needed.
pub fn ensure_plugin_built() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(build).clone()
}

fn build() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(WASM_OVERRIDE_ENV) {
        return Ok(PathBuf::from(path));
    }
    ensure_target_installed()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--release", "--package", "auvik-sync", "--target", WASM_TARGET, "--target-dir"])
        .arg(wasm_target_dir());
    // What an outer cargo sets for its own build must not leak into this one.
    for variable in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_MAKEFLAGS", "RUSTC_WRAPPER"] {
        command.env_remove(variable);
    }
    let status = command.status().map_err(|error| format!("could not run cargo to build the plugin: {error}"))?;
    if !status.success() {
        return Err(format!("building the plugin for {WASM_TARGET} failed ({status}); see the cargo output above"));
    }
    Ok(built_wasm_path())
}

fn ensure_target_installed() -> Result<(), String> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let Ok(installed) = installed else {
        // No rustup: the toolchain is managed some other way and must carry the target itself.
        return Ok(());
    };
    if String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == WASM_TARGET) {
        return Ok(());
    }
    eprintln!("auvik-harness: adding the {WASM_TARGET} target with rustup (once)");
    let status = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status()
        .map_err(|error| format!("could not run rustup: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`rustup target add {WASM_TARGET}` failed ({status})"))
    }
}
