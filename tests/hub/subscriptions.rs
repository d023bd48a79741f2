//! Subscribing, verification, signed deliveries, leases, retries, restarts.

use super::*;

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
    // Counted in the metrics: two deliveries, none failed.
    let deliveries =
        |outcome: &str| format!("feedsmith_hub_deliveries_total{{outcome=\"{outcome}\"}}");
    server.wait_metric(&deliveries("delivered"), 2.0);
    server.wait_metric(&deliveries("failed"), 0.0);

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
