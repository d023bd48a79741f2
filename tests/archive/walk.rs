//! Walking every scope and format, and archive pages that stay put as posts arrive.

use super::*;

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn walk_every_scope_and_format() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    let all = scopes(&defs(N_POSTS));
    let paging = Paging::new(4, 0);
    // The site has scopes with several pages, with one, and with none (n < L, n = L).
    assert_eq!(pages_of(&all, "", paging), 10);
    assert_eq!(pages_of(&all, "/categories/news", paging), 4);
    assert_eq!(pages_of(&all, "/tags/web", paging), 7);
    assert_eq!(pages_of(&all, "/tags/厦门", paging), 1);
    assert_eq!(pages_of(&all, "/tags/first5", paging), 1);
    assert_eq!(pages_of(&all, "/tags/four", paging), 0);
    assert_eq!(pages_of(&all, "/categories/rare", paging), 0);
    assert_eq!(pages_of(&all, "/tags/solo", paging), 0);
    let base = base_of(&server);
    let x = Expect {
        server: &server,
        base: &base,
        paging,
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    let pages = walk_everything(&x, &all);
    let want: usize = all.iter().map(|s| pages_of(&all, &s.dir, paging)).sum();
    assert_eq!(pages.len(), want * 3);
}

#[test]
fn walk_every_scope_and_format_with_explicit_page_size() {
    let site = site_with(N_POSTS, "limit = 5\narchive_page = 3", "");
    let server = Server::start(&site, &[]);
    let all = scopes(&defs(N_POSTS));
    let paging = Paging::new(5, 3);
    assert_eq!(pages_of(&all, "", paging), 6);
    assert_eq!(pages_of(&all, "/categories/news", paging), 3);
    assert_eq!(pages_of(&all, "/tags/web", paging), 5);
    assert_eq!(pages_of(&all, "/tags/first5", paging), 0);
    let base = base_of(&server);
    walk_everything(
        &Expect {
            server: &server,
            base: &base,
            paging,
            sub_max_age: SUB_MAX_AGE,
            archive_max_age: ARCHIVE_MAX_AGE,
        },
        &all,
    );
}

/// What [`snapshot`] records of one archive page.
struct Seen {
    etag: String,
    last_modified: String,
    titles: Vec<String>,
}

/// Every archive page of the all-posts scope, by (format, page).
fn snapshot(server: &Server, pages: usize) -> BTreeMap<(&'static str, usize), Seen> {
    let mut out = BTreeMap::new();
    for fmt in Fmt::ALL {
        for k in 1..=pages {
            let route = format!("/archive/{k}/{}", fmt.file());
            let (r, doc) = fetch_doc(server, &route, fmt);
            let seen = Seen {
                etag: r.h("etag").to_owned(),
                last_modified: r.h("last-modified").to_owned(),
                titles: doc.titles,
            };
            out.insert((fmt.file(), k), seen);
        }
    }
    out
}

/// Waits until `/feed.json` lists `title`.
fn wait_listed(server: &Server, title: &str) {
    wait_for(
        &format!("/feed.json to list {title}"),
        DEADLINE,
        Some(server),
        || {
            let r = server.get("/feed.json");
            let doc = parse_doc(Fmt::Json, &r.body)?;
            if doc.titles.iter().any(|t| t == title) {
                Ok(())
            } else {
                Err(format!("{:?}", doc.titles))
            }
        },
    );
}

#[test]
fn archive_pages_stable_when_a_new_post_arrives() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let paging = Paging::new(4, 0);
    // 23 posts: 19 past the limit, 10 pages covering 20 posts; the subscription doc holds the
    // newest 4 (one of them also on page 10).
    let before = snapshot(&server, 10);

    // Post 23: 20 past the limit, still 10 pages; the subscription doc moves on by one.
    let p = post_def(N_POSTS);
    site.write_post(&p.file, &p.text());
    wait_listed(&server, &p.title);
    for ((file, k), seen) in &before {
        let route = format!("/archive/{k}/{file}");
        let r = server.get(&route);
        assert_eq!(r.status, 200, "{route}");
        assert_eq!(
            r.h("etag"),
            seen.etag,
            "{route}: an archive page changed when a new post arrived"
        );
        assert_eq!(
            r.h("last-modified"),
            seen.last_modified,
            "{route}: same bytes, new Last-Modified"
        );
        let fmt = Fmt::ALL.into_iter().find(|f| f.file() == *file).unwrap();
        assert_eq!(
            parse_doc(fmt, &r.body).unwrap().titles,
            seen.titles,
            "{route}"
        );
        let nm = get(&server.at(&route), &[("If-None-Match", &seen.etag)]);
        assert_eq!(nm.status, 304, "{route}: If-None-Match with the old ETag");
        let ims = get(
            &server.at(&route),
            &[("If-Modified-Since", &seen.last_modified)],
        );
        assert_eq!(
            ims.status, 304,
            "{route}: If-Modified-Since the old Last-Modified"
        );
    }
    let x = Expect {
        server: &server,
        base: &base,
        paging,
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    let all = scopes(&defs(N_POSTS + 1));
    for fmt in Fmt::ALL {
        walk(&x, scope(&all, ""), fmt);
    }

    // Post 24: 21 past the limit, so page 11 appears with posts 20 and 21.
    let p = post_def(N_POSTS + 1);
    site.write_post(&p.file, &p.text());
    wait_listed(&server, &p.title);
    for ((file, k), seen) in &before {
        let route = format!("/archive/{k}/{file}");
        let fmt = Fmt::ALL.into_iter().find(|f| f.file() == *file).unwrap();
        let (r, doc) = fetch_doc(&server, &route, fmt);
        assert_eq!(doc.titles, seen.titles, "{route}: items changed");
        if *k < 10 || fmt == Fmt::Json {
            // A JSON page links only to older pages, so the former newest one stays as it was.
            assert_eq!(
                r.h("etag"),
                seen.etag,
                "{route}: an old archive page changed"
            );
            assert_eq!(r.h("last-modified"), seen.last_modified, "{route}");
        } else {
            assert_eq!(
                doc.newer.as_deref(),
                Some(&*format!("{base}/archive/11/{file}")),
                "{route}: the former newest page links the new one"
            );
        }
    }
    let all = scopes(&defs(N_POSTS + 2));
    for fmt in Fmt::ALL {
        let pages = walk(&x, scope(&all, ""), fmt);
        assert_eq!(pages.len(), 11, "{fmt:?}");
        let (_, doc) = fetch_doc(&server, &format!("/archive/11/{}", fmt.file()), fmt);
        assert_eq!(doc.titles, ["Post 21", "Post 20"], "{fmt:?}");
    }
}

#[test]
fn edit_of_an_old_post_changes_its_archive_page() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let paging = Paging::new(4, 0);
    let mut posts = defs(N_POSTS);
    let all = scopes(&posts);
    // Post 0 is in no subscription document: record them all.
    let mut sub_etags = BTreeMap::new();
    for s in &all {
        for fmt in Fmt::ALL {
            let route = s.route(None, fmt);
            let (r, doc) = fetch_doc(&server, &route, fmt);
            assert!(!doc.titles.iter().any(|t| t == "Post 00"), "{route}");
            sub_etags.insert(route, r.h("etag").to_owned());
        }
    }

    posts[0].title = "Post 00, retitled".to_owned();
    site.write_post(&posts[0].file, &posts[0].text());
    wait_rss_title(&server, "/archive/1/rss.xml", "Post 00, retitled");
    // Page 1 of every format of every scope holding post 0 shows the new title.
    for dir in [
        "",
        "/categories/news",
        "/tags/rust",
        "/tags/five",
        "/tags/first5",
    ] {
        for fmt in Fmt::ALL {
            let route = format!("{dir}/archive/1/{}", fmt.file());
            let (_, doc) = fetch_doc(&server, &route, fmt);
            assert!(
                doc.titles.iter().any(|t| t == "Post 00, retitled"),
                "{route}: {:?}",
                doc.titles
            );
        }
    }
    for (route, etag) in &sub_etags {
        let r = server.get(&encode(route));
        assert_eq!(r.h("etag"), etag, "{route}: subscription doc changed");
    }
    let x = Expect {
        server: &server,
        base: &base,
        paging,
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    walk_everything(&x, &scopes(&posts));

    // Removing it shifts every page: 22 posts, 9 pages; tags first5 and five drop to 4 posts
    // and lose their only page.
    fs::remove_file(site.posts().join(&posts[0].file)).expect("remove post 0");
    posts.remove(0);
    wait_for(
        "/archive/10/rss.xml to go",
        DEADLINE,
        Some(&server),
        || match server.get("/archive/10/rss.xml").status {
            404 => Ok(()),
            s => Err(format!("status {s}")),
        },
    );
    walk_everything(&x, &scopes(&posts));

    // Moving the oldest post (1) from tech to news shifts both categories' pages.
    posts[0].category = "news";
    site.write_post(&posts[0].file, &posts[0].text());
    wait_for(
        "/categories/news/archive/1/feed.json to list Post 01",
        DEADLINE,
        Some(&server),
        || {
            let r = server.get("/categories/news/archive/1/feed.json");
            let doc = parse_doc(Fmt::Json, &r.body).map_err(|e| format!("{} {e}", r.status))?;
            if doc.titles.iter().any(|t| t == "Post 01") {
                Ok(())
            } else {
                Err(format!("{:?}", doc.titles))
            }
        },
    );
    walk_everything(&x, &scopes(&posts));
}

/// Pages nobody has asked for yet, asked for by several clients at once (identity and gzip)
/// or first with a conditional request, come out the same as when asked for one at a time.
#[test]
fn first_requests_of_a_page_agree() {
    let site = site_with(N_POSTS, "limit = 4", "");
    let server = Server::start(&site, &[]);
    for fmt in Fmt::ALL {
        for k in 2..=4 {
            let url = server.at(&format!("/archive/{k}/{}", fmt.file()));
            let results: Vec<Resp> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|i| {
                        let url = url.clone();
                        s.spawn(move || {
                            let ae: &[(&str, &str)] = if i % 2 == 0 {
                                &[]
                            } else {
                                &[("Accept-Encoding", "gzip")]
                            };
                            get(&url, ae)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let plain = get(&url, &[]);
            let gz = get(&url, &[("Accept-Encoding", "gzip")]);
            for (i, r) in results.iter().enumerate() {
                assert_eq!(r.status, 200, "{url} #{i}");
                let want = if i % 2 == 0 { &plain } else { &gz };
                assert_eq!(
                    r.header("content-encoding"),
                    want.header("content-encoding")
                );
                assert_eq!(r.h("etag"), want.h("etag"), "{url} #{i}");
                assert_eq!(r.h("last-modified"), plain.h("last-modified"), "{url} #{i}");
                assert_eq!(r.body, want.body, "{url} #{i}");
            }
        }
        // A conditional request first: `If-None-Match: *` matches any current page.
        let url = server.at(&format!("/archive/5/{}", fmt.file()));
        let nm = get(&url, &[("If-None-Match", "*")]);
        assert_eq!(nm.status, 304, "{url}: If-None-Match * first");
        let g = get(&url, &[]);
        assert_eq!(nm.h("etag"), g.h("etag"), "{url}");
        assert_eq!(nm.h("last-modified"), g.h("last-modified"), "{url}");
        // And on a page that does not exist, it matches nothing.
        let none = get(
            &server.at(&format!("/archive/11/{}", fmt.file())),
            &[("If-None-Match", "*")],
        );
        assert_eq!(none.status, 404, "If-None-Match * on a missing page");
    }
}

/// Only the configured formats get archive pages, and the others' routes are 404.
#[test]
fn only_configured_formats_get_archive_pages() {
    let site = site_with(N_POSTS, "limit = 4\nformats = [\"json\"]", "");
    let server = Server::start(&site, &[]);
    let base = base_of(&server);
    let all = scopes(&defs(N_POSTS));
    let x = Expect {
        server: &server,
        base: &base,
        paging: Paging::new(4, 0),
        sub_max_age: SUB_MAX_AGE,
        archive_max_age: ARCHIVE_MAX_AGE,
    };
    for s in &all {
        walk(&x, s, Fmt::Json);
    }
    for route in [
        "/archive/1/rss.xml",
        "/archive/1/atom.xml",
        "/categories/news/archive/1/rss.xml",
        "/tags/web/archive/2/atom.xml",
    ] {
        assert_eq!(server.get(route).status, 404, "GET {route}");
    }
}
