//! Term → slug, and slug → URL path segment.
//!
//! Slugs keep Unicode letters and digits as they are (厦门日报新闻 stays 厦门日报新闻) so that
//! feed URLs stay readable to their readers; everything else collapses to single `-`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Lowercase; letters and digits kept; every other run of characters becomes one `-`;
/// leading and trailing `-` trimmed. May be empty (a term of punctuation only).
pub fn slugify(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    let mut pending_dash = false;
    for c in term.chars() {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.extend(c.to_lowercase());
        } else {
            pending_dash = true;
        }
    }
    out
}

/// Characters left as they are in a path segment: RFC 3986 unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment (UTF-8 bytes of non-ASCII characters become `%XX`).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Percent-encodes a path, keeping its `/` separators.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert_eq!(slugify("厦门日报新闻"), "厦门日报新闻");
        assert_eq!(slugify("Rust"), "rust");
        assert_eq!(slugify("rust"), "rust");
        assert_eq!(slugify("  Release Notes!! 2024 "), "release-notes-2024");
        assert_eq!(slugify("C++ / Rust"), "c-rust");
        assert_eq!(slugify("--a__b--"), "a-b");
        assert_eq!(slugify("Ünïcödé Straße"), "ünïcödé-straße");
        assert_eq!(slugify("İ"), "i\u{307}");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(slugify("٣ arabic-indic"), "٣-arabic-indic");
    }

    #[test]
    fn encoding() {
        assert_eq!(encode_segment("厦门"), "%E5%8E%A6%E9%97%A8");
        assert_eq!(encode_segment("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(
            encode_path("/tags/厦门/rss.xml"),
            "/tags/%E5%8E%A6%E9%97%A8/rss.xml"
        );
    }
}
