//! The inboxes: `POST {actor}/inbox` and the shared `/ap/inbox`, after the server has checked
//! the body's size and type and read it. Runs on a blocking thread: fetching a sender's key
//! is network I/O.
//!
//! Every POST must be signed (see [`super::signature`]): the signature covers the request
//! target, a date within an hour and the body's digest, verifies with the key its `keyId`
//! names (its actor fetched under the hub's address guard, kept an hour, fetched again once
//! when a kept key fails: keys rotate), and that key's actor is the activity's `actor`.
//! Accepted: `Follow` of one of our actors (stored, answered with a signed `Accept`),
//! `Undo` of such a `Follow`, `Delete` of the sender itself. Anything else is acknowledged
//! and ignored.

use std::time::SystemTime;

use bytes::Bytes;
use hyper::HeaderMap;
use serde_json::{json, Value};

use super::federation::Federation;
use super::followers::{Follower, Full};
use super::remote::{self, id_of, FetchError, RemoteActor, Signer};
use super::signature::{self, SignatureError};
use super::AS_CONTEXT;
use crate::site::Scope;

/// Largest body an inbox reads.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A POST to an inbox, as received.
pub struct Incoming {
    pub method: String,
    /// The request target as sent (path and query), which the signature covers.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The answer: a status and a line saying why (the same kind of answer as the hub's).
pub use crate::hub::Reply;

/// Whether a `Content-Type` is an ActivityPub body: `application/activity+json` or
/// `application/ld+json` (with any profile).
pub fn is_activity_type(content_type: Option<&str>) -> bool {
    crate::accept::content_type_is(
        content_type,
        &["application/activity+json", "application/ld+json"],
    )
}

/// Why a POST was refused, as its status and log line say.
fn refuse(path: &str, status: u16, why: impl std::fmt::Display) -> Reply {
    tracing::warn!("activitypub: POST {path} refused with {status}: {why}");
    Reply::new(status, format!("{status}: {why}"))
}

impl Federation {
    /// Whether the decoded path `path` is an inbox of ours: the shared one, or that of an
    /// actor we serve.
    pub fn is_inbox(&self, path: &str) -> bool {
        path == super::SHARED_INBOX
            || self
                .ap
                .actor_at(path)
                .is_some_and(|(scope, rest)| rest == "inbox" && self.ap.is_actor(&scope))
    }

    /// Handles one POST to an inbox (on a thread that may block).
    pub fn receive(&self, req: &Incoming) -> Reply {
        let path = req.target.split('?').next().unwrap_or("");
        let checked = signature::check_request(
            &signature::Request {
                method: &req.method,
                target: &req.target,
                headers: &req.headers,
            },
            Some(&req.body),
            SystemTime::now(),
        );
        let (params, text) = match checked {
            Ok(c) => c,
            Err(e) => return refuse(path, 401, e),
        };
        let activity: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return refuse(path, 400, "the body is not a JSON object"),
            Err(e) => return refuse(path, 400, format!("the body is not JSON: {e}")),
        };
        let kind = activity.get("type").and_then(Value::as_str).unwrap_or("");
        let Some(actor) = activity.get("actor").and_then(id_of) else {
            return refuse(path, 400, "the activity has no actor");
        };
        let sender = match self.sender(&params.key_id, &text, &params.signature) {
            Ok(s) => s,
            Err(Refusal::Gone) if kind == "Delete" && is_self_delete(&activity, actor) => {
                // The actor is gone and says so: its key cannot be fetched any more, and its
                // server answers 410 for it. Its follows end.
                let n = self.followers.remove_everywhere(actor);
                tracing::info!("activitypub: {actor} is gone (410); its {n} follows ended");
                return Reply::new(202, "accepted: the actor is gone");
            }
            Err(Refusal::Gone) => {
                return refuse(
                    path,
                    401,
                    format!("the key {} is gone (410)", params.key_id),
                )
            }
            Err(Refusal::Key(e)) => {
                return refuse(path, 401, format!("cannot get the signer's key: {e}"))
            }
            Err(Refusal::Signature(e)) => return refuse(path, 401, e),
        };
        if sender.id != actor {
            let why = format!(
                "signed by {} (key {}), but the activity's actor is {actor}",
                sender.id, params.key_id
            );
            return refuse(path, 401, why);
        }
        match kind {
            "Follow" => self.follow(path, &activity, &sender),
            "Undo" => self.undo(&activity, &sender),
            "Delete" if is_self_delete(&activity, actor) => {
                let n = self.followers.remove_everywhere(actor);
                tracing::info!("activitypub: {actor} was deleted; its {n} follows ended");
                Reply::new(202, "accepted")
            }
            _ => {
                tracing::debug!("activitypub: {kind} from {actor} ignored");
                Reply::new(202, format!("accepted: {kind:?} is ignored here"))
            }
        }
    }

    /// The verified sender of a signature: the key's actor, from the cache or fetched (once
    /// more, fresh, when a kept key does not verify: it may have been rotated).
    fn sender(&self, key_id: &str, text: &str, sig: &[u8]) -> Result<RemoteActor, Refusal> {
        if let Some(kept) = self.keys.get(key_id) {
            if signature::verify(&kept.public_pem, key_id, text, sig).is_ok() {
                return Ok(kept);
            }
            self.keys.forget(key_id);
        }
        let site = self.ap.actor_id(&Scope::All);
        let signer = Signer {
            key_id: &format!("{site}#main-key"),
            key: self.ap.key(),
        };
        let fetched = remote::fetch_actor(self.client.agent(), key_id, &signer).map_err(|e| {
            if e.is_gone() {
                Refusal::Gone
            } else {
                Refusal::Key(e)
            }
        })?;
        signature::verify(&fetched.public_pem, key_id, text, sig).map_err(Refusal::Signature)?;
        self.keys.put(fetched.clone());
        Ok(fetched)
    }

    /// The id of our actor `object` names (a URL under the site, of an actor's address);
    /// with `now`, only of an actor that is one now (a tag whose last post left is not, but
    /// its followers may still unfollow it).
    fn our_actor(&self, object: Option<&Value>, now: bool) -> Option<String> {
        let url = object.and_then(id_of)?;
        let base = self.ap.meta().base.trim_end_matches('/');
        let rest = url.strip_prefix(base)?;
        let path = percent_encoding::percent_decode_str(rest)
            .decode_utf8()
            .ok()?;
        let (scope, tail) = self.ap.actor_at(&path)?;
        (tail.is_empty() && (!now || self.ap.is_actor(&scope))).then(|| self.ap.actor_id(&scope))
    }

    fn follow(&self, path: &str, activity: &Value, sender: &RemoteActor) -> Reply {
        let Some(ours) = self.our_actor(activity.get("object"), true) else {
            return refuse(
                path,
                404,
                "the Follow's object is not an actor of this site",
            );
        };
        let follower = Follower {
            id: sender.id.clone(),
            inbox: sender.inbox.clone(),
            shared_inbox: sender.shared_inbox.clone(),
            follow_id: activity
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        match self.followers.add(&ours, follower) {
            Ok(new) => {
                let what = if new { "now follows" } else { "follows again" };
                tracing::info!("activitypub: {} {what} {ours}", sender.id);
            }
            Err(Full) => return refuse(path, 503, Full),
        }
        // The Follow as received (its context aside) is the object of the Accept: the
        // follower's server matches it with the one it sent.
        let mut follow = activity.clone();
        if let Some(o) = follow.as_object_mut() {
            o.remove("@context");
        }
        let follow_id = activity.get("id").and_then(Value::as_str).unwrap_or("");
        let accept = json!({
            "@context": AS_CONTEXT,
            "id": format!(
                "{ours}#accept-{:016x}",
                xxhash_rust::xxh3::xxh3_64(format!("{}\n{follow_id}", sender.id).as_bytes())
            ),
            "type": "Accept",
            "actor": ours,
            "object": follow,
        });
        self.send_to(&accept, &sender.inbox);
        Reply::new(202, "accepted: an Accept follows")
    }

    fn undo(&self, activity: &Value, sender: &RemoteActor) -> Reply {
        let object = activity.get("object");
        let inner_type = object
            .and_then(|o| o.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let ended = match object {
            // The Follow embedded: its actor must be the sender.
            Some(o) if inner_type == "Follow" => {
                let by_sender = o.get("actor").and_then(id_of) == Some(sender.id.as_str());
                match self.our_actor(o.get("object"), false) {
                    Some(ours) if by_sender => {
                        self.followers.remove(&ours, &sender.id).then_some(ours)
                    }
                    _ => None,
                }
            }
            // Only its id: the follow recorded with it.
            Some(Value::String(id)) => self.followers.remove_follow(&sender.id, id),
            _ => None,
        };
        match ended {
            Some(ours) => {
                tracing::info!("activitypub: {} no longer follows {ours}", sender.id);
                Reply::new(202, "accepted: unfollowed")
            }
            None => Reply::new(202, "accepted: nothing to undo"),
        }
    }
}

/// Why a sender could not be verified.
enum Refusal {
    /// Its key's actor answered 410.
    Gone,
    Key(FetchError),
    Signature(SignatureError),
}

/// A `Delete` whose object is its own actor.
fn is_self_delete(activity: &Value, actor: &str) -> bool {
    activity.get("object").and_then(id_of) == Some(actor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_content_types() {
        assert!(is_activity_type(Some("application/activity+json")));
        assert!(is_activity_type(Some(
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\""
        )));
        assert!(is_activity_type(Some(
            "Application/Activity+JSON; charset=utf-8"
        )));
        assert!(!is_activity_type(Some("application/json")));
        assert!(!is_activity_type(Some("text/plain")));
        assert!(!is_activity_type(None));
    }

    #[test]
    fn self_deletes() {
        let a = "https://m.example/users/x";
        assert!(is_self_delete(&json!({"object": a}), a));
        assert!(is_self_delete(
            &json!({"object": {"id": a, "type": "Tombstone"}}),
            a
        ));
        assert!(!is_self_delete(
            &json!({"object": "https://m.example/notes/1"}),
            a
        ));
    }
}
