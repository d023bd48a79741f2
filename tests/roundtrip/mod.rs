//! Independent round trip: build a fixture site with the real binary, parse every emitted
//! document back with `feed-rs` (and a strict XML tree reader / `serde_json` for the fields
//! `feed-rs` drops or normalizes), and compare field by field with what the source posts say.
//!
//! Every expected value below is written out by hand from the posts and SPEC §2 — none is
//! computed with the product's own functions — so a regression in the product cannot hide in
//! the oracle.

mod documents;
mod opml_w3c;
mod fields;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed};
use serde_json::Value;

use crate::common;
use crate::common::xmltree::{self, Node};
use crate::common::{stderr, stdout, TempSite};

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
