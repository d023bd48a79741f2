//! OPML, the index page, and golden files byte for byte.

use super::*;

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
    // Only the head elements the W3C validator knows (OPML 1.0's).
    let known = [
        "title",
        "dateCreated",
        "dateModified",
        "ownerName",
        "ownerEmail",
        "expansionState",
        "vertScrollState",
        "windowTop",
        "windowLeft",
        "windowBottom",
        "windowRight",
    ];
    for e in &root.child("head").expect("head").children {
        assert!(
            known.contains(&e.name.as_str()),
            "unknown OPML head element {}",
            e.name
        );
    }
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
        // A folder: only `text` (the W3C validator wants any outline with more typed).
        assert_eq!(group.attrs.len(), 1, "{label}: {:?}", group.attrs);
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
         FEEDSMITH_BLESS=1 cargo test --test main roundtrip::documents::golden\n\
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
        ("rss.xml", include_str!("../golden/rss.xml")),
        ("atom.xml", include_str!("../golden/atom.xml")),
        ("feed.json", include_str!("../golden/feed.json")),
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
