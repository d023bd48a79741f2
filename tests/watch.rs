//! Watching and republishing (SPEC §1, §6, §7), end to end: each test runs the real
//! `feedsmith serve` on a temporary `posts/` directory, changes files the way people and
//! editors do, and checks what HTTP serves afterwards (and what lands in `feeds/`).
//!
//! Every wait for a state is a bounded poll (every ~10 ms up to a deadline), never a fixed
//! sleep: a missing feature fails the test with the last state seen and the server's log. The
//! few fixed sleeps here pace edits or observe time passing (a window, an idle server).

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

/// The configuration the tests serve with unless they say otherwise: a short debounce, no
/// request log (the rebuild lines are logged all the same), unlimited feeds.
const CONFIG: &str = "[server]\ndebounce_ms = 20\naccess_log = false\n\n[feeds]\nlimit = 0\n";

/// Starts `feedsmith serve` on `site` with [`CONFIG`].
fn serve(site: &TempSite) -> Server {
    serve_with(site, CONFIG)
}

/// Starts `feedsmith serve` on `site` with `toml` as its configuration file.
fn serve_with(site: &TempSite, toml: &str) -> Server {
    let config = site.write_config("watch-test.toml", toml);
    Server::start(site, &["--config", &config, "--url", "https://example.com"])
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

/// Waits until a complete line of the server's log (after `from` bytes of it) satisfies
/// `wanted`, and returns that line.
fn wait_log_line(
    server: &Server,
    what: &str,
    from: usize,
    wanted: impl Fn(&str) -> bool,
) -> String {
    wait_for(what, DEADLINE, Some(server), || {
        complete_lines(&server.stderr(), from)
            .into_iter()
            .find(|l| wanted(l))
            .ok_or_else(|| "no such line yet".to_owned())
    })
}

/// The lines of `log` after its first `from` bytes that have been written whole (a line
/// still being written has no newline yet).
fn complete_lines(log: &str, from: usize) -> Vec<String> {
    let new = log.get(from..).unwrap_or("");
    let whole = new.rfind('\n').map_or("", |end| &new[..end]);
    whole.lines().map(str::to_owned).collect()
}

/// One rebuild line of the server's log, as `serve::log_report` writes it:
/// `{what}: {files} files changed, {rendered} documents rendered ({written} written,
/// {removed} removed), {posts} posts, {served} documents served, {ms} ms`.
#[derive(Debug)]
struct Rebuild {
    /// `initial build`, `republished`, …
    what: String,
    files_changed: usize,
    rendered: usize,
    posts: usize,
    served: usize,
    /// The time figure as written (one decimal).
    ms: String,
    line: String,
}

impl Rebuild {
    /// Reads a rebuild line; `None` for any other line.
    fn parse(line: &str) -> Option<Rebuild> {
        /// The figure (digits and dots) just before the last `label` in the line.
        fn figure<'a>(line: &'a str, label: &str) -> Option<&'a str> {
            let head = &line[..line.rfind(label)?];
            let start = head
                .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(0, |i| i + 1);
            Some(&head[start..]).filter(|f| !f.is_empty())
        }
        let (before, counts) = line.split_once(": ")?;
        // `N files changed, …` or `N files changed (a.md, b.md, 3 more), …`.
        counts.contains(" files changed").then_some(())?;
        let number = |label: &str| figure(counts, label)?.parse::<usize>().ok();
        Some(Rebuild {
            // After the log's time and level.
            what: before
                .rsplit_once(" INFO ")
                .map_or(before, |(_, what)| what)
                .trim()
                .to_owned(),
            files_changed: number(" files changed")?,
            rendered: number(" documents rendered")?,
            posts: number(" posts, ")?,
            served: number(" documents served")?,
            ms: counts
                .strip_suffix(" ms")
                .and(figure(counts, " ms"))?
                .to_owned(),
            line: line.to_owned(),
        })
    }
}

/// The `republished` lines of the log after its first `from` bytes.
fn republished_since(server: &Server, from: usize) -> Vec<Rebuild> {
    complete_lines(&server.stderr(), from)
        .iter()
        .filter_map(|l| Rebuild::parse(l))
        .filter(|r| r.what == "republished")
        .collect()
}

/// The initial build's line: logged before the server says where it listens, so it is there
/// as soon as [`Server::start`] returns — unless the log level hides it.
fn initial_build(server: &Server) -> Rebuild {
    let log = server.stderr();
    log.lines()
        .filter_map(Rebuild::parse)
        .find(|r| r.what == "initial build")
        .unwrap_or_else(|| {
            panic!(
                "no `initial build: …` line: the rebuild log is logged at level info; run the \
                 tests with RUST_LOG unset (or letting info through). Log:\n{log}"
            )
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
/// renamed over the post. The leftovers hold current posts with a "Ghost" title, which would
/// be published if not for their names (see also `ignored_names_are_never_published`).
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
        "2024-01-01 00:00:00 +0000",
        "ghosts",
        "ghosts",
    );
    fs::write(dir.join(format!(".{name}.swp")), &ghost).expect("swap file");
    fs::write(dir.join(format!("{name}~")), &ghost).expect("backup file");
    let tmp = dir.join(format!("{name}.tmp"));
    fs::write(&tmp, text).expect("temp file");
    fs::rename(&tmp, &dest).expect("rename temp over the post");
}

/// Replaces `posts/{rel}` in one step: the text is written to `{rel}.tmp` (an ignored name)
/// and renamed over the post, so the watcher sees one change of a complete file.
fn replace_post(site: &TempSite, rel: &str, text: &str) -> Instant {
    let dest = site.posts().join(rel);
    let tmp = site.posts().join(format!("{rel}.tmp"));
    fs::write(&tmp, text).expect("temp file");
    fs::rename(&tmp, &dest).expect("rename temp over the post");
    Instant::now()
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

/// `server.debounce_ms`: a save is published once the window has passed with no further
/// event, not before.
#[test]
fn debounce_window_holds_a_save_back_until_it_ends() {
    const TOML: &str = "[server]\ndebounce_ms = 400\naccess_log = false\n\n[feeds]\nlimit = 0\n";
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-05-10 10:00:00 +0000", "news", "t"),
    );
    let server = serve_with(&site, TOML);
    wait_titles(&server, "/feed.json", &["Alpha"]);

    let renamed = replace_post(
        &site,
        "a.md",
        &post("Alpha v2", "2024-05-10 10:00:00 +0000", "news", "t"),
    );
    // The time after the response that first shows the change: never earlier than the
    // publish, however slow the machine, so the lower bound below cannot fail by chance.
    let seen = wait_for("the saved title", DEADLINE, Some(&server), || {
        let t = titles(&server, "/feed.json")?;
        let at = Instant::now();
        if t == ["Alpha v2"] {
            Ok(at)
        } else {
            Err(format!("{t:?}"))
        }
    });
    let elapsed = seen - renamed;
    assert!(
        elapsed >= Duration::from_millis(350),
        "published {elapsed:?} after the save, inside the 400 ms debounce window"
    );
    wait_titles(&server, "/rss.xml", &["Alpha v2"]);
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
    // the log shows what was: all posts, cata and taga in 3 formats, the OPML list and the
    // index page (always), and a.md's page — not catb's and tagb's feeds, nor b.md's page.
    // (An in-place write may first be seen empty: that round changes no file.)
    let line = wait_log_line(&server, "the republish of a.md", mark, |l| {
        Rebuild::parse(l).is_some_and(|r| r.what == "republished" && r.files_changed == 1)
    });
    let rebuild = Rebuild::parse(&line).expect("a rebuild line");
    assert_eq!(rebuild.rendered, 3 * 3 + 2 + 1, "{line}");
    assert_eq!(initial.rendered, 5 * 3 + 2 + 2, "{}", initial.line);
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
    // the OPML list and the index page, and every post's page.
    let scopes = 1 + POSTS + 2 * POSTS;
    let full = scopes * FORMATS + 2 + POSTS;
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
    // cat05, tag05a and tag05b, each in both formats. The OPML list and the index page are
    // rendered with every republish (they list the scopes, which may come and go), and the
    // edited post's page with it.
    let expected = 4 * FORMATS + 2 + 1;
    assert_eq!(rebuild.files_changed, 1, "{line}");
    assert_eq!(rebuild.rendered, expected, "{line}");
    assert!(rebuild.rendered * 4 < full, "{line}");
    assert_eq!(rebuild.served, full, "{line}");
    // One save, one rebuild.
    let all = republished_since(&server, mark);
    assert_eq!(all.len(), 1, "{all:#?}");
}

// ---------------------------------------------------------------------------------------------
// The rebuild log

/// SPEC §4 "`serve` logs each rebuild (what changed, how long)": one line per rebuild, with the
/// files changed, the documents rendered and the time taken.
#[test]
fn each_rebuild_logs_one_line_with_files_documents_and_time() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-06-10 10:00:00 +0000", "news", "t"),
    );
    site.write_post(
        "b.md",
        &post("Bravo", "2024-06-11 10:00:00 +0000", "sports", "u"),
    );
    // `access_log = false` turns off the request lines only.
    let server = serve(&site);
    let initial = initial_build(&server);
    assert_eq!(initial.files_changed, 2, "{}", initial.line);
    let mark = server.stderr().len();

    replace_post(
        &site,
        "a.md",
        &post("Alpha v2", "2024-06-10 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v2", "Bravo"]);
    replace_post(
        &site,
        "b.md",
        &post("Bravo v2", "2024-06-11 10:00:00 +0000", "sports", "u"),
    );
    wait_titles(&server, "/feed.json", &["Alpha v2", "Bravo v2"]);
    // Rebuilds are logged in order: once the second one's line is there, all are.
    wait_for("two rebuild lines", DEADLINE, Some(&server), || {
        let got = republished_since(&server, mark);
        if got.len() >= 2 {
            Ok(())
        } else {
            Err(format!("{got:#?}"))
        }
    });
    let rebuilds = republished_since(&server, mark);
    assert_eq!(rebuilds.len(), 2, "one line per save: {rebuilds:#?}");
    for (r, file) in rebuilds.iter().zip(["a.md", "b.md"]) {
        assert_eq!(r.files_changed, 1, "{}", r.line);
        // What changed, by name (SPEC §4).
        assert!(
            r.line.contains(&format!("files changed ({file})")),
            "{}",
            r.line
        );
        assert!(
            r.rendered > 0 && r.rendered < initial.rendered,
            "documents rendered: {}",
            r.line
        );
        assert_eq!(r.posts, 2, "{}", r.line);
        assert_eq!(r.served, initial.served, "{}", r.line);
        let ms: f64 =
            r.ms.parse()
                .unwrap_or_else(|e| panic!("{:?}: {e}: {}", r.ms, r.line));
        assert!(
            ms.is_finite() && ms >= 0.0 && ms < DEADLINE.as_secs_f64() * 1000.0,
            "milliseconds: {}",
            r.line
        );
        assert!(
            r.ms.split_once('.').is_some_and(|(_, d)| d.len() == 1),
            "milliseconds with one decimal: {}",
            r.line
        );
    }
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

/// A symbolic link to a directory made while serving: its posts are published, and later
/// edits inside it are seen (the kernel watch does not follow a new link by itself). A link
/// back to a directory holding `posts/` is a loop: never followed, whether it was there at
/// start or made later — the served set is the same either way.
#[test]
fn symlinked_directory_made_while_serving_is_watched_and_loops_are_not_followed() {
    let site = TempSite::new();
    site.write_post(
        "in.md",
        &post("Inside", "2024-01-02 10:00:00 +0000", "news", "t"),
    );
    // Outside posts/: reachable only through a link, or through a loop to the site root.
    fs::write(
        site.root().join("outside.md"),
        post("Outside", "2024-01-01 10:00:00 +0000", "news", "t"),
    )
    .unwrap();
    let ext = site.root().join("ext");
    fs::create_dir_all(&ext).unwrap();
    fs::write(
        ext.join("x.md"),
        post("Ext One", "2024-01-03 10:00:00 +0000", "news", "t"),
    )
    .unwrap();
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Inside"]);

    std::os::unix::fs::symlink(&ext, site.posts().join("ext")).unwrap();
    wait_titles(&server, "/feed.json", &["Ext One", "Inside"]);
    // Edited through its real path: the event comes from the link's own watch.
    fs::write(
        ext.join("x.md"),
        post("Ext Two", "2024-01-03 10:00:00 +0000", "news", "t"),
    )
    .unwrap();
    wait_titles(&server, "/feed.json", &["Ext Two", "Inside"]);
    // A new post inside the linked directory.
    fs::write(
        ext.join("y.md"),
        post("Ext Three", "2024-01-04 10:00:00 +0000", "news", "t"),
    )
    .unwrap();
    wait_titles(&server, "/feed.json", &["Ext Three", "Ext Two", "Inside"]);

    // `posts/loop -> ..` leads to outside.md and back into posts/: not followed.
    std::os::unix::fs::symlink("..", site.posts().join("loop")).unwrap();
    site.write_post(
        "marker.md",
        &post("Marker", "2024-01-05 10:00:00 +0000", "news", "t"),
    );
    wait_titles(
        &server,
        "/feed.json",
        &["Marker", "Ext Three", "Ext Two", "Inside"],
    );
    let served = titles(&server, "/feed.json").unwrap();

    // The same tree read whole at start gives the same feed.
    let mut server = server;
    server.stop(DEADLINE);
    let again = serve(&site);
    assert_eq!(titles(&again, "/feed.json").unwrap(), served);
}

/// A burst of file events longer than the debounce window, with gaps shorter than it, is
/// published as one batch (or very few), not as a run of half-applied states.
#[test]
fn a_long_burst_is_published_as_one_batch() {
    let site = TempSite::new();
    site.write_post(
        "seed.md",
        &post("Seed", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Seed"]);
    let from = server.stderr().len();
    // ~300 files over ~0.6 s or more, each gap ~2 ms: well under the 20 ms window.
    const N: usize = 300;
    for i in 0..N {
        site.write_post(
            &format!("b/{i:03}.md"),
            &post(
                &format!("B{i:03}"),
                "2024-02-01 10:00:00 +0000",
                "news",
                "t",
            ),
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    wait_for(
        "every burst file to be served",
        DEADLINE,
        Some(&server),
        || {
            let n = titles(&server, "/feed.json")?.len();
            if n == N + 1 {
                Ok(())
            } else {
                Err(format!("{n} items"))
            }
        },
    );
    let log = server.stderr();
    let republishes = log[from..]
        .lines()
        .filter(|l| l.contains("republished:"))
        .count();
    // Without the burst gathering this is one republish per part the watcher hands over
    // (every 50 ms): a dozen or more. A machine so loaded that a 2 ms gap stretches past the
    // window may split the burst once or twice.
    assert!(
        (1..=4).contains(&republishes),
        "{republishes} republishes for one burst of {N} files:\n{}",
        &log[from..]
    );
}

/// `server.watch = "poll"` (network file systems, or what `auto` falls back to when kernel
/// watches fail): no file events at all, and still every kind of change is published, a poll
/// (2 s) late at most.
#[test]
fn polling_mode_publishes_every_change_without_file_events() {
    let site = TempSite::new();
    let config = site.write_config(
        "poll.toml",
        "[server]\nwatch = \"poll\"\naccess_log = false\n\n[feeds]\nlimit = 0\n",
    );
    site.write_post(
        "a.md",
        &post("Alpha", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    let server = Server::start(&site, &["--config", &config]);
    wait_titles(&server, "/feed.json", &["Alpha"]);
    assert!(
        server.stderr().contains("server.watch = \"poll\""),
        "{}",
        server.stderr()
    );
    // No kernel watch at all: what is published below was found by polling.
    #[cfg(target_os = "linux")]
    {
        let inotify = fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
            .filter(|l| l.to_string_lossy().contains("inotify"))
            .count();
        assert_eq!(inotify, 0, "a kernel watch is open in poll mode");
    }
    site.write_post(
        "sub/b.md",
        &post("Beta", "2024-01-02 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Beta", "Alpha"]);
    atomic_save(
        &site,
        "a.md",
        &post("Alpha 2", "2024-01-01 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Beta", "Alpha 2"]);
    fs::remove_dir_all(site.posts().join("sub")).unwrap();
    wait_titles(&server, "/feed.json", &["Alpha 2"]);
    // A bad edit keeps the last good version and is reported once, not at every poll.
    let mark = server.stderr().len();
    fs::write(site.posts().join("a.md"), "---\ntitle: [unclosed\n---\nx\n").unwrap();
    wait_log_line(&server, "the bad edit", mark, |l| {
        l.contains("a.md") && l.contains("YAML")
    });
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(titles(&server, "/feed.json").unwrap(), ["Alpha 2"]);
    let reports = server
        .stderr()
        .lines()
        .filter(|l| l.contains("a.md") && l.contains("YAML"))
        .count();
    assert_eq!(reports, 1, "{}", server.stderr());
}

/// An idle server sleeps: no thread wakes on a timer while nothing happens. The debouncer used
/// before ticked every 2.5 ms whether or not a file had changed (400 wake-ups a second); now
/// only the once-a-second housekeeping of the publisher and the hub remains. (A fixed sleep,
/// like the few others here that observe time passing: what it watches is two seconds of
/// nothing.)
#[cfg(target_os = "linux")]
#[test]
fn an_idle_server_does_not_wake_up_on_a_timer() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Quiet", "2024-05-10 10:00:00 +0000", "news", "t"),
    );
    let server = serve(&site);
    wait_titles(&server, "/feed.json", &["Quiet"]);
    // Context switches of every thread of the server, voluntary and not.
    let switches = || -> u64 {
        fs::read_dir(format!("/proc/{}/task", server.pid()))
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|t| fs::read_to_string(t.path().join("status")).ok())
            .flat_map(|status| {
                status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .collect::<Vec<_>>()
            })
            .sum()
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = switches();
    std::thread::sleep(Duration::from_secs(2));
    // A thread that exits meanwhile takes its count along: never below zero.
    let woke = switches().saturating_sub(before);
    assert!(
        woke <= 40,
        "{woke} context switches in 2 s of doing nothing"
    );
    // Still watching: a change is published.
    site.write_post(
        "b.md",
        &post("Awake", "2024-05-11 10:00:00 +0000", "news", "t"),
    );
    wait_titles(&server, "/feed.json", &["Awake", "Quiet"]);
}
