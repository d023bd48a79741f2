//! External WebSub hubs (`hub.external`): telling each that feeds changed, so it fetches them
//! and pushes them to its own subscribers (the PubSubHubbub 0.4 publish ping; WebSub leaves
//! how a publisher talks to its hub open).
//!
//! A ping is `POST {hub}` with the form `hub.mode=publish` and one `hub.url` per changed
//! topic (each feed's absolute URL), up to [`MAX_TOPICS_PER_PING`] in one request. A single
//! topic also goes as `hub.topic`, which hubs that read only that field want. A hub that
//! answers a batch with `400` (it reads one topic per request) is pinged one topic per
//! request from then on.
//!
//! `serve` pings from one thread per hub ([`Pinger`]): the publisher only merges the changed
//! topics into each hub's pending set (never waits), topics changed again before the next
//! ping go once, failures are retried after `hub.retry_base_ms`, doubled each time, and after
//! `hub.delivery_attempts` failures in a row what is pending is given up (logged and counted;
//! the next change pings again). Each request is bounded by `hub.timeout_ms`. The hubs are
//! the operator's own choice, so loopback and private addresses are allowed. `build --ping`
//! pings once, synchronously, within a bound on the whole ([`ping_now`]).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{lock, RETRY_CAP};
use crate::config::Config;
use crate::metrics::{Metrics, Outcomes};

/// Most topics named in one ping; more go in several requests.
pub const MAX_TOPICS_PER_PING: usize = 100;

/// Why a hub did not take a ping.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// No answer: refused, timed out, a TLS failure…
    #[error(transparent)]
    Request(#[from] ureq::Error),
    #[error("the hub answered {0}")]
    Status(u16),
}

/// One external hub and the client that pings it.
pub struct ExternalHub {
    pub url: String,
    agent: ureq::Agent,
    /// The hub refused a batch: one topic per request from now on.
    singly: AtomicBool,
    counts: Outcomes,
}

impl ExternalHub {
    /// A client for the hub at `url`, each request bounded by `timeout`; outcomes are
    /// counted in `counts`.
    pub fn new(url: &str, timeout: Duration, counts: Outcomes) -> ExternalHub {
        let config = super::deliver::outgoing(timeout, "WebSub publisher").build();
        ExternalHub {
            url: url.to_owned(),
            agent: config.new_agent(),
            singly: AtomicBool::new(false),
            counts,
        }
    }

    /// Tells the hub that `topics` changed: one request per [`MAX_TOPICS_PER_PING`] topics
    /// (or per topic, for a hub that takes one at a time). Each request ends before
    /// `deadline`, if one is given.
    pub fn ping(&self, topics: &[String], deadline: Option<Instant>) -> Result<(), PingError> {
        for chunk in topics.chunks(MAX_TOPICS_PER_PING) {
            if chunk.len() > 1 && !self.singly.load(Ordering::Relaxed) {
                match self.post(chunk, deadline) {
                    Ok(()) => continue,
                    Err(PingError::Status(400)) => {
                        tracing::info!(
                            "hub.external {}: a ping of several topics was refused (400); \
                             one topic per request from now on",
                            self.url
                        );
                        self.singly.store(true, Ordering::Relaxed);
                    }
                    Err(e) => return Err(e),
                }
            }
            for topic in chunk {
                self.post(std::slice::from_ref(topic), deadline)?;
            }
        }
        Ok(())
    }

    /// One `hub.mode=publish` request.
    fn post(&self, topics: &[String], deadline: Option<Instant>) -> Result<(), PingError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("hub.mode", "publish");
        for topic in topics {
            form.append_pair("hub.url", topic);
        }
        if let [topic] = topics {
            form.append_pair("hub.topic", topic);
        }
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            req = req
                .config()
                .timeout_global(Some(left.max(Duration::from_millis(1))))
                .build();
        }
        let outcome = match req.send(form.finish()) {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(PingError::Status(resp.status().as_u16())),
            Err(e) => Err(PingError::Request(e)),
        };
        match &outcome {
            Ok(()) => self.counts.ok.inc(),
            Err(_) => self.counts.failed.inc(),
        }
        outcome
    }
}

/// The absolute URL of a feed's route under the site's base URL (without its trailing `/`):
/// the topic a hub is told of.
pub fn topic_url(base: &str, route: &str) -> String {
    format!("{base}{}", crate::slug::encode_path(route))
}

/// A hub's pending topics, shared by the publisher (which adds) and the hub's thread.
struct Queue {
    hub: ExternalHub,
    pending: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    topics: BTreeSet<String>,
    closed: bool,
}

/// The pings of `serve`: one thread per external hub.
pub struct Pinger {
    queues: Vec<Arc<Queue>>,
}

/// How a hub's thread retries.
#[derive(Debug, Clone, Copy)]
struct Retry {
    attempts: u32,
    base: Duration,
}

impl Retry {
    /// The wait after the `failures`-th failure in a row: base × 2^(failures−1), capped.
    fn backoff(self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(RETRY_CAP)
    }
}

impl Pinger {
    /// Starts a thread for each of `hub.external` (none: `None`).
    pub fn start(config: &Config, metrics: &Metrics) -> std::io::Result<Option<Pinger>> {
        if config.hub.external.is_empty() {
            return Ok(None);
        }
        let timeout = Duration::from_millis(config.hub.timeout_ms);
        let retry = Retry {
            attempts: config.hub.delivery_attempts.max(1),
            base: Duration::from_millis(config.hub.retry_base_ms),
        };
        let mut queues = Vec::new();
        for (i, url) in config.hub.external.iter().enumerate() {
            let queue = Arc::new(Queue {
                hub: ExternalHub::new(url, timeout, metrics.pings(url)),
                pending: Mutex::default(),
                wake: Condvar::new(),
            });
            let q = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("ping-{i}"))
                .spawn(move || run(&q, retry))?;
            queues.push(queue);
        }
        Ok(Some(Pinger { queues }))
    }

    /// Adds changed topics (absolute feed URLs) to every hub's pending set. Never waits on
    /// the network.
    pub fn publish(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        for q in &self.queues {
            lock(&q.pending).topics.extend(topics.iter().cloned());
            q.wake.notify_one();
        }
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        for q in &self.queues {
            lock(&q.pending).closed = true;
            q.wake.notify_one();
        }
    }
}

/// A hub's thread: takes everything pending, pings, retries with backoff.
fn run(q: &Queue, retry: Retry) {
    let mut failures = 0u32;
    loop {
        let batch: Vec<String> = {
            let mut p = lock(&q.pending);
            while p.topics.is_empty() && !p.closed {
                p = q
                    .wake
                    .wait(p)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if p.closed {
                return;
            }
            std::mem::take(&mut p.topics).into_iter().collect()
        };
        let url = &q.hub.url;
        match q.hub.ping(&batch, None) {
            Ok(()) => {
                failures = 0;
                tracing::debug!("hub.external {url}: pinged for {} topics", batch.len());
            }
            Err(why) => {
                failures += 1;
                if failures >= retry.attempts {
                    q.hub.counts.dropped.inc();
                    tracing::warn!(
                        "hub.external {url}: ping failed {failures} times ({why}); {} topics \
                         given up (the next change pings again)",
                        batch.len()
                    );
                    failures = 0;
                    continue;
                }
                let wait = retry.backoff(failures);
                tracing::warn!(
                    "hub.external {url}: ping of {} topics failed ({why}); attempt {} in {wait:?}",
                    batch.len(),
                    failures + 1
                );
                // The batch waits with whatever changes meanwhile: one ping for all of it.
                let mut p = lock(&q.pending);
                p.topics.extend(batch);
                let until = Instant::now() + wait;
                while !p.closed {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    p = q
                        .wake
                        .wait_timeout(p, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

/// What `build --ping` got from one hub.
pub struct Pinged {
    pub hub: String,
    pub outcome: Result<(), PingError>,
}

/// Pings every hub of `hub.external` for `topics` now, all hubs at once, retrying with
/// backoff until each accepts or `within` has passed.
pub fn ping_now(config: &Config, topics: &[String], within: Duration) -> Vec<Pinged> {
    let deadline = Instant::now() + within;
    let timeout = Duration::from_millis(config.hub.timeout_ms);
    let retry = Retry {
        attempts: config.hub.delivery_attempts.max(1),
        base: Duration::from_millis(config.hub.retry_base_ms),
    };
    let metrics = Metrics::new();
    std::thread::scope(|s| {
        let threads: Vec<_> = config
            .hub
            .external
            .iter()
            .map(|url| {
                let hub = ExternalHub::new(url, timeout, metrics.pings(url));
                s.spawn(move || {
                    let mut failures = 0;
                    loop {
                        let outcome = hub.ping(topics, Some(deadline));
                        failures += 1;
                        let wait = retry.backoff(failures);
                        let late = Instant::now() + wait >= deadline;
                        if outcome.is_ok() || failures >= retry.attempts || late {
                            return Pinged {
                                hub: hub.url.clone(),
                                outcome,
                            };
                        }
                        std::thread::sleep(wait);
                    }
                })
            })
            .collect();
        threads
            .into_iter()
            .zip(&config.hub.external)
            .map(|(t, url)| {
                t.join().unwrap_or_else(|_| Pinged {
                    hub: url.clone(),
                    outcome: Err(PingError::Status(0)),
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let r = Retry {
            attempts: 5,
            base: Duration::from_millis(100),
        };
        assert_eq!(r.backoff(1), Duration::from_millis(100));
        assert_eq!(r.backoff(3), Duration::from_millis(400));
        assert_eq!(r.backoff(40), RETRY_CAP);
    }

    #[test]
    fn topics_are_absolute_and_encoded() {
        assert_eq!(
            topic_url("https://example.com/blog", "/tags/厦门/rss.xml"),
            "https://example.com/blog/tags/%E5%8E%A6%E9%97%A8/rss.xml"
        );
    }
}
