//! Reading an entry point's JSON input: every failure names the field and what was expected,
//! and happens before any request.

use crate::error::{PluginError, Result};
use serde::de::DeserializeOwned;

/// Larger than any honest input (10,000 PSA companies are well under 2 MiB).
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(PluginError::invalid_input(
            "input",
            format!("is {} bytes; at most {MAX_INPUT_BYTES} are accepted", bytes.len()),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." || path.is_empty() { "input".to_string() } else { path };
        PluginError::invalid_input(&field, error.inner())
    })?;
    deserializer
        .end()
        .map_err(|error| PluginError::invalid_input("input", format!("trailing characters after the JSON object ({error})")))?;
    Ok(value)
}

/// A calendar date `YYYY-MM-DD`, checked for real (no 2026-02-30).
pub fn parse_date(field: &str, text: &str) -> Result<(i32, u32, u32)> {
    let invalid = || PluginError::invalid_input(field, format!("expected a date YYYY-MM-DD, got {text:?}"));
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
        let deep = "[".repeat(10_000);
        assert!(parse::<serde_json::Value>(deep.as_bytes()).is_err());
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
    fn day_numbers_count_days() {
        assert_eq!(day_number((1970, 1, 1)), 0);
        assert_eq!(day_number((2026, 12, 1)) - day_number((2026, 11, 1)), 30);
        assert_eq!(day_number((2025, 3, 1)) - day_number((2024, 2, 28)), 367);
    }
}
