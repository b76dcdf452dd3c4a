//! `describe` and the JSON Schemas: generated from the Rust types, checked in under
//! `schemas/`, and returned from the checked-in files so the Wasm carries no generator.

use crate::connect::{ConnectInput, ConnectOutput};
use crate::error::PluginError;
use crate::mapping::{MapInput, MapOutput};
use crate::sync::{SyncInput, SyncOutput};
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct DescribeOutput {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// Every exported function with the JSON Schemas of its input and output.
    pub entry_points: Vec<EntryPoint>,
    /// The JSON Schema of the error object a failed call returns as its error message.
    pub error_schema: Value,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct EntryPoint {
    /// The exported function's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its input; null for a function that takes none.
    pub input_schema: Value,
    /// JSON Schema of its output.
    pub output_schema: Value,
}

/// `(file name under schemas/, schema)` for every input and output, generated from the types.
pub fn generate() -> Vec<(&'static str, Schema)> {
    vec![
        ("connect.input.json", schemars::schema_for!(ConnectInput)),
        ("connect.output.json", schemars::schema_for!(ConnectOutput)),
        ("sync.input.json", schemars::schema_for!(SyncInput)),
        ("sync.output.json", schemars::schema_for!(SyncOutput)),
        ("map.input.json", schemars::schema_for!(MapInput)),
        ("map.output.json", schemars::schema_for!(MapOutput)),
        ("describe.output.json", schemars::schema_for!(DescribeOutput)),
        ("error.json", schemars::schema_for!(PluginError)),
    ]
}

macro_rules! checked_in {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/", $file))
    };
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("checked-in schemas are JSON (a test keeps them equal to the generated ones)")
}

pub fn describe() -> DescribeOutput {
    let entry = |name: &str, description: &str, input: Option<&str>, output: &str| EntryPoint {
        name: name.into(),
        description: description.into(),
        input_schema: input.map_or(Value::Null, parse),
        output_schema: parse(output),
    };
    DescribeOutput {
        name: env!("CARGO_PKG_NAME").into(),
        version: env!("CARGO_PKG_VERSION").into(),
        entry_points: vec![
            entry(
                "connect",
                "Checks the Auvik credentials and lists the accounts (tenants) and the nine services.",
                Some(checked_in!("connect.input.json")),
                checked_in!("connect.output.json"),
            ),
            entry(
                "sync",
                "Reads devices from Auvik and returns, per account, the quantity of each service.",
                Some(checked_in!("sync.input.json")),
                checked_in!("sync.output.json"),
            ),
            entry(
                "map",
                "Matches accounts and services onto PSA companies and products (no HTTP).",
                Some(checked_in!("map.input.json")),
                checked_in!("map.output.json"),
            ),
            entry("describe", "This description.", None, checked_in!("describe.output.json")),
        ],
        error_schema: parse(checked_in!("error.json")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn schemas_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas")
    }

    /// `UPDATE_SCHEMAS=1 cargo test -p auvik-sync schemas` rewrites them after a type change.
    #[test]
    fn checked_in_schemas_equal_the_generated_ones() {
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
        let mut stale = Vec::new();
        for (file, schema) in generate() {
            let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            let path = schemas_dir().join(file);
            if update {
                std::fs::write(&path, &generated).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
                stale.push(file);
            }
        }
        assert!(stale.is_empty(), "schemas/ differ from the types for {stale:?}; run UPDATE_SCHEMAS=1 cargo test -p auvik-sync schemas");
    }

    /// Every property is explained where it stands or where its `$ref` points.
    #[test]
    fn every_field_of_every_schema_says_what_it_is() {
        fn explained(node: &Value, defs: &Value) -> bool {
            if node.get("description").is_some() || node.get("title").is_some() {
                return true;
            }
            let referenced = |node: &Value| {
                node.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()).map(|name| &defs[name])
            };
            if let Some(target) = referenced(node) {
                return explained(target, defs);
            }
            node.get("anyOf").and_then(Value::as_array).is_some_and(|alternatives| {
                alternatives.iter().any(|alternative| referenced(alternative).is_some_and(|target| explained(target, defs)))
            })
        }
        fn walk(node: &Value, defs: &Value, path: &str, missing: &mut Vec<String>) {
            if let Some(properties) = node.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if !explained(property, defs) {
                        missing.push(format!("{path}.{name}"));
                    }
                    walk(property, defs, &format!("{path}.{name}"), missing);
                }
            }
            for key in ["items", "anyOf", "oneOf", "allOf"] {
                match node.get(key) {
                    Some(Value::Array(items)) => items.iter().for_each(|item| walk(item, defs, path, missing)),
                    Some(item) => walk(item, defs, path, missing),
                    None => {}
                }
            }
        }
        let mut missing = Vec::new();
        for (file, schema) in generate() {
            let schema = schema.to_value();
            assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{file} declares its draft");
            let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
            walk(&schema, &defs, file, &mut missing);
            for (name, definition) in defs.as_object().into_iter().flatten() {
                walk(definition, &defs, &format!("{file}#{name}"), &mut missing);
            }
        }
        assert!(missing.is_empty(), "fields without a description: {missing:?}");
    }

    #[test]
    fn describe_lists_every_entry_point_with_its_schemas() {
        let description = describe();
        let names: Vec<&str> = description.entry_points.iter().map(|entry| entry.name.as_str()).collect();
        assert_eq!(names, ["connect", "sync", "map", "describe"]);
        for entry in &description.entry_points {
            assert!(entry.output_schema.get("$schema").is_some(), "{}", entry.name);
        }
        assert_eq!(description.error_schema["properties"]["code"]["$ref"], "#/$defs/ErrorCode");
    }
}
