//! Content codings by Accept-Encoding, and a large site served from dictionary-compressed bytes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Compression

#[test]
fn compression_by_accept_encoding() {
    let site = site();
    check_compression(&Server::start(&site, &[]));
}

/// With no room kept for compressed forms, each is made again for every response: the same
/// bytes, the same ETag, revalidated the same way.
#[test]
fn compression_without_a_cache_of_compressed_forms() {
    let site = site();
    let config = site.write_config("nocache.toml", "[server]\ncompressed_cache_mb = 0\n");
    check_compression(&Server::start(&site, &["--config", &config]));
}

fn check_compression(server: &Server) {
    let mut paths: Vec<String> = documents().iter().map(|(p, _)| (*p).to_owned()).collect();
    paths.extend(post_page_paths(server));
    for path in &paths {
        let url = server.at(path);
        let id = get(&url, &[]);
        assert_eq!(id.status, 200);
        assert!(id.header("content-encoding").is_none());
        let id_etag = id.h("etag").to_owned();
        let mut coded_etags = vec![id_etag.clone()];
        for coding in ["gzip", "br", "zstd"] {
            let r = get(&url, &[("Accept-Encoding", coding)]);
            assert_eq!(r.status, 200, "{path} {coding}");
            assert_eq!(r.header("content-encoding"), Some(coding), "{path}");
            assert!(r.body.len() < id.body.len(), "{path} {coding}: not smaller");
            assert_eq!(decode(coding, &r.body), id.body, "{path} {coding}");
            assert_eq!(
                r.h("content-length").parse::<usize>().unwrap(),
                r.body.len(),
                "{path} {coding}"
            );
            assert_eq!(r.h("content-type"), id.h("content-type"), "{path}");
            assert_eq!(r.h("vary"), crate::common::vary_of(path), "{path}");
            assert_eq!(r.h("last-modified"), id.h("last-modified"), "{path}");
            let etag = r.h("etag").to_owned();
            assert_strong_etag(&etag, path);
            assert!(
                !coded_etags.contains(&etag),
                "{path} {coding}: ETag {etag} equals another representation's"
            );
            coded_etags.push(etag.clone());
            // Stable: the same representation again has the same tag and bytes.
            let again = get(&url, &[("Accept-Encoding", coding)]);
            assert_eq!(again.h("etag"), etag, "{path} {coding}");
            assert_eq!(again.body, r.body, "{path} {coding}");
            // Revalidating the encoded representation.
            let nm = get(
                &url,
                &[("Accept-Encoding", coding), ("If-None-Match", &etag)],
            );
            assert_304(&nm, &r, &format!("{path} {coding} revalidation"));
        }

        let r = get(&url, &[("Accept-Encoding", "gzip;q=0")]);
        assert!(r.header("content-encoding").is_none(), "{path}: gzip;q=0");
        assert_eq!(r.body, id.body);
        assert_eq!(r.h("etag"), id_etag);

        let r = get(&url, &[("Accept-Encoding", "*")]);
        let coding = r
            .header("content-encoding")
            .unwrap_or_else(|| panic!("{path}: `*` got no encoding"))
            .to_owned();
        assert_eq!(decode(&coding, &r.body), id.body, "{path} *");
        assert_ne!(r.h("etag"), id_etag, "{path} *");

        let r = get(&url, &[("Accept-Encoding", "gzip;q=0.5, br;q=0.9")]);
        assert_eq!(r.header("content-encoding"), Some("br"), "{path} q-values");
        assert_eq!(unbrotli(&r.body), id.body);

        let r = get(&url, &[("Accept-Encoding", "br;q=0.2, gzip;q=0.8")]);
        assert_eq!(
            r.header("content-encoding"),
            Some("gzip"),
            "{path} q-values"
        );

        let r = get(&url, &[("Accept-Encoding", "identity")]);
        assert!(r.header("content-encoding").is_none(), "{path}: identity");
        assert_eq!(r.body, id.body);
        assert_eq!(r.h("etag"), id_etag);

        let r = get(&url, &[("Accept-Encoding", "compress, deflate")]);
        assert!(
            r.header("content-encoding").is_none(),
            "{path}: unsupported only"
        );
        assert_eq!(r.body, id.body);
    }
}

// ---------------------------------------------------------------------------------------------
// A large site: content kept compressed with a dictionary trained on its own posts

/// `serve` keeps every post's content compressed, and for a site of 2,000 posts or more with
/// a dictionary trained on a sample of them: what it publishes must be byte for byte what
/// `build` (which keeps content as it is) writes, and so must a post added while it serves.
#[test]
fn a_large_site_served_with_a_content_dictionary_gives_the_bytes_build_writes() {
    let site = TempSite::new();
    let places = [
        "港口",
        "社区",
        "地铁三号线",
        "鼓浪屿景区",
        "harbour",
        "old town",
    ];
    let acts = ["加快推进", "持续优化", "opened", "全面提升", "reported on"];
    let body = |n: usize| {
        (0..6)
            .map(|i| {
                format!(
                    "{}{}了第{n}号项目的第{i}阶段，涉及金额约{}亿元。See [the report](/r/{n}/{i}).\n\n",
                    places[(n + i) % places.len()],
                    acts[(n * 7 + i) % acts.len()],
                    (n * 31 + i) % 97
                )
            })
            .collect::<String>()
    };
    for n in 0..2000 {
        let date = format!(
            "2024-{:02}-{:02} 08:{:02}:00 +0800",
            1 + n % 12,
            1 + n % 28,
            n % 60
        );
        site.write_post(
            &format!("2024-{n:04}.md"),
            &news_post(
                &format!("第{n}号项目 report {n}"),
                &date,
                ["port", "city", "metro"][n % 3],
                &format!("t{} t{}", n % 7, n % 11),
                &body(n),
            ),
        );
    }
    // Every scope archived in every format: many archive pages, each compared.
    let config = site.write_config(
        "nohub.toml",
        // No hub nor actors: `serve`'s feeds and pages would link them, `build`'s do not.
        "[hub]\nenabled = false\n[activitypub]\nenabled = false\n[feeds]\narchive_scopes = [\"site\", \"categories\", \"tags\"]\n\
         archive_formats = [\"rss\", \"atom\", \"json\"]\n",
    );
    let out = site.build(&["--config", &config]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let built = site.root().join("built");
    std::fs::rename(site.out(), &built).unwrap();

    let server = Server::start_with_env(
        &site,
        &["--config", &config, "--url", "https://example.com"],
        &[("RUST_LOG", Some("feedsmith=debug"))],
    );
    let log = server.stderr();
    assert!(
        log.contains("content dictionary from") && log.contains("trained"),
        "no dictionary trained:\n{log}"
    );
    let (want, got) = (
        common::regular_files(&built),
        common::regular_files(&site.out()),
    );
    // Archive pages are not written by `serve` but rendered when asked, from the posts'
    // compressed content: asked for here, every one of them.
    let (archives, written): (Vec<_>, Vec<_>) =
        want.iter().partition(|(rel, _)| rel.contains("archive/"));
    assert!(archives.len() > 100 && written.len() > 30);
    assert_eq!(
        written.iter().map(|(rel, _)| *rel).collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (rel, bytes) in &written {
        assert!(got[*rel] == **bytes, "feeds/{rel} differs from build's");
    }
    for (rel, bytes) in &archives {
        let r = get(&server.at(&format!("/{rel}")), &[]);
        assert_eq!(r.status, 200, "/{rel}");
        assert!(r.body == **bytes, "/{rel} differs from build's feeds/{rel}");
    }
    let rss = get(&server.at("/rss.xml"), &[]);
    assert_eq!(rss.body, want["rss.xml"]);

    // A post added now is compressed with the same dictionary; build agrees on it too.
    site.write_post(
        "2025-new.md",
        &news_post(
            "新项目",
            "2025-01-01 08:00:00 +0800",
            "port",
            "t1",
            &body(4242),
        ),
    );
    let fresh = common::http::wait_for(
        "the new post to be published",
        Duration::from_secs(20),
        Some(&server),
        || {
            let r = get(&server.at("/feed.json"), &[]);
            if String::from_utf8_lossy(&r.body).contains("新项目") {
                Ok(r)
            } else {
                Err(format!("{} bytes without it", r.body.len()))
            }
        },
    );
    let out = site.build(&["--config", &config]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(
        fresh.body,
        std::fs::read(site.out().join("feed.json")).unwrap()
    );
    let feed: serde_json::Value = serde_json::from_slice(&fresh.body).unwrap();
    let url = feed["items"][0]["url"].as_str().unwrap();
    assert!(url.starts_with("https://example.com/"), "{url}");
    let path = &url["https://example.com".len()..];
    let page = String::from_utf8(get(&server.at(path), &[]).body).unwrap();
    assert!(page.contains("第4242号项目的第0阶段"), "{page}");
    assert!(
        page.contains("<meta name=\"description\" content=\""),
        "{page}"
    );
}
