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
//!   depend on the order the posts were read in. Every RFC 5005 archive page of the site is
//!   rendered too (each parses back, holds its page's posts, and the pages with the
//!   subscription document hold every post of a scope exactly once), and every post page
//!   (non-empty UTF-8, the same bytes each time it is rendered, reachable at its post's path).
//! - [`check_http`]: an arbitrary request head against a small fixed site, published the way
//!   `serve` publishes it (lazy post pages in the store, archive pages rendered on request)
//!   → no panic, only the statuses the server may answer, consistent lengths and bodies, and
//!   `route_of` never yields a route with `.`/`..` segments or NUL.

use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use feedsmith::internals::config::{ArchiveScope, Config, ContentMode};
use feedsmith::internals::feed::{self, SiteMeta};
use feedsmith::internals::post::body::Markup;
use feedsmith::internals::post::{parse_post, FileKind, ParseContext, Post};
use feedsmith::internals::publish::Publisher;
use feedsmith::internals::render::{self, render_site, Fragments, Rendered};
use feedsmith::internals::server::conditional::{negotiate, Preconditions};
use feedsmith::internals::server::handler::{handle, handle_fetched, route_of, Handled};
use feedsmith::internals::server::{Archives, State};
use feedsmith::internals::site::{ListOptions, Listing, Scope};
use feedsmith::internals::store::{Coding, Document};
use feedsmith::Format;
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
    // Limit 3 pages by 2: the newest archive page can repeat an item of the feed.
    config.feeds.limit = [50, 0, 3, 2][usize::from(selector & 3)];
    if selector & 4 != 0 {
        config.feeds.content = ContentMode::Summary;
    }
    // Every scope and format archived: the archive invariants are checked on all of them.
    config.feeds.archive_scopes = vec![
        ArchiveScope::Site,
        ArchiveScope::Categories,
        ArchiveScope::Tags,
    ];
    config.feeds.archive_formats = Format::ALL.to_vec();
    let opts = ListOptions {
        drafts: selector & 8 != 0,
        future: selector & 16 != 0,
    };
    config.site.permalink = [
        feedsmith::internals::config::DEFAULT_PERMALINK,
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
    let ctx = config.parse_context();
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
    assert_xml_text("summary", &post.summary());
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
    if let Some(e) = &post.enclosure {
        assert_xml_text("enclosure url", &e.url);
        assert_xml_text("enclosure type", &e.mime_type);
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
    let ctx = config.parse_context();
    let meta = SiteMeta::from_config(&config);
    let posts: Vec<Arc<Post>> = rest
        .split(|b| *b == SITE_SEPARATOR)
        .take(MAX_SITE_POSTS)
        .enumerate()
        .filter_map(|(i, bytes)| {
            let name = site_name(i);
            let markup =
                match feedsmith::internals::post::classify(Path::new(&name).file_name()?.to_str()?)
                {
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
    check_post_pages(&meta, &listing);

    // The documents are a pure function of the posts, not of the order they were read in.
    let reversed = Listing::new(posts.iter().rev().cloned(), now, opts);
    check_archives(&meta, &listing, &reversed);
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

/// Every RFC 5005 archive page of the site: rendered without a single fragment (as the first
/// request after a start renders it) and with every fragment prepared from the listing read in
/// the other order (as a long-running server splices it) — the same bytes either way, none
/// failing its check, each parsing back and holding its page's posts; and the archive pages
/// with the subscription document list every post of a scope: the pages each post once, the
/// feed its newest `limit`, which only the newest page may repeat, fewer than a page of them.
fn check_archives(meta: &SiteMeta, listing: &Listing, reversed: &Listing) {
    let jobs = render::archive_jobs(meta, listing);
    assert_eq!(
        jobs,
        render::archive_jobs(meta, reversed),
        "reading the posts in another order gave other archive pages"
    );
    let cold = render::render_archive_jobs(meta, listing, &Fragments::default(), &jobs);
    let mut warm_fragments = Fragments::default();
    warm_fragments.prepare_all(meta, reversed);
    let warm = render::render_archive_jobs(meta, reversed, &warm_fragments, &jobs);
    for (what, r) in [("cold", &cold), ("warm", &warm)] {
        assert!(
            r.failures.is_empty(),
            "archive pages ({what}) failed their check: {:#?}",
            r.failures
        );
        assert_eq!(r.docs.len(), jobs.len(), "archive pages ({what}) missing");
    }
    for (route, doc) in &cold.docs {
        let other = &warm.docs[route];
        assert!(
            doc.bytes == other.bytes,
            "{route} differs between a cold and a warm render / another read order:\n{}\n---\n{}",
            String::from_utf8_lossy(&doc.bytes),
            String::from_utf8_lossy(&other.bytes)
        );
    }
    for scope in listing.scopes() {
        for format in &meta.formats {
            let paging = feed::scope_paging(meta, listing, &scope, *format);
            assert!(
                paging.pages == 0 || meta.limit > 0,
                "{scope:?}: archives with no limit"
            );
            let in_feed: Vec<&Path> = feed::FeedSpec::new(meta, listing, &scope, *format)
                .items
                .iter()
                .map(|p| p.source.as_path())
                .collect();
            let mut seen: Vec<&Path> = Vec::new();
            let mut repeated = 0;
            for page in 1..=paging.pages {
                let route = feedsmith::internals::feed::paging::route(&scope, page, *format);
                assert_eq!(
                    feedsmith::internals::feed::paging::parse_route(&route),
                    Some((scope.clone(), page, *format)),
                    "{route} does not read back"
                );
                let spec = feed::FeedSpec::archive(meta, listing, &scope, *format, page)
                    .unwrap_or_else(|| panic!("no spec for {route}"));
                let (_, take) = paging.page(page).expect("page in range");
                assert_eq!(spec.items.len(), take, "{route}: posts on the page");
                seen.extend(spec.items.iter().map(|p| p.source.as_path()));
                let here = spec
                    .items
                    .iter()
                    .filter(|p| in_feed.contains(&p.source.as_path()))
                    .count();
                assert!(
                    here == 0 || page == paging.pages,
                    "{route}: repeats {here} item(s) of the feed, but is not the newest page"
                );
                repeated += here;
                let doc = cold
                    .docs
                    .get(&route)
                    .unwrap_or_else(|| panic!("no archive document at {route}"));
                check_feed_doc(&route, &doc.bytes, take, &scope);
                check_archive_links(&route, &doc.bytes, *format, page, paging.pages);
                let text = std::str::from_utf8(&doc.bytes)
                    .unwrap_or_else(|e| panic!("{route} is not UTF-8: {e}"));
                if *format != Format::Json {
                    assert_xml_text(&route, text);
                    well_formed(&route, &doc.bytes);
                }
            }
            assert!(
                feed::FeedSpec::archive(meta, listing, &scope, *format, paging.pages + 1).is_none(),
                "{scope:?}: an archive page past the last"
            );
            let mut sorted = seen.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(
                sorted.len(),
                seen.len(),
                "{scope:?} {format:?}: a post on two archive pages: {seen:?}"
            );
            let page_size = meta.archive_page.unwrap_or(usize::MAX);
            assert!(
                repeated < page_size,
                "{scope:?} {format:?}: the newest page repeats {repeated} feed items"
            );
            assert_eq!(
                seen.len() + in_feed.len() - repeated,
                listing.scope_len(&scope),
                "{scope:?} {format:?}: posts missing from the archived feed: {seen:?}"
            );
        }
    }
}

/// The RFC 5005 links of an archive page: `next_url` in JSON Feed (the next older page), and
/// `prev-archive`/`next-archive`/`current` links in RSS and Atom.
fn check_archive_links(route: &str, bytes: &[u8], format: Format, page: usize, pages: usize) {
    match format {
        Format::Json => {
            let v: serde_json::Value = serde_json::from_slice(bytes).expect("checked JSON");
            assert_eq!(
                v.get("next_url").is_some(),
                page > 1,
                "{route}: next_url on page {page} of {pages}"
            );
        }
        _ => {
            let rels = feed_level_link_rels(bytes);
            for (rel, present) in [
                ("current", true),
                ("prev-archive", page > 1),
                ("next-archive", page < pages),
            ] {
                assert_eq!(
                    rels.iter().filter(|r| *r == rel).count(),
                    usize::from(present),
                    "{route}: rel={rel} on page {page} of {pages} (links: {rels:?})"
                );
            }
            assert!(
                feed_level_has(bytes, b"fh:archive"),
                "{route}: no fh:archive element"
            );
        }
    }
}

/// An element as (qualified name, attributes as (name, value)).
type ElementAttrs = (Vec<u8>, Vec<(Vec<u8>, String)>);

/// The children of the feed-level element (`<channel>` in RSS, `<feed>` in Atom) as
/// (qualified name, attributes); item content is not looked into.
fn feed_level_elements(bytes: &[u8]) -> Vec<ElementAttrs> {
    use quick_xml::events::{BytesStart, Event};
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut out = Vec::new();
    let record = |e: &BytesStart<'_>, out: &mut Vec<_>| {
        let attrs = e
            .attributes()
            .flatten()
            .map(|a| {
                // Raw: the values looked at (`rel`) are plain ASCII tokens.
                let v = String::from_utf8_lossy(&a.value).into_owned();
                (a.key.as_ref().to_vec(), v)
            })
            .collect();
        out.push((e.name().as_ref().to_vec(), attrs));
    };
    let at_feed_level = |stack: &[Vec<u8>]| {
        stack.len() <= 2 && matches!(stack.last().map(Vec::as_slice), Some(b"channel" | b"feed"))
    };
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) => {
                if at_feed_level(&stack) {
                    record(&e, &mut out);
                }
                stack.push(e.name().as_ref().to_vec());
            }
            Event::Empty(e) if at_feed_level(&stack) => record(&e, &mut out),
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// The `rel` of every feed-level `<link>`/`<atom:link>`.
fn feed_level_link_rels(bytes: &[u8]) -> Vec<String> {
    feed_level_elements(bytes)
        .into_iter()
        .filter(|(name, _)| name == b"link" || name == b"atom:link")
        .filter_map(|(_, attrs)| attrs.into_iter().find(|(k, _)| k == b"rel").map(|(_, v)| v))
        .collect()
}

/// Whether the feed-level element has a child named `name`.
fn feed_level_has(bytes: &[u8], name: &[u8]) -> bool {
    feed_level_elements(bytes).iter().any(|(n, _)| n == name)
}

/// Every listed post's page: non-empty UTF-8, the same bytes each time it is rendered (the
/// store keeps only their hash and renders them again per request), and reachable at the
/// post's path.
fn check_post_pages(meta: &SiteMeta, listing: &Listing) {
    for post in listing.iter() {
        let route = feedsmith::internals::feed::page::page_route(post);
        let bytes = feedsmith::internals::feed::page::render(meta, post);
        assert!(!bytes.is_empty(), "the page of {:?} is empty", post.source);
        let text = std::str::from_utf8(&bytes)
            .unwrap_or_else(|e| panic!("the page of {:?} is not UTF-8: {e}", post.source));
        assert!(
            text.starts_with("<!DOCTYPE html>") || text.starts_with("<!doctype html>"),
            "the page of {:?} does not start as HTML: {:?}",
            post.source,
            &text[..text.len().min(80)]
        );
        assert!(
            text.trim_end().ends_with("</html>"),
            "the page of {:?} is cut short",
            post.source
        );
        assert!(
            feedsmith::internals::feed::page::render(meta, post) == bytes,
            "the page of {:?} renders to other bytes the second time",
            post.source
        );
        // A reader following the post's link (its path, percent-encoded) reaches the page.
        let requested = feedsmith::internals::slug::encode_path(&post.path);
        assert_eq!(
            route_of(&requested).ok().as_deref(),
            Some(route.as_str()),
            "the page of {:?} is at {route:?}, but its path {:?} is requested as {requested:?}",
            post.source,
            post.path
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
    // Every scope's feeds, each term's page, the OPML list and the index.
    let expected = scopes.len() * meta.formats.len() + (scopes.len() - 1) + 2;
    assert_eq!(
        rendered.docs.len(),
        expected,
        "expected {expected} documents for {} scopes, got {:?}",
        scopes.len(),
        rendered.docs.keys().collect::<Vec<_>>()
    );
    for scope in &scopes {
        // What is not in a complete RFC 5005 archive page, at most `limit`.
        for format in &meta.formats {
            let items = feed::scope_paging(meta, listing, scope, *format).current_len(meta.limit);
            let route = feed::route(scope, *format);
            let doc = rendered
                .docs
                .get(&route)
                .unwrap_or_else(|| panic!("no document at {route} for {scope:?}"));
            check_feed_doc(&route, &doc.bytes, items, scope);
        }
        if matches!(scope, Scope::Term(..)) {
            let route = feed::scope_page_route(scope);
            let page = rendered
                .docs
                .get(&route)
                .unwrap_or_else(|| panic!("no page at {route} for {scope:?}"));
            assert!(
                String::from_utf8_lossy(&page.bytes)
                    .trim_end()
                    .ends_with("</html>"),
                "{route}: the page is cut short"
            );
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

/// The posts of the fixed site the HTTP target serves: a CJK category and tag (so routes need
/// percent-decoding), a post with an image and a protocol-relative link, HTML posts, a post
/// with a permalink ending in `/` (its page is `…/index.html`), and enough posts in the site,
/// in category `x`, `news` and the CJK tag that they have archive pages (see
/// [`HTTP_LIMIT`]).
const HTTP_POSTS: [(&str, &str); 8] = [
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
         categories: x\ntags: [http, Rust, rust]\nimage: /img/etag.png\n---\n\
         A *long* body so that compression pays off. ",
    ),
    (
        "2022-01-05-liangan.html",
        "---\ntitle: 两岸快件新线路\ndate: 2022-01-05\ncategories: [news, 厦门 港口, x]\n---\n\
         <p>html <img data-src=\"/a.jpg\" src=\"data:,\"> body</p>",
    ),
    (
        "2020-03-01-first.md",
        "---\ntitle: \"First <b>&amp;</b> ]]>\"\ndate: 2020-03-01 09:00:00 +0800\n\
         categories: [x, news]\ntags: 厦门日报新闻\nauthor: {name: Ann, email: ann@example.com}\n---\n\
         Text with a [link](/relative) and `code`. ",
    ),
    (
        "2020-04-01-second.md",
        "---\ntitle: Second\ndate: 2020-04-01\ncategories: x\ntags: [http, 厦门日报新闻]\n\
         source_url: https://origin.example.org/2\nsource_name: Origin\n---\nSecond post. ",
    ),
    (
        "2020-05-01-third.md",
        "---\ntitle: Getting started\ndate: 2020-05-01T12:00:00Z\ncategories: x\n\
         permalink: /guides/start/\nupdated: 2021-01-01T00:00:00Z\n---\nA guide. ",
    ),
    (
        "2023-06-01-fourth.md",
        "---\ntitle: 第四篇\ndate: 2023-06-01 18:30:00 +0800\ncategories: [x, news]\n\
         tags: [厦门日报新闻, http]\nlang: zh-CN\nexcerpt: 摘要\n---\n第四篇正文。",
    ),
    (
        "2019-01-01-oldest.html",
        "---\ntitle: The oldest\ndate: 2019-01-01\ncategories: [x, news]\n---\n\
         <p>The <em>oldest</em> post <video src=\"v.mp4\"></video></p>",
    ),
];

/// The item limit of the fixed site: with archive pages of 2 (half of it, rounded up), its 8
/// posts make 3 archive pages of the whole site, 2 of category `x` and 1 each of `news` and
/// the CJK tag.
pub const HTTP_LIMIT: usize = 3;

/// The fixed site, published once per process, and the state the handler answers from.
pub struct HttpFixture {
    /// What the handler reads: the store and, as `serve` sets it, the archive page source.
    pub state: Arc<State>,
    /// The publisher behind the store and the archive pages.
    pub publisher: Publisher,
    /// Every route a document can be served at: the store's (feeds, lists, post pages) and
    /// every archive page.
    pub routes: Vec<String>,
}

impl HttpFixture {
    /// The document a request for `route` is answered with: the browser view of a feed for a
    /// browser's navigation to it, else [`HttpFixture::document`].
    pub fn answer_for<B>(&self, req: &Request<B>, route: &str) -> Option<Arc<Document>> {
        let view = feedsmith::internals::feed::paging::parse_feed_route(route).is_some_and(
            |(_, _, format)| feedsmith::internals::server::wants_view(req.headers(), format),
        );
        match self.state.archives.get() {
            Some(archives) if view => archives.view(route).or_else(|| self.document(route)),
            _ => self.document(route),
        }
    }

    /// The document at `route`: from the store (kept or lazy), else the archive page.
    pub fn document(&self, route: &str) -> Option<Arc<Document>> {
        self.state.store.load().document(route).or_else(|| {
            feedsmith::internals::feed::paging::looks_like_archive(route)
                .then(|| self.state.archives.get()?.get(route))
                .flatten()
        })
    }
}

/// Each publish swapped into the server's state, as `serve` does.
struct IntoState(Arc<State>);

impl feedsmith::internals::publish::Outlet for IntoState {
    fn publish(&self, published: feedsmith::internals::publish::Published) {
        self.0.swap(published.store);
    }
}

/// The fixed site of the HTTP target, published by [`Publisher::start`] from posts written to
/// a temporary directory (removed again once published: the publisher is never asked to
/// re-read or write after that).
pub fn http_fixture() -> &'static HttpFixture {
    static FIXTURE: OnceLock<HttpFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("feedsmith-fuzz-http-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let posts_dir = dir.join("posts");
        let long_body = "The quick brown fox jumps over the lazy dog. ".repeat(40);
        for (name, text) in HTTP_POSTS {
            let path = posts_dir.join(name);
            std::fs::create_dir_all(path.parent().expect("a post has a directory"))
                .expect("temporary posts directory");
            std::fs::write(&path, format!("{text}{long_body}\n")).expect("fixture post written");
        }
        let (mut config, opts) = config_of(0);
        config.paths.posts = posts_dir;
        config.paths.output = dir.join("feeds");
        config.hub.state_dir = dir.join("state");
        config.feeds.limit = HTTP_LIMIT;
        config.feeds.archive = true;
        config.feeds.archive_page = 0;
        let state = Arc::new(State::new(
            feedsmith::internals::store::Store::default(),
            config.server.max_age,
            false,
        ));
        let outlet = Arc::new(IntoState(Arc::clone(&state)));
        let (publisher, report) = Publisher::start(config, opts, fixed_now(), None, outlet);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            report.errors.is_empty() && report.failures.is_empty(),
            "fixture site: {:?} {:?}",
            report.errors,
            report.failures
        );
        assert_eq!(report.posts, HTTP_POSTS.len(), "fixture posts listed");
        let archive_routes: Vec<String> = render::archive_jobs(&publisher.meta, &publisher.listing)
            .into_iter()
            .map(|(scope, format, page)| {
                feedsmith::internals::feed::paging::route(&scope, page, format)
            })
            .collect();
        let page_routes: Vec<String> = publisher
            .listing
            .iter()
            .map(|p| feedsmith::internals::feed::page::page_route(p))
            .collect();
        // As `serve` does: archive pages only when they are on.
        let archives = publisher
            .archive_pages()
            .expect("the fixture site has archive pages");
        let _ = state.archives.set(archives as Arc<dyn Archives>);
        let store = state.store.load();
        let mut routes: Vec<String> = store.routes().into_iter().map(str::to_owned).collect();
        for route in &page_routes {
            assert!(
                store.lazy(route).is_some(),
                "post page {route} is not a lazy document: {routes:?}"
            );
        }
        for r in ["/archive/3/rss.xml", "/categories/x/archive/2/atom.xml"] {
            assert!(
                archive_routes.iter().any(|a| a == r),
                "{r} not in {archive_routes:?}"
            );
        }
        routes.extend(archive_routes);
        drop(store);
        HttpFixture {
            state,
            publisher,
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

    // As the server does off the event loop: the document and its representation.
    let (doc, made) = match handle(&req, &fixture.state) {
        Handled::Done(response) => return check_response(&req, response, fixture),
        // An asset's file, streamed by the server: the fixture's posts directory has no
        // asset, so no request gets here.
        Handled::File(_) => return,
        Handled::Archive(route, archives, coding) => {
            let doc = archives.get(&route);
            let made = doc
                .as_ref()
                .and_then(|d| fixture.state.forms.representation(d, coding));
            (doc, made)
        }
        Handled::View(route, archives, coding) => {
            // As the server does: the view, else the feed itself.
            let doc = archives.view(&route).or_else(|| fixture.document(&route));
            let made = doc
                .as_ref()
                .and_then(|d| fixture.state.forms.representation(d, coding));
            (doc, made)
        }
        Handled::Compress(doc, coding) => {
            let made = fixture.state.forms.representation(&doc, coding);
            (Some(doc), made)
        }
        Handled::Activity(ap, job, coding) => {
            let doc = ap.render(&job);
            let made = doc
                .as_ref()
                .and_then(|d| fixture.state.forms.representation(d, coding));
            (doc, made)
        }
        Handled::Page(route, lazy, coding) => {
            let (doc, made) = feedsmith::internals::server::handler::render_page(
                &fixture.state,
                &route,
                &lazy,
                coding,
            );
            (Some(doc), made)
        }
    };
    let response = handle_fetched(&req, &fixture.state, doc, made, std::time::Instant::now());
    check_response(&req, response, fixture);
}

/// Replaces the `@` placeholders of a value (see [`check_http`]).
fn expand(value: &[u8], fixture: &HttpFixture, route: &str) -> Vec<u8> {
    if !value.contains(&b'@') {
        return value.to_vec();
    }
    let doc = fixture
        .document(route)
        .or_else(|| fixture.document("/rss.xml"));
    let mut out = Vec::with_capacity(value.len() + 64);
    let mut i = 0;
    while i < value.len() {
        let next = value.get(i + 1).copied();
        match (value[i], next, doc.as_deref()) {
            (b'@', Some(b'E'), Some(d)) => out.extend_from_slice(d.identity.etag().as_bytes()),
            (b'@', Some(b'G'), Some(d)) => out.extend_from_slice(
                feedsmith::internals::store::etag_for(d.hash, Coding::Gzip).as_bytes(),
            ),
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
            StatusCode::URI_TOO_LONG,
            StatusCode::MOVED_PERMANENTLY,
        ]
        .contains(&status),
        "{method} {} answered {status}",
        req.uri()
    );
    // 414 exactly when the request-target is longer than the server takes.
    let target = req.uri().to_string();
    assert_eq!(
        status == StatusCode::URI_TOO_LONG,
        target.len() > feedsmith::internals::server::handler::MAX_PATH_BYTES,
        "{method} of a {}-byte target answered {status}",
        target.len()
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
        StatusCode::NOT_FOUND => {
            if let Ok(route) = route_of(req.uri().path()) {
                assert!(
                    fixture.document(&route).is_none(),
                    "404 for {route}, which is served"
                );
            }
        }
        StatusCode::MOVED_PERMANENTLY => {
            // Only to a directory's page, asked for without its slash.
            let route = route_of(req.uri().path())
                .unwrap_or_else(|e| panic!("301 for an unroutable path: {e:?}"));
            assert!(
                fixture.document(&format!("{route}/index.html")).is_some(),
                "301 for {route}, which has no page under it"
            );
            let location = header(&parts, "location").expect("301 without Location");
            assert!(
                location.starts_with(&format!("{}/", req.uri().path())),
                "301 for {} to {location}",
                req.uri()
            );
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            assert!(method != Method::GET && method != Method::HEAD);
            assert!(header(&parts, "allow").is_some(), "405 without Allow");
        }
        StatusCode::OK | StatusCode::NOT_MODIFIED | StatusCode::PRECONDITION_FAILED => {
            assert!(method == Method::GET || method == Method::HEAD);
            let route = route_of(req.uri().path())
                .unwrap_or_else(|e| panic!("{status} for an unroutable path: {e:?}"));
            let doc = fixture
                .answer_for(req, &route)
                .unwrap_or_else(|| panic!("{status} for {route}, which is not served"));
            let etag = header(&parts, "etag").expect("ETag");
            assert!(doc.matches_etag(etag), "ETag {etag} is not the document's");
            assert_eq!(
                header(&parts, "last-modified"),
                doc.last_modified_header.to_str().ok()
            );
            // Archive pages carry their own Cache-Control; everything else the server's.
            let cache_control = doc
                .cache_control
                .clone()
                .unwrap_or_else(|| fixture.state.max_age_header.clone());
            assert_eq!(
                header(&parts, "cache-control"),
                cache_control.to_str().ok(),
                "Cache-Control of {route}"
            );
            if status == StatusCode::OK {
                let len: usize = header(&parts, "content-length")
                    .expect("200 without Content-Length")
                    .parse()
                    .expect("Content-Length is a number");
                assert_eq!(header(&parts, "content-type"), Some(doc.content_type));
                if doc.content_type.starts_with("text/html") {
                    assert!(
                        header(&parts, "content-security-policy").is_some(),
                        "{route}: HTML without a Content-Security-Policy"
                    );
                }
                // What the document is: kept bytes, or (a post page) rendered again now, which
                // must be the bytes its ETag was made from.
                let expected = doc.identity_bytes();
                assert_eq!(expected.len(), doc.len(), "{route}: length of the document");
                assert_eq!(
                    feedsmith::internals::store::content_hash(&expected),
                    doc.hash,
                    "{route}: the ETag is not of the bytes served"
                );
                let coding = match header(&parts, "content-encoding") {
                    None => Coding::Identity,
                    Some("gzip") => Coding::Gzip,
                    Some("br") => Coding::Brotli,
                    Some("zstd") => Coding::Zstd,
                    Some(other) => panic!("unexpected Content-Encoding {other:?}"),
                };
                assert!(
                    doc.matches_etag(&feedsmith::internals::store::etag_for(doc.hash, coding))
                        && etag == feedsmith::internals::store::etag_for(doc.hash, coding),
                    "{route}: ETag {etag} is not the one of {coding:?}"
                );
                if !head {
                    let identity = match coding {
                        Coding::Identity => body.clone(),
                        c => decode(c.token(), &body),
                    };
                    assert!(
                        identity == expected,
                        "{route}: the body is not the document"
                    );
                    assert_eq!(len, body.len());
                } else if doc.is_lazy() {
                    // Rendered and compressed for HEAD as for GET.
                    let sent = match coding {
                        Coding::Identity => expected.len(),
                        c => feedsmith::internals::store::compress(c, &expected)
                            .map_or(expected.len(), |b| b.len()),
                    };
                    assert_eq!(len, sent, "HEAD Content-Length of {route}");
                } else {
                    let sent = fixture
                        .state
                        .forms
                        .encoded(&doc, coding)
                        .map(|r| r.bytes.len());
                    assert_eq!(Some(len), sent, "HEAD Content-Length of {route}");
                }
            }
        }
        _ => {}
    }
}
