//! External WebSub hubs (`hub.external`): advertised in every feed and `Link` header, beside
//! the built-in hub or alone, and pinged (`hub.mode=publish`, every changed topic in one
//! request) after each republish and by `build --ping`. The "hubs" here are recording HTTP
//! servers on loopback (`common::subscriber`), so the pings themselves are seen.

use super::*;

/// The topics (`hub.url` values) of a recorded ping, sorted.
fn topics(r: &Received) -> Vec<String> {
    let mut t: Vec<String> = url::form_urlencoded::parse(&r.body)
        .filter(|(k, _)| k == "hub.url")
        .map(|(_, v)| v.into_owned())
        .collect();
    t.sort();
    t
}

fn form_field(r: &Received, name: &str) -> Option<String> {
    url::form_urlencoded::parse(&r.body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The absolute URLs of the feeds of the given scopes (`""` is the site's), in every format.
fn feed_urls(base: &str, scopes: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = scopes
        .iter()
        .flat_map(|s| ["rss.xml", "atom.xml", "feed.json"].map(|f| format!("{base}{s}/{f}")))
        .collect();
    v.sort();
    v
}

fn config_with(site: &TempSite, hub: &str) -> String {
    site.write_config("feedsmith.toml", &format!("[hub]\n{hub}\n"))
}

#[test]
fn every_feed_advertises_the_external_hubs_beside_the_built_in_one() {
    let s = site();
    let config = config_with(
        &s,
        "external = [\"https://hub.example/\", \"http://127.0.0.1:9/websub\"]",
    );
    let server = Server::start(&s, &["--config", &config]);
    let own = server.at("/hub");
    let want = [
        own.as_str(),
        "https://hub.example/",
        "http://127.0.0.1:9/websub",
    ];
    for path in ["/rss.xml", "/atom.xml", "/tags/one/rss.xml"] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        // feed-rs, an independent reader, sees the hub links of RSS and Atom in order.
        let feed = feed_rs::parser::parse(&r.body[..]).expect("the feed parses");
        let hubs: Vec<&str> = feed
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("hub"))
            .map(|l| l.href.as_str())
            .collect();
        assert_eq!(hubs, want, "{path}");
        let link = r.h("link");
        let in_header: Vec<&str> = link
            .split(", ")
            .filter(|l| l.ends_with("rel=\"hub\""))
            .map(|l| l.trim_start_matches('<').split('>').next().unwrap())
            .collect();
        assert_eq!(in_header, want, "{path}: {link}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&server.get("/feed.json").body).expect("JSON Feed");
    let hubs: Vec<(&str, &str)> = json["hubs"]
        .as_array()
        .expect("hubs")
        .iter()
        .map(|h| (h["type"].as_str().unwrap(), h["url"].as_str().unwrap()))
        .collect();
    assert_eq!(hubs, want.map(|u| ("WebSub", u)));
    // Only feeds are topics: the index names no hub.
    let index = server.get("/");
    assert!(!index.header("link").unwrap_or("").contains("rel=\"hub\""));
}

#[test]
fn external_hubs_alone_when_the_built_in_one_is_off() {
    let s = site();
    let config = config_with(&s, "enabled = false\nexternal = [\"https://hub.example/\"]");
    let server = Server::start(&s, &["--config", &config]);
    let rss = server.get("/rss.xml");
    let feed = feed_rs::parser::parse(&rss.body[..]).expect("the feed parses");
    let hubs: Vec<&str> = feed
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("hub"))
        .map(|l| l.href.as_str())
        .collect();
    assert_eq!(hubs, ["https://hub.example/"]);
    assert!(rss
        .h("link")
        .contains("<https://hub.example/>; rel=\"hub\""));
    assert_eq!(server.get("/hub").status, 404, "no built-in hub");
    // `build` writes the same advertisement into its files.
    let out = s.build(&["--config", &config]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let atom = s.read_out("atom.xml");
    assert!(
        atom.contains("<link href=\"https://hub.example/\" rel=\"hub\"/>"),
        "{atom}"
    );
}

#[test]
fn a_republish_pings_every_changed_topic_in_one_request() {
    let hub = Subscriber::new(Verify::Echo, Answer::Ok);
    let s = site();
    let config = config_with(&s, &format!("external = [\"{}\"]", hub.callback("/ping")));
    let server = Server::start(&s, &["--config", &config]);
    let base = server.url.trim_end_matches('/').to_owned();
    // The first run wrote every feed: all of them are news to the hub, in one request.
    let first = hub.wait_nth("the first ping", "/ping", 1, WAIT, |r| r.is_delivery());
    assert_eq!(
        topics(&first),
        feed_urls(
            &base,
            &[
                "",
                "/categories/alpha",
                "/categories/beta",
                "/tags/one",
                "/tags/two"
            ]
        )
    );
    assert_eq!(form_field(&first, "hub.mode").as_deref(), Some("publish"));
    assert_eq!(
        first.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // An edit of Alpha changes the site's feeds and those of its category and tag.
    s.write_post("2024-01-01-alpha.md", &alpha("second version"));
    let second = hub.wait_nth("the ping after an edit", "/ping", 2, WAIT, |r| {
        r.is_delivery()
    });
    assert_eq!(
        topics(&second),
        feed_urls(&base, &["", "/categories/alpha", "/tags/one"])
    );
    // Each named topic serves the new version.
    assert!(server
        .get("/categories/alpha/rss.xml")
        .text()
        .contains("second version"));
    // Counted once the hub's answer is read, just after the hub saw the request.
    let ok = format!(
        "feedsmith_external_hub_pings_total{{hub=\"{}\",outcome=\"ok\"}} 2",
        hub.callback("/ping")
    );
    crate::common::http::wait_for("both pings counted", WAIT, Some(&server), || {
        let metrics = server.get("/.feedsmith/metrics").text();
        metrics
            .lines()
            .any(|l| l == ok)
            .then_some(())
            .ok_or(format!("{ok}\n{metrics}"))
    });
}

#[test]
fn a_dead_hub_holds_up_neither_republishing_nor_a_live_hub() {
    let dead = Subscriber::new(Verify::Echo, Answer::Hang);
    let live = Subscriber::new(Verify::Echo, Answer::Ok);
    let s = site();
    let config = s.write_config(
        "feedsmith.toml",
        &format!(
            "[hub]\ntimeout_ms = 500\nretry_base_ms = 50\nexternal = [\"{}\", \"{}\"]\n",
            dead.callback("/dead"),
            live.callback("/live")
        ),
    );
    let server = Server::start(&s, &["--config", &config]);
    live.wait_nth("the first ping", "/live", 1, WAIT, |r| r.is_delivery());
    for (n, version) in ["second", "third"].into_iter().enumerate() {
        let started = Instant::now();
        s.write_post("2024-01-01-alpha.md", &alpha(version));
        common::http::wait_for("the edit served", WAIT, Some(&server), || {
            let body = server.get("/rss.xml").text();
            body.contains(version).then_some(()).ok_or(body)
        });
        // Well within one of the dead hub's timeouts.
        assert!(started.elapsed() < Duration::from_millis(2000), "{version}");
        live.wait_nth("the live hub's ping", "/live", n + 2, WAIT, |r| {
            r.is_delivery()
        });
    }
    // The dead hub's pings time out and are counted as failures.
    common::http::wait_for("a failed ping counted", WAIT, Some(&server), || {
        let m = server.get("/.feedsmith/metrics").text();
        let prefix = format!(
            "feedsmith_external_hub_pings_total{{hub=\"{}\",outcome=\"failed\"}} ",
            dead.callback("/dead")
        );
        let failed = m
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.parse::<u64>().ok());
        failed.filter(|n| *n >= 1).ok_or(m)
    });
}

#[test]
fn build_ping_tells_the_hubs_of_the_feeds_it_changed() {
    let hub = Subscriber::new(Verify::Echo, Answer::Ok);
    // A port nobody listens on: the hub is down.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}/", down.local_addr().unwrap());
    drop(down);
    let s = site();
    let config = s.write_config(
        "feedsmith.toml",
        &format!(
            "[hub]\ntimeout_ms = 1000\nretry_base_ms = 10\ndelivery_attempts = 2\n\
             external = [\"{}\", \"{down_url}\"]\n",
            hub.callback("/ping")
        ),
    );
    let out = s.build(&["--config", &config, "--ping"]);
    let (stdout, stderr) = (common::stdout(&out), common::stderr(&out));
    assert!(
        out.status.success(),
        "a hub that is down is not an error: {stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "pinged {} for 15 changed feeds: accepted",
            hub.callback("/ping")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("pinged {down_url} for 15 changed feeds: failed")),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("hub {down_url} did not accept")),
        "{stderr}"
    );
    let ping = hub.wait_nth("the build's ping", "/ping", 1, WAIT, |r| r.is_delivery());
    assert_eq!(
        topics(&ping),
        feed_urls(
            "https://example.com",
            &[
                "",
                "/categories/alpha",
                "/categories/beta",
                "/tags/one",
                "/tags/two"
            ]
        )
    );
    // Nothing changed: nothing to ping.
    let again = s.build(&["--config", &config, "--ping"]);
    assert!(
        common::stdout(&again).contains("no feed changed"),
        "{}",
        common::stdout(&again)
    );
    // An edit: only the feeds it changed.
    s.write_post("2024-01-01-alpha.md", &alpha("second version"));
    let edited = s.build(&["--config", &config, "--ping"]);
    assert!(common::stdout(&edited).contains("for 9 changed feeds: accepted"));
    let ping = hub.wait_nth("the second build's ping", "/ping", 2, WAIT, |r| {
        r.is_delivery()
    });
    assert_eq!(
        topics(&ping),
        feed_urls(
            "https://example.com",
            &["", "/categories/alpha", "/tags/one"]
        )
    );
}
