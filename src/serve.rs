//! `feedsmith serve`: the wiring. Bind, start the hub, build and publish, start the
//! publisher's thread (watch → publish), and serve the store over HTTP until SIGINT/SIGTERM.
//!
//! ```text
//! posts/ ─► watch ─► publish::follow (thread) ─► Publisher ─► Outlet ─┬─► server State (swap)
//!                                                                      ├─► hub (push)
//!                                                                      └─► external hubs (ping)
//! ```
//!
//! One [`Metrics`] is shared by all of them and served at `server.metrics_path`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::cache::{Policy, Purger};
use crate::config::{own_address_url, Config};
use crate::hub::ping::{topic_url, Pinger};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::publish::follow;
use crate::publish::{Outlet, Published, Publisher};
use crate::server::State;
use crate::site::ListOptions;
use crate::store::Store;

/// Where each publish goes while serving: the server's state, the hub, the external hubs,
/// and the shared caches to tell.
struct Serving {
    state: Arc<State>,
    hub: Option<Arc<Hub>>,
    /// Set once the initial build is published: that one pings only for the feeds whose files
    /// it changed (`run`), not for every feed of the site.
    pinger: std::sync::OnceLock<Pinger>,
    /// The site's base URL, without its trailing `/`: topics are under it.
    base: String,
    purger: Option<Arc<Purger>>,
    /// No publish has gone out yet.
    first: AtomicBool,
}

impl Outlet for Serving {
    fn publish(&self, published: Published) {
        let store = published.store;
        self.state.swap(Arc::clone(&store));
        if let Some(federation) = self.state.federation.get() {
            // Only enqueues: the activities are made and delivered on its own threads.
            federation.published(published.posts);
        }
        if let Some(pinger) = self.pinger.get() {
            let topics: Vec<String> = published
                .feeds_changed
                .iter()
                .map(|(route, _)| topic_url(&self.base, route))
                .collect();
            // Only merged into each hub's pending set: the pings go from their own threads.
            pinger.publish(&topics);
        }
        if let Some(hub) = &self.hub {
            // Only bookkeeping and enqueueing: never waits for a subscriber.
            hub.published(published.feeds_changed, &published.feeds_removed);
        }
        if let Some(purger) = &self.purger {
            // Only enqueueing: the purges go out from their own threads, after the swap.
            if self.first.swap(false, Ordering::Relaxed) {
                // Anything may have changed while no server was running: drop it all.
                purger.purge([crate::cache::keys::ALL]);
            } else if !published.changed.is_empty() {
                let keys = published.changed.surrogate_keys();
                purger.purge(keys.iter().map(String::as_str));
            }
        }
        // Last: the readers and the hubs have the news by now.
        let m = &self.state.metrics;
        m.store_documents.set(gauge(store.len()));
        m.store_assets.set(gauge(store.assets_len()));
        m.store_bytes.set(gauge(store.bytes()));
    }
}

/// What the main thread needs of the publisher once it has started: to wait for a publish
/// under way at shutdown.
struct Started {
    busy: Arc<std::sync::Mutex<()>>,
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs the server; returns when it has shut down.
pub fn run(mut config: Config, opts: ListOptions) -> Result<()> {
    let listen = config.server.listen;
    let server = crate::server::bind(listen, config.server.steering)
        .with_context(|| format!("cannot listen on {listen}"))?;
    let own = own_address_url(server.local_addr()?);
    if config.site.url.is_none() {
        config.site.url = Some(own.to_string());
    }
    if !config.paths.posts.is_dir() {
        anyhow::bail!(
            "posts directory {} does not exist",
            config.paths.posts.display()
        );
    }
    // Watch first, so nothing written during the initial build is missed.
    let (tx, rx) = std::sync::mpsc::channel();
    let window = Duration::from_millis(config.server.debounce_ms);
    let metrics = Arc::new(Metrics::new());
    let watcher = follow::rewatch(
        &config.paths.posts,
        window,
        opts.drafts,
        config.server.watch,
        &tx,
        &metrics,
    )
    .with_context(|| format!("cannot watch {}", config.paths.posts.display()))?;
    if config.hub.enabled || config.activitypub.enabled {
        check_state_dir(&config)?;
    }
    // Made on the first start, then loaded: remote servers keep the copy they fetched.
    let actor_key = match config.activitypub.enabled {
        true => Some(Arc::new(
            crate::activitypub::ActorKey::load_or_create(&config.hub.state_dir)
                .context("activitypub")?,
        )),
        false => None,
    };
    let hub = if config.hub.enabled {
        let hub = Hub::start(&config, Arc::clone(&metrics));
        Some(hub.context("cannot start the WebSub hub")?)
    } else {
        None
    };
    let pinger = Pinger::start(&config, &metrics).context("cannot start the hub.external pings")?;
    let mut state = State::new(
        Store::default(),
        config.server.max_age,
        config.server.access_log,
    );
    state.browser_view = config.server.browser_view;
    state.ready = std::sync::atomic::AtomicBool::new(false);
    state.metrics = Arc::clone(&metrics);
    state.ops =
        crate::server::ops::Paths::new(&config.server.metrics_path, &config.server.health_path);
    let state = Arc::new(
        state
            .with_hub(hub.clone())
            .with_cache_policy(Policy::from_config(&config.cache), config.server.max_age)
            .with_compressed_budget(
                usize::try_from(config.server.compressed_cache_mb.saturating_mul(1 << 20))
                    .unwrap_or(usize::MAX),
            ),
    );
    let purger = match config.cache.purge_urls() {
        urls if urls.is_empty() => None,
        urls => Some(Arc::new(
            Purger::start(
                urls,
                Duration::from_millis(config.cache.purge_timeout_ms),
                config.cache.purge_attempts,
                metrics.purges.clone(),
            )
            .context("cannot start the cache purge threads")?,
        )),
    };
    let base = config.site_url().as_str().trim_end_matches('/').to_owned();
    let outlet = Arc::new(Serving {
        state: Arc::clone(&state),
        hub: hub.clone(),
        pinger: std::sync::OnceLock::new(),
        base,
        purger,
        first: AtomicBool::new(true),
    });
    let hub_url = hub.as_ref().map(|h| h.url().to_owned());
    // The server answers from now on, the first build runs on the publisher's thread: until
    // it is published, every request but the operator's endpoints gets a 503 (`state.ready`).
    let started: Arc<std::sync::OnceLock<Started>> = Arc::default();
    let handoff = Arc::clone(&started);
    let serving = Arc::clone(&state);
    std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || {
            let publishing = Arc::clone(&outlet) as Arc<dyn Outlet>;
            let (publisher, report) =
                Publisher::start(config, opts, Utc::now(), hub_url, publishing);
            follow::log_report("initial build", &report);
            if let Some(pinger) = pinger {
                // The feeds changed since the last run (their files were rewritten) are news
                // to the external hubs; the rest they have.
                let topics: Vec<String> = report
                    .sync
                    .feeds_written
                    .iter()
                    .map(|route| topic_url(&outlet.base, route))
                    .collect();
                pinger.publish(&topics);
                let _ = outlet.pinger.set(pinger);
            }
            let archives = publisher.archive_pages();
            // The posts of the outboxes come from the archive pages' snapshot, which the
            // publisher takes whenever ActivityPub is on.
            if let (Some(key), Some(posts)) = (actor_key, &archives) {
                if let Err(e) = start_activitypub(&serving, &publisher, key, posts) {
                    // As if `run` had failed: nothing has been answered but 503s yet.
                    eprintln!("error: {e:#}");
                    std::process::exit(1);
                }
            }
            if let Some(archives) = archives {
                let _ = serving
                    .archives
                    .set(archives as Arc<dyn crate::server::Archives>);
            }
            let _ = handoff.set(Started {
                busy: publisher.busy(),
            });
            serving
                .ready
                .store(true, std::sync::atomic::Ordering::Release);
            {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on {own}");
                let _ = writeln!(
                    out,
                    "serving {} documents; subscribe to {own}rss.xml",
                    report.documents
                );
                let _ = out.flush();
            }
            follow::follow(publisher, rx, tx, watcher, &metrics);
        })
        .context("cannot start the publisher thread")?;
    let kept = Arc::clone(&state);
    server.run(state)?;
    // A publish under way finishes (its files and state written) before the process ends, and
    // none starts after: a post deleted just now is on record, its tombstone kept as announced.
    // (Stopped during the first build, the process ends with it, as it would have before the
    // server began to answer.)
    let Some(started) = started.get() else {
        tracing::info!("shut down during the first build");
        return Ok(());
    };
    let _quiet = started
        .busy
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(federation) = kept.federation.get() {
        // Pending deliveries are sent after the next start.
        federation.flush();
    }
    if let Some(hub) = &hub {
        // Deliveries still in flight end with the process; the file records which version
        // each subscriber has, so the next start sends them again.
        hub.flush();
    }
    // The publisher thread, waiting now, ends with the process.
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Makes the ActivityPub actors and starts their delivery, from the first publish.
fn start_activitypub(
    state: &State,
    publisher: &Publisher,
    key: Arc<crate::activitypub::ActorKey>,
    posts: &Arc<crate::publish::ArchivePages>,
) -> Result<()> {
    let ap = Arc::new(crate::activitypub::ActivityPub::new(
        &publisher.config,
        Arc::clone(&publisher.meta),
        key,
        Arc::clone(posts),
    ));
    let federation = crate::activitypub::Federation::start(&publisher.config, Arc::clone(&ap))
        .context("cannot start ActivityPub delivery")?;
    let _ = state.activitypub.set(ap);
    let _ = state.federation.set(federation);
    Ok(())
}

/// The state directory must not be inside the output directory, which is published as it is
/// (and holds only documents): the subscriptions file holds the subscribers' secrets, and the
/// ActivityPub key is private.
fn check_state_dir(config: &Config) -> Result<()> {
    let state = std::path::absolute(&config.hub.state_dir)
        .with_context(|| format!("hub.state_dir {}", config.hub.state_dir.display()))?;
    let output = std::path::absolute(&config.paths.output)
        .with_context(|| format!("paths.output {}", config.paths.output.display()))?;
    if state.starts_with(&output) {
        anyhow::bail!(
            "hub.state_dir: {} is inside the output directory {}; keep the subscriptions (and their secrets) and the ActivityPub key out of what is published",
            config.hub.state_dir.display(),
            config.paths.output.display()
        );
    }
    Ok(())
}
