//! The WebSub hub of `feedsmith serve`, from the outside: the real binary, and subscribers that
//! are small HTTP servers on the loopback interface (`common::subscriber`).
//!
//! Waits for something to happen are bounded; "nothing happened" is only asserted after a
//! positive control (another subscriber's delivery of the same republish) has arrived, plus a
//! grace period.

mod discovery;
mod external;
mod safety;
mod subscriptions;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::common;
use crate::common::http::{agent, get, request, Resp};
use crate::common::raw;
use crate::common::subscriber::{Answer, Received, Subscriber, Verify};
use crate::common::xmltree;
use crate::common::{news_post, Server, TempSite};

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
