//! An actor's document: the site's, a category's or a tag's, with its key, and its
//! `followers` and `following` collections.

use serde_json::{json, Value};

use super::{followers_of, ActivityPub, AS_CONTEXT, SECURITY_CONTEXT, SHARED_INBOX};
use crate::config::ActorType;
use crate::feed;
use crate::site::Scope;

/// The actor document of `scope`.
pub fn document(ap: &ActivityPub, scope: &Scope, kind: ActorType) -> Value {
    let meta = ap.meta();
    let id = ap.actor_id(scope);
    let term = match scope {
        Scope::All => None,
        Scope::Term(..) => ap.posts_of(scope).and_then(|p| p.term().map(str::to_owned)),
    };
    let (name, about) = match (scope, &term) {
        (Scope::All, _) => (meta.title.clone(), meta.description.clone()),
        (Scope::Term(kind, slug), term) => {
            let term = term.as_deref().unwrap_or(slug);
            let what = match kind {
                crate::site::TermKind::Category => format!("in the category “{term}”"),
                crate::site::TermKind::Tag => format!("tagged “{term}”"),
            };
            (
                format!("{term} — {}", meta.title),
                format!("Posts {what} on {}.", meta.title),
            )
        }
    };
    let page = feed::scope_page_url(meta, scope);
    let mut summary = String::new();
    if !about.is_empty() {
        summary.push_str(&format!("<p>{}</p>", html_escape::encode_text(&about)));
    }
    summary.push_str(&format!(
        "<p>Every post of <a href=\"{}\">{}</a>, as it is published. Replies are not read.</p>",
        html_escape::encode_double_quoted_attribute(&page),
        html_escape::encode_text(&name)
    ));
    let mut actor = json!({
        "@context": [
            AS_CONTEXT,
            SECURITY_CONTEXT,
            {
                "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
                "toot": "http://joinmastodon.org/ns#",
                "discoverable": "toot:discoverable",
                "indexable": "toot:indexable",
            }
        ],
        "id": id,
        "type": kind.as_str(),
        "preferredUsername": ap.name_of(scope),
        "name": name,
        "summary": summary,
        "url": page,
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "followers": followers_of(&id),
        "following": format!("{id}/following"),
        "endpoints": { "sharedInbox": meta.url(SHARED_INBOX) },
        "publicKey": {
            "id": format!("{id}#main-key"),
            "owner": id,
            "publicKeyPem": ap.key().public_pem(),
        },
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "indexable": true,
    });
    // Only web images: a `data:` icon is for pages, not for other servers to fetch.
    let web = |u: &&String| u.starts_with("https://") || u.starts_with("http://");
    for (field, url) in [("icon", &meta.icon), ("image", &meta.logo)] {
        if let Some(url) = url.as_ref().filter(web) {
            let mut image = json!({ "type": "Image", "url": url });
            if let Some(mime) = feed::media::image_type(url) {
                image["mediaType"] = json!(mime);
            }
            actor[field] = image;
        }
    }
    actor
}

/// The followers collection: how many, not who (as Mastodon shows it to others).
pub fn followers(actor: &str, count: usize) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": followers_of(actor),
        "type": "OrderedCollection",
        "totalItems": count,
    })
}

/// The following collection: an actor of a feed follows nobody.
pub fn following(actor: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": format!("{actor}/following"),
        "type": "OrderedCollection",
        "totalItems": 0,
        "orderedItems": [],
    })
}
