//! The HTTP server (SPEC §5), tested against the real `feedsmith serve` on an ephemeral
//! loopback port, plus the atomic store swap tested in-process at the library level.
//!
//! Ordinary requests go through `ureq` (no automatic decompression, so the raw bytes are
//! seen); hostile request lines and HEAD framing go over a raw `TcpStream`, because clients
//! normalize paths and hide what follows a response head.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::http::{agent, get, request, request_with, Resp, IO_TIMEOUT};
use common::{news_post, Server, TempSite};

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
    ]
}

fn is_feed(path: &str) -> bool {
    path.ends_with("/rss.xml") || path.ends_with("/atom.xml") || path.ends_with("/feed.json")
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers (raw sockets; ordinary requests are `common::http`)

/// A response read off a raw socket.
struct RawResp {
    status: u16,
    /// Lowercased names.
    headers: Vec<(String, String)>,
    /// Everything after the head, up to EOF.
    rest: Vec<u8>,
}

impl RawResp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `req` as is on a fresh connection and reads until the server closes it (bounded by
/// a read timeout). The request should carry `Connection: close`.
fn raw(addr: &str, req: &[u8]) -> RawResp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(req).expect("write request");
    let mut buf = Vec::new();
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        assert!(
            Instant::now() < deadline,
            "server did not close the connection"
        );
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading raw response: {e} (got {} bytes)", buf.len()),
        }
    }
    parse_raw(&buf)
}

fn parse_raw(buf: &[u8]) -> RawResp {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {:?}",
                String::from_utf8_lossy(buf)
            )
        });
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let headers = lines
        .map(|l| {
            let (k, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header {l:?}"));
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    RawResp {
        status,
        headers,
        rest: buf[end + 4..].to_vec(),
    }
}

fn raw_get(addr: &str, method: &str, target: &str) -> RawResp {
    raw(
        addr,
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
}

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

// ---------------------------------------------------------------------------------------------
// Headers

/// Checks the headers every 200 carries; returns (ETag, Last-Modified).
fn check_200_headers(server: &Server, path: &str, ctype: &str, r: &Resp, max_age: u32) {
    let what = format!("GET {path}");
    assert_eq!(
        r.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.h("content-type"), ctype, "{what}");
    assert_eq!(
        r.h("content-length").parse::<usize>().unwrap(),
        r.body.len(),
        "{what}"
    );
    assert!(
        r.header("content-encoding").is_none(),
        "{what}: encoded without asking"
    );
    assert_strong_etag(r.h("etag"), &what);
    let lm = r.h("last-modified");
    let t = http_date(lm);
    assert_eq!(
        fmt_date(t),
        lm,
        "{what}: Last-Modified is not an IMF-fixdate"
    );
    assert!(
        t <= SystemTime::now() + Duration::from_secs(1),
        "{what}: Last-Modified {lm} is in the future"
    );
    assert_eq!(
        r.h("cache-control"),
        format!("public, max-age={max_age}"),
        "{what}"
    );
    assert_eq!(r.h("vary"), "Accept-Encoding", "{what}");
    if is_feed(path) {
        let own = server.at(path);
        // `serve` runs its WebSub hub by default and advertises it next to the self link.
        let hub = server.at("/hub");
        assert_eq!(
            r.h("link"),
            format!("<{own}>; rel=\"self\", <{hub}>; rel=\"hub\""),
            "{what}: Link self must be the document's own URL"
        );
        // The same self URL inside the document.
        assert!(
            r.text().contains(&own),
            "{what}: document does not name its own URL {own}"
        );
    } else if path == "/feeds.opml" || path == "/index.html" {
        // The lists name themselves too; they are no WebSub topics.
        assert_eq!(
            r.h("link"),
            format!("<{}>; rel=\"self\"", server.at(path)),
            "{what}"
        );
    }
    if ctype.starts_with("text/html") {
        assert_eq!(r.h("x-content-type-options"), "nosniff", "{what}");
        let csp = r.h("content-security-policy");
        assert!(csp.contains("default-src"), "{what}: weak CSP {csp}");
        assert!(
            !csp.contains("script-src *"),
            "{what}: CSP allows scripts {csp}"
        );
    }
}

#[test]
fn every_document_has_exact_headers() {
    let site = site();
    let server = Server::start(&site, &[]);
    let mut docs: Vec<(String, &str)> = documents()
        .into_iter()
        .map(|(p, t)| (p.to_owned(), t))
        .collect();
    let pages = post_page_paths(&server);
    assert_eq!(pages.len(), 4, "{pages:?}");
    docs.extend(pages.into_iter().map(|p| (p, HTML_TYPE)));
    let mut etags = BTreeMap::new();
    for (path, ctype) in &docs {
        let r = get(&server.at(path), &[]);
        check_200_headers(&server, path, ctype, &r, 300);
        // Feeds are well-formed for their format.
        match *ctype {
            RSS_TYPE | ATOM_TYPE | JSON_TYPE => {
                feed_rs::parser::parse(&r.body[..])
                    .unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
            }
            _ => {}
        }
        // The ETag is derived from the bytes: same bytes, same tag.
        let again = get(&server.at(path), &[]);
        assert_eq!(again.body, r.body, "{path}");
        assert_eq!(again.h("etag"), r.h("etag"), "{path}");
        assert_eq!(again.h("last-modified"), r.h("last-modified"), "{path}");
        etags.insert(r.h("etag").to_owned(), path.clone());
    }
    assert_eq!(etags.len(), docs.len(), "distinct documents share an ETag");
}

#[test]
fn max_age_comes_from_the_config() {
    let site = site();
    let config = site.write_config("custom.toml", "[server]\nmax_age = 60\n");
    let server = Server::start(&site, &["--config", &config]);
    for (path, ctype) in documents() {
        let r = get(&server.at(path), &[]);
        check_200_headers(&server, path, ctype, &r, 60);
        let etag = r.h("etag").to_owned();
        let nm = get(&server.at(path), &[("If-None-Match", &etag)]);
        assert_eq!(nm.status, 304, "{path}");
        assert_eq!(nm.h("cache-control"), "public, max-age=60", "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Conditional GET

fn assert_304(r: &Resp, full: &Resp, what: &str) {
    assert_eq!(r.status, 304, "{what}");
    assert!(r.body.is_empty(), "{what}: 304 with a body");
    assert_eq!(r.h("etag"), full.h("etag"), "{what}");
    assert_eq!(r.h("last-modified"), full.h("last-modified"), "{what}");
    assert_eq!(r.h("cache-control"), full.h("cache-control"), "{what}");
    assert_eq!(r.h("vary"), "Accept-Encoding", "{what}");
    // RFC 9110 §8.6: a Content-Length in a 304 must be the length a 200 would have.
    if let Some(cl) = r.header("content-length") {
        assert_eq!(cl, full.h("content-length"), "{what}: 304 Content-Length");
    }
}

#[test]
fn conditional_get() {
    let site = site();
    let server = Server::start(&site, &[]);
    let pages = post_page_paths(&server);
    let paths: Vec<String> = ["/rss.xml", "/feed.json", CN_TAG_RSS, "/index.html"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(pages.into_iter().take(1))
        .collect();
    for path in &paths {
        let url = server.at(path);
        let full = get(&url, &[]);
        assert_eq!(full.status, 200, "{path}");
        let etag = full.h("etag").to_owned();
        let lm = full.h("last-modified").to_owned();
        let lm_t = http_date(&lm);
        let before = fmt_date(lm_t - Duration::from_secs(1));
        let hour_after = fmt_date(lm_t + Duration::from_secs(3600));
        let long_ago = fmt_date(UNIX_EPOCH + Duration::from_secs(86_400));

        // If-None-Match.
        assert_304(&get(&url, &[("If-None-Match", &etag)]), &full, path);
        let r = get(&url, &[("If-None-Match", "\"0000000000000000\"")]);
        assert_eq!(r.status, 200, "{path}: mismatch");
        assert_eq!(r.body, full.body, "{path}");
        let list = format!("\"abc\", \"d,e\" , {etag}");
        assert_304(&get(&url, &[("If-None-Match", &list)]), &full, path);
        assert_304(
            &get(&url, &[("If-None-Match", &format!("W/{etag}"))]),
            &full,
            path,
        );
        assert_304(&get(&url, &[("If-None-Match", "*")]), &full, path);
        // The tag without its quotes is not the tag.
        let unquoted = etag.trim_matches('"').to_owned();
        assert_eq!(
            get(&url, &[("If-None-Match", &unquoted)]).status,
            200,
            "{path}: unquoted tag matched"
        );

        // If-Modified-Since: a time comparison.
        assert_304(&get(&url, &[("If-Modified-Since", &lm)]), &full, path);
        let r = get(&url, &[("If-Modified-Since", &before)]);
        assert_eq!(r.status, 200, "{path}: IMS one second before Last-Modified");
        assert_eq!(r.body, full.body, "{path}");
        assert_304(
            &get(&url, &[("If-Modified-Since", &hour_after)]),
            &full,
            path,
        );
        // Other HTTP-date forms are dates too (RFC 850, asctime).
        for later in ["Sunday, 06-Nov-33 08:49:37 GMT", "Sun Nov  6 08:49:37 2033"] {
            assert_304(&get(&url, &[("If-Modified-Since", later)]), &full, path);
        }
        let r = get(&url, &[("If-Modified-Since", "Sun Nov  6 08:49:37 1994")]);
        assert_eq!(r.status, 200, "{path}: asctime date long before");
        let r = get(&url, &[("If-Modified-Since", "not a date")]);
        assert_eq!(r.status, 200, "{path}: unparsable IMS must be ignored");

        // Both: If-None-Match wins.
        let r = get(
            &url,
            &[
                ("If-None-Match", "\"nope\""),
                ("If-Modified-Since", &hour_after),
            ],
        );
        assert_eq!(r.status, 200, "{path}: INM mismatch must beat a future IMS");
        assert_eq!(r.body, full.body, "{path}");
        assert_304(
            &get(
                &url,
                &[("If-None-Match", &etag), ("If-Modified-Since", &long_ago)],
            ),
            &full,
            path,
        );

        // If-Match.
        let r = get(&url, &[("If-Match", "\"nope\"")]);
        assert_eq!(r.status, 412, "{path}: If-Match mismatch");
        let r = get(&url, &[("If-Match", &etag)]);
        assert_eq!(r.status, 200, "{path}: If-Match match");
        assert_eq!(r.body, full.body, "{path}");

        // HEAD is conditional too.
        let r = request("HEAD", &url, &[("If-None-Match", &etag)]);
        assert_eq!(r.status, 304, "{path}: conditional HEAD");
        assert!(r.body.is_empty());
    }
}

/// A precondition compares with the ETag of the representation the request would get — its
/// content coding — never with another coding's (RFC 9110 §13.1.1, §13.1.2); a 304 names that
/// same representation.
#[test]
fn conditional_requests_compare_with_the_selected_representation() {
    let site = site();
    let server = Server::start(&site, &[]);
    let page = post_page_paths(&server).remove(0);
    // A kept document and a post page (rendered per request, its tags made without its bytes).
    for path in ["/rss.xml", page.as_str()] {
        let url = server.at(path);
        let full = |ae: &str| {
            let r = get(&url, &[("Accept-Encoding", ae)]);
            assert_eq!(r.status, 200, "{path} {ae}");
            r
        };
        let id = full("identity");
        let gz = full("gzip");
        let br = full("br");
        let zst = full("zstd");
        assert_eq!(gz.h("content-encoding"), "gzip", "{path}");
        assert_eq!(br.h("content-encoding"), "br", "{path}");
        assert_eq!(zst.h("content-encoding"), "zstd", "{path}");
        let (id_tag, gz_tag, br_tag, zst_tag) =
            (id.h("etag"), gz.h("etag"), br.h("etag"), zst.h("etag"));

        // Another coding's tag in If-None-Match: the selected representation is sent whole.
        let r = get(
            &url,
            &[("Accept-Encoding", "identity"), ("If-None-Match", zst_tag)],
        );
        assert_eq!(r.status, 200, "{path}: identity asked, zstd tag");
        assert_eq!(r.h("etag"), id_tag, "{path}");
        assert_eq!(r.body, id.body, "{path}");
        let r = get(
            &url,
            &[("Accept-Encoding", "gzip, br"), ("If-None-Match", gz_tag)],
        );
        assert_eq!(r.status, 200, "{path}: br selected, gzip tag");
        assert_eq!(r.h("content-encoding"), "br", "{path}");
        assert_eq!(r.h("etag"), br_tag, "{path}");
        assert_eq!(r.body, br.body, "{path}");
        let r = get(&url, &[("If-None-Match", &format!("W/{gz_tag}"))]);
        assert_eq!(r.status, 200, "{path}: no Accept-Encoding, weak gzip tag");
        assert_eq!(r.h("etag"), id_tag, "{path}");

        // Another coding's tag in If-Match: the precondition fails.
        for (ae, other) in [
            ("identity", gz_tag),
            ("gzip", id_tag),
            ("gzip, br", gz_tag),
            ("zstd", br_tag),
        ] {
            let r = get(&url, &[("Accept-Encoding", ae), ("If-Match", other)]);
            assert_eq!(r.status, 412, "{path}: If-Match {other} with {ae}");
        }

        // The selected representation's own tag: 304 naming it (200 for If-Match).
        for (ae, tag, sent) in [
            ("identity", id_tag, &id),
            ("gzip", gz_tag, &gz),
            ("gzip, br", br_tag, &br),
            ("zstd", zst_tag, &zst),
        ] {
            let what = format!("{path} {ae}");
            assert_304(
                &get(&url, &[("Accept-Encoding", ae), ("If-None-Match", tag)]),
                sent,
                &what,
            );
            // In a list with the other codings' tags, and weak.
            let list = format!("{id_tag}, {gz_tag}, {br_tag}, {zst_tag}");
            assert_304(
                &get(&url, &[("Accept-Encoding", ae), ("If-None-Match", &list)]),
                sent,
                &what,
            );
            assert_304(
                &get(
                    &url,
                    &[
                        ("Accept-Encoding", ae),
                        ("If-None-Match", &format!("W/{tag}")),
                    ],
                ),
                sent,
                &what,
            );
            // `*` matches whichever representation is selected.
            assert_304(
                &get(&url, &[("Accept-Encoding", ae), ("If-None-Match", "*")]),
                sent,
                &what,
            );
            let r = get(&url, &[("Accept-Encoding", ae), ("If-Match", tag)]);
            assert_eq!(r.status, 200, "{what}: If-Match with its own tag");
            assert_eq!(r.body, sent.body, "{what}");
            let r = get(&url, &[("Accept-Encoding", ae), ("If-Match", "*")]);
            assert_eq!(r.status, 200, "{what}: If-Match *");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HEAD

#[test]
fn head_is_get_without_the_body() {
    let site = site();
    let server = Server::start(&site, &[]);
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    paths.extend(post_page_paths(&server));
    for path in &paths {
        for ae in [None, Some("gzip"), Some("br")] {
            let extra: Vec<(&str, &str)> = ae.map(|v| ("Accept-Encoding", v)).into_iter().collect();
            let g = get(&server.at(path), &extra);
            assert_eq!(g.status, 200, "{path}");
            let h = request("HEAD", &server.at(path), &extra);
            assert_eq!(h.status, g.status, "HEAD {path} {ae:?}");
            assert!(h.body.is_empty(), "HEAD {path}: body");
            for name in [
                "content-type",
                "content-length",
                "content-encoding",
                "etag",
                "last-modified",
                "cache-control",
                "vary",
                "link",
                "x-content-type-options",
                "content-security-policy",
            ] {
                assert_eq!(h.header(name), g.header(name), "HEAD {path} {ae:?}: {name}");
            }
            assert_eq!(
                h.h("content-length").parse::<usize>().unwrap(),
                g.body.len(),
                "HEAD {path} {ae:?}: Content-Length must be the GET body length"
            );

            // On the wire: nothing follows the head.
            let ae_line = ae
                .map(|v| format!("Accept-Encoding: {v}\r\n"))
                .unwrap_or_default();
            let r = raw(
                &server.addr,
                format!(
                    "HEAD {path} HTTP/1.1\r\nHost: {}\r\n{ae_line}Connection: close\r\n\r\n",
                    server.addr
                )
                .as_bytes(),
            );
            assert_eq!(r.status, 200, "raw HEAD {path}");
            assert!(
                r.rest.is_empty(),
                "raw HEAD {path}: {} body bytes followed the head",
                r.rest.len()
            );
            assert_eq!(
                r.header("content-length"),
                Some(g.body.len().to_string().as_str()),
                "raw HEAD {path} {ae:?}"
            );
            assert_eq!(r.header("etag"), g.header("etag"), "raw HEAD {path}");
        }
    }

    // HEAD then GET pipelined on one keep-alive connection: the GET's response starts right
    // after the HEAD's head (a HEAD that sent a body would corrupt the framing).
    let path = "/rss.xml";
    let g = get(&server.at(path), &[]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read pipelined responses");
    let first = parse_raw(&buf);
    assert_eq!(first.status, 200);
    let second = parse_raw(&first.rest);
    assert_eq!(second.status, 200, "GET after HEAD");
    assert_eq!(second.rest, g.body, "GET after HEAD: body");
}

// ---------------------------------------------------------------------------------------------
// Compression

#[test]
fn compression_by_accept_encoding() {
    let site = site();
    check_compression(&Server::start(&site, &[]));
}

/// With no room kept for compressed forms, each is made again for every response: the same
/// bytes, the same ETag, revalidated the same way.
#[test]
fn compression_without_a_cache_of_compressed_forms() {
    let site = site();
    let config = site.write_config("nocache.toml", "[server]\ncompressed_cache_mb = 0\n");
    check_compression(&Server::start(&site, &["--config", &config]));
}

fn check_compression(server: &Server) {
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    paths.extend(post_page_paths(server));
    for path in &paths {
        let url = server.at(path);
        let id = get(&url, &[]);
        assert_eq!(id.status, 200);
        assert!(id.header("content-encoding").is_none());
        let id_etag = id.h("etag").to_owned();
        let mut coded_etags = vec![id_etag.clone()];
        for coding in ["gzip", "br", "zstd"] {
            let r = get(&url, &[("Accept-Encoding", coding)]);
            assert_eq!(r.status, 200, "{path} {coding}");
            assert_eq!(r.header("content-encoding"), Some(coding), "{path}");
            assert!(r.body.len() < id.body.len(), "{path} {coding}: not smaller");
            assert_eq!(decode(coding, &r.body), id.body, "{path} {coding}");
            assert_eq!(
                r.h("content-length").parse::<usize>().unwrap(),
                r.body.len(),
                "{path} {coding}"
            );
            assert_eq!(r.h("content-type"), id.h("content-type"), "{path}");
            assert_eq!(r.h("vary"), "Accept-Encoding", "{path}");
            assert_eq!(r.h("last-modified"), id.h("last-modified"), "{path}");
            let etag = r.h("etag").to_owned();
            assert_strong_etag(&etag, path);
            assert!(
                !coded_etags.contains(&etag),
                "{path} {coding}: ETag {etag} equals another representation's"
            );
            coded_etags.push(etag.clone());
            // Stable: the same representation again has the same tag and bytes.
            let again = get(&url, &[("Accept-Encoding", coding)]);
            assert_eq!(again.h("etag"), etag, "{path} {coding}");
            assert_eq!(again.body, r.body, "{path} {coding}");
            // Revalidating the encoded representation.
            let nm = get(
                &url,
                &[("Accept-Encoding", coding), ("If-None-Match", &etag)],
            );
            assert_304(&nm, &r, &format!("{path} {coding} revalidation"));
        }

        let r = get(&url, &[("Accept-Encoding", "gzip;q=0")]);
        assert!(r.header("content-encoding").is_none(), "{path}: gzip;q=0");
        assert_eq!(r.body, id.body);
        assert_eq!(r.h("etag"), id_etag);

        let r = get(&url, &[("Accept-Encoding", "*")]);
        let coding = r
            .header("content-encoding")
            .unwrap_or_else(|| panic!("{path}: `*` got no encoding"))
            .to_owned();
        assert_eq!(decode(&coding, &r.body), id.body, "{path} *");
        assert_ne!(r.h("etag"), id_etag, "{path} *");

        let r = get(&url, &[("Accept-Encoding", "gzip;q=0.5, br;q=0.9")]);
        assert_eq!(r.header("content-encoding"), Some("br"), "{path} q-values");
        assert_eq!(unbrotli(&r.body), id.body);

        let r = get(&url, &[("Accept-Encoding", "br;q=0.2, gzip;q=0.8")]);
        assert_eq!(
            r.header("content-encoding"),
            Some("gzip"),
            "{path} q-values"
        );

        let r = get(&url, &[("Accept-Encoding", "identity")]);
        assert!(r.header("content-encoding").is_none(), "{path}: identity");
        assert_eq!(r.body, id.body);
        assert_eq!(r.h("etag"), id_etag);

        let r = get(&url, &[("Accept-Encoding", "compress, deflate")]);
        assert!(
            r.header("content-encoding").is_none(),
            "{path}: unsupported only"
        );
        assert_eq!(r.body, id.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Methods and paths

#[test]
fn methods_other_than_get_and_head_are_405() {
    let site = site();
    let server = Server::start(&site, &[]);
    for path in ["/rss.xml", "/index.html", "/no/such/thing"] {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let r = request(method, &server.at(path), &[]);
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.h("allow"), "GET, HEAD", "{method} {path}");
        }
    }
    // A made-up method over a raw socket.
    let r = raw_get(&server.addr, "BREW", "/rss.xml");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

/// Reads whatever the server sends on a fresh connection after `req` until it closes it, and
/// returns the status of the first response (any HTTP/1.x version).
fn raw_status(addr: &str, req: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(req).expect("write request");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse().ok());
    status.unwrap_or_else(|| {
        panic!(
            "no HTTP/1.x response to {:?}: {text:?}",
            String::from_utf8_lossy(req)
        )
    })
}

/// RFC 9112 §3.2: an HTTP/1.1 request with no `Host`, or any request with more than one, is
/// answered 400 whatever its method and path; HTTP/1.0 may leave `Host` out, and HTTP/2 names
/// the authority in `:authority`.
#[test]
fn http1_requests_need_exactly_one_host() {
    let site = site();
    let server = Server::start(&site, &[]);
    let addr = &server.addr;
    let host = format!("Host: {addr}\r\n");
    let close = "Connection: close\r\n\r\n";
    let form = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n";
    for (req, status) in [
        (format!("GET /rss.xml HTTP/1.1\r\n{close}"), 400),
        (format!("HEAD /rss.xml HTTP/1.1\r\n{close}"), 400),
        (format!("GET /nope HTTP/1.1\r\n{close}"), 400),
        (format!("DELETE /rss.xml HTTP/1.1\r\n{close}"), 400),
        (format!("POST /hub HTTP/1.1\r\n{form}{close}"), 400),
        (
            format!("GET /rss.xml HTTP/1.1\r\n{host}Host: evil.example\r\n{close}"),
            400,
        ),
        (format!("GET /rss.xml HTTP/1.1\r\n{host}{host}{close}"), 400),
        (format!("GET /rss.xml HTTP/1.0\r\n{host}{host}\r\n"), 400),
        // The valid forms.
        (format!("GET /rss.xml HTTP/1.1\r\n{host}{close}"), 200),
        (format!("GET /rss.xml HTTP/1.1\r\nHost: \r\n{close}"), 200),
        ("GET /rss.xml HTTP/1.0\r\n\r\n".to_owned(), 200),
    ] {
        assert_eq!(raw_status(addr, req.as_bytes()), status, "{req:?}");
    }
    // HTTP/2 with prior knowledge, with neither `:authority` nor `host`: served.
    assert_eq!(h2_get_status(addr, "/rss.xml"), 200);
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
}

/// One HTTP/2 (prior knowledge) GET of `path` with no authority, written frame by frame;
/// returns the response's `:status`.
fn h2_get_status(addr: &str, path: &str) -> u16 {
    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend_from_slice(&[kind, flags]);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
    const HEADERS: u8 = 0x1;
    const RST_STREAM: u8 = 0x3;
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    // HPACK: `:method GET` and `:scheme http` from the static table, `:path` a literal
    // without indexing (name index 4, no Huffman coding).
    assert!(path.len() < 127);
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    out.extend(frame(HEADERS, 0x1 | 0x4, 1, &block)); // END_STREAM | END_HEADERS
    s.write_all(&out).unwrap();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).expect("an HTTP/2 frame");
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).expect("an HTTP/2 frame payload");
        match kind {
            SETTINGS if flags & 0x1 == 0 => s.write_all(&frame(SETTINGS, 0x1, 0, &[])).unwrap(),
            HEADERS if stream == 1 => {
                // The first field is `:status`: an indexed entry of the static table (8–14) or
                // a literal with that name and a plain string.
                let first = payload[0];
                if first & 0x80 != 0 {
                    let statuses = [200, 204, 206, 304, 400, 404, 500];
                    let index = usize::from(first & 0x7f);
                    return *statuses
                        .get(index.wrapping_sub(8))
                        .unwrap_or_else(|| panic!("first field is static entry {index}"));
                }
                assert!(
                    matches!(first, 0x48 | 0x08 | 0x18) && payload[1] == 3,
                    "unexpected header block {payload:x?}"
                );
                return std::str::from_utf8(&payload[2..5])
                    .unwrap()
                    .parse()
                    .unwrap();
            }
            RST_STREAM | GOAWAY => panic!("HTTP/2 request refused: frame {kind} {payload:x?}"),
            _ => {}
        }
    }
}

/// A request-target longer than the handler accepts is `414 URI Too Long`; one longer than
/// a whole request head may be refused by hyper before the handler (414 or 431); the server
/// serves on.
#[test]
fn overlong_request_targets_are_414() {
    let site = site();
    let server = Server::start(&site, &[]);
    let long_path = format!("/{}", "a".repeat(4 * 1024));
    let long_query = format!("/rss.xml?q={}", "a".repeat(4 * 1024));
    for target in [&long_path, &long_query] {
        for method in ["GET", "HEAD"] {
            let r = raw_get(&server.addr, method, target);
            assert_eq!(r.status, 414, "{method} of a {} byte target", target.len());
        }
    }
    let limit = feedsmith::server::handler::MAX_PATH_BYTES;
    let at_limit = format!("/{}", "a".repeat(limit - 1));
    assert_eq!(raw_get(&server.addr, "GET", &at_limit).status, 404);
    let over = format!("/{}", "a".repeat(limit));
    assert_eq!(raw_get(&server.addr, "GET", &over).status, 414);

    // 64 KiB: past the request head limit.
    let huge = format!(
        "GET /{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(64 * 1024),
        server.addr
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    // The server may answer and close before it has read everything.
    let _ = s.write_all(huge.as_bytes());
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let r = parse_raw(&buf);
        assert!(
            r.status == 414 || r.status == 431,
            "64 KiB target: status {}",
            r.status
        );
    }
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200, "server died");
}

#[test]
fn paths_unknown_hostile_and_unicode() {
    let site = site();
    let server = Server::start(&site, &[]);

    for path in [
        "/nope",
        "/rss.xml/",
        "/rss.xmlx",
        "/tags/rust",
        "/tags/rust/",
        "/tags/no-such-tag/rss.xml",
        "/categories/tech/index.html",
        "/posts/2024-01-15-rust-feeds.md",
        "/feeds/rss.xml",
        "/secret.txt",
        "/Cargo.toml",
    ] {
        let r = get(&server.at(path), &[]);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains(SECRET), "{path}");
    }

    for target in [
        "/../Cargo.toml",
        "/../secret.txt",
        "/../posts/2024-01-15-rust-feeds.md",
        "/..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        "/tags/../../secret.txt",
        "/tags/%2e%2e/%2e%2e/secret.txt",
        "/tags%2Frust%2Frss.xml",
        "/tags/rust%2Frss.xml",
        "/tags%5Crust%5Crss.xml",
        "/a%00b",
        "/rss.xml%00",
        "/%FF%FE",
        "//etc/passwd",
        "/.%2e/secret.txt",
        "/./rss.xml",
    ] {
        for method in ["GET", "HEAD"] {
            let r = raw_get(&server.addr, method, target);
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {target}: status {}",
                r.status
            );
            let body = String::from_utf8_lossy(&r.rest);
            assert!(!body.contains(SECRET), "{target}: leaked a file");
            assert!(!body.contains("root:"), "{target}: leaked /etc/passwd");
            assert!(!body.contains("[package]"), "{target}: leaked Cargo.toml");
        }
    }
    // Absolute-form and asterisk-form targets name no document either.
    for target in ["*", "http://evil.example/../secret.txt"] {
        let r = raw_get(&server.addr, "GET", target);
        assert!(
            [400, 404].contains(&r.status),
            "GET {target}: status {}",
            r.status
        );
        assert!(!String::from_utf8_lossy(&r.rest).contains(SECRET));
    }

    // The server is still up after all of that.
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);

    // Unicode: the percent-encoded slug is decoded before lookup.
    let r = get(&server.at(CN_TAG_RSS), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-type"), RSS_TYPE);
    let feed = feed_rs::parser::parse(&r.body[..]).expect("tag feed parses");
    let title = feed.title.expect("feed title").content;
    assert!(title.contains(CN_TAG), "tag feed title {title:?}");
    assert_eq!(feed.entries.len(), 2, "both posts tagged {CN_TAG}");
    assert!(feed
        .entries
        .iter()
        .any(|e| e.title.as_ref().unwrap().content == CN_TITLE));
    // Over a raw socket too (no client normalization).
    let raw_r = raw_get(&server.addr, "GET", CN_TAG_RSS);
    assert_eq!(raw_r.status, 200);
    assert_eq!(raw_r.rest, r.body);
    // Lowercase percent-encoding names the same document.
    let lower = get(&server.at(&CN_TAG_RSS.to_ascii_lowercase()), &[]);
    assert_eq!(lower.status, 200, "lowercase %-escapes");
    assert_eq!(lower.body, r.body);

    // `/` is the index page.
    let root = get(&server.at("/"), &[]);
    let index = get(&server.at("/index.html"), &[]);
    assert_eq!(root.status, 200);
    assert_eq!(root.h("content-type"), HTML_TYPE);
    assert_eq!(root.body, index.body);
    assert_eq!(root.h("etag"), index.h("etag"));
    assert!(root.text().contains("<link rel=\"alternate\""));
    // A query string does not change what a path names.
    let q = get(&server.at("/rss.xml?utm_source=x"), &[]);
    assert_eq!(q.status, 200);
    assert_eq!(q.body, get(&server.at("/rss.xml"), &[]).body);
}

// ---------------------------------------------------------------------------------------------
// Post pages

#[test]
fn every_item_link_resolves_to_its_post_page() {
    let site = site();
    let server = Server::start(&site, &[]);
    for feed_path in ["/rss.xml", "/categories/tech/rss.xml", CN_TAG_RSS] {
        let rss = get(&server.at(feed_path), &[]);
        assert_eq!(rss.status, 200);
        let links = item_links(&rss.body);
        assert!(!links.is_empty(), "{feed_path}: no items");
        for (title, link) in links {
            assert!(
                link.starts_with(&server.url),
                "{feed_path}: item link {link} is not on the server {}",
                server.url
            );
            let r = get(&link, &[]);
            assert_eq!(r.status, 200, "{link}");
            assert_eq!(r.h("content-type"), HTML_TYPE, "{link}");
            assert_eq!(r.h("x-content-type-options"), "nosniff", "{link}");
            assert!(r.header("content-security-policy").is_some(), "{link}");
            let html = r.text();
            let escaped = html_escape_text(&title);
            assert!(
                html.contains(&escaped),
                "{link}: page lacks the title {escaped:?}"
            );
            assert!(
                html.contains("<link rel=\"alternate\""),
                "{link}: no feed autodiscovery"
            );
            assert!(
                html.contains(&server.at("/rss.xml")),
                "{link}: autodiscovery does not point at the site feed"
            );
            if title == MARKUP_TITLE {
                assert!(
                    !html.contains("<Feeds>"),
                    "{link}: title markup not escaped"
                );
            }
            let post = POSTS
                .iter()
                .find(|p| p.title == title)
                .unwrap_or_else(|| panic!("{link}: item {title:?} is not a post the test wrote"));
            check_post_page(&server, &link, &html, post);
        }
    }
}

/// The page of `post` shows its date, its category and tags (each linking to its feed), a
/// piece of its content, and its source link when it has one.
fn check_post_page(server: &Server, link: &str, html: &str, post: &FixturePost) {
    // The date: machine-readable (RFC 3339, the post's own offset) and as read.
    let (datetime, shown) = page_dates(post.date);
    let time = html
        .split_once("<time datetime=\"")
        .and_then(|(_, rest)| rest.split_once("</time>"))
        .map(|(time, _)| time)
        .unwrap_or_else(|| panic!("{link}: no <time> element"));
    let (attr, text) = time.split_once("\">").expect("<time datetime=…>…</time>");
    assert!(
        datetime.iter().any(|d| d == attr),
        "{link}: datetime {attr:?}, expected one of {datetime:?} (from {:?})",
        post.date
    );
    assert_eq!(text, shown, "{link}: date shown (from {:?})", post.date);
    // Terms, each linking to its RSS feed.
    let terms = std::iter::once(("categories", post.category, ""))
        .chain(post.tags.iter().map(|t| ("tags", *t, "#")));
    for (kind, term, label) in terms {
        let feed = server.at(&format!(
            "/{kind}/{}/rss.xml",
            percent_encoding::utf8_percent_encode(term, percent_encoding::NON_ALPHANUMERIC)
        ));
        let anchor = format!("<a href=\"{feed}\">{label}{term}</a>");
        assert!(html.contains(&anchor), "{link}: no {anchor}");
    }
    // Content.
    assert!(
        post.paragraph.contains(post.snippet),
        "fixture: {}",
        post.file
    );
    assert!(
        html.contains(post.snippet),
        "{link}: content {:?} missing",
        post.snippet
    );
    // The source link, only when the post has one.
    match post.source {
        Some(src) => assert!(
            html.contains(&format!("Source: <a href=\"{src}\"")),
            "{link}: no source link {src}"
        ),
        None => assert!(
            !html.contains("Source:"),
            "{link}: a source link from nowhere"
        ),
    }
}

/// The forms of a front matter date (`YYYY-MM-DD HH:MM:SS ±HHMM`) a page shows: the RFC 3339
/// value for `datetime` (either spelling of a zero offset) and the text read,
/// `YYYY-MM-DD HH:MM ±HH:MM`.
fn page_dates(front_matter: &str) -> (Vec<String>, String) {
    let mut parts = front_matter.split(' ');
    let (day, time, offset) = match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), Some(o)) if o.len() == 5 => (d, t, o),
        _ => panic!("fixture date {front_matter:?} is not YYYY-MM-DD HH:MM:SS ±HHMM"),
    };
    let offset = format!("{}:{}", &offset[..3], &offset[3..]);
    let mut datetime = vec![format!("{day}T{time}{offset}")];
    if offset == "+00:00" || offset == "-00:00" {
        datetime.push(format!("{day}T{time}Z"));
    }
    (datetime, format!("{day} {} {offset}", &time[..5]))
}

// ---------------------------------------------------------------------------------------------
// Restart

fn validators(server: &Server, paths: &[String]) -> BTreeMap<String, (String, String)> {
    paths
        .iter()
        .map(|p| {
            let r = get(&server.at(p), &[]);
            assert_eq!(r.status, 200, "{p}");
            (
                p.clone(),
                (r.h("etag").to_owned(), r.h("last-modified").to_owned()),
            )
        })
        .collect()
}

#[test]
fn validators_survive_a_restart() {
    let site = site();
    let url_args = ["--url", "https://example.com"];
    let mut first = Server::start(&site, &url_args);
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    // Post pages, from the item links (on example.com, served here).
    let rss = get(&first.at("/rss.xml"), &[]);
    for (_, link) in item_links(&rss.body) {
        let path = link
            .strip_prefix("https://example.com")
            .unwrap_or_else(|| panic!("item link {link} not on --url"));
        paths.push(path.to_owned());
    }
    assert_eq!(paths.len(), documents().len() + 4);
    let before = validators(&first, &paths);
    let gz_before = get(&first.at("/rss.xml"), &[("Accept-Encoding", "gzip")]);
    let status = first.stop(EXIT_TIMEOUT);
    assert!(status.success(), "first server exited with {status}");
    // Make a changed mtime observable should the restart rewrite the files.
    std::thread::sleep(Duration::from_millis(1100));

    let second = Server::start(&site, &url_args);
    let after = validators(&second, &paths);
    for p in &paths {
        assert_eq!(
            before[p], after[p],
            "{p}: validators changed across a restart"
        );
    }
    let gz_after = get(&second.at("/rss.xml"), &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz_before.h("etag"), gz_after.h("etag"));
    // A cache holding the first run's tag revalidates against the second run.
    let (etag, lm) = &before["/rss.xml"];
    let r = get(&second.at("/rss.xml"), &[("If-None-Match", etag)]);
    assert_eq!(r.status, 304);
    let r = get(&second.at("/rss.xml"), &[("If-Modified-Since", lm)]);
    assert_eq!(r.status, 304);
}

// ---------------------------------------------------------------------------------------------
// Access log

/// With `access_log = true` every request gets one line on stderr — method, path, status, body
/// bytes, microseconds — and stderr, a file here, holds no terminal colour codes.
#[test]
fn access_log_has_a_line_per_request() {
    let site = site();
    let config = site.write_config("access.toml", "[server]\naccess_log = true\n");
    // The default filter, and colours not turned off by the environment.
    let server = Server::start_with_env(
        &site,
        &["--config", &config],
        &[("RUST_LOG", None), ("NO_COLOR", None)],
    );
    let ok = get(&server.at("/rss.xml"), &[]);
    assert_eq!(ok.status, 200);
    let not_modified = get(&server.at("/atom.xml"), &[("If-None-Match", "*")]);
    assert_eq!(not_modified.status, 304);
    let missing = get(&server.at("/no/such/feed.xml"), &[]);
    assert_eq!(missing.status, 404);
    let head = request("HEAD", &server.at("/feed.json"), &[]);
    assert_eq!(head.status, 200);
    let expected = [
        ("GET", "/rss.xml", 200, ok.body.len()),
        ("GET", "/atom.xml", 304, 0),
        ("GET", "/no/such/feed.xml", 404, missing.body.len()),
        ("HEAD", "/feed.json", 200, 0),
    ];
    assert!(!ok.body.is_empty() && !missing.body.is_empty());
    let lines = common::http::wait_for(
        "an access log line for each request",
        Duration::from_secs(10),
        Some(&server),
        || {
            let found: Vec<AccessLine> = server.stderr().lines().filter_map(access_line).collect();
            let all_there = expected
                .iter()
                .all(|e| found.iter().any(|f| f.method == e.0 && f.path == e.1));
            if all_there {
                Ok(found)
            } else {
                Err(format!("access lines {found:?}"))
            }
        },
    );
    for (method, path, status, bytes) in expected {
        let mine: Vec<&AccessLine> = lines
            .iter()
            .filter(|l| l.method == method && l.path == path)
            .collect();
        assert_eq!(mine.len(), 1, "{method} {path}: {lines:?}");
        assert_eq!(mine[0].status, status, "{method} {path}");
        assert_eq!(mine[0].bytes, bytes, "{method} {path}: bytes");
        assert!(
            mine[0].micros < 60_000_000,
            "{method} {path}: {:?}",
            mine[0]
        );
    }
    let raw_log = std::fs::read(&server.log).unwrap();
    assert!(
        !raw_log.contains(&0x1b),
        "ANSI escape codes in a log that is not a terminal:\n{}",
        String::from_utf8_lossy(&raw_log)
    );
}

/// One access log line.
#[derive(Debug)]
struct AccessLine {
    method: String,
    path: String,
    status: u16,
    bytes: usize,
    micros: u64,
}

/// Parses an INFO line ending `{method} {path} {status} {bytes}B {µs}µs` (whatever styling
/// the level and time carry).
fn access_line(line: &str) -> Option<AccessLine> {
    if !line.contains("INFO") {
        return None;
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [method, path, status, bytes, micros] = fields[fields.len().checked_sub(5)?..] else {
        return None;
    };
    Some(AccessLine {
        method: method.to_owned(),
        path: path.to_owned(),
        status: status.parse().ok()?,
        bytes: bytes.strip_suffix('B')?.parse().ok()?,
        micros: micros.strip_suffix("µs")?.parse().ok()?,
    })
}

// ---------------------------------------------------------------------------------------------
// Shutdown

#[test]
fn sigterm_and_sigint_exit_cleanly() {
    let site = site();
    for sig in ["TERM", "INT"] {
        let mut server = Server::start(&site, &[]);
        assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
        // An idle keep-alive connection must not hold the shutdown up.
        let mut idle = TcpStream::connect(&server.addr).unwrap();
        idle.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        write!(idle, "GET /atom.xml HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut first = [0u8; 12];
        idle.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        // And a connection that has sent nothing yet.
        let _silent = TcpStream::connect(&server.addr).unwrap();

        let started = Instant::now();
        server.signal(sig);
        let status = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "SIG{sig}: no exit within {EXIT_TIMEOUT:?}; stderr:\n{}",
                server.stderr()
            )
        });
        assert!(status.success(), "SIG{sig}: exit status {status}");
        assert!(started.elapsed() < EXIT_TIMEOUT);
    }
}

/// A response still being sent when SIGTERM arrives is sent whole, and the process then exits
/// 0 within [`feedsmith::server::SHUTDOWN_GRACE`] (plus a margin), accepting nothing new.
#[test]
fn sigterm_lets_a_large_response_in_flight_finish() {
    let site = TempSite::new();
    // A post of about 8 MB: /rss.xml carries it whole, more than the socket buffers between
    // the server and a client that is not reading hold.
    let mut body = String::with_capacity(8 << 20);
    let mut i = 0;
    while body.len() < 8 << 20 {
        body.push_str(&format!(
            "Paragraph {i} of a very long read, written so that the feed is several megabytes \
             and its transfer takes a while.\n\n"
        ));
        i += 1;
    }
    body.push_str("The last paragraph.\n");
    site.write_post(
        "2024-05-01-long-read.md",
        &format!("---\ntitle: A long read\ndate: 2024-05-01 10:00:00 +0000\n---\n{body}"),
    );
    let mut server = Server::start(&site, &[]);
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "GET /rss.xml HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .unwrap();
    // The head and the first bytes of the body, read slowly.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).expect("reading the response");
        assert!(
            n > 0,
            "closed before the head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if buf.len() >= end + 4 + 64 * 1024 {
                break end + 4;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let head = parse_raw(&buf[..head_end]);
    assert_eq!(head.status, 200);
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(length > 8 << 20, "/rss.xml is only {length} bytes");

    server.signal("TERM");
    let signalled = Instant::now();
    // Draining: no new connections, but the process waits for this one.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "a connection was accepted after SIGTERM"
    );
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "exited with a response in flight; stderr:\n{}",
        server.stderr()
    );

    // The rest, still slowly, to the end.
    let mut body = buf[head_end..].to_vec();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("after {} of {length} body bytes: {e}", body.len()),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(body.len(), length, "body cut short");
    let text = String::from_utf8(body).expect("UTF-8 feed");
    assert!(text.trim_end().ends_with("</rss>"), "not the whole feed");
    assert!(text.contains("The last paragraph."));

    let limit = feedsmith::server::SHUTDOWN_GRACE + Duration::from_secs(5);
    let status = server
        .wait_exit(limit.saturating_sub(signalled.elapsed()))
        .unwrap_or_else(|| {
            panic!(
                "no exit within {limit:?} of SIGTERM; stderr:\n{}",
                server.stderr()
            )
        });
    assert!(status.success(), "exit status {status}");
}

// ---------------------------------------------------------------------------------------------
// Robustness

#[test]
fn hostile_connections_do_not_take_the_server_down() {
    let site = site();
    let server = Server::start(&site, &[]);

    // A request head far over the limit: refused (431/400) or the connection closed.
    let big = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    let mut s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let _ = s.write_all(big.as_bytes());
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    // The server may reset the connection before the answer is read; a complete answer must
    // be a refusal.
    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let r = parse_raw(&buf);
        assert!(
            r.status == 431 || r.status == 400 || r.status == 414,
            "oversized head: status {}",
            r.status
        );
    }

    // Garbage that is not HTTP.
    for junk in [
        &b"\x00\x01\x02\xff\xfe\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /rss.xml HTTP/1.1\r\nHo st: x\r\n\r\n",
        "GET /厦门 HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes(),
    ] {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let _ = s.write_all(junk);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(
            !String::from_utf8_lossy(&buf).contains("<rss"),
            "junk {junk:?} got a feed"
        );
    }

    // Many connections at once, all answered.
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let url = server.at("/feed.json");
            std::thread::spawn(move || get(&url, &[]).status)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200, "server died");
}

/// A client that opens a connection and never completes its request head is dropped after the
/// header read timeout (SPEC §5), whether it sent part of a head or nothing at all.
#[test]
fn slow_clients_are_timed_out() {
    let site = site();
    let server = Server::start(&site, &[]);
    let limit = feedsmith::server::HEADER_READ_TIMEOUT + Duration::from_secs(10);
    let partial = std::thread::spawn({
        let addr = server.addr.clone();
        move || closed_within(&addr, b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n", limit)
    });
    let silent = std::thread::spawn({
        let addr = server.addr.clone();
        move || closed_within(&addr, b"", limit)
    });
    assert!(
        partial.join().unwrap(),
        "a partial request head was kept open past {limit:?}"
    );
    assert!(
        silent.join().unwrap(),
        "a connection that sent nothing was kept open past {limit:?}"
    );
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
}

/// Sends `prefix` and reports whether the server closed the connection within `limit`.
fn closed_within(addr: &str, prefix: &[u8], limit: Duration) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(prefix).unwrap();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // e.g. a 408; keep reading until the close
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true, // reset
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Atomic swap, in-process

/// A valid RSS document of roughly `items` items whose bytes say which version it is.
fn big_rss(version: &str, items: usize) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>swap</title><link>https://example.com/</link><description>d</description>\n",
    );
    for i in 0..items {
        s.push_str(&format!(
            "<item><title>{version} item {i}</title><link>https://example.com/{version}/{i}.html</link>\
             <guid>https://example.com/{version}/{i}.html</guid>\
             <description>版本 {version} 第 {i} 条 — the quick brown fox {i}</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s.into_bytes()
}

fn store_with(route: &str, bytes: &[u8], t: SystemTime) -> feedsmith::store::Store {
    let doc = feedsmith::render::Doc {
        content_type: RSS_TYPE,
        bytes: bytes.to_vec().into(),
    };
    feedsmith::store::Store::next(
        &feedsmith::store::Store::default(),
        [(route.to_owned(), doc, Some(t))],
        |_| None,
        t,
    )
}

#[test]
fn requests_see_whole_documents_while_the_store_is_swapped() {
    use feedsmith::server::{serve, State};
    use feedsmith::store::{content_hash, etag_for, Coding};

    const ROUTE: &str = "/big/rss.xml";
    let a = Arc::new(big_rss("A", 1500));
    let b = Arc::new(big_rss("B", 2000));
    assert_ne!(a.len(), b.len());
    for v in [&a, &b] {
        feed_rs::parser::parse(&v[..]).expect("fixture is a valid feed");
    }
    let t_a = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let t_b = UNIX_EPOCH + Duration::from_secs(1_700_000_600);
    let etag_a = etag_for(content_hash(&a), Coding::Identity);
    let etag_b = etag_for(content_hash(&b), Coding::Identity);
    let gz_a = etag_for(content_hash(&a), Coding::Gzip);
    let gz_b = etag_for(content_hash(&b), Coding::Gzip);
    assert_ne!(etag_a, etag_b);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(State::new(store_with(ROUTE, &a, t_a), 300, false));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve(listener, Arc::clone(&state), async {
        let _ = stop_rx.await;
    }));

    let url = format!("http://{addr}{ROUTE}");
    let clients_done = Arc::new(AtomicBool::new(false));
    let swapper = std::thread::spawn({
        let state = Arc::clone(&state);
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let done = Arc::clone(&clients_done);
        move || {
            let mut swaps = 0usize;
            while swaps < 300 || !done.load(Ordering::Acquire) {
                let (bytes, t) = if swaps % 2 == 0 { (&b, t_b) } else { (&a, t_a) };
                state.swap(store_with(ROUTE, bytes, t));
                swaps += 1;
                // Leave the two cores to the server and the clients between swaps.
                std::thread::sleep(Duration::from_micros(300));
                if swaps > 1_000_000 {
                    break;
                }
            }
            swaps
        }
    });

    let seen = Arc::new(Mutex::new([0usize; 2]));
    let failures = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            let (etag_a, etag_b, gz_a, gz_b) =
                (etag_a.clone(), etag_b.clone(), gz_a.clone(), gz_b.clone());
            let url = url.clone();
            let seen = Arc::clone(&seen);
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || {
                // One agent per thread: requests reuse keep-alive connections across swaps.
                let agent = agent();
                for i in 0..120 {
                    let gzip = c == 3 && i % 4 == 0;
                    let headers: &[(&str, &str)] = if gzip {
                        &[("Accept-Encoding", "gzip")]
                    } else {
                        &[]
                    };
                    let r = request_with(&agent, "GET", &url, headers);
                    assert_eq!(r.status, 200);
                    let body = if gzip {
                        assert_eq!(r.header("content-encoding"), Some("gzip"));
                        gunzip(&r.body)
                    } else {
                        r.body.clone()
                    };
                    assert_eq!(
                        r.h("content-length").parse::<usize>().unwrap(),
                        r.body.len()
                    );
                    let etag = r.h("etag");
                    let lm = r.h("last-modified");
                    let version = if body == *a {
                        assert_eq!(etag, if gzip { &gz_a } else { &etag_a });
                        assert_eq!(lm, fmt_date(t_a));
                        0
                    } else if body == *b {
                        assert_eq!(etag, if gzip { &gz_b } else { &etag_b });
                        assert_eq!(lm, fmt_date(t_b));
                        1
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                        panic!(
                            "body of {} bytes is neither version A ({}) nor B ({})",
                            body.len(),
                            a.len(),
                            b.len()
                        );
                    };
                    seen.lock().unwrap()[version] += 1;
                }
            })
        })
        .collect();
    let mut client_panics = Vec::new();
    for c in clients {
        if let Err(e) = c.join() {
            client_panics.push(e);
        }
    }
    clients_done.store(true, Ordering::Release);
    let swaps = swapper.join().unwrap();

    let _ = stop_tx.send(());
    let served = rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), server).await });
    assert!(
        matches!(served, Ok(Ok(Ok(())))),
        "server did not shut down cleanly: {served:?}"
    );
    rt.shutdown_timeout(Duration::from_secs(5));

    if let Some(p) = client_panics.into_iter().next() {
        std::panic::resume_unwind(p);
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    let seen = *seen.lock().unwrap();
    assert_eq!(seen[0] + seen[1], 4 * 120);
    assert!(swaps >= 300, "only {swaps} swaps");
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "the swap was never observed: A {} times, B {} times",
        seen[0],
        seen[1]
    );
}

// ---------------------------------------------------------------------------------------------
// Last-Modified is never later than the response (RFC 9110 §8.8.2.1)

#[test]
fn last_modified_is_never_in_the_future() {
    let site = site();
    // A post whose `updated` is far ahead, and one dated in the future published by --future.
    site.write_post(
        "2024-03-01-typo.md",
        "---\ntitle: Updated far ahead\ndate: 2024-03-01 10:00:00 +0000\n\
         updated: 2099-01-01 00:00:00 +0000\ncategories: tech\n---\nSome text.\n",
    );
    site.write_post(
        "2098-05-05-ahead.md",
        "---\ntitle: Dated ahead\ndate: 2098-05-05 10:00:00 +0000\ncategories: tech\n---\nMore.\n",
    );
    let server = Server::start(&site, &["--future"]);
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    let pages = post_page_paths(&server);
    assert_eq!(pages.len(), 6, "{pages:?}");
    paths.extend(pages);
    for path in &paths {
        let r = get(&server.at(path), &[]);
        assert_eq!(r.status, 200, "{path}");
        let lm = http_date(r.h("last-modified"));
        assert!(
            lm <= SystemTime::now() + Duration::from_secs(1),
            "{path}: Last-Modified {} is in the future",
            r.h("last-modified")
        );
        // And a cache that revalidates with it gets a 304, not a stale-forever answer.
        let nm = get(
            &server.at(path),
            &[("If-Modified-Since", r.h("last-modified"))],
        );
        assert_eq!(nm.status, 304, "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// A large site: content kept compressed with a dictionary trained on its own posts

/// `serve` keeps every post's content compressed, and for a site of 2,000 posts or more with
/// a dictionary trained on a sample of them: what it publishes must be byte for byte what
/// `build` (which keeps content as it is) writes, and so must a post added while it serves.
#[test]
fn a_large_site_served_with_a_content_dictionary_gives_the_bytes_build_writes() {
    let site = TempSite::new();
    let places = [
        "港口",
        "社区",
        "地铁三号线",
        "鼓浪屿景区",
        "harbour",
        "old town",
    ];
    let acts = ["加快推进", "持续优化", "opened", "全面提升", "reported on"];
    let body = |n: usize| {
        (0..6)
            .map(|i| {
                format!(
                    "{}{}了第{n}号项目的第{i}阶段，涉及金额约{}亿元。See [the report](/r/{n}/{i}).\n\n",
                    places[(n + i) % places.len()],
                    acts[(n * 7 + i) % acts.len()],
                    (n * 31 + i) % 97
                )
            })
            .collect::<String>()
    };
    for n in 0..2000 {
        let date = format!(
            "2024-{:02}-{:02} 08:{:02}:00 +0800",
            1 + n % 12,
            1 + n % 28,
            n % 60
        );
        site.write_post(
            &format!("2024-{n:04}.md"),
            &news_post(
                &format!("第{n}号项目 report {n}"),
                &date,
                ["port", "city", "metro"][n % 3],
                &format!("t{} t{}", n % 7, n % 11),
                &body(n),
            ),
        );
    }
    let config = site.write_config("nohub.toml", "[hub]\nenabled = false\n");
    let out = site.build(&["--config", &config]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let built = site.root().join("built");
    std::fs::rename(site.out(), &built).unwrap();

    let server = Server::start_with_env(
        &site,
        &["--config", &config, "--url", "https://example.com"],
        &[("RUST_LOG", Some("feedsmith=debug"))],
    );
    let log = server.stderr();
    assert!(
        log.contains("content dictionary from") && log.contains("trained"),
        "no dictionary trained:\n{log}"
    );
    let (want, got) = (
        common::regular_files(&built),
        common::regular_files(&site.out()),
    );
    // Archive pages are not written by `serve` but rendered when asked, from the posts'
    // compressed content: asked for here, every one of them.
    let (archives, written): (Vec<_>, Vec<_>) =
        want.iter().partition(|(rel, _)| rel.contains("archive/"));
    assert!(archives.len() > 100 && written.len() > 30);
    assert_eq!(
        written.iter().map(|(rel, _)| *rel).collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (rel, bytes) in &written {
        assert!(got[*rel] == **bytes, "feeds/{rel} differs from build's");
    }
    for (rel, bytes) in &archives {
        let r = get(&server.at(&format!("/{rel}")), &[]);
        assert_eq!(r.status, 200, "/{rel}");
        assert!(r.body == **bytes, "/{rel} differs from build's feeds/{rel}");
    }
    let rss = get(&server.at("/rss.xml"), &[]);
    assert_eq!(rss.body, want["rss.xml"]);

    // A post added now is compressed with the same dictionary; build agrees on it too.
    site.write_post(
        "2025-new.md",
        &news_post(
            "新项目",
            "2025-01-01 08:00:00 +0800",
            "port",
            "t1",
            &body(4242),
        ),
    );
    let fresh = common::http::wait_for(
        "the new post to be published",
        Duration::from_secs(20),
        Some(&server),
        || {
            let r = get(&server.at("/feed.json"), &[]);
            if String::from_utf8_lossy(&r.body).contains("新项目") {
                Ok(r)
            } else {
                Err(format!("{} bytes without it", r.body.len()))
            }
        },
    );
    let out = site.build(&["--config", &config]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        fresh.body,
        std::fs::read(site.out().join("feed.json")).unwrap()
    );
    let feed: serde_json::Value = serde_json::from_slice(&fresh.body).unwrap();
    let url = feed["items"][0]["url"].as_str().unwrap();
    assert!(url.starts_with("https://example.com/"), "{url}");
    let path = &url["https://example.com".len()..];
    let page = String::from_utf8(get(&server.at(path), &[]).body).unwrap();
    assert!(page.contains("第4242号项目的第0阶段"), "{page}");
    assert!(
        page.contains("<meta name=\"description\" content=\""),
        "{page}"
    );
}

// ---------------------------------------------------------------------------------------------
// The two servers: `--steering off` is the stock one, `on` the event loops

/// The names of the threads of process `pid` (Linux: `/proc/PID/task/*/comm`).
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    names.sort();
    names
}

/// The switch picks the server: `--steering off` serves from the stock multi-thread runtime
/// (its workers are `http-worker`) and starts no event loop (`http-N`); `on` starts the event
/// loops and no stock runtime.
#[cfg(target_os = "linux")]
#[test]
fn the_steering_switch_picks_the_server() {
    let site = site();
    for (mode, stock) in [("off", true), ("on", false)] {
        let server = Server::start(&site, &["--steering", mode]);
        let r = get(&server.at("/rss.xml"), &[("Accept-Encoding", "gzip")]);
        assert_eq!(r.status, 200, "--steering {mode}");
        assert_eq!(
            r.header("content-encoding"),
            Some("gzip"),
            "--steering {mode}"
        );
        let names = thread_names(server.pid());
        let workers = names.iter().any(|n| n == "http-worker");
        let loops = names
            .iter()
            .any(|n| n.starts_with("http-") && n != "http-worker");
        assert_eq!(
            (workers, loops),
            (stock, !stock),
            "--steering {mode}: threads {names:?}"
        );
    }
}
