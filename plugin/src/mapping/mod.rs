//! `map`: matches Auvik client accounts onto PSA companies and Auvik services onto PSA products.
//!
//! Pure: no HTTP. A wrong mapping bills the wrong client, so only names that are the same apart
//! from case and spacing are applied, and only when the match is unique on both sides. Anything
//! looser is offered as a ranked suggestion with a reason a person can check, never applied.

use crate::error::{PluginError, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

mod normalize;
mod suggest;

use normalize::exact_key;
use suggest::{Suggestion, SuggestionIndex};

pub use crate::counting::SERVICES;

/// Longest list `map` accepts, per list.
pub const MAX_LIST_LEN: usize = 100_000;
/// Longest name `map` accepts, in characters.
pub const MAX_NAME_CHARS: usize = 1_000;

/// Input of `map`: the accounts and services to map, the PSA's companies and products, and the
/// decisions already made.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapInput {
    /// Auvik client accounts to map. Fields other than `id`, `name` and `display_name` are
    /// ignored, so accounts can be passed on exactly as the plugin returned them.
    pub accounts: Vec<MapAccount>,
    /// The PSA's companies that accounts may be mapped onto. May be empty.
    pub psa_companies: Vec<PsaEntry>,
    /// Services to map onto PSA products. Absent means the plugin's nine services.
    #[serde(default)]
    pub services: Option<Vec<MapService>>,
    /// The PSA's products that services may be mapped onto. May be empty.
    #[serde(default)]
    pub psa_products: Vec<PsaEntry>,
    /// Mappings and exclusions already decided; they are always kept exactly as given.
    #[serde(default)]
    pub existing: ExistingMappings,
}

/// An Auvik client account, as far as mapping needs it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapAccount {
    /// Auvik tenant id of the account.
    pub id: String,
    /// Auvik name of the account.
    pub name: String,
    /// Display name of the account, if Auvik has one; matched as well as `name`.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A service the plugin reports, such as `firewalls`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapService {
    /// Service id, such as `firewalls`.
    pub id: String,
    /// Service name, such as `Firewalls`; matched against PSA product names.
    pub name: String,
}

/// A PSA company or product.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PsaEntry {
    /// The PSA's id of the company or product.
    pub id: String,
    /// The PSA's name of the company or product.
    pub name: String,
}

/// Decisions already made, usually by a person; they always win over matching.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingMappings {
    /// Accounts already mapped onto a PSA company or excluded from mapping.
    #[serde(default)]
    pub accounts: Vec<ExistingAccount>,
    /// Services already mapped onto a PSA product or excluded from mapping.
    #[serde(default)]
    pub services: Vec<ExistingService>,
}

/// An account already mapped or excluded. Give exactly one of `psa_company_id` or
/// `excluded: true`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingAccount {
    /// Auvik tenant id of the account. An id not among `accounts` is ignored.
    pub account_id: String,
    /// The PSA company the account is mapped onto; kept even if it is not in `psa_companies`.
    #[serde(default)]
    pub psa_company_id: Option<String>,
    /// True if the account is deliberately not mapped onto any company.
    #[serde(default)]
    pub excluded: bool,
}

/// A service already mapped or excluded. Give exactly one of `psa_product_id` or
/// `excluded: true`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingService {
    /// Id of the service. An id not among the services mapped is ignored.
    pub service_id: String,
    /// The PSA product the service is mapped onto; kept even if it is not in `psa_products`.
    #[serde(default)]
    pub psa_product_id: Option<String>,
    /// True if the service is deliberately not mapped onto any product.
    #[serde(default)]
    pub excluded: bool,
}

/// Output of `map`: one row per account and per service, in input order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapOutput {
    /// One row per input account, in input order.
    pub accounts: Vec<AccountMapping>,
    /// One row per service, in input order (or the plugin's order if none were given).
    pub services: Vec<ServiceMapping>,
    /// How many rows have each status.
    pub summary: MapSummary,
}

/// Where an account stands.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AccountMapping {
    /// Auvik tenant id of the account.
    pub account_id: String,
    /// Whether the account is mapped, unmapped or excluded.
    pub status: MapStatus,
    /// The PSA company the account is mapped onto; null unless `status` is `mapped`.
    pub psa_company_id: Option<String>,
    /// How the mapping was decided: `existing` or `exact`; null when unmapped.
    #[serde(rename = "match")]
    pub match_kind: Option<MatchKind>,
    /// For an unmapped account, at most five likely companies, best first, for a person to
    /// confirm; never applied. Empty otherwise.
    pub suggestions: Vec<CompanySuggestion>,
}

/// Where a service stands.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ServiceMapping {
    /// Id of the service.
    pub service_id: String,
    /// Whether the service is mapped, unmapped or excluded.
    pub status: MapStatus,
    /// The PSA product the service is mapped onto; null unless `status` is `mapped`.
    pub psa_product_id: Option<String>,
    /// How the mapping was decided: `existing` or `exact`; null when unmapped.
    #[serde(rename = "match")]
    pub match_kind: Option<MatchKind>,
    /// For an unmapped service, at most five likely products, best first, for a person to
    /// confirm; never applied. Empty otherwise.
    pub suggestions: Vec<ProductSuggestion>,
}

/// A PSA company that may be the right one for an unmapped account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CompanySuggestion {
    /// The PSA's id of the company.
    pub psa_company_id: String,
    /// The PSA's name of the company.
    pub name: String,
    /// Similarity from 0.5 to 1, rounded to 3 decimals; 1 means the same name after removing
    /// case, punctuation and legal suffixes.
    pub score: f64,
    /// Why the company is suggested, in words a person can check.
    pub reason: String,
}

/// A PSA product that may be the right one for an unmapped service.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProductSuggestion {
    /// The PSA's id of the product.
    pub psa_product_id: String,
    /// The PSA's name of the product.
    pub name: String,
    /// Similarity from 0.5 to 1, rounded to 3 decimals; 1 means the same name after removing
    /// case, punctuation and legal suffixes.
    pub score: f64,
    /// Why the product is suggested, in words a person can check.
    pub reason: String,
}

/// Whether an account or service is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MapStatus {
    /// Mapped onto a PSA entry.
    Mapped,
    /// Not mapped; see the suggestions.
    Unmapped,
    /// Deliberately not mapped, as given in `existing`.
    Excluded,
}

/// How a mapping was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// Taken from `existing`.
    Existing,
    /// The only PSA entry with the same name apart from case and spacing.
    Exact,
}

/// Row counts per status.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MapSummary {
    /// Counts over `accounts`.
    pub accounts: StatusCounts,
    /// Counts over `services`.
    pub services: StatusCounts,
}

/// How many rows have each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatusCounts {
    /// Rows with status `mapped`.
    pub mapped: usize,
    /// Rows with status `unmapped`.
    pub unmapped: usize,
    /// Rows with status `excluded`.
    pub excluded: usize,
}

/// Maps accounts onto PSA companies and services onto PSA products; see the module comment.
pub fn map(input: MapInput) -> Result<MapOutput> {
    validate(&input)?;
    let MapInput { accounts, psa_companies, services, psa_products, existing } = input;
    let account_decisions = existing_decisions(
        "existing.accounts",
        "account",
        "psa_company_id",
        existing.accounts.iter().map(|e| (e.account_id.as_str(), e.psa_company_id.as_deref(), e.excluded)),
    )?;
    let service_decisions = existing_decisions(
        "existing.services",
        "service",
        "psa_product_id",
        existing.services.iter().map(|e| (e.service_id.as_str(), e.psa_product_id.as_deref(), e.excluded)),
    )?;

    let services = services.unwrap_or_else(default_services);
    let account_subjects: Vec<Subject> = accounts
        .iter()
        .map(|a| {
            let display_name = a.display_name.as_deref().filter(|d| !d.trim().is_empty());
            Subject { id: &a.id, names: display_name.into_iter().chain([a.name.as_str()]).collect() }
        })
        .collect();
    let service_subjects: Vec<Subject> =
        services.iter().map(|s| Subject { id: &s.id, names: vec![s.name.as_str()] }).collect();
    let companies: Vec<Target> = psa_companies.iter().map(|c| Target { id: &c.id, name: &c.name }).collect();
    let products: Vec<Target> = psa_products.iter().map(|p| Target { id: &p.id, name: &p.name }).collect();

    let accounts: Vec<AccountMapping> = match_subjects(&account_subjects, &companies, &account_decisions, "account")
        .into_iter()
        .zip(&account_subjects)
        .map(|(outcome, subject)| AccountMapping {
            account_id: subject.id.to_string(),
            status: outcome.status,
            psa_company_id: outcome.target_id.map(str::to_string),
            match_kind: outcome.match_kind,
            suggestions: outcome
                .suggestions
                .into_iter()
                .filter_map(|s| {
                    let company = companies.get(s.target)?;
                    Some(CompanySuggestion {
                        psa_company_id: company.id.to_string(),
                        name: company.name.to_string(),
                        score: s.score,
                        reason: s.reason,
                    })
                })
                .collect(),
        })
        .collect();
    let services: Vec<ServiceMapping> = match_subjects(&service_subjects, &products, &service_decisions, "service")
        .into_iter()
        .zip(&service_subjects)
        .map(|(outcome, subject)| ServiceMapping {
            service_id: subject.id.to_string(),
            status: outcome.status,
            psa_product_id: outcome.target_id.map(str::to_string),
            match_kind: outcome.match_kind,
            suggestions: outcome
                .suggestions
                .into_iter()
                .filter_map(|s| {
                    let product = products.get(s.target)?;
                    Some(ProductSuggestion {
                        psa_product_id: product.id.to_string(),
                        name: product.name.to_string(),
                        score: s.score,
                        reason: s.reason,
                    })
                })
                .collect(),
        })
        .collect();

    let summary = summary(&accounts, &services);
    Ok(MapOutput { accounts, services, summary })
}

/// How many accounts and services have each status.
pub fn summary(accounts: &[AccountMapping], services: &[ServiceMapping]) -> MapSummary {
    MapSummary {
        accounts: count_statuses(accounts.iter().map(|a| a.status)),
        services: count_statuses(services.iter().map(|s| s.status)),
    }
}

fn count_statuses(statuses: impl Iterator<Item = MapStatus>) -> StatusCounts {
    let mut counts = StatusCounts::default();
    for status in statuses {
        match status {
            MapStatus::Mapped => counts.mapped += 1,
            MapStatus::Unmapped => counts.unmapped += 1,
            MapStatus::Excluded => counts.excluded += 1,
        }
    }
    counts
}

fn default_services() -> Vec<MapService> {
    SERVICES.iter().map(|(id, name)| MapService { id: id.to_string(), name: name.to_string() }).collect()
}

// ---------------------------------------------------------------------------------------------
// Validation

fn validate(input: &MapInput) -> Result<()> {
    check_list_len("accounts", input.accounts.len())?;
    check_list_len("psa_companies", input.psa_companies.len())?;
    if let Some(services) = &input.services {
        check_list_len("services", services.len())?;
    }
    check_list_len("psa_products", input.psa_products.len())?;
    check_list_len("existing.accounts", input.existing.accounts.len())?;
    check_list_len("existing.services", input.existing.services.len())?;

    for (i, account) in input.accounts.iter().enumerate() {
        if let Some(display_name) = &account.display_name {
            check_name_len(|| format!("accounts[{i}].display_name"), display_name)?;
        }
    }
    check_entries("accounts", input.accounts.iter().map(|a| (a.id.as_str(), a.name.as_str())))?;
    check_entries("psa_companies", input.psa_companies.iter().map(|c| (c.id.as_str(), c.name.as_str())))?;
    if let Some(services) = &input.services {
        check_entries("services", services.iter().map(|s| (s.id.as_str(), s.name.as_str())))?;
    }
    check_entries("psa_products", input.psa_products.iter().map(|p| (p.id.as_str(), p.name.as_str())))?;
    Ok(())
}

fn check_list_len(field: &str, len: usize) -> Result<()> {
    if len > MAX_LIST_LEN {
        return Err(PluginError::invalid_input(field, format!("at most {MAX_LIST_LEN} entries allowed, got {len}")));
    }
    Ok(())
}

fn check_name_len(field: impl Fn() -> String, name: &str) -> Result<()> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(PluginError::invalid_input(&field(), format!("must be at most {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

/// Ids must be unique: a duplicate would make a mapping to that id ambiguous.
fn check_entries<'a>(list: &str, entries: impl Iterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let mut seen_ids = HashSet::new();
    for (i, (id, name)) in entries.enumerate() {
        if id.trim().is_empty() {
            return Err(PluginError::invalid_input(&format!("{list}[{i}].id"), "must not be empty"));
        }
        if name.trim().is_empty() {
            return Err(PluginError::invalid_input(&format!("{list}[{i}].name"), "must not be empty"));
        }
        check_name_len(|| format!("{list}[{i}].name"), name)?;
        if !seen_ids.insert(id) {
            return Err(PluginError::invalid_input(&format!("{list}[{i}].id"), format!("duplicate id {:?}", shown(id))));
        }
    }
    Ok(())
}

/// An id as an error quotes it: ids have no length limit, and a message should stay readable.
fn shown(id: &str) -> String {
    match id.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision<'a> {
    MappedTo(&'a str),
    Excluded,
}

/// Entries are `(subject id, target id, excluded)`; `list` is the field path such as
/// `existing.accounts`, whose entries have the fields `{noun}_id` and `target_field`.
fn existing_decisions<'a>(
    list: &str,
    noun: &str,
    target_field: &str,
    entries: impl Iterator<Item = (&'a str, Option<&'a str>, bool)>,
) -> Result<HashMap<&'a str, Decision<'a>>> {
    let mut decisions = HashMap::new();
    for (i, (subject_id, target_id, excluded)) in entries.enumerate() {
        if subject_id.trim().is_empty() {
            return Err(PluginError::invalid_input(&format!("{list}[{i}].{noun}_id"), "must not be empty"));
        }
        let decision = match (target_id, excluded) {
            (Some(target_id), false) => {
                if target_id.trim().is_empty() {
                    return Err(PluginError::invalid_input(
                        &format!("{list}[{i}].{target_field}"),
                        "must not be empty",
                    ));
                }
                Decision::MappedTo(target_id)
            }
            (None, true) => Decision::Excluded,
            _ => {
                return Err(PluginError::invalid_input(
                    &format!("{list}[{i}]"),
                    format!("give exactly one of {target_field} or excluded: true"),
                ))
            }
        };
        if decisions.insert(subject_id, decision).is_some() {
            return Err(PluginError::invalid_input(
                &format!("{list}[{i}].{noun}_id"),
                format!("duplicate entry for {noun} {:?}", shown(subject_id)),
            ));
        }
    }
    Ok(decisions)
}

// ---------------------------------------------------------------------------------------------
// Matching: the same rules for accounts onto companies and services onto products.

/// An account or service; `names` are matched in order (an account's display name first).
struct Subject<'a> {
    id: &'a str,
    names: Vec<&'a str>,
}

/// A PSA company or product.
struct Target<'a> {
    id: &'a str,
    name: &'a str,
}

struct Outcome<'a> {
    status: MapStatus,
    target_id: Option<&'a str>,
    match_kind: Option<MatchKind>,
    suggestions: Vec<Suggestion>,
}

fn match_subjects<'a>(
    subjects: &[Subject<'a>],
    targets: &[Target<'a>],
    decisions: &HashMap<&'a str, Decision<'a>>,
    noun: &str,
) -> Vec<Outcome<'a>> {
    let mut outcomes: Vec<Outcome<'a>> = subjects
        .iter()
        .map(|subject| {
            let (status, target_id, match_kind) = match decisions.get(subject.id) {
                Some(Decision::MappedTo(target_id)) => (MapStatus::Mapped, Some(*target_id), Some(MatchKind::Existing)),
                Some(Decision::Excluded) => (MapStatus::Excluded, None, Some(MatchKind::Existing)),
                None => (MapStatus::Unmapped, None, None),
            };
            Outcome { status, target_id, match_kind, suggestions: Vec::new() }
        })
        .collect();

    let target_by_id: HashMap<&str, usize> = targets.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    // Target index → the first subject (by input order) mapped onto it.
    let mut taken_by: HashMap<usize, usize> = HashMap::new();
    for (subject_index, outcome) in outcomes.iter().enumerate() {
        if let Some(target_index) = outcome.target_id.and_then(|id| target_by_id.get(id)) {
            taken_by.entry(*target_index).or_insert(subject_index);
        }
    }

    let target_exact_keys: Vec<String> = targets.iter().map(|t| exact_key(t.name)).collect();
    let mut targets_by_exact_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (target_index, key) in target_exact_keys.iter().enumerate() {
        targets_by_exact_key.entry(key.as_str()).or_default().push(target_index);
    }

    // Proposals are collected before any is applied, so that two subjects with the same name
    // cancel each other out whatever their order. Every subject whose names match a target
    // claims it, even one that matches several targets and so proposes nothing itself.
    let mut proposals: Vec<(usize, usize)> = Vec::new();
    let mut claims_per_target: HashMap<usize, usize> = HashMap::new();
    for (subject_index, subject) in subjects.iter().enumerate() {
        if outcomes[subject_index].status != MapStatus::Unmapped {
            continue;
        }
        let mut matches: Vec<usize> = subject
            .names
            .iter()
            .filter_map(|name| targets_by_exact_key.get(exact_key(name).as_str()))
            .flatten()
            .copied()
            .collect();
        matches.sort_unstable();
        matches.dedup();
        for &target_index in &matches {
            *claims_per_target.entry(target_index).or_default() += 1;
        }
        if let [target_index] = matches[..] {
            if !taken_by.contains_key(&target_index) {
                proposals.push((subject_index, target_index));
            }
        }
    }
    for (subject_index, target_index) in proposals {
        if claims_per_target.get(&target_index) == Some(&1) {
            if let (Some(outcome), Some(target)) = (outcomes.get_mut(subject_index), targets.get(target_index)) {
                outcome.status = MapStatus::Mapped;
                outcome.target_id = Some(target.id);
                outcome.match_kind = Some(MatchKind::Exact);
                taken_by.insert(target_index, subject_index);
            }
        }
    }

    let any_unmapped = outcomes.iter().any(|o| o.status == MapStatus::Unmapped);
    if any_unmapped && !targets.is_empty() {
        let mut index = SuggestionIndex::new(targets, &target_exact_keys);
        for (subject_index, subject) in subjects.iter().enumerate() {
            if outcomes[subject_index].status != MapStatus::Unmapped {
                continue;
            }
            let taken_note = |target_index: usize| {
                let subject_id = subjects.get(*taken_by.get(&target_index)?)?.id;
                Some(format!(" (already mapped to {noun} {subject_id})"))
            };
            outcomes[subject_index].suggestions = index.suggest(&subject.names, taken_note);
        }
    }
    outcomes
}

#[cfg(test)]
mod tests;
