//! Relative references in posts resolve to their assets — in the post page and in RSS, Atom
//! and JSON Feed — and `build` copies the assets.

use std::collections::BTreeMap;

use super::{noise, post, serve, SITE};
use crate::common::{regular_files, stderr, stdout, TempSite};

/// The content of each item of a feed (any format), by item title.
fn contents(feed: &[u8]) -> BTreeMap<String, String> {
    let feed = feed_rs::parser::parse(feed).expect("the feed parses");
    feed.entries
        .into_iter()
        .map(|e| {
            let title = e.title.map(|t| t.content).unwrap_or_default();
            let body = e.content.and_then(|c| c.body).unwrap_or_default();
            (title, body)
        })
        .collect()
}

/// The link of each item of a feed, by item title.
fn links(feed: &[u8]) -> BTreeMap<String, String> {
    let feed = feed_rs::parser::parse(feed).expect("the feed parses");
    feed.entries
        .into_iter()
        .map(|e| {
            let title = e.title.map(|t| t.content).unwrap_or_default();
            (
                title,
                e.links.first().map(|l| l.href.clone()).unwrap_or_default(),
            )
        })
        .collect()
}

/// A Markdown post and an HTML post (in a page-bundle directory), each showing an image beside
/// it, one referring to a file that is not there, and one with a root-relative reference.
fn site() -> TempSite {
    let site = TempSite::new();
    site.write_post(
        "2024-02-10-pics.md",
        &post(
            "Pics",
            "![diagram](images/pipeline.png)\n\n[the slides](./docs/talk%20slides.pdf)\n\n\
             ![gone](images/missing.png)\n\n![root](/images/pipeline.png)",
        ),
    );
    site.write_post(
        "trip/index.html",
        "---\ntitle: Trip\ndate: 2024-03-01 10:00:00 +0000\n---\n\
         <p><img src=\"map.jpg\" srcset=\"map.jpg 1x, ../images/pipeline.png 2x\"></p>\n\
         <p><img data-src=\"map.jpg\"></p>\n",
    );
    site.write_post_bytes("images/pipeline.png", &noise(1500));
    site.write_post_bytes("docs/talk slides.pdf", b"%PDF-1.4");
    site.write_post_bytes("trip/map.jpg", &noise(900));
    site
}

/// What every rendering of the two posts must say.
fn check_contents(what: &str, contents: &BTreeMap<String, String>) {
    let pics = &contents["Pics"];
    let png = format!("{SITE}/images/pipeline.png");
    assert!(pics.contains(&format!("src=\"{png}\"")), "{what}: {pics}");
    assert!(
        pics.contains(&format!("href=\"{SITE}/docs/talk%20slides.pdf\"")),
        "{what}: {pics}"
    );
    // A reference to no asset resolves against the post's URL, as before.
    assert!(
        pics.contains(&format!("src=\"{SITE}/2024/02/10/images/missing.png\"")),
        "{what}: {pics}"
    );
    let trip = &contents["Trip"];
    let map = format!("{SITE}/trip/map.jpg");
    assert!(trip.contains(&format!("src=\"{map}\"")), "{what}: {trip}");
    assert!(
        trip.contains(&format!("srcset=\"{map} 1x, {png} 2x\"")),
        "{what}: {trip}"
    );
}

#[test]
fn relative_references_resolve_to_assets_in_post_pages_and_every_feed_format() {
    let site = site();
    let server = super::serve(&site, "");
    let mut pages = BTreeMap::new();
    for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
        let r = server.get(feed);
        assert_eq!(r.status, 200, "{feed}");
        check_contents(feed, &contents(&r.body));
        pages = links(&r.body);
    }
    // The post pages, at the links the feeds give.
    let mut page_contents = BTreeMap::new();
    for (title, link) in pages {
        let path = link.strip_prefix(SITE).expect("an item link on the site");
        let r = server.get(path);
        assert_eq!(r.status, 200, "{title}: {path}");
        page_contents.insert(title, r.text());
    }
    check_contents("post page", &page_contents);
    // And the URLs they name are served.
    for path in [
        "/images/pipeline.png",
        "/docs/talk%20slides.pdf",
        "/trip/map.jpg",
    ] {
        assert_eq!(server.get(path).status, 200, "{path}");
    }
}

#[test]
fn build_copies_assets_like_serve_and_removes_stale_copies() {
    let site = site();
    site.write_post("rss.xml", "an asset where the site's own feed goes");
    std::fs::create_dir_all(site.out()).unwrap();
    std::fs::write(site.out().join("notes.txt"), "not feedsmith's").unwrap();
    let o = site.build(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("and 3 assets"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("rss.xml") && stderr(&o).contains("not copied"),
        "the shadowed asset is reported: {}",
        stderr(&o)
    );
    let built = regular_files(&site.out());
    for (rel, src) in [
        ("images/pipeline.png", "images/pipeline.png"),
        ("docs/talk slides.pdf", "docs/talk slides.pdf"),
        ("trip/map.jpg", "trip/map.jpg"),
    ] {
        let want = std::fs::read(site.posts().join(src)).unwrap();
        assert!(built.get(rel) == Some(&want), "{rel} copied as it is");
    }
    let rss = std::fs::read(site.out().join("rss.xml")).unwrap();
    check_contents("built rss.xml", &contents(&rss));
    assert!(
        !built.contains_key("trip/index.html"),
        "posts are not assets"
    );

    // serve leaves the same copies (and the same manifest of them).
    let copies = |files: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .filter(|(k, _)| {
                k.starts_with("images/")
                    || k.starts_with("docs/")
                    || k.starts_with("trip/")
                    || k.as_str() == ".feedsmith-assets.json"
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    std::fs::remove_dir_all(site.out()).unwrap();
    let server = serve(&site, "");
    let served = regular_files(&site.out());
    drop(server);
    assert_eq!(copies(&served).len(), 4);
    assert!(
        copies(&served) == copies(&built),
        "serve and build copy alike"
    );

    // An asset gone: its copy goes with it; a file feedsmith did not write stays.
    std::fs::write(site.out().join("notes.txt"), "not feedsmith's").unwrap();
    std::fs::remove_file(site.posts().join("trip/map.jpg")).unwrap();
    let o = site.build(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!site.out().join("trip/map.jpg").exists());
    assert!(site.out().join("images/pipeline.png").is_file());
    assert!(site.out().join("notes.txt").is_file());
    // Unchanged assets are not copied again: the copy is the same file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let inode = || {
            std::fs::metadata(site.out().join("images/pipeline.png"))
                .unwrap()
                .ino()
        };
        let before = inode();
        let unchanged = site.build(&[]);
        assert!(
            stdout(&unchanged).contains("and 2 assets"),
            "{}",
            stdout(&unchanged)
        );
        assert_eq!(inode(), before);
    }
}
