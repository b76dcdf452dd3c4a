//! `connect`: checks the credentials with exactly one verify call, then lists the accounts
//! (tenants) and the services the platform maps next.

use crate::auvik::client::FetchError;
use crate::auvik::model::TenantsDocument;
use crate::auvik::url::with_query;
use crate::auvik::{AuvikClient, Transport};
use crate::connection::{validate_connection, ConnectionInput};
use crate::counting::SERVICES;
use crate::error::{ErrorCode, PluginError, Result};
use crate::tenants::{TenantTree, TenantType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectInput {
    /// Where and as whom to reach Auvik.
    pub connection: ConnectionInput,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ConnectOutput {
    /// Always `pending`: the platform's next step is mapping accounts and services.
    pub status: ConnectStatus,
    /// Every Auvik tenant the platform can bill: clients and corporate IT at any depth, and
    /// multi-clients below the MSP's root. In Auvik's order.
    pub accounts: Vec<Account>,
    /// The nine services a sync reports, in this order.
    pub services: Vec<Service>,
    /// Things the platform should show a person: tenants of an unknown type, display names that could not be read.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectStatus {
    Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// The Auvik tenant id (a numeric string; treat as opaque).
    #[schemars(example = &"400000000000000101")]
    pub id: String,
    /// The tenant's domain prefix, its short name in Auvik.
    #[schemars(example = &"acmedental")]
    pub name: String,
    /// The tenant's display name from `/v1/tenants/detail`, or null when Auvik has none.
    pub display_name: Option<String>,
    /// `client` (a site), `corporateIt`, or `multiClient` (a customer grouping several sites).
    pub tenant_type: TenantType,
    /// The parent tenant's id, or null for a tenant at the top of what this user can see.
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Service {
    /// Stable id used in sync counts and mappings.
    #[schemars(example = &"firewalls")]
    pub id: String,
    /// Name for people.
    #[schemars(example = &"Firewalls")]
    pub name: String,
}

pub fn services() -> Vec<Service> {
    SERVICES.iter().map(|(id, name)| Service { id: id.to_string(), name: name.to_string() }).collect()
}

pub fn run(input: ConnectInput, allow_api_url: Option<&str>, transport: &mut dyn Transport) -> Result<ConnectOutput> {
    let credentials = validate_connection(&input.connection, allow_api_url)?;
    let mut client = AuvikClient::new(transport, &credentials, None);
    client.get_status_ok("/v1/authentication/verify").map_err(into_call_error)?;
    let tree = fetch_tenant_tree(&mut client).map_err(into_call_error)?;

    let mut warnings: Vec<String> = tree
        .unknown_types()
        .map(|tenant| {
            format!(
                "tenant {} ({}) has type {:?}, which this plugin does not know; it is not listed or counted",
                tenant.id,
                tenant.domain_prefix,
                tenant.unknown_type.as_deref().unwrap_or("")
            )
        })
        .collect();
    let display_names = fetch_display_names(&mut client, &tree, &mut warnings);

    let accounts = tree
        .accounts()
        .map(|tenant| Account {
            id: tenant.id.clone(),
            name: tenant.domain_prefix.clone(),
            display_name: display_names.get(&tenant.id).cloned(),
            tenant_type: tenant.tenant_type.clone().expect("accounts have a known type"),
            parent_id: tenant.parent_id.clone(),
        })
        .collect();
    Ok(ConnectOutput { status: ConnectStatus::Pending, accounts, services: services(), warnings })
}

pub fn fetch_tenant_tree(client: &mut AuvikClient) -> Result<TenantTree, FetchError> {
    let document: TenantsDocument = client.get_json("/v1/tenants")?;
    TenantTree::from_document(document).map_err(|problem| {
        FetchError::Failed(PluginError::new(ErrorCode::MalformedResponse, format!("Auvik's tenant list cannot be used: {problem}")))
    })
}

/// Display names are a convenience for mapping: when they cannot be read the accounts are still
/// listed, with a warning, rather than failing the whole connect.
fn fetch_display_names(client: &mut AuvikClient, tree: &TenantTree, warnings: &mut Vec<String>) -> HashMap<String, String> {
    let mut names = HashMap::new();
    let top_prefixes: Vec<&str> = tree
        .tenants()
        .iter()
        .filter(|tenant| tenant.parent_id.as_deref().is_none_or(|parent| tree.get(parent).is_none()))
        .map(|tenant| tenant.domain_prefix.as_str())
        .collect();
    for prefix in top_prefixes {
        let path = with_query("/v1/tenants/detail", &[("tenantDomainPrefix", prefix)]);
        match client.get_json::<TenantsDocument>(&path) {
            Ok(document) => names.extend(
                document
                    .data
                    .into_iter()
                    .filter_map(|tenant| Some((tenant.id, tenant.attributes.display_name.filter(|name| !name.trim().is_empty())?))),
            ),
            Err(error) => warnings.push(format!(
                "display names under {prefix} could not be read, so display_name is null there: {}",
                into_call_error(error).message
            )),
        }
    }
    names
}

/// For entry points that do not resume, every fetch failure ends the call.
pub fn into_call_error(error: FetchError) -> PluginError {
    match error {
        FetchError::Failed(error) => error,
        FetchError::RateLimited { message, retry_after_seconds } => PluginError::new(
            ErrorCode::RateLimited,
            match retry_after_seconds {
                Some(seconds) => format!("{message}; Auvik asks to wait {seconds} s"),
                None => message,
            },
        ),
        FetchError::BudgetSpent => PluginError::new(ErrorCode::UpstreamError, "the request budget was spent"),
    }
}
