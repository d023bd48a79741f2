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
    // Two vectorized scans, each of which seldom stops: one for the controls, 64 bytes at a
    // time without an early exit (the compiler vectorizes that), one for EF BF, the first two
    // bytes of U+FFFE and U+FFFF (and of U+FFFD and the halfwidth forms, each then looked at
    // alone). Looking for 0xEF alone would stop all the time in CJK text, whose fullwidth
    // punctuation (`，` is EF BC 8C) starts with it.
    const CHUNK: usize = 64;
    let control = |b: u8| b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r';
    let mut start = 0;
    let mut first_control = None;
    for chunk in bytes.chunks(CHUNK) {
        if chunk.iter().fold(false, |acc, &b| acc | control(b)) {
            first_control = chunk.iter().position(|&b| control(b)).map(|i| start + i);
            break;
        }
        start += chunk.len();
    }
    let in_reach = &bytes[..first_control.unwrap_or(bytes.len())];
    let nonchar = memchr::memmem::find_iter(in_reach, b"\xEF\xBF")
        .find(|&i| matches!(bytes.get(i + 2), Some(0xBE | 0xBF)));
    nonchar.or(first_control)
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
        // a U+FFFF across a chunk edge included, and after clean chunks that had to be looked
        // at closely (fullwidth `，` starts with 0xEF, as U+FFFE does).
        for len in [1usize, 63, 64, 65, 130, 200] {
            for at in 0..len {
                for bad in ["\u{1}", "\u{FFFE}", "\u{FFFF}", "\u{8}"] {
                    for fullwidth in [false, true] {
                        let mut text = if fullwidth {
                            "，".repeat(at / 3) + &"a".repeat(at % 3)
                        } else {
                            "a".repeat(at)
                        };
                        text.push_str(bad);
                        text.push_str(&"\n\t港，".repeat((len - at) / 5 + 1));
                        let b = text.as_bytes();
                        assert_eq!(illegal_xml_char(b), by_byte(b), "{len} {at} {bad:?}");
                        assert_eq!(illegal_xml_char(b), Some(at), "{len} {at} {bad:?}");
                    }
                }
            }
        }
        let clean = "，港。\u{FFE5}\u{FFFD}".repeat(100);
        assert_eq!(illegal_xml_char(clean.as_bytes()), None);
        let both = format!("{clean}\u{FFFF}{clean}\u{1}");
        assert_eq!(illegal_xml_char(both.as_bytes()), Some(clean.len()));
        let both = format!("{clean}\u{1}{clean}\u{FFFF}");
        assert_eq!(illegal_xml_char(both.as_bytes()), Some(clean.len()));
    }

    /// The definition, one byte at a time.
    fn by_byte(bytes: &[u8]) -> Option<usize> {
        (0..bytes.len()).find(|&i| match bytes[i] {
            b'\t' | b'\n' | b'\r' => false,
            0..=0x1F => true,
            0xEF => {
                bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF))
            }
            _ => false,
        })
    }

    #[test]
    fn xml_chars() {
        assert_eq!(
            clean_text("a\u{0}b\u{8}c\td\u{FFFE}e\u{1F600}"),
            "abc\tde\u{1F600}"
        );
        assert_eq!(clean_text("plain"), "plain");
        assert_eq!(clean_text("a\u{1}b\u{FFFF}"), "ab");
        // Every character, one at a time: the byte scan agrees with `is_xml_char`.
        for c in ('\u{0}'..='\u{FFFF}').chain(['\u{10000}', '\u{10FFFF}']) {
            let s = format!("x{c}y");
            assert_eq!(is_clean(&s), is_xml_char(c), "{:?}", c);
        }
    }
}
