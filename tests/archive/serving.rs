//! Conditional requests, errors, config, `build` and restarts for archive pages.

use super::*;

#[test]
fn conditional_and_errors() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    for route in [
        "/archive/0/rss.xml",
        "/archive/11/rss.xml",
        "/archive/11/feed.json",
        "/archive/12/atom.xml",
        "/archive/x/rss.xml",
        "/archive/-1/rss.xml",
        "/archive/1.0/rss.xml",
        "/archive/99999999999999999999999/rss.xml",
        "/archive/1/nope.xml",
        "/archive/1/",
        "/archive/rss.xml",
        "/archive/1/rss.xml/extra",
        "/categories/news/archive/5/rss.xml",
        "/categories/news/archive/0/feed.json",
        "/categories/rare/archive/1/rss.xml",
        "/tags/solo/archive/1/feed.json",
        "/tags/four/archive/1/atom.xml",
        "/tags/nosuchtag/archive/1/rss.xml",
    ] {
        let r = server.get(route);
        assert_eq!(r.status, 404, "GET {route}");
    }

    for fmt in Fmt::ALL {
        for route in [
            format!("/archive/1/{}", fmt.file()),
            format!("/archive/10/{}", fmt.file()),
            format!("/categories/news/archive/2/{}", fmt.file()),
            encode(&format!("/tags/厦门/archive/1/{}", fmt.file())),
        ] {
            let url = server.at(&route);
            // HEAD first (the page has not been asked for yet), then GET: same headers.
            let h = request("HEAD", &url, &[]);
            let g = get(&url, &[]);
            check_archive_headers(&g, &route, &url, fmt, ARCHIVE_MAX_AGE);
            let etag = g.h("etag").to_owned();
            assert_eq!(h.status, 200, "HEAD {route}");
            assert!(h.body.is_empty(), "HEAD {route}: body");
            for name in [
                "content-type",
                "content-length",
                "etag",
                "last-modified",
                "cache-control",
                "vary",
                "link",
            ] {
                assert_eq!(h.header(name), g.header(name), "HEAD {route}: {name}");
            }

            // Conditional GET and HEAD.
            for (method, hdr, value) in [
                ("GET", "If-None-Match", etag.as_str()),
                ("HEAD", "If-None-Match", etag.as_str()),
                ("GET", "If-Modified-Since", g.h("last-modified")),
            ] {
                let nm = request(method, &url, &[(hdr, value)]);
                let what = format!("{method} {route} {hdr}");
                assert_eq!(nm.status, 304, "{what}");
                assert!(nm.body.is_empty(), "{what}: body");
                assert_eq!(nm.h("etag"), etag, "{what}");
                assert_eq!(
                    nm.h("cache-control"),
                    crate::common::cache_control(ARCHIVE_MAX_AGE),
                    "{what}"
                );
                assert_eq!(nm.h("vary"), crate::common::FEED_VARY, "{what}");
            }
            let r = get(&url, &[("If-None-Match", "\"0000000000000000\"")]);
            assert_eq!(r.status, 200, "{route}: mismatched If-None-Match");
            assert_eq!(r.body, g.body, "{route}");

            // gzip: its own representation, its own ETag.
            let gz = get(&url, &[("Accept-Encoding", "gzip")]);
            assert_eq!(gz.status, 200, "{route} gzip");
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{route}");
            assert_eq!(gz.h("vary"), crate::common::FEED_VARY, "{route} gzip");
            assert_eq!(
                gz.h("cache-control"),
                crate::common::cache_control(ARCHIVE_MAX_AGE),
                "{route} gzip"
            );
            let gz_etag = gz.h("etag").to_owned();
            assert_strong_etag(&gz_etag, &route);
            assert_ne!(gz_etag, etag, "{route}: gzip shares the identity ETag");
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&gz.body[..])
                .read_to_end(&mut plain)
                .expect("valid gzip");
            assert_eq!(plain, g.body, "{route}: gunzipped body");
            let nm = get(
                &url,
                &[("Accept-Encoding", "gzip"), ("If-None-Match", &gz_etag)],
            );
            assert_eq!(nm.status, 304, "{route}: gzip If-None-Match");
            let h = request("HEAD", &url, &[("Accept-Encoding", "gzip")]);
            assert_eq!(
                h.header("etag"),
                Some(gz_etag.as_str()),
                "HEAD {route} gzip"
            );
            assert_eq!(h.header("content-length"), gz.header("content-length"));
        }

        // The subscription document keeps its own max-age.
        for route in [
            format!("/{}", fmt.file()),
            format!("/categories/news/{}", fmt.file()),
        ] {
            let r = server.get(&route);
            assert_eq!(r.status, 200, "{route}");
            assert_eq!(
                r.h("cache-control"),
                crate::common::cache_control(SUB_MAX_AGE),
                "{route}"
            );
        }
    }
}

#[test]
fn archive_max_age_comes_from_the_config() {
    let site = site_with(N_POSTS, "limit = 4", "max_age = 60\narchive_max_age = 1234");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let all = scopes(&defs(N_POSTS));
    let x = Expect {
        server: &server,
        base: &base,
        paging: Paging::new(4, 0),
        sub_max_age: 60,
        archive_max_age: 1234,
    };
    for dir in ["", "/categories/tech"] {
        for fmt in Fmt::ALL {
            walk(&x, scope(&all, dir), fmt);
        }
    }
    let r = get(&server.at("/archive/1/rss.xml"), &[("If-None-Match", "*")]);
    assert_eq!(r.status, 304);
    assert_eq!(r.h("cache-control"), crate::common::cache_control(1234));
}

#[test]
fn no_archives_when_disabled_or_small() {
    // (posts, [feeds], paging): archives off; limit 0 (all posts); n = L.
    let cases = [
        (N_POSTS, "limit = 4\narchive = false", {
            let mut p = Paging::new(4, 0);
            p.archive = false;
            p
        }),
        (N_POSTS, "limit = 0", Paging::new(0, 0)),
        (4, "limit = 4", Paging::new(4, 0)),
    ];
    for (n, feeds, paging) in cases {
        let site = site_with(n, feeds, "");
        let server = Server::start(&site, &[]);
        let base = base_of(&server);
        let all = scopes(&defs(n));
        let x = Expect {
            server: &server,
            base: &base,
            paging,
            sub_max_age: SUB_MAX_AGE,
            archive_max_age: ARCHIVE_MAX_AGE,
        };
        for s in &all {
            for fmt in Fmt::ALL {
                let pages = walk(&x, s, fmt);
                assert!(pages.is_empty(), "{feeds}: {}", s.route(None, fmt));
            }
        }
        let (_, doc) = fetch_doc(&server, "/feed.json", Fmt::Json);
        let want = if paging.limit == 0 { n } else { n.min(4) };
        assert_eq!(doc.titles.len(), want, "{feeds}");
        for route in [
            "/archive/1/rss.xml",
            "/archive/1/atom.xml",
            "/archive/1/feed.json",
            "/categories/news/archive/1/rss.xml",
            "/tags/web/archive/1/feed.json",
        ] {
            assert_eq!(server.get(route).status, 404, "{feeds}: GET {route}");
        }
        assert!(
            !site.out().join("archive").exists(),
            "{feeds}: feeds/archive written"
        );
    }
}

#[test]
fn build_writes_archive_pages() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let out = site.build(&[]);
    assert!(out.status.success(), "build failed: {}", stderr(&out));
    let paging = Paging::new(4, 0);
    let all = scopes(&defs(N_POSTS));

    // Read everything the build wrote before a server rewrites `feeds/`.
    let mut built: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for s in &all {
        let c = layout(&s.posts, paging).pages.len();
        for fmt in Fmt::ALL {
            for k in 1..=c {
                let route = s.route(Some(k), fmt);
                let path: PathBuf = site.out().join(&route[1..]);
                let bytes = fs::read(&path)
                    .unwrap_or_else(|e| panic!("build did not write feeds{route}: {e}"));
                parse_doc(fmt, &bytes)
                    .unwrap_or_else(|e| panic!("feeds{route} does not parse: {e}"));
                built.insert(route, bytes);
            }
            let past = s.route(Some(c + 1), fmt);
            assert!(
                !site.out().join(&past[1..]).exists(),
                "build wrote feeds{past}"
            );
        }
        if c == 0 {
            let dir = site
                .out()
                .join(format!("{}/archive", s.dir).trim_start_matches('/'));
            assert!(!dir.exists(), "build wrote {}", dir.display());
        }
    }
    assert_eq!(
        built.len(),
        3 * all
            .iter()
            .map(|s| layout(&s.posts, paging).pages.len())
            .sum::<usize>()
    );

    // `serve` with the same site URL serves the same bytes at the same routes.
    let server = Server::start(&site, &["--url", "https://example.com"]);
    let served = walk_everything(
        &Expect {
            server: &server,
            base: "https://example.com",
            paging,
            sub_max_age: SUB_MAX_AGE,
            archive_max_age: ARCHIVE_MAX_AGE,
        },
        &all,
    );
    assert_eq!(
        served
            .keys()
            .map(|(r, _)| r.clone())
            .collect::<BTreeSet<_>>(),
        built.keys().cloned().collect::<BTreeSet<_>>()
    );
    for ((route, _), body) in &served {
        assert!(
            built[route] == *body,
            "{route}: build wrote\n{}\nserve serves\n{}",
            String::from_utf8_lossy(&built[route]),
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn config_errors() {
    let site = site_with(N_POSTS, "limit = 4\narchive_page = 5", "");
    let out = site.build(&[]);
    assert!(
        !out.status.success(),
        "archive_page > limit was accepted: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("archive_page"),
        "the error does not name feeds.archive_page: {}",
        stderr(&out)
    );

    // archive_page = limit is allowed: 19 past the limit in pages of 4 → 5 pages.
    write_config(&site, "limit = 4\narchive_page = 4", "");
    let out = site.build(&[]);
    assert!(
        out.status.success(),
        "archive_page = limit: {}",
        stderr(&out)
    );
    for k in 1..=5 {
        let bytes = fs::read(site.out().join(format!("archive/{k}/feed.json")))
            .unwrap_or_else(|e| panic!("feeds/archive/{k}/feed.json: {e}"));
        let doc = parse_doc(Fmt::Json, &bytes).unwrap();
        assert_eq!(doc.titles.len(), 4, "page {k}");
    }
    assert!(!site.out().join("archive/6").exists());
    let doc = parse_doc(Fmt::Json, site.read_out("feed.json").as_bytes()).unwrap();
    // The feed keeps the newest 4; page 5 (posts 19–22, oldest first) repeats three of them.
    assert_eq!(doc.titles, ["Post 22", "Post 21", "Post 20", "Post 19"]);

    // Wrongly typed values are named too.
    for (feeds, server, key) in [
        ("limit = 4\narchive = \"yes\"", "", "archive"),
        ("limit = 4", "archive_max_age = -1", "archive_max_age"),
        ("limit = 4\narchive_page = -2", "", "archive_page"),
    ] {
        write_config(&site, feeds, server);
        let out = site.build(&[]);
        assert!(!out.status.success(), "{feeds} {server}: accepted");
        assert!(
            stderr(&out).contains(key),
            "{feeds} {server}: error does not name {key}: {}",
            stderr(&out)
        );
    }
}

/// Validators of archive pages across restarts. Unchanged pages keep their ETag and
/// Last-Modified. A page whose bytes changed since a client got its copy must not answer that
/// copy's `If-Modified-Since` with 304 — the way the subscription documents behave — whether
/// it changed while no server ran, or after a restart before the new server served it.
#[test]
fn archive_validators_across_restarts() {
    let site = site_with(N_POSTS, "limit = 4", "");
    // A fixed site URL: the default (the server's own, ephemeral, address) changes the bytes.
    const URL: &[&str] = &["--url", "https://example.com"];
    let mut posts = defs(N_POSTS);
    let validators = |server: &Server, route: &str| -> (String, String) {
        let r = server.get(route);
        assert_eq!(r.status, 200, "{route}");
        (r.h("etag").to_owned(), r.h("last-modified").to_owned())
    };
    let fmt_routes = |k: usize| Fmt::ALL.map(|f| format!("/archive/{k}/{}", f.file()));
    // Post 0 is on page 1, post 22 in the subscription documents.
    let watched: Vec<String> = fmt_routes(1)
        .into_iter()
        .chain(fmt_routes(10))
        .chain(Fmt::ALL.map(|f| format!("/{}", f.file())))
        .collect();

    let mut a = Server::start(&site, URL);
    let first: BTreeMap<String, (String, String)> = watched
        .iter()
        .map(|r| (r.clone(), validators(&a, r)))
        .collect();
    assert!(a.stop(Duration::from_secs(15)).success());

    // Nothing changed: the same validators.
    let mut b = Server::start(&site, URL);
    for (route, v) in &first {
        assert_eq!(&validators(&b, route), v, "{route}: across a restart");
    }
    assert!(b.stop(Duration::from_secs(15)).success());

    // Whether a copy with validators `v` of `route` is (wrongly) reported unchanged.
    let mut problems = Vec::new();
    let mut check_changed = |server: &Server, route: &str, when: &str| {
        let (etag, lm) = &first[route];
        let r = get(&server.at(route), &[("If-Modified-Since", lm)]);
        if r.status != 200 {
            problems.push(format!(
                "{when}: GET {route} with If-Modified-Since: {lm} (the copy before the edit) → \
                 {}, Last-Modified now {}, ETag {} (was {etag})",
                r.status,
                r.h("last-modified"),
                r.h("etag"),
            ));
        }
    };

    // Last-Modified has whole seconds: let the clock leave the second of the newest one, so
    // that an edit now is observable by `If-Modified-Since` at all.
    let newest = first
        .values()
        .map(|(_, lm)| http_date(lm))
        .max()
        .expect("validators");
    while SystemTime::now() < newest + Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
    }

    // Posts 0 and 22 retitled while no server runs: page 1 and the subscription documents
    // changed, page 10 did not.
    posts[0].title = "Post 00, edited offline".to_owned();
    site.write_post(&posts[0].file, &posts[0].text());
    posts[22].title = "Post 22, edited offline".to_owned();
    site.write_post(&posts[22].file, &posts[22].text());
    let c = Server::start(&site, URL);
    for route in ["/rss.xml", "/archive/1/rss.xml"] {
        check_changed(&c, route, "edited while no server ran");
    }
    for route in fmt_routes(10) {
        assert_eq!(validators(&c, &route), first[&route], "{route}");
    }

    // Retitled again while this server runs, before it served Atom and JSON page 1 or
    // /feed.json (the wait looks at another scope's page and at /atom.xml).
    posts[0].title = "Post 00, edited online".to_owned();
    site.write_post(&posts[0].file, &posts[0].text());
    wait_rss_title(&c, "/tags/rust/archive/1/rss.xml", "Post 00, edited online");
    for route in ["/feed.json", "/archive/1/atom.xml", "/archive/1/feed.json"] {
        check_changed(&c, route, "edited after a restart");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// With the defaults (limit 50, archives on), a site of 60 posts has the newest 50 in every
/// format of its subscription feed: archives add pages, they do not shorten the feed.
#[test]
fn default_archives_are_the_whole_site_in_atom() {
    let site = TempSite::new();
    for p in defs(60) {
        site.write_post(&p.file, &p.text());
    }
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = scopes(&defs(60));
    let everything = &scope(&all, "").posts;
    assert!(everything.len() > 50, "the fixture must exceed the limit");
    let newest = everything[..50].to_vec();
    for fmt in Fmt::ALL {
        let bytes = fs::read(site.out().join(fmt.file())).unwrap();
        let doc = parse_doc(fmt, &bytes).unwrap();
        // Every feed keeps its newest `limit` items, archives or not.
        assert_eq!(doc.titles, newest, "{}", fmt.file());
        // Atom, RFC 5005's own format, links the page holding the 10 beyond it (pages of 25,
        // from the oldest); RSS and JSON Feed have none and say so by linking none.
        let archived = fmt == Fmt::Atom;
        assert_eq!(
            site.out().join("archive/1").join(fmt.file()).is_file(),
            archived,
            "{}",
            fmt.file()
        );
        assert_eq!(doc.older.is_some(), archived, "{}", fmt.file());
        assert!(!site.out().join("archive/2").exists());
    }
    // No term's history is copied, even where a term has more posts than its feed holds:
    // term feeds link no archive and none is written.
    let config = site.write_config("small.toml", "[feeds]\nlimit = 4\n");
    let out = site.build(&["--config", &config]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(site.out().join("archive/3/atom.xml").is_file());
    assert!(!site.out().join("archive/1/rss.xml").exists());
    let terms: Vec<&Scope> = all.iter().filter(|s| !s.dir.is_empty()).collect();
    assert!(
        terms.iter().filter(|s| s.posts.len() > 4).count() >= 3,
        "the fixture's terms must exceed the feed"
    );
    for s in terms {
        for fmt in Fmt::ALL {
            let rel = format!("{}/{}", s.dir.trim_start_matches('/'), fmt.file());
            let doc = parse_doc(fmt, &fs::read(site.out().join(&rel)).unwrap()).unwrap();
            assert_eq!(doc.older, None, "{rel}");
        }
        let dir = site
            .out()
            .join(s.dir.trim_start_matches('/'))
            .join("archive");
        assert!(!dir.exists(), "{} written", dir.display());
    }
}
