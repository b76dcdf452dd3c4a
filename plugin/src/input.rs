//! Reading an entry point's JSON input: every failure names the field and what was expected,
//! and happens before any request.

use crate::error::{PluginError, Result};
use serde::de::DeserializeOwned;
use std::ops::Range;

/// Larger than any honest input (10,000 PSA companies are well under 2 MiB).
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;

/// No field takes a string anywhere near this long (names stop at 1,000 characters). Serde
/// quotes a misplaced string whole, escaped, in its error, so a few megabytes of one would cost
/// more than the plugin's memory: such strings are refused before serde reads them.
pub const MAX_STRING_BYTES: usize = 64 * 1024;

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(PluginError::invalid_input(
            "input",
            format!("is {} bytes; at most {MAX_INPUT_BYTES} are accepted", bytes.len()),
        ));
    }
    // A derived struct reads an array by position too, and its errors would then be at `[0]`,
    // which names no field; every entry point takes an object.
    if bytes.iter().find(|byte| !b" \t\n\r".contains(byte)) == Some(&b'[') {
        return Err(PluginError::invalid_input("input", "expected a JSON object, got an array"));
    }
    if let Some(long) = long_string(bytes) {
        return Err(refuse_long_string::<T>(bytes, long));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| refusal(&error))?;
    deserializer
        .end()
        .map_err(|error| PluginError::invalid_input("input", format!("trailing characters after the JSON object ({error})")))?;
    Ok(value)
}

fn refusal(error: &serde_path_to_error::Error<serde_json::Error>) -> PluginError {
    PluginError::invalid_input(&field_of(error.path()), clip(&error.inner().to_string(), 300, 100))
}

fn field_of(path: &serde_path_to_error::Path) -> String {
    // A trailing `?` marks a place between fields (such as a truncated end), not a field.
    let path = path.to_string();
    let path = path.trim_end_matches(".?").trim_end_matches('?');
    if path == "." || path.is_empty() {
        "input".to_string()
    } else {
        clip(path, 200, 0)
    }
}

/// Keys whose values may be long: a resume token of a large MSP carries its tenant list.
const LONG_STRING_KEYS: [&[u8]; 1] = [b"resume_token"];

/// The first JSON string, quotes included, longer than [`MAX_STRING_BYTES`] and not the value
/// of one of [`LONG_STRING_KEYS`].
fn long_string(bytes: &[u8]) -> Option<Range<usize>> {
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'"' {
            at += 1;
            continue;
        }
        let start = at;
        at += 1;
        while at < bytes.len() && bytes[at] != b'"' {
            at += if bytes[at] == b'\\' { 2 } else { 1 };
        }
        let end = (at + 1).min(bytes.len());
        if end - start > MAX_STRING_BYTES + 2 && !is_value_of_long_string_key(bytes, start) {
            return Some(start..end);
        }
        at = end;
    }
    None
}

/// Whether the string starting at `start` follows `"<key>":` for a key in [`LONG_STRING_KEYS`].
fn is_value_of_long_string_key(bytes: &[u8], start: usize) -> bool {
    let before = bytes[..start].trim_ascii_end();
    let Some(before) = before.strip_suffix(b":") else { return false };
    let before = before.trim_ascii_end();
    LONG_STRING_KEYS.iter().any(|key| {
        before.len() > key.len() + 1
            && before.ends_with(b"\"")
            && before[..before.len() - 1].ends_with(key)
            && before[before.len() - key.len() - 2] == b'"'
    })
}

/// Names the field that holds the long string: a copy of the input with the string swapped for
/// `!`, which cannot start a value, is read until it stops there. If it stops earlier, that
/// earlier problem is the input's first and is reported instead.
fn refuse_long_string<T: DeserializeOwned>(bytes: &[u8], long: Range<usize>) -> PluginError {
    let problem = format!("holds a string of {} bytes; no field takes more than {MAX_STRING_BYTES}", long.len().saturating_sub(2));
    let mut stand_in = Vec::with_capacity(bytes.len() - long.len() + 1);
    stand_in.extend_from_slice(&bytes[..long.start]);
    stand_in.push(b'!');
    stand_in.extend_from_slice(&bytes[long.end..]);
    let line = 1 + bytes[..long.start].iter().filter(|&&byte| byte == b'\n').count();
    let line_start = bytes[..long.start].iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    let column = long.start - line_start + 1;
    let mut deserializer = serde_json::Deserializer::from_slice(&stand_in);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(error) if error.inner().line() == line && (column..=column + 1).contains(&error.inner().column()) => {
            PluginError::invalid_input(&field_of(error.path()), problem)
        }
        Err(error) => refusal(&error),
        Ok(_) => PluginError::invalid_input("input", problem),
    }
}

/// Serde quotes the offending value or key: keep the start and the end, which says what was
/// expected and where.
fn clip(text: &str, head: usize, tail: usize) -> String {
    let chars = text.chars().count();
    if chars <= head + tail + 1 {
        return text.to_string();
    }
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(chars - tail).collect();
    format!("{start}…{end}")
}

/// A calendar date `YYYY-MM-DD`, checked for real (no 2026-02-30).
pub fn parse_date(field: &str, text: &str) -> Result<(i32, u32, u32)> {
    let invalid = || PluginError::invalid_input(field, format!("expected a date YYYY-MM-DD, got {:?}", clip(text, 40, 0)));
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| -> Result<u32> {
        let part = &text[range];
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        part.parse().map_err(|_| invalid())
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let year = year as i32;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(PluginError::invalid_input(field, format!("{text:?} is not a real calendar date")));
    }
    Ok((year, month, day))
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 (proleptic Gregorian), to compare and measure periods.
pub fn day_number((year, month, day): (i32, u32, u32)) -> i64 {
    let year = i64::from(if month <= 2 { year - 1 } else { year });
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        outer: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        list: Vec<u32>,
    }

    #[test]
    fn errors_name_the_field() {
        let error = parse::<Sample>(br#"{"outer": {"list": [1, "two"]}}"#).unwrap_err();
        assert!(error.message.starts_with("outer.list[1]: invalid type"), "{}", error.message);
        let error = parse::<Sample>(br#"{}"#).unwrap_err();
        assert!(error.message.starts_with("input: missing field `outer`"), "{}", error.message);
        let error = parse::<Sample>(br#"{"outer": {"list": []}, "extra": 1}"#).unwrap_err();
        assert!(error.message.contains("unknown field `extra`"), "{}", error.message);
        let error = parse::<Sample>(br#"{"outer": {"list": []}, "outer": {"list": []}}"#).unwrap_err();
        assert!(error.message.contains("duplicate field `outer`"), "{}", error.message);
        assert!(parse::<Sample>(b"\xff\xfe").is_err());
        assert!(parse::<Sample>(br#"{"outer": {"list": []}} x"#).unwrap_err().message.contains("trailing"));
        let error = parse::<Sample>(br#"{"outer": {"list": []}"#).unwrap_err();
        assert!(error.message.starts_with("input: EOF while parsing an object"), "{}", error.message);
        let error = parse::<Sample>(br#"{"outer": {"list": [1]"#).unwrap_err();
        assert!(error.message.starts_with("outer: EOF while parsing an object"), "{}", error.message);
        let deep = "[".repeat(10_000);
        assert!(parse::<serde_json::Value>(deep.as_bytes()).is_err());
        let deep = format!("{{\"outer\": {{\"list\": [], \"ignored\": {}{}}}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse::<Sample>(deep.as_bytes()).is_ok(), "an ignored field is skipped without recursion");
    }

    #[test]
    fn an_array_is_not_read_as_an_object_by_position() {
        let error = parse::<Sample>(b" \n[{\"list\": [1]}]").unwrap_err();
        assert_eq!(error.message, "input: expected a JSON object, got an array");
    }

    #[test]
    fn a_long_offending_value_is_quoted_only_in_part() {
        let long = "x".repeat(MAX_STRING_BYTES);
        let error = parse::<Sample>(format!("{{\"outer\": {{\"list\": [\"{long}\"]}}}}").as_bytes()).unwrap_err();
        assert!(error.message.starts_with("outer.list[0]: invalid type: string \"xxx"), "{}", &error.message[..100]);
        assert!(error.message.contains("x…x") && error.message.contains("x\", expected u32 at line 1 column"), "{}", error.message);
        assert!(error.message.chars().count() < 500);
        // An unknown key is both the path and the problem.
        let error = parse::<Sample>(format!("{{\"{long}\": 1}}").as_bytes()).unwrap_err();
        assert!(error.message.contains("x…: unknown field `xxx"), "{}", &error.message[..100]);
        assert!(error.message.chars().count() < 700);
    }

    #[test]
    fn a_string_longer_than_any_field_takes_is_refused_naming_its_field() {
        let huge = "\u{200B}".repeat(2_000_000);
        let refused = |text: String| parse::<Sample>(text.as_bytes()).unwrap_err().message;
        let expected = |field: &str| format!("{field}: holds a string of 6000000 bytes; no field takes more than {MAX_STRING_BYTES}");
        assert_eq!(refused(format!("{{\"outer\": {{\"list\": [1, \"{huge}\"]}}}}")), expected("outer.list[1]"));
        assert_eq!(refused(format!("{{\n  \"outer\":\n    \"{huge}\"}}")), expected("outer"));
        assert_eq!(refused(format!("{{\"outer\": {{\"{huge}\": 1, \"list\": []}}}}")), expected("outer"));
        assert_eq!(refused(format!("{{\"outer\": {{\"list\": [], \"ignored\": [\"{huge}\"]}}}}")), expected("outer.ignored"));
        // A problem before the long string is the input's first, and is said as usual.
        assert!(refused(format!("{{\"extra\": 1, \"outer\": \"{huge}\"}}")).starts_with("extra: unknown field `extra`"));
        let escaped = format!("{{\"outer\": \"{}\"}}", "\\\"".repeat(MAX_STRING_BYTES));
        assert!(refused(escaped).starts_with("outer: holds a string of 131072 bytes"));
        assert!(parse::<Sample>(format!("{{\"outer\": {{\"list\": [], \"note\": \"{}\"}}}}", "y".repeat(MAX_STRING_BYTES)).as_bytes()).is_ok());
        assert!(parse::<Sample>(b"{\"outer\": \"\\").is_err(), "an unterminated string ends the scan");
    }

    #[test]
    fn a_long_resume_token_is_read_but_a_long_string_elsewhere_is_not() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct WithToken {
            resume_token: String,
            note: Option<String>,
        }
        let token = "t".repeat(MAX_STRING_BYTES * 4);
        let parsed = parse::<WithToken>(format!("{{\"note\": \"x\", \"resume_token\" : \"{token}\"}}").as_bytes()).unwrap();
        assert_eq!(parsed.resume_token.len(), token.len());
        let error = parse::<WithToken>(format!("{{\"resume_token\": \"t\", \"note\": \"{token}\"}}").as_bytes()).unwrap_err();
        assert!(error.message.starts_with("note: holds a string of"), "{}", error.message);
        let error = parse::<WithToken>(format!("{{\"xresume_token\": \"{token}\"}}").as_bytes()).unwrap_err();
        assert!(error.message.contains("holds a string of"), "{}", error.message);
    }

    #[test]
    fn dates_must_exist() {
        assert_eq!(parse_date("d", "2024-02-29").unwrap(), (2024, 2, 29));
        for bad in ["2026-02-29", "2026-02-30", "2026-13-01", "2026-00-10", "2026-1-01", "26-01-01", "2026-01-01T00", "２０２６-01-01", "2026-04-31"] {
            let error = parse_date("billing_period.from", bad).unwrap_err();
            assert!(error.message.starts_with("billing_period.from: "), "{bad}: {}", error.message);
        }
    }

    #[test]
    fn a_long_date_is_quoted_only_in_part() {
        let error = parse_date("billing_period.from", &"2026-11-01".repeat(6_000)).unwrap_err();
        assert_eq!(error.message, format!("billing_period.from: expected a date YYYY-MM-DD, got {:?}", format!("{}…", &"2026-11-01".repeat(4))));
    }

    #[test]
    fn day_numbers_count_days() {
        assert_eq!(day_number((1970, 1, 1)), 0);
        assert_eq!(day_number((2026, 12, 1)) - day_number((2026, 11, 1)), 30);
        assert_eq!(day_number((2025, 3, 1)) - day_number((2024, 2, 28)), 367);
    }
}
