//! Reading `links.next`. The plugin never follows the link as given: it takes the cursor out
//! and re-issues its own query, so filters cannot be dropped and credentials cannot be sent to
//! a host the link names.

use super::url::{parse_absolute, query_pairs};
use serde_json::Value;

#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    End,
    After(String),
}

/// The cursor of the next page, or why the link cannot be trusted.
pub fn next_cursor(links: Option<&Value>, base_url: &str) -> Result<Next, String> {
    let links = match links {
        None | Some(Value::Null) => return Ok(Next::End),
        Some(Value::Object(links)) => links,
        Some(other) => return Err(format!("links is not an object: {}", short(&other.to_string()))),
    };
    let next = match links.get("next") {
        None | Some(Value::Null) => return Ok(Next::End),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(Next::End),
        Some(next) => next,
    };
    if let Some(cursor) = next.pointer("/meta/cursor").and_then(Value::as_str) {
        return non_empty(cursor);
    }
    let Some(link) = next.as_str() else {
        return Err(format!("links.next is neither a URL nor a cursor object: {}", short(&next.to_string())));
    };
    // `//host/...` (and `/\host/...`, which browsers read alike) names another host.
    let is_path = link.starts_with('/') && !link[1..].starts_with(['/', '\\']);
    let query = if is_path {
        link.split_once('?').map_or("", |(_, query)| query)
    } else {
        let parsed = parse_absolute(link).ok_or_else(|| format!("links.next is not a URL: {}", short(link)))?;
        let base = parse_absolute(base_url).map(|base| base.origin).unwrap_or_default();
        if parsed.origin != base {
            return Err(format!(
                "links.next points to another host ({}), not {}; not followed",
                short(&parsed.origin),
                base
            ));
        }
        parsed.query
    };
    let pairs = query_pairs(query).ok_or_else(|| format!("links.next has an undecodable query: {}", short(link)))?;
    match pairs.iter().find(|(key, _)| key == "page[after]") {
        Some((_, cursor)) => non_empty(cursor),
        None => Err(format!("links.next has no page[after] cursor: {}", short(link))),
    }
}

fn non_empty(cursor: &str) -> Result<Next, String> {
    if cursor.is_empty() {
        Err("links.next carries an empty cursor".to_string())
    } else {
        Ok(Next::After(cursor.to_string()))
    }
}

fn short(text: &str) -> String {
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "https://auvikapi.us1.my.auvik.com";

    fn next(links: Value) -> Result<Next, String> {
        next_cursor(Some(&links), BASE)
    }

    #[test]
    fn the_end_is_absent_null_or_empty() {
        assert_eq!(next_cursor(None, BASE), Ok(Next::End));
        assert_eq!(next(json!({"first": "x"})), Ok(Next::End));
        assert_eq!(next(json!({"next": null})), Ok(Next::End));
        assert_eq!(next(json!({"next": ""})), Ok(Next::End));
        assert_eq!(next(json!(null)), Ok(Next::End));
    }

    #[test]
    fn reads_the_cursor_with_raw_or_encoded_brackets() {
        let raw = format!("{BASE}/v1/inventory/device/info?tenants=1,2&page[first]=1000&page[after]=Y3Vyc29yOk1U");
        assert_eq!(next(json!({ "next": raw })), Ok(Next::After("Y3Vyc29yOk1U".into())));
        let encoded = format!("{BASE}/v1/inventory/device/info?page%5Bafter%5D=Y3Vy%3D&page%5Bfirst%5D=2");
        assert_eq!(next(json!({ "next": encoded })), Ok(Next::After("Y3Vy=".into())));
        assert_eq!(next(json!({"next": "/v1/x?page[after]=abc"})), Ok(Next::After("abc".into())));
        assert_eq!(next(json!({"next": {"meta": {"cursor": "c1"}}})), Ok(Next::After("c1".into())));
        let upper = "HTTPS://AUVIKAPI.US1.MY.AUVIK.COM/v1/x?page[after]=c2";
        assert_eq!(next(json!({ "next": upper })), Ok(Next::After("c2".into())));
    }

    #[test]
    fn refuses_links_to_other_hosts_or_without_a_cursor() {
        for link in [
            "https://auvikapi.us1.my.auvik.com.evil.example/v1/x?page[after]=c",
            "https://evil.example/v1/x?page[after]=c",
            "http://auvikapi.us1.my.auvik.com/v1/x?page[after]=c",
        ] {
            let error = next(json!({ "next": link })).unwrap_err();
            assert!(error.contains("another host"), "{error}");
        }
        assert!(next(json!({"next": format!("{BASE}/v1/x?page[first]=2")})).unwrap_err().contains("no page[after]"));
        assert!(next(json!({"next": format!("{BASE}/v1/x?page[after]=")})).is_err());
        for link in ["//evil.example/v1/x?page[after]=c", "/\\evil.example/v1/x?page[after]=c", "//https://auvikapi.us1.my.auvik.com?page[after]=c"] {
            assert!(next(json!({ "next": link })).is_err(), "{link}");
        }
        for links in [json!(["next"]), json!("next"), json!(5)] {
            assert!(next_cursor(Some(&links), BASE).unwrap_err().contains("links is not an object"), "{links}");
        }
        assert!(next(json!({"next": 42})).is_err());
        assert!(next(json!({"next": "not a url"})).is_err());
    }
}
