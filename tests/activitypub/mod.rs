//! ActivityPub, served: what a Fediverse server GETs from `feedsmith serve` — WebFinger,
//! NodeInfo, the actors (and their key, across a restart), the outboxes, and each post as an
//! `Article` at its own URL — from the real binary over loopback. Documents are read as JSON
//! and checked field by field.

mod content;
mod discovery;

use std::time::Duration;

use serde_json::Value;

use crate::common::http::{get, Resp};
use crate::common::{news_post, Server, TempSite};

/// What a Fediverse server sends (Mastodon's `Accept`).
const AP_ACCEPT: &str = "application/activity+json, application/ld+json; \
     profile=\"https://www.w3.org/ns/activitystreams\", text/html;q=0.1";
/// What a browser sends.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const ACTIVITY_JSON: &str = "application/activity+json";
/// Bound on a republish showing.
const WAIT: Duration = Duration::from_secs(30);

/// Posts in category `news` (the site actor's name, so the category's is `category-news`) and
/// `travel`; tags `rust` (all) and `web` (even days), dated `2024-01-{day}` at 10:00 +08:00.
fn site(days: std::ops::RangeInclusive<u32>) -> TempSite {
    let s = TempSite::new();
    for day in days {
        let tags = if day % 2 == 0 {
            "[rust, web]"
        } else {
            "[rust]"
        };
        let category = if day % 5 == 0 { "travel" } else { "news" };
        s.write_post(
            &format!("2024-01-{day:02}-post-{day}.md"),
            &news_post(
                &format!("Post {day}"),
                &format!("2024-01-{day:02} 10:00:00 +08:00"),
                category,
                tags,
                &format!("Body {day} with [a link](/about/)."),
            ),
        );
    }
    s
}

/// `serve` with the site actor named `news`.
fn serve(site: &TempSite) -> Server {
    let config = site.write_config("ap.toml", "[activitypub]\nname = \"news\"\n");
    Server::start(site, &["--config", &config])
}

/// `GET` with the given `Accept`.
fn fetch(url: &str, accept: &str) -> Resp {
    get(url, &[("Accept", accept)])
}

/// The JSON body of a 200 of the given type.
fn json(r: &Resp, content_type: &str, what: &str) -> Value {
    assert_eq!(
        r.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.h("content-type"), content_type, "{what}");
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

/// An ActivityPub document, fetched as a Fediverse server does.
fn activity(url: &str) -> Value {
    json(&fetch(url, AP_ACCEPT), ACTIVITY_JSON, url)
}

/// Every activity of an outbox, walking its pages from `first` by `next`, and the pages.
fn walk_outbox(outbox_url: &str) -> (Vec<Value>, usize) {
    let outbox = activity(outbox_url);
    assert_eq!(outbox["type"], "OrderedCollection");
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next = outbox["first"].as_str().map(str::to_owned);
    while let Some(url) = next {
        let page = activity(&url);
        assert_eq!(page["type"], "OrderedCollectionPage", "{url}");
        assert_eq!(page["partOf"], outbox_url);
        items.extend(page["orderedItems"].as_array().unwrap().iter().cloned());
        pages += 1;
        assert!(pages < 100, "the pages never end");
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(outbox["totalItems"], items.len(), "totalItems");
    (items, pages)
}
