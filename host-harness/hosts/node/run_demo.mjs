#!/usr/bin/env node
// The auvik-sync plugin in the Node Extism host (@extism/extism 2): connect -> sync -> map,
// printed as one JSON object. Run from the repository root, after `npm ci` in this folder; the
// manifest is ./manifest.json unless given as the one argument:
//
//   AUVIK_API_URL=http://127.0.0.1:PORT AUVIK_USERNAME=... AUVIK_API_KEY=... \
//     node --disable-warning=ExperimentalWarning host-harness/hosts/node/run_demo.mjs [MANIFEST]
//
// The Auvik base URL and credentials come from the environment, never from the command line. On a
// plugin error the plugin's own error object {"code", "message"} goes to stderr and the exit status
// is 1; any other failure (the host refused the manifest, the call trapped) exits with 2.
// AUVIK_LOG_LEVEL=info (or debug, trace) shows the plugin's progress lines on stderr.

import { Console } from 'node:console';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import createPlugin from '@extism/extism';

const MANIFEST = path.resolve(process.argv[2] ?? 'manifest.json');
const PSA = path.resolve('tests/psa/main.json');
const BILLING_PERIOD = { from: '2026-11-01', thru: '2026-11-30' };

// How @extism/extism reports an error the plugin returned (the text after it is the plugin's own).
const PLUGIN_ERROR_PREFIX = 'Plugin-originated error: ';

class PluginError extends Error {
  constructor(error) {
    super(error.message);
    this.error = error;
  }
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

async function loadPlugin(apiUrl) {
  const manifest = JSON.parse(await readFile(MANIFEST, 'utf8'));
  // A relative `wasm` path is read from the working directory: take it from the manifest's folder.
  const wasm = manifest.wasm.map((item) =>
    item.path ? { ...item, path: path.resolve(path.dirname(MANIFEST), item.path) } : item);
  // @extism/extism never reads a timeout from a manifest, nor snake_case fields from a manifest
  // object, so manifest.json's hosts and limits are passed on as options.
  return createPlugin({ wasm }, {
    runInWorker: true, // the plugin's HTTP requests and the call timeout need a worker thread
    // The operator's override: the plugin talks to AUVIK_API_URL (e.g. a replay server) besides Auvik.
    config: { ...manifest.config, allow_api_url: apiUrl },
    allowedHosts: [...(manifest.allowed_hosts ?? []), new URL(apiUrl).hostname],
    allowHttpResponseHeaders: true, // lets the plugin read Retry-After when Auvik throttles
    // The default logger is `console`, whose info() writes to stdout, among the JSON.
    logger: new Console({ stdout: process.stderr, stderr: process.stderr }),
    logLevel: process.env.AUVIK_LOG_LEVEL || 'silent',
    timeoutMs: manifest.timeout_ms,
    memory: {
      maxPages: manifest.memory?.max_pages,
      maxHttpResponseBytes: manifest.memory?.max_http_response_bytes,
      maxVarBytes: manifest.memory?.max_var_bytes,
    },
  });
}

async function call(plugin, entry, payload) {
  let output;
  try {
    output = await plugin.call(entry, JSON.stringify(payload));
  } catch (failure) {
    const text = String(failure?.message ?? failure);
    if (!text.startsWith(PLUGIN_ERROR_PREFIX)) throw failure; // a trap or a host failure
    let error;
    try {
      error = JSON.parse(text.slice(PLUGIN_ERROR_PREFIX.length));
    } catch {
      throw failure;
    }
    throw new PluginError(error);
  }
  return output.json();
}

async function main() {
  const apiUrl = required('AUVIK_API_URL');
  const connection = { api_url: apiUrl, username: required('AUVIK_USERNAME'), api_key: required('AUVIK_API_KEY') };
  const psa = JSON.parse(await readFile(PSA, 'utf8'));

  const plugin = await loadPlugin(apiUrl);
  try {
    const connected = await call(plugin, 'connect', { connection });
    const synced = await call(plugin, 'sync', { connection, billing_period: BILLING_PERIOD });
    const mapped = await call(plugin, 'map', {
      accounts: connected.accounts,
      services: connected.services,
      psa_companies: psa.psa_companies,
      psa_products: psa.psa_products,
    });
    const text = JSON.stringify({ connect: connected, sync: synced, map: mapped }, null, 2) + '\n';
    await new Promise((written) => process.stdout.write(text, written));
  } finally {
    await plugin.close();
  }
}

let status = 0;
try {
  await main();
} catch (failure) {
  if (failure instanceof PluginError) {
    process.stderr.write(JSON.stringify(failure.error) + '\n');
    status = 1;
  } else {
    process.stderr.write(`run_demo.mjs: ${failure?.stack ?? failure}\n`);
    status = 2;
  }
}
// Exit now: @extism/extism 2.0.0-rc13 leaves each call's `timeoutMs` timer running after the call,
// which would keep node alive for timeout_ms (5 minutes) after the last call.
process.exit(status);
