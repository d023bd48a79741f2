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
fn is_clean(s: &str) -> bool {
    crate::feed::verify::illegal_xml_char(s.as_bytes()).is_none()
}

/// True for characters allowed in XML 1.0 documents.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

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
