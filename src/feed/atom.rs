//! Atom 1.0 (RFC 4287), written with the `atom_syndication` crate.

use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person as AtomPerson, Text, WriteConfig,
};

use bytes::Bytes;

use super::{
    image_mime, splice_out, terms_of, verify, Envelope, FeedSpec, SiteMeta, GENERATOR,
    GENERATOR_URI, VERSION,
};
use crate::config::Format;
use crate::post::{Person, Post};

/// The feed element of a document, without entries.
fn feed(spec: &FeedSpec<'_>) -> Feed {
    let meta = spec.meta;
    let mut links = vec![
        Link {
            href: meta.home(),
            rel: "alternate".into(),
            mime_type: Some("text/html".into()),
            ..Default::default()
        },
        Link {
            href: spec.self_url.clone(),
            rel: "self".into(),
            mime_type: Some("application/atom+xml".into()),
            ..Default::default()
        },
    ];
    if let Some(hub) = spec.hub() {
        links.push(Link {
            href: hub.to_owned(),
            rel: "hub".into(),
            ..Default::default()
        });
    }
    let h = &spec.history;
    links.extend(h.links().map(|(rel, href)| Link {
        href: href.to_owned(),
        rel: rel.into(),
        mime_type: Some("application/atom+xml".into()),
        ..Default::default()
    }));
    // `fh:archive` itself is placed by [`write`]: the crate writes extension elements after
    // the entries, where RFC 4287's schema allows none.
    let mut namespaces = std::collections::BTreeMap::new();
    if h.archive {
        namespaces.insert("fh".to_owned(), crate::archive::FH_NAMESPACE.to_owned());
    }
    Feed {
        title: Text::plain(spec.title.clone()),
        id: spec.feed_id.clone(),
        namespaces,
        updated: spec.updated,
        authors: vec![person(&meta.default_author)],
        generator: Some(Generator {
            value: GENERATOR.into(),
            uri: Some(GENERATOR_URI.into()),
            version: Some(VERSION.into()),
        }),
        links,
        subtitle: Some(Text::plain(spec.description.clone())),
        lang: Some(meta.language.clone()).filter(|l| !l.is_empty()),
        ..Default::default()
    }
}

fn write(feed: &Feed) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(4096 + feed.entries.len() * 8192);
    feed.write_with_config(
        &mut out,
        WriteConfig {
            write_document_declaration: true,
            indent_size: None,
        },
    )
    .map_err(|e| format!("Atom writer: {e}"))?;
    if feed.namespaces.contains_key("fh") {
        // RFC 5005's marker of an archive document, among the feed's metadata: before the
        // first entry (or the end of a feed without entries). Titles and content are
        // escaped, so the first `<entry>` is the first entry element.
        let at = super::find(&out, b"<entry>")
            .or_else(|| super::rfind(&out, b"</feed>"))
            .ok_or("Atom writer: no end of feed")?;
        out.splice(at..at, b"<fh:archive/>".iter().copied());
    }
    out.push(b'\n');
    Ok(out)
}

/// The whole document in one go (the reference the spliced documents must equal).
pub fn render(spec: &FeedSpec<'_>) -> Result<Vec<u8>, String> {
    let mut f = feed(spec);
    f.entries = spec.items.iter().map(|p| entry(spec.meta, p)).collect();
    write(&f)
}

/// The document without entries, checked, cut where the entries go.
pub fn envelope(spec: &FeedSpec<'_>) -> Result<Envelope, String> {
    let doc = write(&feed(spec))?;
    verify::feed(
        Format::Atom,
        &doc,
        &verify::Expect {
            titles: Vec::new(),
            self_url: Some(&spec.self_url),
        },
    )?;
    Envelope::cut(doc, b"</feed>")
}

/// One post's `<entry>…</entry>`, checked by parsing a one-entry document back.
pub fn fragment(meta: &SiteMeta, post: &Post) -> Result<Bytes, String> {
    let f = Feed {
        title: Text::plain("fragment"),
        id: "urn:feedsmith:fragment".into(),
        updated: post.updated,
        entries: vec![entry(meta, post)],
        ..Default::default()
    };
    let doc = write(&f)?;
    verify::item_document(&doc, b"entry", &post.title)?;
    splice_out(&doc, b"<entry>", b"</feed>")
}

fn person(p: &Person) -> AtomPerson {
    AtomPerson {
        name: p.name.clone(),
        email: p.email.clone(),
        uri: p.uri.clone(),
        ..Default::default()
    }
}

/// An Atom id must be an IRI; a front-matter id that is not one is wrapped in a `tag:` URI.
pub fn atom_id(post: &Post, base: &str) -> String {
    let id = post.id.as_str();
    let has_scheme = id.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && s.as_bytes()[0].is_ascii_alphabetic()
    });
    if has_scheme && !id.contains(char::is_whitespace) {
        return id.to_owned();
    }
    let host = url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    format!("tag:{host},2000:{}", crate::slug::encode_segment(id))
}

fn entry(meta: &SiteMeta, post: &Post) -> Entry {
    let mut links = vec![Link {
        href: post.url.clone(),
        rel: "alternate".into(),
        mime_type: Some("text/html".into()),
        ..Default::default()
    }];
    if let Some(src) = &post.source_link {
        links.push(Link {
            href: src.clone(),
            rel: "via".into(),
            title: post.source_name.clone(),
            ..Default::default()
        });
    }
    if let Some(img) = &post.image {
        links.push(Link {
            href: img.clone(),
            rel: "enclosure".into(),
            mime_type: Some(image_mime(img).into()),
            ..Default::default()
        });
    }
    let mut summary = Text::plain(post.summary.clone());
    summary.lang = post.lang.clone();
    Entry {
        title: Text::plain(post.title.clone()),
        id: atom_id(post, &meta.base),
        updated: post.updated,
        published: Some(post.date),
        authors: vec![person(meta.author_of(post))],
        categories: terms_of(post)
            .map(|(kind, name)| Category {
                term: name.to_owned(),
                scheme: Some(format!("{}/{}/", meta.base, kind.dir())),
                label: None,
            })
            .collect(),
        links,
        summary: Some(summary).filter(|s| !s.value.is_empty()),
        content: meta.full_content().then(|| Content {
            value: Some(post.content_html.get().into_owned()),
            content_type: Some("html".into()),
            lang: post.lang.clone(),
            base: None,
            src: None,
        }),
        ..Default::default()
    }
}
