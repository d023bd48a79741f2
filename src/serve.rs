//! `feedsmith serve`: the wiring. Bind, start the hub, build and publish, start the
//! publisher's thread (watch → publish), and serve the store over HTTP until SIGINT/SIGTERM.
//!
//! ```text
//! posts/ ─► watch ─► publish::follow (thread) ─► Publisher ─► Outlet ─┬─► server State (swap)
//!                                                                      └─► hub (push)
//! ```

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::config::{own_address_url, Config};
use crate::hub::Hub;
use crate::publish::follow;
use crate::publish::{Outlet, Published, Publisher};
use crate::server::State;
use crate::site::ListOptions;
use crate::store::Store;

/// Where each publish goes while serving: the server's state, and the hub.
struct Serving {
    state: Arc<State>,
    hub: Option<Arc<Hub>>,
}

impl Outlet for Serving {
    fn publish(&self, published: Published) {
        self.state.swap(published.store);
        if let Some(ap) = self.state.activitypub.get() {
            ap.published();
        }
        if let Some(federation) = self.state.federation.get() {
            // Only enqueues: the activities are made and delivered on its own threads.
            federation.published(published.posts);
        }
        if let Some(hub) = &self.hub {
            // Only bookkeeping and enqueueing: never waits for a subscriber.
            hub.published(published.feeds_changed, &published.feeds_removed);
        }
    }
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
    let watcher = follow::rewatch(
        &config.paths.posts,
        window,
        opts.drafts,
        config.server.watch,
        &tx,
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
        Some(Hub::start(&config).context("cannot start the WebSub hub")?)
    } else {
        None
    };
    let mut state = State::new(
        Store::default(),
        config.server.max_age,
        config.server.access_log,
    );
    state.browser_view = config.server.browser_view;
    let state = Arc::new(
        state.with_hub(hub.clone()).with_compressed_budget(
            usize::try_from(config.server.compressed_cache_mb.saturating_mul(1 << 20))
                .unwrap_or(usize::MAX),
        ),
    );
    let outlet = Arc::new(Serving {
        state: Arc::clone(&state),
        hub: hub.clone(),
    });
    let hub_url = hub.as_ref().map(|h| h.url().to_owned());
    let (publisher, report) = Publisher::start(config, opts, Utc::now(), hub_url, outlet);
    follow::log_report("initial build", &report);
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
    let archives = publisher.archive_pages();
    let busy = publisher.busy();
    // The posts of the outboxes come from the archive pages' snapshot, which the publisher
    // takes whenever ActivityPub is on.
    if let (Some(key), Some(posts)) = (actor_key, &archives) {
        let ap = crate::activitypub::ActivityPub::new(
            &publisher.config,
            Arc::clone(&publisher.meta),
            key,
            Arc::clone(posts),
        );
        let ap = Arc::new(ap);
        let federation = crate::activitypub::Federation::start(&publisher.config, Arc::clone(&ap))
            .context("cannot start ActivityPub delivery")?;
        let _ = state.activitypub.set(ap);
        let _ = state.federation.set(federation);
    }
    if let Some(archives) = &archives {
        let _ = state
            .archives
            .set(Arc::clone(archives) as Arc<dyn crate::server::Archives>);
    }
    std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || follow::follow(publisher, rx, tx, watcher))
        .context("cannot start the publisher thread")?;
    let federation = state.federation.get().cloned();
    server.run(state)?;
    // A publish under way finishes (its files and state written) before the process ends, and
    // none starts after: a post deleted just now is on record, its tombstone kept as announced.
    let _quiet = busy
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(archives) = &archives {
        archives.save_validators();
    }
    if let Some(federation) = &federation {
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
