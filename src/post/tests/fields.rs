//! Each front matter key, and the sample post of the SPEC.

// Test code only (the whole file is compiled under `cfg(test)`, from post/tests/mod.rs).
#[cfg(test)]
use super::*;

// ---------------------------------------------------------------- the sample post

#[test]
fn sample_post_from_the_spec() {
    let p = parse(SAMPLE);
    assert_eq!(p.title, "港口吞吐量创新高 外贸航线再扩容");
    assert_eq!(rfc(&p.date), "2021-12-21T08:10:27+08:00");
    assert_eq!(p.updated, p.date);
    assert_eq!(p.categories, vec!["shamenribao"]);
    assert_eq!(p.tags, vec!["厦门日报新闻"]);
    assert_eq!(p.path, "/shamenribao/2021/12/21/x.html");
    assert_eq!(p.url, "https://example.com/shamenribao/2021/12/21/x.html");
    assert_eq!(p.id, p.url);
    assert_eq!(
        p.source_link.as_deref(),
        Some("http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001")
    );
    assert_eq!(p.source_name, None);
    assert_eq!(p.author, None);
    assert_eq!(p.image, None);
    assert_eq!(p.lang, None);
    assert!(!p.draft && !p.unpublished);
    assert_eq!(p.source, Path::new(FILE));
    assert!(
        p.summary().starts_with("本报讯 今年前十一个月"),
        "{}",
        p.summary()
    );
    assert!(!p.summary().contains('<'), "{}", p.summary());
    let html = &p.content_html.get();
    assert!(
        html.contains(r#"href="https://news.example.com/category/shamenribao.html""#),
        "{html}"
    );
    assert!(
        html.contains(r#"href="https://news.example.com/""#),
        "{html}"
    );
    assert!(!html.contains(r#"href="//"#), "{html}");
    assert!(html.contains("（文章来源：厦门日报）"), "{html}");
}

// ---------------------------------------------------------------- title

#[test]
fn title_key() {
    assert_eq!(post_with("title: '  Port news  '", "").title, "Port news");
    assert_eq!(post_with("title: 2021", "").title, "2021");
}

#[test]
fn title_falls_back_to_the_file_name() {
    let text = "---\ndate: 2021-12-21\n---\nbody\n";
    let p = parse_at("2021-12-21-port_news-today.md", text).unwrap();
    assert_eq!(p.title, "port news today");
    let p = parse_at("dir/about-this_site.md", text).unwrap();
    assert_eq!(p.title, "about this site");
    // An empty title is as good as none.
    let p = parse_at("2021-12-21-empty-title.md", "---\ntitle: ''\n---\n").unwrap();
    assert_eq!(p.title, "empty title");
}

// ---------------------------------------------------------------- date

#[test]
fn every_date_form() {
    for (written, expected) in [
        ("2021-12-21 08:10:27 +0800", "2021-12-21T08:10:27+08:00"),
        ("2021-12-21 08:10:27 +08:00", "2021-12-21T08:10:27+08:00"),
        ("2021-12-21 08:10:27 -0500", "2021-12-21T08:10:27-05:00"),
        ("'2021-12-21 08:10:27 +0800'", "2021-12-21T08:10:27+08:00"),
        ("2021-12-21 08:10", "2021-12-21T08:10:00+00:00"),
        ("2021-12-21 08:10:27", "2021-12-21T08:10:27+00:00"),
        ("2021-12-21", "2021-12-21T00:00:00+00:00"),
        ("2021-12-21T08:10:27+08:00", "2021-12-21T08:10:27+08:00"),
        ("2021-12-21T08:10:27Z", "2021-12-21T08:10:27+00:00"),
        (
            "2021-12-21T08:10:27.250+01:00",
            "2021-12-21T08:10:27.250+01:00",
        ),
        // YAML timestamps (YAML 1.1 spec examples), unquoted.
        (
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14T21:59:43.100-05:00",
        ),
        ("2001-12-14 21:59:43.10 -5", "2001-12-14T21:59:43.100-05:00"),
        ("2002-12-14", "2002-12-14T00:00:00+00:00"),
    ] {
        let p = parse_at("no-date-prefix.md", &format!("---\ndate: {written}\n---\n"))
            .unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(rfc(&p.date), expected, "date: {written}");
    }
}

#[test]
fn date_without_offset_takes_the_site_timezone() {
    let c = ctx_with("https://example.com/", tz(8 * 3600), DEFAULT_PERMALINK);
    let p = parse_post(
        Path::new("a.md"),
        b"---\ndate: 2021-12-21 08:10:27\n---\n",
        Markup::Markdown,
        &c,
    )
    .unwrap();
    assert_eq!(rfc(&p.date), "2021-12-21T08:10:27+08:00");
    let p = parse_post(
        Path::new("a.md"),
        b"---\ndate: 2021-12-21\n---\n",
        Markup::Markdown,
        &c,
    )
    .unwrap();
    assert_eq!(rfc(&p.date), "2021-12-21T00:00:00+08:00");
    // A written offset is kept, not re-zoned into the site's.
    let p = parse_post(
        Path::new("a.md"),
        b"---\ndate: 2021-12-21 08:10:27 -0300\n---\n",
        Markup::Markdown,
        &c,
    )
    .unwrap();
    assert_eq!(rfc(&p.date), "2021-12-21T08:10:27-03:00");
}

#[test]
fn date_falls_back_to_the_file_name_prefix() {
    let p = parse_at("2020-02-29-leap.md", "---\ntitle: t\n---\n").unwrap();
    assert_eq!(rfc(&p.date), "2020-02-29T00:00:00+00:00");
    let c = ctx_with("https://example.com/", tz(-5 * 3600), DEFAULT_PERMALINK);
    let p = parse_post(
        Path::new("news/2019-07-04-x.md"),
        b"---\ntitle: t\n---\n",
        Markup::Markdown,
        &c,
    )
    .unwrap();
    assert_eq!(rfc(&p.date), "2019-07-04T00:00:00-05:00");
    // The key wins over the name.
    let p = parse_at("2020-02-29-leap.md", "---\ndate: 2021-01-02\n---\n").unwrap();
    assert_eq!(rfc(&p.date), "2021-01-02T00:00:00+00:00");
}

#[test]
fn no_date_anywhere_is_an_error() {
    for name in [
        "about.md",
        "2021-12-21.md",
        "2021-13-01-x.md",
        "21-12-21-x.md",
    ] {
        let e = parse_at(name, "---\ntitle: About\n---\nbody\n").unwrap_err();
        assert_eq!(e.kind, PostErrorKind::NoDate, "{name}");
        assert_eq!(e.path, Path::new(name));
        assert!(e.to_string().starts_with(name), "{e}");
        assert!(e.to_string().contains("no date"), "{e}");
    }
}

#[test]
fn bad_date_names_the_key() {
    let e = parse_err("---\ndate: yesterday\n---\n");
    assert_eq!(
        e.kind,
        PostErrorKind::BadDate {
            key: "date",
            value: "yesterday".into()
        }
    );
    assert!(e.to_string().contains("`date`"), "{e}");
    assert!(e.to_string().contains("yesterday"), "{e}");
    assert!(e.to_string().contains(FILE), "{e}");

    let e = parse_err("---\ndate: 2021-02-30\n---\n");
    assert_eq!(field_key(&e), "date");

    for key in ["updated", "last_modified_at", "lastmod"] {
        let e = parse_err(&format!("---\ndate: 2021-12-21\n{key}: not a date\n---\n"));
        assert_eq!(
            e.kind,
            PostErrorKind::BadDate {
                key,
                value: "not a date".into()
            }
        );
        assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
    }
    // A non-scalar date names its type.
    let e = parse_err("---\ndate: [2021-12-21]\n---\n");
    assert_eq!(
        e.kind,
        PostErrorKind::BadDate {
            key: "date",
            value: "a list".into()
        }
    );
}

// ---------------------------------------------------------------- categories and tags

#[test]
fn categories_every_form() {
    assert_eq!(
        post_with("categories: [News, Local Events]", "").categories,
        vec!["News", "Local Events"]
    );
    assert_eq!(
        post_with("categories:\n  - a\n  - b c", "").categories,
        vec!["a", "b c"]
    );
    assert_eq!(
        post_with("categories: news  local\tsports", "").categories,
        vec!["news", "local", "sports"]
    );
    assert_eq!(post_with("category: news", "").categories, vec!["news"]);
    assert_eq!(
        post_with("category: [one, two]", "").categories,
        vec!["one", "two"]
    );
    assert_eq!(
        post_with("categories: a b\ncategory: [c, a]", "").categories,
        vec!["a", "b", "c"]
    );
    assert!(post_with("", "").categories.is_empty());
}

#[test]
fn tags_every_form() {
    assert_eq!(
        post_with("tags: [Rust, 厦门日报新闻]", "").tags,
        vec!["Rust", "厦门日报新闻"]
    );
    assert_eq!(
        post_with("tags:\n  - two words\n  - x", "").tags,
        vec!["two words", "x"]
    );
    assert_eq!(post_with("tags: a b  c", "").tags, vec!["a", "b", "c"]);
    assert_eq!(post_with("tag: solo", "").tags, vec!["solo"]);
    assert_eq!(post_with("tag: [p, q]", "").tags, vec!["p", "q"]);
    assert_eq!(
        post_with("tags: [x, y]\ntag: y z", "").tags,
        vec!["x", "y", "z"]
    );
    assert_eq!(post_with("tags: 2021", "").tags, vec!["2021"]);
    // Tags and categories stay apart.
    let p = post_with("tags: t\ncategories: c", "");
    assert_eq!((p.tags, p.categories), (vec!["t".into()], vec!["c".into()]));
}

// ---------------------------------------------------------------- publishing flags

#[test]
fn published_and_draft_flags() {
    let p = post_with("", "");
    assert!(!p.unpublished && !p.draft);
    assert!(post_with("published: false", "").unpublished);
    assert!(!post_with("published: true", "").unpublished);
    assert!(!post_with("published: false", "").draft);
    assert!(post_with("draft: true", "").draft);
    assert!(!post_with("draft: false", "").draft);
    assert!(!post_with("draft: true", "").unpublished);
}

#[test]
fn drafts_directory_marks_a_draft() {
    let text = "---\ntitle: t\n---\n";
    assert!(parse_at("_drafts/2021-12-21-x.md", text).unwrap().draft);
    assert!(
        parse_at("news/_drafts/2021-12-21-x.md", text)
            .unwrap()
            .draft
    );
    assert!(!parse_at("news/2021-12-21-x.md", text).unwrap().draft);
    assert!(!parse_at("_draftsy/2021-12-21-x.md", text).unwrap().draft);
}

// ---------------------------------------------------------------- updated

#[test]
fn updated_and_its_aliases() {
    for key in ["updated", "last_modified_at", "lastmod"] {
        let p = post_with(&format!("{key}: 2022-01-05 10:00:00 +0100"), "");
        assert_eq!(rfc(&p.updated), "2022-01-05T10:00:00+01:00", "{key}");
        assert_eq!(rfc(&p.date), "2021-12-21T08:00:00+00:00");
    }
    // `updated` first among the aliases.
    let p = post_with("lastmod: 2022-01-01\nupdated: 2023-01-01", "");
    assert_eq!(rfc(&p.updated), "2023-01-01T00:00:00+00:00");
    // Default: the date.
    let p = post_with("", "");
    assert_eq!(p.updated, p.date);
}

// ---------------------------------------------------------------- author

#[test]
fn author_string_and_map() {
    assert_eq!(
        post_with("author: 王小明", "").author,
        Some(Person {
            name: "王小明".into(),
            email: None,
            uri: None
        })
    );
    assert_eq!(
        post_with(
            "author:\n  name: Ann\n  email: ann@example.com\n  uri: https://ann.example/",
            ""
        )
        .author,
        Some(Person {
            name: "Ann".into(),
            email: Some("ann@example.com".into()),
            uri: Some("https://ann.example/".into())
        })
    );
    assert_eq!(
        post_with("author: {name: Bob}", "").author,
        Some(Person {
            name: "Bob".into(),
            email: None,
            uri: None
        })
    );
    assert_eq!(post_with("", "").author, None);
    assert_eq!(post_with("author: ''", "").author, None);
}

#[test]
fn author_uri_is_made_absolute() {
    // Root-relative and protocol-relative, as a link in the body would be.
    for (uri, want) in [
        ("/about/ann", "/about/ann"),
        ("//ann.example/", "ann.example/"),
    ] {
        let p = post_with(&format!("author: {{name: Ann, uri: '{uri}'}}"), "");
        let got = p.author.and_then(|a| a.uri).unwrap_or_default();
        assert!(
            got.starts_with("http") && got.ends_with(want) && got.contains("://"),
            "{uri} → {got}"
        );
    }
}

#[test]
fn author_type_errors_name_the_key() {
    let e = parse_err("---\ndate: 2021-12-21\nauthor: {uri: 'https://x.example/'}\n---\n");
    assert_eq!(field_key(&e), "author");
    let e = parse_err("---\ndate: 2021-12-21\nauthor: [a, b]\n---\n");
    assert_eq!(field_key(&e), "author");
    assert!(e.to_string().contains("`author`"), "{e}");
}

// ---------------------------------------------------------------- summary

#[test]
fn summary_keys() {
    for key in ["excerpt", "description", "summary"] {
        let p = post_with(
            &format!("{key}: \"The  short\n  version\""),
            "First para.\n",
        );
        assert_eq!(p.summary(), "The short version", "{key}");
    }
    let p = post_with("excerpt: from excerpt\nsummary: from summary", "");
    assert_eq!(p.summary(), "from excerpt");
}

#[test]
fn summary_defaults_to_the_first_paragraph() {
    let p = post_with(
        "",
        "# Heading\n\nFirst *para* with Tom &amp; Jerry\nand a [link](/x).\n\nSecond paragraph.\n",
    );
    assert_eq!(p.summary(), "First para with Tom & Jerry and a link.");
    let p = post_with("", "<p>  </p>\n\n<p>Real <b>one</b></p>\n\n<p>other</p>\n");
    assert_eq!(p.summary(), "Real one");
}

#[test]
fn long_first_paragraph_is_cut_near_300_chars() {
    let words = "word ".repeat(120);
    let p = post_with("", &format!("{words}\n\nnext\n"));
    let n = p.summary().chars().count();
    assert!(p.summary().ends_with("word…"), "{}", p.summary());
    assert!(
        (240..=SUMMARY_CHARS + 1).contains(&n),
        "{n}: {}",
        p.summary()
    );
    assert!(!p.summary().contains("next"));

    let zh = "港".repeat(500);
    let p = post_with("", &format!("<p>{zh}</p>\n"));
    assert_eq!(p.summary().chars().count(), SUMMARY_CHARS + 1);
    assert!(p.summary().ends_with("港…"), "{}", p.summary());

    let short = post_with("", "just this\n");
    assert_eq!(short.summary(), "just this");
}

// ---------------------------------------------------------------- source link

#[test]
fn source_link_keys() {
    for key in ["source_url", "source", "original_url", "canonical_url"] {
        let p = post_with(
            &format!("{key}: https://orig.example/a?id=1"),
            "body\n\n<http://autolink.example/>\n",
        );
        assert_eq!(
            p.source_link.as_deref(),
            Some("https://orig.example/a?id=1"),
            "{key}"
        );
    }
    // Protocol-relative and relative sources are made absolute.
    let p = post_with("source: //orig.example/b", "");
    assert_eq!(p.source_link.as_deref(), Some("https://orig.example/b"));
    let p = post_with("source_url: /elsewhere.html", "");
    assert_eq!(
        p.source_link.as_deref(),
        Some("https://example.com/elsewhere.html")
    );
}

#[test]
fn source_link_defaults_to_the_last_bare_autolink() {
    let p = post_with(
        "",
        "text\n\n<http://first.example/1>\n\n<https://last.example/2>\n\n[back](//x.example/)\n",
    );
    assert_eq!(p.source_link.as_deref(), Some("https://last.example/2"));
    // An autolink inside a sentence is not the source.
    let p = post_with("", "see <http://inline.example/> here\n");
    assert_eq!(p.source_link, None);
    assert_eq!(post_with("", "no links\n").source_link, None);
}

#[test]
fn unusable_source_url_names_the_key() {
    let e = parse_err("---\ndate: 2021-12-21\nsource_url: 'javascript:alert(1)'\n---\n");
    assert_eq!(field_key(&e), "source_url");
    let e = parse_err("---\ndate: 2021-12-21\ncanonical_url: 'ftp://x.example/a'\n---\n");
    assert_eq!(field_key(&e), "canonical_url");
}

#[test]
fn source_name() {
    assert_eq!(
        post_with("source_name: 厦门日报", "")
            .source_name
            .as_deref(),
        Some("厦门日报")
    );
    assert_eq!(post_with("", "").source_name, None);
}

// ---------------------------------------------------------------- permalink, id, image, lang

#[test]
fn permalink_overrides_the_pattern() {
    let p = post_with("categories: news\npermalink: /custom/page.html", "");
    assert_eq!(p.path, "/custom/page.html");
    assert_eq!(p.url, "https://example.com/custom/page.html");
    assert_eq!(p.id, p.url);
    let p = post_with("permalink: custom/dir/", "");
    assert_eq!(p.path, "/custom/dir/");
    let p = post_with("permalink: /新闻/港口.html", "");
    assert_eq!(p.path, "/新闻/港口.html");
    assert_eq!(
        p.url,
        "https://example.com/%E6%96%B0%E9%97%BB/%E6%B8%AF%E5%8F%A3.html"
    );
    // `..` cannot climb out of the site.
    let p = post_with("permalink: /../../etc/x.html", "");
    assert_eq!(p.path, "/etc/x.html");
}

#[test]
fn default_permalink_expansion() {
    let p = post_with("categories: [News, Local Events]", "");
    assert_eq!(p.path, "/news/local-events/2021/12/21/x.html");
    assert_eq!(
        p.url,
        "https://example.com/news/local-events/2021/12/21/x.html"
    );
    // No categories → no empty segment.
    let p = post_with("", "");
    assert_eq!(p.path, "/2021/12/21/x.html");
    assert!(!p.url.contains("//2021"), "{}", p.url);
    // `:title` is the file-name slug, not the title.
    let p = parse_at(
        "2021-12-21-Port_News.md",
        "---\ntitle: Something else\ncategories: 厦门日报新闻\n---\n",
    )
    .unwrap();
    assert_eq!(p.path, "/厦门日报新闻/2021/12/21/port-news.html");
    assert_eq!(
        p.url,
        "https://example.com/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/2021/12/21/port-news.html"
    );
    // The date in the path is the post's own local date.
    let p = post_with("", "");
    assert!(p.path.contains("/21/"), "{}", p.path);
    let p = parse_at("a.md", "---\ndate: 2021-12-21 01:00:00 +0800\n---\n").unwrap();
    assert_eq!(p.path, "/2021/12/21/a.html");
}

#[test]
fn site_permalink_pattern_and_base_path() {
    let c = ctx_with("https://example.com/blog/", tz(0), "/:year/:title/");
    let p = parse_post(
        Path::new("2021-12-21-x.md"),
        b"---\ntitle: t\n---\n",
        Markup::Markdown,
        &c,
    )
    .unwrap();
    assert_eq!(p.path, "/2021/x/");
    assert_eq!(p.url, "https://example.com/blog/2021/x/");
    let c = ctx_with("https://example.com/", tz(0), "pretty");
    let p = parse_post(
        Path::new("2021-12-21-x.md"),
        b"---\ncategories: a\n---\n",
        Markup::Markdown,
        &c,
    )
    .unwrap();
    assert_eq!(p.path, "/a/2021/12/21/x/");
}

#[test]
fn id_and_guid() {
    assert_eq!(
        post_with("id: tag:example.com,2021:1", "").id,
        "tag:example.com,2021:1"
    );
    assert_eq!(post_with("guid: ' abc-123 '", "").id, "abc-123");
    assert_eq!(post_with("id: 42", "").id, "42");
    assert_eq!(post_with("id: first\nguid: second", "").id, "first");
    let p = post_with("", "");
    assert_eq!(p.id, "https://example.com/2021/12/21/x.html");
}

#[test]
fn image_is_made_absolute() {
    assert_eq!(
        post_with("image: /img/lead.jpg", "").image.as_deref(),
        Some("https://example.com/img/lead.jpg")
    );
    assert_eq!(
        post_with("image: //cdn.example/lead.jpg", "")
            .image
            .as_deref(),
        Some("https://cdn.example/lead.jpg")
    );
    assert_eq!(
        post_with("image: https://cdn.example/a.png", "")
            .image
            .as_deref(),
        Some("https://cdn.example/a.png")
    );
    // Relative to the post's URL.
    assert_eq!(
        post_with("image: lead.jpg", "").image.as_deref(),
        Some("https://example.com/2021/12/21/lead.jpg")
    );
    assert_eq!(post_with("", "").image, None);
    let e = parse_err("---\ndate: 2021-12-21\nimage: 'data:image/png;base64,xx'\n---\n");
    assert_eq!(field_key(&e), "image");
}

#[test]
fn lang() {
    assert_eq!(post_with("lang: zh-CN", "").lang.as_deref(), Some("zh-CN"));
    assert_eq!(post_with("", "").lang, None);
}

#[test]
fn unknown_keys_are_ignored() {
    let p = post_with("layout: post\ncomments: true\nweird: {a: [1, 2]}", "");
    assert_eq!(p.title, "x");
}
