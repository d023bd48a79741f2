//! Methods, hosts, request targets and paths; post pages; the access log.

use super::*;

// ---------------------------------------------------------------------------------------------
// Methods and paths

#[test]
fn methods_other_than_get_and_head_are_405() {
    let site = site();
    let server = Server::start(&site, &[]);
    for path in ["/rss.xml", "/index.html", "/no/such/thing"] {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let r = request(method, &server.at(path), &[]);
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.h("allow"), "GET, HEAD", "{method} {path}");
        }
    }
    // A made-up method over a raw socket.
    let r = raw::request(&server.addr, "BREW", "/rss.xml");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

/// RFC 9112 §3.2: an HTTP/1.1 request with no `Host`, or any request with more than one, is
/// answered 400 whatever its method and path; HTTP/1.0 may leave `Host` out, and HTTP/2 names
/// the authority in `:authority`.
#[test]
fn http1_requests_need_exactly_one_host() {
    let site = site();
    let server = Server::start(&site, &[]);
    let addr = &server.addr;
    let host = format!("Host: {addr}\r\n");
    let close = "Connection: close\r\n\r\n";
    let form = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n";
    for (req, status) in [
        (format!("GET /rss.xml HTTP/1.1\r\n{close}"), 400),
        (format!("HEAD /rss.xml HTTP/1.1\r\n{close}"), 400),
        (format!("GET /nope HTTP/1.1\r\n{close}"), 400),
        (format!("DELETE /rss.xml HTTP/1.1\r\n{close}"), 400),
        (format!("POST /hub HTTP/1.1\r\n{form}{close}"), 400),
        (
            format!("GET /rss.xml HTTP/1.1\r\n{host}Host: evil.example\r\n{close}"),
            400,
        ),
        (format!("GET /rss.xml HTTP/1.1\r\n{host}{host}{close}"), 400),
        (format!("GET /rss.xml HTTP/1.0\r\n{host}{host}\r\n"), 400),
        // The valid forms.
        (format!("GET /rss.xml HTTP/1.1\r\n{host}{close}"), 200),
        (format!("GET /rss.xml HTTP/1.1\r\nHost: \r\n{close}"), 200),
        ("GET /rss.xml HTTP/1.0\r\n\r\n".to_owned(), 200),
    ] {
        assert_eq!(raw::status(addr, req.as_bytes()), status, "{req:?}");
    }
    // HTTP/2 with prior knowledge, with neither `:authority` nor `host`: served.
    assert_eq!(raw::h2_get_status(addr, "/rss.xml"), 200);
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
}

/// A request-target longer than the handler accepts is `414 URI Too Long`; one longer than
/// a whole request head may be refused by hyper before the handler (414 or 431); the server
/// serves on.
#[test]
fn overlong_request_targets_are_414() {
    let site = site();
    let server = Server::start(&site, &[]);
    let long_path = format!("/{}", "a".repeat(4 * 1024));
    let long_query = format!("/rss.xml?q={}", "a".repeat(4 * 1024));
    for target in [&long_path, &long_query] {
        for method in ["GET", "HEAD"] {
            let r = raw::request(&server.addr, method, target);
            assert_eq!(r.status, 414, "{method} of a {} byte target", target.len());
        }
    }
    let limit = feedsmith::internals::server::handler::MAX_PATH_BYTES;
    let at_limit = format!("/{}", "a".repeat(limit - 1));
    assert_eq!(raw::request(&server.addr, "GET", &at_limit).status, 404);
    let over = format!("/{}", "a".repeat(limit));
    assert_eq!(raw::request(&server.addr, "GET", &over).status, 414);

    // 64 KiB: past the request head limit.
    let huge = format!(
        "GET /{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(64 * 1024),
        server.addr
    );
    // The server may answer and close before it has read everything.
    let buf = raw::send(&server.addr, huge.as_bytes());
    if raw::head_end(&buf).is_some() {
        let r = raw::parse(&buf);
        assert!(
            r.status == 414 || r.status == 431,
            "64 KiB target: status {}",
            r.status
        );
    }
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200, "server died");
}

#[test]
fn paths_unknown_hostile_and_unicode() {
    let site = site();
    let server = Server::start(&site, &[]);

    for path in [
        "/nope",
        "/rss.xml/",
        "/rss.xmlx",
        // (`/tags/rust` is the term page's address without its slash: a 301, see
        // `pages::terms::a_term_page_without_its_slash_redirects_to_it`.)
        "/tags/no-such-tag",
        "/tags/no-such-tag/",
        "/tags/no-such-tag/rss.xml",
        "/categories/no-such/index.html",
        "/tags/rust/index.htm",
        "/posts/2024-01-15-rust-feeds.md",
        "/feeds/rss.xml",
        "/secret.txt",
        "/Cargo.toml",
    ] {
        let r = get(&server.at(path), &[]);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains(SECRET), "{path}");
    }

    for target in [
        "/../Cargo.toml",
        "/../secret.txt",
        "/../posts/2024-01-15-rust-feeds.md",
        "/..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
        "/tags/../../secret.txt",
        "/tags/%2e%2e/%2e%2e/secret.txt",
        "/tags%2Frust%2Frss.xml",
        "/tags/rust%2Frss.xml",
        "/tags%5Crust%5Crss.xml",
        "/a%00b",
        "/rss.xml%00",
        "/%FF%FE",
        "//etc/passwd",
        "/.%2e/secret.txt",
        "/./rss.xml",
    ] {
        for method in ["GET", "HEAD"] {
            let r = raw::request(&server.addr, method, target);
            assert!(
                r.status == 400 || r.status == 404,
                "{method} {target}: status {}",
                r.status
            );
            let body = String::from_utf8_lossy(&r.body);
            assert!(!body.contains(SECRET), "{target}: leaked a file");
            assert!(!body.contains("root:"), "{target}: leaked /etc/passwd");
            assert!(!body.contains("[package]"), "{target}: leaked Cargo.toml");
        }
    }
    // Absolute-form and asterisk-form targets name no document either.
    for target in ["*", "http://evil.example/../secret.txt"] {
        let r = raw::request(&server.addr, "GET", target);
        assert!(
            [400, 404].contains(&r.status),
            "GET {target}: status {}",
            r.status
        );
        assert!(!String::from_utf8_lossy(&r.body).contains(SECRET));
    }

    // The server is still up after all of that.
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);

    // Unicode: the percent-encoded slug is decoded before lookup.
    let r = get(&server.at(CN_TAG_RSS), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-type"), RSS_TYPE);
    let feed = feed_rs::parser::parse(&r.body[..]).expect("tag feed parses");
    let title = feed.title.expect("feed title").content;
    assert!(title.contains(CN_TAG), "tag feed title {title:?}");
    assert_eq!(feed.entries.len(), 2, "both posts tagged {CN_TAG}");
    assert!(feed
        .entries
        .iter()
        .any(|e| e.title.as_ref().unwrap().content == CN_TITLE));
    // Over a raw socket too (no client normalization).
    let raw_r = raw::request(&server.addr, "GET", CN_TAG_RSS);
    assert_eq!(raw_r.status, 200);
    assert_eq!(raw_r.body, r.body);
    // Lowercase percent-encoding names the same document.
    let lower = get(&server.at(&CN_TAG_RSS.to_ascii_lowercase()), &[]);
    assert_eq!(lower.status, 200, "lowercase %-escapes");
    assert_eq!(lower.body, r.body);

    // `/` is the index page.
    let root = get(&server.at("/"), &[]);
    let index = get(&server.at("/index.html"), &[]);
    assert_eq!(root.status, 200);
    assert_eq!(root.h("content-type"), HTML_TYPE);
    assert_eq!(root.body, index.body);
    assert_eq!(root.h("etag"), index.h("etag"));
    assert!(root.text().contains("<link rel=\"alternate\""));
    // A query string does not change what a path names.
    let q = get(&server.at("/rss.xml?utm_source=x"), &[]);
    assert_eq!(q.status, 200);
    assert_eq!(q.body, get(&server.at("/rss.xml"), &[]).body);
}

// ---------------------------------------------------------------------------------------------
// Post pages

#[test]
fn every_item_link_resolves_to_its_post_page() {
    let site = site();
    let server = Server::start(&site, &[]);
    for feed_path in ["/rss.xml", "/categories/tech/rss.xml", CN_TAG_RSS] {
        let rss = get(&server.at(feed_path), &[]);
        assert_eq!(rss.status, 200);
        let links = item_links(&rss.body);
        assert!(!links.is_empty(), "{feed_path}: no items");
        for (title, link) in links {
            assert!(
                link.starts_with(&server.url),
                "{feed_path}: item link {link} is not on the server {}",
                server.url
            );
            let r = get(&link, &[]);
            assert_eq!(r.status, 200, "{link}");
            assert_eq!(r.h("content-type"), HTML_TYPE, "{link}");
            assert_eq!(r.h("x-content-type-options"), "nosniff", "{link}");
            assert!(r.header("content-security-policy").is_some(), "{link}");
            let html = r.text();
            let escaped = html_escape_text(&title);
            assert!(
                html.contains(&escaped),
                "{link}: page lacks the title {escaped:?}"
            );
            assert!(
                html.contains("<link rel=\"alternate\""),
                "{link}: no feed autodiscovery"
            );
            assert!(
                html.contains(&server.at("/rss.xml")),
                "{link}: autodiscovery does not point at the site feed"
            );
            if title == MARKUP_TITLE {
                assert!(
                    !html.contains("<Feeds>"),
                    "{link}: title markup not escaped"
                );
            }
            let post = POSTS
                .iter()
                .find(|p| p.title == title)
                .unwrap_or_else(|| panic!("{link}: item {title:?} is not a post the test wrote"));
            check_post_page(&server, &link, &html, post);
        }
    }
}

/// The page of `post` shows its date, its category and tags (each linking to its page), a
/// piece of its content, and its source link when it has one.
fn check_post_page(server: &Server, link: &str, html: &str, post: &FixturePost) {
    // The date: machine-readable (RFC 3339, the post's own offset) and as read.
    let (datetime, shown) = page_dates(post.date);
    let time = html
        .split_once("<time class=\"dt-published\" datetime=\"")
        .and_then(|(_, rest)| rest.split_once("</time>"))
        .map(|(time, _)| time)
        .unwrap_or_else(|| panic!("{link}: no <time> element"));
    let (attr, text) = time.split_once("\">").expect("<time datetime=…>…</time>");
    assert!(
        datetime.iter().any(|d| d == attr),
        "{link}: datetime {attr:?}, expected one of {datetime:?} (from {:?})",
        post.date
    );
    assert_eq!(text, shown, "{link}: date shown (from {:?})", post.date);
    // Terms, each linking to its page (a tag's `#` is the stylesheet's).
    let terms = std::iter::once(("categories", post.category, ""))
        .chain(post.tags.iter().map(|t| ("tags", *t, " tag")));
    for (kind, term, class) in terms {
        let page = server.at(&format!(
            "/{kind}/{}/",
            percent_encoding::utf8_percent_encode(term, percent_encoding::NON_ALPHANUMERIC)
        ));
        let anchor = format!("<a class=\"p-category{class}\" href=\"{page}\">{term}</a>");
        assert!(html.contains(&anchor), "{link}: no {anchor}");
    }
    // Content.
    assert!(
        post.paragraph.contains(post.snippet),
        "fixture: {}",
        post.file
    );
    assert!(
        html.contains(post.snippet),
        "{link}: content {:?} missing",
        post.snippet
    );
    // The source link, only when the post has one.
    match post.source {
        Some(src) => assert!(
            html.contains(&format!(
                "Source: <a class=\"u-syndication\" href=\"{src}\""
            )),
            "{link}: no source link {src}"
        ),
        None => assert!(
            !html.contains("Source:"),
            "{link}: a source link from nowhere"
        ),
    }
}

/// The forms of a front matter date (`YYYY-MM-DD HH:MM:SS ±HHMM`) a page shows: the RFC 3339
/// value for `datetime` (either spelling of a zero offset) and the text read,
/// `YYYY-MM-DD HH:MM ±HH:MM`.
fn page_dates(front_matter: &str) -> (Vec<String>, String) {
    let mut parts = front_matter.split(' ');
    let (day, time, offset) = match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), Some(o)) if o.len() == 5 => (d, t, o),
        _ => panic!("fixture date {front_matter:?} is not YYYY-MM-DD HH:MM:SS ±HHMM"),
    };
    let offset = format!("{}:{}", &offset[..3], &offset[3..]);
    let mut datetime = vec![format!("{day}T{time}{offset}")];
    if offset == "+00:00" || offset == "-00:00" {
        datetime.push(format!("{day}T{time}Z"));
    }
    (datetime, format!("{day} {} {offset}", &time[..5]))
}

// ---------------------------------------------------------------------------------------------
// Access log

/// With `access_log = true` every request gets one line on stderr — method, path, status, body
/// bytes, microseconds — and stderr, a file here, holds no terminal colour codes.
#[test]
fn access_log_has_a_line_per_request() {
    let site = site();
    let config = site.write_config("access.toml", "[server]\naccess_log = true\n");
    // The default filter, and colours not turned off by the environment.
    let server = Server::start_with_env(
        &site,
        &["--config", &config],
        &[("RUST_LOG", None), ("NO_COLOR", None)],
    );
    let ok = get(&server.at("/rss.xml"), &[]);
    assert_eq!(ok.status, 200);
    let not_modified = get(&server.at("/atom.xml"), &[("If-None-Match", "*")]);
    assert_eq!(not_modified.status, 304);
    let missing = get(&server.at("/no/such/feed.xml"), &[]);
    assert_eq!(missing.status, 404);
    let head = request("HEAD", &server.at("/feed.json"), &[]);
    assert_eq!(head.status, 200);
    let expected = [
        ("GET", "/rss.xml", 200, ok.body.len()),
        ("GET", "/atom.xml", 304, 0),
        ("GET", "/no/such/feed.xml", 404, missing.body.len()),
        ("HEAD", "/feed.json", 200, 0),
    ];
    assert!(!ok.body.is_empty() && !missing.body.is_empty());
    let lines = common::http::wait_for(
        "an access log line for each request",
        Duration::from_secs(10),
        Some(&server),
        || {
            let found: Vec<AccessLine> = server.stderr().lines().filter_map(access_line).collect();
            let all_there = expected
                .iter()
                .all(|e| found.iter().any(|f| f.method == e.0 && f.path == e.1));
            if all_there {
                Ok(found)
            } else {
                Err(format!("access lines {found:?}"))
            }
        },
    );
    for (method, path, status, bytes) in expected {
        let mine: Vec<&AccessLine> = lines
            .iter()
            .filter(|l| l.method == method && l.path == path)
            .collect();
        assert_eq!(mine.len(), 1, "{method} {path}: {lines:?}");
        assert_eq!(mine[0].status, status, "{method} {path}");
        assert_eq!(mine[0].bytes, bytes, "{method} {path}: bytes");
        assert!(
            mine[0].micros < 60_000_000,
            "{method} {path}: {:?}",
            mine[0]
        );
    }
    let raw_log = std::fs::read(&server.log).unwrap();
    assert!(
        !raw_log.contains(&0x1b),
        "ANSI escape codes in a log that is not a terminal:\n{}",
        String::from_utf8_lossy(&raw_log)
    );
}

/// One access log line.
#[derive(Debug)]
struct AccessLine {
    method: String,
    path: String,
    status: u16,
    bytes: usize,
    micros: u64,
}

/// Parses an INFO line ending `{method} {path} {status} {bytes}B {µs}µs` (whatever styling
/// the level and time carry).
fn access_line(line: &str) -> Option<AccessLine> {
    if !line.contains("INFO") {
        return None;
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [method, path, status, bytes, micros] = fields[fields.len().checked_sub(5)?..] else {
        return None;
    };
    Some(AccessLine {
        method: method.to_owned(),
        path: path.to_owned(),
        status: status.parse().ok()?,
        bytes: bytes.strip_suffix('B')?.parse().ok()?,
        micros: micros.strip_suffix("µs")?.parse().ok()?,
    })
}
