//! RFC 5005 archived feeds (Feed Paging and Archiving), end to end against the real binary:
//! every scope (all posts, each category, each tag) and every format (RSS 2.0, Atom 1.0, JSON
//! Feed 1.1) past `feeds.limit` is split into a subscription document plus fixed-size archive
//! pages under `{scope}/archive/{k}/…`, chained with `prev-archive`/`next-archive`/`current`
//! (`next_url` in JSON) and marked `<fh:archive/>`.
//!
//! The expected pages are computed here from the posts the tests write (never from product
//! code); documents are read with feed-rs (items), the strict `xmltree` reader with a small
//! namespace resolver (the feed-level links and `fh:archive` that feed-rs drops) and
//! serde_json. Every wait for a republish is a bounded poll, never a fixed sleep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::http::{get, request, wait_for, Resp};
use common::xmltree::{self, Node};
use common::{news_post, stderr, Server, TempSite};

/// How long a change may take to show up over HTTP.
const DEADLINE: Duration = Duration::from_secs(10);

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const FH_NS: &str = "http://purl.org/syndication/history/1.0";

/// The default `Cache-Control` max-age of subscription documents and of archive pages.
const SUB_MAX_AGE: u32 = 300;
const ARCHIVE_MAX_AGE: u32 = 86_400;

/// Posts in the standard site.
const N_POSTS: usize = 23;

// ---------------------------------------------------------------------------------------------
// The posts, and what each scope must hold (computed here, independently of the product)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Rss,
    Atom,
    Json,
}

impl Fmt {
    const ALL: [Fmt; 3] = [Fmt::Rss, Fmt::Atom, Fmt::Json];

    fn file(self) -> &'static str {
        match self {
            Fmt::Rss => "rss.xml",
            Fmt::Atom => "atom.xml",
            Fmt::Json => "feed.json",
        }
    }

    fn ctype(self) -> &'static str {
        match self {
            Fmt::Rss => "application/rss+xml; charset=utf-8",
            Fmt::Atom => "application/atom+xml; charset=utf-8",
            Fmt::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// One post the tests write.
#[derive(Debug, Clone)]
struct PostDef {
    title: String,
    /// File name under `posts/`.
    file: String,
    /// `YYYY-MM-DD HH:MM:SS` (all posts are `+0000`, so these sort as times).
    stamp: String,
    category: &'static str,
    tags: Vec<&'static str>,
}

impl PostDef {
    fn text(&self) -> String {
        news_post(
            &self.title,
            &format!("{} +0000", self.stamp),
            self.category,
            &self.tags.join(" "),
            &format!("Body of {}.\n\nSecond paragraph.", self.title),
        )
    }
}

/// Post `i` (0 = oldest). Every post has its own timestamp except post 10, which shares post
/// 9's: ties go by file path ascending in the newest-first order, so post 9 counts as the
/// newer one, and with 2-post pages the pair straddles a page boundary.
fn post_def(i: usize) -> PostDef {
    let t = if i == 10 { 9 } else { i };
    let (month, day) = (1 + t / 28, 1 + t % 28);
    let category = if [5, 11, 17].contains(&i) {
        "rare"
    } else if i % 2 == 0 {
        "news"
    } else {
        "tech"
    };
    let mut tags = Vec::new();
    if i % 4 == 0 {
        tags.push("rust");
    }
    if i % 5 == 0 {
        tags.push("five");
    } else {
        tags.push("web");
    }
    if i == 7 {
        tags.push("solo");
    }
    if i < 5 {
        tags.push("first5");
    }
    if (10..14).contains(&i) {
        tags.push("four");
    }
    if (14..20).contains(&i) {
        tags.push("厦门");
    }
    PostDef {
        title: format!("Post {i:02}"),
        file: format!("2024-{month:02}-{day:02}-post-{i:02}.md"),
        stamp: format!("2024-{month:02}-{day:02} 10:00:00"),
        category,
        tags,
    }
}

fn defs(n: usize) -> Vec<PostDef> {
    (0..n).map(post_def).collect()
}

/// One scope: `dir` is the route prefix as decoded text (`""`, `/categories/news`,
/// `/tags/厦门`), `posts` its titles newest first (date descending, file name ascending).
#[derive(Debug, Clone)]
struct Scope {
    dir: String,
    posts: Vec<String>,
}

impl Scope {
    /// The decoded route of a document in this scope (`/tags/厦门/archive/2/rss.xml`).
    fn route(&self, page: Option<usize>, fmt: Fmt) -> String {
        match page {
            None => format!("{}/{}", self.dir, fmt.file()),
            Some(k) => format!("{}/archive/{k}/{}", self.dir, fmt.file()),
        }
    }
}

/// Percent-encodes every segment of a decoded route (RFC 3986 unreserved characters kept).
fn encode(route: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    route
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every scope of `posts`: all posts, each category, each tag.
fn scopes(posts: &[PostDef]) -> Vec<Scope> {
    let mut sorted: Vec<&PostDef> = posts.iter().collect();
    sorted.sort_by(|a, b| b.stamp.cmp(&a.stamp).then_with(|| a.file.cmp(&b.file)));
    let mut by_dir: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &sorted {
        by_dir
            .entry(String::new())
            .or_default()
            .push(p.title.clone());
        by_dir
            .entry(format!("/categories/{}", p.category))
            .or_default()
            .push(p.title.clone());
        for t in &p.tags {
            by_dir
                .entry(format!("/tags/{t}"))
                .or_default()
                .push(p.title.clone());
        }
    }
    by_dir
        .into_iter()
        .map(|(dir, posts)| Scope { dir, posts })
        .collect()
}

fn scope<'a>(all: &'a [Scope], dir: &str) -> &'a Scope {
    all.iter()
        .find(|s| s.dir == dir)
        .unwrap_or_else(|| panic!("no scope {dir}"))
}

/// The archive settings in effect.
#[derive(Debug, Clone, Copy)]
struct Paging {
    limit: usize,
    /// Posts per archive page (already defaulted).
    page: usize,
    archive: bool,
}

impl Paging {
    fn new(limit: usize, page: usize) -> Paging {
        Paging {
            limit,
            page: if page == 0 { limit.div_ceil(2) } else { page },
            archive: true,
        }
    }
}

/// What a scope's documents must hold: the subscription document's titles and each archive
/// page's (index k−1 for page k), all newest first.
#[derive(Debug)]
struct Layout {
    sub: Vec<String>,
    pages: Vec<Vec<String>>,
}

fn layout(newest_first: &[String], paging: Paging) -> Layout {
    let n = newest_first.len();
    let (l, p) = (paging.limit, paging.page);
    if l == 0 {
        return Layout {
            sub: newest_first.to_vec(),
            pages: Vec::new(),
        };
    }
    if !paging.archive || n <= l {
        return Layout {
            sub: newest_first[..n.min(l)].to_vec(),
            pages: Vec::new(),
        };
    }
    let c = (n - l).div_ceil(p);
    let oldest_first: Vec<String> = newest_first.iter().rev().cloned().collect();
    let pages = (1..=c)
        .map(|k| {
            let mut page = oldest_first[(k - 1) * p..k * p].to_vec();
            page.reverse();
            page
        })
        .collect();
    Layout {
        sub: newest_first[..l].to_vec(),
        pages,
    }
}

// ---------------------------------------------------------------------------------------------
// Sites and servers

/// A site with posts 0..n and `feedsmith.toml` holding `feeds` (the `[feeds]` body) and
/// `server_extra` (more `[server]` keys).
fn site_with(n: usize, feeds: &str, server_extra: &str) -> TempSite {
    let site = TempSite::new();
    for p in defs(n) {
        site.write_post(&p.file, &p.text());
    }
    write_config(&site, feeds, server_extra);
    site
}

fn write_config(site: &TempSite, feeds: &str, server_extra: &str) {
    fs::write(
        site.root().join("feedsmith.toml"),
        format!(
            "[server]\ndebounce_ms = 20\naccess_log = false\n{server_extra}\n\n[feeds]\n{feeds}\n"
        ),
    )
    .expect("write feedsmith.toml");
}

/// The site URL the documents use (no trailing slash).
fn base_of(server: &Server) -> String {
    server.url.trim_end_matches('/').to_owned()
}

/// The route of an absolute URL on `base`.
fn route_of<'a>(url: &'a str, base: &str) -> &'a str {
    url.strip_prefix(base)
        .unwrap_or_else(|| panic!("link {url} is not on the site {base}"))
}

// ---------------------------------------------------------------------------------------------
// Reading documents

/// What the tests look at in one feed document.
#[derive(Debug, Default)]
struct Doc {
    /// Item titles and links in document order (feed-rs).
    titles: Vec<String>,
    links: Vec<String>,
    /// `rel="self"` (XML) / `feed_url` (JSON).
    self_url: Option<String>,
    /// `rel="current"` (XML only).
    current: Option<String>,
    /// The older neighbour: `rel="prev-archive"` (XML) / `next_url` (JSON).
    older: Option<String>,
    /// The newer neighbour: `rel="next-archive"` (XML only).
    newer: Option<String>,
    /// `rel="hub"` links (XML) / `hubs` entries (JSON).
    hubs: usize,
    /// `<fh:archive/>` at feed level (XML only).
    fh_archive: bool,
}

/// Namespace bindings in scope (prefix, `""` for the default → URI).
type NsScope = BTreeMap<String, String>;

fn ns_scope(parent: &NsScope, node: &Node) -> NsScope {
    let mut scope = parent.clone();
    for (k, v) in &node.attrs {
        if k == "xmlns" {
            scope.insert(String::new(), v.clone());
        } else if let Some(prefix) = k.strip_prefix("xmlns:") {
            scope.insert(prefix.to_owned(), v.clone());
        }
    }
    scope
}

/// An element's (namespace URI, local name).
fn expanded(scope: &NsScope, qname: &str) -> (String, String) {
    let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
    (
        scope.get(prefix).cloned().unwrap_or_default(),
        local.to_owned(),
    )
}

/// Reads the feed-level links of `parent` (the RSS `channel` or the Atom `feed`) into `doc`.
fn read_feed_links(parent: &Node, scope: &NsScope, doc: &mut Doc) -> Result<(), String> {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for child in &parent.children {
        let cs = ns_scope(scope, child);
        let (ns, local) = expanded(&cs, &child.name);
        if ns == FH_NS && local == "archive" {
            if doc.fh_archive {
                return Err("fh:archive appears twice".into());
            }
            doc.fh_archive = true;
        }
        if ns == ATOM_NS && local == "link" {
            let rel = child.attr("rel").unwrap_or("alternate").to_owned();
            let href = child
                .attr("href")
                .ok_or_else(|| format!("link rel={rel} without href"))?
                .to_owned();
            seen.entry(rel).or_default().push(href);
        }
    }
    let mut one = |rel: &str| -> Result<Option<String>, String> {
        match seen.remove(rel) {
            None => Ok(None),
            Some(v) if v.len() == 1 => Ok(v.into_iter().next()),
            Some(v) => Err(format!("rel={rel} appears {} times: {v:?}", v.len())),
        }
    };
    doc.self_url = one("self")?;
    doc.current = one("current")?;
    doc.older = one("prev-archive")?;
    doc.newer = one("next-archive")?;
    doc.hubs = seen.get("hub").map_or(0, Vec::len);
    Ok(())
}

/// Parses a document of format `fmt`: items with feed-rs, feed-level links raw.
fn parse_doc(fmt: Fmt, body: &[u8]) -> Result<Doc, String> {
    let feed = feed_rs::parser::parse(body).map_err(|e| format!("feed-rs: {e}"))?;
    let mut doc = Doc::default();
    for e in &feed.entries {
        doc.titles.push(
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .ok_or("item without a title")?,
        );
        doc.links.push(
            e.links
                .first()
                .map(|l| l.href.clone())
                .ok_or("item without a link")?,
        );
    }
    match fmt {
        Fmt::Rss | Fmt::Atom => {
            let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
            let root = xmltree::parse(text)?;
            let scope = ns_scope(&NsScope::new(), &root);
            if fmt == Fmt::Rss {
                if root.name != "rss" {
                    return Err(format!("root element {}", root.name));
                }
                let channel = root.child("channel").ok_or("no channel")?;
                let cs = ns_scope(&scope, channel);
                read_feed_links(channel, &cs, &mut doc)?;
            } else {
                if expanded(&scope, &root.name) != (ATOM_NS.to_owned(), "feed".to_owned()) {
                    return Err(format!("root element {} is not atom:feed", root.name));
                }
                read_feed_links(&root, &scope, &mut doc)?;
            }
        }
        Fmt::Json => {
            let v: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| format!("JSON: {e}"))?;
            let s = |k: &str| -> Result<Option<String>, String> {
                match v.get(k) {
                    None => Ok(None),
                    Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(format!("{k} is not a string: {other}")),
                }
            };
            doc.self_url = s("feed_url")?;
            doc.older = s("next_url")?;
            doc.hubs = match v.get("hubs") {
                None => 0,
                Some(serde_json::Value::Array(a)) => a.len(),
                Some(other) => return Err(format!("hubs is not an array: {other}")),
            };
        }
    }
    Ok(doc)
}

/// `GET route`; panics (with the server's log) unless it is a 200 that parses.
fn fetch_doc(server: &Server, route: &str, fmt: Fmt) -> (Resp, Doc) {
    let r = server.get(&encode(route));
    assert_eq!(
        r.status,
        200,
        "GET {route}: {}\nserver log:\n{}",
        String::from_utf8_lossy(&r.body),
        server.stderr()
    );
    let doc = parse_doc(fmt, &r.body).unwrap_or_else(|e| {
        panic!(
            "GET {route}: does not parse: {e}\n{}",
            String::from_utf8_lossy(&r.body)
        )
    });
    (r, doc)
}

fn http_date(s: &str) -> SystemTime {
    httpdate::parse_http_date(s).unwrap_or_else(|e| panic!("not an HTTP-date {s:?}: {e}"))
}

fn assert_strong_etag(etag: &str, what: &str) {
    assert!(
        !etag.starts_with("W/") && etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "{what}: not a strong quoted ETag: {etag}"
    );
}

/// The headers every archive page's 200 carries.
fn check_archive_headers(r: &Resp, route: &str, own_url: &str, fmt: Fmt, max_age: u32) {
    let what = format!("GET {route}");
    assert_eq!(r.status, 200, "{what}");
    assert_eq!(r.h("content-type"), fmt.ctype(), "{what}");
    assert_eq!(
        r.h("content-length").parse::<usize>().expect("length"),
        r.body.len(),
        "{what}"
    );
    assert!(r.header("content-encoding").is_none(), "{what}: encoded");
    assert_strong_etag(r.h("etag"), &what);
    let lm = r.h("last-modified");
    assert_eq!(
        httpdate::fmt_http_date(http_date(lm)),
        lm,
        "{what}: Last-Modified is not an IMF-fixdate"
    );
    assert_eq!(
        r.h("cache-control"),
        format!("public, max-age={max_age}"),
        "{what}"
    );
    assert_eq!(r.h("vary"), "Accept-Encoding", "{what}");
    assert_eq!(
        r.h("link"),
        format!("<{own_url}>; rel=\"self\""),
        "{what}: Link must name the page itself (and no hub)"
    );
}

// ---------------------------------------------------------------------------------------------
// Walking a scope

/// What [`walk`] expects besides the layout.
struct Expect<'a> {
    server: &'a Server,
    /// The site URL the documents use (no trailing slash).
    base: &'a str,
    paging: Paging,
    sub_max_age: u32,
    archive_max_age: u32,
}

/// Fetches the subscription document of `scope` in `fmt`, follows its older-archive link to
/// the end and checks every document against `layout`; returns the bodies of the archive
/// pages by page number (1-based).
fn walk(x: &Expect<'_>, scope: &Scope, fmt: Fmt) -> BTreeMap<usize, Vec<u8>> {
    let lay = layout(&scope.posts, x.paging);
    let c = lay.pages.len();
    let url = |page: Option<usize>| format!("{}{}", x.base, encode(&scope.route(page, fmt)));
    let sub_route = scope.route(None, fmt);
    let sub_url = url(None);
    let what = format!("{sub_route} ({c} archive pages expected)");

    let (r, sub) = fetch_doc(x.server, &sub_route, fmt);
    assert_eq!(r.h("content-type"), fmt.ctype(), "{what}");
    assert_eq!(
        r.h("cache-control"),
        format!("public, max-age={}", x.sub_max_age),
        "{what}: subscription documents keep their max-age"
    );
    assert_eq!(sub.titles, lay.sub, "{what}: subscription items");
    if x.paging.limit > 0 {
        assert!(sub.titles.len() <= x.paging.limit, "{what}: over the limit");
    }
    if c > 0 {
        assert_eq!(
            sub.titles.len(),
            x.paging.limit,
            "{what}: a scope with archives keeps the newest L in its feed"
        );
    }
    assert!(
        !sub.fh_archive,
        "{what}: a subscription document is no archive"
    );
    assert_eq!(sub.self_url.as_deref(), Some(&*sub_url), "{what}: self");
    assert_eq!(
        sub.newer, None,
        "{what}: next-archive in a subscription doc"
    );
    assert_eq!(
        sub.older,
        (c > 0).then(|| url(Some(c))),
        "{what}: {} must name the newest archive page",
        if fmt == Fmt::Json {
            "next_url"
        } else {
            "prev-archive"
        }
    );

    let mut titles: Vec<String> = sub.titles.clone();
    let mut links: Vec<String> = sub.links.clone();
    let mut bodies = BTreeMap::new();
    let mut next = sub.older;
    let mut k = c;
    while let Some(page_url) = next {
        assert!(
            k >= 1,
            "{what}: the chain goes on past page 1 to {page_url}"
        );
        assert_eq!(page_url, url(Some(k)), "{what}: chain order");
        let route = route_of(&page_url, x.base).to_owned();
        let r = x.server.get(&route);
        assert_eq!(
            r.status,
            200,
            "{what}: GET {route}\nserver log:\n{}",
            x.server.stderr()
        );
        check_archive_headers(&r, &route, &page_url, fmt, x.archive_max_age);
        let doc = parse_doc(fmt, &r.body).unwrap_or_else(|e| {
            panic!(
                "{route}: does not parse: {e}\n{}",
                String::from_utf8_lossy(&r.body)
            )
        });
        let pw = format!("{what}: page {k} ({route})");
        assert_eq!(doc.titles, lay.pages[k - 1], "{pw}: items");
        assert_eq!(doc.titles.len(), x.paging.page, "{pw}: P items");
        assert_eq!(doc.self_url.as_deref(), Some(&*page_url), "{pw}: self");
        assert_eq!(doc.hubs, 0, "{pw}: archive pages advertise no hub");
        assert_eq!(doc.older, (k > 1).then(|| url(Some(k - 1))), "{pw}: older");
        if fmt == Fmt::Json {
            assert_eq!(doc.current, None);
        } else {
            assert!(doc.fh_archive, "{pw}: no fh:archive");
            assert_eq!(doc.current.as_deref(), Some(&*sub_url), "{pw}: current");
            assert_eq!(doc.newer, (k < c).then(|| url(Some(k + 1))), "{pw}: newer");
        }
        titles.extend(doc.titles.iter().cloned());
        links.extend(doc.links.iter().cloned());
        bodies.insert(k, r.body.clone());
        next = doc.older;
        k -= 1;
    }
    assert_eq!(k, 0, "{what}: the chain stopped before page 1");

    // The chain covers the scope (with archives off, only the newest L). Pages are disjoint;
    // only the newest page may repeat items of the subscription document, fewer than a page.
    let archived = x.paging.archive || x.paging.limit == 0;
    let reachable = if archived { &scope.posts } else { &lay.sub };
    let n = reachable.len();
    let got: BTreeSet<&String> = titles.iter().collect();
    let want: BTreeSet<&String> = reachable.iter().collect();
    assert_eq!(got, want, "{what}: items across the chain");
    let distinct_links: BTreeSet<&String> = links.iter().collect();
    assert_eq!(distinct_links.len(), n, "{what}: item links not distinct");
    let repeats = titles.len() - n;
    if c > 0 {
        assert!(repeats < x.paging.page, "{what}: {repeats} items twice");
        let newest: BTreeSet<&String> = lay.pages[c - 1].iter().collect();
        let sub_set: BTreeSet<&String> = sub.titles.iter().collect();
        assert_eq!(
            newest.intersection(&sub_set).count(),
            repeats,
            "{what}: repeats outside the newest page"
        );
    } else {
        assert_eq!(repeats, 0, "{what}: items twice without archives");
    }

    // The page after the last does not exist.
    let past = scope.route(Some(c + 1), fmt);
    let r = x.server.get(&encode(&past));
    assert_eq!(r.status, 404, "{what}: GET {past}");
    bodies
}

fn walk_everything(x: &Expect<'_>, all: &[Scope]) -> BTreeMap<(String, usize), Vec<u8>> {
    let mut out = BTreeMap::new();
    for s in all {
        for fmt in Fmt::ALL {
            for (k, body) in walk(x, s, fmt) {
                out.insert((s.route(Some(k), fmt), k), body);
            }
        }
    }
    out
}

fn pages_of(all: &[Scope], dir: &str, paging: Paging) -> usize {
    layout(&scope(all, dir).posts, paging).pages.len()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn walk_every_scope_and_format() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    let all = scopes(&defs(N_POSTS));
    let paging = Paging::new(4, 0);
    // The site has scopes with several pages, with one, and with none (n < L, n = L).
    assert_eq!(pages_of(&all, "", paging), 10);
    assert_eq!(pages_of(&all, "/categories/news", paging), 4);
    assert_eq!(pages_of(&all, "/tags/web", paging), 7);
    assert_eq!(pages_of(&all, "/tags/厦门", paging), 1);
    assert_eq!(pages_of(&all, "/tags/first5", paging), 1);
    assert_eq!(pages_of(&all, "/tags/four", paging), 0);
    assert_eq!(pages_of(&all, "/categories/rare", paging), 0);
    assert_eq!(pages_of(&all, "/tags/solo", paging), 0);
    let base = base_of(&server);
    let x = Expect {
        server: &server,
        base: &base,
        paging,
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    let pages = walk_everything(&x, &all);
    let want: usize = all.iter().map(|s| pages_of(&all, &s.dir, paging)).sum();
    assert_eq!(pages.len(), want * 3);
}

#[test]
fn walk_every_scope_and_format_with_explicit_page_size() {
    let site = site_with(N_POSTS, "limit = 5\narchive_page = 3", "");
    let server = Server::start(&site, &[]);
    let all = scopes(&defs(N_POSTS));
    let paging = Paging::new(5, 3);
    assert_eq!(pages_of(&all, "", paging), 6);
    assert_eq!(pages_of(&all, "/categories/news", paging), 3);
    assert_eq!(pages_of(&all, "/tags/web", paging), 5);
    assert_eq!(pages_of(&all, "/tags/first5", paging), 0);
    let base = base_of(&server);
    walk_everything(
        &Expect {
            server: &server,
            base: &base,
            paging,
            sub_max_age: SUB_MAX_AGE,
            archive_max_age: ARCHIVE_MAX_AGE,
        },
        &all,
    );
}

/// What [`snapshot`] records of one archive page.
struct Seen {
    etag: String,
    last_modified: String,
    titles: Vec<String>,
}

/// Every archive page of the all-posts scope, by (format, page).
fn snapshot(server: &Server, pages: usize) -> BTreeMap<(&'static str, usize), Seen> {
    let mut out = BTreeMap::new();
    for fmt in Fmt::ALL {
        for k in 1..=pages {
            let route = format!("/archive/{k}/{}", fmt.file());
            let (r, doc) = fetch_doc(server, &route, fmt);
            let seen = Seen {
                etag: r.h("etag").to_owned(),
                last_modified: r.h("last-modified").to_owned(),
                titles: doc.titles,
            };
            out.insert((fmt.file(), k), seen);
        }
    }
    out
}

/// Waits until `/feed.json` lists `title`.
fn wait_listed(server: &Server, title: &str) {
    wait_for(
        &format!("/feed.json to list {title}"),
        DEADLINE,
        Some(server),
        || {
            let r = server.get("/feed.json");
            let doc = parse_doc(Fmt::Json, &r.body)?;
            if doc.titles.iter().any(|t| t == title) {
                Ok(())
            } else {
                Err(format!("{:?}", doc.titles))
            }
        },
    );
}

#[test]
fn archive_pages_stable_when_a_new_post_arrives() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let paging = Paging::new(4, 0);
    // 23 posts: 19 past the limit, 10 pages covering 20 posts; the subscription doc holds the
    // newest 4 (one of them also on page 10).
    let before = snapshot(&server, 10);

    // Post 23: 20 past the limit, still 10 pages; the subscription doc moves on by one.
    let p = post_def(N_POSTS);
    site.write_post(&p.file, &p.text());
    wait_listed(&server, &p.title);
    for ((file, k), seen) in &before {
        let route = format!("/archive/{k}/{file}");
        let r = server.get(&route);
        assert_eq!(r.status, 200, "{route}");
        assert_eq!(
            r.h("etag"),
            seen.etag,
            "{route}: an archive page changed when a new post arrived"
        );
        assert_eq!(
            r.h("last-modified"),
            seen.last_modified,
            "{route}: same bytes, new Last-Modified"
        );
        let fmt = Fmt::ALL.into_iter().find(|f| f.file() == *file).unwrap();
        assert_eq!(
            parse_doc(fmt, &r.body).unwrap().titles,
            seen.titles,
            "{route}"
        );
        let nm = get(&server.at(&route), &[("If-None-Match", &seen.etag)]);
        assert_eq!(nm.status, 304, "{route}: If-None-Match with the old ETag");
        let ims = get(
            &server.at(&route),
            &[("If-Modified-Since", &seen.last_modified)],
        );
        assert_eq!(
            ims.status, 304,
            "{route}: If-Modified-Since the old Last-Modified"
        );
    }
    let x = Expect {
        server: &server,
        base: &base,
        paging,
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    let all = scopes(&defs(N_POSTS + 1));
    for fmt in Fmt::ALL {
        walk(&x, scope(&all, ""), fmt);
    }

    // Post 24: 21 past the limit, so page 11 appears with posts 20 and 21.
    let p = post_def(N_POSTS + 1);
    site.write_post(&p.file, &p.text());
    wait_listed(&server, &p.title);
    for ((file, k), seen) in &before {
        let route = format!("/archive/{k}/{file}");
        let fmt = Fmt::ALL.into_iter().find(|f| f.file() == *file).unwrap();
        let (r, doc) = fetch_doc(&server, &route, fmt);
        assert_eq!(doc.titles, seen.titles, "{route}: items changed");
        if *k < 10 || fmt == Fmt::Json {
            // A JSON page links only to older pages, so the former newest one stays as it was.
            assert_eq!(
                r.h("etag"),
                seen.etag,
                "{route}: an old archive page changed"
            );
            assert_eq!(r.h("last-modified"), seen.last_modified, "{route}");
        } else {
            assert_eq!(
                doc.newer.as_deref(),
                Some(&*format!("{base}/archive/11/{file}")),
                "{route}: the former newest page links the new one"
            );
        }
    }
    let all = scopes(&defs(N_POSTS + 2));
    for fmt in Fmt::ALL {
        let pages = walk(&x, scope(&all, ""), fmt);
        assert_eq!(pages.len(), 11, "{fmt:?}");
        let (_, doc) = fetch_doc(&server, &format!("/archive/11/{}", fmt.file()), fmt);
        assert_eq!(doc.titles, ["Post 21", "Post 20"], "{fmt:?}");
    }
}

#[test]
fn edit_of_an_old_post_changes_its_archive_page() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let paging = Paging::new(4, 0);
    let mut posts = defs(N_POSTS);
    let all = scopes(&posts);
    // Post 0 is in no subscription document: record them all.
    let mut sub_etags = BTreeMap::new();
    for s in &all {
        for fmt in Fmt::ALL {
            let route = s.route(None, fmt);
            let (r, doc) = fetch_doc(&server, &route, fmt);
            assert!(!doc.titles.iter().any(|t| t == "Post 00"), "{route}");
            sub_etags.insert(route, r.h("etag").to_owned());
        }
    }

    posts[0].title = "Post 00, retitled".to_owned();
    site.write_post(&posts[0].file, &posts[0].text());
    wait_rss_title(&server, "/archive/1/rss.xml", "Post 00, retitled");
    // Page 1 of every format of every scope holding post 0 shows the new title.
    for dir in [
        "",
        "/categories/news",
        "/tags/rust",
        "/tags/five",
        "/tags/first5",
    ] {
        for fmt in Fmt::ALL {
            let route = format!("{dir}/archive/1/{}", fmt.file());
            let (_, doc) = fetch_doc(&server, &route, fmt);
            assert!(
                doc.titles.iter().any(|t| t == "Post 00, retitled"),
                "{route}: {:?}",
                doc.titles
            );
        }
    }
    for (route, etag) in &sub_etags {
        let r = server.get(&encode(route));
        assert_eq!(r.h("etag"), etag, "{route}: subscription doc changed");
    }
    let x = Expect {
        server: &server,
        base: &base,
        paging,
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    walk_everything(&x, &scopes(&posts));

    // Removing it shifts every page: 22 posts, 9 pages; tags first5 and five drop to 4 posts
    // and lose their only page.
    fs::remove_file(site.posts().join(&posts[0].file)).expect("remove post 0");
    posts.remove(0);
    wait_for(
        "/archive/10/rss.xml to go",
        DEADLINE,
        Some(&server),
        || match server.get("/archive/10/rss.xml").status {
            404 => Ok(()),
            s => Err(format!("status {s}")),
        },
    );
    walk_everything(&x, &scopes(&posts));

    // Moving the oldest post (1) from tech to news shifts both categories' pages.
    posts[0].category = "news";
    site.write_post(&posts[0].file, &posts[0].text());
    wait_for(
        "/categories/news/archive/1/feed.json to list Post 01",
        DEADLINE,
        Some(&server),
        || {
            let r = server.get("/categories/news/archive/1/feed.json");
            let doc = parse_doc(Fmt::Json, &r.body).map_err(|e| format!("{} {e}", r.status))?;
            if doc.titles.iter().any(|t| t == "Post 01") {
                Ok(())
            } else {
                Err(format!("{:?}", doc.titles))
            }
        },
    );
    walk_everything(&x, &scopes(&posts));
}

/// Pages nobody has asked for yet, asked for by several clients at once (identity and gzip)
/// or first with a conditional request, come out the same as when asked for one at a time.
#[test]
fn first_requests_of_a_page_agree() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    for fmt in Fmt::ALL {
        for k in 2..=4 {
            let url = server.at(&format!("/archive/{k}/{}", fmt.file()));
            let results: Vec<Resp> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|i| {
                        let url = url.clone();
                        s.spawn(move || {
                            let ae: &[(&str, &str)] = if i % 2 == 0 {
                                &[]
                            } else {
                                &[("Accept-Encoding", "gzip")]
                            };
                            get(&url, ae)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let plain = get(&url, &[]);
            let gz = get(&url, &[("Accept-Encoding", "gzip")]);
            for (i, r) in results.iter().enumerate() {
                assert_eq!(r.status, 200, "{url} #{i}");
                let want = if i % 2 == 0 { &plain } else { &gz };
                assert_eq!(
                    r.header("content-encoding"),
                    want.header("content-encoding")
                );
                assert_eq!(r.h("etag"), want.h("etag"), "{url} #{i}");
                assert_eq!(r.h("last-modified"), plain.h("last-modified"), "{url} #{i}");
                assert_eq!(r.body, want.body, "{url} #{i}");
            }
        }
        // A conditional request first: `If-None-Match: *` matches any current page.
        let url = server.at(&format!("/archive/5/{}", fmt.file()));
        let nm = get(&url, &[("If-None-Match", "*")]);
        assert_eq!(nm.status, 304, "{url}: If-None-Match * first");
        let g = get(&url, &[]);
        assert_eq!(nm.h("etag"), g.h("etag"), "{url}");
        assert_eq!(nm.h("last-modified"), g.h("last-modified"), "{url}");
        // And on a page that does not exist, it matches nothing.
        let none = get(
            &server.at(&format!("/archive/11/{}", fmt.file())),
            &[("If-None-Match", "*")],
        );
        assert_eq!(none.status, 404, "If-None-Match * on a missing page");
    }
}

/// Only the configured formats get archive pages, and the others' routes are 404.
#[test]
fn only_configured_formats_get_archive_pages() {
    let site = site_with(N_POSTS, "limit = 4\nformats = [\"json\"]", "");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let all = scopes(&defs(N_POSTS));
    let x = Expect {
        server: &server,
        base: &base,
        paging: Paging::new(4, 0),
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    for s in &all {
        walk(&x, s, Fmt::Json);
    }
    for route in [
        "/archive/1/rss.xml",
        "/archive/1/atom.xml",
        "/categories/news/archive/1/rss.xml",
        "/tags/web/archive/2/atom.xml",
    ] {
        assert_eq!(server.get(route).status, 404, "GET {route}");
    }
}

#[test]
fn conditional_and_errors() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    for route in [
        "/archive/0/rss.xml",
        "/archive/11/rss.xml",
        "/archive/11/feed.json",
        "/archive/12/atom.xml",
        "/archive/x/rss.xml",
        "/archive/-1/rss.xml",
        "/archive/1.0/rss.xml",
        "/archive/99999999999999999999999/rss.xml",
        "/archive/1/nope.xml",
        "/archive/1/",
        "/archive/rss.xml",
        "/archive/1/rss.xml/extra",
        "/categories/news/archive/5/rss.xml",
        "/categories/news/archive/0/feed.json",
        "/categories/rare/archive/1/rss.xml",
        "/tags/solo/archive/1/feed.json",
        "/tags/four/archive/1/atom.xml",
        "/tags/nosuchtag/archive/1/rss.xml",
    ] {
        let r = server.get(route);
        assert_eq!(r.status, 404, "GET {route}");
    }

    for fmt in Fmt::ALL {
        for route in [
            format!("/archive/1/{}", fmt.file()),
            format!("/archive/10/{}", fmt.file()),
            format!("/categories/news/archive/2/{}", fmt.file()),
            encode(&format!("/tags/厦门/archive/1/{}", fmt.file())),
        ] {
            let url = server.at(&route);
            // HEAD first (the page has not been asked for yet), then GET: same headers.
            let h = request("HEAD", &url, &[]);
            let g = get(&url, &[]);
            check_archive_headers(&g, &route, &url, fmt, ARCHIVE_MAX_AGE);
            let etag = g.h("etag").to_owned();
            assert_eq!(h.status, 200, "HEAD {route}");
            assert!(h.body.is_empty(), "HEAD {route}: body");
            for name in [
                "content-type",
                "content-length",
                "etag",
                "last-modified",
                "cache-control",
                "vary",
                "link",
            ] {
                assert_eq!(h.header(name), g.header(name), "HEAD {route}: {name}");
            }

            // Conditional GET and HEAD.
            for (method, hdr, value) in [
                ("GET", "If-None-Match", etag.as_str()),
                ("HEAD", "If-None-Match", etag.as_str()),
                ("GET", "If-Modified-Since", g.h("last-modified")),
            ] {
                let nm = request(method, &url, &[(hdr, value)]);
                let what = format!("{method} {route} {hdr}");
                assert_eq!(nm.status, 304, "{what}");
                assert!(nm.body.is_empty(), "{what}: body");
                assert_eq!(nm.h("etag"), etag, "{what}");
                assert_eq!(
                    nm.h("cache-control"),
                    format!("public, max-age={ARCHIVE_MAX_AGE}"),
                    "{what}"
                );
                assert_eq!(nm.h("vary"), "Accept-Encoding", "{what}");
            }
            let r = get(&url, &[("If-None-Match", "\"0000000000000000\"")]);
            assert_eq!(r.status, 200, "{route}: mismatched If-None-Match");
            assert_eq!(r.body, g.body, "{route}");

            // gzip: its own representation, its own ETag.
            let gz = get(&url, &[("Accept-Encoding", "gzip")]);
            assert_eq!(gz.status, 200, "{route} gzip");
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{route}");
            assert_eq!(gz.h("vary"), "Accept-Encoding", "{route} gzip");
            assert_eq!(
                gz.h("cache-control"),
                format!("public, max-age={ARCHIVE_MAX_AGE}"),
                "{route} gzip"
            );
            let gz_etag = gz.h("etag").to_owned();
            assert_strong_etag(&gz_etag, &route);
            assert_ne!(gz_etag, etag, "{route}: gzip shares the identity ETag");
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&gz.body[..])
                .read_to_end(&mut plain)
                .expect("valid gzip");
            assert_eq!(plain, g.body, "{route}: gunzipped body");
            let nm = get(
                &url,
                &[("Accept-Encoding", "gzip"), ("If-None-Match", &gz_etag)],
            );
            assert_eq!(nm.status, 304, "{route}: gzip If-None-Match");
            let h = request("HEAD", &url, &[("Accept-Encoding", "gzip")]);
            assert_eq!(
                h.header("etag"),
                Some(gz_etag.as_str()),
                "HEAD {route} gzip"
            );
            assert_eq!(h.header("content-length"), gz.header("content-length"));
        }

        // The subscription document keeps its own max-age.
        for route in [
            format!("/{}", fmt.file()),
            format!("/categories/news/{}", fmt.file()),
        ] {
            let r = server.get(&route);
            assert_eq!(r.status, 200, "{route}");
            assert_eq!(
                r.h("cache-control"),
                format!("public, max-age={SUB_MAX_AGE}"),
                "{route}"
            );
        }
    }
}

#[test]
fn archive_max_age_comes_from_the_config() {
    let site = site_with(N_POSTS, "limit = 4", "max_age = 60\narchive_max_age = 1234");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let all = scopes(&defs(N_POSTS));
    let x = Expect {
        server: &server,
        base: &base,
        paging: Paging::new(4, 0),
        sub_max_age: 60,
        archive_max_age: 1234,
    };
    for dir in ["", "/categories/tech"] {
        for fmt in Fmt::ALL {
            walk(&x, scope(&all, dir), fmt);
        }
    }
    let r = get(&server.at("/archive/1/rss.xml"), &[("If-None-Match", "*")]);
    assert_eq!(r.status, 304);
    assert_eq!(r.h("cache-control"), "public, max-age=1234");
}

#[test]
fn no_archives_when_disabled_or_small() {
    // (posts, [feeds], paging): archives off; limit 0 (all posts); n = L.
    let cases = [
        (N_POSTS, "limit = 4\narchive = false", {
            let mut p = Paging::new(4, 0);
            p.archive = false;
            p
        }),
        (N_POSTS, "limit = 0", Paging::new(0, 0)),
        (4, "limit = 4", Paging::new(4, 0)),
    ];
    for (n, feeds, paging) in cases {
        let site = site_with(n, feeds, "");
        let server = Server::start(&site, &[]);
        let base = base_of(&server);
        let all = scopes(&defs(n));
        let x = Expect {
            server: &server,
            base: &base,
            paging,
            sub_max_age: SUB_MAX_AGE,
            archive_max_age: ARCHIVE_MAX_AGE,
        };
        for s in &all {
            for fmt in Fmt::ALL {
                let pages = walk(&x, s, fmt);
                assert!(pages.is_empty(), "{feeds}: {}", s.route(None, fmt));
            }
        }
        let (_, doc) = fetch_doc(&server, "/feed.json", Fmt::Json);
        let want = if paging.limit == 0 { n } else { n.min(4) };
        assert_eq!(doc.titles.len(), want, "{feeds}");
        for route in [
            "/archive/1/rss.xml",
            "/archive/1/atom.xml",
            "/archive/1/feed.json",
            "/categories/news/archive/1/rss.xml",
            "/tags/web/archive/1/feed.json",
        ] {
            assert_eq!(server.get(route).status, 404, "{feeds}: GET {route}");
        }
        assert!(
            !site.out().join("archive").exists(),
            "{feeds}: feeds/archive written"
        );
    }
}

#[test]
fn build_writes_archive_pages() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let out = site.build(&[]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    let paging = Paging::new(4, 0);
    let all = scopes(&defs(N_POSTS));

    // Read everything the build wrote before a server rewrites `feeds/`.
    let mut built: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for s in &all {
        let c = layout(&s.posts, paging).pages.len();
        for fmt in Fmt::ALL {
            for k in 1..=c {
                let route = s.route(Some(k), fmt);
                let path: PathBuf = site.out().join(&route[1..]);
                let bytes = fs::read(&path)
                    .unwrap_or_else(|e| panic!("build did not write feeds{route}: {e}"));
                parse_doc(fmt, &bytes)
                    .unwrap_or_else(|e| panic!("feeds{route} does not parse: {e}"));
                built.insert(route, bytes);
            }
            let past = s.route(Some(c + 1), fmt);
            assert!(
                !site.out().join(&past[1..]).exists(),
                "build wrote feeds{past}"
            );
        }
        if c == 0 {
            let dir = site
                .out()
                .join(format!("{}/archive", s.dir).trim_start_matches('/'));
            assert!(!dir.exists(), "build wrote {}", dir.display());
        }
    }
    assert_eq!(
        built.len(),
        3 * all
            .iter()
            .map(|s| layout(&s.posts, paging).pages.len())
            .sum::<usize>()
    );

    // `serve` with the same site URL serves the same bytes at the same routes.
    let server = Server::start(&site, &["--url", "https://example.com"]);
    let served = walk_everything(
        &Expect {
            server: &server,
            base: "https://example.com",
            paging,
            sub_max_age: SUB_MAX_AGE,
            archive_max_age: ARCHIVE_MAX_AGE,
        },
        &all,
    );
    assert_eq!(
        served
            .keys()
            .map(|(r, _)| r.clone())
            .collect::<BTreeSet<_>>(),
        built.keys().cloned().collect::<BTreeSet<_>>()
    );
    for ((route, _), body) in &served {
        assert!(
            built[route] == *body,
            "{route}: build wrote\n{}\nserve serves\n{}",
            String::from_utf8_lossy(&built[route]),
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn config_errors() {
    let site = site_with(N_POSTS, "limit = 4\narchive_page = 5", "");
    let out = site.build(&[]);
    assert!(
        !out.status.success(),
        "archive_page > limit was accepted: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("archive_page"),
        "the error does not name feeds.archive_page: {}",
        stderr(&out)
    );

    // archive_page = limit is allowed: 19 past the limit in pages of 4 → 5 pages.
    write_config(&site, "limit = 4\narchive_page = 4", "");
    let out = site.build(&[]);
    assert!(
        out.status.success(),
        "archive_page = limit: {}",
        stderr(&out)
    );
    for k in 1..=5 {
        let bytes = fs::read(site.out().join(format!("archive/{k}/feed.json")))
            .unwrap_or_else(|e| panic!("feeds/archive/{k}/feed.json: {e}"));
        let doc = parse_doc(Fmt::Json, &bytes).unwrap();
        assert_eq!(doc.titles.len(), 4, "page {k}");
    }
    assert!(!site.out().join("archive/6").exists());
    let doc = parse_doc(Fmt::Json, site.read_out("feed.json").as_bytes()).unwrap();
    // The feed keeps the newest 4; page 5 (posts 19–22, oldest first) repeats three of them.
    assert_eq!(doc.titles, ["Post 22", "Post 21", "Post 20", "Post 19"]);

    // Wrongly typed values are named too.
    for (feeds, server, key) in [
        ("limit = 4\narchive = \"yes\"", "", "archive"),
        ("limit = 4", "archive_max_age = -1", "archive_max_age"),
        ("limit = 4\narchive_page = -2", "", "archive_page"),
    ] {
        write_config(&site, feeds, server);
        let out = site.build(&[]);
        assert!(!out.status.success(), "{feeds} {server}: accepted");
        assert!(
            stderr(&out).contains(key),
            "{feeds} {server}: error does not name {key}: {}",
            stderr(&out)
        );
    }
}

/// Validators of archive pages across restarts. Unchanged pages keep their ETag and
/// Last-Modified. A page whose bytes changed since a client got its copy must not answer that
/// copy's `If-Modified-Since` with 304 — the way the subscription documents behave — whether
/// it changed while no server ran, or after a restart before the new server served it.
#[test]
fn archive_validators_across_restarts() {
    let site = site_with(N_POSTS, "limit = 4", "");
    // A fixed site URL: the default (the server's own, ephemeral, address) changes the bytes.
    const URL: &[&str] = &["--url", "https://example.com"];
    let mut posts = defs(N_POSTS);
    let validators = |server: &Server, route: &str| -> (String, String) {
        let r = server.get(route);
        assert_eq!(r.status, 200, "{route}");
        (r.h("etag").to_owned(), r.h("last-modified").to_owned())
    };
    let fmt_routes = |k: usize| Fmt::ALL.map(|f| format!("/archive/{k}/{}", f.file()));
    // Post 0 is on page 1, post 22 in the subscription documents.
    let watched: Vec<String> = fmt_routes(1)
        .into_iter()
        .chain(fmt_routes(10))
        .chain(Fmt::ALL.map(|f| format!("/{}", f.file())))
        .collect();

    let mut a = Server::start(&site, URL);
    let first: BTreeMap<String, (String, String)> = watched
        .iter()
        .map(|r| (r.clone(), validators(&a, r)))
        .collect();
    assert!(a.stop(Duration::from_secs(15)).success());

    // Nothing changed: the same validators.
    let mut b = Server::start(&site, URL);
    for (route, v) in &first {
        assert_eq!(&validators(&b, route), v, "{route}: across a restart");
    }
    assert!(b.stop(Duration::from_secs(15)).success());

    // Whether a copy with validators `v` of `route` is (wrongly) reported unchanged.
    let mut problems = Vec::new();
    let mut check_changed = |server: &Server, route: &str, when: &str| {
        let (etag, lm) = &first[route];
        let r = get(&server.at(route), &[("If-Modified-Since", lm)]);
        if r.status != 200 {
            problems.push(format!(
                "{when}: GET {route} with If-Modified-Since: {lm} (the copy before the edit) → \
                 {}, Last-Modified now {}, ETag {} (was {etag})",
                r.status,
                r.h("last-modified"),
                r.h("etag"),
            ));
        }
    };

    // Last-Modified has whole seconds: let the clock leave the second of the newest one, so
    // that an edit now is observable by `If-Modified-Since` at all.
    let newest = first
        .values()
        .map(|(_, lm)| http_date(lm))
        .max()
        .expect("validators");
    while SystemTime::now() < newest + Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
    }

    // Posts 0 and 22 retitled while no server runs: page 1 and the subscription documents
    // changed, page 10 did not.
    posts[0].title = "Post 00, edited offline".to_owned();
    site.write_post(&posts[0].file, &posts[0].text());
    posts[22].title = "Post 22, edited offline".to_owned();
    site.write_post(&posts[22].file, &posts[22].text());
    let c = Server::start(&site, URL);
    for route in ["/rss.xml", "/archive/1/rss.xml"] {
        check_changed(&c, route, "edited while no server ran");
    }
    for route in fmt_routes(10) {
        assert_eq!(validators(&c, &route), first[&route], "{route}");
    }

    // Retitled again while this server runs, before it served Atom and JSON page 1 or
    // /feed.json (the wait looks at another scope's page and at /atom.xml).
    posts[0].title = "Post 00, edited online".to_owned();
    site.write_post(&posts[0].file, &posts[0].text());
    wait_rss_title(&c, "/tags/rust/archive/1/rss.xml", "Post 00, edited online");
    for route in ["/feed.json", "/archive/1/atom.xml", "/archive/1/feed.json"] {
        check_changed(&c, route, "edited after a restart");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Waits (bounded) until the RSS document at `route` lists an item titled `title`.
fn wait_rss_title(server: &Server, route: &str, title: &str) {
    wait_for(
        &format!("{route} to show the title {title:?}"),
        DEADLINE,
        Some(server),
        || {
            let r = server.get(route);
            let doc = parse_doc(Fmt::Rss, &r.body).map_err(|e| format!("{} {e}", r.status))?;
            if doc.titles.iter().any(|t| t == title) {
                Ok(())
            } else {
                Err(format!("{:?}", doc.titles))
            }
        },
    );
}

/// With the defaults (limit 50, archives on), a site of 60 posts has the newest 50 in every
/// format of its subscription feed: archives add pages, they do not shorten the feed.
#[test]
fn default_feeds_keep_the_newest_limit_items_with_archives_on() {
    let site = TempSite::new();
    for p in defs(60) {
        site.write_post(&p.file, &p.text());
    }
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = scopes(&defs(60));
    let everything = &scope(&all, "").posts;
    assert!(everything.len() > 50, "the fixture must exceed the limit");
    let newest = everything[..50].to_vec();
    for fmt in Fmt::ALL {
        let bytes = fs::read(site.out().join(fmt.file())).unwrap();
        let doc = parse_doc(fmt, &bytes).unwrap();
        assert_eq!(doc.titles, newest, "{}", fmt.file());
        // And the archive page holding the 10 beyond it (pages of 25, from the oldest).
        assert!(site.out().join("archive/1").join(fmt.file()).is_file());
        assert!(!site.out().join("archive/2").exists());
    }
}
