#!/usr/bin/env python3
"""The auvik-sync plugin in the Python Extism host: connect -> sync -> map, printed as one JSON object.

Run from the repository root; the manifest is ./manifest.json unless given as the one argument.
The Auvik base URL and credentials come from the environment, never from the command line:

    AUVIK_API_URL=http://127.0.0.1:PORT AUVIK_USERNAME=... AUVIK_API_KEY=... \
        python3 host-harness/hosts/python/run_demo.py [MANIFEST]

On a plugin error the plugin's own error object {"code", "message"} goes to stderr and the exit
status is 1; any other failure (the host refused the manifest, the call trapped) exits with 2.
AUVIK_LOG_LEVEL=info (or debug, trace) shows the plugin's progress lines on stderr.
"""

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import extism

PSA = Path("tests/psa/main.json")
BILLING_PERIOD = {"from": "2026-11-01", "thru": "2026-11-30"}


class PluginError(Exception):
    """The plugin's own error object, as the host passed it on."""

    def __init__(self, error):
        super().__init__(error.get("message", ""))
        self.error = error


def load_manifest(path, api_url):
    manifest = json.loads(path.read_text())
    # The host reads a relative `wasm` path from its working directory, not the manifest's folder.
    for wasm in manifest["wasm"]:
        if "path" in wasm:
            wasm["path"] = str((path.parent / wasm["path"]).resolve())
    # The operator's override: the plugin talks to AUVIK_API_URL (e.g. a replay server) besides Auvik.
    manifest.setdefault("config", {})["allow_api_url"] = api_url
    manifest.setdefault("allowed_hosts", []).append(urlsplit(api_url).hostname)
    return manifest


def call(plugin, entry, payload):
    try:
        output = plugin.call(entry, json.dumps(payload))
    except extism.Error as failure:
        try:
            error = json.loads(str(failure))
        except ValueError:
            raise failure from None  # not the plugin's error object: a trap or a host failure
        if not isinstance(error, dict) or "code" not in error:
            raise failure from None
        raise PluginError(error) from None
    return json.loads(output)


def required(name):
    value = os.environ.get(name)
    if not value:
        raise LookupError(f"set {name}")
    return value


def main(manifest_path):
    if os.environ.get("AUVIK_LOG_LEVEL"):
        extism.set_log_file("stderr", os.environ["AUVIK_LOG_LEVEL"])  # process-wide, before any plugin
    api_url = required("AUVIK_API_URL")
    connection = {"api_url": api_url, "username": required("AUVIK_USERNAME"), "api_key": required("AUVIK_API_KEY")}
    psa = json.loads(PSA.read_text())

    with extism.Plugin(load_manifest(manifest_path, api_url), wasi=False) as plugin:
        connected = call(plugin, "connect", {"connection": connection})
        synced = call(plugin, "sync", {"connection": connection, "billing_period": BILLING_PERIOD})
        mapped = call(plugin, "map", {
            "accounts": connected["accounts"],
            "services": connected["services"],
            "psa_companies": psa["psa_companies"],
            "psa_products": psa["psa_products"],
        })
    print(json.dumps({"connect": connected, "sync": synced, "map": mapped}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1] if len(sys.argv) > 1 else "manifest.json"))
    except PluginError as failure:
        print(json.dumps(failure.error, ensure_ascii=False), file=sys.stderr)
        sys.exit(1)
    except (extism.Error, LookupError, OSError, ValueError) as failure:
        print(f"run_demo.py: {failure}", file=sys.stderr)
        sys.exit(2)
