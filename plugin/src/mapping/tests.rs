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
