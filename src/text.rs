//! Text hygiene shared by parsing and rendering.
//!
//! XML 1.0 cannot carry most C0 control characters nor U+FFFE/U+FFFF. They are removed once,
//! when a post is read, so every format shows the same text and no document can fail its check
//! because of a stray control character in a title.

/// Removes characters that XML 1.0 does not allow (C0 controls but tab/LF/CR, U+FFFE, U+FFFF).
/// Every text that reaches a document goes through this, in every format, so that titles read
/// the same everywhere.
pub fn clean_text(s: &str) -> String {
    if is_clean(s) {
        s.to_owned()
    } else {
        s.chars().filter(|c| is_xml_char(*c)).collect()
    }
}

/// [`clean_text`] of an owned string: the same string back, without a copy, when it is clean
/// (as nearly every body is).
pub fn clean_owned(s: String) -> String {
    if is_clean(&s) {
        s
    } else {
        s.chars().filter(|c| is_xml_char(*c)).collect()
    }
}

/// Whether every character of `s` is allowed in XML 1.0. In UTF-8 the forbidden ones are the
/// single bytes below 0x20 (but tab, LF, CR) and the sequences of U+FFFE and U+FFFF, so a
/// byte scan decides it (surrogates cannot occur in a `str`).
pub fn is_clean(s: &str) -> bool {
    illegal_xml_char(s.as_bytes()).is_none()
}

/// True for characters allowed in XML 1.0 documents.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The offset of the first character XML 1.0 forbids in UTF-8 `bytes`: a C0 control other than
/// tab, LF and CR (single bytes, never part of a multi-byte sequence), or U+FFFE / U+FFFF.
pub fn illegal_xml_char(bytes: &[u8]) -> Option<usize> {
    // Almost every chunk of a document is clean: test 64 bytes at a time without an early
    // exit (the compiler vectorizes that), and look closer only at a chunk that may not be.
    const CHUNK: usize = 64;
    let suspect = |b: u8| (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0xEF;
    let mut start = 0;
    for chunk in bytes.chunks(CHUNK) {
        if chunk.iter().fold(false, |acc, &b| acc | suspect(b)) {
            break;
        }
        start += chunk.len();
    }
    // From the first suspect chunk on (a U+FFFE may also straddle two chunks).
    let start = start.saturating_sub(2);
    illegal_from(bytes, start)
}

fn illegal_from(bytes: &[u8], start: usize) -> Option<usize> {
    bytes.iter().enumerate().skip(start).find_map(|(i, &b)| {
        let bad = match b {
            b'\t' | b'\n' | b'\r' => false,
            0..=0x1F => true,
            0xEF => {
                bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
            }
            _ => false,
        };
        bad.then_some(i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illegal_characters_by_byte() {
        assert_eq!(illegal_xml_char("a\tb\nc\rd 港 😀".as_bytes()), None);
        assert_eq!(illegal_xml_char(b"ab\x01"), Some(2));
        assert_eq!(illegal_xml_char("x\u{FFFE}".as_bytes()), Some(1));
        assert_eq!(illegal_xml_char("x\u{FFFF}".as_bytes()), Some(1));
        assert_eq!(illegal_xml_char("\u{FFFD}\u{FFEF}".as_bytes()), None);
        // The chunked scan agrees with a byte-by-byte one wherever the bad character falls,
        // a U+FFFF across a chunk edge included.
        for len in [1usize, 63, 64, 65, 130, 200] {
            for at in 0..len {
                for bad in ["\u{1}", "\u{FFFE}", "\u{FFFF}", "\u{8}"] {
                    let mut text = "a".repeat(at);
                    text.push_str(bad);
                    text.push_str(&"\n\t港".repeat((len - at) / 5 + 1));
                    let b = text.as_bytes();
                    assert_eq!(
                        illegal_xml_char(b),
                        illegal_from(b, 0),
                        "{len} {at} {bad:?}"
                    );
                    assert_eq!(illegal_xml_char(b), Some(at), "{len} {at} {bad:?}");
                }
            }
        }
    }

    #[test]
    fn xml_chars() {
        assert_eq!(
            clean_text("a\u{0}b\u{8}c\td\u{FFFE}e\u{1F600}"),
            "abc\tde\u{1F600}"
        );
        assert_eq!(clean_text("plain"), "plain");
        assert_eq!(clean_owned("a\u{1}b\u{FFFF}".to_owned()), "ab");
        // Every character, one at a time: the byte scan agrees with `is_xml_char`.
        for c in ('\u{0}'..='\u{FFFF}').chain(['\u{10000}', '\u{10FFFF}']) {
            let s = format!("x{c}y");
            assert_eq!(is_clean(&s), is_xml_char(c), "{:?}", c);
        }
    }
}
