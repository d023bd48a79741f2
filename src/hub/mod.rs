//! The WebSub hub built into `serve` (W3C WebSub Recommendation, 2018): subscribers ask at
//! `/hub` to be told about a feed, and every republish that changes a feed's bytes is pushed
//! to them.
//!
//! ```text
//! POST /hub ─► request (parse, check) ─► Hub::accept ─► job: verify intent ─┐
//!                                                                            ├─► workers ─► callbacks
//! Publisher::swap_in ─► Hub::published (enqueue only) ─► job: deliver ──────┘      │
//!                                      retries (backoff) ◄─ scheduler ◄────────────┘
//! ```
//!
//! * [`request`]: the subscriber's form body, parsed strictly; callback and address checks.
//! * [`deliver`]: the outgoing HTTP requests (verification, denial, distribution, HMAC).
//! * `persist`: the subscriptions file, replaced atomically.
//!
//! Nothing here runs on the publisher thread or an HTTP event loop but short, lock-bounded
//! bookkeeping: all network I/O happens on the hub's own worker threads, each request bounded
//! by `hub.timeout_ms`, several at once, so a slow or dead subscriber delays neither a
//! republish nor the other subscribers. Each subscription holds at most one pending version of
//! its topic (a newer one replaces it), so a subscriber that lags gets the latest version, not
//! a backlog.

pub mod deliver;
pub mod persist;
pub mod request;

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use url::Url;

use crate::config::{Config, Format};
use crate::store::{Document, Store};
use deliver::{Client, Delivery};
use persist::{Record, StateFile};
use request::Mode;

/// The hub's route on the server.
pub const HUB_ROUTE: &str = "/hub";
/// Threads making the hub's outgoing requests.
pub const WORKERS: usize = 8;
/// Verifications and denial notices queued or running at once; further requests get a 503.
pub const MAX_OUTSTANDING: usize = 1024;
/// The longest wait between two delivery attempts.
pub const RETRY_CAP: Duration = Duration::from_secs(600);
/// How often expired leases are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long changes gather before the subscriptions file is written.
const SAVE_AFTER: Duration = Duration::from_millis(20);

/// The hub's settings, from `[hub]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lease_seconds: u64,
    pub min_lease_seconds: u64,
    pub max_lease_seconds: u64,
    pub max_per_topic: usize,
    pub max_subscriptions: usize,
    pub allow_private: bool,
    pub timeout: Duration,
    pub attempts: u32,
    pub retry_base: Duration,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let h = &config.hub;
        Settings {
            lease_seconds: h.lease_seconds,
            min_lease_seconds: h.min_lease_seconds,
            max_lease_seconds: h.max_lease_seconds,
            max_per_topic: h.max_subscriptions_per_topic,
            max_subscriptions: h.max_subscriptions,
            allow_private: h.allow_private_callbacks,
            timeout: Duration::from_millis(h.timeout_ms),
            attempts: h.delivery_attempts.max(1),
            retry_base: Duration::from_millis(h.retry_base_ms),
        }
    }

    /// The wait after the `failures`-th failed attempt: base × 2^(failures−1), capped.
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.retry_base.saturating_mul(factor).min(RETRY_CAP)
    }
}

/// A subscription's identity: (topic route, callback URL).
type Key = (String, String);

/// One verified subscription.
struct Sub {
    topic: String,
    callback: Url,
    secret: Option<String>,
    lease_seconds: u64,
    expires_ms: u64,
    /// Hash of the topic version the subscriber has (see [`Record::delivered`]).
    delivered: Option<u128>,
    /// The version waiting to be delivered (only the newest is kept).
    pending: Option<Arc<Document>>,
    /// A delivery job for it is queued, running or scheduled for a retry.
    queued: bool,
    /// Failed attempts in a row.
    failures: u32,
}

impl Sub {
    fn record(&self, key: &Key) -> Record {
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
struct Inner {
    subs: BTreeMap<Key, Sub>,
    /// The current document of every feed route, as last published.
    topics: HashMap<String, Arc<Document>>,
    /// The latest request per subscription still being verified: an older one that completes
    /// later must not undo it.
    intents: HashMap<Key, u64>,
    next_intent: u64,
    /// Verifications and denials queued or running.
    outstanding: usize,
}

impl Inner {
    /// The subscriptions of one topic route.
    fn of_topic<'a>(&'a self, route: &'a str) -> impl Iterator<Item = (&'a Key, &'a Sub)> {
        self.subs
            .range((route.to_owned(), String::new())..)
            .take_while(move |(k, _)| k.0 == route)
    }

    /// Why a new subscription to `route` cannot be added, if it cannot.
    fn full(&self, route: &str, s: &Settings) -> Option<String> {
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

/// Work for the worker threads.
enum Job {
    Verify(Intent),
    Deny {
        callback: Url,
        topic: String,
        reason: String,
    },
    Deliver(Key),
}

/// A subscribe or unsubscribe request, to be verified.
struct Intent {
    key: Key,
    seq: u64,
    mode: Mode,
    topic: String,
    callback: Url,
    lease_seconds: u64,
    secret: Option<String>,
}

/// A job due at a time (retries).
struct Timed {
    due: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The scheduler's state: retries waiting for their time, and whether to save.
#[derive(Default)]
struct Sched {
    timed: BinaryHeap<Reverse<Timed>>,
    seq: u64,
    save: bool,
}

/// The answer to a subscriber's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub message: String,
}

impl Reply {
    fn new(status: u16, message: impl Into<String>) -> Reply {
        let mut message = message.into();
        message.push('\n');
        Reply { status, message }
    }
}

/// The hub.
pub struct Hub {
    /// The advertised hub URL (`{site base}/hub`).
    url: String,
    /// The site's base URL without a trailing slash; topics are under it.
    base: String,
    settings: Settings,
    inner: Mutex<Inner>,
    sched: Mutex<Sched>,
    wake: Condvar,
    jobs: mpsc::Sender<Job>,
    client: Client,
    file: StateFile,
}

/// The hub's threads hold it weakly: they end once it is dropped.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether a content type is a feed's (RSS, Atom, JSON Feed).
pub fn is_feed_type(content_type: &str) -> bool {
    Format::ALL.iter().any(|f| f.content_type() == content_type)
}

impl Hub {
    /// Starts the hub of a site: loads the saved subscriptions (dropping expired ones) and
    /// starts its worker and scheduler threads.
    pub fn start(config: &Config) -> Result<Arc<Hub>> {
        let settings = Settings::from_config(config);
        let base = config.site_url().as_str().trim_end_matches('/').to_owned();
        let file = StateFile::new(&config.hub.state_dir);
        let mut inner = Inner::default();
        match file.load() {
            Ok(records) => {
                let loaded = records.len();
                let now = now_ms();
                for r in records {
                    if let Some((key, sub)) = restore(r, now, &settings) {
                        if inner.subs.len() < settings.max_subscriptions {
                            inner.subs.insert(key, sub);
                        }
                    }
                }
                if loaded > 0 {
                    tracing::info!(
                        "hub: {} subscriptions restored from {} ({} expired or invalid dropped)",
                        inner.subs.len(),
                        file.path().display(),
                        loaded - inner.subs.len()
                    );
                }
            }
            Err(e) => tracing::error!("hub: {e}"),
        }
        let (tx, rx) = mpsc::channel();
        let hub = Arc::new(Hub {
            url: format!("{base}{HUB_ROUTE}"),
            base,
            client: Client::new(settings.timeout, settings.allow_private),
            settings,
            inner: Mutex::new(inner),
            sched: Mutex::new(Sched::default()),
            wake: Condvar::new(),
            jobs: tx,
            file,
        });
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..WORKERS {
            let rx = Arc::clone(&rx);
            let weak = Arc::downgrade(&hub);
            std::thread::Builder::new()
                .name(format!("hub-{i}"))
                .spawn(move || worker(&rx, &weak))
                .context("cannot start a hub worker thread")?;
        }
        let weak = Arc::downgrade(&hub);
        std::thread::Builder::new()
            .name("hub-scheduler".into())
            .spawn(move || scheduler(&weak))
            .context("cannot start the hub scheduler thread")?;
        Ok(hub)
    }

    /// The advertised hub URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Verified subscriptions now held.
    pub fn subscriptions(&self) -> usize {
        lock(&self.inner).subs.len()
    }

    /// The text of `GET /hub`.
    pub fn page(&self) -> String {
        format!(
            "The WebSub hub of {base}/ (every feed listed at {base}/ names it).\n\n\
             To subscribe to a feed, POST application/x-www-form-urlencoded to {url} with\n\
             hub.mode=subscribe, hub.topic=<the feed's URL>, hub.callback=<your URL>,\n\
             and optionally hub.lease_seconds and hub.secret (less than 200 bytes).\n",
            base = self.base,
            url = self.url
        )
    }

    /// Handles a subscriber's request (WebSub §5.1): `202` when it was accepted for
    /// verification (or a denial notice is on its way), else the error status and why.
    pub fn accept(&self, content_type: Option<&str>, body: &[u8], store: &Store) -> Reply {
        if !request::is_form(content_type) {
            return Reply::new(415, "the body must be application/x-www-form-urlencoded");
        }
        let req = match request::parse(body) {
            Ok(r) => r,
            Err(why) => return Reply::new(400, why),
        };
        if let Some(ip) = request::literal_ip(&req.callback) {
            if !request::allowed(ip, self.settings.allow_private) {
                let why = format!(
                    "hub.callback: the hub does not call {ip} \
                     (a private, link-local or unusable address)"
                );
                return Reply::new(403, why);
            }
        }
        let callback = req.callback.as_str().to_owned();
        let mut inner = lock(&self.inner);
        if inner.outstanding >= MAX_OUTSTANDING {
            return Reply::new(503, "too many requests are being verified; try again later");
        }
        // A topic is one of our feeds — or, to unsubscribe, a topic the callback is subscribed
        // to even if the feed is gone now.
        let route = self.route_of(&req.topic).filter(|route| {
            store
                .get(route)
                .is_some_and(|d| is_feed_type(d.content_type))
                || (req.mode == Mode::Unsubscribe
                    && inner.subs.contains_key(&(route.clone(), callback.clone())))
        });
        let Some(route) = route else {
            inner.outstanding += 1;
            drop(inner);
            self.enqueue(Job::Deny {
                callback: req.callback,
                topic: req.topic,
                reason: "hub.topic is not a feed of this site".to_owned(),
            });
            return Reply::new(
                202,
                "accepted, but hub.topic is not a feed of this site: a denial is sent to the callback",
            );
        };
        let key = (route, callback);
        if req.mode == Mode::Subscribe && !inner.subs.contains_key(&key) {
            if let Some(why) = inner.full(&key.0, &self.settings) {
                return Reply::new(403, why);
            }
        }
        inner.next_intent += 1;
        let seq = inner.next_intent;
        inner.intents.insert(key.clone(), seq);
        inner.outstanding += 1;
        drop(inner);
        let s = &self.settings;
        self.enqueue(Job::Verify(Intent {
            key,
            seq,
            mode: req.mode,
            topic: req.topic,
            callback: req.callback,
            lease_seconds: request::bound_lease(
                req.lease_seconds,
                s.lease_seconds,
                s.min_lease_seconds,
                s.max_lease_seconds,
            ),
            secret: req.secret,
        }));
        Reply::new(
            202,
            format!(
                "accepted: the {} request is verified with the callback",
                req.mode.as_str()
            ),
        )
    }

    /// The store route a topic URL names, if it is under the site's base URL (whether a feed
    /// is there is for the caller to see).
    pub fn route_of(&self, topic: &str) -> Option<String> {
        let url = Url::parse(topic).ok()?;
        if url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        let rest = url.as_str().strip_prefix(self.base.as_str())?;
        if !rest.starts_with('/') {
            return None;
        }
        crate::store::route::route_of(rest)
            .ok()
            .map(std::borrow::Cow::into_owned)
    }

    /// Called by the publisher after each store swap: the feed routes whose documents changed
    /// (or appeared) and those removed. Only bookkeeping and enqueueing: it never waits for a
    /// subscriber.
    pub fn published(&self, changed: Vec<(String, Arc<Document>)>, removed: &[String]) {
        if changed.is_empty() && removed.is_empty() {
            return;
        }
        let now = now_ms();
        let mut jobs = Vec::new();
        {
            let mut guard = lock(&self.inner);
            let inner = &mut *guard;
            for route in removed {
                inner.topics.remove(route);
            }
            for (route, doc) in changed {
                let subs = inner
                    .subs
                    .range_mut((route.clone(), String::new())..)
                    .take_while(|(k, _)| k.0 == route);
                for (key, sub) in subs {
                    if sub.expires_ms <= now {
                        continue;
                    }
                    if sub.delivered == Some(doc.hash) && !sub.queued {
                        // Back to what the subscriber has: nothing to send. (With a delivery
                        // in flight, the subscriber may be about to get another version: this
                        // one is then pending, and skipped if that delivery was of it.)
                        sub.pending = None;
                        continue;
                    }
                    sub.pending = Some(Arc::clone(&doc));
                    if !sub.queued {
                        sub.queued = true;
                        jobs.push(Job::Deliver(key.clone()));
                    }
                }
                inner.topics.insert(route, doc);
            }
        }
        for job in jobs {
            self.enqueue(job);
        }
    }

    /// Writes the subscriptions file now (at shutdown) — unless there never was one and there
    /// is nothing to keep.
    pub fn flush(&self) {
        if lock(&self.inner).subs.is_empty() && !self.file.path().exists() {
            return;
        }
        self.save();
    }

    fn enqueue(&self, job: Job) {
        // Fails only when every worker is gone, i.e. the hub is being dropped.
        let _ = self.jobs.send(job);
    }

    /// Runs `job` at `due` (retries).
    fn schedule(&self, due: Instant, job: Job) {
        let mut s = lock(&self.sched);
        s.seq += 1;
        let seq = s.seq;
        s.timed.push(Reverse(Timed { due, seq, job }));
        drop(s);
        self.wake.notify_one();
    }

    /// Asks the scheduler to write the subscriptions file soon.
    fn changed(&self) {
        lock(&self.sched).save = true;
        self.wake.notify_one();
    }

    fn save(&self) {
        let records: Vec<Record> = {
            let inner = lock(&self.inner);
            inner.subs.iter().map(|(k, s)| s.record(k)).collect()
        };
        if let Err(e) = self.file.save(records) {
            tracing::error!(
                "hub: cannot write {}: {e} (the subscriptions are kept in memory)",
                self.file.path().display()
            );
        }
    }

    /// Drops the subscriptions whose lease has ended.
    fn sweep(&self) {
        let now = now_ms();
        let mut expired = Vec::new();
        lock(&self.inner).subs.retain(|k, s| {
            let live = s.expires_ms > now;
            if !live {
                expired.push(k.1.clone());
            }
            live
        });
        for callback in &expired {
            tracing::info!("hub: lease of {callback} ended; subscription dropped");
        }
        if !expired.is_empty() {
            self.changed();
        }
    }

    fn run(&self, job: Job) {
        match job {
            Job::Verify(intent) => self.verify(intent),
            Job::Deny {
                callback,
                topic,
                reason,
            } => {
                match self.client.deny(&callback, &topic, &reason) {
                    Ok(_) => tracing::info!("hub: denied {callback} for {topic}: {reason}"),
                    Err(e) => {
                        tracing::info!("hub: denial notice to {callback} not delivered: {e}")
                    }
                }
                let mut inner = lock(&self.inner);
                inner.outstanding = inner.outstanding.saturating_sub(1);
            }
            Job::Deliver(key) => self.deliver(key),
        }
    }

    /// Verification of intent, then the subscription change it confirms.
    fn verify(&self, intent: Intent) {
        let superseded = lock(&self.inner).intents.get(&intent.key) != Some(&intent.seq);
        let outcome = if superseded {
            Err("a newer request for it came first".to_owned())
        } else {
            let lease = (intent.mode == Mode::Subscribe).then_some(intent.lease_seconds);
            self.client
                .verify(&intent.callback, intent.mode, &intent.topic, lease)
        };
        let what = format!(
            "{} of {} to {}",
            intent.mode.as_str(),
            intent.callback,
            intent.topic
        );
        let mut inner = lock(&self.inner);
        inner.outstanding = inner.outstanding.saturating_sub(1);
        let latest = inner.intents.get(&intent.key) == Some(&intent.seq);
        if latest {
            inner.intents.remove(&intent.key);
        }
        if let Err(why) = outcome {
            drop(inner);
            tracing::info!("hub: {what} not verified: {why}");
            return;
        }
        if !latest {
            drop(inner);
            tracing::info!("hub: {what} verified, but a newer request for it came since");
            return;
        }
        match intent.mode {
            Mode::Subscribe => {
                let expires_ms = now_ms().saturating_add(intent.lease_seconds.saturating_mul(1000));
                if let Some(sub) = inner.subs.get_mut(&intent.key) {
                    sub.topic = intent.topic;
                    sub.secret = intent.secret;
                    sub.lease_seconds = intent.lease_seconds;
                    sub.expires_ms = expires_ms;
                    drop(inner);
                    tracing::info!("hub: renewed {what} for {} s", intent.lease_seconds);
                } else if let Some(why) = inner.full(&intent.key.0, &self.settings) {
                    inner.outstanding += 1;
                    drop(inner);
                    tracing::warn!("hub: {what} refused: {why}");
                    self.enqueue(Job::Deny {
                        callback: intent.callback,
                        topic: intent.topic,
                        reason: why,
                    });
                    return;
                } else {
                    let delivered = inner.topics.get(&intent.key.0).map(|d| d.hash);
                    inner.subs.insert(
                        intent.key,
                        Sub {
                            topic: intent.topic,
                            callback: intent.callback,
                            secret: intent.secret,
                            lease_seconds: intent.lease_seconds,
                            expires_ms,
                            delivered,
                            pending: None,
                            queued: false,
                            failures: 0,
                        },
                    );
                    drop(inner);
                    tracing::info!("hub: verified {what} for {} s", intent.lease_seconds);
                }
            }
            Mode::Unsubscribe => {
                inner.subs.remove(&intent.key);
                drop(inner);
                tracing::info!("hub: verified {what}");
            }
        }
        self.changed();
    }

    /// One delivery attempt of a subscription's pending version, and what follows from it.
    fn deliver(&self, key: Key) {
        let (doc, callback, secret) = {
            let mut inner = lock(&self.inner);
            let Some(sub) = inner.subs.get_mut(&key) else {
                return;
            };
            let doc = sub.pending.take();
            match doc {
                Some(doc) if sub.expires_ms > now_ms() && sub.delivered != Some(doc.hash) => {
                    (doc, sub.callback.clone(), sub.secret.clone())
                }
                _ => {
                    // Nothing (new) to send, or the lease ended (the sweep drops it).
                    sub.queued = false;
                    return;
                }
            }
        };
        let self_url = format!("{}{}", self.base, crate::slug::encode_path(&key.0));
        let outcome = self
            .client
            .deliver(&callback, &doc, &self.url, &self_url, secret.as_deref());
        let mut inner = lock(&self.inner);
        let Some(sub) = inner.subs.get_mut(&key) else {
            // Unsubscribed (or expired) meanwhile.
            return;
        };
        match outcome {
            Delivery::Delivered => {
                sub.failures = 0;
                sub.delivered = Some(doc.hash);
                let again = sub.pending.is_some();
                sub.queued = again;
                drop(inner);
                tracing::debug!("hub: delivered {self_url} to {callback}");
                if again {
                    self.enqueue(Job::Deliver(key));
                }
                self.changed();
            }
            Delivery::Gone => {
                inner.subs.remove(&key);
                drop(inner);
                tracing::info!(
                    "hub: {callback} answered 410 Gone; subscription to {self_url} dropped"
                );
                self.changed();
            }
            Delivery::Failed(why) => {
                sub.failures += 1;
                let failures = sub.failures;
                if failures >= self.settings.attempts {
                    inner.subs.remove(&key);
                    drop(inner);
                    tracing::warn!(
                        "hub: delivery of {self_url} to {callback} failed {failures} times ({why}); subscription dropped"
                    );
                    self.changed();
                } else {
                    if sub.pending.is_none() {
                        sub.pending = Some(doc);
                    }
                    drop(inner);
                    let wait = self.settings.backoff(failures);
                    tracing::warn!(
                        "hub: delivery of {self_url} to {callback} failed ({why}); attempt {} in {wait:?}",
                        failures + 1
                    );
                    self.schedule(Instant::now() + wait, Job::Deliver(key));
                }
            }
        }
    }
}

/// A saved subscription back in memory, unless it has expired or no longer makes sense.
fn restore(r: Record, now: u64, s: &Settings) -> Option<(Key, Sub)> {
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

/// A worker: runs jobs until the hub is gone.
fn worker(rx: &Mutex<mpsc::Receiver<Job>>, hub: &Weak<Hub>) {
    loop {
        let job = match lock(rx).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        hub.run(job);
    }
}

/// The scheduler: hands retries to the workers when they are due, drops expired leases, and
/// writes the subscriptions file after changes (a burst of changes gives one write).
fn scheduler(hub: &Weak<Hub>) {
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    let mut save_at: Option<Instant> = None;
    loop {
        let Some(hub) = hub.upgrade() else { return };
        let mut due = Vec::new();
        {
            let mut s = lock(&hub.sched);
            loop {
                let now = Instant::now();
                while s.timed.peek().is_some_and(|t| t.0.due <= now) {
                    if let Some(Reverse(t)) = s.timed.pop() {
                        due.push(t.job);
                    }
                }
                if std::mem::take(&mut s.save) && save_at.is_none() {
                    save_at = Some(now + SAVE_AFTER);
                }
                let save_due = save_at.is_some_and(|t| t <= now);
                if !due.is_empty() || save_due || now >= next_sweep {
                    break;
                }
                let mut wake = next_sweep;
                if let Some(t) = s.timed.peek() {
                    wake = wake.min(t.0.due);
                }
                if let Some(t) = save_at {
                    wake = wake.min(t);
                }
                s = hub
                    .wake
                    .wait_timeout(s, wake.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        for job in due {
            hub.enqueue(job);
        }
        let now = Instant::now();
        if now >= next_sweep {
            hub.sweep();
            next_sweep = now + SWEEP_EVERY;
        }
        if save_at.is_some_and(|t| t <= Instant::now()) {
            save_at = None;
            hub.save();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Doc;

    fn settings() -> Settings {
        Settings::from_config(&Config::default())
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = settings();
        assert_eq!(s.backoff(1), Duration::from_secs(1));
        assert_eq!(s.backoff(2), Duration::from_secs(2));
        assert_eq!(s.backoff(5), Duration::from_secs(16));
        assert_eq!(s.backoff(40), RETRY_CAP);
    }

    fn hub_for_test(dir: &std::path::Path) -> Arc<Hub> {
        let mut config = Config::default();
        config.site.url = Some("https://example.com/blog".into());
        config.hub.state_dir = dir.to_path_buf();
        Hub::start(&config).unwrap()
    }

    fn store() -> Store {
        let doc = |ct: &'static str| Doc {
            content_type: ct,
            bytes: bytes::Bytes::from_static(b"<rss/>"),
        };
        Store::next(
            &Store::default(),
            [
                ("/rss.xml".into(), doc(Format::Rss.content_type()), None),
                (
                    "/tags/厦门/atom.xml".into(),
                    doc(Format::Atom.content_type()),
                    None,
                ),
                ("/index.html".into(), doc("text/html; charset=utf-8"), None),
            ],
            |_| None,
            SystemTime::now(),
        )
    }

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn topics_are_our_feeds() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub_for_test(dir.path());
        assert_eq!(hub.url(), "https://example.com/blog/hub");
        assert_eq!(
            hub.route_of("https://example.com/blog/rss.xml").as_deref(),
            Some("/rss.xml")
        );
        assert_eq!(
            hub.route_of("HTTPS://EXAMPLE.com:443/blog/tags/%E5%8E%A6%E9%97%A8/atom.xml")
                .as_deref(),
            Some("/tags/厦门/atom.xml")
        );
        assert_eq!(
            hub.route_of("https://example.com/blog/tags/厦门/atom.xml")
                .as_deref(),
            Some("/tags/厦门/atom.xml")
        );
        for other in [
            "https://example.com/rss.xml",
            "https://example.com/blogx/rss.xml",
            "http://example.com/blog/rss.xml",
            "https://example.com/blog/rss.xml?x=1",
            "https://example.com/blog/rss.xml#x",
            "https://evil.example/blog/rss.xml",
            "not a url",
        ] {
            assert_eq!(hub.route_of(other), None, "{other}");
        }
    }

    #[test]
    fn requests_are_checked_before_anything_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub_for_test(dir.path());
        let store = store();
        let status = |ct: Option<&str>, body: &str| hub.accept(ct, body.as_bytes(), &store).status;
        assert_eq!(status(Some("application/json"), "{}"), 415);
        assert_eq!(status(None, "hub.mode=subscribe"), 415);
        assert_eq!(status(FORM, "hub.mode=subscribe"), 400);
        for cb in [
            "http://10.0.0.1/cb",
            "http://192.168.1.20:8080/cb",
            "http://172.20.0.1/cb",
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/cb",
            "http://[fd00::1]/cb",
            "http://0.0.0.0/cb",
            "http://[::ffff:10.0.0.1]/cb",
        ] {
            let body = format!(
                "hub.mode=subscribe&hub.topic=https://example.com/blog/rss.xml&hub.callback={cb}"
            );
            let r = hub.accept(FORM, body.as_bytes(), &store);
            assert_eq!(r.status, 403, "{cb}: {}", r.message);
        }
        // Nothing was queued by any of these.
        assert_eq!(lock(&hub.inner).outstanding, 0);
        assert_eq!(hub.subscriptions(), 0);
    }

    #[test]
    fn caps_are_enforced_at_request_time() {
        let dir = tempfile::tempdir().unwrap();
        let hub = hub_for_test(dir.path());
        {
            let mut inner = lock(&hub.inner);
            for i in 0..hub.settings.max_per_topic {
                let cb = Url::parse(&format!("http://127.0.0.1:9/{i}")).unwrap();
                inner.subs.insert(
                    ("/rss.xml".into(), cb.as_str().to_owned()),
                    Sub {
                        topic: "https://example.com/blog/rss.xml".into(),
                        callback: cb,
                        secret: None,
                        lease_seconds: 60,
                        expires_ms: u64::MAX,
                        delivered: None,
                        pending: None,
                        queued: false,
                        failures: 0,
                    },
                );
            }
        }
        let r = hub.accept(
            FORM,
            b"hub.mode=subscribe&hub.topic=https://example.com/blog/rss.xml&hub.callback=http://127.0.0.1:9/new",
            &store(),
        );
        assert_eq!(r.status, 403, "{}", r.message);
        assert!(r.message.contains("maximum"), "{}", r.message);
    }

    #[test]
    fn saved_subscriptions_are_checked_when_restored() {
        let s = settings();
        let now = now_ms();
        let rec = |cb: &str, expires: u64| Record {
            topic: "t".into(),
            route: "/rss.xml".into(),
            callback: cb.into(),
            secret: Some("x".into()),
            lease_seconds: 60,
            expires_unix_ms: expires,
            delivered: Some("00000000000000000000000000000abc".into()),
        };
        let (key, sub) = restore(rec("http://127.0.0.1:9/cb", now + 60_000), now, &s).unwrap();
        assert_eq!(key.1, "http://127.0.0.1:9/cb");
        assert_eq!(sub.delivered, Some(0xabc));
        assert_eq!(sub.secret.as_deref(), Some("x"));
        let mut long = rec("http://127.0.0.1:9/cb", now + 60_000);
        long.secret = Some("x".repeat(300));
        assert!(restore(long, now, &s).is_none(), "an overlong secret");
        assert!(restore(rec("http://127.0.0.1:9/cb", now - 1), now, &s).is_none());
        assert!(restore(rec("http://10.0.0.1/cb", now + 60_000), now, &s).is_none());
        assert!(restore(rec("ftp://x/", now + 60_000), now, &s).is_none());
        let (_, far) = restore(rec("http://127.0.0.1:9/cb", u64::MAX), now, &s).unwrap();
        assert!(far.expires_ms <= now + s.max_lease_seconds * 1000);
    }
}
