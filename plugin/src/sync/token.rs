//! The resume token: base64url of versioned JSON holding the sync's progress, bound to the
//! connection and options it was issued for. It carries tenant ids and counts, never
//! credentials and never device lists.

use super::engine::SyncState;
use crate::error::{PluginError, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub const TOKEN_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    binding: String,
    state: SyncState,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// What a token is bound to: everything in the input that changes the result, except the key
/// (which may be rotated mid-sync) and the budget.
pub fn binding(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

pub fn encode(state: &SyncState, binding: &str) -> String {
    let envelope = Envelope { v: TOKEN_VERSION, binding: binding.to_string(), state: state.clone() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).expect("the sync state serializes"))
}

pub fn decode(token: &str, binding: &str) -> Result<SyncState> {
    let not_ours = || PluginError::invalid_input("resume_token", "is not a resume token issued by this plugin; start the sync again without one");
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| not_ours())?;
    let version: VersionOnly = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    if version.v != TOKEN_VERSION {
        return Err(PluginError::invalid_input(
            "resume_token",
            format!(
                "has format version {}, but {} {} reads version {TOKEN_VERSION}; start the sync again without a token",
                version.v,
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    if envelope.binding != binding {
        return Err(PluginError::invalid_input(
            "resume_token",
            "was issued for another connection or other options (account_ids, rollup, billing_period, include_devices); resume with the same input, or start again without a token",
        ));
    }
    Ok(envelope.state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_separates_parts() {
        assert_ne!(binding(&["ab", "c"]), binding(&["a", "bc"]));
        assert_eq!(binding(&["a", "b"]), binding(&["a", "b"]));
    }

    #[test]
    fn tokens_round_trip_and_refuse_other_bindings_versions_and_junk() {
        let state = SyncState::for_tests();
        let token = encode(&state, "b1");
        assert!(decode(&token, "b1").is_ok());
        let error = decode(&token, "b2").unwrap_err();
        assert!(error.message.starts_with("resume_token: was issued for another connection"), "{}", error.message);
        for junk in ["", "!!!", "e30", &URL_SAFE_NO_PAD.encode("[1,2]")] {
            assert!(decode(junk, "b1").unwrap_err().message.starts_with("resume_token: is not a resume token"), "{junk}");
        }
        let future = URL_SAFE_NO_PAD.encode(r#"{"v": 2, "binding": "b1", "state": {}}"#);
        assert!(decode(&future, "b1").unwrap_err().message.contains("format version 2"));
    }
}
