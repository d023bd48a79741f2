//! Response headers on every document, HEAD framing, and Last-Modified never in the future.

use super::*;

// ---------------------------------------------------------------------------------------------
// Headers

/// Checks the headers every 200 carries; returns (ETag, Last-Modified).
fn check_200_headers(server: &Server, path: &str, ctype: &str, r: &Resp, max_age: u32) {
    let what = format!("GET {path}");
    assert_eq!(
        r.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.h("content-type"), ctype, "{what}");
    assert_eq!(
        r.h("content-length").parse::<usize>().unwrap(),
        r.body.len(),
        "{what}"
    );
    assert!(
        r.header("content-encoding").is_none(),
        "{what}: encoded without asking"
    );
    assert_strong_etag(r.h("etag"), &what);
    let lm = r.h("last-modified");
    let t = http_date(lm);
    assert_eq!(
        fmt_date(t),
        lm,
        "{what}: Last-Modified is not an IMF-fixdate"
    );
    assert!(
        t <= SystemTime::now() + Duration::from_secs(1),
        "{what}: Last-Modified {lm} is in the future"
    );
    assert_eq!(
        r.h("cache-control"),
        crate::common::cache_control(max_age),
        "{what}"
    );
    assert_eq!(r.h("vary"), crate::common::vary_of(path), "{what}");
    if is_feed(path) {
        let own = server.at(path);
        // `serve` runs its WebSub hub by default and advertises it next to the self link.
        let hub = server.at("/hub");
        assert_eq!(
            r.h("link"),
            format!("<{own}>; rel=\"self\", <{hub}>; rel=\"hub\""),
            "{what}: Link self must be the document's own URL"
        );
        // The same self URL inside the document.
        assert!(
            r.text().contains(&own),
            "{what}: document does not name its own URL {own}"
        );
    } else if path == "/feeds.opml" || path == "/index.html" {
        // The lists name themselves too; they are no WebSub topics.
        assert_eq!(
            r.h("link"),
            format!("<{}>; rel=\"self\"", server.at(path)),
            "{what}"
        );
    }
    if ctype.starts_with("text/html") {
        assert_eq!(r.h("x-content-type-options"), "nosniff", "{what}");
        let csp = r.h("content-security-policy");
        assert!(csp.contains("default-src"), "{what}: weak CSP {csp}");
        assert!(
            !csp.contains("script-src *"),
            "{what}: CSP allows scripts {csp}"
        );
    }
}

#[test]
fn every_document_has_exact_headers() {
    let site = site();
    let server = Server::start(&site, &[]);
    let mut docs: Vec<(String, &str)> = documents()
        .into_iter()
        .map(|(p, t)| (p.to_owned(), t))
        .collect();
    let pages = post_page_paths(&server);
    assert_eq!(pages.len(), 4, "{pages:?}");
    docs.extend(pages.into_iter().map(|p| (p, HTML_TYPE)));
    let mut etags = BTreeMap::new();
    for (path, ctype) in &docs {
        let r = get(&server.at(path), &[]);
        check_200_headers(&server, path, ctype, &r, 300);
        // Feeds are well-formed for their format.
        match *ctype {
            RSS_TYPE | ATOM_TYPE | JSON_TYPE => {
                feed_rs::parser::parse(&r.body[..])
                    .unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
            }
            _ => {}
        }
        // The ETag is derived from the bytes: same bytes, same tag.
        let again = get(&server.at(path), &[]);
        assert_eq!(again.body, r.body, "{path}");
        assert_eq!(again.h("etag"), r.h("etag"), "{path}");
        assert_eq!(again.h("last-modified"), r.h("last-modified"), "{path}");
        etags.insert(r.h("etag").to_owned(), path.clone());
    }
    assert_eq!(etags.len(), docs.len(), "distinct documents share an ETag");
}

#[test]
fn max_age_comes_from_the_config() {
    let site = site();
    let config = site.write_config("custom.toml", "[server]\nmax_age = 60\n");
    let server = Server::start(&site, &["--config", &config]);
    for (path, ctype) in documents() {
        let r = get(&server.at(path), &[]);
        check_200_headers(&server, path, ctype, &r, 60);
        let etag = r.h("etag").to_owned();
        let nm = get(&server.at(path), &[("If-None-Match", &etag)]);
        assert_eq!(nm.status, 304, "{path}");
        assert_eq!(
            nm.h("cache-control"),
            crate::common::cache_control(60),
            "{path}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// HEAD

#[test]
fn head_is_get_without_the_body() {
    let site = site();
    let server = Server::start(&site, &[]);
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    paths.extend(post_page_paths(&server));
    for path in &paths {
        for ae in [None, Some("gzip"), Some("br")] {
            let extra: Vec<(&str, &str)> = ae.map(|v| ("Accept-Encoding", v)).into_iter().collect();
            let g = get(&server.at(path), &extra);
            assert_eq!(g.status, 200, "{path}");
            let h = request("HEAD", &server.at(path), &extra);
            assert_eq!(h.status, g.status, "HEAD {path} {ae:?}");
            assert!(h.body.is_empty(), "HEAD {path}: body");
            for name in [
                "content-type",
                "content-length",
                "content-encoding",
                "etag",
                "last-modified",
                "cache-control",
                "vary",
                "link",
                "x-content-type-options",
                "content-security-policy",
            ] {
                assert_eq!(h.header(name), g.header(name), "HEAD {path} {ae:?}: {name}");
            }
            assert_eq!(
                h.h("content-length").parse::<usize>().unwrap(),
                g.body.len(),
                "HEAD {path} {ae:?}: Content-Length must be the GET body length"
            );

            // On the wire: nothing follows the head.
            let ae_line = ae
                .map(|v| format!("Accept-Encoding: {v}\r\n"))
                .unwrap_or_default();
            let r = raw::exchange(
                &server.addr,
                format!(
                    "HEAD {path} HTTP/1.1\r\nHost: {}\r\n{ae_line}Connection: close\r\n\r\n",
                    server.addr
                )
                .as_bytes(),
            );
            assert_eq!(r.status, 200, "raw HEAD {path}");
            assert!(
                r.body.is_empty(),
                "raw HEAD {path}: {} body bytes followed the head",
                r.body.len()
            );
            assert_eq!(
                r.header("content-length"),
                Some(g.body.len().to_string().as_str()),
                "raw HEAD {path} {ae:?}"
            );
            assert_eq!(r.header("etag"), g.header("etag"), "raw HEAD {path}");
        }
    }

    // HEAD then GET pipelined on one keep-alive connection: the GET's response starts right
    // after the HEAD's head (a HEAD that sent a body would corrupt the framing).
    let path = "/rss.xml";
    let g = get(&server.at(path), &[]);
    let buf = raw::send(
        &server.addr,
        format!(
            "HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    let first = raw::parse(&buf);
    assert_eq!(first.status, 200);
    let second = raw::parse(&first.body);
    assert_eq!(second.status, 200, "GET after HEAD");
    assert_eq!(second.body, g.body, "GET after HEAD: body");
}

// ---------------------------------------------------------------------------------------------
// Last-Modified is never later than the response (RFC 9110 §8.8.2.1)

#[test]
fn last_modified_is_never_in_the_future() {
    let site = site();
    // A post whose `updated` is far ahead, and one dated in the future published by --future.
    site.write_post(
        "2024-03-01-typo.md",
        "---\ntitle: Updated far ahead\ndate: 2024-03-01 10:00:00 +0000\n\
         updated: 2099-01-01 00:00:00 +0000\ncategories: tech\n---\nSome text.\n",
    );
    site.write_post(
        "2098-05-05-ahead.md",
        "---\ntitle: Dated ahead\ndate: 2098-05-05 10:00:00 +0000\ncategories: tech\n---\nMore.\n",
    );
    let server = Server::start(&site, &["--future"]);
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    let pages = post_page_paths(&server);
    assert_eq!(pages.len(), 6, "{pages:?}");
    paths.extend(pages);
    for path in &paths {
        let r = get(&server.at(path), &[]);
        assert_eq!(r.status, 200, "{path}");
        let lm = http_date(r.h("last-modified"));
        assert!(
            lm <= SystemTime::now() + Duration::from_secs(1),
            "{path}: Last-Modified {} is in the future",
            r.h("last-modified")
        );
        // And a cache that revalidates with it gets a 304, not a stale-forever answer.
        let nm = get(
            &server.at(path),
            &[("If-Modified-Since", r.h("last-modified"))],
        );
        assert_eq!(nm.status, 304, "{path}");
    }
}
