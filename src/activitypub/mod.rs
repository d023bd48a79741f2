//! ActivityPub: the site, and each category and tag, as an actor a Fediverse account can
//! follow (`@news@example.com`), whose posts are `Article`s.
//!
//! What a remote server GETs is answered here: WebFinger ([`webfinger`]), NodeInfo
//! ([`nodeinfo`]), the actors and their collections ([`actor`], [`outbox`]), and each post as
//! an `Article` ([`article`]) at the post's own URL, chosen by `Accept` ([`negotiate`]). The
//! server only dispatches: [`ActivityPub::route`] says what a request is, and
//! [`ActivityPub::render`] makes the document (on a thread that may block).
//!
//! Every document is made at request time from the current publish: the posts come from the
//! scopes' snapshot the publisher swaps in with each store (`publish::ArchivePages`, the one
//! the archive pages read), so a new post is in the outboxes as soon as it is in the feeds.
//!
//! Addresses (under the site URL): `/ap/site`, `/ap/categories/{slug}`, `/ap/tags/{slug}`
//! (each actor's id), and under each `/outbox`, `/followers`, `/following`, `/inbox`; the
//! shared inbox `/ap/inbox`. The actors share one key ([`key::ActorKey`]), kept in the state
//! directory (`hub.state_dir`); each publishes it as `{actor}#main-key`.

pub mod actor;
pub mod article;
pub mod delivery;
pub mod federation;
pub mod followers;
pub mod inbox;
pub mod key;
pub mod names;
pub mod negotiate;
pub mod nodeinfo;
pub mod outbox;
pub mod remote;
pub mod signature;
pub mod webfinger;

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use hyper::header::HeaderMap;

pub use federation::Federation;
pub use key::{verify_sha256, ActorKey, KeyError, KEY_FILE};

use crate::config::{ActorScope, ActorType, Config};
use crate::feed::{self, SiteMeta};
use crate::post::Post;
use crate::publish::{ArchivePages, ScopeSnapshot};
use crate::site::{Scope, TermKind};
use crate::store::{Document, Lazy};

/// The ActivityStreams context.
pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";
/// The security context (`publicKey`).
pub const SECURITY_CONTEXT: &str = "https://w3id.org/security/v1";
/// The public audience.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// The `Content-Type` of every ActivityPub document served.
pub const ACTIVITY_JSON: &str = "application/activity+json";
/// The shared inbox's path.
pub const SHARED_INBOX: &str = "/ap/inbox";

/// How many followers an actor has. The inbox side's followers store provides it
/// ([`ActivityPub::set_followers`]); until then every actor has none.
pub trait FollowerCount: Send + Sync {
    /// Followers of the actor whose id is `actor`.
    fn followers(&self, actor: &str) -> usize;
}

/// The followers collection of the actor `actor` (its id).
pub fn followers_of(actor: &str) -> String {
    format!("{actor}/followers")
}

/// The ActivityPub side of a site being served.
pub struct ActivityPub {
    meta: Arc<SiteMeta>,
    /// The site actor's user name.
    site_name: String,
    /// The host of `acct:` names: the site URL's host, with its port when not the default.
    host: String,
    actor_type: ActorType,
    key: Arc<ActorKey>,
    /// The scopes' posts as of the last publish.
    posts: Arc<ArchivePages>,
    followers: OnceLock<Arc<dyn FollowerCount>>,
}

/// What a request to an ActivityPub address is.
#[derive(Debug, Clone)]
pub enum Job {
    /// The WebFinger document of a scope's actor.
    WebFinger(Scope),
    /// `/.well-known/nodeinfo`.
    NodeInfoLinks,
    /// `/nodeinfo/2.1`.
    NodeInfo,
    Actor(Scope),
    /// The outbox, or one of its pages (1 = the newest posts).
    Outbox(Scope, Option<usize>),
    Followers(Scope),
    Following(Scope),
    /// A post as an `Article`, with its page's `Last-Modified`.
    Article(Arc<Post>, SystemTime),
}

/// What the server does with a request to an ActivityPub address.
#[derive(Debug, Clone)]
pub enum Routed {
    /// Answer with the document [`ActivityPub::render`] makes of it (404 when none).
    Render(Job),
    /// `303 See Other` to this URL: a browser at an actor's address goes to its page.
    Redirect(String),
    /// An error status and why.
    Refuse(u16, &'static str),
}

impl ActivityPub {
    /// The ActivityPub side of the site `config` describes, published with `meta`, its posts
    /// read from `posts`.
    pub fn new(
        config: &Config,
        meta: Arc<SiteMeta>,
        key: Arc<ActorKey>,
        posts: Arc<ArchivePages>,
    ) -> ActivityPub {
        let url = config.site_url();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        ActivityPub {
            site_name: config.activitypub.site_name(&url, &config.site.title),
            host: host.to_ascii_lowercase(),
            actor_type: config.activitypub.actor_type,
            meta,
            key,
            posts,
            followers: OnceLock::new(),
        }
    }

    /// Where the follower counts come from (once; later calls are ignored).
    pub fn set_followers(&self, followers: Arc<dyn FollowerCount>) {
        let _ = self.followers.set(followers);
    }

    /// The actors' key (the inbox side signs with it).
    pub fn key(&self) -> &Arc<ActorKey> {
        &self.key
    }

    /// The site's settings as the documents use them.
    pub fn meta(&self) -> &SiteMeta {
        &self.meta
    }

    /// The host of the actors' `acct:` names (`example.com`, `127.0.0.1:8080`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether `scope` has an actor now: its kind is configured as actors and (for a term) a
    /// post carries it.
    pub fn is_actor(&self, scope: &Scope) -> bool {
        self.kind_is_actor(scope) && (*scope == Scope::All || self.posts.scope(scope).is_some())
    }

    fn kind_is_actor(&self, scope: &Scope) -> bool {
        self.meta.actors.contains(&match scope {
            Scope::All => ActorScope::Site,
            Scope::Term(TermKind::Category, _) => ActorScope::Categories,
            Scope::Term(TermKind::Tag, _) => ActorScope::Tags,
        })
    }

    /// Every actor now: the site's first, then the categories' and tags'.
    pub fn actors(&self) -> Vec<Scope> {
        let mut scopes = self.posts.scopes();
        if !scopes.contains(&Scope::All) {
            scopes.insert(0, Scope::All);
        }
        scopes.retain(|s| self.kind_is_actor(s));
        scopes
    }

    /// The WebFinger user name of `scope`'s actor (see [`names`]).
    pub fn name_of(&self, scope: &Scope) -> String {
        names::name_of(scope, &self.site_name, |s| self.is_actor(s))
    }

    /// The scope whose actor has the user name `name`.
    pub fn scope_named(&self, name: &str) -> Option<Scope> {
        names::scope_named(name, &self.site_name, |s| self.is_actor(s))
    }

    /// The id (URL) of `scope`'s actor.
    pub fn actor_id(&self, scope: &Scope) -> String {
        self.meta.url(&feed::actor_path(scope))
    }

    /// The scope's posts as of the last publish (an empty site has no snapshot of all posts).
    fn posts_of(&self, scope: &Scope) -> Option<ScopeSnapshot> {
        self.posts.scope(scope)
    }

    /// The scope whose actor lives at the decoded path `path` (`/ap/site`, `/ap/tags/rust`),
    /// and what follows it (`""`, `"outbox"`…).
    pub fn actor_at<'p>(&self, path: &'p str) -> Option<(Scope, &'p str)> {
        let rest = path.strip_prefix(feed::ACTOR_PREFIX)?.strip_prefix('/')?;
        let (scope, rest) = if let Some(rest) = rest.strip_prefix("site") {
            (Scope::All, rest)
        } else {
            let (dir, rest) = rest.split_once('/')?;
            let kind = match dir {
                "tags" => TermKind::Tag,
                "categories" => TermKind::Category,
                _ => return None,
            };
            let slug = rest.split('/').next().unwrap_or_default();
            if slug.is_empty() {
                return None;
            }
            (Scope::Term(kind, slug.to_owned()), &rest[slug.len()..])
        };
        let rest = match rest {
            "" => "",
            r => r.strip_prefix('/')?,
        };
        Some((scope, rest))
    }

    /// What a GET or HEAD of the decoded path `path` (with `query`) is, if it is an
    /// ActivityPub address. Inboxes are not: they take POSTs only.
    pub fn route(&self, path: &str, query: Option<&str>, headers: &HeaderMap) -> Option<Routed> {
        match path {
            webfinger::ROUTE => return Some(webfinger::route(self, query)),
            nodeinfo::LINKS_ROUTE => return Some(Routed::Render(Job::NodeInfoLinks)),
            nodeinfo::ROUTE => return Some(Routed::Render(Job::NodeInfo)),
            _ => {}
        }
        let (scope, rest) = self.actor_at(path)?;
        if rest == "inbox" {
            return None;
        }
        if !self.is_actor(&scope) {
            return Some(Routed::Refuse(404, "404 not found: no such actor\n"));
        }
        Some(match rest {
            "" => match negotiate::wants(headers) {
                negotiate::Wants::Html => {
                    Routed::Redirect(feed::scope_page_url(&self.meta, &scope))
                }
                _ => Routed::Render(Job::Actor(scope)),
            },
            "outbox" => match outbox::page_of(query) {
                Ok(page) => Routed::Render(Job::Outbox(scope, page)),
                Err(why) => Routed::Refuse(400, why),
            },
            "followers" => Routed::Render(Job::Followers(scope)),
            "following" => Routed::Render(Job::Following(scope)),
            _ => Routed::Refuse(404, "404 not found\n"),
        })
    }

    /// The `Article` of the post page `page` when `headers` ask for ActivityPub.
    pub fn article(&self, page: &Lazy, headers: &HeaderMap) -> Option<Job> {
        let post = page.post.as_ref()?;
        (negotiate::wants(headers) == negotiate::Wants::Activity
            && feed::author_actor(&self.meta, post).is_some())
        .then(|| Job::Article(Arc::clone(post), page.last_modified))
    }

    /// Whether a request for the decoded path `path` may get either of two representations by
    /// its `Accept` (a post's page, an actor's address): its responses vary on `Accept`.
    pub fn negotiates(&self, path: &str, is_page: bool) -> bool {
        is_page || self.actor_at(path).is_some_and(|(_, rest)| rest.is_empty())
    }

    /// The document `job` asks for, made now; `None` when there is none (an actor or page
    /// gone since the request was routed, an outbox page past the last).
    pub fn render(&self, job: &Job) -> Option<Arc<Document>> {
        // Dated by the posts they are made of, like every document (`feed::modified`), so
        // replicas agree: a scope's documents by the scope, the site-wide ones by all posts.
        let dated = |scope: &Scope| {
            self.posts_of(scope)
                .map_or_else(feed::modified::of_nothing, |posts| posts.modified())
        };
        let site = || dated(&Scope::All);
        let (value, content_type, modified, link) = match job {
            Job::WebFinger(scope) => (
                webfinger::document(self, scope),
                webfinger::CONTENT_TYPE,
                dated(scope),
                None,
            ),
            Job::NodeInfoLinks => (nodeinfo::links(self), "application/json", site(), None),
            Job::NodeInfo => (
                nodeinfo::document(self),
                nodeinfo::CONTENT_TYPE,
                site(),
                None,
            ),
            Job::Actor(scope) => (
                actor::document(self, scope, self.actor_type),
                ACTIVITY_JSON,
                dated(scope),
                Some(format!(
                    "<{}>; rel=\"alternate\"; type=\"text/html\"",
                    feed::scope_page_url(&self.meta, scope)
                )),
            ),
            Job::Outbox(scope, page) => {
                let posts = self.posts_of(scope);
                let doc = match page {
                    None => outbox::collection(self, scope, posts.as_ref()),
                    Some(n) => outbox::page(self, scope, posts.as_ref(), *n)?,
                };
                (doc, ACTIVITY_JSON, dated(scope), None)
            }
            Job::Followers(scope) => {
                let id = self.actor_id(scope);
                let count = self.followers.get().map_or(0, |f| f.followers(&id));
                // Changes with every follow, which no publish marks.
                let now = SystemTime::now();
                (actor::followers(&id, count), ACTIVITY_JSON, now, None)
            }
            Job::Following(scope) => (
                actor::following(&self.actor_id(scope)),
                ACTIVITY_JSON,
                dated(scope),
                None,
            ),
            Job::Article(post, modified) => {
                let author = feed::author_actor(&self.meta, post)?;
                (
                    article::article(&self.meta, post)?,
                    ACTIVITY_JSON,
                    *modified,
                    Some(format!("<{author}>; rel=\"author\"")),
                )
            }
        };
        let mut bytes = serde_json::to_vec(&value).ok()?;
        bytes.push(b'\n');
        Some(Arc::new(Document::new(
            content_type,
            bytes.into(),
            modified,
            link,
        )))
    }
}

#[cfg(test)]
pub(super) mod tests;
