//! A post as an ActivityStreams `Article`, and the activities that carry it: `Create` (in its
//! author's outbox, and delivered when it appears), `Announce` (in the outbox of every other
//! actor whose scope holds it), `Update` (an edit), `Delete` with a `Tombstone` (a removal).
//!
//! One post is one object, at the post's own URL, attributed to one actor (the site's; see
//! [`crate::feed::author_actor`]). A category's or tag's actor boosts it (`Announce`) rather
//! than creating it again: a Mastodon user following only `@rust@example.com` then sees the
//! post in their timeline even when their server already had it from `@news@example.com` —
//! a second `Create` of the same object by another actor would be dropped as known.
//!
//! Everything here is a pure function of the site settings and the post, so the other side
//! (deliveries) makes the same activities the outboxes list, with the same ids.

use serde_json::{json, Value};

use super::{followers_of, AS_CONTEXT, PUBLIC};
use crate::feed::{self, SiteMeta};
use crate::post::Post;

/// The `@context` of an `Article` (and of the activities carrying one): ActivityStreams, with
/// the terms it uses that are not in its context document.
pub fn context() -> Value {
    json!([
        AS_CONTEXT,
        {
            "Hashtag": "as:Hashtag",
            "sensitive": "as:sensitive"
        }
    ])
}

/// The post as an `Article` with its `@context`, as served at its URL; `None` when no actor
/// can be its author (see [`crate::feed::author_actor`]).
pub fn article(meta: &SiteMeta, post: &Post) -> Option<Value> {
    let mut object = object(meta, post)?;
    object["@context"] = context();
    Some(object)
}

/// The `Article` object alone (embedded in an activity).
pub fn object(meta: &SiteMeta, post: &Post) -> Option<Value> {
    let author = feed::author_actor(meta, post)?;
    let (content, summary) = post.content_html.both();
    let mut html = if meta.full_content(post) {
        content.into_owned()
    } else {
        format!("<p>{}</p>", html_escape::encode_text(&summary))
    };
    // The original article, as the post page shows it (the feeds carry it as a link).
    if let Some(src) = &post.source_link {
        let name = post
            .source_name
            .clone()
            .unwrap_or_else(|| feed::host_of(src));
        html.push_str(&format!(
            "\n<p>Source: <a href=\"{}\" rel=\"nofollow\">{}</a></p>",
            html_escape::encode_double_quoted_attribute(src),
            html_escape::encode_text(&name)
        ));
    }
    let mut article = json!({
        "id": post.url,
        "type": "Article",
        "name": post.title,
        "content": html,
        "mediaType": "text/html",
        "url": post.url,
        "attributedTo": author,
        "published": feed::rfc3339(&post.date),
        "to": [PUBLIC],
        "cc": [followers_of(&author)],
        "tag": hashtags(meta, post),
        "attachment": attachments(post),
        "sensitive": false,
    });
    if !summary.is_empty() {
        article["summary"] = json!(summary);
    }
    // The content's language, when the post names it (the site's is for its own pages and
    // feeds, and a copy of the whole content per language would double the document).
    if let Some(lang) = post.lang.as_deref().filter(|l| !l.is_empty()) {
        article["contentMap"] = json!({ lang: article["content"].clone() });
    }
    // Only an edit: Mastodon marks a post with `updated` as edited.
    if post.updated != post.date {
        article["updated"] = json!(feed::rfc3339(&post.updated));
    }
    Some(article)
}

/// The post's categories and tags as `Hashtag`s linking their pages. A hashtag is letters,
/// digits and `_` only (`#ReleaseNotes` for "Release Notes"); a term with none is left out.
fn hashtags(meta: &SiteMeta, post: &Post) -> Vec<Value> {
    let mut seen: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    for (kind, name) in feed::terms_of(post) {
        let Some(scope) = feed::term_scope(kind, name) else {
            continue;
        };
        let tag: String = name
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if tag.is_empty() || seen.iter().any(|s| s.to_lowercase() == tag.to_lowercase()) {
            continue;
        }
        tags.push(json!({
            "type": "Hashtag",
            "name": format!("#{tag}"),
            "href": feed::scope_page_url(meta, &scope),
        }));
        seen.push(tag);
    }
    tags
}

/// The lead image (`Image`) and a real attachment (`Document`: audio, video, PDF…).
fn attachments(post: &Post) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(url) = &post.image {
        let mut image = json!({ "type": "Image", "url": url, "name": post.title });
        if let Some(mime) = feed::media::image_type(url) {
            image["mediaType"] = json!(mime);
        }
        out.push(image);
    }
    if let Some(a) = &post.enclosure {
        out.push(json!({ "type": "Document", "mediaType": a.mime_type, "url": a.url }));
    }
    out
}

/// The `Create` of the post by its author: in the author's outbox, and delivered when the post
/// appears. Its id is the post's URL with `#create`.
pub fn create(meta: &SiteMeta, post: &Post) -> Option<Value> {
    let object = object(meta, post)?;
    let author = object["attributedTo"].clone();
    Some(json!({
        "@context": context(),
        "id": format!("{}#create", post.url),
        "type": "Create",
        "actor": author,
        "published": feed::rfc3339(&post.date),
        "to": [PUBLIC],
        "cc": object["cc"].clone(),
        "object": object,
    }))
}

/// The `Announce` (a boost) of the post by `actor`, a category's or tag's actor that is not
/// its author. Its id: the actor's URL with `#announce-` and a hash of the post's URL.
pub fn announce(post: &Post, actor: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": format!("{actor}#announce-{:016x}", xxhash_rust::xxh3::xxh3_64(post.url.as_bytes())),
        "type": "Announce",
        "actor": actor,
        "published": feed::rfc3339(&post.date),
        "to": [PUBLIC],
        "cc": [followers_of(actor)],
        "object": post.url,
    })
}

/// What `actor`'s outbox lists for the post: its `Create` when the actor is the post's author,
/// else its `Announce`; `None` when the post has no author (then no actor lists it).
pub fn outbox_item(meta: &SiteMeta, post: &Post, actor: &str) -> Option<Value> {
    let author = feed::author_actor(meta, post)?;
    if author == actor {
        create(meta, post)
    } else {
        Some(announce(post, actor))
    }
}

/// The `Update` of an edited post by its author. Each version has its own id (`#update-` and
/// a hash of the object), so a server that has seen one edit takes the next.
pub fn update(meta: &SiteMeta, post: &Post) -> Option<Value> {
    let object = object(meta, post)?;
    let version = xxhash_rust::xxh3::xxh3_64(object.to_string().as_bytes());
    Some(json!({
        "@context": context(),
        "id": format!("{}#update-{version:016x}", post.url),
        "type": "Update",
        "actor": object["attributedTo"].clone(),
        "published": feed::rfc3339(&post.updated),
        "to": [PUBLIC],
        "cc": object["cc"].clone(),
        "object": object,
    }))
}

/// The `Delete` of a removed post (`url`, the `Article`'s id) by its author (`actor`, as
/// [`crate::feed::author_actor`] named it while the post was there), with a `Tombstone`.
pub fn delete(url: &str, actor: &str) -> Value {
    json!({
        "@context": AS_CONTEXT,
        "id": format!("{url}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "cc": [followers_of(actor)],
        "object": { "id": url, "type": "Tombstone" },
    })
}

#[cfg(test)]
mod tests;
