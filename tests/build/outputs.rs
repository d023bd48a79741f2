//! What a build writes: every file, byte-identical rebuilds, what is listed.

use super::*;

// ---------------------------------------------------------------- full build

#[test]
fn full_build_writes_every_expected_file() {
    let site = TempSite::new();
    site.write_post("2021-12-21-port.md", SAMPLE);
    site.write_post(
        "tech/2021-11-02-upper.md",
        &news_post(
            "Upper Rust",
            "2021-11-02 10:00:00 +0000",
            "[\"Tech News\"]",
            "[Rust, 厦门日报新闻]",
            "Upper.",
        ),
    );
    site.write_post(
        "2021-10-03-lower.md",
        &news_post("lower rust", "2021-10-03", "tech-news", "rust", "Lower."),
    );
    let o = site.build(&[]);
    assert_ok(&o);
    assert_eq!(stderr(&o), "", "no errors expected");

    let out = site.out();
    let mut expected: BTreeSet<String> = [
        "rss.xml",
        "atom.xml",
        "feed.json",
        "feeds.opml",
        "index.html",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for dir in [
        "categories/shamenribao",
        "categories/tech-news",
        "tags/厦门日报新闻",
        "tags/rust",
    ] {
        for f in FEED_FILES {
            expected.insert(format!("{dir}/{f}"));
        }
        // The term's own page.
        expected.insert(format!("{dir}/index.html"));
    }
    assert_eq!(files(&out), expected);

    // `Rust` and `rust` share one feed, holding both posts.
    let tags: BTreeSet<String> = fs::read_dir(out.join("tags"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        tags,
        BTreeSet::from(["rust".to_owned(), "厦门日报新闻".to_owned()])
    );
    assert_eq!(
        rss_titles(&site.read_out("tags/rust/rss.xml")),
        vec!["Upper Rust", "lower rust"]
    );
    assert_eq!(
        rss_titles(&site.read_out("tags/厦门日报新闻/rss.xml")),
        vec!["港口吞吐量创新高 外贸航线再扩容", "Upper Rust"]
    );
    assert_eq!(
        rss_titles(&site.read_out("categories/tech-news/rss.xml")),
        vec!["Upper Rust", "lower rust"]
    );

    // All posts, newest first, in every format.
    assert_eq!(
        rss_titles(&site.read_out("rss.xml")),
        vec![
            "港口吞吐量创新高 外贸航线再扩容",
            "Upper Rust",
            "lower rust"
        ]
    );
    for f in FEED_FILES {
        let bytes = fs::read(out.join(f)).unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(feed.entries.len(), 3, "{f}");
        let bytes = fs::read(out.join("tags/厦门日报新闻").join(f)).unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(feed.entries.len(), 2, "tags/厦门日报新闻/{f}");
    }
    let json: serde_json::Value = serde_json::from_str(&site.read_out("feed.json")).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(
        json["items"][0]["external_url"],
        "http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001"
    );
    assert_eq!(
        json["items"][0]["date_published"],
        "2021-12-21T08:10:27+08:00"
    );

    // Protocol-relative links became absolute.
    let rss = site.read_out("rss.xml");
    assert!(
        rss.contains("https://news.example.com/category/shamenribao.html"),
        "{rss}"
    );
    assert!(!rss.contains("href=\"//"), "{rss}");

    // OPML lists every term as written, with the percent-encoded feed URL.
    let opml = site.read_out("feeds.opml");
    assert!(opml.contains("text=\"Categories\""), "{opml}");
    assert!(opml.contains("text=\"Tags\""), "{opml}");
    assert!(opml.contains("text=\"厦门日报新闻\""), "{opml}");
    assert!(
        opml.contains(
            "https://example.com/tags/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/rss.xml"
        ),
        "{opml}"
    );
    assert!(opml.contains("text=\"Tech News\""), "{opml}");
    // The index page has autodiscovery for the all-posts feeds.
    let index = site.read_out("index.html");
    assert!(index.contains("rel=\"alternate\""), "{index}");
    assert!(index.contains("https://example.com/rss.xml"), "{index}");

    // A summary line on stdout: posts, documents, time; then what the output holds by kind.
    let out_text = stdout(&o);
    assert_eq!(out_text.lines().count(), 2, "{out_text}");
    let docs = expected.len();
    assert!(
        out_text.starts_with(&format!("built 3 posts into {docs} documents in ")),
        "{out_text}"
    );
    assert!(out_text.contains(" ms "), "{out_text}");
    assert!(out_text.contains(&format!("{docs} written")), "{out_text}");
}

#[test]
fn build_goes_on_past_bad_posts_and_names_each() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-one.md",
        &simple_post("One", "2021-01-01", "tags: t"),
    );
    site.write_post(
        "sub/2021-01-02-two.md",
        &simple_post("Two", "2021-01-02", ""),
    );
    site.write_post_bytes("gbk.md", b"---\ntitle: \xd6\xd0\xce\xc4\n---\n");
    site.write_post("nofm.md", "Just text\n");
    site.write_post("sub/unterminated.md", "---\ntitle: x\ndate: 2021-01-01\n");
    site.write_post(
        "yaml.md",
        "---\ntitle: ok\ndate: 2021-01-01\nbad: : :\n---\n",
    );
    site.write_post("baddate.md", "---\ndate: the day after tomorrow\n---\n");
    site.write_post("empty.md", "");
    let o = site.build(&[]);
    assert_ok(&o);
    let err = stderr(&o);
    for (file, reason) in [
        ("gbk.md", "UTF-8"),
        ("nofm.md", "no front matter"),
        ("sub/unterminated.md", "unterminated front matter"),
        ("yaml.md", "YAML"),
        ("baddate.md", "`date`"),
        ("empty.md", "no front matter"),
    ] {
        let line = line_naming(&err, &format!("posts/{file}"));
        assert!(line.contains(reason), "{file}: {line}");
    }
    assert_eq!(err.lines().count(), 6, "{err}");
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Two", "One"]);
    assert_eq!(rss_titles(&site.read_out("tags/t/rss.xml")), vec!["One"]);
    assert!(
        stdout(&o).starts_with("built 2 posts into "),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("6 bad posts skipped"), "{}", stdout(&o));
}

// ---------------------------------------------------------------- determinism and disk sync

#[test]
fn rebuild_is_byte_identical_and_leaves_mtimes_alone() {
    let site = TempSite::new();
    site.write_post("2021-12-21-port.md", SAMPLE);
    site.write_post(
        "2021-06-01-b.md",
        &news_post("B", "2021-06-01 12:00", "local", "[x, y]", "B body"),
    );
    site.write_post(
        "2020-06-01-c.md",
        &news_post(
            "C",
            "2020-06-01",
            "local",
            "y",
            "<img data-src=\"/lazy.jpg\">",
        ),
    );
    let first = site.build(&[]);
    assert_ok(&first);
    let before = snapshot(&site.out());
    // All posts, 2 categories and 3 tags: 6 scopes × 3 feeds, a page per term, plus the OPML
    // and the index.
    assert_eq!(before.len(), 6 * 3 + 5 + 2, "{:?}", before.keys());
    tick();
    let second = site.build(&[]);
    assert_ok(&second);
    let after = snapshot(&site.out());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (file, (bytes, time)) in &before {
        let (bytes2, time2) = &after[file];
        assert!(bytes == bytes2, "{file} changed between identical builds");
        assert_eq!(time, time2, "{file} was rewritten with the same bytes");
    }
    let text = stdout(&second);
    assert!(
        text.contains(&format!(
            "(0 written, {} unchanged, 0 removed",
            before.len()
        )),
        "{text}"
    );
}

#[test]
fn stale_term_feeds_are_removed() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-a.md",
        &simple_post("A", "2021-01-01", "tags: [solo, shared]"),
    );
    site.write_post(
        "2021-01-02-b.md",
        &simple_post("B", "2021-01-02", "tags: shared"),
    );
    site.write_post(
        "2021-01-03-c.md",
        &simple_post("C", "2021-01-03", "tags: other\ncategories: misc"),
    );
    assert_ok(&site.build(&[]));
    let out = site.out();
    for f in FEED_FILES {
        assert!(out.join("tags/solo").join(f).is_file(), "tags/solo/{f}");
    }
    let before = snapshot(&out);
    tick();
    site.write_post(
        "2021-01-01-a.md",
        &simple_post("A", "2021-01-01", "tags: [shared]"),
    );
    let o = site.build(&[]);
    assert_ok(&o);
    // Its three feeds and its page.
    assert!(stdout(&o).contains(", 4 removed"), "{}", stdout(&o));
    assert!(!out.join("tags/solo").exists(), "tags/solo/ is gone");
    let after = snapshot(&out);
    let expected_files: BTreeSet<&String> = before
        .keys()
        .filter(|k| !k.starts_with("tags/solo/"))
        .collect();
    assert_eq!(after.keys().collect::<BTreeSet<_>>(), expected_files);
    // Feeds that do not contain post A are untouched.
    for dir in ["tags/other", "categories/misc"] {
        for f in FEED_FILES {
            let k = format!("{dir}/{f}");
            assert_eq!(before[&k], after[&k], "{k} was rewritten");
        }
    }
    // The lists no longer mention the tag.
    assert!(!site.read_out("feeds.opml").contains("solo"));
    assert!(!site.read_out("index.html").contains("tags/solo"));
    assert!(!site.read_out("rss.xml").contains("solo"));
}

#[test]
fn editing_a_post_rewrites_only_the_feeds_that_hold_it() {
    let site = TempSite::new();
    site.write_post(
        "2021-03-01-a.md",
        &simple_post("A", "2021-03-01", "tags: ta\ncategories: ca"),
    );
    site.write_post(
        "2021-02-01-b.md",
        &simple_post("B", "2021-02-01", "tags: tb\ncategories: cb"),
    );
    assert_ok(&site.build(&[]));
    let out = site.out();
    let before = snapshot(&out);
    tick();
    site.write_post(
        "2021-03-01-a.md",
        "---\ntitle: A\ndate: 2021-03-01\ntags: ta\ncategories: ca\n---\nA new body.\n",
    );
    let o = site.build(&[]);
    assert_ok(&o);
    let after = snapshot(&out);
    for dir in ["", "tags/ta/", "categories/ca/"] {
        for f in FEED_FILES {
            let k = format!("{dir}{f}");
            assert_ne!(before[&k].0, after[&k].0, "{k} should hold the new body");
            assert_ne!(before[&k].1, after[&k].1, "{k} should have been rewritten");
            assert!(
                String::from_utf8_lossy(&after[&k].0).contains("A new body."),
                "{k}"
            );
        }
    }
    for dir in ["tags/tb/", "categories/cb/"] {
        for f in FEED_FILES.iter().chain(&["index.html"]) {
            let k = format!("{dir}{f}");
            assert_eq!(before[&k], after[&k], "{k} should not have been touched");
        }
    }
    // The pages of A's terms show its summary, as the index does (it is among the newest).
    for k in [
        "tags/ta/index.html",
        "categories/ca/index.html",
        "index.html",
    ] {
        assert!(
            String::from_utf8_lossy(&after[k].0).contains("A new body."),
            "{k}"
        );
    }
    // The list of feeds did not change (its date did: it is dated by the site's newest
    // change, like the index).
    assert_eq!(before["feeds.opml"].0, after["feeds.opml"].0);
    assert!(stdout(&o).contains("(12 written, "), "{}", stdout(&o));
}

// ---------------------------------------------------------------- what is listed

#[test]
fn drafts_and_future_posts_need_their_flags() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-normal.md",
        &simple_post("Normal", "2021-01-01", ""),
    );
    site.write_post(
        "2021-01-02-flagged.md",
        &simple_post("Flagged draft", "2021-01-02", "draft: true"),
    );
    site.write_post(
        "_drafts/2021-01-03-folder.md",
        &simple_post("Folder draft", "2021-01-03", ""),
    );
    site.write_post(
        "news/_drafts/2021-01-04-nested.md",
        &simple_post("Nested draft", "2021-01-04", ""),
    );
    site.write_post(
        "2099-01-01-future.md",
        &simple_post("Future", "2099-01-01 00:00:00 +0000", ""),
    );
    site.write_post(
        "2021-01-05-unpublished.md",
        &simple_post("Unpublished", "2021-01-05", "published: false"),
    );

    let titles = |extra: &[&str]| {
        let o = site.build(extra);
        assert_ok(&o);
        assert_eq!(stderr(&o), "", "{extra:?}");
        rss_titles(&site.read_out("rss.xml"))
    };
    assert_eq!(titles(&[]), vec!["Normal"]);
    assert_eq!(
        titles(&["--drafts"]),
        vec!["Nested draft", "Folder draft", "Flagged draft", "Normal"]
    );
    assert_eq!(titles(&["--future"]), vec!["Future", "Normal"]);
    assert_eq!(
        titles(&["--drafts", "--future"]),
        vec![
            "Future",
            "Nested draft",
            "Folder draft",
            "Flagged draft",
            "Normal"
        ]
    );
    // And back: the held-back posts leave the feeds again.
    assert_eq!(titles(&[]), vec!["Normal"]);
}

#[test]
fn hidden_files_leftovers_and_drafts_are_skipped_silently() {
    let site = TempSite::new();
    site.write_post("2021-01-01-real.md", &simple_post("Real", "2021-01-01", ""));
    let junk = "not a post at all \u{1}\n";
    for rel in [
        ".hidden.md",
        ".git/config.md",
        ".obsidian/x/2021-01-01-y.md",
        "2021-01-01-real.md~",
        "2021-01-01-real.md.swp",
        ".2021-01-01-real.md.swp",
        "2021-01-01-real.md.swx",
        "2021-01-01-real.md.tmp",
        "#2021-01-01-real.md#",
        ".#draft.md",
        "notes.rst",
        "image.png",
        "_drafts/unfinished.md",
        "news/_drafts/unfinished.md",
    ] {
        site.write_post(rel, junk);
    }
    site.write_post_bytes("README", b"\xff\xfe binary");
    // Emacs lock files are dangling symlinks; so may be other non-post names.
    std::os::unix::fs::symlink("user@host.1234:1700000000", site.posts().join(".#real.md"))
        .unwrap();
    std::os::unix::fs::symlink("missing.png", site.posts().join("photo.jpg")).unwrap();
    std::os::unix::fs::symlink("nowhere", site.posts().join(".cache")).unwrap();

    let o = site.build(&[]);
    assert_ok(&o);
    assert_eq!(stderr(&o), "");
    assert!(
        stdout(&o).starts_with("built 1 posts into "),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("bad"), "{}", stdout(&o));
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Real"]);

    let c = site.check();
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
    assert_eq!(stderr(&c), "");
    assert_eq!(stdout(&c).trim(), "1 posts ok, 0 bad");

    // With --drafts the `_drafts` files are read — and these are bad.
    let c = feedsmith(
        site.root(),
        &s(&[
            "check",
            "--drafts",
            "--posts",
            &site.posts().display().to_string(),
        ]),
    );
    assert_eq!(c.status.code(), Some(1), "{}", stderr(&c));
    let err = stderr(&c);
    line_naming(&err, "posts/_drafts/unfinished.md");
    line_naming(&err, "posts/news/_drafts/unfinished.md");
    assert_eq!(err.lines().count(), 2, "{err}");
}

/// `build` says what it wrote by kind — feeds, archive pages, pages — in files and bytes that
/// are the output's own.
#[test]
fn build_reports_files_and_bytes_per_kind() {
    let site = TempSite::new();
    for i in 0..9 {
        site.write_post(
            &format!("2024-01-1{i}-p{i}.md"),
            &news_post(
                &format!("Post {i}"),
                &format!("2024-01-1{i} 08:00:00 +0800"),
                "news",
                "a b",
                "Body.",
            ),
        );
    }
    let config = site.write_config("small.toml", "[feeds]\nlimit = 4\n");
    let o = site.build(&["--config", &config]);
    assert_ok(&o);
    let out_text = stdout(&o);
    let kinds = out_text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no kinds line: {out_text}"));
    let all = common::regular_files(&site.out());
    let tally = |pick: &dyn Fn(&str) -> bool| {
        let picked: Vec<usize> = all
            .iter()
            .filter(|(rel, _)| pick(rel))
            .map(|(_, b)| b.len())
            .collect();
        (picked.len(), picked.iter().sum::<usize>())
    };
    let is_feed = |r: &str| {
        ["rss.xml", "atom.xml", "feed.json"]
            .iter()
            .any(|f| r.ends_with(f))
    };
    let (feeds, feed_bytes) = tally(&|r| is_feed(r) && !r.contains("archive/"));
    let (archives, archive_bytes) = tally(&|r| r.contains("archive/"));
    let (pages, page_bytes) = tally(&|r| !is_feed(r));
    // 9 posts, limit 4, pages of 2: only the site's Atom feed has archive pages (3 complete).
    assert_eq!(archives, 3, "{all:?}", all = all.keys().collect::<Vec<_>>());
    assert_eq!(feeds, 3 * 4, "site, news, a, b in three formats");
    let kb = |b: usize| format!("{:.1} KB", b as f64 / 1e3);
    for want in [
        format!("feeds: {feeds} files, {}", kb(feed_bytes)),
        format!("archive pages: {archives} files, {}", kb(archive_bytes)),
        format!("pages: {pages} files, {}", kb(page_bytes)),
    ] {
        assert!(kinds.contains(&want), "{want:?} not in {kinds:?}");
    }
}
