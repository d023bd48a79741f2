//! Remote actors: fetched by their key id (`GET` with `Accept: application/activity+json`,
//! signed as our site actor for servers that want signed fetches), through the hub's client —
//! the same address guard, timeout and no redirects — with a size limit, and kept for an hour
//! by key id.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use url::Url;

use super::signature;
use super::ActorKey;
use crate::push::lock;

/// The `Accept` of every fetch.
pub const ACCEPT: &str =
    "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
/// Largest actor document read.
pub const MAX_ACTOR_BYTES: u64 = 256 * 1024;
/// How long a fetched key is trusted before it is fetched again.
pub const KEY_TTL: Duration = Duration::from_secs(3600);
/// Keys kept at once (the cache starts over when full).
const MAX_KEYS: usize = 10_000;

/// A remote actor, as much of it as following and delivering need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteActor {
    pub id: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    /// The key id it was fetched for, and that key's PEM.
    pub key_id: String,
    pub public_pem: String,
}

/// Why a remote actor could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the key id {0:?} is not an http(s) URL")]
    BadKeyId(String),
    #[error("fetching {0}: {1}")]
    Request(String, ureq::Error),
    #[error("{0} answered {1}")]
    Status(String, u16),
    #[error("{0} is not an ActivityPub document: {1}")]
    NotActor(String, String),
    #[error("{0} does not publish the key {1}")]
    NoKey(String, String),
}

impl FetchError {
    /// The actor is gone (`410`), not merely unreachable.
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status(_, 410))
    }
}

/// Who signs our fetches: our site actor's key id and the key.
pub struct Signer<'a> {
    pub key_id: &'a str,
    pub key: &'a ActorKey,
}

/// Fetches one JSON document.
fn get(agent: &ureq::Agent, url: &Url, signer: &Signer<'_>) -> Result<Value, FetchError> {
    let at = url.as_str().to_owned();
    let mut req = agent.get(url.as_str()).header("Accept", ACCEPT);
    // Unsigned if signing fails (the OS generator): most servers answer anyway.
    if let Ok(signed) = signature::sign_get(url, ACCEPT, signer.key_id, SystemTime::now(), |d| {
        signer.key.sign_sha256(d)
    }) {
        for (name, value) in signed.headers {
            if name != "host" && name != "accept" {
                req = req.header(name, value);
            }
        }
    }
    let mut resp = req.call().map_err(|e| FetchError::Request(at.clone(), e))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(FetchError::Status(at, status));
    }
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(MAX_ACTOR_BYTES)
        .read_to_vec()
        .map_err(|e| FetchError::Request(at.clone(), e))?;
    serde_json::from_slice(&bytes).map_err(|e| FetchError::NotActor(at, e.to_string()))
}

/// The `id` of a value that is an id or an object with one.
pub fn id_of(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// The PEM of the key `key_id` among an actor's `publicKey` (one object or a list).
fn key_in(doc: &Value, key_id: &str) -> Option<String> {
    let keys = match doc.get("publicKey")? {
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    };
    keys.into_iter()
        .find(|k| id_of(k) == Some(key_id))
        .and_then(|k| k.get("publicKeyPem")?.as_str().map(str::to_owned))
}

/// An http(s) URL on the same host as `of` (an actor's own addresses must be on its server).
fn same_host(url: &str, of: &Url) -> Option<String> {
    let u = Url::parse(url).ok()?;
    (matches!(u.scheme(), "http" | "https")
        && u.host_str() == of.host_str()
        && u.port_or_known_default() == of.port_or_known_default())
    .then(|| u.into())
}

/// Fetches the actor that owns `key_id`: the document at the key id without its fragment is
/// the actor (Mastodon, Fedify: `{actor}#main-key`), or a key whose `owner` is.
pub fn fetch_actor(
    agent: &ureq::Agent,
    key_id: &str,
    signer: &Signer<'_>,
) -> Result<RemoteActor, FetchError> {
    let bad = || FetchError::BadKeyId(key_id.to_owned());
    let mut url = Url::parse(key_id).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad());
    }
    url.set_fragment(None);
    let mut doc = get(agent, &url, signer)?;
    let mut at = url;
    if doc.get("inbox").is_none() {
        // A key document: its owner is the actor, on the same server.
        let owner = doc
            .get("owner")
            .and_then(Value::as_str)
            .and_then(|o| same_host(o, &at))
            .ok_or_else(|| FetchError::NotActor(at.to_string(), "no inbox, no owner".into()))?;
        at = Url::parse(&owner).map_err(|_| bad())?;
        doc = get(agent, &at, signer)?;
    }
    let not_actor = |why: &str| FetchError::NotActor(at.to_string(), why.to_owned());
    // Its id is where it was fetched from: a document cannot speak for another actor.
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| Url::parse(id).is_ok_and(|u| u == at))
        .ok_or_else(|| not_actor("its id is not the address it was fetched from"))?
        .to_owned();
    let inbox = doc
        .get("inbox")
        .and_then(Value::as_str)
        .and_then(|i| same_host(i, &at))
        .ok_or_else(|| not_actor("no inbox on its own server"))?;
    let shared_inbox = doc
        .get("endpoints")
        .and_then(|e| e.get("sharedInbox"))
        .and_then(Value::as_str)
        .and_then(|i| same_host(i, &at));
    let public_pem =
        key_in(&doc, key_id).ok_or_else(|| FetchError::NoKey(id.clone(), key_id.to_owned()))?;
    Ok(RemoteActor {
        id,
        inbox,
        shared_inbox,
        key_id: key_id.to_owned(),
        public_pem,
    })
}

/// Remote actors by key id, each for [`KEY_TTL`].
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, (RemoteActor, Instant)>>,
}

impl KeyCache {
    /// The cached actor of `key_id`, unless it is older than [`KEY_TTL`].
    pub fn get(&self, key_id: &str) -> Option<RemoteActor> {
        let keys = lock(&self.keys);
        let (actor, at) = keys.get(key_id)?;
        (at.elapsed() < KEY_TTL).then(|| actor.clone())
    }

    pub fn put(&self, actor: RemoteActor) {
        let mut keys = lock(&self.keys);
        if keys.len() >= MAX_KEYS {
            keys.retain(|_, (_, at)| at.elapsed() < KEY_TTL);
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        keys.insert(actor.key_id.clone(), (actor, Instant::now()));
    }

    pub fn forget(&self, key_id: &str) {
        lock(&self.keys).remove(key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_found_by_id_among_one_or_many() {
        let one = json!({"publicKey": {"id": "https://a/u#main-key", "publicKeyPem": "PEM"}});
        assert_eq!(key_in(&one, "https://a/u#main-key").as_deref(), Some("PEM"));
        assert_eq!(key_in(&one, "https://a/u#other"), None);
        let many = json!({"publicKey": [
            {"id": "https://a/u#k1", "publicKeyPem": "P1"},
            {"id": "https://a/u#k2", "publicKeyPem": "P2"}
        ]});
        assert_eq!(key_in(&many, "https://a/u#k2").as_deref(), Some("P2"));
        assert_eq!(key_in(&json!({}), "k"), None);
    }

    #[test]
    fn an_actors_addresses_must_be_on_its_server() {
        let at = Url::parse("https://a.example/users/x").unwrap();
        assert!(same_host("https://a.example/inbox", &at).is_some());
        assert!(same_host("https://a.example:443/inbox", &at).is_some());
        assert!(same_host("https://b.example/inbox", &at).is_none());
        assert!(same_host("https://a.example:8443/inbox", &at).is_none());
        assert!(same_host("ftp://a.example/inbox", &at).is_none());
        assert!(same_host("not a url", &at).is_none());
    }

    /// A loopback server answering each GET of a path with its JSON (404 for others).
    fn documents(docs: Vec<(&'static str, Value)>) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let docs: Vec<(&str, String)> = docs
            .into_iter()
            .map(|(p, v)| (p, v.to_string().replace("BASE", &base)))
            .collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let (status, body) = docs
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map_or((404, String::new()), |(_, b)| (200, b.clone()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/activity+json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        base
    }

    #[test]
    fn actors_are_fetched_by_their_key_directly_or_through_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let ours = ActorKey::load_or_create(dir.path()).unwrap();
        let signer = Signer {
            key_id: "http://127.0.0.1:1/ap/site#main-key",
            key: &ours,
        };
        let client = crate::hub::deliver::Client::named(Duration::from_secs(5), false, "test");
        let actor = |id: &str, key_id: &str| {
            json!({
                "id": id, "type": "Person", "inbox": format!("{id}/inbox"),
                "endpoints": {"sharedInbox": "BASE/inbox"},
                "publicKey": {"id": key_id, "owner": id, "publicKeyPem": "PEM"}
            })
        };
        let key = |id: &str, owner: &str| json!({"id": id, "owner": owner, "publicKeyPem": "PEM"});
        let base = documents(vec![
            ("/users/a", actor("BASE/users/a", "BASE/users/a#main-key")),
            // b's document says it is a.
            ("/users/b", actor("BASE/users/a", "BASE/users/b/key")),
            ("/users/b/key", key("BASE/users/b/key", "BASE/users/b")),
            // d's key is a document of its own (GoToSocial's way).
            ("/users/d", actor("BASE/users/d", "BASE/users/d/key")),
            ("/users/d/key", key("BASE/users/d/key", "BASE/users/d")),
            // e's key names an owner on another server.
            (
                "/users/e/key",
                key("BASE/users/e/key", "http://elsewhere.example/e"),
            ),
        ]);
        let a = fetch_actor(client.agent(), &format!("{base}/users/a#main-key"), &signer).unwrap();
        assert_eq!(a.id, format!("{base}/users/a"));
        assert_eq!(a.inbox, format!("{base}/users/a/inbox"));
        assert_eq!(a.shared_inbox, Some(format!("{base}/inbox")));
        assert_eq!(a.public_pem, "PEM");
        // A key document: its owner is fetched.
        let d = fetch_actor(client.agent(), &format!("{base}/users/d/key"), &signer).unwrap();
        assert_eq!(d.id, format!("{base}/users/d"));
        assert_eq!(d.key_id, format!("{base}/users/d/key"));
        // A document that says it is another actor; an owner on another server; a key the
        // actor does not publish; an actor that is not there.
        for (key_id, what) in [
            ("users/b/key", "its id"),
            ("users/e/key", "no inbox, no owner"),
        ] {
            let err =
                fetch_actor(client.agent(), &format!("{base}/{key_id}"), &signer).unwrap_err();
            assert!(
                matches!(&err, FetchError::NotActor(_, why) if why.contains(what)),
                "{err}"
            );
        }
        let err =
            fetch_actor(client.agent(), &format!("{base}/users/a#other"), &signer).unwrap_err();
        assert!(matches!(err, FetchError::NoKey(..)), "{err}");
        let err = fetch_actor(client.agent(), &format!("{base}/users/z#k"), &signer).unwrap_err();
        assert!(matches!(err, FetchError::Status(_, 404)), "{err}");
        assert!(!err.is_gone());
        assert!(matches!(
            fetch_actor(client.agent(), "ftp://x/y", &signer),
            Err(FetchError::BadKeyId(_))
        ));
    }

    #[test]
    fn the_cache_forgets() {
        let c = KeyCache::default();
        let a = RemoteActor {
            id: "https://a/u".into(),
            inbox: "https://a/u/inbox".into(),
            shared_inbox: None,
            key_id: "https://a/u#main-key".into(),
            public_pem: "PEM".into(),
        };
        c.put(a.clone());
        assert_eq!(c.get(&a.key_id), Some(a.clone()));
        c.forget(&a.key_id);
        assert_eq!(c.get(&a.key_id), None);
    }
}
