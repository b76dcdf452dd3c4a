//! The sync as a queue of work: device reads for batches of sites, then the billing reads.
//! A batch that Auvik refuses because of one tenant in it is split in halves until the
//! readable tenants are read and the unreadable one is named.

use super::devices::BatchRead;
use super::io::{AccountResult, AccountStatus, DeviceRecord, SyncOptions, SyncOutput, SyncStats};
use crate::auvik::client::FetchError;
use crate::auvik::model::ClientUsageDocument;
use crate::auvik::url::with_query;
use crate::auvik::AuvikClient;
use crate::connect::into_call_error;
use crate::counting::Tally;
use crate::error::{ErrorCode, PluginError, Result};
use crate::progress;
use crate::tenants::{TenantTree, Unit};
use std::collections::{HashMap, HashSet, VecDeque};

/// Tenant ids per request: many tenants a request keeps requests near one per 1,000 devices,
/// while the URL stays far below common 8 KiB limits (100 ids are about 1.9 KB).
pub const TENANTS_PER_REQUEST: usize = 100;

const BILLING_PATH: &str = "/v1/billing/usage/client";

/// The accounts a sync reports on.
#[derive(Debug)]
pub struct Selection {
    pub units: Vec<Unit>,
    /// Asked-for ids that this user cannot see.
    pub not_visible: Vec<String>,
}

impl Selection {
    pub fn new(tree: &TenantTree, options: &SyncOptions) -> Result<Selection> {
        let all = tree.units(options.rollup);
        let Some(wanted) = &options.account_ids else {
            return Ok(Selection { units: all, not_visible: Vec::new() });
        };
        let wanted_set: HashSet<&str> = wanted.iter().map(String::as_str).collect();
        let units: Vec<Unit> = all.into_iter().filter(|unit| wanted_set.contains(unit.account_id.as_str())).collect();
        let found: HashSet<&str> = units.iter().map(|unit| unit.account_id.as_str()).collect();
        let mut not_visible = Vec::new();
        for (position, id) in wanted.iter().enumerate() {
            if found.contains(id.as_str()) {
                continue;
            }
            match tree.explain_not_a_unit(id, options.rollup) {
                Some(why) => return Err(PluginError::invalid_input(&format!("account_ids[{position}]"), why)),
                None => not_visible.push(id.clone()),
            }
        }
        Ok(Selection { units, not_visible })
    }
}

enum Work {
    Devices(BatchRead),
    Billing(Vec<String>),
}

#[derive(Default)]
struct SiteResult {
    tally: Tally,
    records: Vec<DeviceRecord>,
    error: Option<PluginError>,
}

pub struct SyncJob {
    selection: Selection,
    sites: HashMap<String, SiteResult>,
    queue: VecDeque<Work>,
    billing_planned: bool,
    averages: HashMap<String, Result<f64, PluginError>>,
    include_devices: bool,
    billing: Option<(String, String)>,
    stats: SyncStats,
}

impl SyncJob {
    pub fn new(selection: Selection, options: &SyncOptions) -> SyncJob {
        let mut ordered_sites: Vec<String> = Vec::new();
        let mut sites = HashMap::new();
        for unit in &selection.units {
            for site in &unit.sites {
                if sites.insert(site.clone(), SiteResult::default()).is_none() {
                    ordered_sites.push(site.clone());
                }
            }
        }
        let queue = ordered_sites.chunks(TENANTS_PER_REQUEST).map(|chunk| Work::Devices(BatchRead::new(chunk.to_vec()))).collect();
        SyncJob {
            selection,
            sites,
            queue,
            billing_planned: false,
            averages: HashMap::new(),
            include_devices: options.include_devices,
            billing: options.billing_period.as_ref().map(|period| (period.from.clone(), period.thru.clone())),
            stats: SyncStats::default(),
        }
    }

    /// Works through the queue. Fails the call only for what no account can survive: refused
    /// credentials, or throttling.
    pub fn run(&mut self, client: &mut AuvikClient) -> Result<()> {
        loop {
            let Some(work) = self.queue.pop_front() else {
                if self.billing.is_some() && !self.billing_planned {
                    self.plan_billing();
                    continue;
                }
                return Ok(());
            };
            match work {
                Work::Devices(batch) => self.read_devices(client, batch)?,
                Work::Billing(ids) => self.read_billing(client, ids)?,
            }
        }
    }

    fn read_devices(&mut self, client: &mut AuvikClient, mut batch: BatchRead) -> Result<()> {
        loop {
            let page = client.get_json(&batch.query()).and_then(|page| {
                self.stats.pages += 1;
                batch.absorb(page, client.base_url(), self.include_devices).map_err(FetchError::Failed)
            });
            match page {
                Ok(false) => continue,
                Ok(true) => {
                    self.commit(batch);
                    return Ok(());
                }
                Err(error) => return self.batch_failed(batch, error),
            }
        }
    }

    fn commit(&mut self, batch: BatchRead) {
        progress::info(format!("sync: read {} devices of {} tenants", batch.devices_seen, batch.sites.len()));
        self.stats.devices_seen += batch.devices_seen;
        self.stats.duplicates_skipped += batch.duplicates_skipped;
        self.stats.devices_outside_request += batch.outside_request;
        for ((site, tally), records) in batch.sites.iter().zip(&batch.tallies).zip(batch.records) {
            let result = self.sites.get_mut(site).expect("batches hold selected sites only");
            result.tally.merge(tally);
            result.records = records;
        }
    }

    fn batch_failed(&mut self, batch: BatchRead, error: FetchError) -> Result<()> {
        let error = match error {
            FetchError::Failed(error) => error,
            other => return Err(into_call_error(other)),
        };
        let narrowable = matches!(error.code, ErrorCode::Forbidden | ErrorCode::MalformedResponse);
        match error.code {
            ErrorCode::AuthFailed => Err(error),
            _ if narrowable && batch.sites.len() > 1 => {
                let (first, second) = batch.sites.split_at(batch.sites.len().div_ceil(2));
                progress::info(format!("sync: narrowing a refused request of {} tenants", batch.sites.len()));
                self.queue.push_front(Work::Devices(BatchRead::new(second.to_vec())));
                self.queue.push_front(Work::Devices(BatchRead::new(first.to_vec())));
                Ok(())
            }
            _ => {
                for site in &batch.sites {
                    self.sites.get_mut(site).expect("batches hold selected sites only").error = Some(error.clone());
                }
                Ok(())
            }
        }
    }

    /// Billing is asked only for accounts whose devices were read: the others are unavailable anyway.
    fn plan_billing(&mut self) {
        self.billing_planned = true;
        let readable: Vec<String> = self
            .selection
            .units
            .iter()
            .filter(|unit| unit.sites.iter().all(|site| self.sites[site].error.is_none()))
            .map(|unit| unit.account_id.clone())
            .collect();
        self.queue.extend(readable.chunks(TENANTS_PER_REQUEST).map(|chunk| Work::Billing(chunk.to_vec())));
    }

    fn read_billing(&mut self, client: &mut AuvikClient, ids: Vec<String>) -> Result<()> {
        let (from, thru) = self.billing.clone().expect("billing work exists only with a period");
        let tenants = ids.join(",");
        let path = with_query(BILLING_PATH, &[("filter[fromDate]", &from), ("filter[thruDate]", &thru), ("tenants", &tenants)]);
        let document: ClientUsageDocument = match client.get_json(&path) {
            Ok(document) => document,
            Err(FetchError::Failed(error)) if error.code != ErrorCode::AuthFailed => {
                // Billing rights are per user, so a refusal here is about the user, not one
                // tenant: record it for the batch instead of narrowing.
                for id in ids {
                    self.averages.insert(id, Err(error.clone()));
                }
                return Ok(());
            }
            Err(other) => return Err(into_call_error(other)),
        };
        let mut rows: HashMap<String, Option<f64>> = document
            .data
            .into_iter()
            .map(|row| (row.id, row.attributes.device_usage.and_then(|usage| usage.average_days)))
            .collect();
        for id in ids {
            let average = match rows.remove(&id) {
                Some(Some(average)) if average.is_finite() && average >= 0.0 => Ok(average),
                Some(_) => Err(PluginError::new(
                    ErrorCode::MalformedResponse,
                    format!("Auvik's usage row for {id} has no usable deviceUsage.averageDays"),
                )),
                None => Err(PluginError::new(
                    ErrorCode::UpstreamError,
                    format!("Auvik returned no usage row for {id} for {from} to {thru}"),
                )),
            };
            self.averages.insert(id, average);
        }
        Ok(())
    }

    pub fn finish(mut self, tree: &TenantTree, options: &SyncOptions, requests: u32) -> SyncOutput {
        let mut accounts = Vec::with_capacity(self.selection.units.len() + self.selection.not_visible.len());
        for unit in &self.selection.units {
            let tenant = tree.get(&unit.account_id);
            let mut result = AccountResult {
                account_id: unit.account_id.clone(),
                name: tenant.map_or_else(|| unit.account_id.clone(), |tenant| tenant.domain_prefix.clone()),
                tenant_type: tenant.and_then(|tenant| tenant.tenant_type.clone()),
                status: AccountStatus::Ok,
                sites: unit.sites.clone(),
                counts: None,
                average_billable_devices: None,
                average_error: None,
                excluded: None,
                devices_seen: None,
                error: None,
                devices: None,
            };
            let failed_site = unit.sites.iter().find_map(|site| Some((site, self.sites[site].error.as_ref()?)));
            if let Some((site, error)) = failed_site {
                result.status = AccountStatus::Unavailable;
                let mut error = error.clone();
                if unit.sites.len() > 1 {
                    let prefix = tree.get(site).map_or(site.as_str(), |tenant| tenant.domain_prefix.as_str());
                    error.message = format!("site {site} ({prefix}) could not be read: {}", error.message);
                }
                result.error = Some(error);
                accounts.push(result);
                continue;
            }
            let mut tally = Tally::default();
            let mut records = Vec::new();
            for site in &unit.sites {
                let site_result = self.sites.get_mut(site).expect("units hold selected sites only");
                tally.merge(&site_result.tally);
                records.append(&mut site_result.records);
            }
            result.counts = Some(tally.counts());
            result.excluded = Some(tally.excluded());
            result.devices_seen = Some(tally.devices_seen());
            result.devices = options.include_devices.then_some(records);
            match self.averages.remove(&unit.account_id) {
                Some(Ok(average)) => result.average_billable_devices = Some(average),
                Some(Err(error)) => result.average_error = Some(error),
                None => {}
            }
            accounts.push(result);
        }
        for id in &self.selection.not_visible {
            accounts.push(AccountResult {
                account_id: id.clone(),
                name: id.clone(),
                tenant_type: None,
                status: AccountStatus::Unavailable,
                sites: Vec::new(),
                counts: None,
                average_billable_devices: None,
                average_error: None,
                excluded: None,
                devices_seen: None,
                error: Some(PluginError::new(
                    ErrorCode::Forbidden,
                    format!("tenant {id} is not among the tenants this Auvik user can see (removed, or not authorized)"),
                )),
                devices: None,
            });
        }
        self.stats.requests = requests;
        SyncOutput { complete: true, accounts, stats: self.stats }
    }
}
