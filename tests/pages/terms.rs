//! Term pages (`/categories/{slug}/`, `/tags/{slug}/`): each lists exactly its term's posts,
//! newest first, links its feeds and the posts' pages, and is linked from them and from the
//! index; an edit while serving updates them; `build` writes the bytes `serve` serves; the
//! site's icon is on every page; hostile titles and terms stay text.

use std::fs;
use std::time::Duration;

use crate::common::http::{self, wait_for, Resp};
use crate::common::{news_post, stderr, Server, TempSite};

/// `厦门`, percent-encoded as the pages link it.
const XM: &str = "%E5%8E%A6%E9%97%A8";

/// One `h-entry` of a list page, read off its markup.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    title: String,
    url: String,
    published: String,
    shown: String,
    categories: Vec<String>,
    summary: Option<String>,
}

/// Text between `start` and the next `end` after it.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// The `h-entry` items of a list page (index or term page), in order.
fn entries(html: &str) -> Vec<Entry> {
    html.split("<li class=\"h-entry\">")
        .skip(1)
        .map(|li| {
            let li = &li[..li.find("</li>").expect("an entry ends")];
            let link = between(li, "<a class=\"p-name u-url\" href=\"", "</a>").expect("title");
            let (url, title) = link.split_once("\">").expect("href then text");
            let time = between(li, "<time class=\"dt-published\" datetime=\"", "</time>")
                .expect("dt-published");
            let (published, shown) = time.split_once("\">").expect("datetime then text");
            let categories = li
                .split("class=\"p-category")
                .skip(1)
                .map(|a| between(a, "\">", "</a>").expect("term text").to_owned())
                .collect();
            Entry {
                title: title.to_owned(),
                url: url.to_owned(),
                published: published.to_owned(),
                shown: shown.to_owned(),
                categories,
                summary: between(li, "<p class=\"p-summary summary\">", "</p>").map(str::to_owned),
            }
        })
        .collect()
}

fn titles(html: &str) -> Vec<String> {
    entries(html).into_iter().map(|e| e.title).collect()
}

/// Four posts: `rust` (spelled `Rust` once) on three, `厦门` on one; categories `news` and
/// `notes`. Dates carry their own offsets.
fn write_site(site: &TempSite) {
    for (file, title, date, cat, tags, body) in [
        (
            "a.md",
            "Alpha",
            "2024-01-01 10:00:00 +0800",
            "news",
            "[rust, 厦门]",
            "Alpha's first paragraph.",
        ),
        (
            "b.md",
            "Beta",
            "2024-02-01 10:00:00 -0500",
            "news",
            "rust",
            "Beta's first paragraph.",
        ),
        (
            "c.md",
            "Gamma",
            "2024-03-01 10:00:00 +0000",
            "notes",
            "web",
            "Gamma's first paragraph.",
        ),
        (
            "d.md",
            "Delta",
            "2023-12-01 10:00:00 +0000",
            "news",
            "Rust",
            "Delta's first paragraph.",
        ),
    ] {
        site.write_post(file, &news_post(title, date, cat, tags, body));
    }
}

fn page(server: &Server, path: &str) -> Resp {
    let r = server.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert!(r.h("content-type").starts_with("text/html"), "{path}");
    r
}

/// The path of each post's page, by title, from the JSON Feed.
fn post_paths(server: &Server) -> std::collections::BTreeMap<String, String> {
    let feed: serde_json::Value = serde_json::from_slice(&server.get("/feed.json").body).unwrap();
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let url = url::Url::parse(i["url"].as_str().unwrap()).unwrap();
            (
                i["title"].as_str().unwrap().to_owned(),
                url.path().to_owned(),
            )
        })
        .collect()
}

#[test]
fn term_pages_list_their_posts_newest_first_and_link_both_ways() {
    let site = TempSite::new();
    write_site(&site);
    let server = Server::start(&site, &[]);
    let posts = post_paths(&server);

    // Exactly the term's posts, newest first (instants compared: Beta at 10:00 -05:00 is
    // newer than Alpha at 10:00 +08:00 a month before), `Rust` and `rust` being one term.
    let rust = page(&server, "/tags/rust/").text();
    let listed = entries(&rust);
    assert_eq!(titles(&rust), ["Beta", "Alpha", "Delta"], "{rust}");
    for e in &listed {
        assert_eq!(e.url, server.at(&posts[&e.title]), "{e:?}");
        assert!(
            e.summary
                .as_deref()
                .is_some_and(|s| s == format!("{}'s first paragraph.", e.title)),
            "{e:?}"
        );
    }
    // Dates in the post's own offset.
    assert_eq!(listed[0].published, "2024-02-01T10:00:00-05:00");
    assert_eq!(listed[0].shown, "2024-02-01");
    assert_eq!(listed[1].published, "2024-01-01T10:00:00+08:00");
    // Each entry names its terms as its post spells them.
    assert_eq!(listed[1].categories, ["news", "rust", "厦门"]);
    assert_eq!(listed[2].categories, ["news", "Rust"]);
    assert_eq!(
        titles(&page(&server, &format!("/tags/{XM}/")).text()),
        ["Alpha"]
    );
    assert_eq!(titles(&page(&server, "/tags/web/").text()), ["Gamma"]);
    assert_eq!(
        titles(&page(&server, "/categories/news/").text()),
        ["Beta", "Alpha", "Delta"]
    );
    assert_eq!(
        titles(&page(&server, "/categories/notes/index.html").text()),
        ["Gamma"]
    );
    assert_eq!(server.get("/tags/nope/").status, 404);

    // The term page leads to its feeds (with autodiscovery), the OPML list and home.
    let head = &rust[..rust.find("</head>").unwrap()];
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        let feed = server.at(&format!("/tags/rust/{f}"));
        assert!(
            head.contains(&format!("href=\"{feed}\"")),
            "no autodiscovery of {feed}"
        );
        let body = &rust[rust.find("<body>").unwrap()..];
        assert!(
            body.contains(&format!("<a href=\"{feed}\"")),
            "no link to {feed}"
        );
        assert_eq!(server.get(&format!("/tags/rust/{f}")).status, 200);
    }
    assert!(rust.contains(&format!(
        "<a href=\"{}\">OPML</a>",
        server.at("/feeds.opml")
    )));
    assert!(rust.contains(&format!("class=\"home\" href=\"{}\"", server.at("/"))));

    // The post's page links its category and tags to their pages, and has a way home.
    let alpha = page(&server, &posts["Alpha"]).text();
    for term in ["/categories/news/", "/tags/rust/", &format!("/tags/{XM}/")] {
        assert!(
            alpha.contains(&format!("href=\"{}\"", server.at(term))),
            "the post page does not link {term}:\n{alpha}"
        );
    }
    assert!(
        alpha.contains(&format!("href=\"{}\"", server.at("/"))),
        "{alpha}"
    );
    assert!(
        !alpha.contains(&format!("\"{}\">rust</a>", server.at("/tags/rust/rss.xml"))),
        "terms link their pages, not their feeds"
    );

    // The index links every term to its page and still to its feeds, and lists the posts.
    let index = page(&server, "/").text();
    for (term, feed) in [
        ("/tags/rust/", "/tags/rust/rss.xml"),
        ("/categories/notes/", "/categories/notes/atom.xml"),
        (&format!("/tags/{XM}/"), &format!("/tags/{XM}/feed.json")),
    ] {
        assert!(
            index.contains(&format!("href=\"{}\"", server.at(term))),
            "{term}"
        );
        assert!(
            index.contains(&format!("href=\"{}\"", server.at(feed))),
            "{feed}"
        );
    }
    assert_eq!(titles(&index), ["Gamma", "Beta", "Alpha", "Delta"]);
}

#[test]
fn an_edit_while_serving_updates_the_pages_of_its_terms() {
    let site = TempSite::new();
    write_site(&site);
    let config = site.write_config("quiet.toml", "[server]\naccess_log = false\n");
    let server = Server::start(&site, &["--config", &config]);
    let notes = page(&server, "/categories/notes/");
    let notes_etag = notes.h("etag").to_owned();
    assert!(site.out().join("tags/厦门/index.html").is_file());

    // Alpha is renamed and moves from `rust` and `厦门` to `web`.
    let edited = news_post(
        "Alpha, renamed",
        "2024-01-01 10:00:00 +0800",
        "news",
        "web",
        "Alpha's new first paragraph.",
    );
    let tmp = site.posts().join(".a.md.tmp");
    fs::write(&tmp, edited).unwrap();
    fs::rename(&tmp, site.posts().join("a.md")).unwrap();
    wait_for(
        "the web tag's page to list the edited post",
        Duration::from_secs(10),
        Some(&server),
        || {
            let t = titles(&server.get("/tags/web/").text());
            if t == ["Gamma", "Alpha, renamed"] {
                Ok(())
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    assert_eq!(
        titles(&page(&server, "/tags/rust/").text()),
        ["Beta", "Delta"]
    );
    assert_eq!(
        titles(&page(&server, "/categories/news/").text()),
        ["Beta", "Alpha, renamed", "Delta"]
    );
    // A term left with no posts has no page any more.
    assert_eq!(server.get(&format!("/tags/{XM}/")).status, 404);
    // A term the edit did not touch keeps its page as it was.
    let again = page(&server, "/categories/notes/");
    assert_eq!(again.h("etag"), notes_etag);
    // `feeds/` follows (written just after the new pages are served): the gone term's
    // directory removed, each page's file what is served.
    wait_for(
        "feeds/ to hold the served term pages",
        Duration::from_secs(10),
        Some(&server),
        || {
            if site.out().join("tags/厦门").exists() {
                return Err("feeds/tags/厦门/ is still there".into());
            }
            for term in [
                "tags/web",
                "tags/rust",
                "categories/news",
                "categories/notes",
            ] {
                let disk = fs::read(site.out().join(term).join("index.html"))
                    .map_err(|e| format!("{term}: {e}"))?;
                if disk != server.get(&format!("/{term}/")).body {
                    return Err(format!("feeds/{term}/index.html is not what is served"));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn build_writes_the_term_pages_serve_serves() {
    let site = TempSite::new();
    write_site(&site);
    // `build` here runs with `--url https://example.com`; `serve` is given the same.
    let url = ["--url", "https://example.com"];
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pages = [
        "tags/rust/index.html",
        "tags/厦门/index.html",
        "tags/web/index.html",
        "categories/news/index.html",
        "categories/notes/index.html",
    ];
    let built: Vec<Vec<u8>> = pages
        .iter()
        .map(|p| fs::read(site.out().join(p)).unwrap_or_else(|e| panic!("build wrote no {p}: {e}")))
        .collect();
    let rust = String::from_utf8(built[0].clone()).unwrap();
    assert_eq!(titles(&rust), ["Beta", "Alpha", "Delta"]);
    assert!(
        entries(&rust)[0].url.starts_with("https://example.com/"),
        "{rust}"
    );
    fs::rename(site.out(), site.root().join("built")).unwrap();

    // Without actors: `serve`'s pages link them (`activitypub::pages_link_their_actors`).
    let config = site.write_config("noap.toml", "[activitypub]\nenabled = false\n");
    let server = Server::start(&site, &[url[0], url[1], "--config", &config]);
    for (p, bytes) in pages.iter().zip(&built) {
        let route = format!("/{}", p.trim_end_matches("index.html"));
        let route = route.replace("厦门", XM);
        assert!(
            server.get(&route).body == *bytes,
            "{route} differs from build's {p}"
        );
        assert!(
            fs::read(site.out().join(p)).unwrap() == *bytes,
            "serve's {p}"
        );
    }
}

#[test]
fn the_site_icon_is_on_every_page() {
    let site = TempSite::new();
    write_site(&site);
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!site.read_out("index.html").contains("rel=\"icon\""));
    assert!(!site
        .read_out("tags/rust/index.html")
        .contains("rel=\"icon\""));

    let config = site.write_config(
        "icon.toml",
        "[site]\nurl = \"https://example.com/blog\"\nicon = \"images/icon.png\"\n",
    );
    let server = Server::start(&site, &["--config", &config]);
    let link = "<link rel=\"icon\" href=\"https://example.com/blog/images/icon.png\">";
    let posts: Vec<String> = {
        let feed: serde_json::Value =
            serde_json::from_slice(&server.get("/feed.json").body).unwrap();
        feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                i["url"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("https://example.com/blog")
                    .to_owned()
            })
            .collect()
    };
    for path in ["/", "/tags/rust/", "/categories/notes/", posts[0].as_str()] {
        let html = page(&server, path).text();
        let head = &html[..html.find("</head>").unwrap()];
        assert!(head.contains(link), "{path}: no {link}:\n{head}");
    }

    let bad = site.write_config("bad.toml", "[site]\nicon = \"../secret.png\"\n");
    let out = site.build(&["--config", &bad]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("site.icon"), "{}", stderr(&out));
}

#[test]
fn hostile_titles_and_terms_stay_text_in_term_pages() {
    let site = TempSite::new();
    site.write_post(
        "x.md",
        "---\ntitle: \"<script>alert(1)</script>\"\ndate: 2024-04-01 10:00:00 +0000\n\
         categories: \"</main><h1>x\"\ntags: [\"\\\"><img src=x onerror=alert(2)>\"]\n---\n\
         <p>Hi <b>there</b></p>\n",
    );
    let server = Server::start(&site, &[]);
    for path in ["/tags/img-src-x-onerror-alert-2/", "/categories/main-h1-x/"] {
        let html = page(&server, path).text();
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{path}:\n{html}");
        assert!(!lower.contains("<img src=x"), "{path}:\n{html}");
        assert!(!html.contains("</main><h1>x"), "{path}:\n{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}:\n{html}"
        );
        assert_eq!(titles(&html), ["&lt;script&gt;alert(1)&lt;/script&gt;"]);
        assert!(html.trim_end().ends_with("</html>"), "{path}");
        assert!(!server
            .get(path)
            .h("content-security-policy")
            .contains("script-src"));
    }
    assert!(page(&server, "/tags/img-src-x-onerror-alert-2/")
        .text()
        .contains("<h1 class=\"p-name tag\">\"&gt;&lt;img src=x onerror=alert(2)&gt;</h1>"));
}

#[test]
fn a_post_cannot_take_a_term_pages_address() {
    let site = TempSite::new();
    write_site(&site);
    site.write_post(
        "e.md",
        "---\ntitle: Squatter\ndate: 2024-05-01\ntags: rust\npermalink: /tags/rust/\n---\nx\n",
    );
    let server = Server::start(&site, &[]);
    let log = wait_for(
        "the shadowed permalink to be reported",
        Duration::from_secs(10),
        Some(&server),
        || {
            let log = server.stderr();
            if log.contains("address of a feed or site document") {
                Ok(log)
            } else {
                Err("not yet".into())
            }
        },
    );
    let line = log
        .lines()
        .find(|l| l.contains("address of a feed"))
        .unwrap();
    assert!(
        line.contains("e.md") && line.contains("/tags/rust/index.html"),
        "{line}"
    );
    // The term's page is served there, listing the post among the others.
    let html = page(&server, "/tags/rust/").text();
    assert!(html.contains("<main class=\"h-feed\">"), "{html}");
    assert_eq!(titles(&html), ["Squatter", "Beta", "Alpha", "Delta"]);
}

/// A term page asked for without its trailing slash is where it is: `301` to the slash, the
/// query kept; a path with no page under it stays 404.
#[test]
fn a_term_page_without_its_slash_redirects_to_it() {
    let site = TempSite::new();
    site.write_post(
        "2024-03-01-a.md",
        &news_post("A", "2024-03-01 08:00:00 +0800", "news", "rust", "Body."),
    );
    let server = Server::start(&site, &[]);
    for (path, location) in [
        ("/tags/rust", "/tags/rust/"),
        ("/categories/news?x=1", "/categories/news/?x=1"),
    ] {
        let r = http::get(&server.at(path), &[]);
        assert_eq!(r.status, 301, "{path}");
        assert_eq!(r.h("location"), location, "{path}");
        let target = http::get(&server.at(location), &[]);
        assert_eq!(target.status, 200, "{location}");
    }
    assert_eq!(http::get(&server.at("/tags/none"), &[]).status, 404);
}
