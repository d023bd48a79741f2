//! What a running `serve` counts, in the Prometheus text exposition format (`/metrics`, see
//! `server.metrics_path`).
//!
//! One [`Metrics`] per process, shared (`Arc`) by the stages that count: the server (requests
//! by route class and status, bytes sent), the publisher's thread (republishes, their
//! duration, the watcher's fallbacks), the built-in hub (deliveries), the pinger of external
//! hubs, and `serve` itself (the store's size at each swap). Nothing here depends on another
//! stage: each counts into it, and [`Metrics::render`] reads only its own counters.
//!
//! Counting a request costs two relaxed atomic additions: each (class, status) counter is
//! resolved once ([`OnceLock`]) and kept, so no label lookup or lock is on the request path.

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// What a request was routed to: the `class` label of the request counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A subscription document (RSS, Atom, JSON Feed).
    Feed,
    /// An RFC 5005 archive page.
    Archive,
    /// A feed's HTML view, for a browser.
    View,
    /// An HTML page: a post's, a term's, the category and tag lists, the stylesheet.
    Page,
    /// A post asset (a file beside the posts).
    Asset,
    /// The site's lists of feeds: the index page and the OPML.
    List,
    /// The built-in WebSub hub (`/hub`, subscriptions included).
    Hub,
    /// ActivityPub: WebFinger, NodeInfo, actors, outboxes, `Article`s, inbox deliveries.
    ActivityPub,
    /// `/metrics` and `/healthz` themselves.
    Ops,
    /// Answered without a document: not found, gone, a redirect, a bad request or method.
    Other,
}

impl Class {
    pub const ALL: [Class; 10] = [
        Class::Feed,
        Class::Archive,
        Class::View,
        Class::Page,
        Class::Asset,
        Class::List,
        Class::Hub,
        Class::ActivityPub,
        Class::Ops,
        Class::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Class::Feed => "feed",
            Class::Archive => "archive",
            Class::View => "view",
            Class::Page => "page",
            Class::Asset => "asset",
            Class::List => "list",
            Class::Hub => "hub",
            Class::ActivityPub => "activitypub",
            Class::Ops => "ops",
            Class::Other => "other",
        }
    }
}

/// The statuses whose counters are resolved once and kept; any other is looked up (a lock)
/// each time it is sent — it is rare.
const STATUSES: [u16; 18] = [
    200, 206, 301, 304, 400, 403, 404, 405, 408, 410, 412, 413, 414, 415, 416, 500, 502, 503,
];

fn status_slot(status: u16) -> Option<usize> {
    STATUSES.iter().position(|s| *s == status)
}

/// Buckets of `feedsmith_republish_duration_seconds`: a one-post edit takes about a
/// millisecond, a full rescan of a large site seconds.
const REPUBLISH_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why the watcher fell back to polling or to a full rescan: the `reason` label of
/// `feedsmith_watcher_fallbacks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The kernel said events were lost (an inotify queue overflow): a full rescan.
    LostEvents,
    /// The watch failed while running (e.g. the limit on watches): polling from then on.
    WatchFailed,
    /// No kernel watch could be set up: polling.
    WatchUnavailable,
    /// The posts directory was replaced, or came back: watched anew and rescanned.
    RootReplaced,
}

impl Fallback {
    fn label(self) -> &'static str {
        match self {
            Fallback::LostEvents => "lost_events",
            Fallback::WatchFailed => "watch_failed",
            Fallback::WatchUnavailable => "watch_unavailable",
            Fallback::RootReplaced => "root_replaced",
        }
    }
}

/// The outcomes of the built-in hub's content deliveries (each attempt counts once).
pub struct Deliveries {
    /// A 2xx from the callback.
    pub delivered: IntCounter,
    /// Any other answer, or none: retried later.
    pub failed: IntCounter,
    /// Subscriptions dropped after their last failed attempt, or at once on `410 Gone`.
    pub dropped: IntCounter,
}

/// The outcomes of requests to an outside service (an external hub's ping, a cache's purge).
/// Cloning shares the counters.
#[derive(Clone)]
pub struct Outcomes {
    /// A 2xx.
    pub ok: IntCounter,
    /// Anything else, or no answer (each attempt counts once).
    pub failed: IntCounter,
    /// Given up after the last attempt.
    pub dropped: IntCounter,
}

/// Every counter of the process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    /// `requests` for (class, status slot), resolved on first use.
    resolved: [[OnceLock<IntCounter>; STATUSES.len()]; Class::ALL.len()],
    bytes: [IntCounter; Class::ALL.len()],
    pub republishes: IntCounter,
    pub republish_seconds: Histogram,
    fallbacks: IntCounterVec,
    pub hub_deliveries: Deliveries,
    pings: IntCounterVec,
    /// Reserved for the shared-cache purges (`[cache] purge`): the purger counts each PURGE
    /// or BAN request here (`feedsmith_cache_purges_total{outcome}`).
    pub purges: Outcomes,
    pub store_documents: IntGauge,
    pub store_assets: IntGauge,
    pub store_bytes: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Registers a metric; the names are fixed and distinct, so it cannot fail.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: M) -> M {
    if let Err(e) = registry.register(Box::new(m.clone())) {
        tracing::error!("metrics: {e}");
    }
    m
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(registry, vec)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("metric {name}: {e}"));
    register(registry, g)
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new_custom(Some("feedsmith".into()), None)
            .unwrap_or_else(|e| unreachable!("registry: {e}"));
        let requests = counter_vec(
            &r,
            "http_requests_total",
            "HTTP requests answered, by route class and status code.",
            &["class", "code"],
        );
        let sent = counter_vec(
            &r,
            "http_response_bytes_total",
            "Body bytes of the responses, by route class (HEAD and 304 send none).",
            &["class"],
        );
        let bytes = Class::ALL.map(|c| sent.with_label_values(&[c.label()]));
        let republishes = register(
            &r,
            IntCounter::new(
                "republishes_total",
                "Republishes after changes under posts/ (or a scheduled post falling due).",
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let republish_seconds = register(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "republish_duration_seconds",
                    "How long each republish took, from the change read to the files written.",
                )
                .buckets(REPUBLISH_BUCKETS.to_vec()),
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        let fallbacks = counter_vec(
            &r,
            "watcher_fallbacks_total",
            "Times the file watcher fell back to a full rescan or to polling, by reason.",
            &["reason"],
        );
        let deliveries = counter_vec(
            &r,
            "hub_deliveries_total",
            "Content distributions of the built-in WebSub hub, by outcome.",
            &["outcome"],
        );
        let pings = counter_vec(
            &r,
            "external_hub_pings_total",
            "hub.mode=publish requests to the external WebSub hubs (hub.external), by hub and outcome.",
            &["hub", "outcome"],
        );
        let purges = counter_vec(
            &r,
            "cache_purges_total",
            "Purge requests to the shared caches, by outcome.",
            &["outcome"],
        );
        let outcomes = |vec: &IntCounterVec| Outcomes {
            ok: vec.with_label_values(&["ok"]),
            failed: vec.with_label_values(&["failed"]),
            dropped: vec.with_label_values(&["dropped"]),
        };
        let info = register(
            &r,
            prometheus::IntGaugeVec::new(
                Opts::new("build_info", "Always 1: the version of feedsmith running."),
                &["version"],
            )
            .unwrap_or_else(|e| unreachable!("{e}")),
        );
        info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Metrics {
            resolved: Default::default(),
            bytes,
            republishes,
            republish_seconds,
            fallbacks,
            hub_deliveries: Deliveries {
                delivered: deliveries.with_label_values(&["delivered"]),
                failed: deliveries.with_label_values(&["failed"]),
                dropped: deliveries.with_label_values(&["dropped"]),
            },
            purges: outcomes(&purges),
            pings,
            store_documents: gauge(&r, "store_documents", "Documents being served."),
            store_assets: gauge(&r, "store_assets", "Post assets being served."),
            store_bytes: gauge(
                &r,
                "store_bytes",
                "Bytes of the documents held in memory (post pages are rendered on request and not counted).",
            ),
            requests,
            registry: r,
        }
    }

    /// Counts one response: its route class, its status and its body's bytes.
    pub fn request(&self, class: Class, status: u16, bytes: u64) {
        let c = class as usize;
        match status_slot(status) {
            Some(slot) => self.resolved[c][slot]
                .get_or_init(|| {
                    self.requests
                        .with_label_values(&[class.label(), &status.to_string()])
                })
                .inc(),
            None => self
                .requests
                .with_label_values(&[class.label(), &status.to_string()])
                .inc(),
        }
        if bytes > 0 {
            self.bytes[c].inc_by(bytes);
        }
    }

    /// Counts one fallback of the watcher.
    pub fn fallback(&self, why: Fallback) {
        self.fallbacks.with_label_values(&[why.label()]).inc();
    }

    /// The ping counters of the external hub at `url`.
    pub fn pings(&self, url: &str) -> Outcomes {
        Outcomes {
            ok: self.pings.with_label_values(&[url, "ok"]),
            failed: self.pings.with_label_values(&[url, "failed"]),
            dropped: self.pings.with_label_values(&[url, "dropped"]),
        }
    }

    /// Records one republish and how long it took.
    pub fn republished(&self, elapsed: std::time::Duration) {
        self.republishes.inc();
        self.republish_seconds.observe(elapsed.as_secs_f64());
    }

    /// Every metric in the text exposition format, version 0.0.4.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8192);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("metrics: {e}");
        }
        out
    }
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_class_and_status() {
        let m = Metrics::new();
        m.request(Class::Feed, 200, 1000);
        m.request(Class::Feed, 200, 500);
        m.request(Class::Feed, 304, 0);
        m.request(Class::Other, 404, 14);
        m.request(Class::Page, 418, 3);
        m.fallback(Fallback::LostEvents);
        m.republished(std::time::Duration::from_millis(3));
        let text = String::from_utf8(m.render()).unwrap();
        for line in [
            "feedsmith_http_requests_total{class=\"feed\",code=\"200\"} 2",
            "feedsmith_http_requests_total{class=\"feed\",code=\"304\"} 1",
            "feedsmith_http_requests_total{class=\"other\",code=\"404\"} 1",
            "feedsmith_http_requests_total{class=\"page\",code=\"418\"} 1",
            "feedsmith_http_response_bytes_total{class=\"feed\"} 1500",
            "feedsmith_watcher_fallbacks_total{reason=\"lost_events\"} 1",
            "feedsmith_republishes_total 1",
            "feedsmith_republish_duration_seconds_bucket{le=\"0.005\"} 1",
            "feedsmith_republish_duration_seconds_bucket{le=\"0.0025\"} 0",
            "# TYPE feedsmith_http_requests_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!text.contains("code=\"500\""), "only statuses sent appear");
    }
}
