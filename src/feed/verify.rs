//! Every document is parsed back before it is published (SPEC §2): a document that is not
//! well-formed, or that does not say what it was rendered to say, is never written or served.

use super::FeedError;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::config::Format;
use crate::text::illegal_xml_char;

/// What a rendered feed must contain.
pub struct Expect<'a> {
    pub titles: Vec<&'a str>,
    /// The document's own URL; `None` for the one-item documents that check a fragment.
    pub self_url: Option<&'a str>,
}

/// Checks that `bytes` is well-formed XML 1.0 with a single root element.
pub fn well_formed_xml(bytes: &[u8]) -> Result<(), FeedError> {
    scan_xml(bytes, None).map(|_| ())
}

/// Checks a one-item document: well-formed XML whose `container` element (`item`, `entry`)
/// has a `title` child reading back as `title`. One streaming pass, no tree: this is the check
/// every item fragment gets before it is spliced into feeds.
pub fn item_document(bytes: &[u8], container: &[u8], title: &str) -> Result<(), FeedError> {
    match scan_xml(bytes, Some(container))? {
        Some(got) if got == title => Ok(()),
        Some(got) => Err(format!("item title reads back as {got:?}, expected {title:?}").into()),
        None if title.is_empty() => Ok(()),
        None => Err("item has no title".into()),
    }
}

/// One pass over an XML document: well-formedness (UTF-8, legal characters, nesting, one
/// root) and, when `container` is given, the text of the first `title` child of it.
fn scan_xml(bytes: &[u8], container: Option<&[u8]>) -> Result<Option<String>, FeedError> {
    // A one-item document is written from Rust strings by the crates' writers and cut at
    // ASCII markers: UTF-8 by construction. A whole document is checked.
    if container.is_none() {
        std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    }
    if let Some(at) = illegal_xml_char(bytes) {
        return Err(format!("a character not allowed in XML 1.0 at byte {at}").into());
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut container_depth: Option<usize> = None;
    let mut title: Option<String> = None;
    let mut capturing = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not well-formed XML at byte {}: {e}",
                reader.error_position()
            )
        })?;
        match event {
            Event::Start(e) => {
                if depth == 0 {
                    roots += 1;
                }
                let name = e.name();
                if container_depth.is_none() && Some(name.as_ref()) == container {
                    container_depth = Some(depth);
                } else if title.is_none()
                    && container_depth.is_some_and(|d| d + 1 == depth)
                    && name.as_ref() == b"title"
                {
                    capturing = true;
                    title = Some(String::new());
                }
                depth += 1;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    roots += 1;
                }
                if title.is_none()
                    && container_depth.is_some_and(|d| d + 1 == depth)
                    && e.name().as_ref() == b"title"
                {
                    title = Some(String::new());
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                capturing = false;
            }
            Event::Text(t) => {
                if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err("text outside the root element".into());
                }
                if capturing {
                    let text = t.decode().map_err(|e| e.to_string())?;
                    push(&mut title, &text);
                }
            }
            Event::CData(t) if capturing => {
                let text = t.decode().map_err(|e| e.to_string())?;
                push(&mut title, &text);
            }
            // Escaped markup in content is mostly references (`&lt;p&gt;`): they are checked
            // without allocating, and only the title's are kept.
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    let c = r
                        .resolve_char_ref()
                        .map_err(|e| e.to_string())?
                        .ok_or("unknown entity reference")?;
                    if capturing {
                        push(&mut title, c.encode_utf8(&mut [0; 4]));
                    }
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    let text = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or("unknown entity reference")?;
                    if capturing {
                        push(&mut title, text);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed element at end of document".into());
    }
    if roots != 1 {
        return Err(format!("expected one root element, found {roots}").into());
    }
    Ok(title)
}

fn push(title: &mut Option<String>, text: &str) {
    if let Some(t) = title {
        t.push_str(text);
    }
}

/// Parses a feed back and compares it with what it should hold.
pub fn feed(format: Format, bytes: &[u8], expect: &Expect<'_>) -> Result<(), FeedError> {
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
                return Err(format!("Atom entry {} has no author", e.id).into());
            }
            feed.entries.iter().map(|e| e.title.value.clone()).collect()
        }
        Format::Json => {
            let f: FeedReadBack<'_> =
                serde_json::from_slice(bytes).map_err(|e| format!("JSON does not parse: {e}"))?;
            if f.version.as_deref() != Some(super::json::VERSION_URL) {
                return Err("JSON Feed version missing".into());
            }
            if expect
                .self_url
                .is_some_and(|url| f.feed_url.as_deref() != Some(url))
            {
                return Err("JSON Feed feed_url missing or wrong".into());
            }
            let items = f.items.ok_or("JSON Feed has no items array")?;
            for item in &items {
                item.required()?;
            }
            items
                .into_iter()
                .map(|i| {
                    i.title
                        .map(std::borrow::Cow::into_owned)
                        .unwrap_or_default()
                })
                .collect()
        }
    };
    if titles.len() != expect.titles.len() {
        return Err(format!(
            "parsed back {} items, expected {}",
            titles.len(),
            expect.titles.len()
        )
        .into());
    }
    if let Some((got, want)) = titles
        .iter()
        .zip(&expect.titles)
        .find(|(got, want)| got.as_str() != **want)
    {
        return Err(format!("item title reads back as {got:?}, expected {want:?}").into());
    }
    Ok(())
}

/// Checks one item object as it was written: it parses as JSON, has what JSON Feed 1.1 requires
/// of an item, and its title reads back as `title`. The fields it does not check are parsed and
/// skipped, not built into a tree: this runs for every post.
pub fn json_item_text(text: &[u8], title: &str) -> Result<(), FeedError> {
    let item: ItemReadBack<'_> =
        serde_json::from_slice(text).map_err(|e| format!("JSON item does not parse: {e}"))?;
    item.required()?;
    match item.title.as_deref() {
        Some(got) if got == title => Ok(()),
        got => Err(format!("JSON item title reads back as {got:?}").into()),
    }
}

/// The fields of a JSON Feed item the checks read.
#[derive(serde::Deserialize)]
struct ItemReadBack<'a> {
    id: Option<AString>,
    #[serde(borrow)]
    title: Option<std::borrow::Cow<'a, str>>,
    content_html: Option<AString>,
    content_text: Option<AString>,
}

impl ItemReadBack<'_> {
    /// What JSON Feed 1.1 requires of an item: a string id and some content.
    fn required(&self) -> Result<(), FeedError> {
        if self.id.is_none() {
            return Err("JSON Feed item without a string id".into());
        }
        if self.content_html.is_none() && self.content_text.is_none() {
            return Err("JSON Feed item without content".into());
        }
        Ok(())
    }
}

/// The fields of a JSON Feed document the checks read; the rest is parsed and skipped.
#[derive(serde::Deserialize)]
struct FeedReadBack<'a> {
    #[serde(borrow)]
    version: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    feed_url: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    items: Option<Vec<ItemReadBack<'a>>>,
}

/// A JSON string whose value is not needed: anything else is an error.
struct AString;

impl<'de> serde::Deserialize<'de> for AString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<AString, E> {
                Ok(AString)
            }
        }
        d.deserialize_str(Visitor)
    }
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
    fn item_document_titles() {
        let doc = b"<rss><channel><title>c</title><item><title>a &amp; &#x41;<![CDATA[<b>]]></title></item></channel></rss>";
        assert!(item_document(doc, b"item", "a & A<b>").is_ok());
        assert!(item_document(doc, b"item", "a & A").is_err());
        assert!(item_document(b"<rss><item><title>x</title></rss>", b"item", "x").is_err());
        assert!(item_document(b"<rss><item/></rss>", b"item", "x").is_err());
        assert!(item_document(b"<rss><item>&bogus;</item></rss>", b"item", "").is_err());
        // A character reference to no character.
        assert!(item_document(b"<rss><item>&#0;</item></rss>", b"item", "").is_err());
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
        // Each rule of the document check, on a document otherwise good.
        let good = std::str::from_utf8(good).unwrap();
        for (bad, why) in [
            (good.replace("version/1.1", "version/1"), "version"),
            (
                good.replace("e.example/feed.json", "e.example/x.json"),
                "feed_url",
            ),
            (good.replace(r#","content_html":"x""#, ""), "content"),
            (good.replace(r#""id":"1","#, ""), "string id"),
            (good.replace(r#""items":"#, r#""entries":"#), "items"),
            (good.replace(r#""one""#, r#"1"#), "parse"),
            (good.replace("}]}", "}]} trailing"), "parse"),
        ] {
            let err = feed(Format::Json, bad.as_bytes(), &expect).unwrap_err();
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn json_items_read_back() {
        let ok = |t: &str, title: &str| json_item_text(t.as_bytes(), title);
        assert!(ok(
            r#"{"id":"1","title":"one","content_html":"<p>x</p>","tags":["a"]}"#,
            "one"
        )
        .is_ok());
        assert!(ok(
            r#"{"id":"1","title":"t\u00e9 \"q\"","content_text":"x"}"#,
            "té \"q\""
        )
        .is_ok());
        for (bad, why) in [
            (r#"{"id":"1","title":"two","content_html":"x"}"#, "title"),
            (r#"{"title":"one","content_html":"x"}"#, "string id"),
            (r#"{"id":1,"title":"one","content_html":"x"}"#, "parse"),
            (r#"{"id":"1","title":"one"}"#, "content"),
            (r#"{"id":"1","title":"one","content_html":null}"#, "content"),
            (
                r#"{"id":"1","title":"one","content_html":"x","extra":[1,}"#,
                "parse",
            ),
            (r#"{"id":"1","content_html":"x"}"#, "title"),
        ] {
            let err = ok(bad, "one").unwrap_err();
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }
}
