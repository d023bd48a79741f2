//! Post pages (the HTML page at each post's permalink): their validators follow their bytes,
//! and permalinks that collide are reported, never resolved in silence.

use std::fs;
use std::time::Duration;

mod terms;

use crate::common::http::{self, wait_for};
use crate::common::{news_post, Server, TempSite};

/// A post page's `Last-Modified` moves whenever its bytes change — an edit while serving, an
/// edit while the server was down, a change of the site's settings — so `If-Modified-Since`
/// never answers 304 for bytes the client has not seen; unchanged pages keep theirs across a
/// restart.
#[test]
fn post_page_last_modified_follows_its_bytes() {
    let site = TempSite::new();
    let config = site.write_config(
        "lm.toml",
        "[site]\ntitle = \"First\"\n[server]\naccess_log = false\n",
    );
    // A fixed site URL: by default it is the server's own address, a new port each start,
    // which changes every page.
    let args = ["--config", &config, "--url", "https://example.com"];
    site.write_post(
        "2021-12-21-page.md",
        &news_post(
            "Page",
            "2021-12-21 08:10:27 +0800",
            "news",
            "t",
            "<p>One.</p>\n",
        ),
    );
    site.write_post(
        "2021-12-22-other.md",
        &news_post(
            "Other",
            "2021-12-22 08:10:27 +0800",
            "news",
            "t",
            "<p>Two.</p>\n",
        ),
    );
    let write_page = |body: &str| {
        site.write_post(
            "2021-12-21-page.md",
            &news_post("Page", "2021-12-21 08:10:27 +0800", "news", "t", body),
        );
    };
    let mut server = Server::start(&site, &args);
    let link = |server: &Server, title: &str| -> String {
        let feed: serde_json::Value =
            serde_json::from_slice(&http::get(&server.at("/feed.json"), &[]).body).unwrap();
        let item = feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("no item {title}"));
        let url = item["url"].as_str().unwrap();
        // The site URL is the server's own address: the path is what to request.
        url::Url::parse(url).unwrap().path().to_owned()
    };
    let validators = |server: &Server, path: &str| -> (String, String) {
        let r = http::get(&server.at(path), &[]);
        assert_eq!(r.status, 200, "{path}");
        (
            r.header("etag").unwrap().to_owned(),
            r.header("last-modified").unwrap().to_owned(),
        )
    };
    let page = link(&server, "Page");
    let other = link(&server, "Other");
    let (etag1, lm1) = validators(&server, &page);
    let (other_etag, other_lm) = validators(&server, &other);

    // HTTP dates count seconds: let the clock pass the second of lm1.
    std::thread::sleep(Duration::from_millis(1100));
    write_page(
        "<p>One, edited.</p>
",
    );
    let (etag2, lm2) = wait_for(
        "the edited page",
        Duration::from_secs(10),
        Some(&server),
        || {
            let v = validators(&server, &page);
            if v.0 != etag1 {
                Ok(v)
            } else {
                Err("same ETag".into())
            }
        },
    );
    assert_ne!(lm2, lm1, "bytes changed, Last-Modified did not");
    let r = http::get(&server.at(&page), &[("If-Modified-Since", &lm1)]);
    assert_eq!(r.status, 200, "stale 304 for an edited page");
    assert_eq!(
        validators(&server, &other),
        (other_etag.clone(), other_lm.clone())
    );

    // Edited while the server is down: a later Last-Modified after the restart.
    server.stop(Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(1100));
    write_page(
        "<p>One, again.</p>
",
    );
    let server = Server::start(&site, &args);
    let (etag3, lm3) = validators(&server, &page);
    assert_ne!(etag3, etag2);
    let r = http::get(&server.at(&page), &[("If-Modified-Since", &lm2)]);
    assert_eq!(
        r.status, 200,
        "stale 304 after an edit made while down ({lm2} → {lm3})"
    );
    // The untouched page keeps its validators across the restart.
    assert_eq!(
        validators(&server, &other),
        (other_etag.clone(), other_lm.clone())
    );

    // The site's settings change every page's bytes, not their dates (Last-Modified comes
    // from the posts alone, so replicas agree): a reader revalidating with the ETag gets the
    // new page; one sending only the old date is told 304, as README says.
    let mut server = server;
    server.stop(Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(1100));
    fs::write(
        &config,
        "[site]\ntitle = \"Second\"\n[server]\naccess_log = false\n",
    )
    .unwrap();
    let server = Server::start(&site, &args);
    let (etag4, lm4) = validators(&server, &other);
    assert_ne!(etag4, other_etag);
    assert_eq!(lm4, other_lm, "dated by its post, not by the settings file");
    let r = http::get(&server.at(&other), &[("If-None-Match", &other_etag)]);
    assert_eq!(r.status, 200, "the old ETag gets the new page");
    assert!(r.text().contains("Second"));
}

/// Two posts with one permalink, and a post whose permalink is a feed's address: the server
/// says so, naming the files, and keeps serving the feed at its address.
#[test]
fn colliding_permalinks_are_reported_with_both_files() {
    let site = TempSite::new();
    let config = site.write_config("c.toml", "[server]\naccess_log = false\n");
    let with_permalink = |title: &str, date: &str, permalink: &str| {
        news_post(title, date, "news", "t", "<p>x</p>\n").replacen(
            "---\n",
            &format!("---\npermalink: {permalink}\n"),
            1,
        )
    };
    site.write_post(
        "a.md",
        &with_permalink("Older", "2021-01-01 10:00:00 +0000", "/same.html"),
    );
    site.write_post(
        "b.md",
        &with_permalink("Newer", "2021-01-02 10:00:00 +0000", "/same.html"),
    );
    site.write_post(
        "c.md",
        &with_permalink("Shadow", "2021-01-03 10:00:00 +0000", "/rss.xml"),
    );
    let server = Server::start(&site, &["--config", &config]);
    let log = wait_for(
        "the collisions to be reported",
        Duration::from_secs(10),
        Some(&server),
        || {
            let log = server.stderr();
            if log.contains("also claimed by") && log.contains("address of a feed") {
                Ok(log)
            } else {
                Err("not yet".into())
            }
        },
    );
    let line = log.lines().find(|l| l.contains("also claimed by")).unwrap();
    assert!(
        line.contains("b.md") && line.contains("a.md") && line.contains("/same.html"),
        "{line}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("address of a feed"))
        .unwrap();
    assert!(line.contains("c.md") && line.contains("/rss.xml"), "{line}");
    // The newer post has the page; the feed keeps its address.
    assert!(http::get(&server.at("/same.html"), &[])
        .text()
        .contains("Newer"));
    let rss = http::get(&server.at("/rss.xml"), &[]);
    assert!(rss.h("content-type").starts_with("application/rss+xml"));
}
