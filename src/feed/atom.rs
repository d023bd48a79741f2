//! Atom 1.0 (RFC 4287), written with the `atom_syndication` crate.

use super::FeedError;
use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person as AtomPerson, Text, WriteConfig,
};

use bytes::Bytes;

use super::{
    media, splice_out, terms_of, verify, Envelope, FeedSpec, SiteMeta, Texts, GENERATOR,
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
    links.extend(spec.hubs().iter().map(|hub| Link {
        href: hub.clone(),
        rel: "hub".into(),
        ..Default::default()
    }));
    // The same posts, followed from the Fediverse.
    if let Some(actor) = &spec.actor {
        links.push(Link {
            href: actor.clone(),
            rel: "alternate".into(),
            mime_type: Some("application/activity+json".into()),
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
    if media::any_image(spec.items.iter().copied()) {
        namespaces.insert(media::PREFIX.to_owned(), media::NAMESPACE.to_owned());
    }
    if h.archive {
        namespaces.insert(
            "fh".to_owned(),
            crate::feed::paging::FH_NAMESPACE.to_owned(),
        );
    }
    if !spec.deleted.is_empty() {
        namespaces.insert("at".to_owned(), TOMBSTONES_NAMESPACE.to_owned());
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
        icon: meta.icon.clone(),
        logo: meta.logo.clone(),
        ..Default::default()
    }
}

/// RFC 6721's namespace, declared on the feed element when it has tombstones.
pub const TOMBSTONES_NAMESPACE: &str = "http://purl.org/atompub/tombstones/1.0";

/// Gives a subscription document the tombstones of its scope (RFC 6721; archive pages hold
/// none: a mirror reads deletions from the feed it polls).
pub(super) fn announce_deletions<'a>(
    spec: &mut FeedSpec<'a>,
    listing: &'a crate::site::Listing,
    scope: &crate::site::Scope,
) {
    spec.deleted = crate::site::deleted::in_scope(&listing.tombstones, scope);
    // A deletion changes the feed: its `updated` is never earlier than the latest one.
    if let Some(last) = spec.deleted.first().map(|t| t.when.fixed_offset()) {
        spec.updated = spec.updated.max(last);
    }
}

/// The feed-level elements the crate cannot place (it writes extension elements after the
/// entries, where RFC 4287's schema allows none): RFC 5005's `fh:archive` and RFC 6721's
/// `at:deleted-entry`, one per tombstone, newest deletion first.
fn head_extensions(spec: &FeedSpec<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if spec.history.archive {
        out.extend_from_slice(b"<fh:archive/>");
    }
    for t in &spec.deleted {
        let when = t.when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        out.extend_from_slice(
            format!(
                "<at:deleted-entry ref=\"{}\" when=\"{when}\"/>",
                quick_xml::escape::escape(t.record.id.as_str())
            )
            .as_bytes(),
        );
    }
    out
}

/// Writes `feed` with `extensions` among its metadata: before the first entry (or the end of
/// a feed without entries). Titles and content are escaped, so the first `<entry>` is the
/// first entry element.
fn write(feed: &Feed, extensions: &[u8]) -> Result<Vec<u8>, FeedError> {
    let mut out = Vec::with_capacity(4096 + feed.entries.len() * 8192);
    feed.write_with_config(
        &mut out,
        WriteConfig {
            write_document_declaration: true,
            indent_size: None,
        },
    )
    .map_err(|e| FeedError::write("Atom", e))?;
    if !extensions.is_empty() {
        let at = super::find(&out, b"<entry>")
            .or_else(|| super::rfind(&out, b"</feed>"))
            .ok_or("Atom writer: no end of feed")?;
        out.splice(at..at, extensions.iter().copied());
    }
    out.push(b'\n');
    Ok(out)
}

/// The whole document in one go (the reference the spliced documents must equal).
pub fn render(spec: &FeedSpec<'_>) -> Result<Vec<u8>, FeedError> {
    let mut f = feed(spec);
    f.entries = spec
        .items
        .iter()
        .map(|p| entry(spec.meta, p, &p.content_html.both()))
        .collect();
    write(&f, &head_extensions(spec)).map(|doc| super::stylesheet::link(spec.meta, doc))
}

/// The document without entries, checked, cut where the entries go.
pub fn envelope(spec: &FeedSpec<'_>) -> Result<Envelope, FeedError> {
    let doc = super::stylesheet::link(spec.meta, write(&feed(spec), &head_extensions(spec))?);
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
pub fn fragment(meta: &SiteMeta, post: &Post, texts: &Texts<'_>) -> Result<Bytes, FeedError> {
    let f = Feed {
        title: Text::plain("fragment"),
        id: "urn:feedsmith:fragment".into(),
        updated: post.updated,
        entries: vec![entry(meta, post, texts)],
        namespaces: [(media::PREFIX.to_owned(), media::NAMESPACE.to_owned())].into(),
        ..Default::default()
    };
    let doc = write(&f, b"")?;
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

fn entry(meta: &SiteMeta, post: &Post, (content, summary): &Texts<'_>) -> Entry {
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
    // Only a real attachment (the lead image is Media RSS, below).
    if let Some(a) = &post.enclosure {
        links.push(Link {
            href: a.url.clone(),
            rel: "enclosure".into(),
            mime_type: Some(a.mime_type.clone()),
            length: a.length.map(|l| l.to_string()),
            ..Default::default()
        });
    }
    let mut summary = Text::plain(summary.to_string());
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
        extensions: media_extensions(post),
        content: meta.full_content(post).then(|| Content {
            value: Some(content.to_string()),
            content_type: Some("html".into()),
            lang: post.lang.clone(),
            base: None,
            src: None,
        }),
        ..Default::default()
    }
}

/// The lead image's Media RSS elements (extension elements, which RFC 4287 allows in an
/// entry), as the `atom_syndication` crate's extension map.
fn media_extensions(post: &Post) -> atom_syndication::extension::ExtensionMap {
    let mut map = atom_syndication::extension::ExtensionMap::new();
    for (local, el) in media::elements(post) {
        map.entry(media::PREFIX.into())
            .or_default()
            .entry(local.into())
            .or_default()
            .push(atom_syndication::extension::Extension {
                name: el.name.into(),
                attrs: el.attrs,
                ..Default::default()
            });
    }
    map
}

#[cfg(test)]
mod tests {
    //! One test per row of SPEC §2's element mapping, Atom column: a post made from front
    //! matter, its `<entry>` fragment read back with `quick_xml` (not `atom_syndication`, which
    //! wrote it), and the exact value the row promises. The per-feed rows read a whole document
    //! back with `feed-rs`.

    use super::*;
    use crate::feed::rss::tests::{all, config, one, post, read_xml, site_feed, term_feed, El};
    use crate::site::{Scope, TermKind};

    /// The `<entry>` of `post`, read back.
    fn entry(post: &Post) -> Vec<(String, El)> {
        read_xml(
            &fragment(
                &SiteMeta::from_config(&config()),
                post,
                &post.content_html.both(),
            )
            .unwrap(),
        )
    }

    /// The one `<link>` with relation `rel`.
    fn link<'a>(entry: &'a [(String, El)], rel: &str) -> &'a El {
        match all(entry, "link")
            .into_iter()
            .filter(|l| l.attr("rel") == Some(rel))
            .collect::<Vec<_>>()[..]
        {
            [l] => l,
            _ => panic!("expected one link rel={rel:?} in {entry:#?}"),
        }
    }

    #[test]
    fn title_is_text() {
        let entry = entry(&post("title: 'Tom & Jerry <b>bold</b>'", ""));
        let title = one(&entry, "title");
        assert_eq!(title.text, "Tom & Jerry <b>bold</b>");
        assert!(
            matches!(title.attr("type"), None | Some("text")),
            "{title:?}"
        );
    }

    #[test]
    fn link_is_the_alternate() {
        let entry = entry(&post("categories: news", ""));
        let want = "https://example.com/news/2021/12/21/port.html";
        assert_eq!(link(&entry, "alternate").attr("href"), Some(want));
    }

    #[test]
    fn default_id_is_the_link() {
        let entry = entry(&post("", ""));
        let want = "https://example.com/2021/12/21/port.html";
        assert_eq!(one(&entry, "id").text, want);
    }

    #[test]
    fn front_matter_id_that_is_no_iri_becomes_one() {
        let entry = entry(&post("id: story 42", ""));
        let id = &one(&entry, "id").text;
        assert_eq!(id, "tag:example.com,2000:story%2042");
        // RFC 4287 §4.2.6: an absolute IRI.
        assert_eq!(url::Url::parse(id).unwrap().scheme(), "tag");
        // One that already is an IRI is kept.
        let entry = self::entry(&post(
            "id: 'urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a'",
            "",
        ));
        assert_eq!(
            one(&entry, "id").text,
            "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"
        );
    }

    #[test]
    fn date_is_published_in_the_posts_offset() {
        let entry = entry(&post("updated: 2022-01-05 10:00:00 +0100", ""));
        assert_eq!(one(&entry, "published").text, "2021-12-21T08:10:27+08:00");
    }

    #[test]
    fn updated_keeps_its_offset_and_defaults_to_the_date() {
        let entry = entry(&post("updated: 2022-01-05 10:00:00 +0100", ""));
        assert_eq!(one(&entry, "updated").text, "2022-01-05T10:00:00+01:00");
        let entry = self::entry(&post("", ""));
        assert_eq!(one(&entry, "updated").text, "2021-12-21T08:10:27+08:00");
    }

    #[test]
    fn summary_is_text() {
        let entry = entry(&post("summary: 'Tom & Jerry <b>'", "Body.\n"));
        let summary = one(&entry, "summary");
        assert_eq!(summary.text, "Tom & Jerry <b>");
        assert!(
            matches!(summary.attr("type"), None | Some("text")),
            "{summary:?}"
        );
    }

    #[test]
    fn content_is_html() {
        let entry = entry(&post("", "<p>a ]]> b &amp; <i>c</i></p>\n"));
        let content = one(&entry, "content");
        assert_eq!(content.attr("type"), Some("html"));
        assert_eq!(content.text, "<p>a ]]> b &amp; <i>c</i></p>\n");
    }

    #[test]
    fn source_link_is_via() {
        let entry = entry(&post("source_url: 'http://news.example.cn/a?id=1&b=2'", ""));
        let via = link(&entry, "via");
        assert_eq!(via.attr("href"), Some("http://news.example.cn/a?id=1&b=2"));
    }

    #[test]
    fn categories_and_tags_are_category_terms() {
        let entry = entry(&post(
            "categories: [News, 厦门]\ntags: [Rust, Release Notes]",
            "",
        ));
        let terms: Vec<Option<&str>> = all(&entry, "category")
            .iter()
            .map(|c| c.attr("term"))
            .collect();
        assert_eq!(
            terms,
            [
                Some("News"),
                Some("厦门"),
                Some("Rust"),
                Some("Release Notes")
            ]
        );
    }

    #[test]
    fn author_is_a_person() {
        let entry = entry(&post("author: {name: Ann, email: ann@example.com}", ""));
        assert_eq!(one(&entry, "author/name").text, "Ann");
        assert_eq!(one(&entry, "author/email").text, "ann@example.com");
        let entry = self::entry(&post("author: 王小明", ""));
        assert_eq!(one(&entry, "author/name").text, "王小明");
        assert!(all(&entry, "author/email").is_empty(), "{entry:#?}");
        // No author of its own: the site's.
        let entry = self::entry(&post("", ""));
        assert_eq!(one(&entry, "author/name").text, "Desk Editor");
    }

    #[test]
    fn image_is_media_content_and_thumbnail_not_an_enclosure() {
        let entry = entry(&post("image: /img/lead.png", ""));
        let content = one(&entry, "media:content");
        let url = Some("https://example.com/img/lead.png");
        assert_eq!(content.attr("url"), url);
        assert_eq!(content.attr("medium"), Some("image"));
        assert_eq!(content.attr("type"), Some("image/png"));
        assert_eq!(one(&entry, "media:thumbnail").attr("url"), url);
        assert!(
            all(&entry, "link")
                .iter()
                .all(|l| l.attr("rel") != Some("enclosure")),
            "{entry:#?}"
        );
    }

    #[test]
    fn enclosure_is_an_enclosure_link_with_its_length() {
        let entry = entry(&post(
            "enclosure: {url: 'https://cdn.example.org/ep1.mp3', type: audio/mp4, length: 99}",
            "",
        ));
        let e = link(&entry, "enclosure");
        assert_eq!(e.attr("href"), Some("https://cdn.example.org/ep1.mp3"));
        assert_eq!(e.attr("type"), Some("audio/mp4"));
        assert_eq!(e.attr("length"), Some("99"));
        // Unknown length: none written (Atom's `length` is optional).
        let entry = self::entry(&post("enclosure: https://cdn.example.org/a.ogg", ""));
        assert_eq!(link(&entry, "enclosure").attr("length"), None);
    }

    #[test]
    fn per_post_feed_content_overrides_the_site_setting() {
        let entry = entry(&post("feed_content: summary", "<p>Body.</p>\n"));
        assert!(all(&entry, "content").is_empty(), "{entry:#?}");
        assert_eq!(one(&entry, "summary").text, "Body.");
    }

    #[test]
    fn icon_and_logo() {
        let mut c = config();
        c.site.icon = Some("favicon.ico".into());
        c.site.logo = Some("https://cdn.example.org/logo.png".into());
        let feed = read_xml(&site_feed(&c, "", Format::Atom));
        assert_eq!(one(&feed, "icon").text, "https://example.com/favicon.ico");
        assert_eq!(one(&feed, "logo").text, "https://cdn.example.org/logo.png");
        let feed = read_xml(&site_feed(&config(), "", Format::Atom));
        assert!(all(&feed, "icon").is_empty() && all(&feed, "logo").is_empty());
    }

    #[test]
    fn feed_self_link_and_term_title() {
        let scope = Scope::Term(TermKind::Category, "港口-news".into());
        let (_, title, selfs) = term_feed("categories: [港口 News]", scope, Format::Atom);
        assert_eq!(title, "Harbor News — 港口 News");
        let want = "https://example.com/categories/%E6%B8%AF%E5%8F%A3-news/atom.xml";
        assert_eq!(selfs, [want]);
    }
}
