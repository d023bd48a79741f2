//! `/feeds.opml`: OPML 2.0 list of every feed, for readers that import subscriptions in bulk.

use super::FeedError;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{rfc822, route, SiteMeta};
use crate::config::Format;
use crate::site::{Listing, Scope, Term, TermKind};

/// The format each outline's `xmlUrl` points at: RSS, unless it is not written.
fn outline_format(meta: &SiteMeta) -> Format {
    if meta.formats.contains(&Format::Rss) {
        Format::Rss
    } else {
        meta.formats.first().copied().unwrap_or(Format::Atom)
    }
}

/// Renders the OPML document.
pub fn render(meta: &SiteMeta, listing: &Listing) -> Result<Vec<u8>, FeedError> {
    let err = |e: std::io::Error| FeedError::write("OPML", e);
    let mut w = Writer::new(Vec::with_capacity(16 * 1024));
    let format = outline_format(meta);
    let updated = listing.newest_update().unwrap_or_else(super::epoch);

    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .map_err(err)?;
    w.write_event(Event::Start(
        BytesStart::new("opml").with_attributes([("version", "2.0")]),
    ))
    .map_err(err)?;
    w.write_event(Event::Start(BytesStart::new("head")))
        .map_err(err)?;
    text_element(&mut w, "title", &format!("{} — feeds", meta.title)).map_err(err)?;
    text_element(&mut w, "dateModified", &rfc822(&updated)).map_err(err)?;
    // No `docs`: OPML 2.0 allows it, but the W3C validator knows only OPML 1.0's head.
    w.write_event(Event::End(BytesEnd::new("head")))
        .map_err(err)?;
    w.write_event(Event::Start(BytesStart::new("body")))
        .map_err(err)?;

    let xml_url = meta.url(&route(&Scope::All, format));
    let home = meta.home();
    w.write_event(Event::Empty(BytesStart::new("outline").with_attributes([
        ("text", meta.title.as_str()),
        ("title", meta.title.as_str()),
        ("type", "rss"),
        ("xmlUrl", xml_url.as_str()),
        ("htmlUrl", home.as_str()),
    ])))
    .map_err(err)?;

    for (label, kind, terms) in [
        ("Categories", TermKind::Category, &listing.categories),
        ("Tags", TermKind::Tag, &listing.tags),
    ] {
        // A folder: `text` only (an outline with `title` but no `type` is a feed the W3C
        // validator would want typed).
        w.write_event(Event::Start(
            BytesStart::new("outline").with_attributes([("text", label)]),
        ))
        .map_err(err)?;
        for term in terms.values() {
            term_outline(&mut w, meta, kind, term, format).map_err(err)?;
        }
        w.write_event(Event::End(BytesEnd::new("outline")))
            .map_err(err)?;
    }
    w.write_event(Event::End(BytesEnd::new("body")))
        .map_err(err)?;
    w.write_event(Event::End(BytesEnd::new("opml")))
        .map_err(err)?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

fn term_outline(
    w: &mut Writer<Vec<u8>>,
    meta: &SiteMeta,
    kind: TermKind,
    term: &Term,
    format: Format,
) -> std::io::Result<()> {
    let scope = Scope::Term(kind, term.slug.clone());
    let xml_url = meta.url(&route(&scope, format));
    let html_url = format!(
        "{}#{}-{}",
        meta.home(),
        kind.dir(),
        crate::slug::encode_segment(&term.slug)
    );
    let name = &term.name;
    w.write_event(Event::Empty(BytesStart::new("outline").with_attributes([
        ("text", name.as_str()),
        ("title", name.as_str()),
        ("type", "rss"),
        ("xmlUrl", xml_url.as_str()),
        ("htmlUrl", html_url.as_str()),
    ])))
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}
