//! Just enough HTTP/1.1 for one well-behaved client: read a request head,
//! write one response with `Content-Length` and `Connection: close`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Request bodies beyond this are not drained; a GET-only server has no use for them.
const MAX_DRAIN_BYTES: u64 = 1024 * 1024;
const LINGER_TIMEOUT: Duration = Duration::from_millis(500);

/// A parsed request. Deliberately not `Debug`: it carries the Authorization values.
pub(crate) struct Request {
    pub method: String,
    pub target: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Vec<String>,
    /// The last Accept header, which the recording proxy forwards.
    pub accept: Option<String>,
}

#[derive(Debug)]
pub(crate) enum ReadError {
    /// Nothing usable arrived (connect-and-leave, timeout, reset): there is nobody to answer.
    Silent,
    /// A request arrived but cannot be served; answer with this status.
    Reject { status: u16, reason: String },
}

/// Reads one request head (and discards any small body so closing does not reset the connection).
pub(crate) fn read_request(stream: &mut TcpStream) -> Result<Request, ReadError> {
    let (head, body_bytes_read) = read_head(stream)?;
    let (request, content_length) = parse_head(&head).map_err(|reason| ReadError::Reject {
        status: 400,
        reason,
    })?;
    let remaining = content_length
        .unwrap_or(0)
        .saturating_sub(body_bytes_read as u64);
    if remaining > 0 && remaining <= MAX_DRAIN_BYTES {
        let _ = io::copy(&mut Read::by_ref(stream).take(remaining), &mut io::sink());
    }
    Ok(request)
}

fn read_head(stream: &mut impl Read) -> Result<(Vec<u8>, usize), ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Err(ReadError::Silent),
            Ok(0) => {
                return Err(ReadError::Reject {
                    status: 400,
                    reason: "connection closed before the end of the request head".into(),
                })
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Silent),
        };
        let search_from = buf.len().saturating_sub(2);
        buf.extend_from_slice(&chunk[..n]);
        match find_head_end(&buf, search_from) {
            Some(end) if end <= MAX_HEAD_BYTES => {
                let extra = buf.len() - end;
                buf.truncate(end);
                return Ok((buf, extra));
            }
            Some(_) => return Err(too_large()),
            None if buf.len() > MAX_HEAD_BYTES => return Err(too_large()),
            None => {}
        }
    }
}

fn too_large() -> ReadError {
    ReadError::Reject {
        status: 431,
        reason: format!("request head exceeds {MAX_HEAD_BYTES} bytes"),
    }
}

/// Index just past the blank line ending the head; bare `\n` line ends are tolerated.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| {
        if buf[i] != b'\n' {
            return None;
        }
        let rest = &buf[i + 1..];
        if rest.starts_with(b"\n") {
            Some(i + 2)
        } else if rest.starts_with(b"\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}

/// Returns the request and its declared Content-Length.
fn parse_head(head: &[u8]) -> Result<(Request, Option<u64>), String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if is_token(m) && !t.is_empty() => (m, t, v),
        _ => return Err(format!("malformed request line {:?}", clip(request_line))),
    };
    if !version.starts_with("HTTP/1.") {
        return Err(format!("unsupported protocol {:?}", clip(version)));
    }

    let mut authorization = Vec::new();
    let mut accept = None;
    let mut content_length = None;
    for line in lines.filter(|line| !line.is_empty()) {
        // Folded continuation lines are obsolete and would hide a header's true value.
        if line.starts_with([' ', '\t']) {
            return Err("folded header line".into());
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) if is_token(name) => (name, value.trim()),
            // Not echoed: the line might be a mangled Authorization header.
            _ => return Err("malformed header line".into()),
        };
        if name.eq_ignore_ascii_case("authorization") {
            authorization.push(value.to_string());
        } else if name.eq_ignore_ascii_case("accept") {
            accept = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse::<u64>()
                .map_err(|_| "invalid Content-Length".to_string())?;
            if content_length.is_some_and(|previous| previous != length) {
                return Err("conflicting Content-Length headers".into());
            }
            content_length = Some(length);
        }
    }

    let (raw_path, raw_query) = split_target(target)?;
    let request = Request {
        method: method.to_string(),
        target: target.to_string(),
        path: percent_decode(raw_path),
        query: raw_query.map(parse_query).unwrap_or_default(),
        authorization,
        accept,
    };
    Ok((request, content_length))
}

/// Splits origin-form (or absolute-form, which a proxy-minded client may send) into path and query.
pub(crate) fn split_target(target: &str) -> Result<(&str, Option<&str>), String> {
    let target = target.split('#').next().unwrap_or_default();
    let origin = match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(rest) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None => target,
    };
    if !origin.starts_with('/') {
        return Err(format!("request target {:?} is not a path", clip(target)));
    }
    Ok(match origin.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (origin, None),
    })
}

/// Decoded `key=value` pairs in request order. `+` stays `+`: Auvik's API treats it literally.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Invalid escapes are kept literally rather than rejected; they then simply fail to match.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16));
            let low = bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16));
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Writes a complete response, or with `truncate` only the first half of the body
/// while still announcing the full length.
pub(crate) fn write_response(
    stream: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    truncate: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        // Framing is ours alone, and a CR/LF would let a header value inject more headers.
        let framing = ["content-length", "connection", "transfer-encoding"]
            .iter()
            .any(|framing| name.eq_ignore_ascii_case(framing));
        if framing || !is_token(name) || value.contains(['\r', '\n']) {
            continue;
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    let sent = if truncate {
        &body[..body.len() / 2]
    } else {
        body
    };
    stream.write_all(sent)?;
    stream.flush()
}

/// After rejecting a request whose rest is still unread, drain briefly so the
/// client reads our answer instead of a connection reset.
pub(crate) fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(LINGER_TIMEOUT));
    let _ = io::copy(
        &mut Read::by_ref(stream).take(MAX_DRAIN_BYTES),
        &mut io::sink(),
    );
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn clip(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Request, String> {
        parse_head(head.as_bytes()).map(|(request, _)| request)
    }

    #[test]
    fn percent_decoding_keeps_plus_and_invalid_escapes() {
        assert_eq!(percent_decode("page%5Bafter%5D"), "page[after]");
        assert_eq!(percent_decode("a+b%2Bc%20d"), "a+b+c d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
    }

    #[test]
    fn query_pairs_keep_order_duplicates_and_empty_values() {
        assert_eq!(
            parse_query("b=2&&a=1&flag&b=3&c=x%3Dy=z"),
            vec![
                ("b".to_string(), "2".to_string()),
                ("a".to_string(), "1".to_string()),
                ("flag".to_string(), String::new()),
                ("b".to_string(), "3".to_string()),
                ("c".to_string(), "x=y=z".to_string()),
            ]
        );
    }

    #[test]
    fn head_parsing_extracts_target_and_every_authorization() {
        let request = parse(
            "GET http://127.0.0.1:9/v1/x%2Fy?a=1#frag HTTP/1.1\r\nHost: h\r\nauthorization: one\r\nAuthorization:  two \r\n\r\n",
        )
        .unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/v1/x/y");
        assert_eq!(request.query, vec![("a".to_string(), "1".to_string())]);
        assert_eq!(request.target, "http://127.0.0.1:9/v1/x%2Fy?a=1#frag");
        assert_eq!(
            request.authorization,
            vec!["one".to_string(), "two".to_string()]
        );
    }

    #[test]
    fn malformed_heads_are_rejected() {
        for head in [
            "GET /x\r\n\r\n",
            "GET  /x HTTP/1.1\r\n\r\n",
            "GET /x SPDY/3\r\n\r\n",
            "GET x HTTP/1.1\r\n\r\n",
            "GET /x HTTP/1.1\r\nno colon here\r\n\r\n",
            "GET /x HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n",
            "GET /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "\u{1}\u{2} garbage",
        ] {
            assert!(parse(head).is_err(), "accepted {head:?}");
        }
    }

    #[test]
    fn head_end_is_found_across_reads_and_limited_in_size() {
        let mut split = io::Cursor::new(b"GET / HTTP/1.1\r\nA: b\r\n\r\nBODY".to_vec());
        let (head, extra) = read_head(&mut split).unwrap();
        assert!(head.ends_with(b"\r\n\r\n"));
        assert_eq!(extra, 4);

        let big = format!(
            "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert!(matches!(
            read_head(&mut io::Cursor::new(big.into_bytes())),
            Err(ReadError::Reject { status: 431, .. })
        ));
        assert!(matches!(
            read_head(&mut io::Cursor::new(Vec::new())),
            Err(ReadError::Silent)
        ));
    }

    #[test]
    fn responses_frame_themselves_and_drop_unsafe_headers() {
        let headers = vec![
            ("Content-Type".to_string(), "text/plain".to_string()),
            ("Content-Length".to_string(), "999".to_string()),
            ("X-Evil".to_string(), "a\r\nSet-Cookie: x".to_string()),
        ];
        let mut out = Vec::new();
        write_response(&mut out, 429, &headers, b"abcdef", false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabcdef"
        );
        let mut out = Vec::new();
        write_response(&mut out, 200, &[], b"abcdef", true).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .ends_with("Content-Length: 6\r\nConnection: close\r\n\r\nabc"));
    }
}
