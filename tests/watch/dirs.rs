//! The posts directory itself: symlinks, loops, removal, replacement, restarts.

use super::*;

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
