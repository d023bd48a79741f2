//! The HTTP server (SPEC §5), tested against the real `feedsmith serve` on an ephemeral
//! loopback port, plus the atomic store swap tested in-process at the library level.
//!
//! Ordinary requests go through `ureq` (no automatic decompression, so the raw bytes are
//! seen); hostile request lines and HEAD framing go over `common::raw`, because clients
//! normalize paths and hide what follows a response head.

mod compression;
mod conditional;
mod headers;
mod limits;
mod routing;
mod servers;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common;
use crate::common::http::{agent, get, request, request_with, Resp};
use crate::common::raw;
use crate::common::{news_post, Server, TempSite};

const CN_TAG: &str = "厦门日报新闻";
const CN_TAG_RSS: &str = "/tags/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/rss.xml";
const CN_TITLE: &str = "港口吞吐量创新高 外贸航线再扩容";
const MARKUP_TITLE: &str = "Rust & <Feeds> at speed";

const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
const JSON_TYPE: &str = "application/feed+json; charset=utf-8";
const OPML_TYPE: &str = "text/x-opml; charset=utf-8";
const HTML_TYPE: &str = "text/html; charset=utf-8";

/// Marker planted in files next to the posts: no response may ever contain it.
const SECRET: &str = "SECRET-MARKER-7f3a9c";

const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// One post of the fixture site as the test writes it. What its page must show is taken from
/// here, never from the product.
struct FixturePost {
    file: &'static str,
    title: &'static str,
    /// As written in the front matter: `YYYY-MM-DD HH:MM:SS ±HHMM`.
    date: &'static str,
    category: &'static str,
    tags: &'static [&'static str],
    /// The body is this paragraph `repeat` times…
    paragraph: &'static str,
    repeat: usize,
    /// …then, when there is one, the source link as a trailing bare autolink (SPEC §1).
    source: Option<&'static str>,
    /// A piece of the paragraph's text that the page must show.
    snippet: &'static str,
}

impl FixturePost {
    fn body(&self) -> String {
        let mut body = self.paragraph.repeat(self.repeat);
        if let Some(src) = self.source {
            body.push_str(&format!("\n<{src}>\n"));
        }
        body
    }
}

/// The posts of [`site`]: one tagged 厦门日报新闻, one with markup in its title, bodies long
/// enough that every feed compresses, two with a source link.
const POSTS: [FixturePost; 4] = [
    FixturePost {
        file: "2021-12-21-gangkou.md",
        title: CN_TITLE,
        date: "2021-12-21 08:10:27 +0800",
        category: "shamenribao",
        tags: &[CN_TAG],
        paragraph: "<p>本报讯 今年前十一个月，港口集装箱吞吐量同比增长，外贸航线持续扩容，港区作业效率稳步提升。</p>\n",
        repeat: 12,
        source: Some("http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001"),
        snippet: "港口集装箱吞吐量同比增长",
    },
    FixturePost {
        file: "2023-07-01-jiuyuan.md",
        title: "海上救援演练",
        date: "2023-07-01 15:00:00 +0800",
        category: "shamenribao",
        tags: &[CN_TAG, "safety"],
        paragraph: "海上联合搜救演练在近海海域举行，多部门协同处置。\n\n",
        repeat: 10,
        source: None,
        snippet: "多部门协同处置",
    },
    FixturePost {
        file: "2024-01-15-rust-feeds.md",
        title: MARKUP_TITLE,
        date: "2024-01-15 10:00:00 +0000",
        category: "tech",
        tags: &["rust", "http"],
        paragraph: "Feeds are documents; serving them well means exact validators and \
                    honest caching headers, every time, for every reader.\n\n",
        repeat: 15,
        source: Some("https://blog.example.org/2024/01/rust-feeds"),
        snippet: "honest caching headers, every time",
    },
    FixturePost {
        file: "2024-02-01-etags.md",
        title: "Conditional GET and ETags",
        date: "2024-02-01 09:30:00 +0000",
        category: "tech",
        tags: &["rust", "caching"],
        paragraph:
            "An ETag names one representation; If-None-Match asks whether it changed.\n\n",
        repeat: 15,
        source: None,
        snippet: "If-None-Match asks whether it changed",
    },
];

/// A site holding [`POSTS`], and files next to them that no response may reveal.
fn site() -> TempSite {
    let s = TempSite::new();
    for p in &POSTS {
        s.write_post(
            p.file,
            &news_post(p.title, p.date, p.category, &p.tags.join(" "), &p.body()),
        );
    }
    // Files a traversal would find: next to the posts (the server's working directory) and
    // inside the posts directory.
    std::fs::write(
        s.root().join("Cargo.toml"),
        format!("[package]\nname = \"{SECRET}\"\n"),
    )
    .unwrap();
    std::fs::write(s.root().join("secret.txt"), SECRET).unwrap();
    s
}

/// Every document kind the server publishes for [`site`], with its Content-Type (post pages
/// are found from the feed, see [`post_page_paths`]).
fn documents() -> Vec<(&'static str, &'static str)> {
    vec![
        ("/rss.xml", RSS_TYPE),
        ("/atom.xml", ATOM_TYPE),
        ("/feed.json", JSON_TYPE),
        ("/categories/tech/rss.xml", RSS_TYPE),
        ("/categories/tech/atom.xml", ATOM_TYPE),
        ("/categories/tech/feed.json", JSON_TYPE),
        ("/categories/shamenribao/rss.xml", RSS_TYPE),
        ("/tags/rust/rss.xml", RSS_TYPE),
        ("/tags/rust/atom.xml", ATOM_TYPE),
        ("/tags/rust/feed.json", JSON_TYPE),
        (CN_TAG_RSS, RSS_TYPE),
        (
            "/tags/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/atom.xml",
            ATOM_TYPE,
        ),
        (
            "/tags/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/feed.json",
            JSON_TYPE,
        ),
        ("/feeds.opml", OPML_TYPE),
        ("/index.html", HTML_TYPE),
        // Term pages.
        ("/tags/rust/", HTML_TYPE),
        ("/categories/tech/index.html", HTML_TYPE),
    ]
}

fn is_feed(path: &str) -> bool {
    path.ends_with("/rss.xml") || path.ends_with("/atom.xml") || path.ends_with("/feed.json")
}

// ---------------------------------------------------------------------------------------------
// Helpers (raw bytes on the wire go through `common::raw`)

fn http_date(s: &str) -> SystemTime {
    httpdate::parse_http_date(s).unwrap_or_else(|e| panic!("not an HTTP-date {s:?}: {e}"))
}

fn fmt_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn assert_strong_etag(etag: &str, what: &str) {
    assert!(!etag.starts_with("W/"), "{what}: weak ETag {etag}");
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "{what}: ETag not quoted: {etag}"
    );
    let inner = &etag[1..etag.len() - 1];
    assert!(
        inner
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)),
        "{what}: ETag has characters an entity-tag cannot: {etag}"
    );
}

/// The item links of a feed, parsed with feed-rs.
fn item_links(rss: &[u8]) -> Vec<(String, String)> {
    let feed = feed_rs::parser::parse(rss).expect("rss.xml parses");
    feed.entries
        .iter()
        .map(|e| {
            let title = e.title.as_ref().expect("item title").content.clone();
            let link = e.links.first().expect("item link").href.clone();
            (title, link)
        })
        .collect()
}

/// The path of every post page, from the links in `/rss.xml`.
fn post_page_paths(server: &Server) -> Vec<String> {
    let rss = get(&server.at("/rss.xml"), &[]);
    assert_eq!(rss.status, 200);
    item_links(&rss.body)
        .into_iter()
        .map(|(_, link)| {
            link.strip_prefix(server.url.trim_end_matches('/'))
                .unwrap_or_else(|| panic!("item link {link} is not on {}", server.url))
                .to_owned()
        })
        .collect()
}

fn html_escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &b[..], &mut out).expect("valid brotli");
    out
}

fn unzstd(b: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(b).expect("valid zstd")
}

fn decode(coding: &str, b: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => gunzip(b),
        "br" => unbrotli(b),
        "zstd" => unzstd(b),
        other => panic!("unexpected Content-Encoding {other}"),
    }
}

fn assert_304(r: &Resp, full: &Resp, what: &str) {
    assert_eq!(r.status, 304, "{what}");
    assert!(r.body.is_empty(), "{what}: 304 with a body");
    assert_eq!(r.h("etag"), full.h("etag"), "{what}");
    assert_eq!(r.h("last-modified"), full.h("last-modified"), "{what}");
    assert_eq!(r.h("cache-control"), full.h("cache-control"), "{what}");
    assert_eq!(r.h("vary"), full.h("vary"), "{what}");
    // RFC 9110 §8.6: a Content-Length in a 304 must be the length a 200 would have.
    if let Some(cl) = r.header("content-length") {
        assert_eq!(cl, full.h("content-length"), "{what}: 304 Content-Length");
    }
}
