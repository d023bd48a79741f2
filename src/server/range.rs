//! Range requests (RFC 9110 §14) for assets answered from files: audio players, podcast apps
//! and video elements ask for parts of a file (`Range: bytes=…`) to seek and to resume.
//!
//! One range is answered (`206 Partial Content`); a request for several is answered with the
//! whole file (`200`), which §14.2 allows (a server may ignore `Range`), as it does for a
//! `Range` that does not parse. `If-Range` (§13.1.5) holds when it is the current ETag (strong
//! comparison) or the current `Last-Modified` date exactly; otherwise the whole file is sent.
//! Documents and assets kept in memory ignore `Range` altogether.

use std::time::SystemTime;

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// The whole representation: no `Range`, one that does not parse, or several ranges.
    Whole,
    /// The bytes `start..=end` (`end < len`).
    Part { start: u64, end: u64 },
    /// No byte of the range is in the representation: `416`.
    Unsatisfiable,
}

/// Reads a `Range` header value against a representation of `len` bytes.
pub fn parse(value: &str, len: u64) -> Ranged {
    let value = value.trim();
    let Some((unit, set)) = value.split_once('=') else {
        return Ranged::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranged::Whole;
    }
    let specs: Vec<&str> = set
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let [spec] = specs[..] else {
        return Ranged::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Ranged::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    match (number(first), number(last)) {
        // `bytes=-n`: the last n bytes.
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        // `bytes=a-`: from a to the end.
        (Some(a), None) if last.is_empty() => part(a, u64::MAX, len),
        // `bytes=a-b`.
        (Some(a), Some(b)) if a <= b => part(a, b, len),
        _ => Ranged::Whole,
    }
}

/// Bytes `a..=b` of `len`, cut at the end.
fn part(a: u64, b: u64, len: u64) -> Ranged {
    if a >= len {
        Ranged::Unsatisfiable
    } else {
        Ranged::Part {
            start: a,
            end: b.min(len - 1),
        }
    }
}

/// A run of ASCII digits (saturating: a position past any file is as good as `u64::MAX`).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Whether an `If-Range` value lets the `Range` apply: the current ETag (`etag`, quoted),
/// compared strongly (a weak tag never matches), or exactly the current `Last-Modified`.
pub fn if_range_holds(value: &str, etag: &str, last_modified: SystemTime) -> bool {
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return value == etag;
    }
    httpdate::parse_http_date(value).is_ok_and(|t| t == last_modified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn part(start: u64, end: u64) -> Ranged {
        Ranged::Part { start, end }
    }

    #[test]
    fn one_range_of_each_form() {
        assert_eq!(parse("bytes=0-99", 1000), part(0, 99));
        assert_eq!(parse("bytes=500-", 1000), part(500, 999));
        assert_eq!(parse("bytes=-100", 1000), part(900, 999));
        assert_eq!(parse(" Bytes = 10 - 20 ", 1000), part(10, 20));
        // Past the end: cut at the end; a suffix longer than the file: all of it.
        assert_eq!(parse("bytes=990-2000", 1000), part(990, 999));
        assert_eq!(parse("bytes=-5000", 1000), part(0, 999));
        assert_eq!(parse("bytes=0-99999999999999999999999", 1000), part(0, 999));
        assert_eq!(parse("bytes=0-0", 1), part(0, 0));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(parse("bytes=1000-", 1000), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=1000-1001", 1000), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 1000), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(parse("bytes=-1", 0), Ranged::Unsatisfiable);
    }

    #[test]
    fn what_is_ignored() {
        for v in [
            "",
            "bytes",
            "bytes=",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=0-1,5-6",
            "bytes=0-1, -5",
        ] {
            assert_eq!(parse(v, 1000), Ranged::Whole, "{v:?}");
        }
        // An empty member of the list is no range.
        assert_eq!(parse("bytes=0-1,", 1000), part(0, 1));
    }

    #[test]
    fn if_range_by_etag_or_date() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(t);
        let etag = "\"abc\"";
        assert!(if_range_holds("\"abc\"", etag, t));
        assert!(!if_range_holds("W/\"abc\"", etag, t));
        assert!(!if_range_holds("\"abd\"", etag, t));
        assert!(if_range_holds(&date, etag, t));
        let later = httpdate::fmt_http_date(t + Duration::from_secs(1));
        assert!(!if_range_holds(&later, etag, t));
        assert!(!if_range_holds("yesterday", etag, t));
    }
}
