//! Just enough URL handling for Auvik's query strings and `links.next`: percent-encoding,
//! decoding, and splitting an absolute URL into origin and query.

use std::fmt::Write;

/// Builds `path?k=v&...` with keys and values percent-encoded (brackets included; commas kept,
/// since Auvik reads `tenants` as a comma list).
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(path.len() + 16 * params.len());
    out.push_str(path);
    for (index, (key, value)) in params.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        encode_into(&mut out, key);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => out.push(byte as char),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

/// Percent-decodes; `None` when the result is not UTF-8. A `%` not followed by two hex digits
/// stays as it is.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[index + 1]), hex(bytes[index + 2])) {
                out.push(high << 4 | low);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// An absolute URL split into what paging needs.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedUrl<'a> {
    /// `scheme://authority`, lower-cased.
    pub origin: String,
    pub path: &'a str,
    pub query: &'a str,
}

pub fn parse_absolute(url: &str) -> Option<ParsedUrl<'_>> {
    let url = url.split('#').next()?;
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return None;
    }
    let after = &rest[authority_end..];
    let (path, query) = match after.find('?') {
        Some(at) => (&after[..at], &after[at + 1..]),
        None => (after, ""),
    };
    Some(ParsedUrl { origin: format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()), path, query })
}

/// Decoded `(key, value)` pairs of a query string; `None` if any part is not UTF-8.
pub fn query_pairs(query: &str) -> Option<Vec<(String, String)>> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(key)?, decode(value)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_brackets_but_keeps_commas() {
        assert_eq!(
            with_query("/v1/x", &[("tenants", "1,2"), ("page[first]", "1000"), ("q", "a b&c")]),
            "/v1/x?tenants=1,2&page%5Bfirst%5D=1000&q=a%20b%26c"
        );
        assert_eq!(with_query("/v1/x", &[]), "/v1/x");
    }

    #[test]
    fn decodes_and_round_trips() {
        assert_eq!(decode("page%5Bafter%5D").unwrap(), "page[after]");
        assert_eq!(decode("100%").unwrap(), "100%");
        assert_eq!(decode("%4").unwrap(), "%4");
        assert_eq!(decode("%zz%41").unwrap(), "%zzA");
        assert_eq!(decode("%C3%A9").unwrap(), "é");
        assert!(decode("%FF").is_none());
        let built = with_query("/p", &[("k[é]", "v=1&2")]);
        let pairs = query_pairs(parse_absolute(&format!("https://h{built}")).unwrap().query).unwrap();
        assert_eq!(pairs, vec![("k[é]".to_string(), "v=1&2".to_string())]);
    }

    #[test]
    fn splits_absolute_urls() {
        let parsed = parse_absolute("HTTPS://AuvikApi.us1.my.auvik.com/v1/a?b=1#frag").unwrap();
        assert_eq!(parsed.origin, "https://auvikapi.us1.my.auvik.com");
        assert_eq!((parsed.path, parsed.query), ("/v1/a", "b=1"));
        assert_eq!(parse_absolute("http://127.0.0.1:80?x").unwrap().query, "x");
        for bad in ["/v1/a?b", "https://", "https://user@host/x", "ht tp://h/x", "://h/x"] {
            assert!(parse_absolute(bad).is_none(), "{bad}");
        }
    }
}
