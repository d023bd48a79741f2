//! The WebSub hub built into `serve` (W3C WebSub Recommendation, 2018): subscribers ask at
//! `/hub` to be told about a feed, and every republish that changes a feed's bytes is pushed
//! to them.
//!
//! ```text
//! POST /hub ─► request (parse, check) ─► Hub::accept ─► job: verify intent ─┐
//!                                                                            ├─► workers ─► callbacks
//! publish's Outlet ──► Hub::published (enqueue only) ─► job: deliver ──────┘      │
//!                                      retries (backoff) ◄─ scheduler ◄────────────┘
//! ```
//!
//! * [`request`]: the subscriber's form body, parsed strictly; callback and address checks.
//! * [`deliver`]: the outgoing HTTP requests (verification, denial, distribution, HMAC).
//! * `persist`: the subscriptions file, replaced atomically.
//! * `subscriptions`: the table; `jobs`: the queue, the scheduler and the workers' threads;
//!   `work`: what a worker does (verify an intent, deliver a version).
//!
//! Nothing here runs on the publisher thread or an HTTP event loop but short, lock-bounded
//! bookkeeping: all network I/O happens on the hub's own worker threads, each request bounded
//! by `hub.timeout_ms`, several at once, so a slow or dead subscriber delays neither a
//! republish nor the other subscribers. Each subscription holds at most one pending version of
//! its topic (a newer one replaces it), so a subscriber that lags gets the latest version, not
//! a backlog.

pub mod deliver;
mod jobs;
pub mod persist;
pub mod ping;
pub mod request;
mod subscriptions;
mod work;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use url::Url;

use crate::config::{Config, Format};
use crate::push::{lock, Engine, Timing};
use crate::store::{Document, Store};
use deliver::{Client, Delivery};
use jobs::{Intent, Job};
use persist::{Record, StateFile};
use request::Mode;
use subscriptions::{restore, Inner, Key, Sub};

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

/// The answer to a POST the server reads (a subscriber's request to the hub, an activity to
/// an ActivityPub inbox): a status, and a line saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub message: String,
}

impl Reply {
    pub fn new(status: u16, message: impl Into<String>) -> Reply {
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
    /// The queue, retries and worker threads (`crate::push`).
    engine: Engine<Job>,
    client: Client,
    file: StateFile,
    /// Where deliveries are counted.
    metrics: Arc<crate::metrics::Metrics>,
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Hub {
    /// Starts the hub of a site: loads the saved subscriptions (dropping expired ones) and
    /// starts its worker and scheduler threads. Deliveries are counted in `metrics`.
    pub fn start(config: &Config, metrics: Arc<crate::metrics::Metrics>) -> Result<Arc<Hub>> {
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
        let hub = Arc::new(Hub {
            url: format!("{base}{HUB_ROUTE}"),
            base,
            client: Client::new(settings.timeout, settings.allow_private),
            settings,
            inner: Mutex::new(inner),
            engine: Engine::new(Timing {
                sweep_every: SWEEP_EVERY,
                save_after: SAVE_AFTER,
            }),
            file,
            metrics,
        });
        // The threads hold the hub weakly: they end once it is dropped.
        crate::push::start(&hub, "hub", WORKERS).context("cannot start the hub's threads")?;
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
            Err(why) => return Reply::new(400, why.0),
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
                .is_some_and(|d| Format::of_content_type(d.content_type).is_some())
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
        self.save_now();
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
        Hub::start(&config, Arc::default()).unwrap()
    }

    fn store() -> Store {
        let doc = |ct: &'static str| Doc {
            content_type: ct,
            bytes: bytes::Bytes::from_static(b"<rss/>"),
            modified: SystemTime::UNIX_EPOCH,
        };
        Store::next(
            &Store::default(),
            [
                ("/rss.xml".into(), doc(Format::Rss.content_type())),
                (
                    "/tags/厦门/atom.xml".into(),
                    doc(Format::Atom.content_type()),
                ),
                ("/index.html".into(), doc("text/html; charset=utf-8")),
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
