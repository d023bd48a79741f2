//! Independent round trip: build a fixture site with the real binary, parse every emitted
//! document back with `feed-rs` (and a strict XML tree reader / `serde_json` for the fields
//! `feed-rs` drops or normalizes), and compare field by field with what the source posts say.
//!
//! Every expected value below is written out by hand from the posts and SPEC §2 — none is
//! computed with the product's own functions — so a regression in the product cannot hide in
//! the oracle.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use common::xmltree::{self, Node};
use common::{stderr, stdout, TempSite};
use feed_rs::model::{Entry, Feed};
use serde_json::Value;

const SITE: &str = "https://example.com";
const SITE_TITLE: &str = "Harbor News";
const SITE_AUTHOR: &str = "Desk Editor";

const CONFIG: &str = r#"[site]
title = "Harbor News"
description = "Port & city news"
author = "Desk Editor"
language = "zh-CN"
"#;

// ---------------------------------------------------------------------------------------------
// The fixture: posts as files, and what each one must look like in every feed.
// ---------------------------------------------------------------------------------------------

/// Two posts in the SPEC §1 shape (same date: the tie is broken by path), English Markdown
/// posts with every optional key, Unicode terms and permalinks, and posts that must not appear.
const POSTS: &[(&str, &str)] = &[
    (
        "news/2021-12-21-gangkou.md",
        r#"---
layout: post
title: "港口吞吐量创新高 外贸航线再扩容"
date: 2021-12-21 08:10:27 +0800
categories: shamenribao
tags: 厦门日报新闻
---
<p>本报讯 今年前十一个月，港口集装箱吞吐量同比增长……</p>
 <p>……</p><p class="em_media">（文章来源：厦门日报）</p>

<http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001>

[返回厦门日报新闻](//news.example.com/category/shamenribao.html)｜[返回首页](//news.example.com/)
"#,
    ),
    (
        "news/2021-12-21-metro.md",
        r#"---
layout: post
title: "地铁3号线南延段开通 <试运营> & “首日”"
date: 2021-12-21 08:10:27 +0800
categories: shamenribao 厦门
tags: 厦门日报新闻 交通
source_name: 厦门日报
---
<p>本报讯 地铁3号线南延段今日开通。<img src="/uploads/metro.jpg"></p>
<p><img data-src="//img.example.cn/lazy.jpg" src="/images/placeholder.gif"></p>

<http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210002>

[返回厦门日报新闻](//news.example.com/category/shamenribao.html)｜[返回首页](//news.example.com/)
"#,
    ),
    (
        "en/2022-03-04-hello-rust.md",
        r#"---
title: "Hello, Rust & <Friends>"
date: 2022-03-04 10:00:00 -0500
updated: 2022-03-05T12:30:00-05:00
categories: [Programming]
tags: [Rust, "Release Notes", "Ünïcödé Straße"]
author:
  name: Jane Doe
  email: jane@example.org
  uri: https://jane.example.org/
image: /images/rust.png
id: "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
lang: en-US
source_url: https://blog.rust-lang.org/2022/03/04/hello.html
source_name: Rust Blog
excerpt: "A short, hand-written summary."
---
Rust 1.59 is out. Read the [intro](../docs/intro.html) and see ![logo](/img/logo.png).

<script src="//cdn.example.net/tracker.js"></script>

<video poster="poster.jpg" src="//media.example.net/v.mp4"></video>

<img srcset="/a.jpg 1x, //cdn.example.net/b.jpg 2x" src="a.jpg">
"#,
    ),
    (
        // Same instant as hello-rust (15:00Z = 10:00-05:00): the tie is broken by path.
        "en/2022-03-04-second.md",
        r#"---
title: "Second post"
date: 2022-03-04T15:00:00Z
categories: programming
tags: [rust]
author: John Smith
guid: post-42
---
Plain paragraph one with [a link](/about/) here & there.

Second paragraph.
"#,
    ),
    (
        "en/2023-07-01-unicode.md",
        r#"---
title: "  Ünïcödé — 特殊 “quotes” 'single' & ]]> <b>not bold</b>  "
date: 2023-07-01 09:15:00 +05:30
permalink: /special/ünï page.html
categories: [Café]
tags: ["Ünïcödé Straße", rust]
lang: de
---
Ein Absatz mit **fett** und [Link](//example.org/x?a=1&b=2).
"#,
    ),
    (
        // No title, no date: both from the file name.
        "2019-05-06-derived_title-here.md",
        "---\nlayout: post\n---\nJust text.\n",
    ),
    // Never published: a draft, an unpublished post, a future post, editor leftovers.
    (
        "_drafts/2020-01-01-wip.md",
        "---\ntitle: WIP\ntags: [rust]\n---\ndraft\n",
    ),
    (
        "en/2020-02-02-hidden.md",
        "---\ntitle: Hidden\npublished: false\ntags: [rust]\n---\nhidden\n",
    ),
    (
        "en/2999-01-01-future.md",
        "---\ntitle: From the future\ntags: [rust]\n---\nlater\n",
    ),
    (
        "en/2022-03-04-second.md~",
        "---\ntitle: Backup\ntags: [rust]\n---\nx\n",
    ),
    (
        "en/.2022-01-01-hidden.md",
        "---\ntitle: Dotfile\ntags: [rust]\n---\nx\n",
    ),
];

#[derive(Debug)]
struct Source {
    url: &'static str,
    /// RSS `<source>` text: `source_name`, else the source's host.
    rss_text: &'static str,
    /// Atom `link rel="via"` title: `source_name` only.
    atom_title: Option<&'static str>,
}

#[derive(Debug)]
struct Author {
    name: &'static str,
    email: Option<&'static str>,
    uri: Option<&'static str>,
}

const DEFAULT_AUTHOR: Author = Author {
    name: SITE_AUTHOR,
    email: None,
    uri: None,
};

/// What one published post must look like in every feed.
#[derive(Debug)]
struct Want {
    /// Path under `posts/` (the tie-breaker for equal dates).
    path: &'static str,
    title: &'static str,
    url: &'static str,
    /// RSS guid, JSON id.
    id: &'static str,
    atom_id: &'static str,
    /// RSS `pubDate`, exactly.
    rss_date: &'static str,
    /// RFC 3339 with the post's own offset (`Z` for UTC) — JSON `date_published`.
    date: &'static str,
    /// JSON `date_modified` / Atom `updated`.
    updated: &'static str,
    /// `updated` as RFC 822, for `lastBuildDate`.
    rss_updated: &'static str,
    categories: &'static [&'static str],
    tags: &'static [&'static str],
    source: Option<Source>,
    author: Author,
    /// Absolute URL and media type.
    image: Option<(&'static str, &'static str)>,
    summary: &'static str,
    lang: Option<&'static str>,
    content_has: &'static [&'static str],
    content_lacks: &'static [&'static str],
}

fn wants() -> Vec<Want> {
    vec![
        Want {
            path: "news/2021-12-21-gangkou.md",
            title: "港口吞吐量创新高 外贸航线再扩容",
            url: "https://example.com/shamenribao/2021/12/21/gangkou.html",
            id: "https://example.com/shamenribao/2021/12/21/gangkou.html",
            atom_id: "https://example.com/shamenribao/2021/12/21/gangkou.html",
            rss_date: "Tue, 21 Dec 2021 08:10:27 +0800",
            date: "2021-12-21T08:10:27+08:00",
            updated: "2021-12-21T08:10:27+08:00",
            rss_updated: "Tue, 21 Dec 2021 08:10:27 +0800",
            categories: &["shamenribao"],
            tags: &["厦门日报新闻"],
            source: Some(Source {
                url: "http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001",
                rss_text: "news.example.cn",
                atom_title: None,
            }),
            author: DEFAULT_AUTHOR,
            image: None,
            summary: "本报讯 今年前十一个月，港口集装箱吞吐量同比增长……",
            lang: None,
            content_has: &[
                "本报讯 今年前十一个月",
                "（文章来源：厦门日报）",
                r#"href="https://news.example.com/category/shamenribao.html""#,
                r#"href="https://news.example.com/""#,
            ],
            content_lacks: &[],
        },
        Want {
            path: "news/2021-12-21-metro.md",
            title: "地铁3号线南延段开通 <试运营> & “首日”",
            url: "https://example.com/shamenribao/%E5%8E%A6%E9%97%A8/2021/12/21/metro.html",
            id: "https://example.com/shamenribao/%E5%8E%A6%E9%97%A8/2021/12/21/metro.html",
            atom_id: "https://example.com/shamenribao/%E5%8E%A6%E9%97%A8/2021/12/21/metro.html",
            rss_date: "Tue, 21 Dec 2021 08:10:27 +0800",
            date: "2021-12-21T08:10:27+08:00",
            updated: "2021-12-21T08:10:27+08:00",
            rss_updated: "Tue, 21 Dec 2021 08:10:27 +0800",
            categories: &["shamenribao", "厦门"],
            tags: &["厦门日报新闻", "交通"],
            source: Some(Source {
                url: "http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210002",
                rss_text: "厦门日报",
                atom_title: Some("厦门日报"),
            }),
            author: DEFAULT_AUTHOR,
            image: None,
            summary: "本报讯 地铁3号线南延段今日开通。",
            lang: None,
            content_has: &[
                r#"src="https://example.com/uploads/metro.jpg""#,
                // The lazy image gets its real, absolute source.
                r#"src="https://img.example.cn/lazy.jpg""#,
                r#"href="https://news.example.com/""#,
            ],
            content_lacks: &["placeholder.gif"],
        },
        Want {
            path: "en/2022-03-04-hello-rust.md",
            title: "Hello, Rust & <Friends>",
            url: "https://example.com/programming/2022/03/04/hello-rust.html",
            id: "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            atom_id: "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            rss_date: "Fri, 04 Mar 2022 10:00:00 -0500",
            date: "2022-03-04T10:00:00-05:00",
            updated: "2022-03-05T12:30:00-05:00",
            rss_updated: "Sat, 05 Mar 2022 12:30:00 -0500",
            categories: &["Programming"],
            tags: &["Rust", "Release Notes", "Ünïcödé Straße"],
            source: Some(Source {
                url: "https://blog.rust-lang.org/2022/03/04/hello.html",
                rss_text: "Rust Blog",
                atom_title: Some("Rust Blog"),
            }),
            author: Author {
                name: "Jane Doe",
                email: Some("jane@example.org"),
                uri: Some("https://jane.example.org/"),
            },
            image: Some(("https://example.com/images/rust.png", "image/png")),
            summary: "A short, hand-written summary.",
            lang: Some("en-US"),
            content_has: &[
                r#"href="https://example.com/programming/2022/03/docs/intro.html""#,
                r#"src="https://example.com/img/logo.png""#,
                r#"poster="https://example.com/programming/2022/03/04/poster.jpg""#,
                r#"src="https://media.example.net/v.mp4""#,
                r#"srcset="https://example.com/a.jpg 1x, https://cdn.example.net/b.jpg 2x""#,
                r#"src="https://example.com/programming/2022/03/04/a.jpg""#,
            ],
            content_lacks: &["<script", "tracker.js"],
        },
        Want {
            path: "en/2022-03-04-second.md",
            title: "Second post",
            url: "https://example.com/programming/2022/03/04/second.html",
            id: "post-42",
            // Not an IRI: wrapped in a tag: URI for Atom.
            atom_id: "tag:example.com,2000:post-42",
            rss_date: "Fri, 04 Mar 2022 15:00:00 +0000",
            date: "2022-03-04T15:00:00Z",
            updated: "2022-03-04T15:00:00Z",
            rss_updated: "Fri, 04 Mar 2022 15:00:00 +0000",
            categories: &["programming"],
            tags: &["rust"],
            source: None,
            author: Author {
                name: "John Smith",
                email: None,
                uri: None,
            },
            image: None,
            summary: "Plain paragraph one with a link here & there.",
            lang: None,
            content_has: &[r#"href="https://example.com/about/""#, "Second paragraph."],
            content_lacks: &[],
        },
        Want {
            path: "en/2023-07-01-unicode.md",
            title: "Ünïcödé — 特殊 “quotes” 'single' & ]]> <b>not bold</b>",
            url: "https://example.com/special/%C3%BCn%C3%AF%20page.html",
            id: "https://example.com/special/%C3%BCn%C3%AF%20page.html",
            atom_id: "https://example.com/special/%C3%BCn%C3%AF%20page.html",
            rss_date: "Sat, 01 Jul 2023 09:15:00 +0530",
            date: "2023-07-01T09:15:00+05:30",
            updated: "2023-07-01T09:15:00+05:30",
            rss_updated: "Sat, 01 Jul 2023 09:15:00 +0530",
            categories: &["Café"],
            tags: &["Ünïcödé Straße", "rust"],
            source: None,
            author: DEFAULT_AUTHOR,
            image: None,
            summary: "Ein Absatz mit fett und Link.",
            lang: Some("de"),
            content_has: &[
                "<strong>fett</strong>",
                r#"href="https://example.org/x?a=1&amp;b=2""#,
            ],
            content_lacks: &[],
        },
        Want {
            path: "2019-05-06-derived_title-here.md",
            title: "derived title here",
            url: "https://example.com/2019/05/06/derived-title-here.html",
            id: "https://example.com/2019/05/06/derived-title-here.html",
            atom_id: "https://example.com/2019/05/06/derived-title-here.html",
            rss_date: "Mon, 06 May 2019 00:00:00 +0000",
            date: "2019-05-06T00:00:00Z",
            updated: "2019-05-06T00:00:00Z",
            rss_updated: "Mon, 06 May 2019 00:00:00 +0000",
            categories: &[],
            tags: &[],
            source: None,
            author: DEFAULT_AUTHOR,
            image: None,
            summary: "Just text.",
            lang: None,
            content_has: &["<p>Just text.</p>"],
            content_lacks: &[],
        },
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Category,
    Tag,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Category => "categories",
            Kind::Tag => "tags",
        }
    }
}

/// One category or tag feed: the name shown, its slug on disk, the slug as it appears in
/// URLs, and its posts by `Want::path`.
struct TermWant {
    kind: Kind,
    name: &'static str,
    slug: &'static str,
    slug_url: &'static str,
    posts: &'static [&'static str],
}

/// Terms that slugify the same (`Rust`/`rust`, `Programming`/`programming`) share one feed; it
/// is shown under the spelling most of its posts use (ties: the smallest).
fn term_wants() -> Vec<TermWant> {
    use Kind::*;
    vec![
        TermWant {
            kind: Category,
            name: "shamenribao",
            slug: "shamenribao",
            slug_url: "shamenribao",
            posts: &["news/2021-12-21-gangkou.md", "news/2021-12-21-metro.md"],
        },
        TermWant {
            kind: Category,
            name: "厦门",
            slug: "厦门",
            slug_url: "%E5%8E%A6%E9%97%A8",
            posts: &["news/2021-12-21-metro.md"],
        },
        TermWant {
            kind: Category,
            name: "Programming",
            slug: "programming",
            slug_url: "programming",
            posts: &["en/2022-03-04-hello-rust.md", "en/2022-03-04-second.md"],
        },
        TermWant {
            kind: Category,
            name: "Café",
            slug: "café",
            slug_url: "caf%C3%A9",
            posts: &["en/2023-07-01-unicode.md"],
        },
        TermWant {
            kind: Tag,
            name: "厦门日报新闻",
            slug: "厦门日报新闻",
            slug_url: "%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB",
            posts: &["news/2021-12-21-gangkou.md", "news/2021-12-21-metro.md"],
        },
        TermWant {
            kind: Tag,
            name: "交通",
            slug: "交通",
            slug_url: "%E4%BA%A4%E9%80%9A",
            posts: &["news/2021-12-21-metro.md"],
        },
        TermWant {
            kind: Tag,
            name: "rust",
            slug: "rust",
            slug_url: "rust",
            posts: &[
                "en/2022-03-04-hello-rust.md",
                "en/2022-03-04-second.md",
                "en/2023-07-01-unicode.md",
            ],
        },
        TermWant {
            kind: Tag,
            name: "Release Notes",
            slug: "release-notes",
            slug_url: "release-notes",
            posts: &["en/2022-03-04-hello-rust.md"],
        },
        TermWant {
            kind: Tag,
            name: "Ünïcödé Straße",
            slug: "ünïcödé-straße",
            slug_url: "%C3%BCn%C3%AFc%C3%B6d%C3%A9-stra%C3%9Fe",
            posts: &["en/2022-03-04-hello-rust.md", "en/2023-07-01-unicode.md"],
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Scopes and documents.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Rss,
    Atom,
    Json,
}

const FORMATS: [Fmt; 3] = [Fmt::Rss, Fmt::Atom, Fmt::Json];

impl Fmt {
    fn file(self) -> &'static str {
        match self {
            Fmt::Rss => "rss.xml",
            Fmt::Atom => "atom.xml",
            Fmt::Json => "feed.json",
        }
    }
}

/// One feed scope as the test sees it.
struct ScopeWant {
    /// Directory under `feeds/` (decoded), "" for all posts.
    dir: String,
    /// The same directory as it appears in URLs.
    url_dir: String,
    title: String,
    /// Member posts (any order; the expected order is computed from dates and paths).
    members: Vec<&'static str>,
}

fn scope_wants(wants: &[Want]) -> Vec<ScopeWant> {
    let mut out = vec![ScopeWant {
        dir: String::new(),
        url_dir: String::new(),
        title: SITE_TITLE.to_owned(),
        members: wants.iter().map(|w| w.path).collect(),
    }];
    for t in term_wants() {
        out.push(ScopeWant {
            dir: format!("{}/{}/", t.kind.dir(), t.slug),
            url_dir: format!("{}/{}/", t.kind.dir(), t.slug_url),
            title: format!("{SITE_TITLE} — {}", t.name),
            members: t.posts.to_vec(),
        });
    }
    out
}

fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("test data: bad date {rfc3339}: {e}"))
        .with_timezone(&Utc)
}

/// Members of a scope, newest first by date, ties by path; at most `limit` (0 = all).
fn ordered<'a>(wants: &'a [Want], members: &[&str], limit: usize) -> Vec<&'a Want> {
    let mut v: Vec<&Want> = wants.iter().filter(|w| members.contains(&w.path)).collect();
    assert_eq!(
        v.len(),
        members.len(),
        "test data: unknown member in {members:?}"
    );
    v.sort_by(|a, b| {
        instant(b.date)
            .cmp(&instant(a.date))
            .then_with(|| a.path.cmp(b.path))
    });
    if limit > 0 {
        v.truncate(limit);
    }
    v
}

fn write_fixture(site: &TempSite) {
    std::fs::write(site.root().join("feedsmith.toml"), CONFIG).expect("write config");
    for (rel, text) in POSTS {
        site.write_post(rel, text);
    }
}

fn build_ok(site: &TempSite, extra: &[&str]) {
    let out = site.build(extra);
    assert!(
        out.status.success(),
        "build failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        !err.contains("skipped") && !err.contains("not published"),
        "build reported problems:\n{err}"
    );
}

/// Every file under `dir`, as `/`-separated relative paths.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let e = e.expect("dir entry");
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).expect("under base");
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(parts.join("/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Checks.
// ---------------------------------------------------------------------------------------------

/// Every URL-bearing attribute in item content must be absolute (or a fragment / mailto).
fn assert_absolute_links(ctx: &str, html: &str) {
    // (Leading space: `data-src` is not one of the attributes SPEC §2 rewrites.)
    assert!(
        !html.contains(" href=\"//"),
        "{ctx}: protocol-relative href left:\n{html}"
    );
    assert!(
        !html.contains(" src=\"/"),
        "{ctx}: site-relative src left:\n{html}"
    );
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "{ctx}: <script> left:\n{html}"
    );
    for attr in [" href=\"", " src=\"", " poster=\"", " srcset=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            let after = &rest[i + attr.len()..];
            let value = &after[..after.find('"').unwrap_or(after.len())];
            let urls: Vec<&str> = if attr == " srcset=\"" {
                value
                    .split(',')
                    .map(|c| c.split_whitespace().next().unwrap_or(""))
                    .collect()
            } else {
                vec![value]
            };
            for u in urls {
                assert!(
                    u.starts_with("https://")
                        || u.starts_with("http://")
                        || u.starts_with("mailto:")
                        || u.starts_with('#'),
                    "{ctx}: {attr}{value}\" is not absolute in:\n{html}"
                );
            }
            rest = after;
        }
    }
}

fn assert_content(ctx: &str, w: &Want, html: &str) {
    assert!(!html.trim().is_empty(), "{ctx}: empty content");
    assert_absolute_links(ctx, html);
    for s in w.content_has {
        assert!(html.contains(s), "{ctx}: content lacks {s:?}:\n{html}");
    }
    for s in w.content_lacks {
        assert!(!html.contains(s), "{ctx}: content still has {s:?}:\n{html}");
    }
}

/// Atom dates are RFC 3339 with the post's own offset; UTC may be written `Z` or `+00:00`.
fn assert_rfc3339_raw(ctx: &str, got: &str, want: &str) {
    let utc_alt = want
        .strip_suffix('Z')
        .map(|s| format!("{s}+00:00"))
        .unwrap_or_default();
    assert!(
        got == want || got == utc_alt,
        "{ctx}: raw date {got:?}, expected {want:?} (the post's own offset)"
    );
}

fn terms_of(w: &Want) -> Vec<(&'static str, Kind)> {
    w.categories
        .iter()
        .map(|c| (*c, Kind::Category))
        .chain(w.tags.iter().map(|t| (*t, Kind::Tag)))
        .collect()
}

fn scheme(kind: Kind) -> String {
    format!("{SITE}/{}/", kind.dir())
}

fn html_decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

fn parse_feed(ctx: &str, bytes: &[u8]) -> Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| panic!("{ctx}: feed-rs cannot parse: {e}"))
}

fn check_common_entry(ctx: &str, e: &Entry, w: &Want) {
    let title = e.title.as_ref().map(|t| t.content.as_str());
    assert_eq!(title, Some(w.title), "{ctx}: title");
    let published = e
        .published
        .unwrap_or_else(|| panic!("{ctx}: no published date"));
    assert_eq!(published, instant(w.date), "{ctx}: published");
}

/// One RSS document, parsed by feed-rs and by the strict tree reader.
fn check_rss(ctx: &str, text: &str, self_url: &str, title: &str, items: &[&Want]) {
    let feed = parse_feed(ctx, text.as_bytes());
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::RSS2, "{ctx}");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some(title),
        "{ctx}: feed title"
    );
    assert!(
        feed.links
            .iter()
            .any(|l| l.rel.as_deref() == Some("self") && l.href == self_url),
        "{ctx}: no atom:link rel=self to {self_url}: {:?}",
        feed.links
    );
    assert_eq!(feed.entries.len(), items.len(), "{ctx}: item count");

    let root = xmltree::parse(text).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(root.name, "rss", "{ctx}");
    assert_eq!(root.attr("version"), Some("2.0"), "{ctx}");
    let channel = root
        .child("channel")
        .unwrap_or_else(|| panic!("{ctx}: no channel"));
    let selfs: Vec<&Node> = channel
        .children_named("atom:link")
        .filter(|l| l.attr("rel") == Some("self"))
        .collect();
    assert_eq!(selfs.len(), 1, "{ctx}: one self link");
    assert_eq!(selfs[0].attr("href"), Some(self_url), "{ctx}: self link");
    assert_eq!(
        channel.child_text("link"),
        Some(&*format!("{SITE}/")),
        "{ctx}: channel link"
    );
    if let Some(newest) = items.iter().max_by_key(|w| instant(w.updated)) {
        assert_eq!(
            channel.child_text("lastBuildDate"),
            Some(newest.rss_updated),
            "{ctx}: lastBuildDate = newest item's updated time"
        );
    }
    let raw_items: Vec<&Node> = channel.children_named("item").collect();
    assert_eq!(raw_items.len(), items.len(), "{ctx}: raw item count");

    for ((e, raw), w) in feed.entries.iter().zip(&raw_items).zip(items) {
        let ctx = &format!("{ctx} item {}", w.path);
        check_common_entry(ctx, e, w);
        // feed-rs view.
        assert_eq!(
            e.links.first().map(|l| l.href.as_str()),
            Some(w.url),
            "{ctx}: link"
        );
        assert_eq!(e.id, w.id, "{ctx}: guid");
        let cats: Vec<(String, Option<String>)> = e
            .categories
            .iter()
            .map(|c| (c.term.clone(), c.scheme.clone()))
            .collect();
        let want_cats: Vec<(String, Option<String>)> = terms_of(w)
            .into_iter()
            .map(|(t, k)| (t.to_owned(), Some(scheme(k))))
            .collect();
        assert_eq!(cats, want_cats, "{ctx}: categories + tags");
        let content = e
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or("");
        assert_content(ctx, w, content);
        let summary = e.summary.as_ref().map(|s| html_decode(&s.content));
        assert_eq!(summary.as_deref(), Some(w.summary), "{ctx}: description");
        // feed-rs reads `email (Name)` as name "(Name)": compare without the parentheses.
        let names: Vec<(Option<&str>, Option<&str>)> = e
            .authors
            .iter()
            .map(|a| {
                (
                    a.name.as_deref().map(|n| n.trim_matches(['(', ')'])),
                    a.email.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![(Some(w.author.name), w.author.email)],
            "{ctx}: author"
        );
        match w.image {
            Some((url, mime)) => {
                let media: Vec<(String, String)> = e
                    .media
                    .iter()
                    .flat_map(|m| &m.content)
                    .map(|c| {
                        (
                            c.url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                            c.content_type
                                .as_ref()
                                .map(|t| t.to_string())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                assert_eq!(
                    media,
                    vec![(url.to_owned(), mime.to_owned())],
                    "{ctx}: enclosure"
                );
            }
            None => assert!(e.media.is_empty(), "{ctx}: unexpected enclosure"),
        }

        // Raw view: exactly what the document says.
        assert_eq!(raw.child_text("title"), Some(w.title), "{ctx}: raw title");
        assert_eq!(raw.child_text("link"), Some(w.url), "{ctx}: raw link");
        assert_eq!(
            raw.child_text("pubDate"),
            Some(w.rss_date),
            "{ctx}: raw pubDate keeps the offset"
        );
        let guid = raw
            .child("guid")
            .unwrap_or_else(|| panic!("{ctx}: no guid"));
        assert_eq!(guid.text, w.id, "{ctx}: raw guid");
        let permalink = guid.attr("isPermaLink").unwrap_or("true");
        assert_eq!(
            permalink,
            if w.id == w.url { "true" } else { "false" },
            "{ctx}: guid isPermaLink"
        );
        let raw_cats: Vec<(String, Option<String>)> = raw
            .children_named("category")
            .map(|c| (c.text.clone(), c.attr("domain").map(str::to_owned)))
            .collect();
        let want_cats: Vec<(String, Option<String>)> = terms_of(w)
            .into_iter()
            .map(|(t, k)| (t.to_owned(), Some(scheme(k))))
            .collect();
        assert_eq!(raw_cats, want_cats, "{ctx}: raw categories");
        match &w.source {
            Some(s) => {
                let src = raw
                    .child("source")
                    .unwrap_or_else(|| panic!("{ctx}: no <source>"));
                assert_eq!(src.attr("url"), Some(s.url), "{ctx}: source url");
                assert_eq!(src.text, s.rss_text, "{ctx}: source text");
            }
            None => assert!(raw.child("source").is_none(), "{ctx}: unexpected <source>"),
        }
        match w.author.email {
            Some(email) => {
                assert_eq!(
                    raw.child_text("author"),
                    Some(&*format!("{email} ({})", w.author.name)),
                    "{ctx}: RSS author is the e-mail form"
                );
                assert!(
                    raw.child("dc:creator").is_none(),
                    "{ctx}: both author forms"
                );
            }
            None => {
                assert!(
                    raw.child("author").is_none(),
                    "{ctx}: author without e-mail"
                );
                assert_eq!(
                    raw.child_text("dc:creator"),
                    Some(w.author.name),
                    "{ctx}: dc:creator"
                );
            }
        }
        match w.image {
            Some((url, mime)) => {
                let enc = raw
                    .child("enclosure")
                    .unwrap_or_else(|| panic!("{ctx}: no enclosure"));
                assert_eq!(enc.attr("url"), Some(url), "{ctx}: enclosure url");
                assert_eq!(enc.attr("type"), Some(mime), "{ctx}: enclosure type");
                assert!(
                    enc.attr("length").is_some(),
                    "{ctx}: enclosure length is required"
                );
            }
            None => assert!(raw.child("enclosure").is_none(), "{ctx}"),
        }
        let encoded = raw.child_text("content:encoded").unwrap_or("");
        assert_content(ctx, w, encoded);
    }
}

/// One Atom document.
fn check_atom(ctx: &str, text: &str, self_url: &str, title: &str, items: &[&Want]) {
    let feed = parse_feed(ctx, text.as_bytes());
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom, "{ctx}");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some(title),
        "{ctx}: feed title"
    );
    assert!(
        feed.links
            .iter()
            .any(|l| l.rel.as_deref() == Some("self") && l.href == self_url),
        "{ctx}: no link rel=self to {self_url}: {:?}",
        feed.links
    );
    assert!(
        !feed.authors.is_empty(),
        "{ctx}: Atom requires a feed author"
    );
    assert_eq!(feed.entries.len(), items.len(), "{ctx}: entry count");

    let root = xmltree::parse(text).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(root.name, "feed", "{ctx}");
    assert_eq!(
        root.attr("xmlns"),
        Some("http://www.w3.org/2005/Atom"),
        "{ctx}"
    );
    let selfs: Vec<&Node> = root
        .children_named("link")
        .filter(|l| l.attr("rel") == Some("self"))
        .collect();
    assert_eq!(selfs.len(), 1, "{ctx}: one self link");
    assert_eq!(selfs[0].attr("href"), Some(self_url), "{ctx}: self link");
    if let Some(newest) = items.iter().max_by_key(|w| instant(w.updated)) {
        assert_rfc3339_raw(
            &format!("{ctx}: feed updated"),
            root.child_text("updated").unwrap_or(""),
            newest.updated,
        );
    }
    let raw_entries: Vec<&Node> = root.children_named("entry").collect();
    assert_eq!(raw_entries.len(), items.len(), "{ctx}: raw entry count");

    for ((e, raw), w) in feed.entries.iter().zip(&raw_entries).zip(items) {
        let ctx = &format!("{ctx} entry {}", w.path);
        check_common_entry(ctx, e, w);
        assert_eq!(e.id, w.atom_id, "{ctx}: id");
        assert_eq!(e.updated, Some(instant(w.updated)), "{ctx}: updated");
        let link = |rel: &str| e.links.iter().find(|l| l.rel.as_deref() == Some(rel));
        assert_eq!(
            link("alternate").map(|l| l.href.as_str()),
            Some(w.url),
            "{ctx}: alternate"
        );
        match &w.source {
            Some(s) => {
                let via = link("via").unwrap_or_else(|| panic!("{ctx}: no rel=via"));
                assert_eq!(via.href, s.url, "{ctx}: via href");
                assert_eq!(via.title.as_deref(), s.atom_title, "{ctx}: via title");
            }
            None => assert!(link("via").is_none(), "{ctx}: unexpected via"),
        }
        match w.image {
            Some((url, mime)) => {
                let enc = link("enclosure").unwrap_or_else(|| panic!("{ctx}: no rel=enclosure"));
                assert_eq!(enc.href, url, "{ctx}: enclosure href");
                assert_eq!(
                    enc.media_type.as_deref(),
                    Some(mime),
                    "{ctx}: enclosure type"
                );
            }
            None => assert!(link("enclosure").is_none(), "{ctx}: unexpected enclosure"),
        }
        let cats: Vec<(String, Option<String>)> = e
            .categories
            .iter()
            .map(|c| (c.term.clone(), c.scheme.clone()))
            .collect();
        let want_cats: Vec<(String, Option<String>)> = terms_of(w)
            .into_iter()
            .map(|(t, k)| (t.to_owned(), Some(scheme(k))))
            .collect();
        assert_eq!(cats, want_cats, "{ctx}: categories + tags");
        assert_eq!(e.authors.len(), 1, "{ctx}: one author");
        let a = &e.authors[0];
        assert_eq!(a.name.as_deref(), Some(w.author.name), "{ctx}: author name");
        assert_eq!(a.email.as_deref(), w.author.email, "{ctx}: author email");
        assert_eq!(a.uri.as_deref(), w.author.uri, "{ctx}: author uri");
        assert_eq!(
            e.summary.as_ref().map(|s| s.content.as_str()),
            Some(w.summary),
            "{ctx}: summary"
        );
        let content = e
            .content
            .as_ref()
            .unwrap_or_else(|| panic!("{ctx}: no content"));
        assert_eq!(
            content.content_type.to_string(),
            "text/html",
            "{ctx}: content type"
        );
        assert_content(ctx, w, content.body.as_deref().unwrap_or(""));
        assert_eq!(e.language.as_deref(), w.lang, "{ctx}: content xml:lang");

        // Raw strings keep the post's own offset.
        assert_rfc3339_raw(ctx, raw.child_text("published").unwrap_or(""), w.date);
        assert_rfc3339_raw(ctx, raw.child_text("updated").unwrap_or(""), w.updated);
        assert_eq!(raw.child_text("title"), Some(w.title), "{ctx}: raw title");
        assert_eq!(
            raw.child("content").and_then(|c| c.attr("type")),
            Some("html"),
            "{ctx}: content type=html"
        );
    }
}

/// One JSON Feed document.
fn check_json(ctx: &str, text: &str, self_url: &str, title: &str, items: &[&Want]) {
    let feed = parse_feed(ctx, text.as_bytes());
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::JSON, "{ctx}");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some(title),
        "{ctx}: feed title"
    );
    assert_eq!(feed.entries.len(), items.len(), "{ctx}: item count");

    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{ctx}: JSON: {e}"));
    assert_eq!(
        v["version"], "https://jsonfeed.org/version/1.1",
        "{ctx}: version"
    );
    assert_eq!(v["feed_url"], self_url, "{ctx}: feed_url");
    assert_eq!(
        v["home_page_url"],
        format!("{SITE}/"),
        "{ctx}: home_page_url"
    );
    assert_eq!(v["title"], title, "{ctx}: raw title");
    let raw_items = v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: no items"));
    assert_eq!(raw_items.len(), items.len(), "{ctx}: raw item count");

    for ((e, raw), w) in feed.entries.iter().zip(raw_items).zip(items) {
        let ctx = &format!("{ctx} item {}", w.path);
        check_common_entry(ctx, e, w);
        assert_eq!(e.id, w.id, "{ctx}: id");
        assert_eq!(e.updated, Some(instant(w.updated)), "{ctx}: date_modified");
        assert_eq!(
            e.links.first().map(|l| l.href.as_str()),
            Some(w.url),
            "{ctx}: url"
        );
        let tags: Vec<&str> = e.categories.iter().map(|c| c.term.as_str()).collect();
        let mut want_tags: Vec<&str> = Vec::new();
        for (t, _) in terms_of(w) {
            if !want_tags.contains(&t) {
                want_tags.push(t);
            }
        }
        assert_eq!(tags, want_tags, "{ctx}: tags");
        let names: Vec<Option<&str>> = e.authors.iter().map(|a| a.name.as_deref()).collect();
        assert_eq!(names, vec![Some(w.author.name)], "{ctx}: authors");
        assert_eq!(
            e.summary.as_ref().map(|s| s.content.as_str()),
            Some(w.summary),
            "{ctx}: summary"
        );
        let content = e
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or("");
        assert_content(ctx, w, content);

        assert_eq!(raw["title"], w.title, "{ctx}: raw title");
        assert_eq!(raw["url"], w.url, "{ctx}: raw url");
        assert_eq!(raw["id"], w.id, "{ctx}: raw id");
        assert_eq!(
            raw["date_published"], w.date,
            "{ctx}: date_published keeps the offset"
        );
        assert_eq!(
            raw["date_modified"], w.updated,
            "{ctx}: date_modified keeps the offset"
        );
        assert_eq!(
            raw["external_url"].as_str(),
            w.source.as_ref().map(|s| s.url),
            "{ctx}: external_url"
        );
        assert_eq!(
            raw["image"].as_str(),
            w.image.map(|(u, _)| u),
            "{ctx}: image"
        );
        assert_eq!(raw["language"].as_str(), w.lang, "{ctx}: language");
        assert_eq!(
            raw["authors"][0]["url"].as_str(),
            w.author.uri,
            "{ctx}: author url"
        );
        assert!(raw["content_html"].is_string(), "{ctx}: content_html");
    }
}

fn check_all_documents(out_dir: &Path, limit: usize) {
    let wants = wants();
    let scopes = scope_wants(&wants);
    let mut expected_files: BTreeSet<String> = ["feeds.opml", "index.html"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for scope in &scopes {
        let items = ordered(&wants, &scope.members, limit);
        for fmt in FORMATS {
            let file = format!("{}{}", scope.dir, fmt.file());
            expected_files.insert(file.clone());
            let text = std::fs::read_to_string(out_dir.join(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let self_url = format!("{SITE}/{}{}", scope.url_dir, fmt.file());
            let ctx = format!("{file} (limit {limit})");
            match fmt {
                Fmt::Rss => check_rss(&ctx, &text, &self_url, &scope.title, &items),
                Fmt::Atom => check_atom(&ctx, &text, &self_url, &scope.title, &items),
                Fmt::Json => check_json(&ctx, &text, &self_url, &scope.title, &items),
            }
        }
    }
    assert_eq!(
        files_under(out_dir),
        expected_files,
        "the output directory holds exactly the documents of every scope"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_document_round_trips_field_by_field() {
    let site = TempSite::new();
    write_fixture(&site);
    build_ok(&site, &[]);
    check_all_documents(&site.out(), 50);
}

#[test]
fn limit_is_respected_in_every_document() {
    let site = TempSite::new();
    write_fixture(&site);
    // Without RFC 5005 archives (tests/archive.rs covers them), a feed holds exactly the newest
    // `limit` posts of its scope.
    for (limit, dir) in [(2usize, "limited2"), (1, "limited1"), (0, "unlimited")] {
        let config = site.root().join(format!("{dir}.toml"));
        std::fs::write(
            &config,
            format!("{CONFIG}\n[feeds]\nlimit = {limit}\narchive = false\n"),
        )
        .expect("config");
        let out_dir = site.root().join(dir);
        let args: Vec<String> = [
            "build",
            "--config",
            &config.display().to_string(),
            "--posts",
            &site.posts().display().to_string(),
            "--out",
            &out_dir.display().to_string(),
            "--url",
            SITE,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let out = common::feedsmith(site.root(), &args);
        assert!(
            out.status.success() && !stderr(&out).contains("skipped"),
            "build with limit {limit} failed: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        check_all_documents(&out_dir, limit);
    }
}

#[test]
fn opml_lists_every_feed() {
    let site = TempSite::new();
    write_fixture(&site);
    build_ok(&site, &[]);
    let text = site.read_out("feeds.opml");
    let root = xmltree::parse(&text).unwrap_or_else(|e| panic!("feeds.opml: {e}"));
    assert_eq!(root.name, "opml");
    assert_eq!(root.attr("version"), Some("2.0"));
    assert!(
        root.child("head").and_then(|h| h.child("title")).is_some(),
        "OPML head title"
    );
    let body = root.child("body").expect("OPML body");
    let outlines: Vec<&Node> = body.children_named("outline").collect();
    assert_eq!(
        outlines.len(),
        3,
        "all posts, Categories, Tags: {outlines:#?}"
    );

    let all = outlines[0];
    assert_eq!(all.attr("text"), Some(SITE_TITLE));
    assert_eq!(all.attr("type"), Some("rss"));
    assert_eq!(all.attr("xmlUrl"), Some(&*format!("{SITE}/rss.xml")));
    assert_eq!(all.attr("htmlUrl"), Some(&*format!("{SITE}/")));

    for (i, label, kind) in [(1, "Categories", Kind::Category), (2, "Tags", Kind::Tag)] {
        let group = outlines[i];
        assert_eq!(group.attr("text"), Some(label));
        let want: BTreeMap<String, String> = term_wants()
            .into_iter()
            .filter(|t| t.kind == kind)
            .map(|t| {
                (
                    t.name.to_owned(),
                    format!("{SITE}/{}/{}/rss.xml", kind.dir(), t.slug_url),
                )
            })
            .collect();
        let mut got: BTreeMap<String, String> = BTreeMap::new();
        for o in group.children_named("outline") {
            let text = o.attr("text").expect("outline text").to_owned();
            assert_eq!(o.attr("type"), Some("rss"), "{label}/{text}: type");
            let html = o.attr("htmlUrl").unwrap_or("");
            assert!(
                html.starts_with(&format!("{SITE}/")),
                "{label}/{text}: htmlUrl {html:?}"
            );
            let xml = o.attr("xmlUrl").expect("xmlUrl").to_owned();
            // The URL names a document that exists.
            let file = xml
                .strip_prefix(&format!("{SITE}/"))
                .map(|p| {
                    percent_encoding::percent_decode_str(p)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .expect("xmlUrl on the site");
            assert!(
                site.out().join(&file).is_file(),
                "{label}/{text}: {xml} has no file"
            );
            assert!(
                got.insert(text.clone(), xml).is_none(),
                "{label}: {text} listed twice"
            );
        }
        assert_eq!(got, want, "{label} outlines");
        assert_eq!(
            group.children.len(),
            want.len(),
            "{label}: nothing but term outlines"
        );
    }
}

#[test]
fn index_page_has_autodiscovery_links() {
    let site = TempSite::new();
    write_fixture(&site);
    build_ok(&site, &[]);
    let html = site.read_out("index.html");
    let head = &html[..html.find("</head>").expect("</head>")];
    let mut found: Vec<(String, String)> = Vec::new();
    for tag in head.split("<link ").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let v = &tag[i + key.len()..];
                v[..v.find('"').unwrap_or(v.len())].to_owned()
            })
        };
        if attr("rel").as_deref() == Some("alternate") {
            assert!(
                attr("title").is_some_and(|t| !t.is_empty()),
                "title on {tag}"
            );
            found.push((
                attr("type").unwrap_or_default(),
                attr("href").unwrap_or_default(),
            ));
        }
    }
    found.sort();
    let mut want = vec![
        (
            "application/atom+xml".to_owned(),
            format!("{SITE}/atom.xml"),
        ),
        (
            "application/feed+json".to_owned(),
            format!("{SITE}/feed.json"),
        ),
        ("application/rss+xml".to_owned(), format!("{SITE}/rss.xml")),
    ];
    want.sort();
    assert_eq!(found, want, "autodiscovery links in <head>");
}

// ---------------------------------------------------------------------------------------------
// Golden files: a small fixed site, byte for byte.
// ---------------------------------------------------------------------------------------------

const GOLDEN_POSTS: &[(&str, &str)] = &[
    (
        // SPEC §1's sample post (Markdown: its links are written in Markdown syntax).
        "2021-12-21-port.md",
        r#"---
layout: post
title: "港口吞吐量创新高 外贸航线再扩容"
date: 2021-12-21 08:10:27 +0800
categories: shamenribao
tags: 厦门日报新闻
source_name: 厦门日报
---
<p>本报讯 今年前十一个月，港口集装箱吞吐量同比增长……</p>
 <p><img data-src="//img.example.cn/port.jpg" src="/images/placeholder.gif"></p><p class="em_media">（文章来源：厦门日报）</p>

<http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001>

[返回厦门日报新闻](//news.example.com/category/shamenribao.html)｜[返回首页](//news.example.com/)
"#,
    ),
    (
        "2022-03-04-hello.md",
        r#"---
title: "Hello & <welcome>"
date: 2022-03-04 10:00:00 -0500
updated: 2022-03-05 09:00:00 -0500
categories: [Notes]
tags: [Rust, "Release Notes"]
author: {name: Jane Doe, email: jane@example.org}
image: /img/hello.png
guid: hello-1
lang: en
---
First *paragraph* with a [relative link](../about.html).

<script>alert(1)</script>
"#,
    ),
    (
        // An HTML post, no title, date from the file name.
        "2020-01-02-plain.html",
        "---\n---\n<p>Just <b>text</b> and a <a href=\"/rel/page\">link</a>.</p>\n",
    ),
];

fn golden_diff_hint(name: &str, got: &str, want: &str) -> String {
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(g, w)| g != w)
        .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
    let g = got.lines().nth(line).unwrap_or("<end of output>");
    let w = want.lines().nth(line).unwrap_or("<end of golden file>");
    let col = g
        .chars()
        .zip(w.chars())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| g.chars().count().min(w.chars().count()));
    let around = |s: &str| -> String {
        s.chars()
            .skip(col.saturating_sub(60))
            .take(160)
            .collect::<String>()
    };
    format!(
        "golden mismatch in tests/golden/{name} at line {}, column {}:\n  \
         expected: …{}…\n  \
         actual:   …{}…\n\
         If the change is intended, review it and regenerate the golden files with\n  \
         FEEDSMITH_BLESS=1 cargo test --test roundtrip golden\n\
         then inspect `git diff tests/golden/`.",
        line + 1,
        col + 1,
        around(w),
        around(g),
    )
}

#[test]
fn golden_documents() {
    const GOLDEN: [(&str, &str); 3] = [
        ("rss.xml", include_str!("golden/rss.xml")),
        ("atom.xml", include_str!("golden/atom.xml")),
        ("feed.json", include_str!("golden/feed.json")),
    ];
    let site = TempSite::new();
    std::fs::write(
        site.root().join("feedsmith.toml"),
        "[site]\ntitle = \"Golden Site\"\ndescription = \"Fixed fixture\"\nlanguage = \"en\"\n",
    )
    .expect("config");
    for (rel, text) in GOLDEN_POSTS {
        site.write_post(rel, text);
    }
    build_ok(&site, &[]);
    let bless = std::env::var_os("FEEDSMITH_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, want) in GOLDEN {
        let got = site.read_out(name);
        if bless {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/golden")
                .join(name);
            std::fs::write(&path, &got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            continue;
        }
        if got != want {
            failures.push(golden_diff_hint(name, &got, want));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
