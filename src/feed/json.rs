//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), serialized from typed structs so the
//! field order is fixed.

use super::FeedError;
use serde::Serialize;

use bytes::Bytes;

use super::{rfc3339, terms_of, verify, Envelope, FeedSpec, SiteMeta, Texts};
use crate::config::Format;
use crate::post::{Person, Post};

/// The version URL every JSON Feed 1.1 document declares.
pub const VERSION_URL: &str = "https://jsonfeed.org/version/1.1";

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: String,
    feed_url: &'a str,
    description: &'a str,
    /// The site's logo, else its icon (JSON Feed: "the URL of an image for the feed").
    #[serde(skip_serializing_if = "Option::is_none")]
    icon: Option<&'a str>,
    /// The site's icon (JSON Feed: a small image for the feed in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    favicon: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    authors: Vec<Author<'a>>,
    /// The next older archive page (RFC 5005 `prev-archive`, as JSON Feed pagination).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_url: Option<&'a str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

fn author(p: &Person) -> Author<'_> {
    Author {
        name: &p.name,
        url: p
            .uri
            .clone()
            .or_else(|| p.email.as_ref().map(|e| format!("mailto:{e}"))),
    }
}

fn feed<'a>(spec: &'a FeedSpec<'a>) -> JsonFeed<'a> {
    let meta = spec.meta;
    JsonFeed {
        version: VERSION_URL,
        title: &spec.title,
        home_page_url: meta.home(),
        feed_url: &spec.self_url,
        description: &spec.description,
        icon: meta.logo.as_deref().or(meta.icon.as_deref()),
        favicon: meta.icon.as_deref(),
        language: Some(meta.language.as_str()).filter(|l| !l.is_empty()),
        authors: vec![author(&meta.default_author)],
        next_url: spec.history.prev_archive.as_deref(),
        hubs: spec
            .hubs()
            .iter()
            .map(|url| Hub {
                kind: "WebSub",
                url,
            })
            .collect(),
        items: Vec::new(),
    }
}

fn write(feed: &JsonFeed<'_>) -> Result<Vec<u8>, FeedError> {
    let mut out = serde_json::to_vec(feed).map_err(|e| FeedError::write("JSON", e))?;
    out.push(b'\n');
    Ok(out)
}

/// The whole document in one go (the reference the spliced documents must equal).
pub fn render(spec: &FeedSpec<'_>) -> Result<Vec<u8>, FeedError> {
    let mut f = feed(spec);
    let texts: Vec<Texts<'_>> = spec.items.iter().map(|p| p.content_html.both()).collect();
    f.items = spec
        .items
        .iter()
        .zip(&texts)
        .map(|(p, t)| item(spec.meta, p, t))
        .collect();
    write(&f)
}

/// The document without items, checked, cut inside its empty `items` array.
pub fn envelope(spec: &FeedSpec<'_>) -> Result<Envelope, FeedError> {
    let doc = write(&feed(spec))?;
    verify::feed(
        Format::Json,
        &doc,
        &verify::Expect {
            titles: Vec::new(),
            self_url: Some(&spec.self_url),
        },
    )?;
    // `items` is the last field: the document ends `"items":[]}` and a newline.
    Envelope::cut(doc, b"]}\n")
}

/// One post's item object, checked by parsing it back.
pub fn fragment(meta: &SiteMeta, post: &Post, texts: &Texts<'_>) -> Result<Bytes, FeedError> {
    let text =
        serde_json::to_vec(&item(meta, post, texts)).map_err(|e| FeedError::write("JSON", e))?;
    verify::json_item_text(&text, &post.title)?;
    Ok(Bytes::from(text))
}

fn item<'a>(meta: &'a SiteMeta, post: &'a Post, (content, summary): &'a Texts<'_>) -> JsonItem<'a> {
    let mut tags: Vec<&str> = Vec::new();
    for (_, name) in terms_of(post) {
        if !tags.contains(&name) {
            tags.push(name);
        }
    }
    let full = meta.full_content(post);
    JsonItem {
        id: &post.id,
        url: &post.url,
        external_url: post.source_link.as_deref(),
        title: &post.title,
        content_html: full.then_some(content.as_ref()),
        // An item must have content_html or content_text: in summary mode, the summary.
        content_text: (!full).then_some(summary.as_ref()),
        summary: summary.as_ref(),
        image: post.image.as_deref(),
        date_published: rfc3339(&post.date),
        date_modified: rfc3339(&post.updated),
        authors: vec![author(meta.author_of(post))],
        tags,
        language: post.lang.as_deref(),
        attachments: post
            .enclosure
            .iter()
            .map(|a| Attachment {
                url: &a.url,
                mime_type: &a.mime_type,
                size_in_bytes: a.length,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    //! One test per row of SPEC §2's element mapping, JSON Feed column: a post made from front
    //! matter, its item object read back with `serde_json` as an untyped value (not the structs
    //! that wrote it), and the exact value the row promises. The per-feed rows read a whole
    //! document back the same way, and with `feed-rs`.

    use serde_json::{json, Value};

    use super::*;
    use crate::feed::rss::tests::{config, post, site_feed, term_feed};
    use crate::site::{Scope, TermKind};

    /// The item object of `post`, read back.
    fn item(post: &Post) -> Value {
        let bytes = fragment(
            &SiteMeta::from_config(&config()),
            post,
            &post.content_html.both(),
        )
        .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn title() {
        let item = item(&post("title: 'Tom & Jerry <b>bold</b>'", ""));
        assert_eq!(item["title"], "Tom & Jerry <b>bold</b>");
    }

    #[test]
    fn link_is_the_url() {
        let item = item(&post("categories: news", ""));
        assert_eq!(item["url"], "https://example.com/news/2021/12/21/port.html");
    }

    #[test]
    fn default_id_is_the_link() {
        let item = item(&post("", ""));
        assert_eq!(item["id"], "https://example.com/2021/12/21/port.html");
    }

    #[test]
    fn front_matter_id_is_kept_as_written() {
        let item = item(&post("id: story 42", ""));
        assert_eq!(item["id"], "story 42");
        // A number is still a string id (JSON Feed 1.1).
        assert_eq!(self::item(&post("id: 42", ""))["id"], "42");
    }

    #[test]
    fn date_is_published_in_the_posts_offset() {
        let item = item(&post("updated: 2022-01-05 10:00:00 +0100", ""));
        assert_eq!(item["date_published"], "2021-12-21T08:10:27+08:00");
    }

    #[test]
    fn updated_is_date_modified_in_its_offset() {
        let item = item(&post("updated: 2022-01-05 10:00:00 +0100", ""));
        assert_eq!(item["date_modified"], "2022-01-05T10:00:00+01:00");
    }

    #[test]
    fn summary() {
        let item = item(&post("summary: 'Tom & Jerry <b>'", "Body.\n"));
        assert_eq!(item["summary"], "Tom & Jerry <b>");
    }

    #[test]
    fn content_is_content_html() {
        let item = item(&post("", "<p>a ]]> b &amp; <i>c</i></p>\n"));
        assert_eq!(item["content_html"], "<p>a ]]> b &amp; <i>c</i></p>\n");
    }

    #[test]
    fn source_link_is_the_external_url() {
        let item = item(&post("source_url: 'http://news.example.cn/a?id=1&b=2'", ""));
        assert_eq!(item["external_url"], "http://news.example.cn/a?id=1&b=2");
        assert_eq!(self::item(&post("", ""))["external_url"], Value::Null);
    }

    #[test]
    fn categories_and_tags_are_tags() {
        let item = item(&post(
            "categories: [News, 厦门]\ntags: [Rust, Release Notes]",
            "",
        ));
        assert_eq!(
            item["tags"],
            json!(["News", "厦门", "Rust", "Release Notes"])
        );
    }

    #[test]
    fn author_is_in_authors() {
        let item = item(&post("author: {name: Ann, email: ann@example.com}", ""));
        // JSON Feed authors have no e-mail field: it becomes a `mailto:` URL.
        let want = json!([{"name": "Ann", "url": "mailto:ann@example.com"}]);
        assert_eq!(item["authors"], want);
        let item = self::item(&post("author: 王小明", ""));
        assert_eq!(item["authors"], json!([{"name": "王小明"}]));
        // No author of its own: the site's.
        let item = self::item(&post("", ""));
        assert_eq!(item["authors"], json!([{"name": "Desk Editor"}]));
    }

    #[test]
    fn image() {
        let item = item(&post("image: /img/lead.png", ""));
        assert_eq!(item["image"], "https://example.com/img/lead.png");
        assert!(item.get("attachments").is_none(), "{item}");
    }

    #[test]
    fn enclosure_is_an_attachment() {
        let item = item(&post(
            "enclosure: {url: 'https://cdn.example.org/ep1.mp3', length: 12345}",
            "",
        ));
        assert_eq!(
            item["attachments"],
            json!([{"url": "https://cdn.example.org/ep1.mp3", "mime_type": "audio/mpeg",
                    "size_in_bytes": 12345}])
        );
        let item = self::item(&post("enclosure: https://cdn.example.org/a.pdf", ""));
        assert_eq!(
            item["attachments"],
            json!([{"url": "https://cdn.example.org/a.pdf", "mime_type": "application/pdf"}])
        );
    }

    #[test]
    fn per_post_feed_content_overrides_the_site_setting() {
        let item = item(&post("feed_content: summary", "<p>Body.</p>\n"));
        assert!(item.get("content_html").is_none(), "{item}");
        assert_eq!(item["content_text"], "Body.");
        let mut c = config();
        c.feeds.content = crate::config::ContentMode::Summary;
        let p = post("feed_content: full", "<p>Body.</p>\n");
        let bytes = fragment(&SiteMeta::from_config(&c), &p, &p.content_html.both()).unwrap();
        let item: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(item["content_html"], "<p>Body.</p>\n");
    }

    #[test]
    fn icon_is_the_logo_else_the_icon_and_favicon_the_icon() {
        let feed = |logo: Option<&str>, icon: Option<&str>| {
            let mut c = config();
            c.site.logo = logo.map(str::to_owned);
            c.site.icon = icon.map(str::to_owned);
            let doc: Value = serde_json::from_slice(&site_feed(&c, "", Format::Json)).unwrap();
            (doc["icon"].clone(), doc["favicon"].clone())
        };
        assert_eq!(feed(None, None), (Value::Null, Value::Null));
        assert_eq!(
            feed(Some("logo.png"), Some("icon.png")),
            (
                json!("https://example.com/logo.png"),
                json!("https://example.com/icon.png")
            )
        );
        assert_eq!(
            feed(None, Some("icon.png")),
            (
                json!("https://example.com/icon.png"),
                json!("https://example.com/icon.png")
            )
        );
    }

    #[test]
    fn feed_url_and_term_title() {
        let scope = Scope::Term(TermKind::Tag, "rust".into());
        let (doc, title, _) = term_feed("tags: Rust", scope, Format::Json);
        let feed: Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(feed["title"], "Harbor News — Rust");
        assert_eq!(feed["feed_url"], "https://example.com/tags/rust/feed.json");
        // feed-rs reads it as a JSON Feed too.
        assert_eq!(title, "Harbor News — Rust");
    }
}
