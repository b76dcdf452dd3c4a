//! What `sync` takes and returns.

use crate::connection::ConnectionInput;
use crate::counting::{Counts, Excluded, Exclusion};
use crate::error::{PluginError, Result};
use crate::input::{day_number, parse_date};
use crate::tenants::{Rollup, TenantType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    /// Where and as whom to reach Auvik.
    pub connection: ConnectionInput,
    /// Only these accounts (tenant ids as returned by `connect`). Left out: every account.
    #[serde(default)]
    pub account_ids: Option<Vec<String>>,
    /// `site` (default): one result per client tenant. `customer`: sites below a multi-client
    /// that is a direct child of the root fold into that multi-client's result.
    #[serde(default)]
    pub rollup: Rollup,
    /// Also report Auvik's own average billable devices for this period (`/v1/billing/usage/client`).
    #[serde(default)]
    pub billing_period: Option<BillingPeriod>,
    /// List every device of each account with the service it counted toward or why it did not.
    /// When a sync spans several calls, each call lists the devices it read.
    #[serde(default)]
    pub include_devices: bool,
    /// The most HTTP requests this call may make (at least 1). When spent, the call returns
    /// `complete: false` and a `resume_token`. Left out: no limit.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_requests: Option<u32>,
    /// The `resume_token` of the previous call of this sync, given with the same input.
    #[serde(default)]
    pub resume_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingPeriod {
    /// First day, inclusive.
    #[schemars(example = &"2026-11-01")]
    pub from: String,
    /// Last day, inclusive.
    #[schemars(example = &"2026-11-30")]
    pub thru: String,
}

/// More than any MSP has tenants; a longer list is a mistake, not a sync. Every id is a result
/// even when Auvik does not know it, and 50,000 results no longer fit the plugin's 64 MiB.
pub const MAX_ACCOUNT_IDS: usize = 10_000;

/// The longest period asked of Auvik at once; its own billing screens stop at 90 days.
pub const MAX_BILLING_DAYS: i64 = 92;

/// The input, checked: everything a sync needs besides the connection.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub account_ids: Option<Vec<String>>,
    pub rollup: Rollup,
    pub billing_period: Option<BillingPeriod>,
    pub include_devices: bool,
    pub max_requests: Option<u32>,
}

impl SyncOptions {
    /// The options that change a sync's result, as text a resume token is bound to.
    pub fn binding_text(&self) -> String {
        let ids = self.account_ids.as_ref().map(|ids| ids.join(","));
        let period = self.billing_period.as_ref().map(|period| format!("{}..{}", period.from, period.thru));
        format!("{:?}|{:?}|{:?}|{}", ids, self.rollup, period, self.include_devices)
    }

    pub fn from_input(input: &SyncInput) -> Result<SyncOptions> {
        if let Some(ids) = &input.account_ids {
            if ids.len() > MAX_ACCOUNT_IDS {
                return Err(PluginError::invalid_input("account_ids", format!("lists {} ids; at most {MAX_ACCOUNT_IDS} are accepted", ids.len())));
            }
            if ids.is_empty() {
                return Err(PluginError::invalid_input("account_ids", "must name at least one account, or be left out to sync all"));
            }
            let mut seen = HashSet::new();
            for (position, id) in ids.iter().enumerate() {
                let field = format!("account_ids[{position}]");
                if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return Err(PluginError::invalid_input(&field, format!("expected an Auvik tenant id, got {:?}", short(id))));
                }
                if !seen.insert(id.as_str()) {
                    return Err(PluginError::invalid_input(&field, format!("{id} is listed twice")));
                }
            }
        }
        if let Some(period) = &input.billing_period {
            let from = day_number(parse_date("billing_period.from", &period.from)?);
            let thru = day_number(parse_date("billing_period.thru", &period.thru)?);
            if thru < from {
                return Err(PluginError::invalid_input("billing_period.thru", "must not be before billing_period.from"));
            }
            if thru - from + 1 > MAX_BILLING_DAYS {
                return Err(PluginError::invalid_input(
                    "billing_period",
                    format!("covers {} days; at most {MAX_BILLING_DAYS} are asked of Auvik at once", thru - from + 1),
                ));
            }
        }
        if input.max_requests == Some(0) {
            return Err(PluginError::invalid_input("max_requests", "must be at least 1"));
        }
        Ok(SyncOptions {
            max_requests: input.max_requests,
            account_ids: input.account_ids.clone(),
            rollup: input.rollup,
            billing_period: input.billing_period.clone(),
            include_devices: input.include_devices,
        })
    }
}

fn short(text: &str) -> String {
    text.chars().take(80).collect()
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct SyncOutput {
    /// True when every selected account has its final result in `accounts`. When false, call
    /// `sync` again with the same input plus `resume_token` (after `retry_after_seconds`, if given).
    pub complete: bool,
    /// One result per account, in Auvik's order; accounts asked for but not visible to this user last.
    pub accounts: Vec<AccountResult>,
    /// Present when `complete` is false: give it back, with the same input, to go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<String>,
    /// Present when Auvik throttled the call: wait this long before resuming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// Why the call stopped early, for a person: the budget, or Auvik's throttling message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    /// What this call cost and read.
    pub stats: SyncStats,
    /// What the whole sync cost and read so far, across all its calls.
    pub totals: SyncStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Counts are exact for what Auvik reports now.
    Ok,
    /// The account's devices could not be read; `counts` is null and `error` says why. Never billed as zero.
    Unavailable,
    /// Not read yet; only in an output with `complete: false`.
    Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AccountResult {
    /// The Auvik tenant id of the account (a site, or a customer with `rollup` customer).
    pub account_id: String,
    /// The tenant's domain prefix.
    pub name: String,
    /// The tenant's type, or null for an id this user cannot see.
    pub tenant_type: Option<TenantType>,
    /// `ok`, `unavailable` (with `error`), or `pending` while a sync is incomplete.
    pub status: AccountStatus,
    /// The tenant ids whose devices were summed: the account itself for a site, every site below a customer.
    pub sites: Vec<String>,
    /// Quantity per service; null when the account is unavailable.
    pub counts: Option<Counts>,
    /// Auvik's average billable devices per day over `billing_period` (`deviceUsage.averageDays`), the
    /// number Auvik invoices on; null without a period or when it could not be read (see `average_error`).
    pub average_billable_devices: Option<f64>,
    /// Why `average_billable_devices` is null although a billing period was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_error: Option<PluginError>,
    /// Devices left out of every service, by reason; null when unavailable.
    pub excluded: Option<Excluded>,
    /// Devices read for this account: the counted ones plus the excluded ones.
    pub devices_seen: Option<u64>,
    /// Why the account is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PluginError>,
    /// Every device read, when `include_devices` was asked; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<DeviceRecord>>,
}

impl AccountResult {
    /// A result with everything a read fills in still empty.
    pub fn without_counts(id: &str, name: &str, tenant_type: Option<TenantType>, status: AccountStatus, sites: Vec<String>) -> Self {
        AccountResult {
            account_id: id.to_string(),
            name: name.to_string(),
            tenant_type,
            status,
            sites,
            counts: None,
            average_billable_devices: None,
            average_error: None,
            excluded: None,
            devices_seen: None,
            error: None,
            devices: None,
        }
    }
}

/// One device and what became of it, so every number can be audited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceRecord {
    /// Auvik's device id.
    pub id: String,
    /// The tenant (site) the device belongs to.
    pub site_id: String,
    /// Auvik's `deviceName`.
    pub name: Option<String>,
    /// Auvik's `deviceType`, as sent.
    #[serde(rename = "type")]
    pub device_type: Option<String>,
    /// Auvik's `makeModel`; null where Auvik sends none.
    pub make_model: Option<String>,
    /// Auvik's `vendorName`.
    pub vendor_name: Option<String>,
    /// Auvik's `serialNumber`.
    pub serial_number: Option<String>,
    /// Auvik's `onlineStatus`, as sent.
    pub online_status: Option<String>,
    /// Auvik's `manageStatus`; null when Auvik did not say.
    pub managed: Option<bool>,
    /// The services this device added one to; empty when excluded.
    pub counted_toward: Vec<String>,
    /// Why the device counts nowhere; null when it counted.
    pub excluded: Option<Exclusion>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyncStats {
    /// HTTP requests this call made to Auvik.
    pub requests: u32,
    /// Devices read in this call, across all accounts.
    pub devices_seen: u64,
    /// Device pages read in this call.
    pub pages: u32,
    /// Devices Auvik listed twice across pages of one request; counted once.
    pub duplicates_skipped: u64,
    /// Devices Auvik returned for a tenant that was not asked for; counted nowhere.
    pub devices_outside_request: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::ApiKey;

    fn input(extra: impl FnOnce(&mut SyncInput)) -> Result<SyncOptions> {
        let mut input = SyncInput {
            connection: ConnectionInput { api_url: "https://auvikapi.us1.my.auvik.com".into(), username: "u".into(), api_key: ApiKey::new("k") },
            account_ids: None,
            rollup: Rollup::Site,
            billing_period: None,
            include_devices: false,
            max_requests: None,
            resume_token: None,
        };
        extra(&mut input);
        SyncOptions::from_input(&input)
    }

    fn period(from: &str, thru: &str) -> Option<BillingPeriod> {
        Some(BillingPeriod { from: from.into(), thru: thru.into() })
    }

    #[test]
    fn billing_periods_must_be_real_ordered_and_bounded() {
        assert!(input(|i| i.billing_period = period("2026-11-01", "2026-11-30")).is_ok());
        assert!(input(|i| i.billing_period = period("2026-11-01", "2026-11-01")).is_ok());
        let error = input(|i| i.billing_period = period("2026-02-01", "2026-02-30")).unwrap_err();
        assert!(error.message.starts_with("billing_period.thru:"), "{}", error.message);
        let error = input(|i| i.billing_period = period("2026-11-30", "2026-11-01")).unwrap_err();
        assert!(error.message.starts_with("billing_period.thru: must not be before"), "{}", error.message);
        let error = input(|i| i.billing_period = period("2026-01-01", "2026-12-31")).unwrap_err();
        assert!(error.message.starts_with("billing_period: covers 365 days"), "{}", error.message);
    }

    #[test]
    fn account_ids_must_be_ids_listed_once() {
        assert!(input(|i| i.account_ids = Some(vec!["400000000000000101".into()])).is_ok());
        assert!(input(|i| i.account_ids = Some(vec![])).unwrap_err().message.starts_with("account_ids:"));
        let error = input(|i| i.account_ids = Some(vec!["1".into(), "2".into(), "1".into()])).unwrap_err();
        assert!(error.message.starts_with("account_ids[2]: 1 is listed twice"), "{}", error.message);
        let most: Vec<String> = (0..MAX_ACCOUNT_IDS).map(|n| n.to_string()).collect();
        assert!(input(|i| i.account_ids = Some(most)).is_ok());
        let too_many: Vec<String> = (0..=MAX_ACCOUNT_IDS).map(|n| n.to_string()).collect();
        let error = input(|i| i.account_ids = Some(too_many)).unwrap_err();
        assert_eq!(error.message, "account_ids: lists 10001 ids; at most 10000 are accepted");
        let error = input(|i| i.account_ids = Some(vec!["1,2".into()])).unwrap_err();
        assert!(error.message.starts_with("account_ids[0]: expected an Auvik tenant id"), "{}", error.message);
    }
}
