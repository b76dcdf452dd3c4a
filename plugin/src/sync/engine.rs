//! The sync as a queue of work: device reads for batches of sites, then the billing reads.
//! Everything it has learnt lives in `SyncState`, a plain value, so a call can stop after any
//! request (budget spent, Auvik throttling) and the next call resumes from a token.
//! A batch that Auvik refuses because of one tenant in it is split in halves until the
//! readable tenants are read and the unreadable one is named.

use super::devices::BatchRead;
use super::io::{AccountResult, AccountStatus, DeviceRecord, SyncOptions, SyncStats};
use crate::auvik::client::FetchError;
use crate::auvik::model::{ClientUsageDocument, DevicePage};
use crate::auvik::url::with_query;
use crate::auvik::AuvikClient;
use crate::counting::Tally;
use crate::error::{ErrorCode, PluginError, Result};
use crate::progress;
use crate::tenants::{Tenant, TenantTree, Unit};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

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

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Work {
    Devices(BatchRead),
    Billing { ids: Vec<String>, attempts: u32 },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SiteState {
    done: bool,
    tally: Tally,
    error: Option<PluginError>,
}

/// Progress of a whole sync, across calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncState {
    /// False until the tenant list was read: a call throttled on its first request still
    /// hands out a token, so hosts always resume the same way.
    started: bool,
    tenants: Vec<Tenant>,
    queue: VecDeque<Work>,
    sites: BTreeMap<String, SiteState>,
    billing_planned: bool,
    averages: BTreeMap<String, std::result::Result<f64, PluginError>>,
    totals: SyncStats,
}

/// Why a call ended before the sync did.
#[derive(Debug, Clone, PartialEq)]
pub enum Pause {
    BudgetSpent,
    Throttled { message: String, retry_after_seconds: Option<u64> },
}

impl SyncState {
    /// A new sync over `tree`, with every selected site queued in batches.
    pub fn start(tree: &TenantTree, selection: &Selection) -> SyncState {
        let mut ordered_sites: Vec<String> = Vec::new();
        let mut sites = BTreeMap::new();
        for unit in &selection.units {
            for site in &unit.sites {
                if sites.insert(site.clone(), SiteState::default()).is_none() {
                    ordered_sites.push(site.clone());
                }
            }
        }
        let queue = ordered_sites.chunks(TENANTS_PER_REQUEST).map(|chunk| Work::Devices(BatchRead::new(chunk.to_vec()))).collect();
        SyncState {
            started: true,
            tenants: tree.tenants().to_vec(),
            queue,
            sites,
            billing_planned: false,
            averages: BTreeMap::new(),
            totals: SyncStats::default(),
        }
    }

    pub fn not_started() -> SyncState {
        SyncState {
            started: false,
            tenants: Vec::new(),
            queue: VecDeque::new(),
            sites: BTreeMap::new(),
            billing_planned: false,
            averages: BTreeMap::new(),
            totals: SyncStats::default(),
        }
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Keeps the running totals of the calls before this state was started.
    pub fn with_totals(mut self, totals: SyncStats) -> SyncState {
        self.totals = totals;
        self
    }

    pub fn totals(&self) -> &SyncStats {
        &self.totals
    }

    pub fn tree(&self) -> Result<TenantTree> {
        TenantTree::new(self.tenants.clone()).map_err(|problem| PluginError::invalid_input("resume_token", problem))
    }

    /// A token's sites must be the ones its options select.
    pub fn covers(&self, selection: &Selection) -> bool {
        let selected: HashSet<&str> = selection.units.iter().flat_map(|unit| unit.sites.iter().map(String::as_str)).collect();
        selected.len() == self.sites.len() && self.sites.keys().all(|site| selected.contains(site.as_str()))
    }


    #[cfg(test)]
    pub fn for_tests() -> SyncState {
        SyncState::not_started()
    }
}

/// One call's worth of work on a `SyncState`.
pub struct SyncCall<'a> {
    state: &'a mut SyncState,
    selection: &'a Selection,
    options: &'a SyncOptions,
    /// Device records read in this call, by site; never carried to the next call.
    records: HashMap<String, Vec<DeviceRecord>>,
    stats: SyncStats,
}

impl<'a> SyncCall<'a> {
    pub fn new(state: &'a mut SyncState, selection: &'a Selection, options: &'a SyncOptions) -> SyncCall<'a> {
        SyncCall { state, selection, options, records: HashMap::new(), stats: SyncStats::default() }
    }

    /// Works through the queue until it is empty or the call must pause. Fails the call only
    /// for what no account can survive: refused credentials.
    pub fn run(&mut self, client: &mut AuvikClient) -> Result<Option<Pause>> {
        loop {
            if self.state.queue.is_empty() {
                if self.options.billing_period.is_some() && !self.state.billing_planned {
                    self.plan_billing();
                    continue;
                }
                self.state.billing_planned = true;
                return Ok(None);
            }
            let step = match self.state.queue.front().expect("checked above") {
                Work::Devices(_) => self.read_device_page(client),
                Work::Billing { .. } => self.read_billing(client),
            };
            match step {
                Ok(()) => {}
                Err(FetchError::BudgetSpent) => return Ok(Some(Pause::BudgetSpent)),
                Err(FetchError::RateLimited { message, retry_after_seconds }) => {
                    return Ok(Some(Pause::Throttled { message, retry_after_seconds }))
                }
                Err(FetchError::Failed(error)) => return Err(error),
            }
        }
    }

    fn read_device_page(&mut self, client: &mut AuvikClient) -> std::result::Result<(), FetchError> {
        let Some(Work::Devices(batch)) = self.state.queue.front_mut() else { unreachable!("called for device work") };
        let query = batch.query();
        let fetched = client.get_json_resumable::<DevicePage>(&query, &mut batch.attempts);
        let read = match fetched {
            Ok(page) => {
                self.stats.pages += 1;
                batch.absorb(&page, client.base_url(), self.options.include_devices)
            }
            Err(FetchError::Failed(error)) => Err(error),
            Err(pause) => return Err(pause),
        };
        let read = match read {
            Ok(read) => read,
            Err(error) if error.code == ErrorCode::AuthFailed => return Err(FetchError::Failed(error)),
            Err(error) => {
                let Some(Work::Devices(batch)) = self.state.queue.pop_front() else { unreachable!() };
                self.batch_failed(batch, error);
                return Ok(());
            }
        };
        self.stats.devices_seen += read.devices;
        self.stats.duplicates_skipped += read.duplicates_skipped;
        self.stats.devices_outside_request += read.outside_request;
        let Some(Work::Devices(batch)) = self.state.queue.front() else { unreachable!() };
        for (position, record) in read.records {
            self.records.entry(batch.sites[position].clone()).or_default().push(record);
        }
        if read.last {
            let Some(Work::Devices(batch)) = self.state.queue.pop_front() else { unreachable!() };
            for (site, tally) in batch.sites.iter().zip(&batch.tallies) {
                let state = self.state.sites.get_mut(site).expect("batches hold selected sites only");
                state.tally.merge(tally);
                state.done = true;
            }
        }
        self.report_progress(read.devices);
        Ok(())
    }

    /// One line per page for the host's log: what was read and how far the sync is.
    fn report_progress(&self, page_devices: u64) {
        let sites_done = self.state.sites.values().filter(|site| site.done).count();
        let accounts_done = self
            .selection
            .units
            .iter()
            .filter(|unit| unit.sites.iter().all(|site| self.state.sites[site].done))
            .count();
        progress::info(format!(
            "sync: page read ({page_devices} devices); tenants {sites_done}/{}, accounts {accounts_done}/{}, devices {}",
            self.state.sites.len(),
            self.selection.units.len(),
            self.state.totals.devices_seen + self.stats.devices_seen
        ));
    }

    fn batch_failed(&mut self, batch: BatchRead, error: PluginError) {
        // What was read of a refused batch is dropped with it: the halves read it again.
        for site in &batch.sites {
            self.records.remove(site);
        }
        let narrowable = matches!(error.code, ErrorCode::Forbidden | ErrorCode::MalformedResponse);
        if narrowable && batch.sites.len() > 1 {
            let (first, second) = batch.sites.split_at(batch.sites.len().div_ceil(2));
            progress::info(format!("sync: narrowing a refused request of {} tenants", batch.sites.len()));
            self.state.queue.push_front(Work::Devices(BatchRead::new(second.to_vec())));
            self.state.queue.push_front(Work::Devices(BatchRead::new(first.to_vec())));
            return;
        }
        for site in &batch.sites {
            let state = self.state.sites.get_mut(site).expect("batches hold selected sites only");
            state.error = Some(error.clone());
            state.done = true;
        }
    }

    /// Billing is asked only for accounts whose devices were read: the others are unavailable anyway.
    fn plan_billing(&mut self) {
        self.state.billing_planned = true;
        let readable: Vec<String> = self
            .selection
            .units
            .iter()
            .filter(|unit| unit.sites.iter().all(|site| self.state.sites[site].error.is_none()))
            .map(|unit| unit.account_id.clone())
            .collect();
        self.state
            .queue
            .extend(readable.chunks(TENANTS_PER_REQUEST).map(|chunk| Work::Billing { ids: chunk.to_vec(), attempts: 0 }));
    }

    fn read_billing(&mut self, client: &mut AuvikClient) -> std::result::Result<(), FetchError> {
        let period = self.options.billing_period.as_ref().expect("billing work exists only with a period");
        let Some(Work::Billing { ids, attempts }) = self.state.queue.front_mut() else { unreachable!("called for billing work") };
        let tenants = ids.join(",");
        let path = with_query(BILLING_PATH, &[("filter[fromDate]", &period.from), ("filter[thruDate]", &period.thru), ("tenants", &tenants)]);
        let fetched = client.get_json_resumable::<ClientUsageDocument>(&path, attempts);
        let document = match fetched {
            Ok(document) => Ok(document),
            // Billing rights are per user, so a refusal here is about the user, not one
            // tenant: it is recorded for the batch instead of narrowed.
            Err(FetchError::Failed(error)) if error.code != ErrorCode::AuthFailed => Err(error),
            Err(other) => return Err(other),
        };
        let Some(Work::Billing { ids, .. }) = self.state.queue.pop_front() else { unreachable!() };
        let document = match document {
            Ok(document) => document,
            Err(error) => {
                for id in ids {
                    self.state.averages.insert(id, Err(error.clone()));
                }
                return Ok(());
            }
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
                    format!("Auvik returned no usage row for {id} for {} to {}", period.from, period.thru),
                )),
            };
            self.state.averages.insert(id, average);
        }
        Ok(())
    }

    /// This call's figures, also added to the sync's running totals.
    pub fn take_stats(&mut self, requests: u32) -> SyncStats {
        let mut stats = std::mem::take(&mut self.stats);
        stats.requests = requests;
        let totals = &mut self.state.totals;
        totals.requests += stats.requests;
        totals.devices_seen += stats.devices_seen;
        totals.pages += stats.pages;
        totals.duplicates_skipped += stats.duplicates_skipped;
        totals.devices_outside_request += stats.devices_outside_request;
        stats
    }

    /// One result per selected account: final for accounts whose sites are all read, `pending`
    /// for the others (only while the sync is incomplete).
    pub fn results(&mut self, tree: &TenantTree) -> Vec<AccountResult> {
        let mut accounts = Vec::with_capacity(self.selection.units.len() + self.selection.not_visible.len());
        for unit in &self.selection.units {
            let tenant = tree.get(&unit.account_id);
            let mut result = AccountResult::without_counts(
                &unit.account_id,
                tenant.map_or(unit.account_id.as_str(), |tenant| tenant.domain_prefix.as_str()),
                tenant.and_then(|tenant| tenant.tenant_type.clone()),
                AccountStatus::Ok,
                unit.sites.clone(),
            );
            let mut records = Vec::new();
            if self.options.include_devices {
                for site in &unit.sites {
                    records.append(self.records.entry(site.clone()).or_default());
                }
                result.devices = Some(records);
            }
            let sites: Vec<&SiteState> = unit.sites.iter().map(|site| &self.state.sites[site]).collect();
            let failed_site = unit.sites.iter().zip(&sites).find_map(|(site, state)| Some((site, state.error.as_ref()?)));
            if let Some((site, error)) = failed_site {
                result.status = AccountStatus::Unavailable;
                let mut error = error.clone();
                if unit.sites.len() > 1 {
                    let prefix = tree.get(site).map_or(site.as_str(), |tenant| tenant.domain_prefix.as_str());
                    error.message = format!("site {site} ({prefix}) could not be read: {}", error.message);
                }
                result.error = Some(error);
                result.devices = None;
            } else if sites.iter().all(|state| state.done) && self.average_settled(&unit.account_id) {
                let mut tally = Tally::default();
                for state in &sites {
                    tally.merge(&state.tally);
                }
                result.counts = Some(tally.counts());
                result.excluded = Some(tally.excluded());
                result.devices_seen = Some(tally.devices_seen());
                match self.state.averages.get(&unit.account_id) {
                    Some(Ok(average)) => result.average_billable_devices = Some(*average),
                    Some(Err(error)) => result.average_error = Some(error.clone()),
                    None => {}
                }
            } else {
                result.status = AccountStatus::Pending;
            }
            accounts.push(result);
        }
        for id in &self.selection.not_visible {
            let mut result = AccountResult::without_counts(id, id, None, AccountStatus::Unavailable, Vec::new());
            result.error = Some(PluginError::new(
                ErrorCode::Forbidden,
                format!("tenant {id} is not among the tenants this Auvik user can see (removed, or not authorized)"),
            ));
            accounts.push(result);
        }
        accounts
    }

    fn average_settled(&self, account_id: &str) -> bool {
        self.options.billing_period.is_none() || self.state.averages.contains_key(account_id)
    }
}
