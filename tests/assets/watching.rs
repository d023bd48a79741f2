//! Assets followed while serving: added, changed and removed files are served, served anew and
//! gone within the debounce, their copies follow, and the posts that refer to them change.

use std::time::Duration;

use super::{ask, noise, post, serve, SITE};
use crate::common::http::wait_for;
use crate::common::TempSite;

/// How long a change may take to show up over HTTP.
const DEADLINE: Duration = Duration::from_secs(10);

/// The content of the single item of a feed (any format).
fn item_content(feed: &[u8]) -> Result<String, String> {
    let feed = feed_rs::parser::parse(feed).map_err(|e| format!("unparsable feed: {e}"))?;
    let entry = feed.entries.first().ok_or("no item")?;
    Ok(entry
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .unwrap_or_default())
}

#[test]
fn an_asset_added_changed_and_removed_while_serving() {
    let site = TempSite::new();
    site.write_post(
        "2024-02-10-new.md",
        &post("New", "![the diagram](images/new.png)"),
    );
    let server = serve(&site, "");
    let asset_url = format!("src=\"{SITE}/images/new.png\"");
    let miss_url = format!("src=\"{SITE}/2024/02/10/images/new.png\"");
    // Not there yet: a 404, and the reference resolves against the post's URL.
    assert_eq!(ask(&server, "GET", "/images/new.png", &[]).status, 404);
    for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
        let content = item_content(&server.get(feed).body).unwrap();
        assert!(content.contains(&miss_url), "{feed}: {content}");
    }

    // Added: served, copied, and the post's item (every format) now names it.
    let first = noise(200_000);
    site.write_post_bytes("images/new.png", &first);
    let etag = wait_for(
        "the new asset to be served",
        DEADLINE,
        Some(&server),
        || {
            let r = ask(&server, "GET", "/images/new.png", &[]);
            assert!(r.status == 200 || r.status == 404, "{}", r.status);
            if r.status == 200 && r.body == first {
                Ok(r.h("etag").to_owned())
            } else {
                Err(format!("{} ({} bytes)", r.status, r.body.len()))
            }
        },
    );
    for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
        wait_for(
            "the post to name the asset",
            DEADLINE,
            Some(&server),
            || {
                let content = item_content(&server.get(feed).body)?;
                if content.contains(&asset_url) {
                    Ok(())
                } else {
                    Err(format!("{feed}: {content}"))
                }
            },
        );
    }
    assert!(std::fs::read(site.out().join("images/new.png")).unwrap() == first);

    // Changed: the new bytes, under a new ETag.
    let second = noise(150_000);
    site.write_post_bytes("images/new.png", &second);
    wait_for("the changed asset", DEADLINE, Some(&server), || {
        let r = ask(&server, "GET", "/images/new.png", &[]);
        if r.status == 200 && r.body == second && r.header("etag") != Some(etag.as_str()) {
            Ok(())
        } else {
            assert!(
                r.status == 200,
                "no error while the file changes: {}",
                r.status
            );
            Err(format!("{} bytes, {:?}", r.body.len(), r.header("etag")))
        }
    });
    let r = ask(&server, "GET", "/images/new.png", &[("Range", "bytes=-10")]);
    assert!(r.status == 206 && r.body == second[second.len() - 10..]);

    // Removed: 404, its copy gone, and the post's item back as it was.
    std::fs::remove_file(site.posts().join("images/new.png")).unwrap();
    wait_for(
        "the asset to be gone",
        DEADLINE,
        Some(&server),
        || match ask(&server, "GET", "/images/new.png", &[]).status {
            404 => Ok(()),
            other => Err(other.to_string()),
        },
    );
    for feed in ["/rss.xml", "/atom.xml", "/feed.json"] {
        wait_for("the post to name no asset", DEADLINE, Some(&server), || {
            let content = item_content(&server.get(feed).body)?;
            if content.contains(&miss_url) {
                Ok(())
            } else {
                Err(format!("{feed}: {content}"))
            }
        });
    }
    wait_for("the copy to be removed", DEADLINE, Some(&server), || {
        if site.out().join("images/new.png").exists() {
            Err("still there".to_owned())
        } else {
            Ok(())
        }
    });
}

#[test]
fn an_asset_no_post_refers_to_is_published_alone() {
    let site = TempSite::new();
    site.write_post("2024-02-10-a.md", &post("A", "a"));
    let server = serve(&site, "");
    site.write_post("notes/readme.css", "p { color: teal }");
    wait_for("the asset to be served", DEADLINE, Some(&server), || {
        let r = ask(&server, "GET", "/notes/readme.css", &[]);
        if r.status == 200 && r.body == b"p { color: teal }" {
            Ok(())
        } else {
            Err(r.status.to_string())
        }
    });
    // A whole directory moved away takes its assets with it.
    std::fs::rename(site.posts().join("notes"), site.root().join("notes-away")).unwrap();
    wait_for(
        "the directory's asset to be gone",
        DEADLINE,
        Some(&server),
        || match ask(&server, "GET", "/notes/readme.css", &[]).status {
            404 => Ok(()),
            other => Err(other.to_string()),
        },
    );
}
