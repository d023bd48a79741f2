//! Following and delivery: the side of ActivityPub that remote servers POST to, and that
//! POSTs to them.
//!
//! ```text
//! POST {actor}/inbox, /ap/inbox ─► server (size, type, body) ─► blocking thread: Federation::receive
//!     signature checks ─► key (KeyCache, else fetched) ─► verify ─► Follow / Undo / Delete
//!                                                                   │ followers (state file)
//!                                                                   └► Accept ─┐
//! publish's Outlet ─► Federation::published (enqueue only) ─► Create/Announce/  ├─► Deliveries
//!                                                             Update/Delete ───┘   (push engine)
//! ```
//!
//! What each post change sends, and to whom (every inbox once per activity):
//!
//! - a new post: its author's `Create{Article}` (the site actor's, see
//!   [`crate::feed::author_actor`]) to the author's followers, and each category's and tag's
//!   `Announce` of it to that actor's followers — as the outboxes list them
//!   ([`super::article::outbox_item`]). Two activities with two ids, not one: a server
//!   shows an activity to the followers of its actor, so one whose users follow the site and a
//!   tag needs both (it keeps one copy of the post).
//! - an edited post (its `Article` differs): the author's `Update` to the followers of every
//!   actor the post is in, each inbox once; an actor it joined sends its `Create`/`Announce`.
//! - a removed post: the author's `Delete{Tombstone}` to the followers of every actor it was in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::delivery::{Activity, Deliveries, Settings};
use super::followers::Followers;
use super::remote::KeyCache;
use super::{article, ActivityPub};
use crate::config::Config;
use crate::feed::{self, SiteMeta};
use crate::hub::deliver::Client;
use crate::post::Post;
use crate::publish::PostChange;
use crate::site::Scope;

/// Inbox requests handled at once (each may wait for a key fetch); more get a 503.
pub const MAX_INBOX_WORK: usize = 16;

/// The following and delivery side of a site's actors.
pub struct Federation {
    pub(super) ap: Arc<ActivityPub>,
    pub(super) followers: Arc<Followers>,
    pub(super) deliveries: Arc<Deliveries>,
    pub(super) keys: KeyCache,
    pub(super) client: Client,
    /// Bounds the inbox requests being handled.
    pub inbox_permits: Arc<tokio::sync::Semaphore>,
}

impl Federation {
    /// Starts following and delivery for `ap`: the followers and pending deliveries kept in
    /// `hub.state_dir` are loaded, and the delivery threads started. Outgoing requests use
    /// the hub's client settings: `hub.timeout_ms`, and `hub.allow_private_callbacks` for
    /// which addresses may be reached.
    pub fn start(config: &Config, ap: Arc<ActivityPub>) -> std::io::Result<Arc<Federation>> {
        let dir = &config.hub.state_dir;
        let timeout = Duration::from_millis(config.hub.timeout_ms);
        let client = Client::named(timeout, config.hub.allow_private_callbacks, "ActivityPub");
        let followers = Arc::new(Followers::load(dir));
        ap.set_followers(Arc::clone(&followers) as Arc<dyn super::FollowerCount>);
        let settings = Settings {
            interval: Duration::from_millis(config.activitypub.delivery_interval_ms),
            attempts: config.activitypub.delivery_attempts,
            backoff: crate::hub::Settings::from_config(config),
        };
        let deliveries = Deliveries::start(
            dir,
            client.clone(),
            Arc::clone(ap.key()),
            Arc::clone(&followers),
            settings,
        )?;
        Ok(Arc::new(Federation {
            ap,
            followers,
            deliveries,
            keys: KeyCache::default(),
            client,
            inbox_permits: Arc::new(tokio::sync::Semaphore::new(MAX_INBOX_WORK)),
        }))
    }

    /// Writes the pending deliveries now (at shutdown).
    pub fn flush(&self) {
        self.deliveries.flush();
    }

    /// Called by the publisher after each store swap with the posts that changed: the
    /// activities are made and queued on a delivery thread. Never waits.
    pub fn published(self: &Arc<Self>, changes: Vec<PostChange>) {
        if changes.is_empty() {
            return;
        }
        let me = Arc::clone(self);
        self.deliveries.spawn(move || me.announce(changes));
    }

    /// Makes the activities of `changes` and queues them for the followers' inboxes.
    fn announce(&self, changes: Vec<PostChange>) {
        let meta = self.ap.meta();
        // By the post's URL (its `Article`'s id): a post that left one file and entered another
        // with the same URL in one batch was edited, not deleted.
        let mut by_url: BTreeMap<String, PostChange> = BTreeMap::new();
        let empty = || PostChange {
            old: None,
            new: None,
        };
        for c in changes {
            if let Some(old) = c.old {
                let url = old.url.clone();
                by_url.entry(url).or_insert_with(empty).old = Some(old);
            }
            if let Some(new) = c.new {
                let url = new.url.clone();
                by_url.entry(url).or_insert_with(empty).new = Some(new);
            }
        }
        for (url, change) in by_url {
            let sent = match (change.old, change.new) {
                (None, Some(new)) => self.created(meta, &new, &BTreeSet::new()),
                (Some(old), Some(new)) => self.edited(meta, &old, &new),
                (Some(old), None) => self.deleted(meta, &old),
                (None, None) => 0,
            };
            if sent > 0 {
                tracing::info!("activitypub: {url}: {sent} deliveries queued");
            }
        }
    }

    /// Each actor of `post` but those in `skip` sends what its outbox lists for it.
    fn created(&self, meta: &SiteMeta, post: &Post, skip: &BTreeSet<String>) -> usize {
        let mut sent = 0;
        // The author's Create first: a server that gets an Announce before it knows the post
        // fetches it.
        let author = feed::author_actor(meta, post);
        let mut actors: Vec<String> = actors_of(meta, post).into_iter().collect();
        actors.sort_by_key(|a| Some(a) != author.as_ref());
        for actor in actors {
            if skip.contains(&actor) {
                continue;
            }
            if let Some(item) = article::outbox_item(meta, post, &actor) {
                sent += self.send(&item, [actor.as_str()]);
            }
        }
        sent
    }

    fn edited(&self, meta: &SiteMeta, old: &Post, new: &Post) -> usize {
        let was = actors_of(meta, old);
        let mut sent = self.created(meta, new, &was);
        if article::object(meta, old) == article::object(meta, new) {
            return sent;
        }
        if let Some(update) = article::update(meta, new) {
            let now = actors_of(meta, new);
            sent += self.send(&update, was.iter().chain(&now).map(String::as_str));
        }
        sent
    }

    fn deleted(&self, meta: &SiteMeta, old: &Post) -> usize {
        let Some(author) = feed::author_actor(meta, old) else {
            return 0;
        };
        let delete = article::delete(&old.url, &author);
        let was = actors_of(meta, old);
        self.send(&delete, was.iter().map(String::as_str))
    }

    /// Queues `activity` for the inboxes of the followers of `actors`, each inbox once.
    fn send<'a>(&self, activity: &Value, actors: impl IntoIterator<Item = &'a str>) -> usize {
        let inboxes = self.followers.inboxes(actors);
        if inboxes.is_empty() {
            return 0;
        }
        let Some(activity) = to_activity(activity) else {
            return 0;
        };
        let activity = Arc::new(activity);
        for inbox in &inboxes {
            self.deliveries.enqueue(inbox, [Arc::clone(&activity)]);
        }
        inboxes.len()
    }

    /// Queues `activity` for one inbox.
    pub(super) fn send_to(&self, activity: &Value, inbox: &str) {
        if let Some(activity) = to_activity(activity) {
            self.deliveries.enqueue(inbox, [Arc::new(activity)]);
        }
    }
}

/// An activity as delivered: its id, its actor, its JSON.
fn to_activity(v: &Value) -> Option<Activity> {
    Some(Activity {
        id: v.get("id")?.as_str()?.to_owned(),
        actor: v.get("actor")?.as_str()?.to_owned(),
        body: serde_json::to_string(v).ok()?,
    })
}

/// The ids of the actors `post` is in, as configured (`activitypub.actors`): the site's,
/// its categories' and its tags'.
pub fn actors_of(meta: &SiteMeta, post: &Post) -> BTreeSet<String> {
    let terms = feed::terms_of(post).filter_map(|(kind, name)| feed::term_scope(kind, name));
    std::iter::once(Scope::All)
        .chain(terms)
        .filter_map(|scope| feed::actor_url(meta, &scope))
        .collect()
}
