//! Bad posts keep the last good version until fixed.

use super::*;

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn broken_yaml_keeps_the_last_good_version_until_fixed() {
    let site = TempSite::new();
    site.write_post(
        "good.md",
        &post("Good v1", "2024-03-01 10:00:00 +0000", "news", "t"),
    );
    site.write_post(
        "other.md",
        &post("Other", "2024-03-02 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/rss.xml", &["Good v1", "Other"]);
    let before = server.stderr();
    assert!(!before.contains("good.md"), "{before}");

    // Half-written / broken YAML: an unterminated quoted title on line 3.
    site.write_post(
        "good.md",
        "---\nlayout: post\ntitle: \"Broken v2\ndate: 2024-03-01 10:00:00 +0000\n\
         categories: news\n---\nbody\n",
    );
    let log = wait_log(&server, "the error for good.md", before.len(), "good.md");
    let line = log
        .lines()
        .find(|l| l.contains("good.md"))
        .expect("a log line naming good.md");
    // File, line and reason.
    let after_name = line.split("good.md").nth(1).unwrap_or("");
    assert!(
        after_name.starts_with(':') && after_name[1..].starts_with(|c: char| c.is_ascii_digit()),
        "the error should give the line number: {line}"
    );
    assert!(line.to_lowercase().contains("yaml"), "{line}");
    // The last good version is still served, in every format and every scope.
    for route in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/news/rss.xml",
    ] {
        let t = titles(&server, route).unwrap();
        assert!(t.contains(&"Good v1".to_owned()), "{route}: {t:?}");
        assert!(!t.iter().any(|t| t.contains("Broken")), "{route}: {t:?}");
    }
    let rss = String::from_utf8(server.get("/rss.xml").body).unwrap();
    assert!(rss.contains("Good v1"), "{rss}");

    // Another post changes while good.md is broken: good.md's last good version stays.
    site.write_post(
        "other.md",
        &post("Other v2", "2024-03-02 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/rss.xml", &["Good v1", "Other v2"]);

    // A new file that is broken from the start is not published, and nothing else is lost.
    let mark = server.stderr().len();
    site.write_post("new.md", "---\ntitle: [unclosed\n---\nbody\n");
    wait_log(&server, "the error for new.md", mark, "new.md");
    let t = titles(&server, "/rss.xml").unwrap();
    assert_eq!(t.len(), 2, "{t:?}");

    // Fixed: the new title replaces the old one; the new file appears once fixed too.
    site.write_post(
        "good.md",
        &post("Good v3", "2024-03-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/rss.xml", &["Good v3", "Other v2"]);
    site.write_post(
        "new.md",
        &post("New fixed", "2024-03-03 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/rss.xml", &["Good v3", "Other v2", "New fixed"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/feed.json"]);

    // Deleting a broken post's file removes its last good version too.
    site.write_post("good.md", "---\ntitle: \"Broken again\n---\n");
    let mark = server.stderr().len();
    wait_log(&server, "the second error for good.md", mark, "good.md");
    assert!(titles(&server, "/rss.xml")
        .unwrap()
        .contains(&"Good v3".to_owned()));
    fs::remove_file(site.posts().join("good.md")).unwrap();
    wait_titles(&server, "/rss.xml", &["Other v2", "New fixed"]);
}

/// SPEC §6–§7: a good post that turns bad — re-saved in another encoding, caught half-written,
/// or emptied — is reported by file (and line, where there is one) and its last good version
/// stays published until the file is fixed.
#[test]
fn existing_post_turned_bad_keeps_its_last_good_version() {
    const DATE: &str = "2024-03-01 10:00:00 +0000";
    let site = TempSite::new();
    site.write_post("good.md", &post("Good v0", DATE, "news", "t"));
    site.write_post(
        "other.md",
        &post("Other", "2024-03-02 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Good v0", "Other"]);

    // The title re-saved as GBK (港口): the first bad byte is on line 3.
    let mut gbk = b"---\nlayout: post\ntitle: \"\xb8\xdb\xbf\xda\"\n".to_vec();
    gbk.extend_from_slice(
        format!("date: {DATE}\ncategories: news\ntags: t\n---\nbody\n").as_bytes(),
    );
    // Cut off inside the front matter: the block opened on line 1 never closes.
    let half =
        format!("---\nlayout: post\ntitle: \"Half written\"\ndate: {DATE}\ncategories: news\n");
    // (what, bytes, the line the error names, a word of the reason)
    let cases: [(&str, Vec<u8>, Option<usize>, &str); 3] = [
        ("not UTF-8", gbk, Some(3), "utf-8"),
        ("half-written", half.into_bytes(), Some(1), "unterminated"),
        ("emptied", Vec::new(), None, "no front matter"),
    ];
    let mut last_good = "Good v0".to_owned();
    for (n, (what, bytes, line, reason)) in cases.into_iter().enumerate() {
        let mark = server.stderr().len();
        site.write_post_bytes("good.md", &bytes);
        // (An in-place write may be seen empty first: wait for this case's own reason.)
        let logged = wait_log_line(
            &server,
            &format!("the {what} error for good.md"),
            mark,
            |l| l.contains("good.md") && l.to_lowercase().contains(reason),
        );
        if let Some(line) = line {
            assert!(
                logged.contains(&format!("good.md:{line}: ")),
                "{what}: the error should name line {line}: {logged}"
            );
        }
        for route in [
            "/feed.json",
            "/rss.xml",
            "/atom.xml",
            "/categories/news/feed.json",
        ] {
            let mut got = titles(&server, route).unwrap_or_else(|e| panic!("{what}: {e}"));
            got.sort();
            assert_eq!(
                got,
                [last_good.as_str(), "Other"],
                "{what}: {route} should keep the last good version"
            );
        }
        // Fixed: the new version replaces the last good one.
        let fixed = format!("Good v{}", n + 1);
        site.write_post("good.md", &post(&fixed, DATE, "news", "t"));
        wait_titles(&server, "/feed.json", &[&fixed, "Other"]);
        wait_titles(&server, "/categories/news/rss.xml", &[&fixed, "Other"]);
        last_good = fixed;
    }
    assert_disk_matches(&server, &site, &["/feed.json", "/rss.xml"]);
}

#[test]
fn post_moved_to_another_category_leaves_the_old_feed() {
    let site = TempSite::new();
    site.write_post(
        "mover.md",
        &post(
            "Mover",
            "2024-04-01 10:00:00 +0000",
            "oldcat shared",
            "alpha",
        ),
    );
    site.write_post(
        "stayer.md",
        &post("Stayer", "2024-04-02 10:00:00 +0000", "shared", "beta"),
    );
    let server = serve(&site);
    wait_titles(&server, "/categories/oldcat/feed.json", &["Mover"]);
    wait_titles(&server, "/categories/shared/rss.xml", &["Mover", "Stayer"]);
    assert_eq!(server.get("/categories/newcat/rss.xml").status, 404);
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        assert!(site.out().join("categories/oldcat").join(f).is_file());
    }

    atomic_save(
        &site,
        "mover.md",
        &post("Mover", "2024-04-01 10:00:00 +0000", "newcat", "alpha"),
    );
    wait_titles(&server, "/categories/newcat/feed.json", &["Mover"]);
    // Published in the same swap: the old category is gone, the shared one lost the post.
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        let route = format!("/categories/oldcat/{f}");
        assert_eq!(server.get(&route).status, 404, "{route}");
        wait_removed(&server, &site, &format!("categories/oldcat/{f}"));
    }
    wait_removed(&server, &site, "categories/oldcat");
    assert_eq!(
        titles(&server, "/categories/shared/rss.xml").unwrap(),
        vec!["Stayer".to_owned()]
    );
    assert_eq!(
        titles(&server, "/categories/newcat/atom.xml").unwrap(),
        vec!["Mover".to_owned()]
    );
    wait_titles(&server, "/rss.xml", &["Mover", "Stayer"]);
    let opml = String::from_utf8(server.get("/feeds.opml").body).unwrap();
    assert!(opml.contains("/categories/newcat/rss.xml"), "{opml}");
    assert!(!opml.contains("oldcat"), "{opml}");
    assert_disk_matches(
        &server,
        &site,
        &[
            "/categories/newcat/rss.xml",
            "/categories/newcat/atom.xml",
            "/categories/newcat/feed.json",
            "/categories/shared/feed.json",
            "/feeds.opml",
            "/index.html",
            "/rss.xml",
        ],
    );
}
