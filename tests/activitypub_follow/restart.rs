//! A restart keeps the actors' key, their followers and the deliveries still pending.

use super::*;

#[test]
fn key_followers_and_pending_deliveries_survive_a_restart() {
    let site = site();
    let mut server = serve(&site);
    let remote = Remote::new(PUB_A);
    let actor: Value =
        serde_json::from_slice(&get(&server.at("/ap/site"), &[("Accept", ACTIVITY_JSON)]).body)
            .unwrap();
    let pem = actor["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(
        &server.at("/ap/site/inbox"),
        &remote,
        &remote.follow(&server.at("/ap/site"), 1),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    remote
        .peer
        .wait_nth("the Accept", "/inbox", 1, WAIT, |r| r.method == "POST");
    wait_followers(&server, "/ap/site", 1);

    // The follower's server is down: the Create of a new post is tried, and waits.
    remote.peer.set_answer(Answer::Status(503));
    site.write_post(
        "2026-01-02-second.md",
        &post("Second", "While you were out."),
    );
    remote
        .peer
        .wait_nth("a first attempt", "/inbox", 2, WAIT, |r| r.method == "POST");
    assert!(server.stop(EXIT_TIMEOUT).success());
    let saved = std::fs::read_to_string(site.root().join(".feedsmith/activitypub-deliveries.json"))
        .expect("the pending deliveries are saved");
    assert!(saved.contains("second.html#create"), "{saved}");

    // Back up, both of them: the same key, the same follower, and the Create delivered.
    remote.peer.set_answer(Answer::Status(202));
    let attempts = remote.peer.deliveries("/inbox").len();
    // At the same address: the actors' ids, which the followers are kept under, are its URLs.
    let config = site.write_config("feedsmith.toml", CONFIG);
    let server = Server::start_on(&site, &server.addr, &["--config", &config], &[]);
    let actor: Value =
        serde_json::from_slice(&get(&server.at("/ap/site"), &[("Accept", ACTIVITY_JSON)]).body)
            .unwrap();
    assert_eq!(
        actor["publicKey"]["publicKeyPem"],
        pem.as_str(),
        "the same key"
    );
    assert_eq!(followers(&server, "/ap/site"), 1, "{}", server.stderr());
    let delivered = remote.peer.wait_nth(
        "the Create after the restart",
        "/inbox",
        attempts + 1,
        WAIT,
        |r| r.method == "POST",
    );
    let v: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(v["type"], "Create", "{v}");
    assert!(v["object"]["id"].as_str().unwrap().ends_with("second.html"));
    // Sent once: nothing more waits.
    std::thread::sleep(Duration::from_millis(1500));
    let creates = inbox_activities(&remote)
        .iter()
        .filter(|v| v["type"] == "Create")
        .count();
    assert_eq!(
        creates, attempts,
        "one more attempt, then done (2 before: the Accept, one failure)"
    );
}
