//! RSS 2.0, written with the `rss` crate, following the RSS Advisory Board profile.

use super::FeedError;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item, Source};

use bytes::Bytes;

use super::{
    host_of, media, rfc822, splice_out, terms_of, verify, Envelope, FeedSpec, SiteMeta, Texts,
    GENERATOR, VERSION,
};
use crate::config::Format;
use crate::post::Post;

/// Namespaces every RSS document declares, whether or not its items use them, so that the
/// envelope rendered without items declares what the spliced-in items need.
fn namespaces() -> std::collections::BTreeMap<String, String> {
    [
        ("atom", rss::extension::atom::NAMESPACE),
        ("content", "http://purl.org/rss/1.0/modules/content/"),
        ("dc", rss::extension::dublincore::NAMESPACE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The channel of a feed, without items.
fn channel(spec: &FeedSpec<'_>) -> Channel {
    let meta = spec.meta;
    let mut atom_links = vec![Link {
        href: spec.self_url.clone(),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    }];
    atom_links.extend(spec.hubs().iter().map(|hub| Link {
        href: hub.clone(),
        rel: "hub".into(),
        ..Default::default()
    }));
    // The same posts, followed from the Fediverse.
    if let Some(actor) = &spec.actor {
        atom_links.push(Link {
            href: actor.clone(),
            rel: "alternate".into(),
            mime_type: Some("application/activity+json".into()),
            ..Default::default()
        });
    }
    let h = &spec.history;
    atom_links.extend(h.links().map(|(rel, href)| Link {
        href: href.to_owned(),
        rel: rel.into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    }));
    let mut namespaces = namespaces();
    if media::any_image(spec.items.iter().copied()) {
        namespaces.insert(media::PREFIX.into(), media::NAMESPACE.into());
    }
    let mut extensions = rss::extension::ExtensionMap::new();
    if h.archive {
        namespaces.insert("fh".into(), crate::feed::paging::FH_NAMESPACE.into());
        extensions.entry("fh".into()).or_default().insert(
            "archive".into(),
            vec![rss::extension::Extension {
                name: "fh:archive".into(),
                ..Default::default()
            }],
        );
    }
    Channel {
        title: spec.title.clone(),
        link: meta.home(),
        description: spec.description.clone(),
        language: Some(meta.language.clone()).filter(|l| !l.is_empty()),
        generator: Some(format!("{GENERATOR} {VERSION}")),
        docs: Some("https://www.rssboard.org/rss-specification".into()),
        // The channel's picture: the logo, else the icon (RSS has one image).
        image: meta
            .logo
            .as_ref()
            .or(meta.icon.as_ref())
            .map(|url| rss::Image {
                url: url.clone(),
                title: spec.title.clone(),
                link: meta.home(),
                ..Default::default()
            }),
        last_build_date: Some(rfc822(&spec.updated)),
        atom_ext: Some(AtomExtension { links: atom_links }),
        namespaces,
        extensions,
        ..Default::default()
    }
}

fn write(channel: &Channel) -> Result<Vec<u8>, FeedError> {
    let mut out = Vec::with_capacity(4096 + channel.items.len() * 8192);
    channel
        .write_to(&mut out)
        .map_err(|e| FeedError::write("RSS", e))?;
    out.push(b'\n');
    Ok(out)
}

/// The whole document in one go (the reference the spliced documents must equal).
pub fn render(spec: &FeedSpec<'_>) -> Result<Vec<u8>, FeedError> {
    let mut ch = channel(spec);
    ch.items = spec
        .items
        .iter()
        .map(|p| item(spec.meta, p, &p.content_html.both()))
        .collect();
    write(&ch).map(|doc| super::stylesheet::link(spec.meta, doc))
}

/// The document without items, checked, cut where the items go.
pub fn envelope(spec: &FeedSpec<'_>) -> Result<Envelope, FeedError> {
    let doc = super::stylesheet::link(spec.meta, write(&channel(spec))?);
    verify::feed(
        Format::Rss,
        &doc,
        &verify::Expect {
            titles: Vec::new(),
            self_url: Some(&spec.self_url),
        },
    )?;
    Envelope::cut(doc, b"</channel>")
}

/// One post's `<item>…</item>`, checked by parsing a one-item document back.
pub fn fragment(meta: &SiteMeta, post: &Post, texts: &Texts<'_>) -> Result<Bytes, FeedError> {
    let mut namespaces = namespaces();
    namespaces.insert(media::PREFIX.into(), media::NAMESPACE.into());
    let ch = Channel {
        items: vec![item(meta, post, texts)],
        namespaces,
        ..Default::default()
    };
    let doc = write(&ch)?;
    verify::item_document(&doc, b"item", &post.title)?;
    splice_out(&doc, b"<item>", b"</channel>")
}

fn item(meta: &SiteMeta, post: &Post, (content, summary): &Texts<'_>) -> Item {
    let author = meta.author_of(post);
    // RSS `author` must be an e-mail address; without one the name goes to `dc:creator`.
    let (rss_author, dc) = match &author.email {
        Some(email) => (Some(format!("{email} ({})", author.name)), None),
        None => (
            None,
            Some(DublinCoreExtension {
                creators: vec![author.name.clone()],
                ..Default::default()
            }),
        ),
    };
    Item {
        title: Some(post.title.clone()),
        link: Some(post.url.clone()),
        // The description is HTML in RSS; the summary is plain text, so escape it.
        description: Some(html_escape::encode_text(summary).into_owned()),
        author: rss_author,
        categories: terms_of(post)
            .map(|(kind, name)| Category {
                name: name.to_owned(),
                domain: Some(format!("{}/{}/", meta.base, kind.dir())),
            })
            .collect(),
        // Only a real attachment: podcast apps take any enclosure as an episode. RSS requires
        // `length`; the RSS Advisory Board's profile says 0 when it is unknown.
        enclosure: post.enclosure.as_ref().map(|a| Enclosure {
            url: a.url.clone(),
            length: a.length.unwrap_or(0).to_string(),
            mime_type: a.mime_type.clone(),
        }),
        guid: Some(Guid {
            value: post.id.clone(),
            permalink: post.id == post.url,
        }),
        pub_date: Some(rfc822(&post.date)),
        source: post.source_link.as_ref().map(|url| Source {
            url: url.clone(),
            title: Some(post.source_name.clone().unwrap_or_else(|| host_of(url))),
        }),
        content: meta.full_content(post).then(|| content.to_string()),
        dublin_core_ext: dc,
        extensions: media_extensions(post),
        ..Default::default()
    }
}

/// The lead image's Media RSS elements, as the `rss` crate's extension map.
fn media_extensions(post: &Post) -> rss::extension::ExtensionMap {
    let mut map = rss::extension::ExtensionMap::new();
    for (local, el) in media::elements(post) {
        map.entry(media::PREFIX.into())
            .or_default()
            .entry(local.into())
            .or_default()
            .push(rss::extension::Extension {
                name: el.name.into(),
                attrs: el.attrs,
                ..Default::default()
            });
    }
    map
}

#[cfg(test)]
pub(in crate::feed) mod tests {
    //! One test per row of SPEC §2's element mapping, RSS column: a post made from front
    //! matter, its `<item>` fragment read back with `quick_xml` (not the `rss` crate that wrote
    //! it), and the exact value the row promises. The per-feed rows read a whole document back
    //! with `feed-rs`. The Atom and JSON tests share the helpers above the first test.

    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;

    use quick_xml::events::{BytesStart, Event};
    use quick_xml::Reader;

    use super::*;
    use crate::config::Config;
    use crate::post::body::Markup;
    use crate::site::{ListOptions, Listing, Scope, TermKind};

    /// The site of every mapping test: `https://example.com`, "Harbor News" by "Desk Editor".
    pub(in crate::feed) fn config() -> Config {
        let mut c = Config::default_for_test(Path::new("posts"), Path::new("public"));
        c.site.title = "Harbor News".into();
        c.site.author = "Desk Editor".into();
        c
    }

    /// A post dated `+0800`, with the given front matter lines and body.
    pub(in crate::feed) fn post(front: &str, body: &str) -> Post {
        let text = format!("---\ndate: 2021-12-21 08:10:27 +0800\n{front}\n---\n{body}");
        let path = Path::new("2021-12-21-port.md");
        let ctx = config().parse_context();
        crate::post::parse_post(path, text.as_bytes(), Markup::Markdown, &ctx)
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// An element read back: its attributes and its own text (entities resolved, CDATA
    /// sections joined).
    #[derive(Debug, Default)]
    pub(in crate::feed) struct El {
        pub attrs: BTreeMap<String, String>,
        pub text: String,
    }

    impl El {
        pub(in crate::feed) fn attr(&self, name: &str) -> Option<&str> {
            self.attrs.get(name).map(String::as_str)
        }
    }

    /// The elements inside the root of `xml`, keyed by their path below it (`title`,
    /// `author/name`), in document order.
    pub(in crate::feed) fn read_xml(xml: &[u8]) -> Vec<(String, El)> {
        fn open(path: &[String], e: &BytesStart<'_>) -> (String, El) {
            let attrs = e.attributes().map(|a| {
                let a = a.unwrap();
                let raw = std::str::from_utf8(&a.value).unwrap();
                let value = quick_xml::escape::unescape(raw).unwrap().into_owned();
                (String::from_utf8_lossy(a.key.as_ref()).into_owned(), value)
            });
            let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
            let el = El {
                attrs: attrs.collect(),
                text: String::new(),
            };
            ([&path[1..], &[name]].concat().join("/"), el)
        }
        let mut reader = Reader::from_reader(xml);
        let mut els: Vec<(String, El)> = Vec::new();
        // The open elements, and for each the index of its entry in `els`.
        let mut path: Vec<String> = Vec::new();
        let mut open_at: Vec<Option<usize>> = Vec::new();
        loop {
            let text = match reader.read_event().unwrap() {
                Event::Start(e) => {
                    let at = (!path.is_empty()).then(|| {
                        els.push(open(&path, &e));
                        els.len() - 1
                    });
                    path.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    open_at.push(at);
                    continue;
                }
                Event::Empty(e) => {
                    els.push(open(&path, &e));
                    continue;
                }
                Event::End(_) => {
                    path.pop();
                    open_at.pop();
                    continue;
                }
                Event::Text(t) => t.decode().unwrap().into_owned(),
                Event::CData(t) => t.decode().unwrap().into_owned(),
                Event::GeneralRef(r) => match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().unwrap();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .unwrap()
                            .to_owned()
                    }
                },
                Event::Eof => break,
                _ => continue,
            };
            if let Some(Some(at)) = open_at.last() {
                els[*at].1.text.push_str(&text);
            }
        }
        els
    }

    /// The `<item>` of `post`, as written.
    fn item_xml(post: &Post) -> String {
        let bytes = fragment(
            &SiteMeta::from_config(&config()),
            post,
            &post.content_html.both(),
        )
        .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The `<item>` of `post`, read back.
    fn item(post: &Post) -> Vec<(String, El)> {
        read_xml(item_xml(post).as_bytes())
    }

    /// The whole feed of `scope` in `format` for one post with front matter `front`: its
    /// bytes, and what feed-rs reads of them (title, self links).
    pub(in crate::feed) fn term_feed(
        front: &str,
        scope: Scope,
        format: Format,
    ) -> (Vec<u8>, String, Vec<String>) {
        let meta = SiteMeta::from_config(&config());
        let posts = [Arc::new(post(front, ""))];
        let listing = Listing::new(posts, chrono::Utc::now(), ListOptions::default());
        let doc =
            crate::feed::render(&FeedSpec::new(&meta, &listing, &scope, format), format).unwrap();
        let feed = feed_rs::parser::parse(&doc[..]).unwrap();
        let selfs = feed
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("self"))
            .map(|l| l.href.clone())
            .collect();
        (doc, feed.title.unwrap().content, selfs)
    }

    /// The all-posts document in `format` of the site `c`, with one post of front matter
    /// `front`.
    pub(in crate::feed) fn site_feed(c: &Config, front: &str, format: Format) -> Vec<u8> {
        let meta = SiteMeta::from_config(c);
        let posts = [Arc::new(post(front, ""))];
        let listing = Listing::new(posts, chrono::Utc::now(), ListOptions::default());
        crate::feed::render(&FeedSpec::new(&meta, &listing, &Scope::All, format), format).unwrap()
    }

    pub(in crate::feed) fn all<'a>(els: &'a [(String, El)], path: &str) -> Vec<&'a El> {
        els.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, e)| e)
            .collect()
    }

    /// The one element at `path`.
    pub(in crate::feed) fn one<'a>(els: &'a [(String, El)], path: &str) -> &'a El {
        match all(els, path)[..] {
            [e] => e,
            _ => panic!("expected one <{path}> in {els:#?}"),
        }
    }

    #[test]
    fn title() {
        let item = item(&post("title: 'Tom & Jerry <b>bold</b>'", ""));
        assert_eq!(one(&item, "title").text, "Tom & Jerry <b>bold</b>");
    }

    #[test]
    fn link_is_site_url_plus_permalink() {
        let item = item(&post("categories: news", ""));
        let want = "https://example.com/news/2021/12/21/port.html";
        assert_eq!(one(&item, "link").text, want);
    }

    #[test]
    fn default_id_is_the_link_as_a_permalink_guid() {
        let item = item(&post("", ""));
        let guid = one(&item, "guid");
        assert_eq!(guid.text, "https://example.com/2021/12/21/port.html");
        assert_eq!(guid.text, one(&item, "link").text);
        // isPermaLink defaults to true (RSS 2.0).
        assert!(
            matches!(guid.attr("isPermaLink"), None | Some("true")),
            "{guid:?}"
        );
    }

    #[test]
    fn front_matter_id_is_a_guid_that_is_not_a_permalink() {
        let item = item(&post("id: story 42", ""));
        let guid = one(&item, "guid");
        assert_eq!(guid.text, "story 42");
        assert_eq!(guid.attr("isPermaLink"), Some("false"));
    }

    #[test]
    fn date_keeps_the_posts_offset() {
        let item = item(&post("", ""));
        assert_eq!(
            one(&item, "pubDate").text,
            "Tue, 21 Dec 2021 08:10:27 +0800"
        );
    }

    #[test]
    fn updated_has_no_element() {
        let p = post("updated: 2022-01-05 10:00:00 +0100", "");
        let xml = item_xml(&p);
        assert!(!xml.contains("2022"), "{xml}");
        assert_eq!(
            one(&item(&p), "pubDate").text,
            "Tue, 21 Dec 2021 08:10:27 +0800"
        );
    }

    #[test]
    fn summary_is_the_description_as_html() {
        let item = item(&post("summary: 'Tom & Jerry <b>'", "Body.\n"));
        // Plain text in the post; RSS descriptions are HTML, so it is HTML-escaped once.
        assert_eq!(one(&item, "description").text, "Tom &amp; Jerry &lt;b&gt;");
    }

    #[test]
    fn content_is_encoded_html_even_with_a_cdata_end_inside() {
        let item = item(&post("", "<p>a ]]> b &amp; <i>c</i></p>\n"));
        assert_eq!(
            one(&item, "content:encoded").text,
            "<p>a ]]> b &amp; <i>c</i></p>\n"
        );
    }

    #[test]
    fn source_text_is_the_source_name() {
        let item = item(&post(
            "source_url: 'http://news.example.cn/a?id=1&b=2'\nsource_name: 厦门日报",
            "",
        ));
        let source = one(&item, "source");
        assert_eq!(
            source.attr("url"),
            Some("http://news.example.cn/a?id=1&b=2")
        );
        assert_eq!(source.text, "厦门日报");
    }

    #[test]
    fn source_text_falls_back_to_the_sources_host() {
        let item = item(&post("source_url: 'http://news.example.cn/a?id=1'", ""));
        let source = one(&item, "source");
        assert_eq!(source.attr("url"), Some("http://news.example.cn/a?id=1"));
        assert_eq!(source.text, "news.example.cn");
    }

    #[test]
    fn categories_and_tags_are_one_category_each() {
        let item = item(&post(
            "categories: [News, 厦门]\ntags: [Rust, Release Notes]",
            "",
        ));
        let terms: Vec<&str> = all(&item, "category")
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(terms, ["News", "厦门", "Rust", "Release Notes"]);
    }

    #[test]
    fn author_with_an_email_is_the_author_element() {
        let item = item(&post("author: {name: Ann, email: ann@example.com}", ""));
        assert_eq!(one(&item, "author").text, "ann@example.com (Ann)");
        assert!(all(&item, "dc:creator").is_empty(), "{item:#?}");
    }

    #[test]
    fn author_without_an_email_is_dc_creator() {
        let item = item(&post("author: 王小明", ""));
        assert_eq!(one(&item, "dc:creator").text, "王小明");
        assert!(all(&item, "author").is_empty(), "{item:#?}");
        // No author of its own: the site's.
        let item = self::item(&post("", ""));
        assert_eq!(one(&item, "dc:creator").text, "Desk Editor");
    }

    #[test]
    fn image_is_media_content_and_thumbnail_never_an_enclosure() {
        let item = item(&post("image: /img/lead.png", ""));
        let content = one(&item, "media:content");
        assert_eq!(
            content.attr("url"),
            Some("https://example.com/img/lead.png")
        );
        assert_eq!(content.attr("medium"), Some("image"));
        assert_eq!(content.attr("type"), Some("image/png"));
        let thumb = one(&item, "media:thumbnail");
        assert_eq!(thumb.attr("url"), Some("https://example.com/img/lead.png"));
        assert!(all(&item, "enclosure").is_empty(), "{item:#?}");
        // No type when the URL does not say.
        let item = self::item(&post("image: https://cdn.example.org/photo", ""));
        assert_eq!(one(&item, "media:content").attr("type"), None);
    }

    #[test]
    fn enclosure_is_the_attachment_with_length_zero_when_unknown() {
        let item = item(&post(
            "enclosure: {url: 'https://cdn.example.org/ep1.mp3', length: 12345}",
            "",
        ));
        let e = one(&item, "enclosure");
        assert_eq!(e.attr("url"), Some("https://cdn.example.org/ep1.mp3"));
        assert_eq!(e.attr("type"), Some("audio/mpeg"));
        assert_eq!(e.attr("length"), Some("12345"));
        assert!(all(&item, "media:content").is_empty(), "{item:#?}");
        let item = self::item(&post("enclosure: https://cdn.example.org/talk.pdf", ""));
        let e = one(&item, "enclosure");
        assert_eq!(e.attr("type"), Some("application/pdf"));
        assert_eq!(e.attr("length"), Some("0"));
    }

    #[test]
    fn per_post_feed_content_overrides_the_site_setting() {
        let item = item(&post("feed_content: summary", "<p>Body.</p>\n"));
        assert!(all(&item, "content:encoded").is_empty(), "{item:#?}");
        assert_eq!(one(&item, "description").text, "Body.");
    }

    #[test]
    fn channel_image_is_the_logo_else_the_icon() {
        let channel_image = |logo: Option<&str>, icon: Option<&str>| {
            let mut c = config();
            c.site.logo = logo.map(str::to_owned);
            c.site.icon = icon.map(str::to_owned);
            let els = read_xml(&site_feed(&c, "", Format::Rss));
            all(&els, "channel/image").first().map(|_| {
                let text = |p: &str| one(&els, p).text.clone();
                [
                    text("channel/image/url"),
                    text("channel/image/title"),
                    text("channel/image/link"),
                ]
            })
        };
        assert_eq!(channel_image(None, None), None);
        let [url, title, link] = channel_image(Some("logo.png"), Some("icon.png")).unwrap();
        assert_eq!(url, "https://example.com/logo.png");
        assert_eq!(title, "Harbor News");
        assert_eq!(link, "https://example.com/");
        let [url, ..] = channel_image(None, Some("https://cdn.example.org/i.png")).unwrap();
        assert_eq!(url, "https://cdn.example.org/i.png");
    }

    #[test]
    fn feed_self_link_and_term_title() {
        let scope = Scope::Term(TermKind::Tag, "rust".into());
        let (doc, title, selfs) = term_feed("tags: Rust", scope, Format::Rss);
        assert_eq!(title, "Harbor News — Rust");
        assert_eq!(selfs, ["https://example.com/tags/rust/rss.xml"]);
        // The self link is the `atom:link` (feed-rs does not say which element it read).
        let channel = read_xml(&doc);
        let link = one(&channel, "channel/atom:link");
        assert_eq!(link.attr("rel"), Some("self"));
        assert_eq!(
            link.attr("href"),
            Some("https://example.com/tags/rust/rss.xml")
        );
    }
}
