//! The posts: each an `Article` at its own URL (HTML for a browser), every outbox walking its
//! scope's posts newest first, and a post written under `posts/` appearing in both at once.

use super::*;
use crate::common::http::wait_for;

#[test]
fn a_post_url_is_an_article_for_the_fediverse_and_a_page_for_a_browser() {
    let site = site(1..=4);
    let server = serve(&site);
    let url = server.at("/news/2024/01/04/post-4.html");
    let r = fetch(&url, AP_ACCEPT);
    assert_eq!(r.h("vary"), "Accept, Accept-Encoding");
    assert_eq!(
        r.h("link"),
        format!("<{}>; rel=\"author\"", server.at("/ap/site"))
    );
    let etag = r.h("etag").to_owned();
    let article = json(&r, ACTIVITY_JSON, &url);
    assert_eq!(article["type"], "Article");
    assert_eq!(article["id"], url.as_str());
    assert_eq!(article["url"], url.as_str());
    assert_eq!(article["name"], "Post 4");
    assert_eq!(article["attributedTo"], server.at("/ap/site").as_str());
    assert_eq!(article["published"], "2024-01-04T10:00:00+08:00");
    assert_eq!(
        article["to"],
        serde_json::json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    assert_eq!(article["cc"][0], server.at("/ap/site/followers").as_str());
    let content = article["content"].as_str().unwrap();
    assert!(
        content.contains(&format!("href=\"{}\"", server.at("/about/"))),
        "absolute URLs: {content}"
    );
    assert!(article["summary"].as_str().unwrap().starts_with("Body 4"));
    let tags: Vec<(String, String)> = article["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "Hashtag");
            (
                t["name"].as_str().unwrap().to_owned(),
                t["href"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, page) in [
        ("#news", "/categories/news/"),
        ("#rust", "/tags/rust/"),
        ("#web", "/tags/web/"),
    ] {
        assert!(
            tags.contains(&(name.to_owned(), server.at(page))),
            "{name}: {tags:?}"
        );
    }
    // Asked again with its ETag: not modified.
    let again = get(&url, &[("Accept", AP_ACCEPT), ("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    // A browser gets the page, which says it varies too; so does anything else.
    for accept in [BROWSER, "*/*"] {
        let page = fetch(&url, accept);
        assert_eq!(page.status, 200);
        assert_eq!(
            page.h("content-type"),
            "text/html; charset=utf-8",
            "{accept}"
        );
        assert_eq!(page.h("vary"), "Accept, Accept-Encoding");
        assert_ne!(page.h("etag"), etag);
    }
}

#[test]
fn outboxes_hold_every_post_of_their_scope_newest_first() {
    let site = site(1..=25);
    let server = serve(&site);
    let (items, pages) = walk_outbox(&server.at("/ap/site/outbox"));
    assert_eq!((items.len(), pages), (25, 2));
    let published: Vec<&str> = items
        .iter()
        .map(|a| {
            assert_eq!(a["type"], "Create");
            assert_eq!(a["actor"], server.at("/ap/site").as_str());
            assert_eq!(a["object"]["type"], "Article");
            a["object"]["published"].as_str().unwrap()
        })
        .collect();
    let want: Vec<String> = (1..=25)
        .rev()
        .map(|d| format!("2024-01-{d:02}T10:00:00+08:00"))
        .collect();
    assert_eq!(published, want);
    // Each Create's object is what its URL serves.
    let first = &items[0]["object"];
    assert_eq!(&activity(first["id"].as_str().unwrap()), &{
        let mut a = first.clone();
        a["@context"] = activity(first["id"].as_str().unwrap())["@context"].clone();
        a
    });
    // A tag's outbox: its posts, each the site's post boosted by the tag.
    let (web, _) = walk_outbox(&server.at("/ap/tags/web/outbox"));
    assert_eq!(web.len(), 12);
    for a in &web {
        assert_eq!(a["type"], "Announce");
        assert_eq!(a["actor"], server.at("/ap/tags/web").as_str());
        let object = a["object"].as_str().unwrap();
        assert_eq!(
            activity(object)["attributedTo"],
            server.at("/ap/site").as_str()
        );
    }
    assert_eq!(
        fetch(&server.at("/ap/site/outbox?page=3"), AP_ACCEPT).status,
        404
    );
    assert_eq!(
        fetch(&server.at("/ap/site/outbox?page=zero"), AP_ACCEPT).status,
        400
    );
}

#[test]
fn a_new_post_is_in_the_outbox_and_an_article_at_once() {
    let site = site(1..=3);
    let server = serve(&site);
    let outbox = server.at("/ap/site/outbox");
    site.write_post(
        "2024-02-01-fresh.md",
        &news_post(
            "Fresh",
            "2024-02-01 09:00:00 -05:00",
            "news",
            "[rust, new]",
            "New.",
        ),
    );
    let url = server.at("/news/2024/02/01/fresh.html");
    let page = wait_for("the new post in the outbox", WAIT, Some(&server), || {
        let page = activity(&format!("{outbox}?page=1"));
        let newest = page["orderedItems"][0]["object"]["id"].clone();
        if newest == url.as_str() {
            Ok(page)
        } else {
            Err(format!("newest is {newest}"))
        }
    });
    assert_eq!(page["totalItems"], 4);
    assert_eq!(
        page["orderedItems"][0]["object"]["published"],
        "2024-02-01T09:00:00-05:00"
    );
    assert_eq!(activity(&url)["name"], "Fresh");
    // Its new tag is an actor now, with the post in its outbox.
    let (new, _) = walk_outbox(&server.at("/ap/tags/new/outbox"));
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["object"], url.as_str());
    let acct = format!("/.well-known/webfinger?resource=acct:new@{}", server.addr);
    assert_eq!(server.get(&acct).status, 200);
}
