//! NodeInfo 2.1 (<https://nodeinfo.diaspora.software/protocol>): what software serves the
//! site and how big it is, as Fediverse directories and servers ask. `/.well-known/nodeinfo`
//! links the document at `/nodeinfo/2.1`.

use serde_json::{json, Value};

use super::ActivityPub;
use crate::config::Format;
use crate::feed;
use crate::site::Scope;

/// The discovery document's address.
pub const LINKS_ROUTE: &str = "/.well-known/nodeinfo";
/// The NodeInfo document's address.
pub const ROUTE: &str = "/nodeinfo/2.1";
/// The schema the document follows, as its link's `rel` names it.
pub const SCHEMA: &str = "http://nodeinfo.diaspora.software/ns/schema/2.1";
/// The document's media type (the schema as its profile).
pub const CONTENT_TYPE: &str =
    "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"";

/// `/.well-known/nodeinfo`.
pub fn links(ap: &ActivityPub) -> Value {
    json!({ "links": [{ "rel": SCHEMA, "href": ap.meta().url(ROUTE) }] })
}

/// `/nodeinfo/2.1`: the software, its protocol, and as "users" the actors (nobody can sign
/// up; how many were active is not claimed), as "local posts" the site's posts.
pub fn document(ap: &ActivityPub) -> Value {
    let meta = ap.meta();
    let users = ap.actors().len();
    let posts = ap.posts_of(&Scope::All).map_or(0, |p| p.len());
    // NodeInfo's names of the feed formats it knows (JSON Feed is not among them).
    let outbound: Vec<&str> = meta
        .formats
        .iter()
        .filter_map(|f| match f {
            Format::Rss => Some("rss2.0"),
            Format::Atom => Some("atom1.0"),
            Format::Json => None,
        })
        .collect();
    json!({
        "version": "2.1",
        "software": {
            "name": feed::GENERATOR,
            "version": feed::VERSION,
            "repository": feed::GENERATOR_URI,
            "homepage": feed::GENERATOR_URI,
        },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": outbound },
        "openRegistrations": false,
        "usage": {
            "users": { "total": users },
            "localPosts": posts,
        },
        "metadata": {
            "nodeName": meta.title,
            "nodeDescription": meta.description,
        },
    })
}
