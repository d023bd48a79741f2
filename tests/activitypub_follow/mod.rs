//! Following and delivery over ActivityPub, from the outside: the real binary, and remote
//! actors that are small HTTP servers on loopback (`common::subscriber`, serving an actor
//! document and recording what its inbox gets), signing their POSTs here with a test RSA key
//! — the signing string made by hand from draft-cavage-http-signatures-12, not with the code
//! under test.
//!
//! `fedify`: the whole story against Fedify, an implementation no one here wrote.

mod delivery;
mod fedify;
mod refusals;
mod restart;

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::http::{agent, get, Resp};
use crate::common::subscriber::{Answer, Subscriber, Verify};
use crate::common::{Server, TempSite};

/// Bound on anything the server is expected to do.
const WAIT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
const ACTIVITY_JSON: &str = "application/activity+json";

/// The test keys (2048-bit RSA, made once with openssl).
const KEY_A: &str = include_str!("../../src/activitypub/testdata/key-a.pem");
const PUB_A: &str = include_str!("../../src/activitypub/testdata/key-a.pub.pem");
const KEY_B: &str = include_str!("../../src/activitypub/testdata/key-b.pem");
const PUB_B: &str = include_str!("../../src/activitypub/testdata/key-b.pub.pem");

/// The config every server here runs with: a known site name (loopback peers are allowed by
/// default, as WebSub callbacks are).
const CONFIG: &str = "[activitypub]\nname = \"news\"\n";

/// A site with one post in category `notes` and tag `rust` (so both have actors).
fn site() -> TempSite {
    let s = TempSite::new();
    s.write_post("2026-01-01-first.md", &post("First", "Hello."));
    s
}

fn post(title: &str, body: &str) -> String {
    format!(
        "---\ntitle: {title}\ndate: 2026-01-01 10:00:00 +0000\ncategories: notes\ntags: [rust]\n---\n{body}\n"
    )
}

fn serve(site: &TempSite) -> Server {
    let config = site.write_config("feedsmith.toml", CONFIG);
    Server::start(site, &["--config", &config])
}

/// A remote actor: its document at `/actor` (with `publicKeyPem`), its inbox at `/inbox`.
struct Remote {
    peer: Subscriber,
}

impl Remote {
    fn new(public_pem: &str) -> Remote {
        let peer = Subscriber::new(Verify::Echo, Answer::Status(202));
        let r = Remote { peer };
        r.publish_key(public_pem);
        r
    }

    /// Serves its actor document with `public_pem` as its key (from now: a rotation).
    fn publish_key(&self, public_pem: &str) {
        let r = self;
        let doc = json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": r.actor(),
            "type": "Person",
            "preferredUsername": "remote",
            "inbox": r.inbox(),
            "publicKey": {"id": r.key_id(), "owner": r.actor(), "publicKeyPem": public_pem},
        });
        r.peer
            .serve_document("/actor", ACTIVITY_JSON, doc.to_string().into_bytes());
    }

    fn actor(&self) -> String {
        self.peer.callback("/actor")
    }

    fn key_id(&self) -> String {
        format!("{}#main-key", self.actor())
    }

    fn inbox(&self) -> String {
        self.peer.callback("/inbox")
    }

    /// A Follow of `object` by this actor.
    fn follow(&self, object: &str, n: u32) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}/follows/{n}", self.actor()),
            "type": "Follow",
            "actor": self.actor(),
            "object": object,
        })
    }
}

/// How a test request is signed.
struct Signing<'a> {
    key_pem: &'a str,
    key_id: &'a str,
    date: SystemTime,
    /// The body the digest is computed over (the one sent, unless a test changes it).
    digest_of: Option<&'a [u8]>,
}

/// POSTs `body` to `url` signed as Mastodon signs: `(request-target) host date digest
/// content-type`, rsa-sha256. Without `signing`, unsigned.
fn post_signed(url: &str, content_type: &str, body: &[u8], signing: Option<Signing<'_>>) -> Resp {
    let parsed = url::Url::parse(url).unwrap();
    let host = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
    let mut req = agent().post(url).header("Content-Type", content_type);
    if let Some(s) = signing {
        let date = httpdate::fmt_http_date(s.date);
        let digest = format!(
            "SHA-256={}",
            BASE64.encode(Sha256::digest(s.digest_of.unwrap_or(body)))
        );
        let text = format!(
            "(request-target): post {}\nhost: {host}\ndate: {date}\ndigest: {digest}\ncontent-type: {content_type}",
            parsed.path()
        );
        let key = rsa::PrivateKey::from_pkcs8_pem(s.key_pem).unwrap();
        let sig = rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign(text.as_bytes())
            .to_vec();
        let header = format!(
            "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\"{}\"",
            s.key_id,
            BASE64.encode(sig)
        );
        req = req
            .header("Date", date)
            .header("Digest", digest)
            .header("Signature", header);
    }
    let mut resp = req.send(body).unwrap();
    Resp {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.body_mut().read_to_vec().unwrap(),
    }
}

/// POSTs `activity` signed with the remote's key A, now.
fn send(to: &str, remote: &Remote, activity: &Value) -> Resp {
    send_with(KEY_A, to, remote, activity)
}

/// POSTs `activity` signed with `key_pem`, now.
fn send_with(key_pem: &str, to: &str, remote: &Remote, activity: &Value) -> Resp {
    let key_id = remote.key_id();
    post_signed(
        to,
        ACTIVITY_JSON,
        activity.to_string().as_bytes(),
        Some(Signing {
            key_pem,
            key_id: &key_id,
            date: SystemTime::now(),
            digest_of: None,
        }),
    )
}

/// The `totalItems` of an actor's followers collection.
fn followers(server: &Server, actor_path: &str) -> u64 {
    let r = get(
        &server.at(&format!("{actor_path}/followers")),
        &[("Accept", ACTIVITY_JSON)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["totalItems"].as_u64().unwrap()
}

/// Waits until `actor_path` has `n` followers.
fn wait_followers(server: &Server, actor_path: &str, n: u64) {
    crate::common::http::wait_for(
        &format!("{actor_path} to have {n} followers"),
        WAIT,
        Some(server),
        || match followers(server, actor_path) {
            got if got == n => Ok(()),
            got => Err(format!("{got} followers")),
        },
    );
}

/// The activities the remote's inbox got, parsed.
fn inbox_activities(remote: &Remote) -> Vec<Value> {
    remote
        .peer
        .deliveries("/inbox")
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}
