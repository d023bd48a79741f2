//! Edits, atomic saves, renames and deletes republish exactly what changed.

use super::*;

// ---------------------------------------------------------------------------------------------
// File changes

#[test]
fn create_write_atomic_save_rename_and_delete_are_republished() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Alpha"]);

    // Create.
    site.write_post(
        "b.md",
        &post("Bravo", "2024-01-02 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha", "Bravo"]);
    wait_titles(&server, "/rss.xml", &["Alpha", "Bravo"]);
    assert_disk_matches(
        &server,
        &site,
        &["/rss.xml", "/atom.xml", "/feed.json", "/feeds.opml"],
    );

    // In-place write (truncate and rewrite the same inode).
    site.write_post(
        "a.md",
        &post("Alpha v2", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v2", "Bravo"]);
    wait_titles(&server, "/categories/news/atom.xml", &["Alpha v2", "Bravo"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/categories/news/atom.xml"]);

    // Editor atomic save: temp file + rename, with swap and backup files left around.
    atomic_save(
        &site,
        "a.md",
        &post("Alpha v3", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v3", "Bravo"]);
    assert_disk_matches(&server, &site, &["/feed.json", "/tags/t/rss.xml"]);

    // Rename: same post, new file name → new permalink; the old one is gone.
    fs::rename(site.posts().join("b.md"), site.posts().join("c.md")).expect("rename");
    wait_for(
        "the renamed post's new link",
        DEADLINE,
        Some(&server),
        || {
            let got = items(&server, "/feed.json")?;
            let links: Vec<&str> = got.iter().map(|i| i.link.as_str()).collect();
            let ok = got.len() == 2
                && links.iter().any(|l| l.ends_with("/c.html"))
                && !links.iter().any(|l| l.ends_with("/b.html"));
            if ok {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
    wait_titles(&server, "/rss.xml", &["Alpha v3", "Bravo"]);

    // Delete.
    fs::remove_file(site.posts().join("c.md")).expect("delete");
    wait_titles(&server, "/feed.json", &["Alpha v3"]);
    wait_titles(&server, "/rss.xml", &["Alpha v3"]);
    wait_titles(&server, "/categories/news/feed.json", &["Alpha v3"]);
    assert_disk_matches(
        &server,
        &site,
        &[
            "/rss.xml",
            "/atom.xml",
            "/feed.json",
            "/categories/news/rss.xml",
        ],
    );

    // The editor's leftovers never became posts, and no term of theirs exists.
    for route in ["/rss.xml", "/atom.xml", "/feed.json"] {
        let t = titles(&server, route).expect(route);
        assert_eq!(t, vec!["Alpha v3".to_owned()], "{route}");
    }
    assert_eq!(server.get("/categories/ghosts/rss.xml").status, 404);
    wait_removed(&server, &site, "categories/ghosts");
}

/// SPEC §1's skip rules while serving: each file below is a complete, current post that would
/// be published if not for its name (or its directory's name).
#[test]
fn ignored_names_are_never_published() {
    use std::os::unix::fs::symlink;
    const IGNORED: [&str; 10] = [
        ".hidden.md",
        ".#a.md",
        "#a.md#",
        "a.md~",
        "a.md.swp",
        "a.md.swx",
        "a.md.tmp",
        ".git/x.md",
        ".dir/x.md",
        "_drafts/x.md",
    ];
    let site = TempSite::new();
    site.write_post(
        "keep.md",
        &post("Keep", "2024-05-01 10:00:00 +0000", "news", "t"),
    );
    let mut server = serve(&site);
    wait_titles(&server, "/feed.json", &["Keep"]);
    let mark = server.stderr().len();

    for (i, rel) in IGNORED.iter().enumerate() {
        site.write_post(
            rel,
            &post(
                &format!("Ignored {rel}"),
                "2024-05-02 10:00:00 +0000",
                "ignored",
                &format!("ignored{i}"),
            ),
        );
    }
    // Emacs's lock file is a dangling symbolic link named `.#{name}`.
    symlink("user@host.1234:1700000000", site.posts().join(".#b.md")).expect("lock link");
    // A normal post written after them: once it is served, their events have been handled
    // (they reach the publisher in the same batch or an earlier one).
    site.write_post(
        "marker.md",
        &post("Marker", "2024-05-03 10:00:00 +0000", "news", "t"),
    );
    wait_for("the marker post", DEADLINE, Some(&server), || {
        let t = titles(&server, "/feed.json")?;
        if t.iter().any(|t| t == "Marker") {
            Ok(())
        } else {
            Err(format!("{t:?}"))
        }
    });
    let check = |server: &Server, log_from: usize| {
        for route in ["/feed.json", "/rss.xml", "/tags/t/atom.xml"] {
            let mut got = titles(server, route).expect(route);
            got.sort();
            assert_eq!(got, ["Keep", "Marker"], "{route}");
        }
        assert_eq!(server.get("/categories/ignored/feed.json").status, 404);
        assert_eq!(server.get("/tags/ignored0/feed.json").status, 404);
        let opml = server.get("/feeds.opml").text();
        assert!(!opml.contains("ignored"), "{opml}");
        // Skipped silently: not reported as bad posts either.
        let log = server.stderr();
        let log = log.get(log_from..).unwrap_or("");
        for name in IGNORED.iter().chain(&[".#b.md"]) {
            assert!(
                !log.contains(name),
                "{name} is mentioned in the log:\n{log}"
            );
        }
    };
    check(&server, mark);
    assert!(!site.out().join("categories/ignored").exists());

    // A fresh start walks the tree with the same rules.
    assert!(server.stop(Duration::from_secs(10)).success());
    let server = serve(&site);
    check(&server, 0);
}

#[test]
fn directories_moved_in_renamed_moved_out_and_deleted() {
    let site = TempSite::new();
    site.write_post(
        "keep.md",
        &post("Keep", "2024-02-01 10:00:00 +0000", "news", "t"),
    );
    // A directory tree prepared outside posts/, then moved in whole.
    let outside = site.root().join("outside");
    for (rel, title, day) in [
        ("sec/one.md", "Sec one", 2),
        ("sec/two.md", "Sec two", 3),
        ("sec/deeper/three.md", "Sec three", 4),
    ] {
        let p = outside.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(
            &p,
            post(title, &format!("2024-02-0{day} 10:00:00 +0000"), "sec", "t"),
        )
        .unwrap();
    }
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Keep"]);

    // Moved in.
    fs::rename(outside.join("sec"), site.posts().join("sec")).expect("move in");
    wait_titles(
        &server,
        "/feed.json",
        &["Keep", "Sec one", "Sec two", "Sec three"],
    );
    wait_titles(
        &server,
        "/categories/sec/rss.xml",
        &["Sec one", "Sec two", "Sec three"],
    );
    // Its files are watched now, nested ones too.
    site.write_post(
        "sec/deeper/three.md",
        &post("Sec three v2", "2024-02-04 10:00:00 +0000", "sec", "t"),
    );
    wait_titles(
        &server,
        "/feed.json",
        &["Keep", "Sec one", "Sec two", "Sec three v2"],
    );

    // Renamed inside posts/: same posts (the permalink comes from the file name), still
    // watched under the new name, nothing duplicated or lost.
    fs::rename(site.posts().join("sec"), site.posts().join("section")).expect("rename dir");
    site.write_post(
        "section/one.md",
        &post("Sec one v2", "2024-02-02 10:00:00 +0000", "sec", "t"),
    );
    wait_titles(
        &server,
        "/feed.json",
        &["Keep", "Sec one v2", "Sec two", "Sec three v2"],
    );
    site.write_post(
        "section/deeper/three.md",
        &post("Sec three v3", "2024-02-04 10:00:00 +0000", "sec", "t"),
    );
    wait_titles(
        &server,
        "/feed.json",
        &["Keep", "Sec one v2", "Sec two", "Sec three v3"],
    );

    // Moved out: its posts and its category go.
    let gone = site.root().join("moved-out");
    fs::rename(site.posts().join("section"), &gone).expect("move out");
    wait_titles(&server, "/feed.json", &["Keep"]);
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        wait_for(
            "the emptied category to 404",
            DEADLINE,
            Some(&server),
            || match server.get(&format!("/categories/sec/{f}")).status {
                404 => Ok(()),
                s => Err(format!("status {s}")),
            },
        );
    }
    wait_removed(&server, &site, "categories/sec");
    // A moved-out directory is no longer watched: editing it changes nothing. (Checked after
    // a later change inside posts/ has been published.)
    fs::write(
        gone.join("two.md"),
        post("Outside edit", "2024-02-03 10:00:00 +0000", "sec", "t"),
    )
    .unwrap();
    site.write_post(
        "keep.md",
        &post("Keep v2", "2024-02-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Keep v2"]);

    // A directory created in place (mkdir, then files written into it at once), then deleted.
    for (rel, title) in [("fresh/a.md", "Fresh a"), ("fresh/sub/b.md", "Fresh b")] {
        site.write_post(rel, &post(title, "2024-02-10 10:00:00 +0000", "fresh", "t"));
    }
    wait_titles(&server, "/feed.json", &["Keep v2", "Fresh a", "Fresh b"]);
    site.write_post(
        "fresh/sub/b.md",
        &post("Fresh b v2", "2024-02-10 10:00:00 +0000", "fresh", "t"),
    );
    wait_titles(&server, "/feed.json", &["Keep v2", "Fresh a", "Fresh b v2"]);
    fs::remove_dir_all(site.posts().join("fresh")).expect("delete dir");
    wait_titles(&server, "/feed.json", &["Keep v2"]);
    wait_titles(&server, "/tags/t/feed.json", &["Keep v2"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/feed.json", "/feeds.opml"]);
    let opml = String::from_utf8(server.get("/feeds.opml").body).unwrap();
    assert!(
        !opml.contains("/categories/fresh/") && !opml.contains("/categories/sec/"),
        "{opml}"
    );
}

// ---------------------------------------------------------------------------------------------
// Only what changed changes

#[test]
fn unrelated_feeds_keep_their_etag_and_last_modified() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("In A", "2024-06-01 10:00:00 +0000", "cata", "taga"),
    );
    site.write_post(
        "b.md",
        &post("In B", "2024-06-02 10:00:00 +0000", "catb", "tagb"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["In A", "In B"]);

    let unrelated = [
        "/tags/tagb/rss.xml",
        "/tags/tagb/atom.xml",
        "/tags/tagb/feed.json",
        "/categories/catb/rss.xml",
    ];
    let snapshot = |route: &str| {
        let r = server.get(route);
        assert_eq!(r.status, 200, "{route}");
        (
            r.header("etag")
                .unwrap_or_else(|| panic!("{route}: no ETag"))
                .to_owned(),
            r.header("last-modified")
                .unwrap_or_else(|| panic!("{route}: no Last-Modified"))
                .to_owned(),
        )
    };
    let before: Vec<(String, String)> = unrelated.iter().map(|r| snapshot(r)).collect();
    let (rss_etag, rss_lm) = snapshot("/rss.xml");
    let initial = initial_build(&server);
    let (taga_etag, _) = snapshot("/tags/taga/rss.xml");
    let mtimes_before: Vec<SystemTime> = unrelated
        .iter()
        .map(|r| {
            fs::metadata(site.out().join(&r[1..]))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();

    // Let the clock pass the next whole second, so a needlessly re-stamped document would show
    // a different Last-Modified.
    let stamp = http_time(&rss_lm);
    wait_for("the clock to move on", DEADLINE, Some(&server), || {
        if SystemTime::now() > stamp + Duration::from_millis(1100) {
            Ok(())
        } else {
            Err("same second".into())
        }
    });

    let mark = server.stderr().len();
    site.write_post(
        "a.md",
        &post("In A v2", "2024-06-01 10:00:00 +0000", "cata", "taga"),
    );
    let new_rss = wait_for("rss.xml to change", DEADLINE, Some(&server), || {
        let r = server.get("/rss.xml");
        if r.header("etag") != Some(rss_etag.as_str()) {
            Ok(r)
        } else {
            Err("same ETag".into())
        }
    });
    let t = items_of(&new_rss.body).unwrap();
    assert!(t.iter().any(|i| i.title == "In A v2"), "{t:?}");
    let new_lm = http_time(new_rss.header("last-modified").expect("Last-Modified"));
    assert!(
        new_lm > stamp,
        "rss.xml changed but its Last-Modified did not move"
    );
    assert_ne!(snapshot("/tags/taga/rss.xml").0, taga_etag);

    for (i, route) in unrelated.iter().enumerate() {
        assert_eq!(
            snapshot(route),
            before[i],
            "{route} did not change, so its ETag and Last-Modified must not"
        );
        let mtime = fs::metadata(site.out().join(&route[1..]))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            mtime, mtimes_before[i],
            "feeds{route} was rewritten with the same bytes"
        );
    }
    // A conditional GET with the old validator still says 304 for them.
    let r = http::get(
        &server.at(unrelated[0]),
        &[("If-None-Match", before[0].0.as_str())],
    );
    assert_eq!(r.status, 304);

    // The store keeps an unchanged document's validators even when it is rendered again, so
    // the log shows what was: all posts, cata and taga in 3 formats and their two term pages,
    // the OPML list and the index page (always), and a.md's page — not catb's and tagb's
    // feeds and pages, nor b.md's page.
    // (An in-place write may first be seen empty: that round changes no file.)
    let line = wait_log_line(&server, "the republish of a.md", mark, |l| {
        Rebuild::parse(l).is_some_and(|r| r.what == "republished" && r.files_changed == 1)
    });
    let rebuild = Rebuild::parse(&line).expect("a rebuild line");
    assert_eq!(rebuild.rendered, 3 * 3 + 2 + 2 + 1, "{line}");
    assert_eq!(initial.rendered, 5 * 3 + 4 + 2 + 2, "{}", initial.line);
}

/// SPEC §6: "only the feeds whose content can change are re-rendered", read from the rebuild
/// log — over HTTP a full re-render looks the same, since the store keeps an unchanged
/// document's ETag and Last-Modified.
#[test]
fn an_edit_renders_only_the_edited_posts_scopes() {
    // Two formats, so that the count shows they are multiplied in.
    const TOML: &str = "[server]\ndebounce_ms = 20\naccess_log = false\n\n\
                        [feeds]\nlimit = 0\nformats = [\"rss\", \"json\"]\n";
    const FORMATS: usize = 2;
    const POSTS: usize = 12;
    let text = |i: usize, body: &str| {
        news_post(
            &format!("Post {i:02}"),
            &format!("2024-06-{:02} 10:00:00 +0000", i + 1),
            &format!("cat{i:02}"),
            &format!("tag{i:02}a tag{i:02}b"),
            body,
        )
    };
    // Post i has category `cat{i}` and tags `tag{i}a`, `tag{i}b`: 12 categories, 24 tags.
    let site = TempSite::new();
    for i in 0..POSTS {
        site.write_post(&format!("p{i:02}.md"), &text(i, "Body."));
    }
    let server = serve_with(&site, TOML);
    let initial = initial_build(&server);
    // What a full render is: every scope (all posts, each category, each tag) in each format,
    // each term's page, the OPML list and the index page, and every post's page.
    let scopes = 1 + POSTS + 2 * POSTS;
    let full = scopes * FORMATS + (scopes - 1) + 2 + POSTS;
    assert_eq!(initial.rendered, full, "{}", initial.line);
    assert_eq!(initial.served, full, "{}", initial.line);

    let mark = server.stderr().len();
    replace_post(&site, "p05.md", &text(5, "Edited body of post five."));
    let line = wait_log_line(&server, "the republish of p05.md", mark, |l| {
        Rebuild::parse(l).is_some_and(|r| r.what == "republished")
    });
    let rebuild = Rebuild::parse(&line).expect("a rebuild line");
    assert!(
        server
            .get("/feed.json")
            .text()
            .contains("Edited body of post five."),
        "the edit is served once its rebuild is logged"
    );
    // The affected scopes are those p05.md is in (before and after the edit): all posts,
    // cat05, tag05a and tag05b, each in both formats, and the three terms' pages. The OPML
    // list and the index page are rendered with every republish (they list the scopes, which
    // may come and go), and the edited post's page with it.
    let expected = 4 * FORMATS + 3 + 2 + 1;
    assert_eq!(rebuild.files_changed, 1, "{line}");
    assert_eq!(rebuild.rendered, expected, "{line}");
    assert!(rebuild.rendered * 4 < full, "{line}");
    assert_eq!(rebuild.served, full, "{line}");
    // One save, one rebuild.
    let all = republished_since(&server, mark);
    assert_eq!(all.len(), 1, "{all:#?}");
}
