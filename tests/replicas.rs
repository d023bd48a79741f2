//! Replicas are interchangeable: two `serve` processes on the same posts, started apart, each
//! with its own output and state directories, answer every document — feeds, archive pages,
//! browser views, post pages, term pages, the OPML and the index — with the same bytes, the
//! same `ETag` and the same `Last-Modified`; after a restart, an edit and a deletion too. A
//! poller behind a load balancer (here: alternating between them) that sends only
//! `If-None-Match` or only `If-Modified-Since` never gets a full response while nothing
//! changed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::common::http::{self, wait_for, Resp};
use crate::common::nginx::{self, Nginx};
use crate::common::{regular_files, Server, TempSite};

const BROWSER: &[(&str, &str)] = &[
    ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
];

/// Copies the shipped sample posts (with their images) into `dir`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A replica's settings: the same site, its own state directory; small feeds, so that there
/// are archive pages (of every scope) to compare too.
fn config(site: &TempSite, name: &str) -> String {
    let state = site.root().join(format!("state-{name}"));
    site.write_config(
        &format!("{name}.toml"),
        &format!(
            "[site]\nurl = \"https://news.example.com/\"\n\
             [feeds]\nlimit = 3\narchive_scopes = [\"site\", \"categories\", \"tags\"]\n\
             [hub]\nstate_dir = {:?}\n",
            state.display().to_string()
        ),
    )
}

fn start(site: &TempSite, name: &str) -> Server {
    let cfg = config(site, name);
    let out = site.root().join(format!("out-{name}"));
    Server::start_into(site, &out, &["--config", &cfg], &[])
}

/// `path` (a decoded route) as a URL on `server`, percent-encoded.
fn url_of(server: &Server, path: &str) -> String {
    url::Url::parse(&server.url)
        .and_then(|u| u.join(path.trim_start_matches('/')))
        .map(String::from)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fetch(server: &Server, path: &str, headers: &[(&str, &str)]) -> Resp {
    http::get(&url_of(server, path), headers)
}

/// Every route worth comparing: the files a replica wrote (feeds, term pages, OPML, index,
/// assets), the archive pages and post pages its Atom feeds link.
fn routes(server: &Server, out: &Path) -> BTreeSet<String> {
    let mut routes: BTreeSet<String> = regular_files(out)
        .into_keys()
        .filter(|k| !k.rsplit('/').next().unwrap_or("").starts_with('.'))
        .map(|k| format!("/{k}"))
        .collect();
    let feeds: Vec<String> = routes
        .iter()
        .filter(|r| r.ends_with("/atom.xml"))
        .cloned()
        .collect();
    let base = "https://news.example.com";
    for feed in feeds {
        let mut next = Some(feed);
        while let Some(route) = next.take() {
            let r = fetch(server, &route, &[]);
            assert_eq!(r.status, 200, "{route}");
            let parsed = feed_rs::parser::parse(&r.body[..]).expect("an Atom feed");
            for entry in &parsed.entries {
                for link in &entry.links {
                    if let Some(p) = link.href.strip_prefix(base) {
                        routes.insert(decode(p));
                    }
                }
            }
            let prev = parsed
                .links
                .iter()
                .find(|l| l.rel.as_deref() == Some("prev-archive"));
            if let Some(p) = prev.and_then(|l| l.href.strip_prefix(base)) {
                let p = decode(p);
                if routes.insert(p.clone()) {
                    next = Some(p);
                }
            }
        }
    }
    routes
}

fn decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// What must be the same on both replicas.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    etag: String,
    last_modified: String,
    body: Vec<u8>,
}

fn seen(server: &Server, path: &str, headers: &[(&str, &str)]) -> Seen {
    let r = fetch(server, path, headers);
    Seen {
        status: r.status,
        etag: r.h("etag").to_owned(),
        last_modified: r.h("last-modified").to_owned(),
        body: r.body,
    }
}

/// Asserts both replicas answer every route (and the browser view of every feed) alike.
fn assert_alike(a: &Server, b: &Server, routes: &BTreeSet<String>) {
    let mut views = 0;
    for route in routes {
        let (x, y) = (seen(a, route, &[]), seen(b, route, &[]));
        assert_eq!(x.status, 200, "{route}");
        assert!(
            x == y,
            "{route} differs:\n  a: {} {} {} bytes\n  b: {} {} {} bytes",
            x.etag,
            x.last_modified,
            x.body.len(),
            y.etag,
            y.last_modified,
            y.body.len()
        );
        if (route.ends_with(".xml") && !route.ends_with("feed.xsl")) || route.ends_with("feed.json")
        {
            let (x, y) = (seen(a, route, BROWSER), seen(b, route, BROWSER));
            assert_eq!(x, y, "the browser view of {route}");
            views += 1;
        }
    }
    assert!(views > 0);
}

/// The ActivityPub documents of the site (`serve`'s default): WebFinger, NodeInfo, the site's
/// and a tag's actor and outbox.
const ACTIVITYPUB: &[&str] = &[
    "/.well-known/webfinger?resource=acct:news@news.example.com",
    "/.well-known/nodeinfo",
    "/nodeinfo/2.1",
    "/ap/site",
    "/ap/site/outbox",
    "/ap/site/outbox?page=1",
    "/ap/tags/rust",
    "/ap/tags/rust/outbox?page=1",
];

/// Asserts both replicas answer the ActivityPub documents alike, as a Fediverse server asks.
fn assert_alike_activitypub(a: &Server, b: &Server) {
    let ask = [("Accept", "application/activity+json")];
    for route in ACTIVITYPUB {
        let (x, y) = (seen(a, route, &ask), seen(b, route, &ask));
        assert_eq!(x.status, 200, "{route}");
        assert_eq!(x, y, "{route}");
    }
}

/// Polls both replicas by turns, as a round-robin balancer sends them, with only one kind of
/// validator; every answer must be 304 while nothing changed.
fn assert_polls_unchanged(a: &Server, b: &Server, route: &str) {
    let first = fetch(a, route, &[]);
    let etag = first.h("etag").to_owned();
    let since = first.h("last-modified").to_owned();
    for (i, server) in [b, a, b, a].into_iter().enumerate() {
        let r = fetch(server, route, &[("If-None-Match", &etag)]);
        assert_eq!(r.status, 304, "{route}, If-None-Match, poll {i}");
        let r = fetch(server, route, &[("If-Modified-Since", &since)]);
        assert_eq!(r.status, 304, "{route}, If-Modified-Since, poll {i}");
    }
}

/// A poller behind a real round-robin balancer (nginx), sending one kind of validator at a
/// time: nothing but 304s while nothing changed. Returns the validators it holds.
fn assert_balanced_polls_unchanged(lb: &Nginx, route: &str) -> (String, String) {
    let url = format!("{}{}", lb.url, route.trim_start_matches('/'));
    let first = http::get(&url, &[]);
    assert_eq!(first.status, 200, "{route} through nginx");
    let etag = first.h("etag").to_owned();
    let since = first.h("last-modified").to_owned();
    for i in 0..6 {
        let r = http::get(&url, &[("If-None-Match", &etag)]);
        assert_eq!(
            r.status, 304,
            "{route}, If-None-Match through nginx, poll {i}"
        );
        let r = http::get(&url, &[("If-Modified-Since", &since)]);
        assert_eq!(
            r.status, 304,
            "{route}, If-Modified-Since through nginx, poll {i}"
        );
    }
    (etag, since)
}

#[test]
fn two_replicas_answer_the_same_documents_and_validators() {
    let site = TempSite::new();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("posts"),
        &site.posts(),
    );
    let a = start(&site, "a");
    // Replicas share the ActivityPub key (README "Replicas"): their actors are one actor.
    let key = "activitypub-key.pem";
    std::fs::create_dir_all(site.root().join("state-b")).unwrap();
    std::fs::copy(
        site.root().join("state-a").join(key),
        site.root().join("state-b").join(key),
    )
    .unwrap();
    // Started more than a second later: a process clock in any validator would show.
    std::thread::sleep(Duration::from_millis(1200));
    let mut b = start(&site, "b");
    let out_a = site.root().join("out-a");
    let routes = routes(&a, &out_a);
    assert!(
        routes.iter().any(|r| r.contains("/archive/"))
            && routes
                .iter()
                .any(|r| r.ends_with(".html") && r.contains("/20"))
            && routes.contains("/feeds.opml")
            && routes.contains("/index.html"),
        "{routes:#?}"
    );
    assert_alike(&a, &b, &routes);
    for route in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/index.html",
        "/feeds.opml",
    ] {
        assert_polls_unchanged(&a, &b, route);
    }

    // A restart keeps them.
    let before = seen(&b, "/atom.xml", &[]);
    b.stop(Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(1100));
    let b = start(&site, "b");
    assert_eq!(seen(&b, "/atom.xml", &[]), before, "after a restart");
    assert_alike(&a, &b, &routes);
    let lb = nginx::available().then(|| Nginx::round_robin(&[&a.addr, &b.addr]));
    let held = lb.as_ref().map(|lb| {
        for route in ["/rss.xml", "/feed.json", "/feeds.opml"] {
            assert_balanced_polls_unchanged(lb, route);
        }
        assert_balanced_polls_unchanged(lb, "/atom.xml")
    });

    // An edit that leaves the post's dates alone: new bytes, a later Last-Modified (its file's
    // time), the same on both.
    let newest = "2025-05-20-tushuguan-yejian-kaifang.md";
    let path = site.posts().join(newest);
    assert!(path.is_file(), "the sample's newest post is {newest}");
    std::thread::sleep(Duration::from_millis(1100));
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\nOne more paragraph, written while both replicas serve.\n");
    std::fs::write(&path, text).unwrap();
    for server in [&a, &b] {
        wait_for(
            "the edit on both replicas",
            Duration::from_secs(20),
            Some(server),
            || {
                let now = seen(server, "/atom.xml", &[]);
                (now.etag != before.etag).then_some(()).ok_or(now.etag)
            },
        );
    }
    let edited = seen(&a, "/atom.xml", &[]);
    assert!(
        httpdate::parse_http_date(&edited.last_modified).unwrap()
            > httpdate::parse_http_date(&before.last_modified).unwrap(),
        "{} then {}",
        before.last_modified,
        edited.last_modified
    );
    // A poller holding the old date gets the new bytes from either replica.
    for server in [&a, &b] {
        let r = fetch(
            server,
            "/atom.xml",
            &[("If-Modified-Since", &before.last_modified)],
        );
        assert_eq!(r.status, 200);
    }
    assert_alike(&a, &b, &routes);
    assert_alike_activitypub(&a, &b);
    assert_polls_unchanged(&a, &b, "/atom.xml");
    if let (Some(lb), Some((old_etag, old_since))) = (&lb, held) {
        // Through the balancer: the old validators get the new bytes once, from whichever
        // replica; the new ones get 304 from both.
        let url = format!("{}atom.xml", lb.url);
        for (name, value) in [
            ("If-None-Match", &old_etag),
            ("If-Modified-Since", &old_since),
        ] {
            assert_eq!(http::get(&url, &[(name, value)]).status, 200, "{name}");
        }
        let (etag, _) = assert_balanced_polls_unchanged(lb, "/atom.xml");
        assert_eq!(etag, edited.etag);
    }

    // A deletion: both announce it with the same time (the Atom tombstone is in the bytes).
    std::fs::remove_file(site.posts().join("2024-01-15-introducing-feedsmith.md")).unwrap();
    for server in [&a, &b] {
        wait_for(
            "the deletion on both replicas",
            Duration::from_secs(20),
            Some(server),
            || {
                let now = fetch(server, "/atom.xml", &[]).text();
                now.contains("deleted-entry").then_some(()).ok_or(now)
            },
        );
    }
    let still: BTreeSet<String> = routes
        .iter()
        .filter(|r| fetch(&a, r, &[]).status == 200)
        .cloned()
        .collect();
    assert!(
        still.len() < routes.len(),
        "the deleted post's page is gone"
    );
    assert_alike(&a, &b, &still);
}
