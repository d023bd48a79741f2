//! The browser view of feeds: a browser navigating to a feed's address gets an HTML page of it,
//! every other client the feed's bytes exactly — with validators, compression and `Vary` right
//! for both representations.

use std::io::Read;
use std::time::Duration;

use crate::common::http::{self, wait_for, Resp};
use crate::common::{news_post, Server, TempSite};

/// What Firefox sends navigating to a URL typed in the address bar (Chrome and Safari send the
/// same ranking of `text/html`).
const BROWSER: &[(&str, &str)] = &[
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "none"),
    ("Upgrade-Insecure-Requests", "1"),
];

/// Clients that must get the feed: feedparser, a reader listing feed types, curl and wget
/// (`*/*`), none at all, a script's `fetch()` from a page, an HTML-last preference.
const READERS: &[&[(&str, &str)]] = &[
    &[(
        "Accept",
        "application/atom+xml,application/rdf+xml,application/rss+xml,application/x-netcdf,\
         application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1",
    )],
    &[(
        "Accept",
        "application/rss+xml, application/atom+xml, application/feed+json, text/html;q=0.1",
    )],
    &[("Accept", "*/*"), ("User-Agent", "curl/8.5.0")],
    &[("Accept", "*/*"), ("User-Agent", "Wget/1.21.4")],
    &[],
    &[
        ("Accept", "text/html,*/*;q=0.8"),
        ("Sec-Fetch-Dest", "empty"),
        ("Sec-Fetch-Mode", "cors"),
    ],
];

fn site() -> TempSite {
    let site = TempSite::new();
    for (i, (title, tags)) in [
        ("Harbour <tunnel> opens", "harbour, 厦门"),
        ("Old street repaved", "streets"),
        ("Ferry line & timetable", "harbour"),
    ]
    .iter()
    .enumerate()
    {
        site.write_post(
            &format!("2024-03-0{}-post-{i}.md", i + 1),
            &news_post(
                title,
                &format!("2024-03-0{} 08:10:00 +0800", i + 1),
                "news",
                tags,
                &format!("First paragraph of post {i}.\n\nMore text."),
            ),
        );
    }
    site
}

fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> Resp {
    http::get(&server.at(path), headers)
}

fn with<'a>(base: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(extra).copied().collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip body");
    out
}

/// Every feed address (all posts and a term, each format) answers a browser with its view and
/// every reader with the very bytes a plain GET gets, which parse as the feed.
#[test]
fn browsers_get_the_view_and_readers_the_feed() {
    let site = site();
    let server = Server::start(&site, &[]);
    for path in [
        "/rss.xml",
        "/atom.xml",
        "/feed.json",
        "/tags/harbour/rss.xml",
        "/categories/news/atom.xml",
        "/tags/%E5%8E%A6%E9%97%A8/feed.json",
    ] {
        let feed = get(&server, path, &[]);
        assert_eq!(feed.status, 200, "{path}");
        let parsed = feed_rs::parser::parse(&feed.body[..])
            .unwrap_or_else(|e| panic!("{path} is not a feed: {e}"));
        for reader in READERS {
            let r = get(&server, path, reader);
            assert_eq!(r.status, 200, "{path} {reader:?}");
            assert_eq!(
                r.h("content-type"),
                feed.h("content-type"),
                "{path} {reader:?}"
            );
            assert_eq!(r.body, feed.body, "{path} {reader:?}: not the feed's bytes");
            assert_eq!(r.h("etag"), feed.h("etag"));
        }
        let view = get(&server, path, BROWSER);
        assert_eq!(view.status, 200, "{path}");
        assert_eq!(view.h("content-type"), "text/html; charset=utf-8", "{path}");
        assert!(view
            .h("content-security-policy")
            .contains("default-src 'none'"));
        assert_ne!(
            view.h("etag"),
            feed.h("etag"),
            "{path}: one ETag for two representations"
        );
        let html = view.text();
        assert!(!html.contains("<script"), "{path}");
        // The exact address to subscribe to, and every item of the feed linked to its page.
        let feed_url = server.at(path);
        assert!(
            html.contains(&format!("<code class=\"url\">{feed_url}</code>")),
            "{path}: no subscribe address {feed_url} in\n{html}"
        );
        assert!(!parsed.entries.is_empty(), "{path}");
        for entry in &parsed.entries {
            let link = &entry.links.first().expect("item link").href;
            assert!(
                html.contains(&format!("href=\"{link}\"")),
                "{path}: no link to {link}"
            );
        }
        assert!(
            html.contains("href=\"") && html.contains("feeds.opml"),
            "{path}: OPML"
        );
        // Titles are escaped, never markup.
        if path == "/rss.xml" {
            assert!(html.contains("Harbour &lt;tunnel&gt; opens"), "{html}");
            assert!(html.contains("Ferry line &amp; timetable"));
            // The date in the post's own offset, and its terms linked to their feeds.
            assert!(html.contains("2024-03-01 08:10 +08:00"), "{html}");
            assert!(html.contains(&format!("href=\"{}\"", server.at("/tags/harbour/rss.xml"))));
        }
    }
    // Not a feed: the index and a post page are the same for everyone.
    let index = get(&server, "/", BROWSER);
    assert_eq!(index.h("vary"), "Accept-Encoding");
}

/// Both representations vary on what tells them apart, revalidate against their own ETag and
/// compress on their own.
#[test]
fn each_representation_has_its_own_validators_and_compressed_forms() {
    let site = site();
    let server = Server::start(&site, &[]);
    let feed = get(&server, "/atom.xml", &[]);
    let view = get(&server, "/atom.xml", BROWSER);
    for r in [&feed, &view] {
        let vary = r.h("vary").to_ascii_lowercase();
        for name in [
            "accept",
            "sec-fetch-dest",
            "sec-fetch-mode",
            "accept-encoding",
        ] {
            assert!(
                vary.split(',').any(|v| v.trim() == name),
                "Vary {vary} lacks {name}"
            );
        }
    }
    // A browser revalidating its page: 304 with the view's ETag, the full page with the
    // feed's (it is another representation).
    let again = get(
        &server,
        "/atom.xml",
        &with(BROWSER, &[("If-None-Match", view.h("etag"))]),
    );
    assert_eq!(again.status, 304);
    assert_eq!(again.h("etag"), view.h("etag"));
    assert!(again.h("vary").contains("Sec-Fetch-Dest"));
    let crossed = get(
        &server,
        "/atom.xml",
        &with(BROWSER, &[("If-None-Match", feed.h("etag"))]),
    );
    assert_eq!(crossed.status, 200);
    assert_eq!(crossed.body, view.body);
    // And the other way round.
    let reader = get(&server, "/atom.xml", &[("If-None-Match", view.h("etag"))]);
    assert_eq!(reader.status, 200);
    assert_eq!(reader.body, feed.body);
    let reader = get(&server, "/atom.xml", &[("If-None-Match", feed.h("etag"))]);
    assert_eq!(reader.status, 304);
    // If-Modified-Since works for the view too.
    let since = get(
        &server,
        "/atom.xml",
        &with(BROWSER, &[("If-Modified-Since", view.h("last-modified"))]),
    );
    assert_eq!(since.status, 304);
    // Compressed: each its own bytes and ETag.
    let gz_view = get(
        &server,
        "/atom.xml",
        &with(BROWSER, &[("Accept-Encoding", "gzip")]),
    );
    let gz_feed = get(&server, "/atom.xml", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz_view.h("content-encoding"), "gzip");
    assert_eq!(gz_feed.h("content-encoding"), "gzip");
    assert_eq!(gunzip(&gz_view.body), view.body);
    assert_eq!(gunzip(&gz_feed.body), feed.body);
    assert_ne!(gz_view.h("etag"), gz_feed.h("etag"));
    assert_ne!(gz_view.h("etag"), view.h("etag"));
    let gz_again = get(
        &server,
        "/atom.xml",
        &with(
            BROWSER,
            &[
                ("Accept-Encoding", "gzip"),
                ("If-None-Match", gz_view.h("etag")),
            ],
        ),
    );
    assert_eq!(gz_again.status, 304);
    // HEAD: the view's headers, no body.
    let head = http::request("HEAD", &server.at("/atom.xml"), BROWSER);
    assert_eq!(head.status, 200);
    assert_eq!(head.h("etag"), view.h("etag"));
    assert_eq!(head.h("content-length"), view.body.len().to_string());
    assert!(head.body.is_empty());
}

/// Archive pages have views too, linking newer and older pages and the current feed; the
/// current feed's view links its newest archive page.
#[test]
fn archive_pages_have_views_with_their_links() {
    let site = site();
    let config = site.write_config(
        "archive.toml",
        "[feeds]\nlimit = 2\narchive = true\narchive_page = 1\narchive_formats = [\"rss\"]\n",
    );
    let server = Server::start(&site, &["--config", &config]);
    let current = get(&server, "/rss.xml", BROWSER).text();
    let oldest = server.at("/archive/1/rss.xml");
    assert!(current.contains("Older posts"), "{current}");
    assert!(current.contains(&format!("href=\"{oldest}\"")), "{current}");
    let page = get(&server, "/archive/1/rss.xml", BROWSER);
    assert_eq!(page.status, 200);
    assert_eq!(page.h("content-type"), "text/html; charset=utf-8");
    let html = page.text();
    assert!(html.contains("archive page"), "{html}");
    assert!(html.contains("Harbour &lt;tunnel&gt; opens"), "{html}");
    // On an archive page the address to subscribe to is the current feed's.
    assert!(html.contains(&format!(
        "<code class=\"url\">{}</code>",
        server.at("/rss.xml")
    )));
    assert!(html.contains(&format!("href=\"{}\"", server.at("/rss.xml"))));
    // The archive page itself for a reader.
    let feed = get(&server, "/archive/1/rss.xml", &[]);
    assert!(feed.h("content-type").starts_with("application/rss+xml"));
    assert!(feed.h("vary").contains("Accept,"));
    // No such page: 404 for both.
    assert_eq!(get(&server, "/archive/9/rss.xml", BROWSER).status, 404);
    assert_eq!(get(&server, "/tags/none/rss.xml", BROWSER).status, 404);
}

/// An edit while serving shows in the view as in the feed.
#[test]
fn the_view_follows_edits() {
    let site = site();
    let server = Server::start(&site, &[]);
    let before = get(&server, "/tags/streets/rss.xml", BROWSER);
    site.write_post(
        "2024-03-09-new.md",
        &news_post(
            "A new square",
            "2024-03-09 09:00:00 +0800",
            "news",
            "streets",
            "Body.",
        ),
    );
    wait_for(
        "the new post in the view",
        Duration::from_secs(20),
        Some(&server),
        || {
            let now = get(&server, "/tags/streets/rss.xml", BROWSER);
            if now.text().contains("A new square") {
                Ok(now)
            } else {
                Err("not yet".into())
            }
        },
    );
    let after = get(&server, "/tags/streets/rss.xml", BROWSER);
    assert_ne!(after.h("etag"), before.h("etag"));
    let stale = get(
        &server,
        "/tags/streets/rss.xml",
        &with(BROWSER, &[("If-None-Match", before.h("etag"))]),
    );
    assert_eq!(stale.status, 200);
}

/// `server.browser_view = false`: every client gets the feed, which varies on the coding only.
#[test]
fn the_view_can_be_turned_off() {
    let site = site();
    let config = site.write_config("off.toml", "[server]\nbrowser_view = false\n");
    let server = Server::start(&site, &["--config", &config]);
    let r = get(&server, "/rss.xml", BROWSER);
    assert!(r.h("content-type").starts_with("application/rss+xml"));
    assert_eq!(r.h("vary"), "Accept-Encoding");
}

/// `feeds.stylesheet` (static hosting): RSS and Atom name the XSLT written beside them, still
/// parse as feeds, and serve and build agree; JSON Feed has no such thing. Off by default.
#[test]
fn the_stylesheet_is_opt_in_for_static_hosting() {
    let site = site();
    let plain = site.build(&[]);
    assert!(plain.status.success(), "{}", crate::common::stderr(&plain));
    assert!(!site.read_out("rss.xml").contains("xml-stylesheet"));
    assert!(!site.out().join("feed.xsl").exists());

    let config = site.write_config("xsl.toml", "[feeds]\nstylesheet = true\n");
    let built = site.build(&["--config", &config]);
    assert!(built.status.success(), "{}", crate::common::stderr(&built));
    let pi = "<?xml-stylesheet type=\"text/xsl\" href=\"https://example.com/feed.xsl\"?>";
    for feed in [
        "rss.xml",
        "atom.xml",
        "tags/harbour/rss.xml",
        "categories/news/atom.xml",
    ] {
        let text = site.read_out(feed);
        assert!(text.starts_with("<?xml "), "{feed}");
        assert_eq!(text.matches(pi).count(), 1, "{feed}:\n{text}");
        let parsed = feed_rs::parser::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("{feed} does not parse with the stylesheet: {e}"));
        assert_eq!(
            parsed.entries.len(),
            if feed.contains("harbour") { 2 } else { 3 }
        );
    }
    assert!(!site.read_out("feed.json").contains("xml-stylesheet"));
    let xsl = site.read_out("feed.xsl");
    assert!(xsl.contains("<xsl:stylesheet"), "{xsl}");
    let tree = crate::common::xmltree::parse(&xsl);
    assert!(tree.is_ok(), "feed.xsl is not well-formed XML");
    // Serving the same settings gives the same bytes, and the stylesheet itself.
    let server = Server::start(
        &site,
        &["--config", &config, "--url", "https://example.com"],
    );
    let served = get(&server, "/rss.xml", &[]);
    assert_eq!(served.body, site.read_out("rss.xml").as_bytes());
    let sheet = get(&server, "/feed.xsl", &[]);
    assert_eq!(sheet.status, 200);
    assert!(sheet.h("content-type").starts_with("text/xsl"));
    assert_eq!(sheet.body, xsl.as_bytes());
}

/// Only the site's own feeds have views: a file beside the posts that happens to be named like
/// a feed is served as it is, to browsers too.
#[test]
fn an_asset_named_like_a_feed_is_just_a_file() {
    let site = site();
    let bytes = b"<rss version=\"2.0\"><channel><title>someone else's</title></channel></rss>\n";
    site.write_post_bytes("notes/rss.xml", bytes);
    let server = Server::start(&site, &[]);
    for headers in [BROWSER, &[]] {
        let r = get(&server, "/notes/rss.xml", headers);
        assert_eq!(r.status, 200, "{headers:?}");
        assert_eq!(r.body, bytes, "{headers:?}");
        assert_eq!(r.h("vary"), "Accept-Encoding");
    }
}
