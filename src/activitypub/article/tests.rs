//! A post as an `Article`, and its activities.

use super::*;
use crate::activitypub::tests::{config, meta, post};
use crate::config::{ActorScope, ContentMode};

const FRONT: &str = "title: Ferris <3\ndate: 2024-03-05T09:30:00+08:00\n\
    updated: 2024-03-06T10:00:00+08:00\ncategories: [Release Notes]\n\
    tags: [rust, Rust, C++]\nimage: /img/lead.jpg\nsource: https://origin.example/a\n\
    enclosure: {url: /ep.mp3, type: audio/mpeg, length: 100}";

#[test]
fn an_article_is_the_post_with_absolute_urls_terms_and_images() {
    let config = config();
    let meta = meta(&config);
    let p = post(&config, "2024-03-05-ferris.md", FRONT);
    let a = article(&meta, &p).unwrap();
    assert_eq!(a["type"], "Article");
    assert_eq!(a["id"], p.url.as_str());
    assert_eq!(a["url"], p.url.as_str());
    assert_eq!(a["name"], "Ferris <3");
    assert_eq!(a["attributedTo"], "https://example.com:8443/blog/ap/site");
    assert_eq!(a["published"], "2024-03-05T09:30:00+08:00");
    assert_eq!(a["updated"], "2024-03-06T10:00:00+08:00");
    assert_eq!(a["to"][0], PUBLIC);
    assert_eq!(
        a["cc"][0],
        "https://example.com:8443/blog/ap/site/followers"
    );
    let content = a["content"].as_str().unwrap();
    assert!(
        content.contains("href=\"https://example.com:8443/x/\""),
        "absolute: {content}"
    );
    assert!(
        content.contains("href=\"https://origin.example/a\""),
        "the source: {content}"
    );
    assert!(a["summary"].as_str().unwrap().starts_with("Body of"));
    // Hashtags: one per name (rust and Rust are one), letters and digits only.
    let tags: Vec<(&str, &str)> = a["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "Hashtag");
            (t["name"].as_str().unwrap(), t["href"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        tags,
        [
            (
                "#ReleaseNotes",
                "https://example.com:8443/blog/categories/release-notes/"
            ),
            ("#rust", "https://example.com:8443/blog/tags/rust/"),
            ("#C", "https://example.com:8443/blog/tags/c/"),
        ]
    );
    assert_eq!(a["attachment"][0]["type"], "Image");
    assert_eq!(
        a["attachment"][0]["url"],
        "https://example.com:8443/img/lead.jpg"
    );
    assert_eq!(a["attachment"][0]["mediaType"], "image/jpeg");
    assert_eq!(a["attachment"][1]["type"], "Document");
    assert_eq!(a["attachment"][1]["mediaType"], "audio/mpeg");
    assert_eq!(a["@context"][0], crate::activitypub::AS_CONTEXT);
}

#[test]
fn summary_mode_and_no_edit() {
    let mut config = config();
    config.feeds.content = ContentMode::Summary;
    let meta = meta(&config);
    let p = post(&config, "p.md", "title: T\ndate: 2024-03-05T09:30:00-05:00");
    let a = article(&meta, &p).unwrap();
    assert_eq!(a["content"], "<p>Body of p.md, a link.</p>");
    assert_eq!(a["published"], "2024-03-05T09:30:00-05:00");
    assert!(a.get("updated").is_none(), "not edited: {a}");
    assert!(a.get("contentMap").is_none());
}

#[test]
fn without_a_site_actor_the_first_term_actor_is_the_author() {
    let mut config = config();
    config.activitypub.actors = vec![ActorScope::Tags];
    let meta = meta(&config);
    let p = post(&config, "p.md", FRONT);
    assert_eq!(
        article(&meta, &p).unwrap()["attributedTo"],
        "https://example.com:8443/blog/ap/tags/rust"
    );
    let untagged = post(&config, "q.md", "title: Q\ndate: 2024-01-01");
    assert!(article(&meta, &untagged).is_none());
    assert!(create(&meta, &untagged).is_none());
}

#[test]
fn activities_have_stable_ids_and_carry_the_article() {
    let config = config();
    let meta = meta(&config);
    let p = post(&config, "p.md", FRONT);
    let site = "https://example.com:8443/blog/ap/site";
    let tag = "https://example.com:8443/blog/ap/tags/rust";

    let c = create(&meta, &p).unwrap();
    assert_eq!(c["type"], "Create");
    assert_eq!(c["id"], format!("{}#create", p.url));
    assert_eq!(c["actor"], site);
    assert_eq!(c["object"]["id"], p.url.as_str());
    assert!(c["object"].get("@context").is_none());
    assert_eq!(create(&meta, &p), Some(c.clone()), "the same every time");
    assert_eq!(outbox_item(&meta, &p, site), Some(c));

    let b = outbox_item(&meta, &p, tag).unwrap();
    assert_eq!(b["type"], "Announce");
    assert_eq!(b["actor"], tag);
    assert_eq!(b["object"], p.url.as_str());
    assert_eq!(b["cc"][0], format!("{tag}/followers"));
    assert_eq!(b, announce(&p, tag));
    assert_ne!(b["id"], announce(&p, site)["id"]);

    let u = update(&meta, &p).unwrap();
    assert_eq!(u["type"], "Update");
    assert_eq!(u["actor"], site);
    assert_eq!(u["object"]["name"], "Ferris <3");
    let edited = post(&config, "p.md", &FRONT.replace("Ferris <3", "Ferris!"));
    let u2 = update(&meta, &edited).unwrap();
    assert_ne!(u["id"], u2["id"], "each version its own id");
    assert_eq!(update(&meta, &edited), Some(u2));

    let d = delete(&p.url, site);
    assert_eq!(d["type"], "Delete");
    assert_eq!(d["id"], format!("{}#delete", p.url));
    assert_eq!(d["object"]["type"], "Tombstone");
    assert_eq!(d["object"]["id"], p.url.as_str());
    assert_eq!(d["actor"], site);
}
