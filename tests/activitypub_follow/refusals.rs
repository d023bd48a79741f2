//! Every POST to an inbox is checked: each refusal has its status and a log line saying why;
//! a good Follow is stored and answered with a signed Accept.

use super::*;
use crate::common::raw;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;

/// One refusal: the status, and what the response and the log line say.
fn refused(server: &Server, resp: &Resp, status: u16, why: &str) {
    let text = resp.text();
    assert_eq!(
        resp.status, status,
        "expected {status} ({why}), got: {text}"
    );
    assert!(
        text.contains(why),
        "{status}: {text:?} does not say {why:?}"
    );
    crate::common::http::wait_for("the refusal's log line", WAIT, Some(server), || {
        let log = server.stderr();
        log.lines()
            .any(|l| {
                l.contains("refused with") && l.contains(&status.to_string()) && l.contains(why)
            })
            .then_some(())
            .ok_or_else(|| "not logged yet".to_owned())
    });
}

#[test]
fn every_refusal_has_its_status_and_a_log_line() {
    let site = site();
    let server = serve(&site);
    let remote = Remote::new(PUB_A);
    let inbox = server.at("/ap/site/inbox");
    let follow = remote.follow(&server.at("/ap/site"), 1);
    let body = follow.to_string();
    let key_id = remote.key_id();
    let now = SystemTime::now();
    let signing = |key_pem, date| {
        Some(Signing {
            key_pem,
            key_id: &key_id,
            date,
            digest_of: None,
        })
    };

    // Unsigned.
    let r = post_signed(&inbox, ACTIVITY_JSON, body.as_bytes(), None);
    refused(&server, &r, 401, "not signed");
    // Signed with another key than the actor publishes.
    let r = post_signed(&inbox, ACTIVITY_JSON, body.as_bytes(), signing(KEY_B, now));
    refused(&server, &r, 401, "does not verify");
    // A body that is not the one the digest was made of.
    let other = body.replace("follows/1", "follows/2");
    let r = post_signed(
        &inbox,
        ACTIVITY_JSON,
        other.as_bytes(),
        Some(Signing {
            key_pem: KEY_A,
            key_id: &key_id,
            date: now,
            digest_of: Some(body.as_bytes()),
        }),
    );
    refused(&server, &r, 401, "Digest header does not match");
    // A Date more than an hour away, either way.
    for skew in [-3700i64, 3700] {
        let date = if skew < 0 {
            now - Duration::from_secs(3700)
        } else {
            now + Duration::from_secs(3700)
        };
        let r = post_signed(&inbox, ACTIVITY_JSON, body.as_bytes(), signing(KEY_A, date));
        refused(&server, &r, 401, "more than an hour");
    }
    // Larger than 1 MiB: declared (answered before the body is sent), or streamed without a
    // length (answered once the limit is passed).
    let head = |framing: &str| {
        format!(
            "POST /ap/site/inbox HTTP/1.1\r\nHost: {}\r\nContent-Type: {ACTIVITY_JSON}\r\n{framing}Connection: close\r\n\r\n",
            server.addr
        )
    };
    let declared = raw::exchange(&server.addr, head("Content-Length: 2000000\r\n").as_bytes());
    let mut chunked = head("Transfer-Encoding: chunked\r\n").into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(b"10000\r\n");
        chunked.extend(std::iter::repeat_n(b' ', 0x10000));
        chunked.extend_from_slice(b"\r\n");
    }
    let streamed = raw::parse(&raw::send(&server.addr, &chunked));
    for r in [declared, streamed] {
        assert_eq!(r.status, 413, "{}", r.head);
        assert!(String::from_utf8_lossy(&r.body).contains("larger than 1 MiB"));
    }
    // Not JSON, properly signed.
    let r = post_signed(
        &inbox,
        ACTIVITY_JSON,
        b"{\"type\": Follow",
        signing(KEY_A, now),
    );
    refused(&server, &r, 400, "not JSON");
    // Another type than ActivityStreams JSON.
    let r = post_signed(
        &inbox,
        "application/json",
        body.as_bytes(),
        signing(KEY_A, now),
    );
    refused(&server, &r, 415, "application/activity+json");
    // Signed by the remote, for another actor.
    let mut forged = follow.clone();
    forged["actor"] = json!("http://127.0.0.1:9/someone-else");
    let r = post_signed(
        &server.at("/ap/inbox"),
        ACTIVITY_JSON,
        forged.to_string().as_bytes(),
        signing(KEY_A, now),
    );
    refused(&server, &r, 401, "but the activity's actor is");
    // A Follow of no actor of this site.
    let r = send(
        &inbox,
        &remote,
        &remote.follow(&server.at("/ap/tags/nothing"), 3),
    );
    refused(&server, &r, 404, "not an actor of this site");
    // An inbox of no actor: no such address.
    let r = send(&server.at("/ap/tags/nothing/inbox"), &remote, &follow);
    assert_eq!(r.status, 405, "{}", r.text());

    // None of them made a follower, nor sent anything.
    assert_eq!(followers(&server, "/ap/site"), 0);
    assert!(remote.peer.deliveries("/inbox").is_empty());
}

/// Verifies a delivery's draft-cavage signature with `public_pem`, by hand.
fn verify_delivery(r: &crate::common::subscriber::Received, public_pem: &str, key_id: &str) {
    let sig_header = r.header("signature").expect("a Signature header");
    let param = |name: &str| {
        let start = sig_header.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let rest = &sig_header[start..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    assert_eq!(param("keyId"), key_id);
    assert_eq!(param("algorithm"), "rsa-sha256");
    let lines: Vec<String> = param("headers")
        .split(' ')
        .map(|h| match h {
            "(request-target)" => format!("(request-target): post {}", r.path),
            h => format!("{h}: {}", r.header(h).unwrap_or_else(|| panic!("no {h}"))),
        })
        .collect();
    let digest = format!("SHA-256={}", BASE64.encode(Sha256::digest(&r.body)));
    assert_eq!(r.header("digest"), Some(digest.as_str()));
    let key = rsa::PublicKey::from_public_key_pem(public_pem).unwrap();
    let sig =
        rsa::pkcs1v15::Signature::try_from(BASE64.decode(param("signature")).unwrap().as_slice())
            .unwrap();
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key)
        .verify(lines.join("\n").as_bytes(), &sig)
        .expect("the delivery's signature verifies with the site's published key");
}

#[test]
fn a_signed_follow_is_kept_and_answered_with_a_signed_accept() {
    let site = site();
    let server = serve(&site);
    let remote = Remote::new(PUB_A);
    let tag = server.at("/ap/tags/rust");
    let follow = remote.follow(&tag, 1);
    // To the shared inbox, as most servers send.
    let r = send(&server.at("/ap/inbox"), &remote, &follow);
    assert_eq!(r.status, 202, "{}", r.text());
    wait_followers(&server, "/ap/tags/rust", 1);
    assert_eq!(followers(&server, "/ap/site"), 0);

    let accept = remote
        .peer
        .wait_nth("the Accept", "/inbox", 1, WAIT, |r| r.method == "POST");
    let v: Value = serde_json::from_slice(&accept.body).unwrap();
    assert_eq!(v["type"], "Accept");
    assert_eq!(v["actor"], tag.as_str());
    assert_eq!(v["object"]["id"], follow["id"]);
    assert_eq!(v["object"]["type"], "Follow");
    assert_eq!(accept.header("content-type"), Some(ACTIVITY_JSON));
    let actor: Value =
        serde_json::from_slice(&get(&tag, &[("Accept", ACTIVITY_JSON)]).body).unwrap();
    let pem = actor["publicKey"]["publicKeyPem"].as_str().unwrap();
    verify_delivery(&accept, pem, &format!("{tag}#main-key"));

    // A new post in the tag: the tag's Announce of it, signed by the tag's actor.
    site.write_post("2026-01-02-second.md", &post("Second", "More."));
    let announce = remote
        .peer
        .wait_nth("the Announce", "/inbox", 2, WAIT, |r| r.method == "POST");
    let v: Value = serde_json::from_slice(&announce.body).unwrap();
    assert_eq!(v["type"], "Announce", "{v}");
    assert_eq!(v["actor"], tag.as_str());
    assert!(
        v["object"].as_str().unwrap().ends_with("second.html"),
        "{v}"
    );
    verify_delivery(&announce, pem, &format!("{tag}#main-key"));

    // Undo by the id of the Follow alone.
    let undo = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/undo/1", remote.actor()),
        "type": "Undo",
        "actor": remote.actor(),
        "object": follow["id"],
    });
    let r = send(&server.at("/ap/tags/rust/inbox"), &remote, &undo);
    assert_eq!(r.status, 202, "{}", r.text());
    wait_followers(&server, "/ap/tags/rust", 0);
}

#[test]
fn a_rotated_key_is_fetched_again_and_a_deleted_actor_leaves() {
    let site = site();
    let server = serve(&site);
    let remote = Remote::new(PUB_A);
    for (n, path) in ["/ap/site", "/ap/categories/notes"].into_iter().enumerate() {
        let r = send(
            &server.at("/ap/inbox"),
            &remote,
            &remote.follow(&server.at(path), n as u32),
        );
        assert_eq!(r.status, 202, "{}", r.text());
    }
    wait_followers(&server, "/ap/site", 1);
    wait_followers(&server, "/ap/categories/notes", 1);

    // The remote rotates its key: the kept one fails, the one fetched again verifies.
    remote.publish_key(PUB_B);
    let undo = json!({
        "id": format!("{}/undo/0", remote.actor()),
        "type": "Undo",
        "actor": remote.actor(),
        "object": remote.follow(&server.at("/ap/site"), 0),
    });
    let r = send_with(KEY_B, &server.at("/ap/site/inbox"), &remote, &undo);
    assert_eq!(r.status, 202, "{}", r.text());
    wait_followers(&server, "/ap/site", 0);
    // The old key is no longer good.
    let r = send(&server.at("/ap/inbox"), &remote, &undo);
    assert_eq!(r.status, 401, "{}", r.text());

    // The actor deletes itself: its follows end everywhere.
    let delete = json!({
        "id": format!("{}#delete", remote.actor()),
        "type": "Delete",
        "actor": remote.actor(),
        "object": remote.actor(),
    });
    let r = send_with(KEY_B, &server.at("/ap/inbox"), &remote, &delete);
    assert_eq!(r.status, 202, "{}", r.text());
    wait_followers(&server, "/ap/categories/notes", 0);
}
