//! Small helpers: time, percent-encoding, query strings, fake object ids.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Seconds since the Unix epoch, now.
pub(crate) fn now_epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An epoch second as ISO 8601 in UTC (`2024-06-01T12:00:00Z`), the form of GitHub's `DateTime` scalar.
pub(crate) fn iso8601(epoch: u64) -> String {
    let secs = i64::try_from(epoch).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".to_owned(),
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are); `plus_is_space` for query strings.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`, for paths inside URLs.
pub(crate) fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `a=1&b=two` as decoded pairs.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// A deterministic, well-formed 40-hex git object id derived from `seed`, for fake commits and tag objects.
pub fn sha(seed: &str) -> String {
    let mut out = String::with_capacity(40);
    for round in 0u64..5 {
        // FNV-1a over the seed, then a splitmix64 finaliser; one 32-bit word per round.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        out.push_str(&format!("{:08x}", h & 0xffff_ffff));
    }
    out
}

/// True for a full, lowercase, 40-hex object id (what GitHub's `GitObjectID` holds).
pub(crate) fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A GitHub-style global node id (`"R_" + base64`), stable for a kind and key.
pub(crate) fn node_id(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(key))
}

/// A base64 node id in the older REST form (`MDY6Q29tbWl0...`), as REST `node_id` fields carry.
pub(crate) fn legacy_node_id(kind: &str, key: &str) -> String {
    STANDARD.encode(format!("{kind}:{key}"))
}

/// The opaque cursor of the item at a 1-based position of a connection (GitHub's ref cursors are base64 numbers).
pub(crate) fn cursor(position: usize) -> String {
    URL_SAFE_NO_PAD.encode(position.to_string())
}

/// The 1-based position a cursor stands for, when it is one of ours.
pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_is_well_formed_and_stable() {
        let a = sha("main");
        assert!(is_sha(&a), "{a}");
        assert_eq!(a, sha("main"));
        assert_ne!(a, sha("main2"));
    }

    #[test]
    fn cursors_round_trip() {
        for n in [1, 99, 100, 250, 12345] {
            assert_eq!(decode_cursor(&cursor(n)), Some(n));
        }
        assert_eq!(decode_cursor("not a cursor!"), None);
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_decode("release%2F1.0...main", false), "release/1.0...main");
        assert_eq!(percent_decode("a+b%zz%4", true), "a b%zz%4");
        assert_eq!(encode_path("src/a b.rs"), "src/a%20b.rs");
        assert_eq!(
            parse_query("per_page=100&page=2&x"),
            vec![
                ("per_page".to_owned(), "100".to_owned()),
                ("page".to_owned(), "2".to_owned()),
                ("x".to_owned(), String::new())
            ]
        );
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
