//! Deletions are announced, not silent (issue 17): a post removed while serving, or between two
//! runs, answers `410 Gone` at its page and leaves an RFC 6721 `at:deleted-entry` in the Atom
//! feeds of its scopes until the window ends or it comes back. RSS and JSON Feed have no such
//! element: the item just goes.

use std::time::Duration;

use crate::common::http::{agent, wait_for};
use crate::common::subscriber::{Answer, Received, Subscriber, Verify};
use crate::common::xmltree::{self, Node};
use crate::common::{news_post, Server, TempSite};

const SITE: &str = "https://example.com";
const DEADLINE: Duration = Duration::from_secs(20);
const TOMBSTONES: &str = "http://purl.org/atompub/tombstones/1.0";
const CONFIG: &str = "[server]\ndebounce_ms = 20\naccess_log = false\n\n[feeds]\nlimit = 0\n";

/// A site of three posts: Alpha and Bravo share category `news` and tag `rust` (so those
/// scopes outlive Alpha), Charlie is alone in `other`.
fn site() -> TempSite {
    let site = TempSite::new();
    site.write_post("alpha.md", &alpha());
    let bravo = news_post("Bravo", "2024-01-02 10:00:00 +0000", "news", "rust", "b");
    site.write_post("bravo.md", &bravo);
    let charlie = news_post("Charlie", "2024-01-03 10:00:00 +0000", "other", "misc", "c");
    site.write_post("charlie.md", &charlie);
    site
}

fn alpha() -> String {
    news_post("Alpha", "2024-01-01 10:00:00 +0000", "news", "rust", "a")
}

fn serve(site: &TempSite, toml: &str) -> Server {
    let config = site.write_config("deletions-test.toml", toml);
    // A fixed site URL: the entries' ids are made from it, and the ephemeral port changes
    // at each start.
    Server::start(site, &["--config", &config, "--url", SITE])
}

fn atom(server: &Server, path: &str) -> Result<Node, String> {
    let r = server.get(path);
    if r.status != 200 {
        return Err(format!("{path}: status {}", r.status));
    }
    xmltree::parse(&r.text()).map_err(|e| format!("{path}: {e}"))
}

/// Alpha's entry `<id>` and the path of its page, as the feed had them.
fn alpha_entry(server: &Server) -> (String, String) {
    alpha_entry_at(server, SITE)
}

/// [`alpha_entry`] on a site at `base`.
fn alpha_entry_at(server: &Server, base: &str) -> (String, String) {
    let feed = atom(server, "/atom.xml").unwrap();
    let entry = feed
        .children_named("entry")
        .find(|e| e.child_text("title") == Some("Alpha"))
        .expect("Alpha's entry");
    let id = entry.child_text("id").expect("id").to_owned();
    let link = entry
        .children_named("link")
        .find(|l| l.attr("rel") == Some("alternate"))
        .and_then(|l| l.attr("href"))
        .expect("alternate link");
    let path = link.strip_prefix(base).expect("a link on the server");
    (id, path.to_owned())
}

/// The `(ref, when)` of every `at:deleted-entry` of the feed at `path`, checking where the
/// namespace is declared.
fn tombstones(server: &Server, path: &str) -> Result<Vec<(String, String)>, String> {
    let feed = atom(server, path)?;
    let found: Vec<(String, String)> = feed
        .children_named("at:deleted-entry")
        .map(|t| {
            let attr = |k| t.attr(k).unwrap_or_default().to_owned();
            (attr("ref"), attr("when"))
        })
        .collect();
    if !found.is_empty() && feed.attr("xmlns:at") != Some(TOMBSTONES) {
        return Err(format!("{path}: xmlns:at is {:?}", feed.attr("xmlns:at")));
    }
    Ok(found)
}

fn titles(server: &Server, path: &str) -> Vec<String> {
    let text = server.get(path).text();
    if path.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON Feed");
        let items = v["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    } else {
        let rss = xmltree::parse(&text).expect("RSS");
        let channel = rss.child("channel").expect("channel");
        channel
            .children_named("item")
            .filter_map(|i| i.child_text("title"))
            .map(str::to_owned)
            .collect()
    }
}

/// Waits until the page at `path` answers `status`.
fn wait_status(server: &Server, path: &str, status: u16) {
    wait_for(
        &format!("{path} to answer {status}"),
        DEADLINE,
        Some(server),
        || {
            let got = server.get(path).status;
            (got == status).then_some(()).ok_or(format!("status {got}"))
        },
    );
}

/// Waits until the feed at `path` has exactly `want` tombstone refs, and returns them.
fn wait_tombstones(server: &Server, path: &str, want: &[&str]) -> Vec<(String, String)> {
    wait_for(
        &format!("{path}'s tombstones {want:?}"),
        DEADLINE,
        Some(server),
        || {
            let got = tombstones(server, path)?;
            let refs: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
            (refs == want)
                .then(|| got.clone())
                .ok_or(format!("{got:?}"))
        },
    )
}

#[test]
fn a_deleted_post_answers_410_and_is_announced_in_its_atom_feeds() {
    let site = site();
    let server = serve(&site, CONFIG);
    let (id, page) = alpha_entry(&server);
    assert_eq!(server.get(&page).status, 200);
    assert!(tombstones(&server, "/atom.xml").unwrap().is_empty());

    std::fs::remove_file(site.posts().join("alpha.md")).unwrap();
    wait_status(&server, &page, 410);
    let gone = server.get(&page);
    assert!(gone.text().contains("deleted"), "{}", gone.text());
    for feed in [
        "/atom.xml",
        "/categories/news/atom.xml",
        "/tags/rust/atom.xml",
    ] {
        let found = wait_tombstones(&server, feed, &[&id]);
        let when = &found[0].1;
        chrono::DateTime::parse_from_rfc3339(when)
            .unwrap_or_else(|e| panic!("{feed}: when={when:?} is not RFC 3339: {e}"));
        let feed_doc = atom(&server, feed).unwrap();
        assert!(feed_doc
            .children_named("entry")
            .all(|e| e.child_text("id") != Some(id.as_str())));
    }
    // Not in the feeds of scopes it was never in.
    assert!(tombstones(&server, "/categories/other/atom.xml")
        .unwrap()
        .is_empty());
    // RSS and JSON Feed: the item is simply gone.
    for feed in ["/rss.xml", "/feed.json", "/categories/news/rss.xml"] {
        let got = titles(&server, feed);
        assert!(!got.iter().any(|t| t == "Alpha"), "{feed}: {got:?}");
    }
    // Feed readers still read the feed.
    let body = server.get("/atom.xml").body;
    let parsed = feed_rs::parser::parse(&body[..]).expect("feed-rs reads it");
    assert_eq!(parsed.entries.len(), 2);
}

#[test]
fn a_restart_keeps_the_tombstone_and_a_restored_post_is_published_again() {
    let site = site();
    let mut server = serve(&site, CONFIG);
    let (id, page) = alpha_entry(&server);
    std::fs::remove_file(site.posts().join("alpha.md")).unwrap();
    let before = wait_tombstones(&server, "/atom.xml", &[&id]);
    server.stop(DEADLINE);

    let server = serve(&site, CONFIG);
    assert_eq!(
        tombstones(&server, "/atom.xml").unwrap(),
        before,
        "same ref, same when"
    );
    assert_eq!(server.get(&page).status, 410);

    site.write_post("alpha.md", &alpha());
    wait_status(&server, &page, 200);
    for feed in [
        "/atom.xml",
        "/categories/news/atom.xml",
        "/tags/rust/atom.xml",
    ] {
        wait_tombstones(&server, feed, &[]);
    }
    assert!(titles(&server, "/rss.xml").iter().any(|t| t == "Alpha"));
}

#[test]
fn a_post_deleted_between_two_runs_is_announced_at_the_next_start() {
    let site = site();
    let mut server = serve(&site, CONFIG);
    let (id, page) = alpha_entry(&server);
    server.stop(DEADLINE);
    std::fs::remove_file(site.posts().join("alpha.md")).unwrap();

    let server = serve(&site, CONFIG);
    assert_eq!(server.get(&page).status, 410);
    let found = tombstones(&server, "/tags/rust/atom.xml").unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, id);
}

#[test]
fn a_tombstone_goes_after_the_window() {
    let site = site();
    // 0.00005 days: 4.32 seconds.
    let toml = format!("{CONFIG}tombstone_days = 0.00005\n");
    let server = serve(&site, &toml);
    let (id, page) = alpha_entry(&server);
    std::fs::remove_file(site.posts().join("alpha.md")).unwrap();
    wait_tombstones(&server, "/atom.xml", &[&id]);
    assert_eq!(server.get(&page).status, 410);
    // With no file event: the publisher's timer ends it.
    wait_tombstones(&server, "/atom.xml", &[]);
    wait_tombstones(&server, "/categories/news/atom.xml", &[]);
    assert_eq!(server.get(&page).status, 404);
}

#[test]
fn with_tombstones_off_a_deleted_post_is_just_gone() {
    let site = site();
    let toml = format!("{CONFIG}tombstone_days = 0\n");
    let server = serve(&site, &toml);
    let (_, page) = alpha_entry(&server);
    std::fs::remove_file(site.posts().join("alpha.md")).unwrap();
    wait_status(&server, &page, 404);
    assert!(tombstones(&server, "/atom.xml").unwrap().is_empty());
}

#[test]
fn the_hub_pushes_the_atom_feed_with_its_tombstone() {
    let site = site();
    let config = site.write_config("deletions-test.toml", CONFIG);
    // The site at the server's own address: the hub's topics are its feeds there.
    let server = Server::start(&site, &["--config", &config]);
    let (id, _) = alpha_entry_at(&server, server.url.trim_end_matches('/'));
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let callback = sub.callback("/all-atom");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("hub.mode", "subscribe"),
            ("hub.topic", server.at("/atom.xml").as_str()),
            ("hub.callback", callback.as_str()),
        ])
        .finish();
    let status = agent()
        .post(&server.at("/hub"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(form.as_bytes())
        .map(|r| r.status().as_u16());
    assert_eq!(status.ok(), Some(202), "{}", server.stderr());
    let saved = site
        .root()
        .join(".feedsmith")
        .join("hub-subscriptions.json");
    wait_for("the subscription saved", DEADLINE, Some(&server), || {
        let text = std::fs::read_to_string(&saved).map_err(|e| e.to_string())?;
        text.contains(&callback).then_some(()).ok_or(text)
    });

    std::fs::remove_file(site.posts().join("alpha.md")).unwrap();
    let pushed = sub.wait_nth(
        "the atom delivery",
        "/all-atom",
        1,
        DEADLINE,
        Received::is_delivery,
    );
    let feed = xmltree::parse(&String::from_utf8_lossy(&pushed.body)).expect("Atom");
    let refs: Vec<&str> = feed
        .children_named("at:deleted-entry")
        .filter_map(|t| t.attr("ref"))
        .collect();
    assert_eq!(refs, [id.as_str()]);
}
