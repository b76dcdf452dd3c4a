//! `sync`: reads every selected account's devices from Auvik and returns, per account, the
//! quantity of each service, or says why an account could not be read. A sync may span calls:
//! each call does what its budget allows and hands back a resume token.

mod devices;
mod engine;
mod io;
mod token;

pub use io::*;

use crate::auvik::client::FetchError;
use crate::auvik::{AuvikClient, Transport};
use crate::connect::fetch_tenant_tree;
use crate::connection::validate_connection;
use crate::error::{PluginError, Result};
use crate::progress;
use engine::{Pause, Selection, SyncCall, SyncState};

/// Used when Auvik throttles without saying how long to wait (or the host hides the header).
pub const DEFAULT_RETRY_AFTER_SECONDS: u64 = 60;

pub fn run(input: SyncInput, allow_api_url: Option<&str>, transport: &mut dyn Transport) -> Result<SyncOutput> {
    let options = SyncOptions::from_input(&input)?;
    let credentials = validate_connection(&input.connection, allow_api_url)?;
    let binding = token::binding(&[credentials.base_url.as_str(), &credentials.username, &options.binding_text()]);
    let mut state = match input.resume_token.as_deref() {
        Some(token) => token::decode(token, &binding)?,
        None => SyncState::not_started(),
    };
    let mut client = AuvikClient::new(transport, &credentials, options.max_requests);

    let (tree, selection) = if state.is_started() {
        let tree = state.tree()?;
        let selection = Selection::new(&tree, &options)?;
        if !state.covers(&selection) {
            return Err(PluginError::invalid_input("resume_token", "does not cover the accounts these options select; start again without it"));
        }
        (tree, selection)
    } else {
        let tree = match fetch_tenant_tree(&mut client) {
            Ok(tree) => tree,
            Err(FetchError::Failed(error)) => return Err(error),
            Err(FetchError::BudgetSpent) => unreachable!("a budget is at least one request"),
            Err(FetchError::RateLimited { message, retry_after_seconds }) => {
                let mut totals = state.totals().clone();
                totals.requests += client.requests_made();
                let state = state.with_totals(totals);
                let stats = SyncStats { requests: client.requests_made(), ..SyncStats::default() };
                return Ok(paused_output(Vec::new(), stats, &state, &binding, Pause::Throttled { message, retry_after_seconds }));
            }
        };
        let selection = Selection::new(&tree, &options)?;
        state = SyncState::start(&tree, &selection).with_totals(state.totals().clone());
        (tree, selection)
    };
    progress::info(format!("sync: {} tenants, {} accounts selected", tree.tenants().len(), selection.units.len()));

    let mut call = SyncCall::new(&mut state, &selection, &options);
    let pause = call.run(&mut client)?;
    let stats = call.take_stats(client.requests_made());
    let accounts = call.results(&tree);
    Ok(match pause {
        None => SyncOutput {
            complete: true,
            accounts,
            resume_token: None,
            retry_after_seconds: None,
            paused: None,
            stats,
            totals: state.totals().clone(),
        },
        Some(pause) => paused_output(accounts, stats, &state, &binding, pause),
    })
}

fn paused_output(accounts: Vec<AccountResult>, stats: SyncStats, state: &SyncState, binding: &str, pause: Pause) -> SyncOutput {
    let (paused, retry_after_seconds) = match pause {
        Pause::BudgetSpent => ("the max_requests budget of this call is spent; call again with the resume token".to_string(), None),
        Pause::Throttled { message, retry_after_seconds } => {
            let wait = retry_after_seconds.unwrap_or(DEFAULT_RETRY_AFTER_SECONDS);
            (format!("{message}; call again with the resume token after {wait} s"), Some(wait))
        }
    };
    progress::info(format!("sync: paused: {paused}"));
    SyncOutput {
        complete: false,
        accounts,
        resume_token: Some(token::encode(state, binding)),
        retry_after_seconds,
        paused: Some(paused),
        stats,
        totals: state.totals().clone(),
    }
}
