//! The operator's endpoints of `serve`: Prometheus metrics and the health check, against the
//! real binary. Requests are made, then `/metrics` must count each by route class and status.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::http::{agent, request_with, wait_for};
use crate::common::{metric_samples as samples, news_post, Server, TempSite};

const METRICS: &str = "/.feedsmith/metrics";
const HEALTH: &str = "/.feedsmith/healthz";
const WAIT: Duration = Duration::from_secs(30);

fn site() -> TempSite {
    let s = TempSite::new();
    s.write_post(
        "2024-01-01-alpha.md",
        &news_post(
            "Alpha",
            "2024-01-01 10:00:00 +0000",
            "alpha",
            "one",
            "<p>Alpha.</p>",
        ),
    );
    s.write_post_bytes("img/dot.png", &[0x89, b'P', b'N', b'G', 0, 1, 2, 3]);
    s
}

fn requests(m: &BTreeMap<String, f64>, class: &str, code: u16) -> f64 {
    let key = format!("feedsmith_http_requests_total{{class=\"{class}\",code=\"{code}\"}}");
    m.get(&key).copied().unwrap_or(0.0)
}

#[test]
fn metrics_count_requests_by_class_and_status() {
    let s = site();
    let server = Server::start(&s, &[]);
    let a = agent();
    let get =
        |path: &str, headers: &[(&str, &str)]| request_with(&a, "GET", &server.at(path), headers);
    let rss = get("/rss.xml", &[]);
    assert_eq!(rss.status, 200);
    let etag = rss.h("etag").to_owned();
    assert_eq!(get("/rss.xml", &[("If-None-Match", &etag)]).status, 304);
    assert_eq!(get("/atom.xml", &[]).status, 200);
    let page = get("/alpha/2024/01/01/alpha.html", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(get("/", &[]).status, 200);
    assert_eq!(get("/feeds.opml", &[]).status, 200);
    assert_eq!(get("/img/dot.png", &[]).status, 200);
    assert_eq!(get("/hub", &[]).status, 200);
    assert_eq!(get("/nowhere", &[]).status, 404);
    assert_eq!(get("/nowhere-else", &[]).status, 404);
    let view = get(
        "/rss.xml",
        &[
            ("Accept", "text/html"),
            ("Sec-Fetch-Mode", "navigate"),
            ("Sec-Fetch-Dest", "document"),
        ],
    );
    assert_eq!(view.status, 200);
    assert!(view.h("content-type").starts_with("text/html"));
    let hub_post = request_with(&a, "POST", &server.at("/hub"), &[]);
    assert_eq!(hub_post.status, 415);

    let r = get(METRICS, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.h("cache-control"), "no-store");
    assert!(r.h("content-type").starts_with("text/plain; version=0.0.4"));
    let m = samples(&r.text());
    for (class, code, n) in [
        ("feed", 200, 2.0),
        ("feed", 304, 1.0),
        ("page", 200, 1.0),
        ("list", 200, 2.0),
        ("asset", 200, 1.0),
        ("hub", 200, 1.0),
        ("hub", 415, 1.0),
        ("view", 200, 1.0),
        ("other", 404, 2.0),
    ] {
        assert_eq!(requests(&m, class, code), n, "{class} {code}: {m:#?}");
    }
    // Bytes sent for feeds: the full bodies (the 304 has none).
    let feed_bytes = m["feedsmith_http_response_bytes_total{class=\"feed\"}"];
    assert!(feed_bytes >= rss.body.len() as f64, "{feed_bytes}");
    assert!(m["feedsmith_store_documents"] >= 10.0, "{m:#?}");
    assert!(m["feedsmith_store_bytes"] > 0.0);
    assert_eq!(m["feedsmith_store_assets"], 1.0);
    // The scrape before this one is counted too.
    let again = samples(&get(METRICS, &[]).text());
    assert_eq!(requests(&again, "ops", 200), 1.0);
}

#[test]
fn republishes_are_counted_with_their_duration() {
    let s = site();
    let server = Server::start(&s, &[]);
    s.write_post(
        "2024-01-02-beta.md",
        &news_post(
            "Beta",
            "2024-01-02 10:00:00 +0000",
            "beta",
            "two",
            "<p>Beta.</p>",
        ),
    );
    wait_for("the republish counted", WAIT, Some(&server), || {
        let m = samples(&server.get(METRICS).text());
        let n = m.get("feedsmith_republishes_total").copied().unwrap_or(0.0);
        let hist = m
            .get("feedsmith_republish_duration_seconds_count")
            .copied()
            .unwrap_or(0.0);
        (n >= 1.0 && hist == n)
            .then_some(())
            .ok_or(format!("{m:#?}"))
    });
}

#[test]
fn health_answers_ready_and_is_never_cached() {
    let s = site();
    let server = Server::start(&s, &[]);
    let r = server.get(HEALTH);
    assert_eq!(r.status, 200);
    assert_eq!(r.h("cache-control"), "no-store");
    assert_eq!(r.text(), "ok\n");
    let head = request_with(&agent(), "HEAD", &server.at(HEALTH), &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let post = request_with(&agent(), "POST", &server.at(HEALTH), &[]);
    assert_eq!(post.status, 405);
}

#[test]
fn paths_move_and_turn_off_and_win_over_a_post_asset() {
    let s = site();
    // An asset where the metrics are configured to be: the metrics are served.
    s.write_post_bytes("metrics", b"an asset, not metrics");
    let config = s.write_config(
        "feedsmith.toml",
        "[server]\nmetrics_path = \"/metrics\"\nhealth_path = \"\"\n",
    );
    let server = Server::start(&s, &["--config", &config]);
    let r = server.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.text().contains("# TYPE feedsmith_build_info gauge"),
        "{}",
        r.text()
    );
    assert_eq!(server.get(METRICS).status, 404);
    assert_eq!(server.get(HEALTH).status, 404, "the health check is off");
    assert!(
        server
            .stderr()
            .contains("metrics: asset at a route of the site's own documents"),
        "{}",
        server.stderr()
    );
    // Off entirely.
    let s = site();
    let config = s.write_config("feedsmith.toml", "[server]\nmetrics_path = \"\"\n");
    let server = Server::start(&s, &["--config", &config]);
    assert_eq!(server.get(METRICS).status, 404);
    assert_eq!(server.get(HEALTH).status, 200);
}

#[test]
fn until_the_first_build_is_in_everything_but_the_endpoints_is_503() {
    let s = TempSite::new();
    // Enough posts that the first build takes a while (a debug build: seconds).
    for i in 0..3000 {
        s.write_post(
            &format!("2024-01-01-post-{i}.md"),
            &news_post(
                &format!("Post {i}"),
                "2024-01-01 10:00:00 +0000",
                "c",
                &format!("t{}", i % 300),
                "<p>Body.</p>",
            ),
        );
    }
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(["serve", "--posts"])
        .arg(s.posts())
        .arg("--out")
        .arg(s.out())
        .args(["--listen", &addr])
        .current_dir(s.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn feedsmith serve");
    let a = agent();
    let url = |path: &str| format!("http://{addr}{path}");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "not ready in time: {seen:?}"
        );
        let Ok(health) = crate::common::http::try_request_with(&a, "GET", &url(HEALTH), &[]) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        if health.status == 503 {
            let feed = request_with(&a, "GET", &url("/rss.xml"), &[]);
            seen.push((
                health.status,
                feed.status,
                feed.header("retry-after").map(str::to_owned),
            ));
            // The metrics answer while starting.
            assert_eq!(request_with(&a, "GET", &url(METRICS), &[]).status, 200);
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        assert_eq!(health.status, 200);
        break;
    }
    assert_eq!(request_with(&a, "GET", &url("/rss.xml"), &[]).status, 200);
    let _ = child.kill();
    let _ = child.wait();
    // The first answers came while the build ran: 503 for the health check and for a feed.
    assert!(
        !seen.is_empty(),
        "the server answered only once the build was in"
    );
    for (health, feed, retry) in &seen {
        // A feed asked for just as the build is published may be served already.
        assert!(*health == 503 && (*feed == 503 || *feed == 200), "{seen:?}");
        if *feed == 503 {
            assert_eq!(retry.as_deref(), Some("1"));
        }
    }
    assert!(seen.iter().any(|s| s.1 == 503), "{seen:?}");
}
