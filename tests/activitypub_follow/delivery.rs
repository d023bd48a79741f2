//! What a follower's inbox gets for each change, once per activity, paced.

use super::*;
use crate::common::subscriber::Received;

/// The POSTs the remote's inbox got, parsed, with when.
fn posts(remote: &Remote) -> Vec<(Value, std::time::Instant)> {
    remote
        .peer
        .deliveries("/inbox")
        .iter()
        .map(|r: &Received| (serde_json::from_slice(&r.body).unwrap(), r.at))
        .collect()
}

fn kinds(list: &[(Value, std::time::Instant)]) -> Vec<String> {
    list.iter()
        .map(|(v, _)| {
            format!(
                "{} {}",
                v["type"].as_str().unwrap(),
                v["actor"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn each_change_once_per_inbox_and_bursts_paced() {
    let site = site();
    let config = site.write_config(
        "feedsmith.toml",
        &format!("{CONFIG}delivery_interval_ms = 200\n"),
    );
    let server = Server::start(&site, &["--config", &config]);
    let remote = Remote::new(PUB_A);
    let (site_actor, tag) = (server.at("/ap/site"), server.at("/ap/tags/rust"));
    for (n, actor) in [&site_actor, &tag].into_iter().enumerate() {
        let r = send(
            &format!("{actor}/inbox"),
            &remote,
            &remote.follow(actor, n as u32),
        );
        assert_eq!(r.status, 202, "{}", r.text());
    }
    remote
        .peer
        .wait_nth("two Accepts", "/inbox", 2, WAIT, |r| r.method == "POST");
    let wait_count = |n: usize, what: &str| {
        remote
            .peer
            .wait_nth(what, "/inbox", n, WAIT, |r| r.method == "POST");
    };

    // A new post in the tag: the site's Create first, then the tag's Announce.
    site.write_post("2026-01-02-second.md", &post("Second", "One."));
    wait_count(4, "the Create and the Announce");
    let got = posts(&remote);
    assert_eq!(
        kinds(&got[2..]),
        [format!("Create {site_actor}"), format!("Announce {tag}")]
    );

    // The same bytes written again: no edit, nothing sent. Then an edit: one Update, though
    // the inbox follows two actors the post is in.
    site.write_post("2026-01-02-second.md", &post("Second", "One."));
    crate::common::http::wait_for("the rewrite to be republished", WAIT, Some(&server), || {
        let log = server.stderr();
        (log.matches("2026-01-02-second.md").count() >= 2)
            .then_some(())
            .ok_or_else(|| "not yet".to_owned())
    });
    site.write_post("2026-01-02-second.md", &post("Second", "Two."));
    wait_count(5, "the Update");
    // Then a removal: one Delete. The Update and Delete arriving in order, and nothing between,
    // shows the rewrite sent nothing.
    std::fs::remove_file(site.posts().join("2026-01-02-second.md")).unwrap();
    wait_count(6, "the Delete");
    let got = posts(&remote);
    assert_eq!(
        kinds(&got[4..]),
        [
            format!("Update {site_actor}"),
            format!("Delete {site_actor}")
        ]
    );
    assert!(got[4].0["object"]["content"]
        .as_str()
        .unwrap()
        .contains("Two."));
    assert!(got[5].0["object"]["id"]
        .as_str()
        .unwrap()
        .ends_with("second.html"));

    // A burst (four posts at once, eight activities for this inbox): paced, not all at once.
    for n in 0..4 {
        site.write_post(
            &format!("2026-01-1{n}-burst-{n}.md"),
            &post(&format!("Burst {n}"), "…"),
        );
    }
    wait_count(14, "the burst");
    let got = posts(&remote);
    for pair in got[6..].windows(2) {
        let gap = pair[1].1.duration_since(pair[0].1);
        assert!(
            gap >= Duration::from_millis(150),
            "{gap:?} between two deliveries"
        );
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(posts(&remote).len(), 14, "{:?}", kinds(&posts(&remote)));
}

#[test]
fn a_scheduled_post_is_delivered_when_its_time_comes() {
    let site = site();
    let server = serve(&site);
    let remote = Remote::new(PUB_A);
    let actor = server.at("/ap/site");
    let r = send(
        &format!("{actor}/inbox"),
        &remote,
        &remote.follow(&actor, 0),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    remote
        .peer
        .wait_nth("the Accept", "/inbox", 1, WAIT, |r| r.method == "POST");
    let due = chrono::Utc::now() + chrono::Duration::seconds(3);
    let text = format!(
        "---\ntitle: Later\ndate: {}\n---\nScheduled.\n",
        due.format("%Y-%m-%d %H:%M:%S +0000")
    );
    let written = std::time::Instant::now();
    site.write_post("later.md", &text);
    let create = remote
        .peer
        .wait_nth("the Create of the scheduled post", "/inbox", 2, WAIT, |r| {
            r.method == "POST"
        });
    // Not before its time (its date is written to the second: 2 to 3 s after writing).
    let v: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(v["type"], "Create", "{v}");
    let after = create.at.duration_since(written);
    assert!(
        after >= Duration::from_secs(2),
        "delivered {after:?} after writing"
    );
    assert!(v["object"]["content"]
        .as_str()
        .unwrap()
        .contains("Scheduled."));
}
