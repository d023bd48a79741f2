//! Watching and republishing (SPEC §1, §6, §7), end to end: each test runs the real
//! `feedsmith serve` on a temporary `posts/` directory, changes files the way people and
//! editors do, and checks what HTTP serves afterwards (and what lands in `feeds/`).
//!
//! Every wait is a bounded poll (every ~10 ms up to a deadline) for the expected state, never a
//! fixed sleep: a missing feature fails the test with the last state seen and the server's log.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant, SystemTime};

use common::http::{self, wait_for};
use common::{news_post, Server, TempSite};

/// How long a change may take to show up over HTTP.
const DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers

/// Starts `feedsmith serve` on `site` with a short debounce and unlimited feeds.
fn serve(site: &TempSite) -> Server {
    let config = site.root().join("watch-test.toml");
    fs::write(
        &config,
        "[server]\ndebounce_ms = 20\naccess_log = false\n\n[feeds]\nlimit = 0\n",
    )
    .expect("config");
    Server::start(
        site,
        &[
            "--config",
            &config.display().to_string(),
            "--url",
            "https://example.com",
        ],
    )
}

/// One feed item as served: title and link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    title: String,
    link: String,
}

/// Parses a feed document (any of the three formats) into its items.
fn items_of(body: &[u8]) -> Result<Vec<Item>, String> {
    let feed = feed_rs::parser::parse(body).map_err(|e| format!("unparsable feed: {e}"))?;
    Ok(feed
        .entries
        .into_iter()
        .map(|e| Item {
            title: e.title.map(|t| t.content).unwrap_or_default(),
            link: e.links.first().map(|l| l.href.clone()).unwrap_or_default(),
        })
        .collect())
}

/// The items a feed route serves now (`Err` when it is not 200 or does not parse).
fn items(server: &Server, route: &str) -> Result<Vec<Item>, String> {
    let r = server.get(route);
    if r.status != 200 {
        return Err(format!("GET {route} → {}", r.status));
    }
    items_of(&r.body)
}

fn titles(server: &Server, route: &str) -> Result<Vec<String>, String> {
    Ok(items(server, route)?.into_iter().map(|i| i.title).collect())
}

/// Waits until `route` serves exactly the titles `want` (in any order, no duplicates).
fn wait_titles(server: &Server, route: &str, want: &[&str]) {
    wait_titles_within(server, route, want, DEADLINE);
}

fn wait_titles_within(server: &Server, route: &str, want: &[&str], timeout: Duration) {
    let mut want_sorted: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want_sorted.sort();
    wait_for(
        &format!("{route} to list exactly {want:?}"),
        timeout,
        Some(server),
        || {
            let mut got = titles(server, route)?;
            got.sort();
            if got == want_sorted {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
}

/// Waits until the server's log mentions `needle` (after `from` bytes of it), so that the
/// test knows a change has been processed even when nothing served changes.
fn wait_log(server: &Server, what: &str, from: usize, needle: &str) -> String {
    wait_for(what, DEADLINE, Some(server), || {
        let log = server.stderr();
        let new = log.get(from..).unwrap_or("");
        if new.contains(needle) {
            Ok(new.to_owned())
        } else {
            Err(format!("log has no {needle:?} yet"))
        }
    })
}

/// Checks that each route's file under `feeds/` holds exactly the bytes served (identity
/// encoding). Retried until HTTP and disk agree, since a republish writes the file first and
/// swaps the store right after.
fn assert_disk_matches(server: &Server, site: &TempSite, routes: &[&str]) {
    for route in routes {
        wait_for(
            &format!("feeds{route} on disk to equal the served bytes"),
            DEADLINE,
            Some(server),
            || {
                let first = server.get(route);
                if first.status != 200 {
                    return Err(format!("GET {route} → {}", first.status));
                }
                let disk = fs::read(site.out().join(&route[1..]))
                    .map_err(|e| format!("feeds{route}: {e}"))?;
                let second = server.get(route);
                if first.body == disk && second.body == disk {
                    Ok(())
                } else {
                    Err(format!(
                        "disk has {} bytes, HTTP served {} then {} bytes",
                        disk.len(),
                        first.body.len(),
                        second.body.len()
                    ))
                }
            },
        );
    }
}

/// Waits until `feeds/<rel>` is gone. The publisher swaps the store before it syncs
/// `feeds/`, so an HTTP 404 can be seen a moment before the file is removed.
fn wait_removed(server: &Server, site: &TempSite, rel: &str) {
    let path = site.out().join(rel);
    wait_for(
        &format!("feeds/{rel} to be removed"),
        DEADLINE,
        Some(server),
        || {
            if path.exists() {
                Err(format!("{} still exists", path.display()))
            } else {
                Ok(())
            }
        },
    );
}

/// A post with the given title, date, category and tag.
fn post(title: &str, date: &str, category: &str, tag: &str) -> String {
    news_post(
        title,
        date,
        category,
        tag,
        &format!("Body of {title}.\n\nSecond paragraph."),
    )
}

/// An editor's atomic save (vim with `backupcopy=no`): a swap file `.{name}.swp` and a backup
/// `{name}~` that stay around while editing, and the new text written to `{name}.tmp` and
/// renamed over the post. The leftovers hold posts with a "Ghost" title, which must never be
/// published.
fn atomic_save(site: &TempSite, rel: &str, text: &str) {
    let dest = site.posts().join(rel);
    let dir = dest.parent().expect("parent").to_path_buf();
    let name = dest
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let ghost = post(
        &format!("Ghost of {name}"),
        "2030-01-01 00:00:00 +0000",
        "ghosts",
        "ghosts",
    );
    fs::write(dir.join(format!(".{name}.swp")), &ghost).expect("swap file");
    fs::write(dir.join(format!("{name}~")), &ghost).expect("backup file");
    let tmp = dir.join(format!("{name}.tmp"));
    fs::write(&tmp, text).expect("temp file");
    fs::rename(&tmp, &dest).expect("rename temp over the post");
}

fn http_time(value: &str) -> SystemTime {
    httpdate::parse_http_date(value).unwrap_or_else(|e| panic!("bad HTTP date {value:?}: {e}"))
}

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

// ---------------------------------------------------------------------------------------------
// Scale and time

#[test]
fn burst_of_two_thousand_new_files_is_all_published() {
    let site = TempSite::new();
    site.write_post(
        "first.md",
        &post("First", "2023-01-01 00:00:00 +0000", "bulk", "b"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["First"]);

    // 1,500 files straight into posts/, 500 into a directory created mid-burst.
    let mut want: BTreeSet<String> = BTreeSet::from(["First".to_owned()]);
    for i in 0..2000u32 {
        let title = format!("Burst {i:04}");
        let date = format!(
            "2024-{:02}-{:02} {:02}:{:02}:00 +0000",
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60
        );
        let rel = if i < 1500 {
            format!("burst-{i:04}.md")
        } else {
            format!("late/burst-{i:04}.md")
        };
        site.write_post(&rel, &post(&title, &date, "bulk", "b"));
        want.insert(title);
    }
    wait_for(
        "all 2,001 posts in /feed.json",
        Duration::from_secs(40),
        Some(&server),
        || {
            let got = titles(&server, "/feed.json")?;
            let set: BTreeSet<String> = got.iter().cloned().collect();
            if got.len() == want.len() && set == want {
                Ok(())
            } else {
                Err(format!(
                    "{} items ({} distinct), {} missing",
                    got.len(),
                    set.len(),
                    want.difference(&set).count()
                ))
            }
        },
    );
    assert_eq!(
        titles(&server, "/categories/bulk/rss.xml").unwrap().len(),
        2001
    );
    assert_disk_matches(&server, &site, &["/feed.json"]);
}

#[test]
fn future_post_appears_at_its_date_without_a_file_event() {
    let site = TempSite::new();
    site.write_post(
        "now.md",
        &post("Present", "2024-05-01 10:00:00 +0000", "news", "t"),
    );
    // Whole seconds, explicit offset, about 5 s ahead.
    let due = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 5, 0).unwrap();
    let date = due.format("%Y-%m-%d %H:%M:%S +0000").to_string();
    site.write_post("later.md", &post("Later", &date, "later", "t"));
    let server = serve(&site);

    let before = chrono::Utc::now();
    assert!(
        before + chrono::Duration::milliseconds(1500) < due,
        "the server took too long to start for this test ({before} vs {due})"
    );
    assert_eq!(titles(&server, "/rss.xml").unwrap(), vec!["Present"]);
    assert_eq!(server.get("/categories/later/rss.xml").status, 404);

    // No file is touched from here on.
    let seen_at = wait_for(
        "the scheduled post at its date",
        Duration::from_secs(14),
        Some(&server),
        || {
            let t = titles(&server, "/feed.json")?;
            let at = chrono::Utc::now();
            if t.contains(&"Later".to_owned()) {
                Ok(at)
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    assert!(
        seen_at >= due,
        "published early: seen at {seen_at}, due {due}"
    );
    wait_titles(&server, "/rss.xml", &["Present", "Later"]);
    wait_titles(&server, "/categories/later/atom.xml", &["Later"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/categories/later/rss.xml"]);
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
}

// ---------------------------------------------------------------------------------------------
// Robustness

#[test]
fn symlink_loops_and_unreadable_files_do_not_stop_the_watcher() {
    use std::os::unix::fs::symlink;
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-07-01 10:00:00 +0000", "news", "t"),
    );
    site.write_post(
        "sub/s.md",
        &post("Sub", "2024-07-02 10:00:00 +0000", "news", "t"),
    );
    let mut server = serve(&site);
    wait_titles(&server, "/feed.json", &["Alpha", "Sub"]);
    let mark = server.stderr().len();

    // `posts/loop → ..` (the site root, which holds posts/ again), `posts/sub/up → ..`
    // (posts/ itself), a dangling `bad.md`, and a file that is not UTF-8.
    symlink("..", site.posts().join("loop")).unwrap();
    symlink("..", site.posts().join("sub/up")).unwrap();
    symlink("nowhere", site.posts().join("bad.md")).unwrap();
    site.write_post_bytes(
        "latin1.md",
        b"---\ntitle: caf\xe9\ndate: 2024-07-03\n---\n\xff\xfe body\n",
    );
    // Both are reported by name, with the reason.
    for (name, reason) in [("latin1.md", "UTF-8"), ("bad.md", "symbolic link")] {
        let log = wait_log(&server, &format!("the error for {name}"), mark, name);
        let line = log.lines().find(|l| l.contains(name)).unwrap();
        assert!(line.contains(reason), "{line}");
    }

    // The watcher still works: a normal edit is picked up…
    site.write_post(
        "a.md",
        &post("Alpha v2", "2024-07-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v2", "Sub"]);
    // …and the loops did not make posts appear twice.
    for route in ["/rss.xml", "/atom.xml", "/categories/news/feed.json"] {
        let got = titles(&server, route).unwrap();
        assert_eq!(got.len(), 2, "{route}: {got:?}");
    }
    site.write_post(
        "sub/s.md",
        &post("Sub v2", "2024-07-02 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v2", "Sub v2"]);

    // A fresh start with all of that already there: the walk terminates, the bad files are
    // reported by name, and the watcher works.
    let status = server.stop(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let mut server = serve(&site);
    wait_titles(&server, "/feed.json", &["Alpha v2", "Sub v2"]);
    let log = server.stderr();
    assert!(log.contains("latin1.md"), "{log}");
    assert!(log.contains("bad.md"), "{log}");
    site.write_post(
        "a.md",
        &post("Alpha v3", "2024-07-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v3", "Sub v2"]);
    for route in ["/rss.xml", "/atom.xml", "/categories/news/feed.json"] {
        let got = titles(&server, route).unwrap();
        assert_eq!(got.len(), 2, "{route}: {got:?}");
    }
    let status = server.stop(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[test]
fn posts_directory_removed_keeps_feeds_then_recreated_is_picked_up() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-08-01 10:00:00 +0000", "news", "t"),
    );
    site.write_post(
        "b.md",
        &post("Bravo", "2024-08-02 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Alpha", "Bravo"]);
    let routes = [
        "/rss.xml",
        "/feed.json",
        "/categories/news/atom.xml",
        "/feeds.opml",
    ];
    let served: Vec<Vec<u8>> = routes.iter().map(|r| server.get(r).body).collect();
    let on_disk: Vec<Vec<u8>> = routes
        .iter()
        .map(|r| fs::read(site.out().join(&r[1..])).unwrap())
        .collect();
    let mark = server.stderr().len();

    fs::remove_dir_all(site.posts()).expect("remove posts/");
    // The server noticed (it logs about the posts directory)…
    wait_log(
        &server,
        "a log line about the vanished posts directory",
        mark,
        &site.posts().display().to_string(),
    );
    // …and for a while (longer than its look-again interval) serves exactly what it served,
    // never an empty feed; feeds/ is left alone.
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        for (i, route) in routes.iter().enumerate() {
            let r = server.get(route);
            assert_eq!(r.status, 200, "{route} while posts/ is missing");
            assert!(
                r.body == served[i],
                "{route} changed while posts/ is missing:\n{}",
                String::from_utf8_lossy(&r.body)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (i, route) in routes.iter().enumerate() {
        assert_eq!(
            fs::read(site.out().join(&route[1..])).unwrap(),
            on_disk[i],
            "feeds{route} changed while posts/ is missing"
        );
    }

    // Recreated with (other) posts: picked up again, and watched again.
    site.write_post(
        "a.md",
        &post("Alpha again", "2024-08-01 10:00:00 +0000", "news", "t"),
    );
    site.write_post(
        "c.md",
        &post("Charlie", "2024-08-03 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha again", "Charlie"]);
    site.write_post(
        "c.md",
        &post("Charlie v2", "2024-08-03 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha again", "Charlie v2"]);
    wait_titles(&server, "/rss.xml", &["Alpha again", "Charlie v2"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/feed.json"]);
}

#[test]
fn posts_directory_replaced_at_once_is_watched_again() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-09-01 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Alpha"]);

    // A deploy that swaps the directory: `mv posts posts.old && mv staging posts`.
    let staging = site.root().join("staging");
    fs::create_dir(&staging).unwrap();
    fs::write(
        staging.join("b.md"),
        post("Bravo", "2024-09-02 10:00:00 +0000", "news", "t"),
    )
    .unwrap();
    let old = site.root().join("posts.old");
    fs::rename(site.posts(), &old).unwrap();
    fs::rename(&staging, site.posts()).unwrap();
    wait_titles(&server, "/feed.json", &["Bravo"]);
    // The new directory is the one watched now; the old one no longer counts.
    fs::write(
        old.join("a.md"),
        post("Old edit", "2024-09-01 10:00:00 +0000", "news", "t"),
    )
    .unwrap();
    site.write_post(
        "b.md",
        &post("Bravo v2", "2024-09-02 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Bravo v2"]);

    // Removed and recreated at once (`rm -rf posts && mkdir posts && cp …`).
    fs::remove_dir_all(site.posts()).unwrap();
    site.write_post(
        "c.md",
        &post("Charlie", "2024-09-03 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Charlie"]);
    site.write_post(
        "c.md",
        &post("Charlie v2", "2024-09-03 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Charlie v2"]);
    site.write_post(
        "d.md",
        &post("Delta", "2024-09-04 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Charlie v2", "Delta"]);
    wait_titles(&server, "/rss.xml", &["Charlie v2", "Delta"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/feed.json"]);
}

#[test]
fn posts_symlink_repointed_to_another_release_is_followed() {
    use std::os::unix::fs::symlink;
    let site = TempSite::new();
    fs::remove_dir(site.posts()).unwrap();
    let releases = site.root().join("releases");
    for (n, title) in [("1", "Alpha"), ("2", "Bravo")] {
        fs::create_dir_all(releases.join(n)).unwrap();
        fs::write(
            releases.join(n).join("p.md"),
            post(title, "2024-10-01 10:00:00 +0000", "news", "t"),
        )
        .unwrap();
    }
    symlink(releases.join("1"), site.posts()).unwrap();
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Alpha"]);
    site.write_post(
        "p.md",
        &post("Alpha v2", "2024-10-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v2"]);

    // `ln -sfn releases/2 posts`: no event reaches the old release's watch.
    let tmp = site.root().join("posts.new");
    symlink(releases.join("2"), &tmp).unwrap();
    fs::rename(&tmp, site.posts()).unwrap();
    wait_titles(&server, "/feed.json", &["Bravo"]);
    site.write_post(
        "p.md",
        &post("Bravo v2", "2024-10-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Bravo v2"]);
    assert_disk_matches(&server, &site, &["/rss.xml", "/feed.json"]);
}

/// A republished document is served before its file is written; the file then gets the
/// document's Last-Modified as its mtime, so a restart serves the same validators.
#[test]
fn edited_documents_keep_their_validators_across_a_restart() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("First", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    let mut server = serve(&site);
    wait_titles(&server, "/feed.json", &["First"]);
    atomic_save(
        &site,
        "a.md",
        &post("Second", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Second"]);
    let routes = [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/categories/news/rss.xml",
    ];
    let validators = |server: &Server| -> Vec<(String, String)> {
        routes
            .iter()
            .map(|r| {
                let resp = server.get(r);
                (
                    resp.h("etag").to_owned(),
                    resp.h("last-modified").to_owned(),
                )
            })
            .collect()
    };
    // The files follow shortly after the swap.
    assert_disk_matches(&server, &site, &routes);
    let before = validators(&server);
    for ((_, lm), route) in before.iter().zip(routes) {
        let path = site.out().join(route.trim_start_matches('/'));
        let mtime = fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        // Set to the whole-second Last-Modified, not left at the write time.
        let nanos = mtime
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .subsec_nanos();
        assert_eq!(nanos, 0, "{route}: mtime was set to the Last-Modified");
        assert_eq!(
            httpdate::fmt_http_date(mtime),
            *lm,
            "{route}: file mtime is the served Last-Modified"
        );
    }
    assert!(server.stop(Duration::from_secs(15)).success());
    let server = serve(&site);
    assert_eq!(
        validators(&server),
        before,
        "same validators after a restart"
    );
}
