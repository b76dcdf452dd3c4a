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
mod tests {
    use super::suggest::round3;
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    fn account(id: &str, name: &str) -> MapAccount {
        MapAccount { id: id.into(), name: name.into(), display_name: None }
    }

    fn account_shown_as(id: &str, name: &str, display_name: &str) -> MapAccount {
        MapAccount { id: id.into(), name: name.into(), display_name: Some(display_name.into()) }
    }

    fn entry(id: &str, name: &str) -> PsaEntry {
        PsaEntry { id: id.into(), name: name.into() }
    }

    fn mapped_to(account_id: &str, psa_company_id: &str) -> ExistingAccount {
        ExistingAccount { account_id: account_id.into(), psa_company_id: Some(psa_company_id.into()), excluded: false }
    }

    fn excluded(account_id: &str) -> ExistingAccount {
        ExistingAccount { account_id: account_id.into(), psa_company_id: None, excluded: true }
    }

    fn input(accounts: Vec<MapAccount>, psa_companies: Vec<PsaEntry>) -> MapInput {
        MapInput {
            accounts,
            psa_companies,
            services: Some(Vec::new()),
            psa_products: Vec::new(),
            existing: ExistingMappings::default(),
        }
    }

    fn map_accounts(accounts: Vec<MapAccount>, psa_companies: Vec<PsaEntry>) -> Vec<AccountMapping> {
        map(input(accounts, psa_companies)).expect("valid input").accounts
    }

    fn row<'o>(rows: &'o [AccountMapping], account_id: &str) -> &'o AccountMapping {
        rows.iter().find(|r| r.account_id == account_id).expect("row for account")
    }

    fn assert_mapped_exact(row: &AccountMapping, psa_company_id: &str) {
        assert_eq!(row.status, MapStatus::Mapped, "{row:?}");
        assert_eq!(row.psa_company_id.as_deref(), Some(psa_company_id), "{row:?}");
        assert_eq!(row.match_kind, Some(MatchKind::Exact), "{row:?}");
        assert!(row.suggestions.is_empty(), "{row:?}");
    }

    fn assert_unmapped(row: &AccountMapping) {
        assert_eq!(row.status, MapStatus::Unmapped, "{row:?}");
        assert_eq!(row.psa_company_id, None, "{row:?}");
        assert_eq!(row.match_kind, None, "{row:?}");
    }

    fn suggested_ids(row: &AccountMapping) -> Vec<&str> {
        row.suggestions.iter().map(|s| s.psa_company_id.as_str()).collect()
    }

    fn invalid_input_message(input: MapInput) -> String {
        let error = map(input).expect_err("invalid input");
        assert_eq!(error.code, ErrorCode::InvalidInput);
        error.message
    }

    // Rule 1: existing decisions win and are kept exactly as given.

    #[test]
    fn existing_mapping_wins_over_an_exact_match_and_keeps_an_unknown_psa_id() {
        let mut map_input = input(
            vec![account("a1", "Acme Dental"), account("a2", "Globex")],
            vec![entry("c1", "Acme Dental"), entry("c2", "Globex")],
        );
        map_input.existing.accounts = vec![mapped_to("a1", "gone-from-psa"), mapped_to("a2", "c1")];
        let rows = map(map_input).expect("valid").accounts;
        for (row, psa_id) in rows.iter().zip(["gone-from-psa", "c1"]) {
            assert_eq!(row.status, MapStatus::Mapped);
            assert_eq!(row.psa_company_id.as_deref(), Some(psa_id));
            assert_eq!(row.match_kind, Some(MatchKind::Existing));
            assert!(row.suggestions.is_empty());
        }
    }

    #[test]
    fn existing_exclusion_wins_over_an_exact_match() {
        let mut map_input = input(vec![account("a1", "Acme Dental")], vec![entry("c1", "Acme Dental")]);
        map_input.existing.accounts = vec![excluded("a1")];
        let rows = map(map_input).expect("valid").accounts;
        assert_eq!(rows[0].status, MapStatus::Excluded);
        assert_eq!(rows[0].psa_company_id, None);
        assert_eq!(rows[0].match_kind, Some(MatchKind::Existing));
        assert!(rows[0].suggestions.is_empty());
    }

    #[test]
    fn output_keeps_input_order_and_ignores_existing_entries_for_other_accounts() {
        let mut map_input = input(
            vec![account("z", "Zeta"), account("a", "Alpha"), account("m", "Mu")],
            vec![entry("c-alpha", "Alpha"), entry("c-zeta", "Zeta")],
        );
        map_input.existing.accounts = vec![mapped_to("not-an-input-account", "c-zeta"), excluded("m")];
        let rows = map(map_input).expect("valid").accounts;
        let ids: Vec<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
        assert_eq!(ids, ["z", "a", "m"]);
        assert_mapped_exact(&rows[0], "c-zeta");
        assert_mapped_exact(&rows[1], "c-alpha");
        assert_eq!(rows[2].status, MapStatus::Excluded);
    }

    #[test]
    fn duplicate_existing_entries_for_one_account_are_invalid() {
        let mut map_input = input(vec![account("a1", "Acme")], vec![]);
        map_input.existing.accounts = vec![mapped_to("a1", "c1"), excluded("x"), excluded("a1")];
        assert_eq!(
            invalid_input_message(map_input),
            "existing.accounts[2].account_id: duplicate entry for account \"a1\""
        );
    }

    #[test]
    fn existing_entry_needs_exactly_one_of_company_or_exclusion() {
        for (psa_company_id, is_excluded) in [(None, false), (Some("c1".to_string()), true)] {
            let mut map_input = input(vec![account("a1", "Acme")], vec![]);
            map_input.existing.accounts = vec![
                excluded("a0"),
                ExistingAccount { account_id: "a1".into(), psa_company_id, excluded: is_excluded },
            ];
            assert_eq!(
                invalid_input_message(map_input),
                "existing.accounts[1]: give exactly one of psa_company_id or excluded: true"
            );
        }
        let mut map_input = input(vec![account("a1", "Acme")], vec![]);
        map_input.existing.accounts = vec![mapped_to("a1", "  ")];
        assert_eq!(invalid_input_message(map_input), "existing.accounts[0].psa_company_id: must not be empty");
        let mut map_input = input(vec![account("a1", "Acme")], vec![]);
        map_input.existing.accounts = vec![mapped_to("", "c1")];
        assert_eq!(invalid_input_message(map_input), "existing.accounts[0].account_id: must not be empty");
    }

    #[test]
    fn existing_services_follow_the_same_rules() {
        let mut map_input = input(vec![], vec![]);
        map_input.services = None;
        map_input.psa_products = vec![entry("p-fw", "Firewalls"), entry("p-rt", "Routers")];
        map_input.existing.services = vec![
            ExistingService {
                service_id: "firewalls".into(),
                psa_product_id: Some("p-custom".into()),
                excluded: false,
            },
            ExistingService { service_id: "routers".into(), psa_product_id: None, excluded: true },
            ExistingService {
                service_id: "not-a-service".into(),
                psa_product_id: Some("p-rt".into()),
                excluded: false,
            },
        ];
        let services = map(map_input.clone()).expect("valid").services;
        assert_eq!(services.len(), 9);
        let firewalls = &services[1];
        assert_eq!(firewalls.service_id, "firewalls");
        assert_eq!(firewalls.status, MapStatus::Mapped);
        assert_eq!(firewalls.psa_product_id.as_deref(), Some("p-custom"));
        assert_eq!(firewalls.match_kind, Some(MatchKind::Existing));
        let routers = &services[3];
        assert_eq!((routers.status, routers.match_kind), (MapStatus::Excluded, Some(MatchKind::Existing)));

        map_input.existing.services.push(ExistingService {
            service_id: "firewalls".into(),
            psa_product_id: None,
            excluded: true,
        });
        assert_eq!(
            invalid_input_message(map_input.clone()),
            "existing.services[3].service_id: duplicate entry for service \"firewalls\""
        );
        map_input.existing.services =
            vec![ExistingService { service_id: "firewalls".into(), psa_product_id: None, excluded: false }];
        assert_eq!(
            invalid_input_message(map_input),
            "existing.services[0]: give exactly one of psa_product_id or excluded: true"
        );
    }

    // Rule 2: only exact names (case and spacing aside) are mapped, and only when unique.

    #[test]
    fn exact_match_ignores_case_and_runs_of_unicode_whitespace() {
        let rows = map_accounts(
            vec![
                account("a1", "  acme\u{00A0}\t DENTAL "),
                account("a2", "ÉCOLE Saint-Jean"),
                account("a3", "Initech"),
            ],
            vec![entry("c1", "Acme Dental"), entry("c2", "école saint-jean"), entry("c3", "Initech\u{2003}")],
        );
        assert_mapped_exact(&rows[0], "c1");
        assert_mapped_exact(&rows[1], "c2");
        assert_mapped_exact(&rows[2], "c3");
    }

    #[test]
    fn exact_match_uses_display_name_or_name() {
        let rows = map_accounts(
            vec![
                account_shown_as("a1", "acme-hq-tenant", "Acme Dental"),
                account_shown_as("a2", "Globex", "Globex Corporation (do not use)"),
                account_shown_as("a3", "Initech", "   "),
            ],
            vec![entry("c1", "Acme Dental"), entry("c2", "Globex"), entry("c3", "Initech")],
        );
        assert_mapped_exact(&rows[0], "c1");
        assert_mapped_exact(&rows[1], "c2");
        assert_mapped_exact(&rows[2], "c3");
    }

    #[test]
    fn nothing_looser_than_exact_is_mapped_automatically() {
        let rows = map_accounts(
            vec![account("a1", "Acme Dental Inc."), account("a2", "Smith & Jones"), account("a3", "Hooli, LLC")],
            vec![entry("c1", "Acme Dental Inc"), entry("c2", "Smith and Jones"), entry("c3", "Hooli")],
        );
        for (row, company) in rows.iter().zip(["c1", "c2", "c3"]) {
            assert_unmapped(row);
            assert_eq!(suggested_ids(row).first(), Some(&company), "{row:?}");
            assert_eq!(row.suggestions[0].score, 1.0);
        }
    }

    #[test]
    fn two_psa_companies_with_the_same_name_map_nothing() {
        let rows = map_accounts(
            vec![account("a1", "Acme")],
            vec![entry("c1", "Acme"), entry("c2", "ACME "), entry("c3", "Other")],
        );
        assert_unmapped(&rows[0]);
        // Same name apart from case: the tie goes to the raw name, where "ACME " sorts first.
        assert_eq!(suggested_ids(&rows[0]), ["c2", "c1"]);
        assert!(rows[0].suggestions[0].reason.contains("not unique"), "{:?}", rows[0].suggestions[0]);
    }

    #[test]
    fn display_name_and_name_matching_different_companies_map_nothing() {
        let rows = map_accounts(
            vec![account_shown_as("a1", "Acme Legacy", "Acme")],
            vec![entry("c1", "Acme"), entry("c2", "Acme Legacy")],
        );
        assert_unmapped(&rows[0]);
        let mut ids = suggested_ids(&rows[0]);
        ids.sort_unstable();
        assert_eq!(ids, ["c1", "c2"]);
    }

    #[test]
    fn an_account_matching_two_companies_still_blocks_each_of_them() {
        // a2 proposes nothing (two matches), yet "Acme" is not unique to a1.
        let companies = vec![entry("c1", "Acme"), entry("c2", "Acme Legacy")];
        for accounts in [
            vec![account("a1", "Acme"), account_shown_as("a2", "Acme Legacy", "Acme")],
            vec![account_shown_as("a2", "Acme Legacy", "Acme"), account("a1", "Acme")],
        ] {
            let rows = map_accounts(accounts, companies.clone());
            assert!(rows.iter().all(|row| row.status == MapStatus::Unmapped), "{rows:?}");
            let a1 = row(&rows, "a1");
            assert_eq!(suggested_ids(a1).first(), Some(&"c1"));
            assert!(a1.suggestions[0].reason.ends_with("not mapped automatically because the match is not unique"));
        }
    }

    #[test]
    fn display_name_and_name_matching_the_same_company_map_it() {
        let rows = map_accounts(vec![account_shown_as("a1", "acme", "ACME")], vec![entry("c1", "Acme")]);
        assert_mapped_exact(&rows[0], "c1");
    }

    #[test]
    fn two_accounts_with_the_same_name_map_neither_whatever_their_order() {
        let companies = vec![entry("c1", "Acme"), entry("c2", "Globex")];
        for accounts in [
            vec![account("a1", "Acme"), account("a2", "acme"), account("g", "Globex")],
            vec![account("g", "Globex"), account("a2", "acme"), account("a1", "Acme")],
            vec![account("a1", "Acme Old"), account_shown_as("a2", "x", "Acme"), account("g", "Globex")],
        ] {
            let mut accounts = accounts;
            if accounts[0].name == "Acme Old" {
                accounts[0].display_name = Some("acme".into());
            }
            let rows = map_accounts(accounts, companies.clone());
            assert_unmapped(row(&rows, "a1"));
            assert_unmapped(row(&rows, "a2"));
            assert_mapped_exact(row(&rows, "g"), "c2");
            assert_eq!(suggested_ids(row(&rows, "a1")), ["c1"]);
            assert_eq!(suggested_ids(row(&rows, "a2")), ["c1"]);
        }
    }

    #[test]
    fn a_company_taken_by_an_existing_mapping_is_not_mapped_again() {
        let mut map_input = input(
            vec![account("a1", "Acme Dental"), account("a2", "Old Acme Tenant")],
            vec![entry("c1", "Acme Dental")],
        );
        map_input.existing.accounts = vec![mapped_to("a2", "c1")];
        let rows = map(map_input).expect("valid").accounts;
        assert_unmapped(&rows[0]);
        assert_eq!(suggested_ids(&rows[0]), ["c1"]);
        assert_eq!(rows[0].suggestions[0].score, 1.0);
        assert!(
            rows[0].suggestions[0].reason.ends_with("(already mapped to account a2)"),
            "{}",
            rows[0].suggestions[0].reason
        );
    }

    #[test]
    fn an_excluded_account_takes_no_company() {
        let mut map_input = input(vec![account("a1", "Acme"), account("a2", "Acme")], vec![entry("c1", "Acme")]);
        map_input.existing.accounts = vec![excluded("a1")];
        let rows = map(map_input).expect("valid").accounts;
        assert_eq!(rows[0].status, MapStatus::Excluded);
        assert_mapped_exact(&rows[1], "c1");
    }

    #[test]
    fn services_default_to_the_plugins_nine_in_order_and_match_products_exactly() {
        let mut map_input = input(vec![], vec![]);
        map_input.services = None;
        map_input.psa_products = vec![
            entry("p1", "firewalls"),
            entry("p2", "Layer 3  Switches"),
            entry("p3", "Auvik Access Points"),
            entry("p4", "Routers"),
            entry("p5", "Routers"),
        ];
        let output = map(map_input).expect("valid");
        let ids: Vec<&str> = output.services.iter().map(|s| s.service_id.as_str()).collect();
        let expected: Vec<&str> = SERVICES.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, expected);
        let by_id = |id: &str| output.services.iter().find(|s| s.service_id == id).expect("service");
        assert_eq!(by_id("firewalls").psa_product_id.as_deref(), Some("p1"));
        assert_eq!(by_id("firewalls").match_kind, Some(MatchKind::Exact));
        assert_eq!(by_id("layer_3_switches").psa_product_id.as_deref(), Some("p2"));
        let access_points = by_id("access_points");
        assert_eq!(access_points.status, MapStatus::Unmapped);
        assert_eq!(access_points.suggestions.first().map(|s| s.psa_product_id.as_str()), Some("p3"));
        assert_eq!(by_id("routers").status, MapStatus::Unmapped);
        assert_eq!(output.summary.services, StatusCounts { mapped: 2, unmapped: 7, excluded: 0 });
    }

    #[test]
    fn given_services_replace_the_defaults() {
        let mut map_input = input(vec![], vec![]);
        map_input.services = Some(vec![MapService { id: "s1".into(), name: "Managed Wi-Fi".into() }]);
        map_input.psa_products = vec![entry("p1", "managed wi-fi")];
        let services = map(map_input).expect("valid").services;
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].service_id, "s1");
        assert_eq!(services[0].psa_product_id.as_deref(), Some("p1"));
    }

    #[test]
    fn two_services_with_the_same_name_map_neither() {
        let mut map_input = input(vec![], vec![]);
        map_input.services = Some(vec![
            MapService { id: "s1".into(), name: "Routers".into() },
            MapService { id: "s2".into(), name: "routers".into() },
        ]);
        map_input.psa_products = vec![entry("p1", "Routers")];
        let services = map(map_input).expect("valid").services;
        assert!(services.iter().all(|s| s.status == MapStatus::Unmapped && s.psa_product_id.is_none()));
        assert!(services.iter().all(|s| s.suggestions.len() == 1));
    }

    // Rule 3: suggestions.

    #[test]
    fn equal_normalised_names_score_one_with_a_checkable_reason() {
        let rows = map_accounts(vec![account("a1", "ACME Dental, Inc.")], vec![entry("c1", "Acme Dental LLC")]);
        assert_unmapped(&rows[0]);
        let suggestion = &rows[0].suggestions[0];
        assert_eq!(suggestion.score, 1.0);
        assert_eq!(suggestion.name, "Acme Dental LLC");
        assert_eq!(
            suggestion.reason,
            "same name after removing legal suffixes and punctuation: 'acme dental' = 'acme dental'"
        );
    }

    #[test]
    fn similar_names_score_below_one_and_name_the_shared_words() {
        let rows = map_accounts(
            vec![account("a1", "Acme Dental")],
            vec![entry("c1", "Acme Dental Group"), entry("c2", "Acme Plumbing"), entry("c3", "Unrelated")],
        );
        assert_eq!(suggested_ids(&rows[0]), ["c1"]);
        let suggestion = &rows[0].suggestions[0];
        assert!((0.5..1.0).contains(&suggestion.score), "{suggestion:?}");
        assert_eq!(suggestion.score, round3(suggestion.score));
        assert_eq!(suggestion.reason, "2 of 3 words shared: acme, dental ('acme dental' vs 'acme dental group')");
    }

    #[test]
    fn reordered_words_never_score_one() {
        let rows = map_accounts(vec![account("a1", "Dental Acme")], vec![entry("c1", "Acme Dental")]);
        let score = rows[0].suggestions[0].score;
        assert!((0.5..1.0).contains(&score), "{score}");
    }

    #[test]
    fn suggestions_are_at_most_five_best_first_ties_by_name_then_id() {
        let rows = map_accounts(
            vec![account("a1", "Acme")],
            vec![
                entry("c9", "Acme Dental"),
                entry("c8", "Acme Co"),
                entry("c7", "ACME Ltd"),
                entry("c6", "Acme Dental"),
                entry("c5", "Acme Dentist"),
                entry("c4", "Acme Holdings Group International"),
                entry("c3", "Acme Ltd"),
            ],
        );
        let suggestions = &rows[0].suggestions;
        // Ties go to the name ignoring case, then the name as given, then the id.
        assert_eq!(suggested_ids(&rows[0]), ["c8", "c7", "c3", "c6", "c9"]);
        assert!(suggestions.windows(2).all(|pair| pair[0].score >= pair[1].score));
        assert_eq!(suggestions[0].score, 1.0);
        assert!(suggestions[3].score < 1.0);
    }

    #[test]
    fn weak_matches_are_not_suggested() {
        let rows = map_accounts(
            vec![account("a1", "Acme Dental")],
            vec![entry("c1", "Acme Plumbing and Heating Services"), entry("c2", "Totally Different")],
        );
        assert_unmapped(&rows[0]);
        assert!(rows[0].suggestions.is_empty(), "{:?}", rows[0].suggestions);
    }

    #[test]
    fn display_name_and_name_both_find_suggestions() {
        let rows = map_accounts(
            vec![account_shown_as("a1", "Globex Corp.", "Acme Dental Inc")],
            vec![entry("c1", "Acme Dental"), entry("c2", "Globex")],
        );
        let mut ids = suggested_ids(&rows[0]);
        ids.sort_unstable();
        assert_eq!(ids, ["c1", "c2"]);
    }

    #[test]
    fn a_company_taken_by_another_accounts_exact_match_is_suggested_with_a_note() {
        let rows = map_accounts(
            vec![account("a1", "Acme Dental"), account("a2", "Acme Dental Inc")],
            vec![entry("c1", "Acme Dental")],
        );
        assert_mapped_exact(&rows[0], "c1");
        assert_unmapped(&rows[1]);
        assert_eq!(suggested_ids(&rows[1]), ["c1"]);
        assert!(rows[1].suggestions[0].reason.ends_with(" (already mapped to account a1)"));
    }

    #[test]
    fn mapped_and_excluded_rows_have_no_suggestions() {
        let mut map_input =
            input(vec![account("a1", "Acme"), account("a2", "Acme Dental")], vec![entry("c1", "Acme Dental")]);
        map_input.existing.accounts = vec![excluded("a1")];
        let rows = map(map_input).expect("valid").accounts;
        assert!(rows.iter().all(|r| r.suggestions.is_empty()));
    }

    #[test]
    fn an_empty_psa_list_leaves_everything_unmapped_without_suggestions() {
        let mut map_input = input(vec![account("a1", "Acme"), account("a2", "Globex")], vec![]);
        map_input.services = None;
        let output = map(map_input).expect("valid");
        assert!(output.accounts.iter().all(|r| r.status == MapStatus::Unmapped && r.suggestions.is_empty()));
        assert!(output.services.iter().all(|r| r.status == MapStatus::Unmapped && r.suggestions.is_empty()));
        assert_eq!(output.summary.accounts, StatusCounts { mapped: 0, unmapped: 2, excluded: 0 });
        assert_eq!(output.summary.services, StatusCounts { mapped: 0, unmapped: 9, excluded: 0 });
    }

    #[test]
    fn names_of_only_punctuation_match_exactly_but_suggest_nothing() {
        let rows = map_accounts(
            vec![account("a1", "???"), account("a2", "---")],
            vec![entry("c1", "!!!"), entry("c2", "---")],
        );
        assert_unmapped(&rows[0]);
        assert!(rows[0].suggestions.is_empty());
        assert_mapped_exact(&rows[1], "c2");
    }

    // Rule 4: candidates come from an index, and common words do not flood it.

    #[test]
    fn common_words_are_skipped_only_when_the_query_has_rarer_ones() {
        let mut companies: Vec<PsaEntry> =
            (0..200).map(|i| entry(&format!("d{i}"), &format!("Clinic{i} Dental"))).collect();
        companies.push(entry("target", "Bright Smile Dental Care"));
        companies.push(entry("solo", "Dental Care"));
        let rows = map_accounts(vec![account("a1", "Bright Smile Dental"), account("a2", "Dental")], companies);
        assert_eq!(suggested_ids(&rows[0]).first(), Some(&"target"));
        assert_eq!(suggested_ids(&rows[1]).first(), Some(&"solo"), "{:?}", rows[1].suggestions);
        assert_eq!(rows[1].suggestions.len(), 5);
    }

    #[test]
    fn a_thousand_accounts_against_ten_thousand_companies() {
        const FIRST: [&str; 20] = [
            "Northwind",
            "Contoso",
            "Fabrikam",
            "Tailspin",
            "Wingtip",
            "Litware",
            "Adventure",
            "Proseware",
            "Lucerne",
            "Margie",
            "Alpine",
            "Blue",
            "Coho",
            "Consolidated",
            "Fourth",
            "Graphic",
            "Humongous",
            "Southridge",
            "Trey",
            "Wide",
        ];
        const TRADE: [&str; 10] =
            ["Dental", "Legal", "Plumbing", "Logistics", "Clinic", "Bakery", "Motors", "Realty", "Design", "Labs"];
        let company_name = |i: usize| format!("{} {} Client {i:05} LLC", FIRST[i % 20], TRADE[(i / 20) % 10]);
        let companies: Vec<PsaEntry> = (0..10_000).map(|i| entry(&format!("c{i}"), &company_name(i))).collect();
        let accounts: Vec<MapAccount> = (0..1_000)
            .map(|j| {
                let i = j * 10;
                let name = match j % 4 {
                    0 => company_name(i).to_uppercase(),
                    1 => company_name(i).replace(" LLC", ", Inc."),
                    2 => format!("{} {} Clinet {i:05}", FIRST[i % 20], TRADE[(i / 20) % 10]),
                    _ => format!("Unknown Tenant {j}"),
                };
                account(&format!("a{j}"), &name)
            })
            .collect();
        let output = map(input(accounts, companies)).expect("valid");
        assert_eq!(output.accounts.len(), 1_000);
        assert_mapped_exact(&output.accounts[0], "c0");
        assert_mapped_exact(&output.accounts[996], "c9960");
        let suffix_changed = &output.accounts[1];
        assert_unmapped(suffix_changed);
        assert_eq!(suggested_ids(suffix_changed).first(), Some(&"c10"));
        assert_eq!(suffix_changed.suggestions[0].score, 1.0);
        let misspelt = &output.accounts[2];
        assert_unmapped(misspelt);
        assert_eq!(suggested_ids(misspelt).first(), Some(&"c20"), "{:?}", misspelt.suggestions);
        assert!(output.accounts[3].suggestions.is_empty());
        assert_eq!(output.summary.accounts, StatusCounts { mapped: 250, unmapped: 750, excluded: 0 });
    }

    // Rule 5: validation.

    #[test]
    fn empty_ids_and_names_are_invalid_with_their_path() {
        type Breakage = Box<dyn Fn(&mut MapInput)>;
        let cases: Vec<(Breakage, &str)> = vec![
            (Box::new(|i| i.accounts[1].id = " ".into()), "accounts[1].id: must not be empty"),
            (Box::new(|i| i.accounts[0].name = "\t".into()), "accounts[0].name: must not be empty"),
            (Box::new(|i| i.psa_companies[1].name = String::new()), "psa_companies[1].name: must not be empty"),
            (Box::new(|i| i.psa_companies[0].id = String::new()), "psa_companies[0].id: must not be empty"),
            (Box::new(|i| i.psa_products[1].name = " ".into()), "psa_products[1].name: must not be empty"),
            (Box::new(|i| i.psa_products[0].id = " ".into()), "psa_products[0].id: must not be empty"),
            (
                Box::new(|i| i.services = Some(vec![MapService { id: "s".into(), name: "".into() }])),
                "services[0].name: must not be empty",
            ),
            (
                Box::new(|i| i.services = Some(vec![MapService { id: "".into(), name: "S".into() }])),
                "services[0].id: must not be empty",
            ),
        ];
        for (break_input, expected) in cases {
            let mut map_input = input(
                vec![account("a1", "Acme"), account("a2", "Globex")],
                vec![entry("c1", "Acme"), entry("c2", "Globex")],
            );
            map_input.psa_products = vec![entry("p1", "Firewalls"), entry("p2", "Routers")];
            break_input(&mut map_input);
            assert_eq!(invalid_input_message(map_input), expected);
        }
    }

    #[test]
    fn duplicate_ids_are_invalid_with_their_path() {
        let companies: Vec<PsaEntry> = (0..8).map(|i| entry(&format!("c{}", i % 7), "Name")).collect();
        assert_eq!(invalid_input_message(input(vec![], companies)), "psa_companies[7].id: duplicate id \"c0\"");
        let accounts = vec![account("X", "A"), account("Y", "B"), account("X", "C")];
        assert_eq!(invalid_input_message(input(accounts, vec![])), "accounts[2].id: duplicate id \"X\"");
        let mut map_input = input(vec![], vec![]);
        map_input.psa_products = vec![entry("p", "A"), entry("p", "B")];
        assert_eq!(invalid_input_message(map_input), "psa_products[1].id: duplicate id \"p\"");
        let long = "i".repeat(60_000);
        let message = invalid_input_message(input(vec![account(&long, "A"), account(&long, "B")], vec![]));
        assert_eq!(message, format!("accounts[1].id: duplicate id \"{}…\"", "i".repeat(80)));
        let mut map_input = input(vec![], vec![]);
        map_input.existing.accounts = vec![excluded(&long), excluded(&long)];
        assert!(invalid_input_message(map_input).len() < 200);
    }

    #[test]
    fn names_up_to_a_thousand_characters_are_accepted() {
        let longest = "é".repeat(MAX_NAME_CHARS);
        let map_input = input(vec![account_shown_as("a1", &longest, &longest)], vec![entry("c1", &longest)]);
        assert_mapped_exact(&map(map_input).expect("valid").accounts[0], "c1");

        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        let message = invalid_input_message(input(vec![], vec![entry("c1", "A"), entry("c2", &too_long)]));
        assert_eq!(message, "psa_companies[1].name: must be at most 1000 characters");
        let message = invalid_input_message(input(vec![account_shown_as("a1", "A", &too_long)], vec![]));
        assert_eq!(message, "accounts[0].display_name: must be at most 1000 characters");
        let message = invalid_input_message(input(vec![account("a1", &too_long)], vec![]));
        assert_eq!(message, "accounts[0].name: must be at most 1000 characters");
    }

    #[test]
    fn lists_longer_than_the_limit_are_invalid() {
        let companies: Vec<PsaEntry> = (0..=MAX_LIST_LEN).map(|i| entry(&i.to_string(), "N")).collect();
        assert_eq!(
            invalid_input_message(input(vec![], companies)),
            "psa_companies: at most 100000 entries allowed, got 100001"
        );
        let mut map_input = input(vec![], vec![]);
        map_input.existing.accounts = (0..=MAX_LIST_LEN).map(|i| excluded(&i.to_string())).collect();
        assert_eq!(invalid_input_message(map_input), "existing.accounts: at most 100000 entries allowed, got 100001");
    }

    // Rule 6 and the JSON shape.

    #[test]
    fn odd_unicode_never_panics() {
        let names = [
            "a",
            "é",
            "e\u{301}",
            "👩‍👩‍👧",
            "İstanbul",
            "ß",
            "ǅ",
            "\u{200B}",
            "x\u{0}y",
            "&",
            "& &",
            "Co",
            "日本 株式会社",
            "\u{FEFF}Acme",
            "A\u{2028}B",
            "Ⅻ",
            "٣",
            "ﬁ",
        ];
        let accounts: Vec<MapAccount> =
            names.iter().enumerate().map(|(i, n)| account_shown_as(&format!("a{i}"), n, &n.repeat(3))).collect();
        let companies: Vec<PsaEntry> =
            names.iter().enumerate().map(|(i, n)| entry(&format!("c{i}"), &format!("{n} {n}"))).collect();
        let output = map(input(accounts, companies)).expect("valid");
        assert_eq!(output.accounts.len(), names.len());
    }

    #[test]
    fn output_json_has_the_documented_shape() {
        let mut map_input = input(
            vec![account("a1", "Acme"), account("a2", "Globex"), account("a3", "Initech")],
            vec![entry("c1", "Acme"), entry("c2", "Globex Ltd")],
        );
        map_input.existing.accounts = vec![excluded("a3")];
        let value = serde_json::to_value(map(map_input).expect("valid")).expect("serializes");
        assert_eq!(
            value["accounts"],
            json!([
                {"account_id": "a1", "status": "mapped", "psa_company_id": "c1", "match": "exact", "suggestions": []},
                {"account_id": "a2", "status": "unmapped", "psa_company_id": null, "match": null, "suggestions": [
                    {"psa_company_id": "c2", "name": "Globex Ltd", "score": 1.0, "reason":
                        "same name after removing legal suffixes and punctuation: 'globex' = 'globex'"}
                ]},
                {"account_id": "a3", "status": "excluded", "psa_company_id": null, "match": "existing", "suggestions": []},
            ])
        );
        assert_eq!(value["services"], json!([]));
        assert_eq!(
            value["summary"],
            json!({"accounts": {"mapped": 1, "unmapped": 1, "excluded": 1},
                   "services": {"mapped": 0, "unmapped": 0, "excluded": 0}})
        );
    }

    #[test]
    fn input_json_rejects_unknown_top_level_fields_but_accepts_extra_account_fields() {
        let accepted: MapInput = serde_json::from_value(json!({
            "accounts": [{"id": "a1", "name": "Acme", "tenant_type": "client", "parent_id": "p"}],
            "psa_companies": [{"id": "c1", "name": "Acme", "type": "customer"}],
            "psa_products": [],
            "existing": {"accounts": [{"account_id": "a1", "excluded": true}]}
        }))
        .expect("extra fields on echoed objects are fine");
        assert!(accepted.services.is_none());
        assert_eq!(map(accepted).expect("valid").services.len(), 9);

        for rejected in [
            json!({"accounts": [], "psa_companies": [], "psa_company": []}),
            json!({"accounts": [], "psa_companies": [], "existing": {"acounts": []}}),
            json!({"accounts": [], "psa_companies": [], "existing": {"accounts": [{"account_id": "a", "excluded": true, "note": 1}]}}),
            json!({"accounts": [], "psa_companies": [], "existing": {"services": [{"service_id": "s", "excluded": true, "x": 1}]}}),
        ] {
            assert!(serde_json::from_value::<MapInput>(rejected.clone()).is_err(), "{rejected}");
        }
    }

    #[test]
    fn the_schema_carries_field_descriptions() {
        let schema = serde_json::to_value(schemars::schema_for!(MapInput)).expect("schema serializes");
        let text = schema.to_string();
        assert!(text.contains("Absent means the plugin's nine services"), "{text}");
        let output_schema = serde_json::to_value(schemars::schema_for!(MapOutput)).expect("schema serializes");
        assert!(output_schema.to_string().contains("\"match\""));
    }

    #[test]
    fn summary_counts_each_status() {
        let row = |status| AccountMapping {
            account_id: "a".into(),
            status,
            psa_company_id: None,
            match_kind: None,
            suggestions: vec![],
        };
        let accounts =
            [row(MapStatus::Mapped), row(MapStatus::Unmapped), row(MapStatus::Excluded), row(MapStatus::Mapped)];
        let services = [ServiceMapping {
            service_id: "s".into(),
            status: MapStatus::Excluded,
            psa_product_id: None,
            match_kind: Some(MatchKind::Existing),
            suggestions: vec![],
        }];
        let counts = summary(&accounts, &services);
        assert_eq!(counts.accounts, StatusCounts { mapped: 2, unmapped: 1, excluded: 1 });
        assert_eq!(counts.services, StatusCounts { mapped: 0, unmapped: 0, excluded: 1 });
    }
}
