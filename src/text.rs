//! Text hygiene shared by parsing and rendering.
//!
//! XML 1.0 cannot carry most C0 control characters nor U+FFFE/U+FFFF. They are removed once,
//! when a post is read, so every format shows the same text and no document can fail its check
//! because of a stray control character in a title.

/// Removes characters that XML 1.0 does not allow (C0 controls but tab/LF/CR, U+FFFE, U+FFFF).
/// Every text that reaches a document goes through this, in every format, so that titles read
/// the same everywhere.
pub fn clean_text(s: &str) -> String {
    if s.chars().all(is_xml_char) {
        s.to_owned()
    } else {
        s.chars().filter(|c| is_xml_char(*c)).collect()
    }
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
    }
}
