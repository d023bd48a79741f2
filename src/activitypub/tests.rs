//! The ActivityPub side on a small site: routing, WebFinger, actors, outboxes, NodeInfo.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hyper::header::{HeaderMap, HeaderValue, ACCEPT};
use serde_json::Value;

use super::*;
use crate::post::body::Markup;
use crate::site::{ListOptions, Listing};

/// One key for every test here: making one takes a while.
fn key() -> Arc<ActorKey> {
    static KEY: OnceLock<(tempfile::TempDir, Arc<ActorKey>)> = OnceLock::new();
    let (_, key) = KEY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = Arc::new(ActorKey::load_or_create(dir.path()).unwrap());
        (dir, key)
    });
    Arc::clone(key)
}

pub(super) fn config() -> Config {
    let mut config = Config::default();
    config.site.url = Some("https://example.com:8443/blog".to_owned());
    config.site.title = "News".to_owned();
    config
}

pub(super) fn post(config: &Config, name: &str, front: &str) -> Arc<Post> {
    let text = format!("---\n{front}\n---\nBody of {name}, [a link](/x/).\n");
    let parsed = crate::post::parse_post(
        Path::new(name),
        text.as_bytes(),
        Markup::Markdown,
        &config.parse_context(),
    );
    Arc::new(parsed.expect("a test post"))
}

pub(super) fn meta(config: &Config) -> Arc<SiteMeta> {
    let mut meta = SiteMeta::from_config(config);
    meta.actors = config.activitypub.actors.clone();
    Arc::new(meta)
}

struct Site {
    ap: ActivityPub,
    _dir: tempfile::TempDir,
}

fn site(config: &Config, posts: Vec<Arc<Post>>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let meta = meta(config);
    let listing = Listing::new(posts, chrono::Utc::now(), ListOptions::default());
    let _ = dir;
    let pages = ArchivePages::new(
        Arc::clone(&meta),
        &listing,
        hyper::header::HeaderValue::from_static("public, max-age=60"),
    );
    let ap = ActivityPub::new(config, meta, key(), Arc::new(pages));
    Site { ap, _dir: dir }
}

/// Posts p01 … p{n}, one a day, every one tagged `rust` and in category `news` (the site's
/// own name), every third also tagged `travel`.
fn posts(config: &Config, n: u32) -> Vec<Arc<Post>> {
    (1..=n)
        .map(|i| {
            let tags = if i % 3 == 0 {
                "[rust, travel]"
            } else {
                "[rust]"
            };
            let front = format!(
                "title: Post {i}\ndate: 2024-01-01T10:00:00+08:00\ncategories: [news]\ntags: {tags}"
            );
            let front = front.replace(
                "2024-01-01",
                &format!("2024-{:02}-{:02}", 1 + i / 28, 1 + i % 28),
            );
            post(config, &format!("p{i:02}.md"), &front)
        })
        .collect()
}

fn accept(value: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT, HeaderValue::from_static(value));
    h
}

fn render(ap: &ActivityPub, routed: Option<Routed>) -> Value {
    let Some(Routed::Render(job)) = routed else {
        panic!("not a document: {routed:?}");
    };
    let doc = ap.render(&job).expect("a document");
    serde_json::from_slice(&doc.identity.bytes).expect("JSON")
}

fn get(ap: &ActivityPub, path: &str, query: Option<&str>) -> Value {
    render(ap, ap.route(path, query, &accept(ACTIVITY_JSON)))
}

fn refused(routed: Option<Routed>) -> u16 {
    match routed {
        Some(Routed::Refuse(status, _)) => status,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn webfinger_finds_each_actor_by_name_and_by_url() {
    let mut config = config();
    config.activitypub.name = "news".to_owned();
    let s = site(&config, posts(&config, 3));
    let ap = &s.ap;
    assert_eq!(ap.host(), "example.com:8443");
    let finger = |resource: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("resource", resource)
            .finish();
        ap.route(webfinger::ROUTE, Some(&query), &HeaderMap::new())
    };
    // The site is `news`; the category `news` yields to it.
    for (resource, actor) in [
        ("acct:news@example.com:8443", "/ap/site"),
        ("acct:category-news@example.com:8443", "/ap/categories/news"),
        ("acct:rust@EXAMPLE.com:8443", "/ap/tags/rust"),
        ("rust@example.com:8443", "/ap/tags/rust"),
        ("acct:travel@example.com:8443", "/ap/tags/travel"),
        (
            "https://example.com:8443/blog/ap/tags/rust",
            "/ap/tags/rust",
        ),
    ] {
        let jrd = render(ap, finger(resource));
        let id = format!("https://example.com:8443/blog{actor}");
        let self_link = jrd["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "self")
            .unwrap();
        assert_eq!(self_link["href"], id.as_str(), "{resource}");
        assert_eq!(self_link["type"], ACTIVITY_JSON);
        let subject = jrd["subject"].as_str().unwrap();
        assert!(subject.starts_with("acct:") && subject.ends_with("@example.com:8443"));
        // The subject's name finds the same actor again.
        let again = render(ap, finger(subject));
        assert_eq!(again["subject"], subject);
    }
    for unknown in [
        "acct:nobody@example.com:8443",
        "acct:example@example.com:8443",
        "acct:tag-rust@example.com:8443",
        "acct:rust@example.com",
        "acct:rust@other.example:8443",
        "https://example.com:8443/blog/ap/tags/none",
        "https://other.example/blog/ap/site",
        "https://example.com:8443/blog/ap/site/outbox",
    ] {
        assert_eq!(refused(finger(unknown)), 404, "{unknown}");
    }
    for bad in ["acct:", "acct:@example.com", "nobody", "https://[bad"] {
        assert_eq!(refused(finger(bad)), 400, "{bad}");
    }
    let none = ap.route(webfinger::ROUTE, None, &HeaderMap::new());
    assert_eq!(refused(none), 400);
    let twice = ap.route(
        webfinger::ROUTE,
        Some("resource=a&resource=b"),
        &HeaderMap::new(),
    );
    assert_eq!(refused(twice), 400);
}

#[test]
fn actors_carry_their_addresses_and_the_one_key() {
    let mut config = config();
    config.site.icon = Some("https://cdn.example/icon.png".to_owned());
    config.site.description = "Daily <news>".to_owned();
    let s = site(&config, posts(&config, 3));
    let ap = &s.ap;
    let actor = get(ap, "/ap/site", None);
    let id = "https://example.com:8443/blog/ap/site";
    assert_eq!(actor["id"], id);
    assert_eq!(actor["type"], "Service");
    assert_eq!(actor["preferredUsername"], "example");
    assert_eq!(actor["name"], "News");
    assert!(actor["summary"]
        .as_str()
        .unwrap()
        .contains("Daily &lt;news&gt;"));
    assert_eq!(actor["url"], "https://example.com:8443/blog/");
    assert_eq!(actor["inbox"], format!("{id}/inbox"));
    assert_eq!(actor["outbox"], format!("{id}/outbox"));
    assert_eq!(actor["followers"], format!("{id}/followers"));
    assert_eq!(
        actor["endpoints"]["sharedInbox"],
        "https://example.com:8443/blog/ap/inbox"
    );
    assert_eq!(actor["publicKey"]["id"], format!("{id}#main-key"));
    assert_eq!(actor["publicKey"]["owner"], id);
    assert_eq!(actor["publicKey"]["publicKeyPem"], key().public_pem());
    assert_eq!(actor["manuallyApprovesFollowers"], false);
    assert_eq!(actor["discoverable"], true);
    assert_eq!(actor["icon"]["url"], "https://cdn.example/icon.png");
    assert_eq!(actor["icon"]["mediaType"], "image/png");
    assert_eq!(actor["@context"][0], AS_CONTEXT);
    assert_eq!(actor["@context"][1], SECURITY_CONTEXT);
    let tag = get(ap, "/ap/tags/rust", None);
    assert_eq!(tag["id"], "https://example.com:8443/blog/ap/tags/rust");
    assert_eq!(tag["url"], "https://example.com:8443/blog/tags/rust/");
    assert_eq!(tag["publicKey"]["publicKeyPem"], key().public_pem());
    assert!(tag["summary"].as_str().unwrap().contains("tagged “rust”"));
    let category = get(ap, "/ap/categories/news", None);
    assert_eq!(category["preferredUsername"], "news");
    // A Group when asked.
    let mut group = config.clone();
    group.activitypub.actor_type = ActorType::Group;
    let g = site(&group, posts(&group, 1));
    assert_eq!(get(&g.ap, "/ap/site", None)["type"], "Group");
}

#[test]
fn a_browser_at_an_actor_goes_to_its_page_and_unknown_addresses_are_refused() {
    let config = config();
    let s = site(&config, posts(&config, 3));
    let ap = &s.ap;
    let firefox = accept("text/html,application/xhtml+xml,*/*;q=0.8");
    match ap.route("/ap/tags/rust", None, &firefox) {
        Some(Routed::Redirect(to)) => assert_eq!(to, "https://example.com:8443/blog/tags/rust/"),
        other => panic!("{other:?}"),
    }
    // `*/*`: the actor (its address is an ActivityPub one).
    assert!(matches!(
        ap.route("/ap/site", None, &accept("*/*")),
        Some(Routed::Render(Job::Actor(Scope::All)))
    ));
    let json = accept(ACTIVITY_JSON);
    assert_eq!(refused(ap.route("/ap/tags/none", None, &json)), 404);
    assert_eq!(refused(ap.route("/ap/tags/rust/likes", None, &json)), 404);
    assert_eq!(
        refused(ap.route("/ap/site/outbox", Some("page=0"), &json)),
        400
    );
    // Not ActivityPub's: inboxes (POST only), and other paths.
    for path in [
        "/ap/site/inbox",
        "/ap/inbox",
        "/ap/tags/",
        "/ap/sites",
        "/ap",
        "/index.html",
    ] {
        assert!(ap.route(path, None, &json).is_none(), "{path}");
    }
    assert!(ap.negotiates("/ap/tags/rust", false));
    assert!(!ap.negotiates("/ap/tags/rust/outbox", false));
    assert!(ap.negotiates("/2024/01/02/p.html", true));
    // Tags not actors: none of theirs is found.
    let mut sites_only = config.clone();
    sites_only.activitypub.actors = vec![crate::config::ActorScope::Site];
    let s = site(&sites_only, posts(&sites_only, 3));
    assert_eq!(refused(s.ap.route("/ap/tags/rust", None, &json)), 404);
    assert_eq!(s.ap.actors(), vec![Scope::All]);
}

#[test]
fn outbox_pages_walk_every_post_newest_first() {
    let config = config();
    let all = posts(&config, 45);
    let s = site(&config, all.clone());
    let ap = &s.ap;
    let outbox = get(ap, "/ap/site/outbox", None);
    let id = "https://example.com:8443/blog/ap/site/outbox";
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], 45);
    assert_eq!(outbox["first"], format!("{id}?page=1"));
    assert_eq!(outbox["last"], format!("{id}?page=3"));
    let mut seen: Vec<String> = Vec::new();
    let mut next = outbox["first"].as_str().map(str::to_owned);
    let mut pages = 0;
    while let Some(url) = next {
        let query = url.split_once('?').unwrap().1;
        let page = get(ap, "/ap/site/outbox", Some(query));
        pages += 1;
        assert_eq!(page["type"], "OrderedCollectionPage");
        assert_eq!(page["partOf"], id);
        assert_eq!(page["id"], url.as_str());
        for item in page["orderedItems"].as_array().unwrap() {
            assert_eq!(item["type"], "Create");
            assert_eq!(item["actor"], "https://example.com:8443/blog/ap/site");
            seen.push(item["object"]["published"].as_str().unwrap().to_owned());
        }
        if pages > 1 {
            assert!(page["prev"].is_string());
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 45);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");
    let Some(Routed::Render(past)) = ap.route("/ap/site/outbox", Some("page=4"), &HeaderMap::new())
    else {
        panic!("routed");
    };
    assert!(ap.render(&past).is_none());
    // A tag's outbox: its posts only, each the site's post boosted.
    let travel = get(ap, "/ap/tags/travel/outbox", Some("page=1"));
    assert_eq!(travel["totalItems"], 15);
    let first = &travel["orderedItems"][0];
    assert_eq!(first["type"], "Announce");
    assert_eq!(
        first["actor"],
        "https://example.com:8443/blog/ap/tags/travel"
    );
    let newest_travel = all
        .iter()
        .filter(|p| p.tags.contains(&"travel".to_owned()))
        .max_by_key(|p| p.date);
    assert_eq!(first["object"], newest_travel.unwrap().url.as_str());
}

#[test]
fn followers_are_counted_by_whoever_keeps_them() {
    struct Two;
    impl FollowerCount for Two {
        fn followers(&self, actor: &str) -> usize {
            if actor.ends_with("/ap/tags/rust") {
                2
            } else {
                0
            }
        }
    }
    let config = config();
    let s = site(&config, posts(&config, 1));
    assert_eq!(get(&s.ap, "/ap/tags/rust/followers", None)["totalItems"], 0);
    s.ap.set_followers(Arc::new(Two));
    let followers = get(&s.ap, "/ap/tags/rust/followers", None);
    assert_eq!(followers["totalItems"], 2);
    assert_eq!(
        followers["id"],
        "https://example.com:8443/blog/ap/tags/rust/followers"
    );
    assert_eq!(get(&s.ap, "/ap/site/followers", None)["totalItems"], 0);
    assert_eq!(get(&s.ap, "/ap/site/following", None)["totalItems"], 0);
}

#[test]
fn nodeinfo_counts_actors_and_posts() {
    let config = config();
    let s = site(&config, posts(&config, 6));
    let links = get(&s.ap, nodeinfo::LINKS_ROUTE, None);
    assert_eq!(links["links"][0]["rel"], nodeinfo::SCHEMA);
    assert_eq!(
        links["links"][0]["href"],
        "https://example.com:8443/blog/nodeinfo/2.1"
    );
    let info = get(&s.ap, nodeinfo::ROUTE, None);
    assert_eq!(info["version"], "2.1");
    assert_eq!(info["software"]["name"], "feedsmith");
    assert_eq!(info["protocols"][0], "activitypub");
    assert_eq!(info["openRegistrations"], false);
    // The site, category news, tags rust and travel.
    assert_eq!(info["usage"]["users"]["total"], 4);
    assert_eq!(info["usage"]["localPosts"], 6);
}
