//! The content-URL table: every URL-bearing attribute in every item of every feed format, and
//! in every post page served, is an absolute `http(s)`, `mailto` or `data` URL.
//!
//! A feed reader shows an item away from the site, so a relative reference there leads nowhere
//! (the W3C validator's `ContainsRelRef`). The posts below use each URL-bearing attribute, in
//! Markdown and in HTML bodies nested at various depths, with relative, root-relative,
//! protocol-relative, fragment-only and entity-bearing URLs. The content is read with a real
//! HTML tokenizer (`lol_html`), never with a regex, and the URLs with the `url` crate.

use std::cell::RefCell;

use lol_html::{element, HtmlRewriter, Settings};
use serde_json::Value;
use url::Url;

use crate::common::xmltree::{self, Node};
use crate::common::{stderr, Server, TempSite};

/// Attributes whose value is a URL (`*srcset`: a list of them). `data` counts on `<object>`.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "poster",
    "data-src",
    "data-srcset",
    "longdesc",
    "cite",
    "data",
    "action",
    "formaction",
    "background",
    "xlink:href",
];

/// Every URL-bearing attribute, raw HTML inside a Markdown body, three and more levels deep.
const HTML_BLOCK: &str = r##"<div class="outer"><section><article><div><p>Deep <span><a href="deep/link.html?a=1&amp;b=2">link</a></span> and <a href="&#47;&#47;cdn.example/x">hidden</a></p>
<blockquote cite="quote.html"><p><q cite="/q.html">q</q> <del cite="//d.example/why">d</del> <ins cite="#ins">i</ins></p></blockquote>
<figure><img src="img/a.png" longdesc="desc.html" srcset="img/a1.png 1x, /img/a2.png 2x" alt="a"><img data-src="//img.example/lazy.png" data-srcset="lazy1.png 1x" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></figure>
<picture><source srcset="pic.webp" type="image/webp"><source srcset="data:image/gif;base64,R0lGODlhAQABAAAAACw= 1x, wide.png 2x" media="(min-width: 9em)"><img src="pic.jpg" alt="p"></picture>
<video poster="poster.png" src="v.mp4"><source src="v.webm"><track src="subs.vtt"></video>
<audio src="/a.mp3"></audio>
<object data="movie.swf"><embed src="e.swf"></object>
<map name="m"><area href="area.html" alt="x"></map>
<form action="/submit"><button formaction="go">b</button></form>
<table background="bg.png"><tr><td background="/cell.png">c</td></tr></table>
<svg><defs><symbol id="icon"></symbol></defs><a xlink:href="svg-link.html"><image href="svg.png"/></a><use href="#icon"/></svg>
<a href="#top">top</a> <a href="mailto:desk@example.com">mail</a> <a href="page.html#sec">sec</a>
</div></article></section></div>"##;

fn markdown_post() -> String {
    format!(
        "---\ntitle: Markdown with every kind of link\ndate: 2024-03-01 10:00:00 +0800\n\
         categories: news\ntags: links\nimage: img/lead.png\n\
         author: {{name: Ann, uri: /about/ann}}\nsource_url: //origin.example/story\n---\n\
         A paragraph with [a relative link](other.html), [root-relative](/root.html), \
         [protocol-relative](//news.example.com/x.html), [query](page.html?x=1&y=2), \
         a footnote[^1] and ![an image](img/inline.png).\n\n\
         > A quote with [a link](../up.html).\n\n\
         - a list\n  - nested [deeper](deeper/item.html)\n\n\
         {HTML_BLOCK}\n\n[^1]: The note, with [a link](note.html).\n"
    )
}

fn html_post() -> String {
    format!(
        "---\ntitle: HTML with every kind of link\ndate: 2024-03-02 10:00:00 +0800\n\
         categories: news\ntags: links\n---\n\
         <p>Lead paragraph with <a href='single-quoted.html'>single quotes</a>.</p>\n\
         <ul><li><ol><li><div><span><em><a href=\"../../very/deep.html\">very deep</a></em></span></div></li></ol></li></ul>\n\
         {HTML_BLOCK}\n\
         <p><a href=\"page.html?q=1&amp;r=2#frag\">entities</a></p>\n\
         <http://news.example.cn/html_News/NewsShare.html?infoCode=NW1>\n"
    )
}

/// The site: two posts, one in a nested directory (so relative references have a directory).
fn site() -> TempSite {
    let site = TempSite::new();
    site.write_post("deep/a/2024-03-01-markdown-links.md", &markdown_post());
    site.write_post("2024-03-02-html-links.html", &html_post());
    site
}

/// Whether `value` is an absolute URL a reader can follow.
fn is_absolute(value: &str) -> bool {
    Url::parse(value.trim())
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "mailto" | "data"))
}

/// An inline SVG's reference to its own element (`<use href="#icon">`): it must stay local,
/// made absolute it names another document and the icon is gone.
fn is_svg_local(element: &str, url: &str) -> bool {
    url.starts_with('#') && matches!(element, "use" | "lineargradient" | "radialgradient")
}

/// Each URL in a URL-bearing attribute's value. A `srcset` is read as HTML reads it: a URL is
/// a run of non-whitespace (commas inside it, as in `data:` URLs, belong to it), then
/// descriptors up to a comma.
fn urls_of(attr: &str, value: &str) -> Vec<String> {
    if !attr.ends_with("srcset") {
        return vec![value.to_owned()];
    }
    let mut urls = Vec::new();
    let mut expecting_url = true;
    for token in value.split_ascii_whitespace() {
        if expecting_url {
            let url = token.trim_start_matches(',');
            if !url.is_empty() {
                urls.push(url.trim_end_matches(',').to_owned());
                expecting_url = url.ends_with(',');
            }
        } else if token.contains(',') {
            expecting_url = true;
        }
    }
    urls
}

/// Every `(element, attribute, URL)` in `html` (inside elements matching `scope`), read by
/// lol_html; attribute values come decoded of character references, as a browser reads them.
fn url_attributes(html: &str, scope: &str) -> Vec<(String, String, String)> {
    let found = RefCell::new(Vec::new());
    {
        let mut rewriter = HtmlRewriter::new(
            Settings::new().append_element_content_handler(element!(scope, |el| {
                let name = el.tag_name();
                for a in el.attributes() {
                    let attr = a.name();
                    if !URL_ATTRIBUTES.contains(&attr.as_str())
                        || (attr == "data" && name != "object")
                    {
                        continue;
                    }
                    let value = html_escape::decode_html_entities(&a.value()).into_owned();
                    for url in urls_of(&attr, &value) {
                        found.borrow_mut().push((name.clone(), attr.clone(), url));
                    }
                }
                Ok(())
            })),
            |_: &[u8]| {},
        );
        rewriter.write(html.as_bytes()).expect("HTML tokenizes");
        rewriter.end().expect("HTML tokenizes");
    }
    found.into_inner()
}

/// Asserts every URL attribute of `html` is absolute; returns how many there were.
fn assert_absolute(doc: &str, field: &str, html: &str, scope: &str) -> usize {
    let found = url_attributes(html, scope);
    let relative: Vec<_> = found
        .iter()
        .filter(|(el, _, url)| !is_absolute(url) && !is_svg_local(el, url))
        .collect();
    assert!(
        relative.is_empty(),
        "{doc} {field}: relative URLs {relative:?}"
    );
    found.len()
}

/// Asserts a plain URL field (not HTML) is absolute.
fn assert_field(doc: &str, field: &str, value: Option<&str>) {
    if let Some(v) = value {
        assert!(is_absolute(v), "{doc} {field}: {v:?} is not absolute");
    }
}

/// The HTML fields of every item of one RSS document, and its other URL fields checked.
fn rss_html(doc: &str, text: &str) -> Vec<(String, String)> {
    let root = xmltree::parse(text).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let channel = root.child("channel").expect("channel");
    let mut out = Vec::new();
    for item in channel.children_named("item") {
        for field in ["description", "content:encoded"] {
            if let Some(t) = item.child_text(field) {
                out.push((field.to_owned(), t.to_owned()));
            }
        }
        assert_field(doc, "link", item.child_text("link"));
        assert_field(
            doc,
            "source",
            item.child("source").and_then(|s| s.attr("url")),
        );
        for (name, attr) in [("enclosure", "url"), ("media:content", "url")] {
            for e in item.children_named(name) {
                assert_field(doc, name, e.attr(attr));
            }
        }
    }
    out
}

/// The HTML fields of every entry of one Atom document, and its other URL fields checked.
fn atom_html(doc: &str, text: &str) -> Vec<(String, String)> {
    let root = xmltree::parse(text).unwrap_or_else(|e| panic!("{doc}: {e}"));
    // Relative references must not remain, whatever `xml:base` says.
    let mut out = Vec::new();
    for entry in root.children_named("entry") {
        for field in ["content", "summary"] {
            if let Some(n) = entry.child(field) {
                if n.attr("type") == Some("html") {
                    out.push((field.to_owned(), n.text.clone()));
                }
            }
        }
        for link in entry.children_named("link") {
            assert_field(doc, "link", link.attr("href"));
        }
        atom_people(doc, entry);
    }
    out
}

fn atom_people(doc: &str, entry: &Node) {
    for a in entry.children_named("author") {
        assert_field(doc, "author uri", a.child_text("uri"));
    }
}

/// The HTML fields of every item of one JSON Feed, and its other URL fields checked.
fn json_html(doc: &str, text: &str) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut out = Vec::new();
    for item in v["items"].as_array().expect("items") {
        for field in ["content_html", "summary"] {
            if let Some(t) = item[field].as_str() {
                out.push((field.to_owned(), t.to_owned()));
            }
        }
        for field in ["url", "external_url", "image", "banner_image"] {
            assert_field(doc, field, item[field].as_str());
        }
        for a in item["authors"].as_array().into_iter().flatten() {
            assert_field(doc, "authors url", a["url"].as_str());
        }
    }
    out
}

#[test]
fn every_url_in_feed_content_is_absolute() {
    let site = site();
    let o = site.build(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let feeds = [
        "rss.xml",
        "atom.xml",
        "feed.json",
        "categories/news/rss.xml",
        "categories/news/atom.xml",
        "categories/news/feed.json",
        "tags/links/rss.xml",
        "tags/links/atom.xml",
        "tags/links/feed.json",
    ];
    for doc in feeds {
        let text = site.read_out(doc);
        let fields = if doc.ends_with("rss.xml") {
            rss_html(doc, &text)
        } else if doc.ends_with("atom.xml") {
            atom_html(doc, &text)
        } else {
            json_html(doc, &text)
        };
        let content: Vec<_> = fields
            .iter()
            .filter(|(f, _)| f == "content:encoded" || f == "content" || f == "content_html")
            .collect();
        assert_eq!(content.len(), 2, "{doc}: both posts' content");
        let mut seen = 0;
        for (field, html) in &fields {
            seen += assert_absolute(doc, field, html, "*");
        }
        // Absolute and right: character references decoded before resolving, `srcset` split
        // where HTML splits it.
        let urls: Vec<String> = fields
            .iter()
            .flat_map(|(_, html)| url_attributes(html, "*"))
            .map(|(_, _, u)| u)
            .collect();
        for want in [
            "https://cdn.example/x",
            "https://d.example/why",
            // A `data:` URL in a `srcset` keeps its comma.
            "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
        ] {
            assert!(
                urls.iter().any(|u| u == want),
                "{doc}: no {want} in {urls:?}"
            );
        }
        assert!(
            urls.iter().any(|u| u == "#icon"),
            "{doc}: <use href=\"#icon\">"
        );
        assert!(
            urls.iter().any(|u| u.ends_with("/deep/link.html?a=1&b=2")),
            "{doc}: {urls:?}"
        );
        // Each post's HTML block alone has over thirty URLs: they were all found and read.
        assert!(seen >= 2 * 30, "{doc}: only {seen} URL attributes found");
    }
}

#[test]
fn every_url_in_a_post_page_is_absolute() {
    let site = site();
    let server = Server::start(&site, &[]);
    let feed: Value = serde_json::from_str(&server.get("/feed.json").text()).expect("JSON");
    let items = feed["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    for item in items {
        let url = item["url"].as_str().expect("item url");
        let path = Url::parse(url).expect("item url parses").path().to_owned();
        let page = server.get(&path);
        assert_eq!(page.status, 200, "{path}");
        // The post's content: the page's own navigation is the site's, not the post's.
        let n = assert_absolute(&path, "e-content", &page.text(), ".e-content *");
        assert!(n >= 30, "{path}: only {n} URL attributes in the content");
    }
}

#[test]
fn the_table_checker_sees_relative_urls() {
    // The checker itself: it must report what the product must not emit.
    let html = r##"<div><p><a href="x.html">x</a><a href="&#47;&#47;h.example/">h</a><img srcset="https://ok.example/a 1x, b.png 2x"><q cite="#c">c</q><object data="o.swf"></object><div data="not-a-url"></div></p></div>"##;
    let relative: Vec<String> = url_attributes(html, "*")
        .into_iter()
        .filter(|(_, _, u)| !is_absolute(u))
        .map(|(_, _, u)| u)
        .collect();
    assert_eq!(relative, ["x.html", "//h.example/", "b.png", "#c", "o.swf"]);
}
