//! RSS 2.0, written with the `rss` crate, following the RSS Advisory Board profile.

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Enclosure, Guid, Item, Source};

use bytes::Bytes;

use super::{
    host_of, image_mime, rfc822, splice_out, terms_of, verify, Envelope, FeedSpec, SiteMeta,
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
    if let Some(hub) = spec.hub() {
        atom_links.push(Link {
            href: hub.to_owned(),
            rel: "hub".into(),
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
    let mut extensions = rss::extension::ExtensionMap::new();
    if h.archive {
        namespaces.insert("fh".into(), crate::archive::FH_NAMESPACE.into());
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
        last_build_date: Some(rfc822(&spec.updated)),
        atom_ext: Some(AtomExtension { links: atom_links }),
        namespaces,
        extensions,
        ..Default::default()
    }
}

fn write(channel: &Channel) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(4096 + channel.items.len() * 8192);
    channel
        .write_to(&mut out)
        .map_err(|e| format!("RSS writer: {e}"))?;
    out.push(b'\n');
    Ok(out)
}

/// The whole document in one go (the reference the spliced documents must equal).
pub fn render(spec: &FeedSpec<'_>) -> Result<Vec<u8>, String> {
    let mut ch = channel(spec);
    ch.items = spec.items.iter().map(|p| item(spec.meta, p)).collect();
    write(&ch)
}

/// The document without items, checked, cut where the items go.
pub fn envelope(spec: &FeedSpec<'_>) -> Result<Envelope, String> {
    let doc = write(&channel(spec))?;
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
pub fn fragment(meta: &SiteMeta, post: &Post) -> Result<Bytes, String> {
    let ch = Channel {
        items: vec![item(meta, post)],
        namespaces: namespaces(),
        ..Default::default()
    };
    let doc = write(&ch)?;
    verify::item_document(&doc, b"item", &post.title)?;
    splice_out(&doc, b"<item>", b"</channel>")
}

fn item(meta: &SiteMeta, post: &Post) -> Item {
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
        description: Some(html_escape::encode_text(&post.summary).into_owned()),
        author: rss_author,
        categories: terms_of(post)
            .map(|(kind, name)| Category {
                name: name.to_owned(),
                domain: Some(format!("{}/{}/", meta.base, kind.dir())),
            })
            .collect(),
        enclosure: post.image.as_ref().map(|url| Enclosure {
            url: url.clone(),
            length: "0".into(),
            mime_type: image_mime(url).into(),
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
        content: meta
            .full_content()
            .then(|| post.content_html.get().into_owned()),
        dublin_core_ext: dc,
        ..Default::default()
    }
}
