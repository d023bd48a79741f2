//! WebFinger (RFC 7033) for the actors: `GET /.well-known/webfinger?resource=acct:rust@host`
//! (or the actor's URL as the resource) → a JRD naming the actor's document (`self`) and its
//! HTML page (`profile-page`). The host is the site URL's, with its port when not the default
//! (`acct:news@127.0.0.1:8080`); it is compared without regard to case.

use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::{ActivityPub, Job, Routed, ACTIVITY_JSON};
use crate::feed;
use crate::site::Scope;

/// Where WebFinger answers.
pub const ROUTE: &str = "/.well-known/webfinger";
/// The JRD's media type (RFC 7033 §10.2).
pub const CONTENT_TYPE: &str = "application/jrd+json";

/// The `resource` of a WebFinger query, resolved: 400 when missing or not a URI this server
/// could have, 404 when no actor has it.
pub fn route(ap: &ActivityPub, query: Option<&str>) -> Routed {
    let mut resources = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.into_owned());
    let (Some(resource), None) = (resources.next(), resources.next()) else {
        return Routed::Refuse(400, "400 bad request: expected one resource parameter\n");
    };
    match resolve(ap, resource.trim()) {
        Ok(Some(scope)) => Routed::Render(Job::WebFinger(scope)),
        Ok(None) => Routed::Refuse(404, "404 not found: no such actor here\n"),
        Err(why) => Routed::Refuse(400, why),
    }
}

/// The scope whose actor `resource` names: `acct:{name}@{host}` (the `acct:` may be left
/// out), or the actor's URL.
fn resolve(ap: &ActivityPub, resource: &str) -> Result<Option<Scope>, &'static str> {
    if resource.starts_with("http://") || resource.starts_with("https://") {
        let url = url::Url::parse(resource)
            .map_err(|_| "400 bad request: the resource is not a valid URL\n")?;
        let Some(path) = url
            .as_str()
            .strip_prefix(&ap.meta().base)
            .filter(|p| p.starts_with('/') && url.query().is_none() && url.fragment().is_none())
        else {
            return Ok(None);
        };
        let path = percent_decode_str(path).decode_utf8_lossy();
        return Ok(ap
            .actor_at(&path)
            .filter(|(scope, rest)| rest.is_empty() && ap.is_actor(scope))
            .map(|(scope, _)| scope));
    }
    let acct = resource.strip_prefix("acct:").unwrap_or(resource);
    // RFC 7565: the user part may be percent-encoded; the host is after the last `@`.
    let (user, host) = acct
        .rsplit_once('@')
        .filter(|(u, h)| !u.is_empty() && !h.is_empty())
        .ok_or("400 bad request: the resource is not acct:name@host or an actor's URL\n")?;
    let user = percent_decode_str(user)
        .decode_utf8()
        .map_err(|_| "400 bad request: the user name is not UTF-8\n")?;
    let user = user.strip_prefix('@').unwrap_or(&user);
    if !host.eq_ignore_ascii_case(ap.host()) {
        return Ok(None);
    }
    Ok(ap.scope_named(&user.to_lowercase()))
}

/// The JRD of `scope`'s actor.
pub fn document(ap: &ActivityPub, scope: &Scope) -> Value {
    let id = ap.actor_id(scope);
    let page = feed::scope_page_url(ap.meta(), scope);
    json!({
        "subject": format!("acct:{}@{}", ap.name_of(scope), ap.host()),
        "aliases": [id, page],
        "links": [
            { "rel": "self", "type": ACTIVITY_JSON, "href": id },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": page },
        ],
    })
}
