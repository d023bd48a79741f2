//! Telling shared caches what changed: one `BAN` request per cache and republish, naming the
//! surrogate keys whose documents changed (`BAN /` with `Surrogate-Key: site tag:rust`), which
//! `deploy/varnish.vcl` turns into `ban("obj.http.Surrogate-Key ~ …")`.
//!
//! Why bans of keys rather than a `PURGE` of each changed URL: a feed's URL has several cached
//! variants (codings, the browser view), and its archive pages and views are made on request,
//! so no list of URLs names them all; a key does. And one small request per republish costs
//! the same whatever changed.
//!
//! Each cache has a thread of its own and a set of keys waiting for it ([`Purger::purge`] only
//! adds to the set, so the publisher never waits): the thread sends the whole set at once
//! (a key asked for again while it waits is sent once), each request bounded in time
//! (`cache.purge_timeout_ms`), retried with backoff (`cache.purge_attempts`), and a cache that
//! does not answer is logged once per outage, never an error of the publish. A key sent to a
//! cache is sent again [`CONFIRM_AFTER`] later: a fetch the cache started before the
//! publish may have stored the old bytes after the first ban.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use url::Url;

use super::keys::SURROGATE_KEY;
use crate::metrics::Outcomes;

/// How long after a ban it is sent again (see the module's notes).
pub const CONFIRM_AFTER: Duration = Duration::from_secs(1);
/// Wait before the first retry of a failed request, doubled after each failure.
const RETRY_BASE: Duration = Duration::from_millis(200);
/// Longest wait between retries.
const RETRY_CAP: Duration = Duration::from_secs(5);
/// Longest `Surrogate-Key` value of one request (Varnish reads request headers up to 8 KiB):
/// a larger set of keys is sent in several requests.
const MAX_KEYS_BYTES: usize = 4000;

/// Why one purge request failed.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("{0}")]
    Request(#[from] ureq::Error),
    #[error("answered {0}")]
    Status(u16),
    #[error("cannot build the request: {0}")]
    Build(#[from] ureq::http::Error),
}

/// The caches to tell, each with its keys waiting and its own thread.
pub struct Purger {
    targets: Vec<Arc<Target>>,
}

/// One cache: its address and the keys waiting for it.
struct Target {
    url: Url,
    waiting: Mutex<BTreeSet<String>>,
    wake: Condvar,
}

/// What a cache's thread sends next.
enum Batch {
    /// Keys of a publish, sent for the first time.
    New(BTreeSet<String>),
    /// Keys sent [`CONFIRM_AFTER`] ago, sent again.
    Confirm(BTreeSet<String>),
}

impl Purger {
    /// Starts one thread per cache in `urls`. Each request ends within `timeout`; a failed
    /// one is tried `attempts` times in all. Each attempt is counted in `counters`
    /// (`feedsmith_cache_purges_total`): `ok`, `failed`, and `dropped` when given up.
    pub fn start(
        urls: Vec<Url>,
        timeout: Duration,
        attempts: u32,
        counters: Outcomes,
    ) -> std::io::Result<Purger> {
        let agent = agent(timeout);
        let mut targets = Vec::with_capacity(urls.len());
        for url in urls {
            let target = Arc::new(Target {
                url,
                waiting: Mutex::new(BTreeSet::new()),
                wake: Condvar::new(),
            });
            let worker = Worker {
                target: Arc::clone(&target),
                agent: agent.clone(),
                counters: counters.clone(),
                attempts: attempts.max(1),
                confirm: VecDeque::new(),
                down: false,
            };
            std::thread::Builder::new()
                .name("purge".into())
                .spawn(move || worker.run())?;
            targets.push(target);
        }
        Ok(Purger { targets })
    }

    /// Queues `keys` for every cache; returns at once.
    pub fn purge<'k>(&self, keys: impl IntoIterator<Item = &'k str> + Clone) {
        for target in &self.targets {
            let mut waiting = target
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let before = waiting.len();
            waiting.extend(keys.clone().into_iter().map(str::to_owned));
            if waiting.len() != before {
                target.wake.notify_one();
            }
        }
    }
}

/// The HTTP client of the purges: no redirects, no proxy, every request within `timeout`,
/// `BAN` allowed. Any address is allowed: the operator named the caches.
fn agent(timeout: Duration) -> ureq::Agent {
    crate::hub::deliver::outgoing(timeout, "cache purge")
        .allow_non_standard_methods(true)
        .build()
        .new_agent()
}

/// A cache's thread.
struct Worker {
    target: Arc<Target>,
    agent: ureq::Agent,
    counters: Outcomes,
    attempts: u32,
    /// Batches sent, to send again when due (in the order they are due).
    confirm: VecDeque<(Instant, BTreeSet<String>)>,
    /// The cache failed its last request (an outage is logged once, at its start).
    down: bool,
}

impl Worker {
    fn run(mut self) {
        loop {
            match self.next() {
                Batch::New(keys) => {
                    if self.send(&keys) {
                        self.confirm
                            .push_back((Instant::now() + CONFIRM_AFTER, keys));
                    }
                }
                Batch::Confirm(keys) => {
                    self.send(&keys);
                }
            }
        }
    }

    /// Waits for keys to send: those waiting, else a confirmation when it is due.
    fn next(&mut self) -> Batch {
        let target = Arc::clone(&self.target);
        let mut waiting = target
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if !waiting.is_empty() {
                return Batch::New(std::mem::take(&mut *waiting));
            }
            let now = Instant::now();
            waiting = match self.confirm.front() {
                Some((due, _)) if *due <= now => {
                    if let Some((_, keys)) = self.confirm.pop_front() {
                        return Batch::Confirm(keys);
                    }
                    waiting
                }
                Some((due, _)) => {
                    target
                        .wake
                        .wait_timeout(waiting, *due - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => target
                    .wake
                    .wait(waiting)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    /// Sends `keys` in as few requests as fit, each retried; true when every one was answered.
    fn send(&mut self, keys: &BTreeSet<String>) -> bool {
        let mut all = true;
        for value in chunks(keys) {
            all &= self.send_one(&value);
        }
        all
    }

    /// One request, tried up to `attempts` times with backoff.
    fn send_one(&mut self, value: &str) -> bool {
        let mut wait = RETRY_BASE;
        for attempt in 1..=self.attempts {
            match ban(&self.agent, &self.target.url, value) {
                Ok(()) => {
                    self.counters.ok.inc();
                    if self.down {
                        self.down = false;
                        tracing::info!("cache {} answers purges again", self.target.url);
                    }
                    return true;
                }
                Err(e) => {
                    self.counters.failed.inc();
                    if !self.down {
                        self.down = true;
                        tracing::warn!(
                            "cache {}: purge failed ({e}); retrying, and it may serve old \
                             copies until it answers (logged once until it does)",
                            self.target.url
                        );
                    } else {
                        tracing::debug!(
                            "cache {}: purge attempt {attempt} failed: {e}",
                            self.target.url
                        );
                    }
                }
            }
            if attempt < self.attempts {
                std::thread::sleep(wait);
                wait = (wait * 2).min(RETRY_CAP);
                // A key published again meanwhile is covered by the retry, sent after it.
                self.covered(value);
            }
        }
        self.counters.dropped.inc();
        false
    }

    /// Drops from the waiting keys those in `value`, which is about to be sent again.
    fn covered(&self, value: &str) {
        let mut waiting = self
            .target
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in value.split(' ') {
            waiting.remove(key);
        }
    }
}

/// `keys` as `Surrogate-Key` values of at most [`MAX_KEYS_BYTES`] each (one key alone may be
/// longer: it goes alone).
fn chunks(keys: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for key in keys {
        if !current.is_empty() && current.len() + 1 + key.len() > MAX_KEYS_BYTES {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(key);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `BAN /` to the cache at `url`, naming `keys`; Ok on a 2xx answer.
fn ban(agent: &ureq::Agent, url: &Url, keys: &str) -> Result<(), PurgeError> {
    let request = ureq::http::Request::builder()
        .method(ureq::http::Method::from_bytes(b"BAN").map_err(ureq::http::Error::from)?)
        .uri(url.as_str())
        .header(SURROGATE_KEY, keys)
        .body(())?;
    let response = agent.run(request)?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(PurgeError::Status(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    #[test]
    fn keys_are_split_into_bounded_values() {
        let keys: BTreeSet<String> = (0..2000).map(|i| format!("post:/p/{i:05}/")).collect();
        let values = chunks(&keys);
        assert!(values.len() > 1);
        assert!(values.iter().all(|v| v.len() <= MAX_KEYS_BYTES));
        let back: BTreeSet<String> = values
            .iter()
            .flat_map(|v| v.split(' ').map(str::to_owned))
            .collect();
        assert_eq!(back, keys);
        assert!(chunks(&BTreeSet::new()).is_empty());
    }

    /// A cache on loopback that answers each request with `status` and reports its request
    /// line and `Surrogate-Key`.
    fn fake_cache(status: u16) -> (Url, std::sync::mpsc::Receiver<(String, String)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut keys = String::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("surrogate-key") {
                            keys = v.trim().to_owned();
                        }
                    }
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = tx.send((line.trim().to_owned(), keys));
            }
        });
        (url, rx)
    }

    #[test]
    fn bans_reach_the_cache_and_are_confirmed() {
        let (url, rx) = fake_cache(200);
        let counters = crate::metrics::Metrics::new().purges;
        let purger = Purger::start(vec![url], Duration::from_secs(2), 3, counters.clone()).unwrap();
        purger.purge(["site", "tag:rust"]);
        let (line, keys) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(line, "BAN / HTTP/1.1");
        assert_eq!(keys, "site tag:rust");
        // Sent again once, a second later.
        let (_, again) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(again, "site tag:rust");
        assert!(rx.recv_timeout(CONFIRM_AFTER * 2).is_err());
        let counts = (
            counters.ok.get(),
            counters.failed.get(),
            counters.dropped.get(),
        );
        assert_eq!(counts, (2, 0, 0));
    }

    #[test]
    fn a_failing_cache_is_retried_then_given_up() {
        let (url, rx) = fake_cache(503);
        let counters = crate::metrics::Metrics::new().purges;
        let purger = Purger::start(vec![url], Duration::from_secs(2), 2, counters.clone()).unwrap();
        purger.purge(["site"]);
        for _ in 0..2 {
            rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        // Given up after two attempts: no confirmation of a ban that never landed.
        assert!(rx.recv_timeout(CONFIRM_AFTER * 2).is_err());
        let counts = (
            counters.ok.get(),
            counters.failed.get(),
            counters.dropped.get(),
        );
        assert_eq!(counts, (0, 2, 1));
    }

    #[test]
    fn a_dead_cache_never_holds_up_the_caller() {
        // A port nothing listens on: connection refused, retried on the purge thread.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let counters = crate::metrics::Metrics::new().purges;
        let purger = Purger::start(vec![url], Duration::from_millis(500), 5, counters).unwrap();
        let started = Instant::now();
        for _ in 0..1000 {
            purger.purge(["site"]);
        }
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
