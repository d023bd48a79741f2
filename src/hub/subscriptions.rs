//! The subscription table: who wants which topic, what they have, what waits for them.

use super::*;

/// A subscription's identity: (topic route, callback URL).
pub(super) type Key = (String, String);

/// One verified subscription.
pub(super) struct Sub {
    pub(super) topic: String,
    pub(super) callback: Url,
    pub(super) secret: Option<String>,
    pub(super) lease_seconds: u64,
    pub(super) expires_ms: u64,
    /// Hash of the topic version the subscriber has (see [`Record::delivered`]).
    pub(super) delivered: Option<u128>,
    /// The version waiting to be delivered (only the newest is kept).
    pub(super) pending: Option<Arc<Document>>,
    /// A delivery job for it is queued, running or scheduled for a retry.
    pub(super) queued: bool,
    /// Failed attempts in a row.
    pub(super) failures: u32,
}

impl Sub {
    pub(super) fn record(&self, key: &Key) -> Record {
        Record {
            topic: self.topic.clone(),
            route: key.0.clone(),
            callback: key.1.clone(),
            secret: self.secret.clone(),
            lease_seconds: self.lease_seconds,
            expires_unix_ms: self.expires_ms,
            delivered: self.delivered.map(|h| format!("{h:032x}")),
        }
    }
}

/// The hub's mutable state, behind one short-held lock (never held across I/O).
#[derive(Default)]
pub(super) struct Inner {
    pub(super) subs: BTreeMap<Key, Sub>,
    /// The current document of every feed route, as last published.
    pub(super) topics: HashMap<String, Arc<Document>>,
    /// The latest request per subscription still being verified: an older one that completes
    /// later must not undo it.
    pub(super) intents: HashMap<Key, u64>,
    pub(super) next_intent: u64,
    /// Verifications and denials queued or running.
    pub(super) outstanding: usize,
}

impl Inner {
    /// The subscriptions of one topic route.
    pub(super) fn of_topic<'a>(
        &'a self,
        route: &'a str,
    ) -> impl Iterator<Item = (&'a Key, &'a Sub)> {
        self.subs
            .range((route.to_owned(), String::new())..)
            .take_while(move |(k, _)| k.0 == route)
    }

    /// Why a new subscription to `route` cannot be added, if it cannot.
    pub(super) fn full(&self, route: &str, s: &Settings) -> Option<String> {
        if self.subs.len() >= s.max_subscriptions {
            return Some(format!(
                "the hub holds its maximum of {} subscriptions",
                s.max_subscriptions
            ));
        }
        if self.of_topic(route).count() >= s.max_per_topic {
            return Some(format!(
                "this topic has its maximum of {} subscriptions",
                s.max_per_topic
            ));
        }
        None
    }
}

/// A saved subscription back in memory, unless it has expired or no longer makes sense.
pub(super) fn restore(r: Record, now: u64, s: &Settings) -> Option<(Key, Sub)> {
    if r.expires_unix_ms <= now || !r.route.starts_with('/') {
        return None;
    }
    let callback = request::parse_callback(&r.callback).ok()?;
    if let Some(ip) = request::literal_ip(&callback) {
        if !request::allowed(ip, s.allow_private) {
            return None;
        }
    }
    // A secret that could not have been accepted: the deliveries could not be signed as the
    // subscriber expects, so the subscription is not kept.
    if r.secret
        .as_ref()
        .is_some_and(|x| x.len() > request::MAX_SECRET_BYTES)
    {
        return None;
    }
    let secret = r.secret.filter(|x| !x.is_empty());
    let delivered = r
        .delivered
        .as_deref()
        .and_then(|h| u128::from_str_radix(h, 16).ok());
    // A lease longer than now allowed ends at the new maximum.
    let max_end = now.saturating_add(s.max_lease_seconds.saturating_mul(1000));
    let key = (r.route, callback.as_str().to_owned());
    Some((
        key,
        Sub {
            topic: r.topic,
            callback,
            secret,
            lease_seconds: r.lease_seconds,
            expires_ms: r.expires_unix_ms.min(max_end),
            delivered,
            pending: None,
            queued: false,
            failures: 0,
        },
    ))
}
