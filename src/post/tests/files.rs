//! Encodings and delimiters, body rewriting, errors, file classification and reading, limits,
//! content kept compressed.

// Test code only (the whole file is compiled under `cfg(test)`, from post/tests/mod.rs).
#[cfg(test)]
use super::*;

// ---------------------------------------------------------------- encoding and delimiters

#[test]
fn bom_and_crlf_are_accepted() {
    let text = "\u{feff}---\r\ntitle: CRLF post\r\ndate: 2021-12-21 08:10:27 +0800\r\ntags: a b\r\n---\r\nLine one\r\nline two\r\n\r\n<http://src.example/x>\r\n";
    let p = parse(text);
    assert_eq!(p.title, "CRLF post");
    assert_eq!(rfc(&p.date), "2021-12-21T08:10:27+08:00");
    assert_eq!(p.tags, vec!["a", "b"]);
    assert_eq!(p.summary(), "Line one line two");
    assert_eq!(p.source_link.as_deref(), Some("http://src.example/x"));
    assert!(
        !p.content_html.get().contains('\r'),
        "{:?}",
        p.content_html.get()
    );
    // Each alone, too.
    assert_eq!(parse("\u{feff}---\ntitle: B\n---\n").title, "B");
    assert_eq!(parse("---\r\ntitle: C\r\n---\r\n").title, "C");
}

#[test]
fn dots_close_the_front_matter() {
    let p = parse("---\ntitle: Dots\n...\nbody\n");
    assert_eq!(p.title, "Dots");
    assert_eq!(p.summary(), "body");
}

#[test]
fn empty_front_matter_is_fine() {
    let p = parse("---\n---\nHello\n");
    assert_eq!(p.title, "x");
    assert_eq!(rfc(&p.date), "2021-12-21T00:00:00+00:00");
}

#[test]
fn html_and_txt_bodies() {
    let html = "---\ndate: 2021-12-21\n---\n<p>*not markdown*</p>\n";
    let p = parse_post(
        Path::new("2021-12-21-x.html"),
        html.as_bytes(),
        Markup::Html,
        &ctx(),
    )
    .unwrap();
    assert!(
        p.content_html.get().contains("*not markdown*"),
        "{}",
        p.content_html.get()
    );
    let p = parse_post(
        Path::new("2021-12-21-x.txt"),
        b"---\ndate: 2021-12-21\n---\n*emphasis*\n",
        Markup::Markdown,
        &ctx(),
    )
    .unwrap();
    assert!(
        p.content_html.get().contains("<em>emphasis</em>"),
        "{}",
        p.content_html.get()
    );
}

// ---------------------------------------------------------------- body rewriting

#[test]
fn protocol_relative_links_take_the_site_scheme() {
    let body = "[a](//news.example.com/x.html) <img src=\"//img.example/p.jpg\">\n";
    let p = post_with("", body);
    assert!(
        p.content_html
            .get()
            .contains(r#"href="https://news.example.com/x.html""#),
        "{}",
        p.content_html.get()
    );
    assert!(
        p.content_html
            .get()
            .contains(r#"src="https://img.example/p.jpg""#),
        "{}",
        p.content_html.get()
    );
    let c = ctx_with("http://127.0.0.1:8080/", tz(0), DEFAULT_PERMALINK);
    let text = format!("---\ndate: 2021-12-21\n---\n{body}");
    let p = parse_post(Path::new(FILE), text.as_bytes(), Markup::Markdown, &c).unwrap();
    assert!(
        p.content_html
            .get()
            .contains(r#"href="http://news.example.com/x.html""#),
        "{}",
        p.content_html.get()
    );
    assert!(
        p.content_html
            .get()
            .contains(r#"src="http://img.example/p.jpg""#),
        "{}",
        p.content_html.get()
    );
}

#[test]
fn relative_links_resolve_against_the_post_url() {
    let p = post_with(
        "categories: news",
        "[root](/about.html) [sibling](other.html) [up](../index.html) [frag](#fn)\n",
    );
    let h = &p.content_html.get();
    assert!(
        h.contains(r#"href="https://example.com/about.html""#),
        "{h}"
    );
    assert!(
        h.contains(r#"href="https://example.com/news/2021/12/21/other.html""#),
        "{h}"
    );
    assert!(
        h.contains(r#"href="https://example.com/news/2021/12/index.html""#),
        "{h}"
    );
    assert!(
        h.contains(r##"href="https://example.com/news/2021/12/21/x.html#fn""##),
        "{h}"
    );
}

#[test]
fn scripts_are_dropped() {
    let p = post_with(
        "",
        "<p>before<script>alert('x')</script>after</p>\n\n<SCRIPT src=\"/evil.js\"></SCRIPT>\n\nend\n",
    );
    let h = p.content_html.get().to_ascii_lowercase();
    assert!(!h.contains("<script"), "{h}");
    assert!(!h.contains("alert"), "{h}");
    assert!(!h.contains("evil.js"), "{h}");
    assert!(
        h.contains("before") && h.contains("after") && h.contains("end"),
        "{h}"
    );
    // The summary is built from the same text: no script source in it either.
    assert_eq!(p.summary(), "beforeafter");
    let p = post_with(
        "",
        "<div>Intro text<script>var secret = 1; track();</script> more</div>\n",
    );
    assert_eq!(p.summary(), "Intro text more");
}

#[test]
fn summary_words_split_at_blocks_not_inline_tags() {
    // Inline markup does not split a word; block edges and `<br>` do.
    let p = post_with(
        "",
        "<div>H<sub>2</sub>O and 港口<b>吞吐量</b></div><div>next</div>\n",
    );
    assert_eq!(p.summary(), "H2O and 港口吞吐量 next");
    let p = post_with("", "<p>Line one<br>Line two</p>\n");
    assert_eq!(p.summary(), "Line one Line two");
    let p = post_with("", "<ul><li>alpha</li><li>beta</li></ul>\n");
    assert_eq!(p.summary(), "alpha beta");
}

#[test]
fn lazy_images_get_a_real_absolute_src() {
    let p = post_with(
        "",
        concat!(
            "<img data-src=\"/lazy/1.jpg\">\n",
            "<img data-src=\"//cdn.example/2.jpg\" src=\"data:image/gif;base64,R0lGOD\">\n",
            "<img data-src=\"/lazy/3.jpg\" src=\"/img/placeholder.png\">\n",
            "<img data-src=\"/lazy/4.jpg\" src=\"/real/4.jpg\">\n",
            "<img data-srcset=\"/s/5.jpg 1x, /s/5@2.jpg 2x\" data-src=\"/lazy/5.jpg\">\n",
        ),
    );
    let h = &p.content_html.get();
    assert!(h.contains(r#"src="https://example.com/lazy/1.jpg""#), "{h}");
    assert!(h.contains(r#"src="https://cdn.example/2.jpg""#), "{h}");
    assert!(h.contains(r#"src="https://example.com/lazy/3.jpg""#), "{h}");
    assert!(h.contains(r#"src="https://example.com/real/4.jpg""#), "{h}");
    assert!(
        !h.contains(r#" src="https://example.com/lazy/4.jpg""#),
        "{h}"
    );
    // The lazy loader's own attributes are absolute too (no relative URL is left).
    assert!(
        h.contains(r#"data-src="https://example.com/lazy/1.jpg""#),
        "{h}"
    );
    assert!(h.contains(r#"data-src="https://cdn.example/2.jpg""#), "{h}");
    assert!(
        h.contains(r#"srcset="https://example.com/s/5.jpg 1x, https://example.com/s/5@2.jpg 2x""#),
        "{h}"
    );
    assert!(!h.contains("base64"), "{h}");
}

// ---------------------------------------------------------------- errors

#[test]
fn not_utf8_names_the_line_of_the_bad_byte() {
    // GBK bytes for 中文.
    let e = parse_post(
        Path::new(FILE),
        b"---\ntitle: \xd6\xd0\xce\xc4\n---\n",
        Markup::Markdown,
        &ctx(),
    )
    .unwrap_err();
    assert_eq!(e.kind, PostErrorKind::NotUtf8);
    assert_eq!(e.line, Some(2));
    assert_eq!(e.path, Path::new(FILE));
    assert!(e.to_string().starts_with("2021-12-21-x.md:2: "), "{e}");
    assert!(e.to_string().contains("UTF-8"), "{e}");

    let e = parse_post(
        Path::new(FILE),
        b"---\ntitle: ok\ndate: 2021-12-21\n---\nline 5\nline 6 \xff\n",
        Markup::Markdown,
        &ctx(),
    )
    .unwrap_err();
    assert_eq!((e.kind, e.line), (PostErrorKind::NotUtf8, Some(6)));

    let e = parse_post(Path::new(FILE), b"\xff---\n", Markup::Markdown, &ctx()).unwrap_err();
    assert_eq!((e.kind, e.line), (PostErrorKind::NotUtf8, Some(1)));
}

#[test]
fn no_front_matter() {
    for text in [
        "",
        "\n",
        "Just a body\n",
        "title: x\n---\n",
        "\n---\ntitle: x\n---\n",
        "----\ntitle: x\n----\n",
    ] {
        let e = parse_err(text);
        assert_eq!(e.kind, PostErrorKind::NoFrontMatter, "{text:?}");
        assert_eq!(e.line, Some(1), "{text:?}");
        assert!(e.to_string().contains("no front matter"), "{e}");
    }
}

#[test]
fn unterminated_front_matter() {
    for text in [
        "---\n",
        "---",
        "---\ntitle: x\ndate: 2021-12-21\nbody\n",
        "---\ntitle: x\n--\n",
    ] {
        let e = parse_err(text);
        assert_eq!(e.kind, PostErrorKind::UnterminatedFrontMatter, "{text:?}");
        assert!(e.to_string().contains("unterminated"), "{e}");
    }
}

#[test]
fn yaml_error_points_at_the_file_line() {
    // Line 4 of the file is the bad one.
    let e = parse_err("---\ntitle: ok\ndate: 2021-12-21\nbad: : :\n  - x\n---\n");
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{e:?}");
    assert_eq!(e.line, Some(4), "{e}");
    assert!(
        e.to_string().starts_with("2021-12-21-x.md:4: YAML error"),
        "{e}"
    );

    // Deeper in the block, and the same with a BOM and CRLF.
    let mut lines: Vec<String> = (0..8).map(|i| format!("k{i}: v{i}")).collect();
    lines.push("broken: \"unclosed".into());
    let text = format!("---\n{}\n---\nbody\n", lines.join("\n"));
    let e = parse_err(&text);
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{e:?}");
    let line = e.line.unwrap();
    // The quote opens on file line 10: that is the line named, not where the scanner gave up.
    assert_eq!(line, 10, "{e}");
    assert!(e.to_string().contains("quoted scalar (line 10)"), "{e}");
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    assert_eq!(parse_err(&crlf).line, Some(line));

    // An unclosed quote with more keys after it: still its own line, and the message keeps
    // libyaml's account of both places in file lines.
    let e = parse_err("---\nlayout: post\ntitle: \"Broken\ndate: 2021-12-21\ntags: x\n---\nbody\n");
    assert_eq!(e.line, Some(3), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("(line 3)") && !msg.contains("column"), "{msg}");

    // A tab-indented mapping on line 3.
    let e = parse_err("---\ntitle: a\n\tdate: 2021-12-21\n---\n");
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{e:?}");
    assert_eq!(e.line, Some(3), "{e}");
}

#[test]
fn yaml_that_is_not_a_mapping() {
    for text in [
        "---\n- a\n- b\n---\n",
        "---\njust text\n---\n",
        "---\n42\n---\n",
    ] {
        let e = parse_err(text);
        assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{text:?}: {e:?}");
        assert_eq!(e.line, Some(2), "{text:?}");
    }
}

#[test]
fn field_type_errors_name_the_key() {
    for (front, key) in [
        ("title: [a, b]", "title"),
        ("title: {a: b}", "title"),
        ("tags: {a: 1}", "tags"),
        ("tag: {a: 1}", "tag"),
        ("categories: {a: 1}", "categories"),
        ("category: [[nested]]", "category"),
        ("published: maybe", "published"),
        ("draft: 3", "draft"),
        ("permalink: [a]", "permalink"),
        ("excerpt: [a]", "excerpt"),
        ("description: {a: b}", "description"),
        ("id: [1]", "id"),
        ("guid: {a: b}", "guid"),
        ("source_name: [a]", "source_name"),
        ("lang: [en]", "lang"),
        ("source: [a]", "source"),
        ("image: [a]", "image"),
    ] {
        let text = format!("---\ndate: 2021-12-21\n{front}\n---\n");
        let e = parse_err(&text);
        assert_eq!(field_key(&e), key, "{front}: {e}");
        assert_eq!(e.path, Path::new(FILE));
        let msg = e.to_string();
        assert!(msg.contains(&format!("`{key}`")), "{front}: {msg}");
        assert!(msg.starts_with(FILE), "{msg}");
    }
}

// ---------------------------------------------------------------- file classification

#[test]
fn classify_post_extensions_case_insensitively() {
    for name in [
        "a.md",
        "A.MD",
        "x.markdown",
        "x.Markdown",
        "x.txt",
        "X.TXT",
        "2021-12-21-x.md",
    ] {
        assert_eq!(classify(name), FileKind::Post(Markup::Markdown), "{name}");
    }
    for name in ["a.html", "a.HTML", "a.htm", "a.Htm"] {
        assert_eq!(classify(name), FileKind::Post(Markup::Html), "{name}");
    }
    for name in [
        "a.rst",
        "a.mdx",
        "a.json",
        "README",
        "md",
        "a.md.bak",
        "a.xhtml",
        "a.",
        "a.md.orig",
    ] {
        assert_eq!(classify(name), FileKind::Ignored, "{name}");
    }
}

#[test]
fn classify_skips_hidden_files_and_editor_leftovers() {
    for name in [
        ".md",
        ".hidden.md",
        ".DS_Store",
        "post.md~",
        "post.md.swp",
        ".post.md.swp",
        "post.md.swx",
        ".post.md.swx",
        "post.md.tmp",
        "#post.md#",
        ".#post.md",
        "~",
    ] {
        assert!(is_ignored_name(name), "{name} should be ignored");
        assert_eq!(classify(name), FileKind::Ignored, "{name}");
    }
    for name in [
        "post.md",
        "#hash-first.md",
        "hash-last#.md",
        "tilde~in.md",
        "swp.md",
        "tmp.md",
        "a.tmp.md",
    ] {
        assert!(!is_ignored_name(name), "{name} should not be ignored");
        assert!(matches!(classify(name), FileKind::Post(_)), "{name}");
    }
}

// ---------------------------------------------------------------- reading files

#[test]
fn read_post_names_the_full_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("2021-12-21-x.md"), "---\ndate: nope\n---\n").unwrap();
    let e = read_post(dir.path(), Path::new("2021-12-21-x.md"), &ctx()).unwrap_err();
    assert_eq!(e.path, dir.path().join("2021-12-21-x.md"));
    assert_eq!(field_key(&e), "date");

    let e = read_post(dir.path(), Path::new("gone.md"), &ctx()).unwrap_err();
    assert_eq!(e.kind, PostErrorKind::Vanished);
    assert_eq!(e.path, dir.path().join("gone.md"));

    std::fs::create_dir(dir.path().join("dir.md")).unwrap();
    let e = read_post(dir.path(), Path::new("dir.md"), &ctx()).unwrap_err();
    assert!(matches!(e.kind, PostErrorKind::Unreadable(_)), "{e:?}");

    std::fs::write(dir.path().join("ok.md"), "---\ndate: 2021-12-21\n---\nhi\n").unwrap();
    let p = read_post(dir.path(), Path::new("ok.md"), &ctx()).unwrap();
    assert_eq!(p.source, Path::new("ok.md"));
}

#[test]
fn oversized_post_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.md");
    let f = std::fs::File::create(&path).unwrap();
    let max = Limits::default().max_post_bytes;
    f.set_len(max + 1).unwrap();
    let e = read_post(dir.path(), Path::new("big.md"), &ctx()).unwrap_err();
    assert_eq!(e.kind, PostErrorKind::TooLarge(max + 1, max));
    assert!(e.to_string().contains("limits.max_post_bytes"), "{e}");

    // The limit is the context's (the config's `limits.max_post_bytes`).
    let text = "---\ndate: 2021-12-21\n---\n0123456789\n";
    std::fs::write(&path, text).unwrap();
    let small = ParseContext {
        limits: Limits {
            max_post_bytes: 20,
            ..Limits::default()
        },
        ..ctx()
    };
    let e = read_post(dir.path(), Path::new("big.md"), &small).unwrap_err();
    assert_eq!(e.kind, PostErrorKind::TooLarge(text.len() as u64, 20));
    assert!(read_post(dir.path(), Path::new("big.md"), &ctx()).is_ok());
}

#[test]
fn front_matter_over_its_limit_is_refused_before_it_is_parsed() {
    // A 300 KiB YAML list under an ignored key: refused by size, not parsed into a tree.
    let list = "- x\n".repeat(300 * 1024 / 4);
    let text = format!("---\ndate: 2021-12-21\nignored:\n{list}---\nbody\n");
    let e = parse_post(
        Path::new("fm.md"),
        text.as_bytes(),
        Markup::Markdown,
        &ctx(),
    )
    .unwrap_err();
    assert!(
        matches!(e.kind, PostErrorKind::FrontMatterTooLarge(n, 262_144) if n > 262_144),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("limits.max_front_matter_bytes"),
        "{e}"
    );
    let roomy = ParseContext {
        limits: Limits {
            max_front_matter_bytes: 1 << 20,
            ..Limits::default()
        },
        ..ctx()
    };
    assert!(parse_post(
        Path::new("fm.md"),
        text.as_bytes(),
        Markup::Markdown,
        &roomy
    )
    .is_ok());
}

#[test]
fn content_copied_into_too_many_feeds_is_refused() {
    // 100 KB of content in 1 + 2 categories + 7 tags = 10 feeds: 1 MB into feeds.
    let body = format!("<p>{}</p>\n", "word ".repeat(20_000));
    let text = format!(
        "---\ndate: 2021-12-21\ncategories: [a, b]\ntags: [t1, t2, t3, t4, t5, t6, t7]\n---\n{body}"
    );
    let tight = ParseContext {
        limits: Limits {
            max_feed_bytes_per_post: 500_000,
            ..Limits::default()
        },
        ..ctx()
    };
    let e = parse_post(Path::new("wide.md"), text.as_bytes(), Markup::Html, &tight).unwrap_err();
    match e.kind {
        PostErrorKind::TooManyFeedBytes {
            bytes,
            feeds,
            limit,
        } => {
            assert_eq!((feeds, limit), (10, 500_000));
            assert!(bytes > 1_000_000, "{bytes}");
        }
        other => panic!("{other:?}"),
    }
    assert!(parse_post(Path::new("wide.md"), text.as_bytes(), Markup::Html, &ctx()).is_ok());
}

#[test]
fn xml_illegal_characters_are_removed_from_every_field() {
    let text = "---\ntitle: \"\\x01 Bad\\x0B title \\uFFFE\"\ntags: [\"t\\x02\", \"u\\x03 v\"]\n\
                author: \"A\\x03\"\nsource_name: \"S\\x04\"\nguid: \"g\\x05\"\n---\nB\u{1}ody \u{FFFF}\n";
    let p = parse_post(
        Path::new("2024-01-02-x.md"),
        text.as_bytes(),
        Markup::Markdown,
        &ctx(),
    )
    .unwrap();
    assert_eq!(p.title, "Bad title");
    assert_eq!(p.tags, vec!["t", "u v"]);
    assert_eq!(p.author.as_ref().unwrap().name, "A");
    assert_eq!(p.source_name.as_deref(), Some("S"));
    assert_eq!(p.id, "g");
    assert_eq!(p.summary(), "Body");
    assert!(!p.content_html.get().contains('\u{1}') && !p.content_html.get().contains('\u{FFFF}'));
    // A title of illegal characters only falls back to the file name.
    let only = "---\ntitle: \"\\x01\\x02\"\n---\nx\n";
    let p = parse_post(
        Path::new("2024-01-02-fallback-name.md"),
        only.as_bytes(),
        Markup::Markdown,
        &ctx(),
    )
    .unwrap();
    assert_eq!(p.title, "fallback name");
}

#[test]
fn thousands_of_tags_are_refused() {
    let tags: Vec<String> = (0..3000).map(|i| format!("t{i}")).collect();
    let text = format!("---\ntitle: x\ntags: {}\n---\nbody\n", tags.join(" "));
    let e = parse_post(Path::new(FILE), text.as_bytes(), Markup::Markdown, &ctx()).unwrap_err();
    assert!(
        matches!(e.kind, PostErrorKind::Field { key: "tags", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("at most 256"), "{e}");
    let ok: Vec<String> = (0..256).map(|i| format!("t{i}")).collect();
    let text = format!("---\ntitle: x\ntags: {}\n---\nbody\n", ok.join(" "));
    assert!(parse_post(Path::new(FILE), text.as_bytes(), Markup::Markdown, &ctx()).is_ok());
}

#[test]
fn deep_nesting_and_alias_bombs_are_errors_not_exhaustion() {
    let deep = format!(
        "---\ntitle: x\nx: {}{}\n---\nbody\n",
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let e = parse_post(Path::new(FILE), deep.as_bytes(), Markup::Markdown, &ctx()).unwrap_err();
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{e}");
    let deep_map = format!(
        "---\ntitle: x\n{}\n---\nbody\n",
        (0..1000)
            .map(|i| format!("{}k{i}:", " ".repeat(i)))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // ~500 KB of indentation: over the front-matter size limit, which would refuse it before
    // YAML sees it; this checks the YAML depth limit itself.
    let roomy = ParseContext {
        limits: Limits {
            max_front_matter_bytes: 1 << 20,
            ..Limits::default()
        },
        ..ctx()
    };
    let e = parse_post(
        Path::new(FILE),
        deep_map.as_bytes(),
        Markup::Markdown,
        &roomy,
    )
    .unwrap_err();
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{e}");
    // "Billion laughs": nine levels of ten aliases each.
    let mut bomb =
        String::from("---\ntitle: x\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("---\nbody\n");
    let started = std::time::Instant::now();
    let e = parse_post(Path::new(FILE), bomb.as_bytes(), Markup::Markdown, &ctx()).unwrap_err();
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn compact_content_reads_back_the_same() {
    use super::Html;
    let text = "<p>厦门港口吞吐量创新高 — harbour &amp; city</p>\n".repeat(40);
    let summary = "厦门港口吞吐量创新高 — harbour & city".to_owned();
    let compact = Html::new(text.clone(), summary.clone(), true, None);
    assert_eq!(compact.get(), text);
    assert_eq!(compact.summary(), summary);
    assert_eq!(
        compact.both(),
        (text.as_str().into(), summary.as_str().into())
    );
    assert_eq!(compact.len(), text.len());
    assert!(
        compact.held() * 2 < text.len(),
        "{} of {}",
        compact.held(),
        text.len()
    );
    // Deterministic, so an unchanged post compares equal to its earlier version.
    assert_eq!(
        compact,
        Html::new(text.clone(), summary.clone(), true, None)
    );
    let plain = Html::new(text.clone(), summary.clone(), false, None);
    assert_eq!(plain.get(), text);
    assert_eq!(plain.summary(), summary);
    assert_eq!(plain.held(), text.len() + summary.len());
    // Short content is not worth compressing.
    let short = Html::new("<p>x</p>".into(), "x".into(), true, None);
    assert_eq!(short.held(), 9);
    assert_eq!(
        (short.get(), short.summary()),
        ("<p>x</p>".into(), "x".into())
    );
    // The same post parsed for `serve` renders the same items as for `build`.
    let src = format!("---\ntitle: T\ndate: 2021-12-21\n---\n{text}");
    let ctx = ctx();
    let a = parse_post(Path::new("a.md"), src.as_bytes(), Markup::Markdown, &ctx).unwrap();
    let compact_ctx = ParseContext {
        compact: true,
        ..ctx
    };
    let b = parse_post(
        Path::new("a.md"),
        src.as_bytes(),
        Markup::Markdown,
        &compact_ctx,
    )
    .unwrap();
    assert_eq!(a.content_html.get(), b.content_html.get());
    assert_eq!(a.summary(), b.summary());
    assert!(!b.summary().is_empty());
    assert!(b.content_html.held() < a.content_html.held());
}

#[test]
fn a_site_dictionary_makes_content_smaller_and_reads_back_the_same() {
    use super::{ContentDict, Html};
    // Posts of one site: shared markup and phrases, each post a little different.
    let phrases = [
        "厦门港口吞吐量创新高",
        "社区工作人员加快推进夜间经济",
        "harbour &amp; city",
    ];
    let post_text = |n: usize| {
        (0..12)
            .map(|i| format!("<p class=\"lead\">{} {n}-{i}</p>\n", phrases[(n + i) % 3]))
            .collect::<String>()
    };
    let samples: Vec<Vec<u8>> = (0..400).map(|n| post_text(n).into_bytes()).collect();
    assert!(
        ContentDict::train(&samples[..50]).is_none(),
        "too few samples"
    );
    let dict = std::sync::Arc::new(ContentDict::train(&samples).expect("a dictionary"));
    let text = post_text(1000);
    let summary = "厦门港口吞吐量创新高 1000-0".to_owned();
    let with = Html::new(text.clone(), summary.clone(), true, Some(&dict));
    let without = Html::new(text.clone(), summary.clone(), true, None);
    assert_eq!(with.both(), (text.as_str().into(), summary.as_str().into()));
    assert!(
        with.held() < without.held(),
        "{} with the dictionary, {} without",
        with.held(),
        without.held()
    );
    // A post compressed with the dictionary compares equal to itself made again.
    assert_eq!(with, Html::new(text, summary, true, Some(&dict)));
}

#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_stay_distinct() {
    use std::os::unix::ffi::OsStrExt;
    let name = |bytes: &[u8]| Path::new(std::ffi::OsStr::from_bytes(bytes)).to_path_buf();
    let text = "---\ndate: 2021-01-01\n---\nbody\n";
    let a = parse_post(
        &name(b"2021-01-01-caf\xe9.md"),
        text.as_bytes(),
        Markup::Markdown,
        &ctx(),
    )
    .unwrap();
    let b = parse_post(
        &name(b"2021-01-01-caf\xe8.md"),
        text.as_bytes(),
        Markup::Markdown,
        &ctx(),
    )
    .unwrap();
    assert_eq!(a.title, "caf%E9");
    assert_ne!(a.url, b.url, "two files, one permalink");
    assert_ne!(a.id, b.id);
    assert_eq!(lossless_name(std::ffi::OsStr::new("日报-x")), "日报-x");
}

#[test]
fn every_permalink_placeholder_expands() {
    let date = DateTime::parse_from_rfc3339("2021-03-05T07:08:09+08:00").unwrap();
    let cats = [
        "Rust Lang".to_owned(),
        "厦门".to_owned(),
        "Rust Lang".to_owned(),
    ];
    let got = super::expand_permalink(
        "/:categories/:year/:short_year/:month/:i_month/:day/:i_day/:y_day/:hour/:minute/:second/:title-:slug:output_ext",
        &date,
        &cats,
        "My File",
        "ignored",
    );
    assert_eq!(
        got,
        "/rust-lang/厦门/2021/21/03/3/05/5/064/07/08/09/my-file-my-file.html"
    );
    // Unknown placeholders stay as written; the title stands in for an empty file slug.
    assert_eq!(
        super::expand_permalink("/:nope/:title", &date, &[], "", "A Title"),
        "/:nope/a-title"
    );
    // Named styles.
    let day = DateTime::parse_from_rfc3339("2021-12-21T08:10:27+08:00").unwrap();
    let c = ["news".to_owned()];
    assert_eq!(
        super::expand_permalink("date", &day, &c, "t", "T"),
        "/news/2021/12/21/t.html"
    );
    assert_eq!(
        super::expand_permalink("ordinal", &day, &c, "t", "T"),
        "/news/2021/355/t.html"
    );
}

#[test]
fn dictionary_training_takes_the_start_of_every_sample_within_its_bound() {
    // 200 samples of 64 KiB: 12.5 MiB, more than the bound, so each gives only its start.
    let samples: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; 64 << 10]).collect();
    let slices = super::html::training_slices(&samples);
    assert_eq!(slices.len(), samples.len(), "every sample counts");
    assert!(slices.iter().all(|s| !s.is_empty()));
    assert!(slices
        .iter()
        .zip(&samples)
        .all(|(s, whole)| whole.starts_with(s)));
    let total: usize = slices.iter().map(|s| s.len()).sum();
    assert!(total <= super::html::DICT_SAMPLE_BYTES, "{total}");
    assert!(
        total > super::html::DICT_SAMPLE_BYTES - samples.len(),
        "the bound is used: {total}"
    );
    // Under the bound, samples are taken whole.
    let small: Vec<Vec<u8>> = (0..150u8).map(|i| vec![i; 1000]).collect();
    assert!(super::html::training_slices(&small)
        .iter()
        .all(|s| s.len() == 1000));
}
