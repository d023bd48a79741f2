//! An actor's outbox: every post of its scope, newest first, as a paged `OrderedCollection`.
//! The collection names its first and last pages; each `OrderedCollectionPage` holds
//! [`PAGE_SIZE`] activities — the post's `Create` in its author's outbox, its `Announce` in
//! the others' (see [`super::article`]) — and links the next (older) and previous (newer) page.
//! Page 1 is always the newest posts, so pages shift by one as a post is published.

use serde_json::{json, Value};

use super::{article, ActivityPub, AS_CONTEXT};
use crate::publish::ScopeSnapshot;
use crate::site::Scope;

/// Activities per page.
pub const PAGE_SIZE: usize = 20;

/// The page a query asks for: `None` for the collection itself (no `page`), `Some(n)` for
/// `page=n` (n ≥ 1). Other parameters are ignored.
pub fn page_of(query: Option<&str>) -> Result<Option<usize>, &'static str> {
    let mut page = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "page" {
            if page.is_some() {
                return Err("400 bad request: page given twice\n");
            }
            let n = v
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or("400 bad request: page must be a whole number from 1\n")?;
            page = Some(n);
        }
    }
    Ok(page)
}

/// The outbox's URL.
fn outbox_url(ap: &ActivityPub, scope: &Scope) -> String {
    format!("{}/outbox", ap.actor_id(scope))
}

/// The URL of page `n`.
fn page_url(ap: &ActivityPub, scope: &Scope, n: usize) -> String {
    format!("{}?page={n}", outbox_url(ap, scope))
}

/// Pages the scope's posts fill (at least one, empty when it has none).
fn pages(total: usize) -> usize {
    total.div_ceil(PAGE_SIZE).max(1)
}

/// The collection: how many posts, and its first and last pages.
pub fn collection(ap: &ActivityPub, scope: &Scope, posts: Option<&ScopeSnapshot>) -> Value {
    let total = posts.map_or(0, ScopeSnapshot::len);
    json!({
        "@context": AS_CONTEXT,
        "id": outbox_url(ap, scope),
        "type": "OrderedCollection",
        "totalItems": total,
        "first": page_url(ap, scope, 1),
        "last": page_url(ap, scope, pages(total)),
    })
}

/// Page `n` (1 = the newest posts); `None` past the last page.
pub fn page(
    ap: &ActivityPub,
    scope: &Scope,
    posts: Option<&ScopeSnapshot>,
    n: usize,
) -> Option<Value> {
    let total = posts.map_or(0, ScopeSnapshot::len);
    let last = pages(total);
    if n > last {
        return None;
    }
    let actor = ap.actor_id(scope);
    let skip = (n - 1) * PAGE_SIZE;
    let items: Vec<Value> = posts
        .map(|p| p.newest_first(skip, PAGE_SIZE))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|post| article::outbox_item(ap.meta(), post, &actor))
        .collect();
    let mut doc = json!({
        "@context": article::context(),
        "id": page_url(ap, scope, n),
        "type": "OrderedCollectionPage",
        "partOf": outbox_url(ap, scope),
        "totalItems": total,
        "startIndex": skip,
        "orderedItems": items,
    });
    if n < last {
        doc["next"] = json!(page_url(ap, scope, n + 1));
    }
    if n > 1 {
        doc["prev"] = json!(page_url(ap, scope, n - 1));
    }
    Some(doc)
}
