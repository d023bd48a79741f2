//! Conditional GET (RFC 9110 §13) and validators that survive a restart.

use super::*;

// ---------------------------------------------------------------------------------------------
// Conditional GET

#[test]
fn conditional_get() {
    let site = site();
    let server = Server::start(&site, &[]);
    let pages = post_page_paths(&server);
    let paths: Vec<String> = ["/rss.xml", "/feed.json", CN_TAG_RSS, "/index.html"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(pages.into_iter().take(1))
        .collect();
    for path in &paths {
        let url = server.at(path);
        let full = get(&url, &[]);
        assert_eq!(full.status, 200, "{path}");
        let etag = full.h("etag").to_owned();
        let lm = full.h("last-modified").to_owned();
        let lm_t = http_date(&lm);
        let before = fmt_date(lm_t - Duration::from_secs(1));
        let hour_after = fmt_date(lm_t + Duration::from_secs(3600));
        let long_ago = fmt_date(UNIX_EPOCH + Duration::from_secs(86_400));

        // If-None-Match.
        assert_304(&get(&url, &[("If-None-Match", &etag)]), &full, path);
        let r = get(&url, &[("If-None-Match", "\"0000000000000000\"")]);
        assert_eq!(r.status, 200, "{path}: mismatch");
        assert_eq!(r.body, full.body, "{path}");
        let list = format!("\"abc\", \"d,e\" , {etag}");
        assert_304(&get(&url, &[("If-None-Match", &list)]), &full, path);
        assert_304(
            &get(&url, &[("If-None-Match", &format!("W/{etag}"))]),
            &full,
            path,
        );
        assert_304(&get(&url, &[("If-None-Match", "*")]), &full, path);
        // The tag without its quotes is not the tag.
        let unquoted = etag.trim_matches('"').to_owned();
        assert_eq!(
            get(&url, &[("If-None-Match", &unquoted)]).status,
            200,
            "{path}: unquoted tag matched"
        );

        // If-Modified-Since: a time comparison.
        assert_304(&get(&url, &[("If-Modified-Since", &lm)]), &full, path);
        let r = get(&url, &[("If-Modified-Since", &before)]);
        assert_eq!(r.status, 200, "{path}: IMS one second before Last-Modified");
        assert_eq!(r.body, full.body, "{path}");
        assert_304(
            &get(&url, &[("If-Modified-Since", &hour_after)]),
            &full,
            path,
        );
        // Other HTTP-date forms are dates too (RFC 850, asctime).
        for later in ["Sunday, 06-Nov-33 08:49:37 GMT", "Sun Nov  6 08:49:37 2033"] {
            assert_304(&get(&url, &[("If-Modified-Since", later)]), &full, path);
        }
        let r = get(&url, &[("If-Modified-Since", "Sun Nov  6 08:49:37 1994")]);
        assert_eq!(r.status, 200, "{path}: asctime date long before");
        let r = get(&url, &[("If-Modified-Since", "not a date")]);
        assert_eq!(r.status, 200, "{path}: unparsable IMS must be ignored");

        // Both: If-None-Match wins.
        let r = get(
            &url,
            &[
                ("If-None-Match", "\"nope\""),
                ("If-Modified-Since", &hour_after),
            ],
        );
        assert_eq!(r.status, 200, "{path}: INM mismatch must beat a future IMS");
        assert_eq!(r.body, full.body, "{path}");
        assert_304(
            &get(
                &url,
                &[("If-None-Match", &etag), ("If-Modified-Since", &long_ago)],
            ),
            &full,
            path,
        );

        // If-Match.
        let r = get(&url, &[("If-Match", "\"nope\"")]);
        assert_eq!(r.status, 412, "{path}: If-Match mismatch");
        let r = get(&url, &[("If-Match", &etag)]);
        assert_eq!(r.status, 200, "{path}: If-Match match");
        assert_eq!(r.body, full.body, "{path}");

        // HEAD is conditional too.
        let r = request("HEAD", &url, &[("If-None-Match", &etag)]);
        assert_eq!(r.status, 304, "{path}: conditional HEAD");
        assert!(r.body.is_empty());
    }
}

/// A precondition compares with the ETag of the representation the request would get — its
/// content coding — never with another coding's (RFC 9110 §13.1.1, §13.1.2); a 304 names that
/// same representation.
#[test]
fn conditional_requests_compare_with_the_selected_representation() {
    let site = site();
    let server = Server::start(&site, &[]);
    let page = post_page_paths(&server).remove(0);
    // A kept document and a post page (rendered per request, its tags made without its bytes).
    for path in ["/rss.xml", page.as_str()] {
        let url = server.at(path);
        let full = |ae: &str| {
            let r = get(&url, &[("Accept-Encoding", ae)]);
            assert_eq!(r.status, 200, "{path} {ae}");
            r
        };
        let id = full("identity");
        let gz = full("gzip");
        let br = full("br");
        let zst = full("zstd");
        assert_eq!(gz.h("content-encoding"), "gzip", "{path}");
        assert_eq!(br.h("content-encoding"), "br", "{path}");
        assert_eq!(zst.h("content-encoding"), "zstd", "{path}");
        let (id_tag, gz_tag, br_tag, zst_tag) =
            (id.h("etag"), gz.h("etag"), br.h("etag"), zst.h("etag"));

        // Another coding's tag in If-None-Match: the selected representation is sent whole.
        let r = get(
            &url,
            &[("Accept-Encoding", "identity"), ("If-None-Match", zst_tag)],
        );
        assert_eq!(r.status, 200, "{path}: identity asked, zstd tag");
        assert_eq!(r.h("etag"), id_tag, "{path}");
        assert_eq!(r.body, id.body, "{path}");
        let r = get(
            &url,
            &[("Accept-Encoding", "gzip, br"), ("If-None-Match", gz_tag)],
        );
        assert_eq!(r.status, 200, "{path}: br selected, gzip tag");
        assert_eq!(r.h("content-encoding"), "br", "{path}");
        assert_eq!(r.h("etag"), br_tag, "{path}");
        assert_eq!(r.body, br.body, "{path}");
        let r = get(&url, &[("If-None-Match", &format!("W/{gz_tag}"))]);
        assert_eq!(r.status, 200, "{path}: no Accept-Encoding, weak gzip tag");
        assert_eq!(r.h("etag"), id_tag, "{path}");

        // Another coding's tag in If-Match: the precondition fails.
        for (ae, other) in [
            ("identity", gz_tag),
            ("gzip", id_tag),
            ("gzip, br", gz_tag),
            ("zstd", br_tag),
        ] {
            let r = get(&url, &[("Accept-Encoding", ae), ("If-Match", other)]);
            assert_eq!(r.status, 412, "{path}: If-Match {other} with {ae}");
        }

        // The selected representation's own tag: 304 naming it (200 for If-Match).
        for (ae, tag, sent) in [
            ("identity", id_tag, &id),
            ("gzip", gz_tag, &gz),
            ("gzip, br", br_tag, &br),
            ("zstd", zst_tag, &zst),
        ] {
            let what = format!("{path} {ae}");
            assert_304(
                &get(&url, &[("Accept-Encoding", ae), ("If-None-Match", tag)]),
                sent,
                &what,
            );
            // In a list with the other codings' tags, and weak.
            let list = format!("{id_tag}, {gz_tag}, {br_tag}, {zst_tag}");
            assert_304(
                &get(&url, &[("Accept-Encoding", ae), ("If-None-Match", &list)]),
                sent,
                &what,
            );
            assert_304(
                &get(
                    &url,
                    &[
                        ("Accept-Encoding", ae),
                        ("If-None-Match", &format!("W/{tag}")),
                    ],
                ),
                sent,
                &what,
            );
            // `*` matches whichever representation is selected.
            assert_304(
                &get(&url, &[("Accept-Encoding", ae), ("If-None-Match", "*")]),
                sent,
                &what,
            );
            let r = get(&url, &[("Accept-Encoding", ae), ("If-Match", tag)]);
            assert_eq!(r.status, 200, "{what}: If-Match with its own tag");
            assert_eq!(r.body, sent.body, "{what}");
            let r = get(&url, &[("Accept-Encoding", ae), ("If-Match", "*")]);
            assert_eq!(r.status, 200, "{what}: If-Match *");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Restart

fn validators(server: &Server, paths: &[String]) -> BTreeMap<String, (String, String)> {
    paths
        .iter()
        .map(|p| {
            let r = get(&server.at(p), &[]);
            assert_eq!(r.status, 200, "{p}");
            (
                p.clone(),
                (r.h("etag").to_owned(), r.h("last-modified").to_owned()),
            )
        })
        .collect()
}

#[test]
fn validators_survive_a_restart() {
    let site = site();
    let url_args = ["--url", "https://example.com"];
    let mut first = Server::start(&site, &url_args);
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    // Post pages, from the item links (on example.com, served here).
    let rss = get(&first.at("/rss.xml"), &[]);
    for (_, link) in item_links(&rss.body) {
        let path = link
            .strip_prefix("https://example.com")
            .unwrap_or_else(|| panic!("item link {link} not on --url"));
        paths.push(path.to_owned());
    }
    assert_eq!(paths.len(), documents().len() + 4);
    let before = validators(&first, &paths);
    let gz_before = get(&first.at("/rss.xml"), &[("Accept-Encoding", "gzip")]);
    let status = first.stop(EXIT_TIMEOUT);
    assert!(status.success(), "first server exited with {status}");
    // Make a changed mtime observable should the restart rewrite the files.
    std::thread::sleep(Duration::from_millis(1100));

    let second = Server::start(&site, &url_args);
    let after = validators(&second, &paths);
    for p in &paths {
        assert_eq!(
            before[p], after[p],
            "{p}: validators changed across a restart"
        );
    }
    let gz_after = get(&second.at("/rss.xml"), &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz_before.h("etag"), gz_after.h("etag"));
    // A cache holding the first run's tag revalidates against the second run.
    let (etag, lm) = &before["/rss.xml"];
    let r = get(&second.at("/rss.xml"), &[("If-None-Match", etag)]);
    assert_eq!(r.status, 304);
    let r = get(&second.at("/rss.xml"), &[("If-Modified-Since", lm)]);
    assert_eq!(r.status, 304);
}
