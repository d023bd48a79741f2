//! Every document is parsed back before it is published (SPEC §2): a document that is not
//! well-formed, or that does not say what it was rendered to say, is never written or served.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::config::Format;

/// What a rendered feed must contain.
pub struct Expect<'a> {
    pub titles: Vec<&'a str>,
    /// The document's own URL; `None` for the one-item documents that check a fragment.
    pub self_url: Option<&'a str>,
}

/// Checks that `bytes` is well-formed XML 1.0 with a single root element.
pub fn well_formed_xml(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if let Some(c) = text.chars().find(|c| !super::is_xml_char(*c)) {
        return Err(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            c as u32
        ));
    }
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Ok(Event::Empty(_)) => {
                if depth == 0 {
                    roots += 1;
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Text(t)) => {
                if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err("text outside the root element".into());
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "not well-formed XML at byte {}: {e}",
                    reader.error_position()
                ))
            }
        }
    }
    if depth != 0 {
        return Err("unclosed element at end of document".into());
    }
    if roots != 1 {
        return Err(format!("expected one root element, found {roots}"));
    }
    Ok(())
}

/// Parses a feed back and compares it with what it should hold.
pub fn feed(format: Format, bytes: &[u8], expect: &Expect<'_>) -> Result<(), String> {
    let titles: Vec<String> = match format {
        Format::Rss => {
            well_formed_xml(bytes)?;
            let ch =
                rss::Channel::read_from(bytes).map_err(|e| format!("RSS does not parse: {e}"))?;
            let self_ok = expect.self_url.is_none_or(|url| {
                ch.atom_ext
                    .as_ref()
                    .is_some_and(|a| a.links.iter().any(|l| l.rel == "self" && l.href == url))
            });
            if !self_ok {
                return Err("RSS self link missing or wrong".into());
            }
            ch.items
                .iter()
                .map(|i| i.title.clone().unwrap_or_default())
                .collect()
        }
        Format::Atom => {
            well_formed_xml(bytes)?;
            let feed = atom_syndication::Feed::read_from(bytes)
                .map_err(|e| format!("Atom does not parse: {e}"))?;
            if !expect
                .self_url
                .is_none_or(|url| feed.links.iter().any(|l| l.rel == "self" && l.href == url))
            {
                return Err("Atom self link missing or wrong".into());
            }
            if let Some(e) = feed.entries.iter().find(|e| e.authors.is_empty()) {
                return Err(format!("Atom entry {} has no author", e.id));
            }
            feed.entries.iter().map(|e| e.title.value.clone()).collect()
        }
        Format::Json => {
            let v: serde_json::Value =
                serde_json::from_slice(bytes).map_err(|e| format!("JSON does not parse: {e}"))?;
            if v["version"] != super::json::VERSION_URL {
                return Err("JSON Feed version missing".into());
            }
            if expect.self_url.is_some_and(|url| v["feed_url"] != url) {
                return Err("JSON Feed feed_url missing or wrong".into());
            }
            let items = v["items"]
                .as_array()
                .ok_or("JSON Feed has no items array")?;
            for item in items {
                json_item(item)?;
            }
            items
                .iter()
                .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
                .collect()
        }
    };
    if titles.len() != expect.titles.len() {
        return Err(format!(
            "parsed back {} items, expected {}",
            titles.len(),
            expect.titles.len()
        ));
    }
    if let Some((got, want)) = titles
        .iter()
        .zip(&expect.titles)
        .find(|(got, want)| got.as_str() != **want)
    {
        return Err(format!(
            "item title reads back as {got:?}, expected {want:?}"
        ));
    }
    Ok(())
}

/// Checks what JSON Feed 1.1 requires of an item: a string id and some content.
pub fn json_item(item: &serde_json::Value) -> Result<(), String> {
    if !item["id"].is_string() {
        return Err("JSON Feed item without a string id".into());
    }
    if !item["content_html"].is_string() && !item["content_text"].is_string() {
        return Err("JSON Feed item without content".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_broken_xml() {
        assert!(well_formed_xml(b"<a><b></a>").is_err());
        assert!(well_formed_xml(b"<a>").is_err());
        assert!(well_formed_xml(b"<a/><b/>").is_err());
        assert!(well_formed_xml("<a>\u{1}</a>".as_bytes()).is_err());
        assert!(well_formed_xml(b"<?xml version=\"1.0\"?>\n<a><b/>x</a>\n").is_ok());
    }

    #[test]
    fn rejects_wrong_items() {
        let expect = Expect {
            titles: vec!["one"],
            self_url: Some("https://e.example/feed.json"),
        };
        let good = br#"{"version":"https://jsonfeed.org/version/1.1","feed_url":"https://e.example/feed.json","items":[{"id":"1","title":"one","content_html":"x"}]}"#;
        assert!(feed(Format::Json, good, &expect).is_ok());
        let wrong = br#"{"version":"https://jsonfeed.org/version/1.1","feed_url":"https://e.example/feed.json","items":[{"id":"1","title":"two","content_html":"x"}]}"#;
        assert!(feed(Format::Json, wrong, &expect).is_err());
        assert!(feed(Format::Json, b"{", &expect).is_err());
    }
}
