//! A replay server and the plugin wired together: what tests, `demo` and `call` drive.

use crate::host::{CallError, HostOptions, PluginHost};
use crate::replay::ReplayServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub fn recordings_dir(scenario: &str) -> PathBuf {
    crate::build::workspace_root().join("tests").join("recordings").join(scenario)
}

pub struct Session {
    pub server: ReplayServer,
    pub host: PluginHost,
}

impl Session {
    /// Serves `recordings` on loopback and loads the plugin with that server allowed.
    pub fn start(recordings: &Path) -> Result<Session, String> {
        Session::start_with(recordings, HostOptions::default())
    }

    /// As [`Session::start`], with host options; `allow_api_url` is set to the server.
    pub fn start_with(recordings: &Path, options: HostOptions) -> Result<Session, String> {
        let server = ReplayServer::start(recordings)?;
        let host = PluginHost::load(&HostOptions { allow_api_urls: vec![server.base_url()], ..options })?;
        Ok(Session { server, host })
    }

    /// The `connection` object that reaches the replay server with the scenario's credentials.
    pub fn connection(&self) -> Value {
        let scenario = self.server.scenario();
        json!({"api_url": self.server.base_url(), "username": scenario.username, "api_key": scenario.api_key})
    }

    /// Calls `entry`, and fails if the plugin asked for anything no recording answers.
    pub fn call(&mut self, entry: &str, input: &Value) -> Result<Value, CallError> {
        let result = self.host.call(entry, input);
        self.check_answered(result)
    }

    pub fn call_raw(&mut self, entry: &str, input: &[u8]) -> Result<Value, CallError> {
        let result = self.host.call_raw(entry, input);
        self.check_answered(result)
    }

    fn check_answered(&mut self, result: Result<Value, CallError>) -> Result<Value, CallError> {
        let unanswered = self.server.take_unmatched();
        if unanswered.is_empty() {
            result
        } else {
            Err(CallError::Unanswered(unanswered))
        }
    }
}
