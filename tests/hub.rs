//! The WebSub hub of `feedsmith serve`, from the outside: the real binary, and subscribers that
//! are small HTTP servers on the loopback interface (`common::subscriber`).
//!
//! Waits for something to happen are bounded; "nothing happened" is only asserted after a
//! positive control (another subscriber's delivery of the same republish) has arrived, plus a
//! grace period.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::http::{agent, get, request, Resp};
use common::subscriber::{Answer, Received, Subscriber, Verify};
use common::xmltree;
use common::{news_post, Server, TempSite};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Bound on anything the hub is expected to do.
const WAIT: Duration = Duration::from_secs(30);
/// How long to keep watching for something that must not happen, once the control has.
const GRACE: Duration = Duration::from_millis(1500);
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
const FORM: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

/// Two posts in two categories, with one tag each.
fn site() -> TempSite {
    let s = TempSite::new();
    s.write_post("2024-01-01-alpha.md", &alpha("first version"));
    s.write_post(
        "2024-01-02-beta.md",
        &news_post(
            "Beta",
            "2024-01-02 10:00:00 +0000",
            "beta",
            "two",
            "<p>Beta body.</p>",
        ),
    );
    s
}

fn alpha(body: &str) -> String {
    news_post(
        "Alpha",
        "2024-01-01 10:00:00 +0000",
        "alpha",
        "one",
        &format!("<p>Alpha: {body}.</p>"),
    )
}

/// Rewrites the alpha post atomically (temp file + rename), as an editor saves.
fn edit_alpha(site: &TempSite, body: &str) {
    let tmp = site.posts().join(".alpha.tmp");
    std::fs::write(&tmp, alpha(body)).unwrap();
    std::fs::rename(&tmp, site.posts().join("2024-01-01-alpha.md")).unwrap();
}

/// Writes `feedsmith.toml` in the site's root (the server's working directory).
fn config(site: &TempSite, toml: &str) {
    std::fs::write(site.root().join("feedsmith.toml"), toml).unwrap();
}

/// POSTs a body to the server's hub.
fn post_hub(server: &Server, content_type: &str, body: &[u8]) -> Resp {
    let mut resp = agent()
        .post(&server.at("/hub"))
        .header("Content-Type", content_type)
        .send(body)
        .unwrap_or_else(|e| panic!("POST /hub: {e}\nserver log:\n{}", server.stderr()));
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.body_mut().read_to_vec().unwrap(),
    }
}

/// A form body.
fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

/// Asks the hub to (un)subscribe `callback` to `topic`; expects `202`.
fn hub_request(server: &Server, mode: &str, topic: &str, callback: &str, extra: &[(&str, &str)]) {
    let mut pairs = vec![
        ("hub.mode", mode),
        ("hub.topic", topic),
        ("hub.callback", callback),
    ];
    pairs.extend_from_slice(extra);
    let r = post_hub(server, FORM, &form(&pairs));
    assert_eq!(
        r.status,
        202,
        "{mode} {callback} to {topic}: {}\nserver log:\n{}",
        r.text(),
        server.stderr()
    );
}

/// The subscriptions file of a site's hub.
fn state_file(site: &TempSite) -> PathBuf {
    site.root()
        .join(".feedsmith")
        .join("hub-subscriptions.json")
}

/// The callbacks saved in the subscriptions file (empty when there is none).
fn saved(site: &TempSite) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read(state_file(site)) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&text).expect("subscriptions file is JSON");
    v["subscriptions"].as_array().cloned().unwrap_or_default()
}

fn saved_callbacks(site: &TempSite) -> Vec<String> {
    saved(site)
        .iter()
        .map(|s| s["callback"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Waits until the hub has saved exactly these subscriptions (by callback, in any order):
/// the sign that the verifications were answered and acted upon.
fn wait_saved(site: &TempSite, server: &Server, callbacks: &[&str]) {
    let mut want: Vec<String> = callbacks.iter().map(|c| (*c).to_owned()).collect();
    want.sort();
    common::http::wait_for("the saved subscriptions", WAIT, Some(server), || {
        let mut got = saved_callbacks(site);
        got.sort();
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}, want {want:?}"))
        }
    });
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a delivery: the topic's current bytes, its content type, the Link headers, and the
/// signature (present exactly when there is a secret, and right).
fn check_delivery(server: &Server, d: &Received, topic_path: &str, secret: Option<&str>) {
    let current = server.get(topic_path);
    assert_eq!(current.status, 200);
    assert_eq!(
        d.body, current.body,
        "{topic_path}: the delivery is not the current document"
    );
    assert_eq!(
        d.header("content-type"),
        Some(current.h("content-type")),
        "{topic_path}"
    );
    let links = d.headers_named("link").join(", ");
    assert!(
        links.contains(&format!("<{}>; rel=\"self\"", server.at(topic_path))),
        "{topic_path}: Link {links}"
    );
    assert!(
        links.contains(&format!("<{}>; rel=\"hub\"", server.at("/hub"))),
        "{topic_path}: Link {links}"
    );
    match secret {
        Some(secret) => assert_eq!(
            d.header("x-hub-signature"),
            Some(format!("sha256={}", hmac_hex(secret, &d.body)).as_str()),
            "{topic_path}: signature"
        ),
        None => assert_eq!(d.header("x-hub-signature"), None, "{topic_path}"),
    }
}

/// Edits the alpha post, waits for `control`'s delivery of it at `/cb`, then waits [`GRACE`]
/// more: any delivery to another subscriber would have arrived by then, so asserting that
/// one got none means something.
fn edit_and_await_control(site: &TempSite, control: &Subscriber, body: &str) -> Received {
    edit_alpha(site, body);
    let d = control.wait_nth(
        "the control delivery",
        "/cb",
        1,
        WAIT,
        Received::is_delivery,
    );
    std::thread::sleep(GRACE);
    d
}

fn verification_to(sub: &Subscriber, path: &str) -> Received {
    sub.wait_nth("a verification", path, 1, WAIT, Received::is_verification)
}

// ---------------------------------------------------------------------------------------------
// Discovery

#[test]
fn feeds_advertise_the_hub_and_themselves() {
    let site = site();
    let server = Server::start(&site, &[]);
    let hub = server.at("/hub");
    // RSS carries them as `atom:link` in the channel, Atom as `link` in the feed.
    for (path, rss) in [
        ("/rss.xml", true),
        ("/categories/alpha/rss.xml", true),
        ("/atom.xml", false),
        ("/tags/two/atom.xml", false),
    ] {
        let r = server.get(path);
        let doc = xmltree::parse(&r.text()).unwrap();
        let (parent, name) = if rss {
            (doc.child("channel").unwrap(), "atom:link")
        } else {
            (&doc, "link")
        };
        let links: Vec<(&str, &str)> = parent
            .children_named(name)
            .map(|l| (l.attr("rel").unwrap_or(""), l.attr("href").unwrap_or("")))
            .collect();
        assert!(links.contains(&("hub", hub.as_str())), "{path}: {links:?}");
        assert!(
            links.contains(&("self", server.at(path).as_str())),
            "{path}: {links:?}"
        );
        check_link_header(&server, &r, path);
    }
    for path in ["/feed.json", "/categories/beta/feed.json"] {
        let r = server.get(path);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["hubs"][0]["url"], hub.as_str(), "{path}");
        assert_eq!(v["hubs"][0]["type"], "WebSub", "{path}");
        assert_eq!(v["feed_url"], server.at(path).as_str(), "{path}");
        check_link_header(&server, &r, path);
    }
    // The hub's own page.
    let r = server.get("/hub");
    assert_eq!(r.status, 200);
    assert!(r.h("content-type").starts_with("text/plain"));
    assert!(r.text().contains("hub.mode=subscribe"), "{}", r.text());
    let r = request("HEAD", &server.at("/hub"), &[]);
    assert_eq!(r.status, 200);
    // The index page names itself but advertises no hub: it is no WebSub topic.
    assert_eq!(
        server.get("/index.html").h("link"),
        format!("<{}>; rel=\"self\"", server.at("/index.html"))
    );
}

fn check_link_header(server: &Server, r: &Resp, path: &str) {
    assert_eq!(
        r.h("link"),
        format!(
            "<{}>; rel=\"self\", <{}>; rel=\"hub\"",
            server.at(path),
            server.at("/hub")
        ),
        "{path}"
    );
}

#[test]
fn a_disabled_hub_is_neither_served_nor_advertised_and_build_advertises_none() {
    let site = site();
    config(&site, "[hub]\nenabled = false\n");
    let server = Server::start(&site, &[]);
    for path in ["/rss.xml", "/atom.xml", "/feed.json"] {
        let r = server.get(path);
        assert!(!r.text().contains("/hub"), "{path} names a hub");
        assert_eq!(
            r.h("link"),
            format!("<{}>; rel=\"self\"", server.at(path)),
            "{path}"
        );
    }
    assert_eq!(server.get("/hub").status, 404);
    let r = post_hub(
        &server,
        FORM,
        &form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &server.at("/rss.xml")),
        ]),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.h("allow"), "GET, HEAD");
    drop(server);

    // `build` has no server, so no hub either (whatever the config says).
    std::fs::remove_file(site.root().join("feedsmith.toml")).unwrap();
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        let text = site.read_out(f);
        assert!(
            !text.contains("rel=\"hub\"") && !text.contains("hubs"),
            "{f}"
        );
    }
}

#[test]
fn the_state_dir_may_not_be_inside_the_output_dir() {
    let site = site();
    config(&site, "[hub]\nstate_dir = \"feeds/hub-state\"\n");
    let out = common::feedsmith(
        site.root(),
        &[
            "serve".into(),
            "--out".into(),
            "feeds".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ],
    );
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("hub.state_dir"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Subscribing and distribution

#[test]
fn subscribe_verify_then_one_signed_delivery_per_changed_topic() {
    let site = site();
    let server = Server::start(&site, &[]);
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let secret = "s3cret with spaces & symbols +/=";
    let alpha_rss = server.at("/categories/alpha/rss.xml");
    let all_atom = server.at("/atom.xml");
    let beta_json = server.at("/categories/beta/feed.json");
    hub_request(
        &server,
        "subscribe",
        &alpha_rss,
        &sub.callback("/alpha-rss"),
        &[("hub.secret", secret)],
    );
    hub_request(
        &server,
        "subscribe",
        &all_atom,
        &sub.callback("/all-atom?id=7"),
        &[("hub.lease_seconds", "3600")],
    );
    hub_request(
        &server,
        "subscribe",
        &beta_json,
        &sub.callback("/beta-json"),
        &[("hub.secret", secret)],
    );

    // Verification of intent: mode, topic, a fresh challenge, the lease; the callback's own
    // query is kept.
    let v1 = verification_to(&sub, "/alpha-rss");
    assert_eq!(v1.param("hub.mode"), Some("subscribe"));
    assert_eq!(v1.param("hub.topic"), Some(alpha_rss.as_str()));
    assert_eq!(v1.param("hub.lease_seconds"), Some("864000"));
    let v2 = verification_to(&sub, "/all-atom");
    assert_eq!(v2.param("id"), Some("7"));
    assert_eq!(v2.param("hub.topic"), Some(all_atom.as_str()));
    assert_eq!(v2.param("hub.lease_seconds"), Some("3600"));
    let v3 = verification_to(&sub, "/beta-json");
    let challenges = [&v1, &v2, &v3].map(|v| v.param("hub.challenge").unwrap().to_owned());
    assert!(challenges.iter().all(|c| c.len() >= 32), "{challenges:?}");
    assert!(challenges[0] != challenges[1] && challenges[1] != challenges[2]);
    wait_saved(
        &site,
        &server,
        &[
            &sub.callback("/alpha-rss"),
            &sub.callback("/all-atom?id=7"),
            &sub.callback("/beta-json"),
        ],
    );
    // Subscribing delivers nothing by itself.
    assert!(sub.received().iter().all(|r| !r.is_delivery()));

    edit_alpha(&site, "second version");
    let d1 = sub.wait_nth(
        "the alpha delivery",
        "/alpha-rss",
        1,
        WAIT,
        Received::is_delivery,
    );
    let d2 = sub.wait_nth(
        "the atom delivery",
        "/all-atom",
        1,
        WAIT,
        Received::is_delivery,
    );
    assert!(String::from_utf8_lossy(&d1.body).contains("second version"));
    check_delivery(&server, &d1, "/categories/alpha/rss.xml", Some(secret));
    check_delivery(&server, &d2, "/atom.xml", None);
    assert_eq!(d2.param("id"), Some("7"));

    std::thread::sleep(GRACE);
    assert_eq!(
        sub.deliveries("/alpha-rss").len(),
        1,
        "exactly one delivery"
    );
    assert_eq!(sub.deliveries("/all-atom").len(), 1, "exactly one delivery");
    assert_eq!(
        sub.deliveries("/beta-json").len(),
        0,
        "an unaffected topic got a delivery"
    );

    // The secret is saved (for restarts) in a file only its owner can read.
    let rec = saved(&site)
        .into_iter()
        .find(|s| s["callback"] == sub.callback("/alpha-rss").as_str())
        .unwrap();
    assert_eq!(rec["secret"], secret);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state_file(&site))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}

#[test]
fn failed_verifications_do_not_subscribe() {
    let site = site();
    let server = Server::start(&site, &[]);
    let wrong = Subscriber::new(Verify::WrongEcho, Answer::Ok);
    let missing = Subscriber::new(Verify::NotFound, Answer::Ok);
    let control = Subscriber::new(Verify::Echo, Answer::Ok);
    let topic = server.at("/rss.xml");
    for s in [&wrong, &missing, &control] {
        hub_request(&server, "subscribe", &topic, &s.callback("/cb"), &[]);
    }
    for s in [&wrong, &missing, &control] {
        verification_to(s, "/cb");
    }
    wait_saved(&site, &server, &[&control.callback("/cb")]);
    edit_and_await_control(&site, &control, "changed");
    assert!(
        wrong.deliveries("/cb").is_empty(),
        "wrong echo was subscribed"
    );
    assert!(missing.deliveries("/cb").is_empty(), "a 404 was subscribed");
    assert_eq!(saved_callbacks(&site), vec![control.callback("/cb")]);
}

#[test]
fn topics_that_are_not_our_feeds_get_a_denial() {
    let site = site();
    let server = Server::start(&site, &[]);
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let topics = [
        "http://elsewhere.example/rss.xml".to_owned(),
        server.at("/index.html"),
        server.at("/tags/no-such-tag/rss.xml"),
        server.at("/rss.xml?page=2"),
    ];
    for (i, topic) in topics.iter().enumerate() {
        hub_request(
            &server,
            "subscribe",
            topic,
            &sub.callback(&format!("/d{i}")),
            &[],
        );
    }
    for (i, topic) in topics.iter().enumerate() {
        let d = sub.wait_nth("a denial", &format!("/d{i}"), 1, WAIT, |r| {
            r.method == "GET"
        });
        assert!(d.is_denial(), "{topic}: {:?}", d.query);
        assert_eq!(d.param("hub.topic"), Some(topic.as_str()));
        assert!(!d.param("hub.reason").unwrap_or_default().is_empty());
        assert!(d.param("hub.challenge").is_none());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(saved_callbacks(&site).is_empty());
}

#[test]
fn unsubscribing_is_verified_and_stops_deliveries() {
    let site = site();
    let server = Server::start(&site, &[]);
    let leaving = Subscriber::new(Verify::Echo, Answer::Ok);
    let control = Subscriber::new(Verify::Echo, Answer::Ok);
    let topic = server.at("/feed.json");
    hub_request(&server, "subscribe", &topic, &leaving.callback("/cb"), &[]);
    hub_request(&server, "subscribe", &topic, &control.callback("/cb"), &[]);
    wait_saved(
        &site,
        &server,
        &[&leaving.callback("/cb"), &control.callback("/cb")],
    );
    hub_request(
        &server,
        "unsubscribe",
        &topic,
        &leaving.callback("/cb"),
        &[],
    );
    let v = leaving.wait_nth("the unsubscribe verification", "/cb", 2, WAIT, |r| {
        r.is_verification()
    });
    assert_eq!(v.param("hub.mode"), Some("unsubscribe"));
    assert_eq!(v.param("hub.topic"), Some(topic.as_str()));
    assert_eq!(v.param("hub.lease_seconds"), None);
    wait_saved(&site, &server, &[&control.callback("/cb")]);
    let d = edit_and_await_control(&site, &control, "after the unsubscribe");
    check_delivery(&server, &d, "/feed.json", None);
    assert!(
        leaving.deliveries("/cb").is_empty(),
        "delivered after unsubscribe"
    );
}

#[test]
fn leases_expire() {
    let site = site();
    config(&site, "[hub]\nmin_lease_seconds = 1\n");
    let server = Server::start(&site, &[]);
    let brief = Subscriber::new(Verify::Echo, Answer::Ok);
    let control = Subscriber::new(Verify::Echo, Answer::Ok);
    let topic = server.at("/rss.xml");
    hub_request(
        &server,
        "subscribe",
        &topic,
        &brief.callback("/cb"),
        &[("hub.lease_seconds", "1")],
    );
    hub_request(&server, "subscribe", &topic, &control.callback("/cb"), &[]);
    let v = verification_to(&brief, "/cb");
    assert_eq!(v.param("hub.lease_seconds"), Some("1"));
    verification_to(&control, "/cb");
    // The expired lease is dropped from the saved subscriptions…
    wait_saved(&site, &server, &[&control.callback("/cb")]);
    // The lease runs from when the answer was acted on, a moment after `v.at`.
    let since = v.at.elapsed();
    if since < Duration::from_millis(2500) {
        std::thread::sleep(Duration::from_millis(2500) - since);
    }
    // …and never delivered to.
    edit_and_await_control(&site, &control, "after the lease");
    assert!(
        brief.deliveries("/cb").is_empty(),
        "delivered after the lease ended"
    );
    // A lease longer than allowed is cut to the maximum, a shorter one raised to the minimum.
    hub_request(
        &server,
        "subscribe",
        &topic,
        &brief.callback("/long"),
        &[("hub.lease_seconds", "999999999999")],
    );
    let v = verification_to(&brief, "/long");
    assert_eq!(v.param("hub.lease_seconds"), Some("2592000"));
    hub_request(
        &server,
        "subscribe",
        &topic,
        &brief.callback("/zero"),
        &[("hub.lease_seconds", "0")],
    );
    let v = verification_to(&brief, "/zero");
    assert_eq!(v.param("hub.lease_seconds"), Some("1"));
}

#[test]
fn a_dead_subscriber_is_retried_then_dropped_without_delaying_anyone() {
    let site = site();
    config(
        &site,
        "[hub]\ntimeout_ms = 1500\ndelivery_attempts = 3\nretry_base_ms = 100\n",
    );
    let server = Server::start(&site, &[]);
    let dead = Subscriber::new(Verify::Echo, Answer::Hang);
    let failing = Subscriber::new(Verify::Echo, Answer::Status(500));
    let healthy = Subscriber::new(Verify::Echo, Answer::Ok);
    let topic = server.at("/rss.xml");
    for s in [&dead, &failing, &healthy] {
        hub_request(
            &server,
            "subscribe",
            &topic,
            &s.callback("/cb"),
            &[("hub.secret", "k")],
        );
    }
    wait_saved(
        &site,
        &server,
        &[
            &dead.callback("/cb"),
            &failing.callback("/cb"),
            &healthy.callback("/cb"),
        ],
    );
    let edited = Instant::now();
    edit_alpha(&site, "while one subscriber hangs");
    let d = healthy.wait_nth(
        "the healthy delivery",
        "/cb",
        1,
        WAIT,
        Received::is_delivery,
    );
    check_delivery(&server, &d, "/rss.xml", Some("k"));
    // The hanging subscriber got its request too, and was still holding it when the healthy
    // one had been served: deliveries run side by side.
    dead.wait_nth(
        "the first hanging attempt",
        "/cb",
        1,
        WAIT,
        Received::is_delivery,
    );
    let first_close = loop {
        if let Some(t) = dead.hung_up().first().copied() {
            break t;
        }
        assert!(
            edited.elapsed() < WAIT,
            "the hub never gave up on the hanging subscriber"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        d.at < first_close,
        "the healthy delivery waited for the hanging one"
    );
    // Republishing did not wait either: the feed was already new when the hub gave up.
    assert!(server
        .get("/rss.xml")
        .text()
        .contains("while one subscriber hangs"));

    // Three attempts each, then both are dropped.
    wait_saved(&site, &server, &[&healthy.callback("/cb")]);
    assert_eq!(
        dead.deliveries("/cb").len(),
        3,
        "attempts at the hanging subscriber"
    );
    assert_eq!(
        failing.deliveries("/cb").len(),
        3,
        "attempts at the failing subscriber"
    );
    let f = failing.deliveries("/cb");
    let gaps: Vec<Duration> = f.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] >= Duration::from_millis(90) && gaps[1] >= Duration::from_millis(190),
        "no backoff between attempts: {gaps:?}"
    );
    // Dropped means no more attempts.
    edit_alpha(&site, "after the drop");
    healthy.wait_nth(
        "the second healthy delivery",
        "/cb",
        2,
        WAIT,
        Received::is_delivery,
    );
    std::thread::sleep(GRACE);
    assert_eq!(dead.deliveries("/cb").len(), 3);
    assert_eq!(failing.deliveries("/cb").len(), 3);
}

#[test]
fn a_410_drops_the_subscription_at_once() {
    let site = site();
    let server = Server::start(&site, &[]);
    let gone = Subscriber::new(Verify::Echo, Answer::Status(410));
    hub_request(
        &server,
        "subscribe",
        &server.at("/atom.xml"),
        &gone.callback("/cb"),
        &[],
    );
    wait_saved(&site, &server, &[&gone.callback("/cb")]);
    edit_alpha(&site, "gone");
    gone.wait_nth("the delivery", "/cb", 1, WAIT, Received::is_delivery);
    wait_saved(&site, &server, &[]);
    assert_eq!(gone.deliveries("/cb").len(), 1);
}

#[test]
fn subscriptions_survive_a_restart() {
    let site = site();
    // A fixed site URL (as behind a proxy), so topics are the same on the new port.
    let args = ["--url", "http://feeds.example.test"];
    let topic = "http://feeds.example.test/categories/alpha/atom.xml";
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let mut first = Server::start(&site, &args);
    hub_request(
        &first,
        "subscribe",
        topic,
        &sub.callback("/cb"),
        &[("hub.secret", "persisted")],
    );
    wait_saved(&site, &first, &[&sub.callback("/cb")]);
    assert!(first.stop(EXIT_TIMEOUT).success());

    // Unchanged feeds: the restart delivers nothing.
    let second = Server::start(&site, &args);
    assert!(second
        .get("/atom.xml")
        .text()
        .contains("http://feeds.example.test/hub"));
    std::thread::sleep(GRACE);
    assert!(
        sub.deliveries("/cb").is_empty(),
        "a restart delivered unchanged feeds"
    );
    edit_alpha(&site, "after a restart");
    let d = sub.wait_nth(
        "a delivery after the restart",
        "/cb",
        1,
        WAIT,
        Received::is_delivery,
    );
    assert!(String::from_utf8_lossy(&d.body).contains("after a restart"));
    assert_eq!(
        d.header("x-hub-signature"),
        Some(format!("sha256={}", hmac_hex("persisted", &d.body)).as_str())
    );
    assert!(d
        .headers_named("link")
        .contains(&format!("<{topic}>; rel=\"self\"").as_str()));
    let mut second = second;
    assert!(second.stop(EXIT_TIMEOUT).success());

    // A change made while the server was down is delivered when it is back.
    edit_alpha(&site, "while the server was down");
    let _third = Server::start(&site, &args);
    let d = sub.wait_nth(
        "a delivery of the offline change",
        "/cb",
        2,
        WAIT,
        Received::is_delivery,
    );
    assert!(String::from_utf8_lossy(&d.body).contains("while the server was down"));
}

// ---------------------------------------------------------------------------------------------
// Safety

#[test]
fn private_and_link_local_callbacks_are_refused() {
    let site = site();
    let server = Server::start(&site, &[]);
    let topic = server.at("/rss.xml");
    for cb in [
        "http://10.0.0.1/cb",
        "http://10.255.1.2:8080/cb",
        "http://172.16.5.4/cb",
        "http://192.168.1.1/cb",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/cb",
        "http://[fc00::1]/cb",
        "http://[::ffff:192.168.0.1]/cb",
        "http://167772161/cb",
        "http://0.0.0.0:80/cb",
    ] {
        let r = post_hub(
            &server,
            FORM,
            &form(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", &topic),
                ("hub.callback", cb),
            ]),
        );
        assert_eq!(r.status, 403, "{cb}: {}", r.text());
    }
    // Loopback is allowed, by name too (resolved when connecting, through the same policy).
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let by_name = format!("http://localhost:{}/named", sub.addr.port());
    hub_request(&server, "subscribe", &topic, &by_name, &[]);
    verification_to(&sub, "/named");
    wait_saved(&site, &server, &[&by_name]);
}

#[test]
fn malformed_requests_are_refused() {
    let site = site();
    let server = Server::start(&site, &[]);
    let topic = server.at("/rss.xml");
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let cb = sub.callback("/cb");
    let long_secret = "x".repeat(200);
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"garbage".to_vec(),
        b"%%%%".to_vec(),
        b"hub.mode=subscribe&hub.callback=%FF%FE&hub.topic=x".to_vec(),
        form(&[("hub.topic", &topic), ("hub.callback", &cb)]),
        form(&[
            ("hub.mode", "publish"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
        ]),
        form(&[("hub.mode", "subscribe"), ("hub.callback", &cb)]),
        form(&[("hub.mode", "subscribe"), ("hub.topic", &topic)]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", "not a url"),
            ("hub.callback", &cb),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", "/relative"),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", "ftp://x/"),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &format!("http://user:pw@{}/cb", sub.addr)),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
            ("hub.lease_seconds", "soon"),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
            ("hub.secret", &long_secret),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.mode", "unsubscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
        ]),
    ];
    for body in &cases {
        let r = post_hub(&server, FORM, body);
        assert_eq!(
            r.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert!(!r.text().trim().is_empty(), "a 400 says why");
    }
    let ok = form(&[
        ("hub.mode", "subscribe"),
        ("hub.topic", &topic),
        ("hub.callback", &cb),
    ]);
    // Wrong media type.
    assert_eq!(post_hub(&server, "application/json", &ok).status, 415);
    assert_eq!(post_hub(&server, "text/plain", &ok).status, 415);
    // Too large, declared (answered before the body is sent)…
    let r = raw_post(&server.addr, "Content-Length: 17000\r\n", b"");
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // …or streamed without a length (answered once the limit is passed).
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(b"1000\r\n");
        chunked.extend(std::iter::repeat_n(b'a', 4096));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"200\r\n");
    chunked.extend(std::iter::repeat_n(b'a', 512));
    chunked.extend_from_slice(b"\r\n");
    let r = raw_post(&server.addr, "Transfer-Encoding: chunked\r\n", &chunked);
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // Other methods.
    for method in ["PUT", "DELETE", "PATCH"] {
        let r = request(method, &server.at("/hub"), &[]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.h("allow"), "GET, HEAD, POST", "{method}");
    }
    // POST elsewhere is still 405.
    let r = request("POST", &server.at("/rss.xml"), &[]);
    assert_eq!(r.status, 405);
    // Nothing was contacted, and the server is fine.
    std::thread::sleep(Duration::from_millis(300));
    assert!(sub.received().is_empty(), "{:?}", sub.received());
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
    assert!(saved_callbacks(&site).is_empty());
}

/// Sends a `POST /hub` head with `extra` headers and then `body` as is over a raw socket, and
/// returns everything the server answers.
fn raw_post(addr: &str, extra: &str, body: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut req = format!(
        "POST /hub HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {FORM}\r\n{extra}Connection: close\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
