//! Shared caches (issue #18): the `Cache-Control` and `Surrogate-Key` every cacheable response
//! carries, straight from `serve`; then real Varnish (`deploy/varnish.vcl`) in front of it
//! (`varnish.rs`): hits, purges on edit, 304s, stale copies while `serve` is down, a browser
//! and a reader each getting their own representation, and a dead cache never slowing a
//! republish.

mod varnish;

use std::time::Duration;

use crate::common::http::{self, wait_for, Resp};
use crate::common::{news_post, Server, TempSite};

/// A browser's navigation (Chromium's headers).
pub const BROWSER: &[(&str, &str)] = &[
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,\
         image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    ),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
];

/// Posts with pages at `/{yyyy}/{mm}/{dd}/{name}/`, feeds of three items (so the site's Atom
/// feed has archive pages) and a short debounce.
const CONFIG: &str = "[site]\npermalink = \"/:year/:month/:day/:title/\"\n\n\
                      [feeds]\nlimit = 3\n\n[server]\ndebounce_ms = 20\n";

/// A site of five posts in category `news` tagged `rust`, and two assets.
pub fn site() -> TempSite {
    let site = TempSite::new();
    for day in 1..=5 {
        site.write_post(
            &format!("2024-01-0{day}-post-{day}.md"),
            &news_post(
                &format!("Post {day}"),
                &format!("2024-01-0{day} 09:00:00 +0000"),
                "news",
                "rust",
                "Body.",
            ),
        );
    }
    site.write_post("notes/style.css", "p { color: red }\n");
    site.write_post_bytes("media/clip.mp3", &[7u8; 20_000]);
    site
}

/// Request headers.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// `serve` on `site` with [`CONFIG`] and `extra` lines.
pub fn serve(site: &TempSite, extra: &str) -> Server {
    let config = site.write_config("cache-test.toml", &format!("{CONFIG}{extra}"));
    Server::start(site, &["--config", &config])
}

fn ask(server: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    http::request(method, &server.at(path), headers)
}

/// Every kind of cacheable response carries the same shared-cache directives (with its own
/// max-age) and the surrogate key of its scope, on 200, HEAD and 304 alike.
#[test]
fn every_cacheable_response_names_its_scope_and_the_shared_directives() {
    let site = site();
    let server = serve(
        &site,
        "max_age = 120\narchive_max_age = 3600\n\n[cache]\ns_maxage = 600\n\
         stale_while_revalidate = 15\nstale_if_error = 7200\n",
    );
    let cc = |max_age: u32| {
        format!(
            "public, max-age={max_age}, s-maxage=600, stale-while-revalidate=15, stale-if-error=7200"
        )
    };
    let cases: &[(&str, Headers<'_>, u32, &str)] = &[
        ("/rss.xml", &[], 120, "all site"),
        (
            "/feed.json",
            &[("Accept-Encoding", "gzip")],
            120,
            "all site",
        ),
        ("/atom.xml", BROWSER, 120, "all site"),
        ("/archive/1/atom.xml", &[], 3600, "all site"),
        ("/", &[], 120, "all site"),
        ("/feeds.opml", &[], 120, "all site"),
        ("/tags/rust/atom.xml", &[], 120, "all tag:rust"),
        ("/tags/rust/", &[], 120, "all tag:rust"),
        (
            "/categories/news/rss.xml",
            BROWSER,
            120,
            "all category:news",
        ),
        (
            "/2024/01/02/post-2/",
            &[],
            120,
            "all post:/2024/01/02/post-2/",
        ),
        ("/notes/style.css", &[], 120, "all asset:/notes/style%2Ecss"),
        ("/media/clip.mp3", &[], 120, "all asset:/media/clip%2Emp3"),
    ];
    for &(path, headers, max_age, key) in cases {
        let r = ask(&server, "GET", path, headers);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.h("cache-control"), cc(max_age), "GET {path}");
        assert_eq!(r.h("surrogate-key"), key, "GET {path}");
        let head = ask(&server, "HEAD", path, headers);
        assert_eq!(head.h("cache-control"), cc(max_age), "HEAD {path}");
        assert_eq!(head.h("surrogate-key"), key, "HEAD {path}");
        let mut conditional = headers.to_vec();
        conditional.push(("If-None-Match", r.h("etag")));
        let nm = ask(&server, "GET", path, &conditional);
        assert_eq!(nm.status, 304, "{path}");
        assert_eq!(nm.h("cache-control"), cc(max_age), "304 {path}");
        assert_eq!(nm.h("surrogate-key"), key, "304 {path}");
    }
    // The browser view of a feed is what the browser got.
    let view = ask(&server, "GET", "/atom.xml", BROWSER);
    assert!(
        view.h("content-type").starts_with("text/html"),
        "{:?}",
        view.headers
    );
    // Errors carry no key: a cache keeps nothing of them.
    let missing = ask(&server, "GET", "/nothing-here", &[]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("surrogate-key"), None);
    assert_eq!(missing.header("cache-control"), None);
}

/// Without purge targets shared caches follow max-age (no s-maxage); with them, a day.
#[test]
fn s_maxage_is_a_day_only_when_caches_are_purged() {
    let site = site();
    let plain = serve(&site, "");
    assert_eq!(
        plain.get("/rss.xml").h("cache-control"),
        crate::common::cache_control(300)
    );
    drop(plain);
    // A purge target nothing listens on: harmless, and s-maxage follows.
    let dead = varnish::free_port();
    let purged = serve(
        &site,
        &format!("\n[cache]\npurge = [\"http://127.0.0.1:{dead}\"]\n"),
    );
    assert_eq!(
        purged.get("/rss.xml").h("cache-control"),
        "public, max-age=300, s-maxage=86400, stale-while-revalidate=30, stale-if-error=86400"
    );
}

/// A purge target that never answers costs a republish nothing: each edit is served at once,
/// and the outage is logged once, not per purge.
#[test]
fn a_dead_cache_never_holds_up_republishing() {
    let site = site();
    let dead = varnish::free_port();
    let server = serve(
        &site,
        &format!("\n[cache]\npurge = [\"http://127.0.0.1:{dead}\"]\npurge_timeout_ms = 200\n"),
    );
    for n in 1..=3 {
        let title = format!("Edited {n}");
        site.write_post(
            "2024-01-05-post-5.md",
            &news_post(&title, "2024-01-05 09:00:00 +0000", "news", "rust", "Body."),
        );
        wait_for(
            &format!("edit {n} served"),
            Duration::from_secs(5),
            Some(&server),
            || {
                let r = server.get("/rss.xml");
                if r.text().contains(&title) {
                    Ok(())
                } else {
                    Err("old feed".to_owned())
                }
            },
        );
    }
    let log = wait_for(
        "the outage logged",
        Duration::from_secs(5),
        Some(&server),
        || {
            let log = server.stderr();
            if log.contains("purge failed") {
                Ok(log)
            } else {
                Err("no warning yet".to_owned())
            }
        },
    );
    assert_eq!(log.matches("purge failed").count(), 1, "{log}");
    // And counted: attempts failed, none answered.
    let text = server.get("/.feedsmith/metrics").text();
    let m = crate::common::metric_samples(&text);
    let count =
        |outcome: &str| m[&format!("feedsmith_cache_purges_total{{outcome=\"{outcome}\"}}")];
    assert!(count("failed") >= 1.0 && count("ok") == 0.0, "{text}");
}

/// A cache on loopback that answers every request 200 and reports each request's method and
/// `Surrogate-Key`.
fn fake_cache() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(read) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(read);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let mut keys = String::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("surrogate-key") {
                        keys = v.trim().to_owned();
                    }
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let method = line.split(' ').next().unwrap_or_default().to_owned();
            if tx.send((method, keys)).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// The keys of the next `BAN` not seen before (each ban is sent again a second later).
fn next_ban(
    rx: &std::sync::mpsc::Receiver<(String, String)>,
    seen: &mut Vec<Vec<String>>,
) -> Vec<String> {
    loop {
        let (method, keys) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a BAN within 10 s");
        assert_eq!(method, "BAN");
        let mut keys: Vec<String> = keys.split(' ').map(str::to_owned).collect();
        keys.sort();
        if !seen.contains(&keys) {
            seen.push(keys.clone());
            return keys;
        }
    }
}

/// What each republish bans: everything on start, then exactly the keys of what changed.
#[test]
fn each_republish_bans_the_keys_of_what_changed() {
    let site = site();
    let (port, rx) = fake_cache();
    let server = serve(
        &site,
        &format!("\n[cache]\npurge = [\"http://127.0.0.1:{port}\"]\n"),
    );
    let seen = &mut Vec::new();
    assert_eq!(next_ban(&rx, seen), ["all"]);
    // Counted in the metrics once answered (the start's ban, then its confirmation a second
    // later).
    server.wait_metric("feedsmith_cache_purges_total{outcome=\"ok\"}", 2.0);
    // An edit of a post's title: its page, and the feeds and pages of its scopes.
    site.write_post(
        "2024-01-05-post-5.md",
        &news_post(
            "Retitled",
            "2024-01-05 09:00:00 +0000",
            "news",
            "rust",
            "Body.",
        ),
    );
    let edit = [
        "category:news",
        "post:/2024/01/05/post-5/",
        "site",
        "tag:rust",
    ];
    assert_eq!(next_ban(&rx, seen), edit);
    // A new tag on a post: that tag's scope too.
    site.write_post(
        "2024-01-04-post-4.md",
        &news_post(
            "Post 4",
            "2024-01-04 09:00:00 +0000",
            "news",
            "rust tokio",
            "Body.",
        ),
    );
    let tagged = [
        "category:news",
        "post:/2024/01/04/post-4/",
        "site",
        "tag:rust",
        "tag:tokio",
    ];
    assert_eq!(next_ban(&rx, seen), tagged);
    // An asset replaced: that asset alone.
    site.write_post("notes/style.css", "p { color: blue }\n");
    assert_eq!(next_ban(&rx, seen), ["asset:/notes/style%2Ecss"]);
}
