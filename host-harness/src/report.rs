//! What a person reads: a terminal table of accounts and service counts, and the CSV a billing
//! team opens in a spreadsheet (one row per account and service).

use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;

const COLUMNS: [(&str, &str); 9] = [
    ("total_billable_devices", "Billable"),
    ("firewalls", "FW"),
    ("controllers", "Ctrl"),
    ("routers", "Rtr"),
    ("layer_3_switches", "L3"),
    ("voip_switches", "VoIP"),
    ("switch_stacks", "Stack"),
    ("total_switches", "Sw"),
    ("access_points", "AP"),
];

/// PSA company per account id from a `map` output: "name (exact)" or "unmapped".
pub fn companies_from_map(map_output: &Value, psa_companies: &Value) -> HashMap<String, String> {
    let names: HashMap<&str, &str> = psa_companies
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|company| Some((company["id"].as_str()?, company["name"].as_str()?)))
        .collect();
    map_output["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let id = row["account_id"].as_str()?.to_string();
            let text = match row["status"].as_str()? {
                "mapped" => {
                    let company = row["psa_company_id"].as_str().unwrap_or("?");
                    format!("{} ({})", names.get(company).copied().unwrap_or(company), row["match"].as_str().unwrap_or("?"))
                }
                "excluded" => "excluded".to_string(),
                _ => match row["suggestions"].get(0) {
                    Some(best) => format!("unmapped; try {:?}", best["name"].as_str().unwrap_or("?")),
                    None => "unmapped".to_string(),
                },
            };
            Some((id, text))
        })
        .collect()
}

pub fn sync_table(sync_output: &Value, companies: &HashMap<String, String>) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["Account".to_string(), "Status".to_string()];
    header.extend(COLUMNS.iter().map(|(_, title)| title.to_string()));
    header.push("Avg".to_string());
    if !companies.is_empty() {
        header.push("PSA company".to_string());
    }
    rows.push(header);
    let mut notes = Vec::new();
    for account in sync_output["accounts"].as_array().into_iter().flatten() {
        let id = account["account_id"].as_str().unwrap_or("?");
        let mut row = vec![account["name"].as_str().unwrap_or(id).to_string(), account["status"].as_str().unwrap_or("?").to_string()];
        for (service, _) in COLUMNS {
            row.push(account["counts"][service].as_u64().map_or("-".to_string(), |count| count.to_string()));
        }
        row.push(account["average_billable_devices"].as_f64().map_or("-".to_string(), |average| format!("{average:.2}")));
        if !companies.is_empty() {
            row.push(companies.get(id).cloned().unwrap_or_default());
        }
        if let Some(error) = account.get("error") {
            notes.push(format!("{}: {} {}", account["name"].as_str().unwrap_or(id), error["code"].as_str().unwrap_or(""), error["message"].as_str().unwrap_or("")));
        }
        rows.push(row);
    }
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|column| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| {
                let numeric = (2..2 + COLUMNS.len() + 1).contains(&column);
                if numeric {
                    format!("{cell:>width$}", width = widths[column])
                } else {
                    format!("{cell:<width$}", width = widths[column])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNot counted (never billed as zero):");
        for note in notes {
            let _ = writeln!(out, "  {note}");
        }
    }
    let stats = &sync_output["stats"];
    let _ = writeln!(
        out,
        "\n{} requests to Auvik, {} devices read{}",
        stats["requests"],
        stats["devices_seen"],
        if sync_output["complete"] == Value::Bool(true) { "" } else { " (incomplete: call again with the resume token)" }
    );
    out
}

/// One row per account and service, with a header.
pub fn sync_csv(sync_output: &Value) -> String {
    let mut out = String::from("account_id,account_name,status,service_id,quantity,average_billable_devices,error_code\n");
    for account in sync_output["accounts"].as_array().into_iter().flatten() {
        for (service, _) in COLUMNS {
            let fields = [
                account["account_id"].as_str().unwrap_or("").to_string(),
                account["name"].as_str().unwrap_or("").to_string(),
                account["status"].as_str().unwrap_or("").to_string(),
                service.to_string(),
                account["counts"][service].as_u64().map(|count| count.to_string()).unwrap_or_default(),
                account["average_billable_devices"].as_f64().map(|average| average.to_string()).unwrap_or_default(),
                account["error"]["code"].as_str().unwrap_or("").to_string(),
            ];
            let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// Quotes when needed, and defuses cells a spreadsheet would run as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output() -> Value {
        json!({"complete": true, "stats": {"requests": 3, "devices_seen": 5}, "accounts": [
            {"account_id": "1", "name": "acme", "status": "ok", "average_billable_devices": 2.5,
             "counts": {"total_billable_devices": 4, "firewalls": 1, "controllers": 0, "routers": 1, "layer_3_switches": 0,
                        "voip_switches": 0, "switch_stacks": 0, "total_switches": 2, "access_points": 1}},
            {"account_id": "2", "name": "=evil,co", "status": "unavailable", "counts": null, "average_billable_devices": null,
             "error": {"code": "forbidden", "message": "no"}}]})
    }

    #[test]
    fn the_table_shows_counts_and_says_why_an_account_has_none() {
        let table = sync_table(&output(), &HashMap::from([("1".to_string(), "Acme (exact)".to_string())]));
        let acme = table.lines().find(|line| line.starts_with("acme")).unwrap();
        let cells: Vec<&str> = acme.split_whitespace().collect();
        assert_eq!(&cells[..12], ["acme", "ok", "4", "1", "0", "1", "0", "0", "0", "2", "1", "2.50"]);
        assert!(acme.ends_with("Acme (exact)"));
        assert!(table.contains("=evil,co: forbidden no"));
        assert!(table.contains("3 requests to Auvik, 5 devices read"));
    }

    #[test]
    fn the_csv_has_a_row_per_account_and_service_and_is_safe_to_open() {
        let csv = sync_csv(&output());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * 9);
        assert_eq!(lines[1], "1,acme,ok,total_billable_devices,4,2.5,");
        assert_eq!(lines[10], "2,\"'=evil,co\",unavailable,total_billable_devices,,,forbidden");
    }
}
