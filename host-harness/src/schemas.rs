//! Every input and output checked against the published schemas with a real validator.

use jsonschema::Validator;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

pub struct Schemas {
    validators: HashMap<String, Validator>,
}

impl Schemas {
    /// Loads every `*.json` under `dir` (e.g. `sync.input.json` as `sync.input`).
    pub fn load(dir: &Path) -> Result<Schemas, String> {
        let mut validators = HashMap::new();
        let entries = std::fs::read_dir(dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|error| error.to_string())?.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()).and_then(|name| name.strip_suffix(".json")) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            let schema: Value = serde_json::from_str(&text).map_err(|error| format!("{} is not JSON: {error}", path.display()))?;
            let validator = jsonschema::validator_for(&schema).map_err(|error| format!("{} is not a valid schema: {error}", path.display()))?;
            validators.insert(name.to_string(), validator);
        }
        Ok(Schemas { validators })
    }

    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.validators.keys().map(String::as_str).collect();
        names.sort();
        names
    }

    /// `Ok` when `value` fits schema `name` (e.g. `sync.output`); else every violation with its path.
    pub fn check(&self, name: &str, value: &Value) -> Result<(), String> {
        let validator = self.validators.get(name).ok_or_else(|| format!("no schema named {name}"))?;
        let problems: Vec<String> =
            validator.iter_errors(value).map(|error| format!("at {}: {}", error.instance_path(), error)).take(20).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("does not fit schemas/{name}.json:\n  {}", problems.join("\n  ")))
        }
    }
}
