//! `sync`: reads every selected account's devices from Auvik and returns, per account, the
//! quantity of each service, or says why an account could not be read.

mod devices;
mod engine;
mod io;

pub use io::*;

use crate::auvik::Transport;
use crate::connect::{fetch_tenant_tree, into_call_error};
use crate::connection::validate_connection;
use crate::error::Result;
use crate::auvik::AuvikClient;
use crate::progress;

pub fn run(input: SyncInput, allow_api_url: Option<&str>, transport: &mut dyn Transport) -> Result<SyncOutput> {
    let options = SyncOptions::from_input(&input)?;
    let credentials = validate_connection(&input.connection, allow_api_url)?;
    let mut client = AuvikClient::new(transport, &credentials, None);
    let tree = fetch_tenant_tree(&mut client).map_err(into_call_error)?;
    let selection = engine::Selection::new(&tree, &options)?;
    progress::info(format!("sync: {} tenants, {} accounts selected", tree.tenants().len(), selection.units.len()));
    let mut job = engine::SyncJob::new(selection, &options);
    job.run(&mut client)?;
    Ok(job.finish(&tree, &options, client.requests_made()))
}
