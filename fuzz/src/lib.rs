//! The fuzz harness: what each fuzz target does with its input, and what it asserts.
//!
//! The targets in `fuzz_targets/` are one line each; the logic lives here so that the main
//! crate's test suite (`tests/fuzz_regressions.rs`, which includes this file as a module)
//! replays the seed corpus and every saved crash through exactly the same code.
//!
//! Every check panics on a violated property: libFuzzer saves a panicking input as a crash.
//!
//! - [`check_post`]: arbitrary bytes as one post file, as Markdown and as HTML → no panic, and
//!   a parsed post carries no character XML 1.0 forbids.
//! - [`check_site`]: up to [`MAX_SITE_POSTS`] posts split at `0xFF` bytes (never part of UTF-8)
//!   → listing → every document rendered; none fails its check, each parses back (RSS/Atom
//!   with `feed-rs`, JSON with `serde_json`, OPML with `quick-xml`), and the result does not
//!   depend on the order the posts were read in.
//! - [`check_http`]: an arbitrary request head against a small fixed store → no panic, only
//!   the statuses the server may answer, consistent lengths and bodies, and `route_of` never
//!   yields a route with `.`/`..` segments or NUL.

use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use feedsmith::config::{Config, ContentMode};
use feedsmith::feed::{self, SiteMeta};
use feedsmith::post::body::Markup;
use feedsmith::post::{parse_post, FileKind, ParseContext, Post};
use feedsmith::render::{render_site, Rendered};
use feedsmith::server::conditional::{negotiate, Preconditions};
use feedsmith::server::handler::{handle, handle_archive, route_of, Handled};
use feedsmith::server::State;
use feedsmith::site::{ListOptions, Listing, Scope};
use feedsmith::store::{Coding, Store};
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

// ---------------------------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------------------------

/// XML 1.0's `Char` production, written out independently of feedsmith's own.
pub fn xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

fn assert_xml_text(what: &str, s: &str) {
    if let Some(c) = s.chars().find(|c| !xml_char(*c)) {
        panic!("{what} holds {c:?}, which XML 1.0 forbids: {s:?}");
    }
}

/// The instant the site targets list posts at: fixed, so a run is reproducible (posts dated
/// after it are held back unless `future` is set).
pub fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .expect("valid instant")
}

/// The site settings of a config byte: bits pick the item limit, content mode, drafts, future,
/// permalink pattern and a site with a path prefix, a time zone and markup in its title.
pub fn config_of(selector: u8) -> (Config, ListOptions) {
    let mut config = Config::default_for_test(Path::new("posts"), Path::new("feeds"));
    config.feeds.limit = [50, 0, 1, 2][usize::from(selector & 3)];
    if selector & 4 != 0 {
        config.feeds.content = ContentMode::Summary;
    }
    let opts = ListOptions {
        drafts: selector & 8 != 0,
        future: selector & 16 != 0,
    };
    config.site.permalink = [
        feedsmith::config::DEFAULT_PERMALINK,
        "pretty",
        "/:title/",
        "/blog/:year/:i_month/:slug:output_ext",
    ][usize::from((selector >> 5) & 3)]
    .to_owned();
    if selector & 128 != 0 {
        config.site.url = Some("https://example.com/blog/".to_owned());
        config.site.title = "Site <b>&amp;</b> ]]> \"q\" 厦门".to_owned();
        config.site.description = "a <site> & ]]>".to_owned();
        config.site.author = "Ann <ann@example.com>".to_owned();
        config.site.timezone = "+08:00".to_owned();
        config.site.language = "zh-CN".to_owned();
    }
    (config, opts)
}

// ---------------------------------------------------------------------------------------------
// post: one file.
// ---------------------------------------------------------------------------------------------

/// File names the post target parses its input under: dated and undated, nested, drafts,
/// names that slugify to nothing.
pub const POST_NAMES: [&str; 6] = [
    "2021-12-21-gangkou-tuntuliang.md",
    "notes/undated-post.html",
    "_drafts/2024-02-30-not-a-date.txt",
    "2023/2023-07-01-港口 吞吐量.markdown",
    "---.md",
    "2099-01-01-.htm",
];

/// Parses `data` as one post, as Markdown and as HTML, under a file name picked by its length.
pub fn check_post(data: &[u8]) {
    let (config, _) = config_of(0);
    let ctx = feed::parse_context(&config);
    let name = POST_NAMES[data.len() % POST_NAMES.len()];
    for markup in [Markup::Markdown, Markup::Html] {
        let first = parse_post(Path::new(name), data, markup, &ctx);
        if let Ok(post) = &first {
            check_parsed(post, &ctx);
        }
        // A pure function of its input.
        let again = parse_post(Path::new(name), data, markup, &ctx);
        assert_eq!(first, again, "parsing {name} twice gave different results");
    }
}

/// What every parsed post must satisfy.
fn check_parsed(post: &Post, ctx: &ParseContext) {
    assert_xml_text("title", &post.title);
    assert_xml_text("summary", &post.summary);
    assert_xml_text("content_html", &post.content_html.get());
    assert_xml_text("id", &post.id);
    assert_xml_text("path", &post.path);
    assert_xml_text("url", &post.url);
    for t in post.categories.iter().chain(&post.tags) {
        assert_xml_text("term", t);
        assert!(!t.trim().is_empty(), "empty term in {:?}", post.source);
    }
    for s in [
        &post.source_link,
        &post.source_name,
        &post.image,
        &post.lang,
    ]
    .into_iter()
    .flatten()
    {
        assert_xml_text("optional field", s);
    }
    if let Some(a) = &post.author {
        assert_xml_text("author name", &a.name);
        for s in [&a.email, &a.uri].into_iter().flatten() {
            assert_xml_text("author field", s);
        }
    }
    assert!(
        post.path.starts_with('/'),
        "post path {:?} is not absolute",
        post.path
    );
    assert!(
        !post.path.split('/').any(|s| s == "." || s == ".."),
        "post path {:?} has dot segments",
        post.path
    );
    let url = url::Url::parse(&post.url)
        .unwrap_or_else(|e| panic!("post url {:?} does not parse: {e}", post.url));
    assert!(
        url.as_str()
            .starts_with(ctx.site_url.as_str().trim_end_matches('/')),
        "post url {url} is not under the site url {}",
        ctx.site_url
    );
}

// ---------------------------------------------------------------------------------------------
// site: several posts → every document.
// ---------------------------------------------------------------------------------------------

/// Most posts one site input is split into.
pub const MAX_SITE_POSTS: usize = 8;

/// The byte that separates posts in a site input (never part of valid UTF-8).
pub const SITE_SEPARATOR: u8 = 0xFF;

/// The file name of the `i`-th post of a site input.
fn site_name(i: usize) -> String {
    match i % 4 {
        0 => format!("2021-12-2{i}-post-{i}.md"),
        1 => format!("page-{i}.html"),
        2 => format!("_drafts/2022-01-0{i}-draft-{i}.txt"),
        _ => format!("2030-05-0{i}-future/{i}-港口.markdown"),
    }
}

/// Splits `data` into a config byte and up to [`MAX_SITE_POSTS`] posts, renders the site and
/// checks every document.
pub fn check_site(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (config, opts) = config_of(selector);
    let ctx = feed::parse_context(&config);
    let meta = SiteMeta::from_config(&config);
    let posts: Vec<Arc<Post>> = rest
        .split(|b| *b == SITE_SEPARATOR)
        .take(MAX_SITE_POSTS)
        .enumerate()
        .filter_map(|(i, bytes)| {
            let name = site_name(i);
            let markup = match feedsmith::post::classify(Path::new(&name).file_name()?.to_str()?) {
                FileKind::Post(m) => m,
                FileKind::Ignored => return None,
            };
            parse_post(Path::new(&name), bytes, markup, &ctx)
                .ok()
                .map(Arc::new)
        })
        .collect();
    let now = fixed_now();
    let listing = Listing::new(posts.iter().cloned(), now, opts);
    let rendered = render_site(&meta, &listing);
    check_rendered(&meta, &listing, &rendered);

    // The documents are a pure function of the posts, not of the order they were read in.
    let reversed = Listing::new(posts.iter().rev().cloned(), now, opts);
    let again = render_site(&meta, &reversed);
    assert_eq!(
        rendered.docs.keys().collect::<Vec<_>>(),
        again.docs.keys().collect::<Vec<_>>(),
        "reading the posts in another order gave other routes"
    );
    for (route, doc) in &rendered.docs {
        let other = &again.docs[route];
        assert!(
            doc.bytes == other.bytes,
            "{route} differs when the posts are read in another order:\n{}\n---\n{}",
            String::from_utf8_lossy(&doc.bytes),
            String::from_utf8_lossy(&other.bytes)
        );
    }
}

/// Every document rendered, none failed, and each one parses back.
fn check_rendered(meta: &SiteMeta, listing: &Listing, rendered: &Rendered) {
    assert!(
        rendered.failures.is_empty(),
        "documents failed their check: {:#?}",
        rendered.failures
    );
    let scopes = listing.scopes();
    let expected = scopes.len() * meta.formats.len() + 2;
    assert_eq!(
        rendered.docs.len(),
        expected,
        "expected {expected} documents for {} scopes, got {:?}",
        scopes.len(),
        rendered.docs.keys().collect::<Vec<_>>()
    );
    for scope in &scopes {
        // What is not in a complete RFC 5005 archive page, at most `limit`.
        let items = feed::scope_paging(meta, listing, scope).current_len(meta.limit);
        for format in &meta.formats {
            let route = feed::route(scope, *format);
            let doc = rendered
                .docs
                .get(&route)
                .unwrap_or_else(|| panic!("no document at {route} for {scope:?}"));
            check_feed_doc(&route, &doc.bytes, items, scope);
        }
    }
    for (route, doc) in &rendered.docs {
        let text =
            std::str::from_utf8(&doc.bytes).unwrap_or_else(|e| panic!("{route} is not UTF-8: {e}"));
        if route.ends_with(".xml") || route.ends_with(".opml") {
            assert_xml_text(route, text);
            well_formed(route, &doc.bytes);
        }
    }
}

/// One feed document parses back with `feed-rs` (and JSON with `serde_json`) and holds the
/// items its scope lists.
fn check_feed_doc(route: &str, bytes: &[u8], items: usize, scope: &Scope) {
    if route.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!(
                "{route} is not JSON: {e}\n{}",
                String::from_utf8_lossy(bytes)
            )
        });
        let n = v["items"].as_array().map_or(usize::MAX, Vec::len);
        assert_eq!(n, items, "{route}: items in the JSON feed of {scope:?}");
    }
    let parsed = feed_rs::parser::parse(bytes).unwrap_or_else(|e| {
        panic!(
            "{route} does not parse as a feed: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    });
    assert_eq!(
        parsed.entries.len(),
        items,
        "{route}: entries in the feed of {scope:?}"
    );
}

/// Well-formed XML 1.0 by `quick-xml`: every element closed by its own name, one root, no
/// text outside it, only the predefined entities.
fn well_formed(route: &str, bytes: &[u8]) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = reader.read_event().unwrap_or_else(|e| {
            panic!(
                "{route} is not well-formed at byte {}: {e}",
                reader.error_position()
            )
        });
        match event {
            Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => {
                assert!(depth > 0, "{route}: end tag without a start");
                depth -= 1;
            }
            Event::Text(t) if depth == 0 => {
                assert!(
                    t.iter().all(u8::is_ascii_whitespace),
                    "{route}: text outside the root element"
                );
            }
            Event::CData(_) if depth == 0 => panic!("{route}: CDATA outside the root element"),
            Event::GeneralRef(r) => {
                let known = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().is_some_and(xml_char)
                } else {
                    let name = r.decode().unwrap_or_default();
                    quick_xml::escape::resolve_predefined_entity(&name).is_some()
                };
                assert!(known, "{route}: unknown or illegal reference {r:?}");
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "{route}: unclosed element at end of document");
    assert_eq!(roots, 1, "{route}: {roots} root elements");
}

// ---------------------------------------------------------------------------------------------
// http: one request against a fixed store.
// ---------------------------------------------------------------------------------------------

/// The posts of the fixed store the HTTP target serves: a CJK category and tag (so routes need
/// percent-decoding), a post with an image and a protocol-relative link, an HTML post.
const HTTP_POSTS: [(&str, &str); 3] = [
    (
        "2021-12-21-gangkou.md",
        "---\ntitle: \"港口吞吐量创新高\"\ndate: 2021-12-21 08:10:27 +0800\n\
         categories: shamenribao\ntags: 厦门日报新闻\n---\n<p>本报讯 今年前十一个月……</p>\n\n\
         <http://news.example.cn/html_News/NewsShare.html?infoCode=NW1>\n\n\
         [返回](//news.example.com/category/shamenribao.html)\n",
    ),
    (
        "2024-02-01-conditional-get.md",
        "---\ntitle: Conditional GET & ETags\ndate: 2024-02-01T10:00:00Z\n\
         tags: [http, Rust, rust]\nimage: /img/etag.png\n---\n\
         A *long* body so that compression pays off. ",
    ),
    (
        "2022-01-05-liangan.html",
        "---\ntitle: 两岸快件新线路\ndate: 2022-01-05\ncategories: [news, 厦门 港口]\n---\n\
         <p>html <img data-src=\"/a.jpg\" src=\"data:,\"> body</p>",
    ),
];

/// The fixed store, built once per process, and the state the handler answers from.
pub struct HttpFixture {
    pub state: State,
    pub routes: Vec<String>,
}

/// The time every document of the fixed store was last modified.
pub fn fixture_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The fixed store of the HTTP target.
pub fn http_fixture() -> &'static HttpFixture {
    static FIXTURE: OnceLock<HttpFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (config, opts) = config_of(0);
        let ctx = feed::parse_context(&config);
        let meta = SiteMeta::from_config(&config);
        let long_body = "The quick brown fox jumps over the lazy dog. ".repeat(40);
        let posts: Vec<Arc<Post>> = HTTP_POSTS
            .iter()
            .map(|(name, text)| {
                let text = format!("{text}{long_body}\n");
                let markup = if name.ends_with(".html") {
                    Markup::Html
                } else {
                    Markup::Markdown
                };
                Arc::new(
                    parse_post(Path::new(name), text.as_bytes(), markup, &ctx)
                        .unwrap_or_else(|e| panic!("fixture post {name}: {e}")),
                )
            })
            .collect();
        let listing = Listing::new(posts, fixed_now(), opts);
        let rendered = render_site(&meta, &listing);
        assert!(rendered.failures.is_empty(), "{:?}", rendered.failures);
        let t = fixture_time();
        let base = meta.base.clone();
        let store = Store::next(
            &Store::default(),
            rendered
                .docs
                .into_iter()
                .map(|(route, doc)| (route, doc, Some(t))),
            |route| Some(format!("<{base}{route}>; rel=\"self\"")),
            t,
        );
        let routes = store.routes().into_iter().map(str::to_owned).collect();
        HttpFixture {
            state: State::new(store, 300, false),
            routes,
        }
    })
}

/// Methods the HTTP target picks from (the last slot reads a token from the input).
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE",
];

/// Headers the HTTP target picks from, by the first byte of a header line.
const HEADERS: [&str; 14] = [
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
    "accept-encoding",
    "range",
    "if-range",
    "accept",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "user-agent",
    "cookie",
];

/// Builds a request from `data` and checks the handler's answer.
///
/// Layout: byte 0 picks the method (a value past the table reads the method token from the
/// first line instead); the first line is the request target; each further line is a header,
/// its first byte picking the name and the rest being the value. In a value, `@E`, `@G` and
/// `@L` stand for the identity ETag, the gzip ETag and the `Last-Modified` of the document the
/// path names (or of `/rss.xml`), and `@R` for a route of the store picked by the next byte,
/// so the fuzzer reaches 304 and 412 without guessing hashes.
pub fn check_http(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let fixture = http_fixture();
    let mut lines = rest.split(|b| *b == b'\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = match METHODS.get(usize::from(selector)) {
        Some(m) => (Method::from_bytes(m.as_bytes()).ok(), first),
        None => match first.iter().position(|b| *b == b' ') {
            Some(i) => (Method::from_bytes(&first[..i]).ok(), &first[i + 1..]),
            None => (None, first),
        },
    };
    let target = expand(target, fixture, "/rss.xml");

    // route_of on the raw text, whether or not it is a valid request target.
    let raw = String::from_utf8_lossy(&target).into_owned();
    check_route_of(&raw);

    let Some(method) = method else {
        return;
    };
    let Ok(uri) = hyper::Uri::try_from(target.as_slice()) else {
        return;
    };
    let doc_route = route_of(uri.path())
        .map(|r| r.into_owned())
        .unwrap_or_else(|_| "/rss.xml".to_owned());
    let mut builder = Request::builder().method(method.clone()).uri(uri);
    for line in lines {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        let name = HeaderName::from_static(HEADERS[usize::from(pick) % HEADERS.len()]);
        let value = expand(value, fixture, &doc_route);
        let Ok(value) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        builder = builder.header(name, value);
    }
    let Ok(req) = builder.body(()) else {
        return;
    };

    // The pure pieces the handler is built from.
    let headers = req.headers();
    let _ = Preconditions::from_headers(headers);
    for v in headers.get_all(hyper::header::ACCEPT_ENCODING) {
        if let Ok(s) = v.to_str() {
            let _ = negotiate(s);
        }
    }

    let response = match handle(&req, &fixture.state) {
        Handled::Done(response) => response,
        Handled::Archive(route, archives) => handle_archive(
            &req,
            &fixture.state,
            archives.get(&route),
            std::time::Instant::now(),
        ),
        Handled::Page(route, lazy, coding) => handle_archive(
            &req,
            &fixture.state,
            Some(feedsmith::server::handler::render_page(
                &fixture.state,
                &route,
                &lazy,
                coding,
            )),
            std::time::Instant::now(),
        ),
    };
    check_response(&req, response, fixture);
}

/// Replaces the `@` placeholders of a value (see [`check_http`]).
fn expand(value: &[u8], fixture: &HttpFixture, route: &str) -> Vec<u8> {
    if !value.contains(&b'@') {
        return value.to_vec();
    }
    let store = fixture.state.store.load();
    let doc = store.document(route).or_else(|| store.document("/rss.xml"));
    let mut out = Vec::with_capacity(value.len() + 64);
    let mut i = 0;
    while i < value.len() {
        let next = value.get(i + 1).copied();
        match (value[i], next, doc.as_deref()) {
            (b'@', Some(b'E'), Some(d)) => out.extend_from_slice(d.identity.etag().as_bytes()),
            (b'@', Some(b'G'), Some(d)) => {
                out.extend_from_slice(feedsmith::store::etag_for(d.hash, Coding::Gzip).as_bytes())
            }
            (b'@', Some(b'L'), Some(d)) => out.extend_from_slice(d.last_modified_header.as_bytes()),
            (b'@', Some(b'R'), _) => {
                let pick = value.get(i + 2).copied().unwrap_or(0);
                if let Some(r) = fixture.routes.get(usize::from(pick) % fixture.routes.len()) {
                    out.extend_from_slice(r.as_bytes());
                }
                i += 3;
                continue;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

/// A decoded route is absolute and never holds `.`/`..` segments, NUL or a backslash.
pub fn check_route_of(raw: &str) {
    if let Ok(route) = route_of(raw) {
        assert!(route.starts_with('/'), "route {route:?} of {raw:?}");
        assert!(
            !route.split('/').any(|s| s == ".." || s == "."),
            "route {route:?} of {raw:?} has a dot segment"
        );
        assert!(
            !route.contains('\0'),
            "route {route:?} of {raw:?} holds NUL"
        );
        assert!(
            !route.contains('\\'),
            "route {route:?} of {raw:?} holds a backslash"
        );
    }
}

/// The body bytes of a response (a `Full` body is ready at once).
fn body_bytes(response: Response<Full<Bytes>>) -> (hyper::http::response::Parts, Vec<u8>) {
    let (parts, mut body) = response.into_parts();
    let mut out = Vec::new();
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
            Poll::Ready(None) => break,
            Poll::Ready(Some(Err(e))) => match e {},
            Poll::Pending => panic!("a Full body was not ready"),
        }
    }
    (parts, out)
}

fn header<'h>(parts: &'h hyper::http::response::Parts, name: &str) -> Option<&'h str> {
    parts.headers.get(name).map(|v| {
        v.to_str()
            .unwrap_or_else(|_| panic!("{name} header is not visible ASCII: {v:?}"))
    })
}

/// Decodes a body sent with `coding`.
fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("gzip body decodes");
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("br body decodes");
        }
        "zstd" => out = zstd::stream::decode_all(body).expect("zstd body decodes"),
        other => panic!("unexpected Content-Encoding {other:?}"),
    }
    out
}

fn check_response<B>(req: &Request<B>, response: Response<Full<Bytes>>, fixture: &HttpFixture) {
    let status = response.status();
    let (parts, body) = body_bytes(response);
    let method = req.method();
    let head = method == Method::HEAD;
    assert!(
        [
            StatusCode::OK,
            StatusCode::NOT_MODIFIED,
            StatusCode::BAD_REQUEST,
            StatusCode::NOT_FOUND,
            StatusCode::METHOD_NOT_ALLOWED,
            StatusCode::PRECONDITION_FAILED,
        ]
        .contains(&status),
        "{method} {} answered {status}",
        req.uri()
    );
    // A HEAD answer's body is dropped by hyper; the handler leaves out only a document's (the
    // error texts are tiny), and its Content-Length is then the length GET would get.
    let bodiless = status == StatusCode::NOT_MODIFIED || (head && status == StatusCode::OK);
    if bodiless {
        assert!(body.is_empty(), "{status} to {method} has a body");
    }
    if let Some(len) = header(&parts, "content-length") {
        let len: usize = len.parse().expect("Content-Length is a number");
        if !bodiless {
            assert_eq!(len, body.len(), "Content-Length of {method} {}", req.uri());
        }
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            assert!(method != Method::GET && method != Method::HEAD);
            assert!(header(&parts, "allow").is_some(), "405 without Allow");
        }
        StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::PRECONDITION_FAILED => {
            assert!(method == Method::GET || method == Method::HEAD);
            let route = route_of(req.uri().path())
                .unwrap_or_else(|e| panic!("{status} for an unroutable path: {e:?}"));
            let store = fixture.state.store.load();
            let doc = store
                .document(&route)
                .unwrap_or_else(|| panic!("{status} for {route}, which is not in the store"));
            let etag = header(&parts, "etag").expect("ETag");
            assert!(doc.matches_etag(etag), "ETag {etag} is not the document's");
            assert_eq!(
                header(&parts, "last-modified"),
                doc.last_modified_header.to_str().ok()
            );
            if status == StatusCode::OK {
                let len: usize = header(&parts, "content-length")
                    .expect("200 without Content-Length")
                    .parse()
                    .expect("Content-Length is a number");
                assert_eq!(header(&parts, "content-type"), Some(doc.content_type));
                if !head {
                    let identity = match header(&parts, "content-encoding") {
                        None => body.clone(),
                        Some(coding) => decode(coding, &body),
                    };
                    assert!(
                        identity == doc.identity.bytes,
                        "{route}: the body is not the document"
                    );
                } else {
                    let coding = match header(&parts, "content-encoding") {
                        None => Coding::Identity,
                        Some("gzip") => Coding::Gzip,
                        Some("br") => Coding::Brotli,
                        Some("zstd") => Coding::Zstd,
                        Some(other) => panic!("unexpected Content-Encoding {other:?}"),
                    };
                    let expected = doc.encoded(coding).map(|r| r.bytes.len());
                    assert_eq!(Some(len), expected, "HEAD Content-Length of {route}");
                }
            }
        }
        _ => {}
    }
}
