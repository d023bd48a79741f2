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

mod serving;
mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::common::http::{get, request, wait_for, Resp};
use crate::common::xmltree::{self, Node};
use crate::common::{news_post, stderr, Server, TempSite};

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
    } else if i.is_multiple_of(2) {
        "news"
    } else {
        "tech"
    };
    let mut tags = Vec::new();
    if i.is_multiple_of(4) {
        tags.push("rust");
    }
    if i.is_multiple_of(5) {
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

/// Writes the config; these tests walk the RFC 5005 pages of every scope in every format, so
/// unless `feeds` says otherwise every scope and every written format is archived (the
/// default archives only the whole site, in Atom: `archive::defaults`).
fn write_config(site: &TempSite, feeds: &str, server_extra: &str) {
    let mut feeds = feeds.to_owned();
    if !feeds.contains("archive_scopes") {
        feeds.push_str("\narchive_scopes = [\"site\", \"categories\", \"tags\"]");
    }
    if !feeds.contains("archive_formats") {
        let formats = feeds
            .lines()
            .find_map(|l| l.trim().strip_prefix("formats = "))
            .unwrap_or("[\"rss\", \"atom\", \"json\"]")
            .to_owned();
        feeds.push_str(&format!("\narchive_formats = {formats}"));
    }
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
        crate::common::cache_control(max_age),
        "{what}"
    );
    assert_eq!(r.h("vary"), crate::common::FEED_VARY, "{what}");
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
        crate::common::cache_control(x.sub_max_age),
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
