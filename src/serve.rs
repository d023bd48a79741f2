//! `feedsmith serve`: bind, watch, build, write, then serve the store over HTTP until
//! SIGINT/SIGTERM, republishing on every change.
//!
//! The publisher runs on its own thread and owns the site: it takes debounced batches from the
//! watcher, wakes by itself when a scheduled post falls due, and swaps each new store into the
//! server's state. Requests never wait for it.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;

use crate::config::{own_address_url, Config, WatchMode};
use crate::hub::Hub;
use crate::publish::{Publisher, Report};
use crate::site::{Change, ListOptions, Site};
use crate::watch::{self, Batch, Watcher};

/// The longest the publisher sleeps without looking at the clock and the posts directory
/// (which can be replaced with no event reaching the watch: a re-pointed symbolic link).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// A batch removing at least this many posts may be a whole tree going away (`rm -rf posts`,
/// an unmount): wait for the removals to settle before publishing any of them.
const MASS_REMOVAL: usize = 10;
/// How long removals must pause to count as settled, and the longest wait for that.
const SETTLE_QUIET: Duration = Duration::from_millis(150);
const SETTLE_MAX: Duration = Duration::from_secs(5);
/// How often documents that could not be written to `feeds/` are tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How often the tree is walked for changes when kernel watches are missing or incomplete.
const POLL_EVERY: Duration = Duration::from_secs(2);
/// The longest one burst of file events is gathered before it is published anyway.
const BURST_MAX: Duration = Duration::from_secs(2);
/// How often to look for a posts directory that has vanished.
const MISSING_ROOT_POLL: Duration = Duration::from_secs(1);

/// Logs a publish: what changed, what was rendered, what failed, how long it took.
pub fn log_report(what: &str, r: &Report) {
    for e in &r.errors {
        tracing::warn!("{e} (last good version kept, if any)");
    }
    for (route, why) in &r.failures {
        tracing::error!("not published {route}: {why} (previous version kept)");
    }
    for e in &r.sync.errors {
        tracing::error!("{e}");
    }
    // What changed: the first few posts by name.
    let names = if r.changed.is_empty() {
        String::new()
    } else {
        let mut shown: Vec<String> = r.changed.iter().map(|p| p.display().to_string()).collect();
        if r.files_changed > shown.len() {
            shown.push(format!("{} more", r.files_changed - shown.len()));
        }
        format!(" ({})", shown.join(", "))
    };
    tracing::info!(
        "{what}: {} files changed{names}, {} documents rendered ({} written, {} removed), {} posts, {} documents served, {:.1} ms",
        r.files_changed,
        r.rendered,
        r.sync.written,
        r.sync.removed,
        r.posts,
        r.documents,
        r.elapsed.as_secs_f64() * 1000.0
    );
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
    crate::store::CompressedBudget::set_global(
        usize::try_from(config.server.compressed_cache_mb.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
    );
    // Watch first, so nothing written during the initial build is missed.
    let (tx, rx) = mpsc::channel();
    let window = Duration::from_millis(config.server.debounce_ms);
    let watcher = rewatch(
        &config.paths.posts,
        window,
        opts.drafts,
        config.server.watch,
        &tx,
    )
    .with_context(|| format!("cannot watch {}", config.paths.posts.display()))?;
    let hub = if config.hub.enabled {
        check_state_dir(&config)?;
        Some(Hub::start(&config).context("cannot start the WebSub hub")?)
    } else {
        None
    };
    let access_log = config.server.access_log;
    let (publisher, report) =
        Publisher::start_with_hub(config, opts, Utc::now(), access_log, hub.clone());
    log_report("initial build", &report);
    let state = Arc::clone(&publisher.state);
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
    let publisher = Arc::new(Mutex::new(publisher));
    if publisher_lock(&publisher).meta.archive_page.is_some() {
        let _ = state
            .archives
            .set(Arc::new(ArchivePages(Arc::clone(&publisher))));
    }
    let at_exit = Arc::clone(&publisher);
    std::thread::Builder::new()
        .name("publisher".into())
        .spawn(move || publisher_loop(&publisher, rx, tx, watcher))
        .context("cannot start the publisher thread")?;
    server.run(state)?;
    publisher_lock(&at_exit).save_archive_state();
    if let Some(hub) = &hub {
        // Deliveries still in flight end with the process; the file records which version
        // each subscriber has, so the next start sends them again.
        hub.flush();
    }
    // The publisher thread holds no request state; it ends with the process.
    tracing::info!("shut down cleanly");
    Ok(())
}

/// The hub's state directory must not be inside the output directory, which is published as
/// it is (and holds only documents): the subscriptions file holds the subscribers' secrets.
fn check_state_dir(config: &Config) -> Result<()> {
    let state = std::path::absolute(&config.hub.state_dir)
        .with_context(|| format!("hub.state_dir {}", config.hub.state_dir.display()))?;
    let output = std::path::absolute(&config.paths.output)
        .with_context(|| format!("paths.output {}", config.paths.output.display()))?;
    if state.starts_with(&output) {
        anyhow::bail!(
            "hub.state_dir: {} is inside the output directory {}; keep the subscriptions (and their secrets) out of what is published",
            config.hub.state_dir.display(),
            config.paths.output.display()
        );
    }
    Ok(())
}

/// Archive pages come from the publisher, which holds the listing they are cut from: a
/// request waits at most for the republish in progress.
struct ArchivePages(Arc<Mutex<Publisher>>);

impl crate::server::Archives for ArchivePages {
    fn get(&self, route: &str) -> Option<Arc<crate::store::Document>> {
        publisher_lock(&self.0).archive(route)
    }
}

/// The publisher, even if a thread panicked while holding it (its state is replaced whole
/// by each publish, so it is never left half-updated for readers).
fn publisher_lock(p: &Mutex<Publisher>) -> std::sync::MutexGuard<'_, Publisher> {
    p.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Applies watcher batches and the schedule of future posts until the channel closes.
fn publisher_loop(
    shared: &Mutex<Publisher>,
    rx: Receiver<Batch>,
    tx: Sender<Batch>,
    watcher: Watcher,
) {
    let mut watcher = Some(watcher);
    let (root, window, drafts, mode) = {
        let p = publisher_lock(shared);
        (
            p.config.paths.posts.clone(),
            Duration::from_millis(p.config.server.debounce_ms),
            p.opts.drafts,
            p.config.server.watch,
        )
    };
    // Polling, when the kernel watch is missing (`poll` mode, no watch possible) or failed.
    let mut poller: Option<watch::Poller> = None;
    let mut degraded = false;
    let mut last_poll = std::time::Instant::now();
    let mut last_retry = std::time::Instant::now();
    let mut watched_id = dir_identity(&root);
    // A directory that took the posts directory's place but holds no post: the last good
    // set stays published until posts appear in it (see `may_replace`).
    let mut held = false;
    loop {
        let wants_poll = watcher.as_ref().is_some_and(|w| w.is_polling() || degraded) && !held;
        if !wants_poll {
            poller = None;
        }
        // The walk of a poll runs before the lock is taken: archive requests need it.
        let polled = poller
            .as_mut()
            .filter(|_| last_poll.elapsed() >= POLL_EVERY)
            .map(watch::Poller::poll);
        // Housekeeping under one lock: the poller's first snapshot (against the site as read)
        // or its changes, documents to write again, the next scheduled post.
        let next_due = {
            let mut publisher = publisher_lock(shared);
            let changes = match (wants_poll, poller.is_some()) {
                (true, false) => {
                    let (p, changes) = watch::Poller::new(&root, drafts, &publisher.site);
                    poller = Some(p);
                    Some(changes)
                }
                _ => polled,
            };
            if let Some(changes) = changes {
                last_poll = std::time::Instant::now();
                if !changes.is_empty() && root.is_dir() {
                    let report = publisher.apply(&changes, Utc::now());
                    log_report("republished (polled)", &report);
                }
            }
            // Documents that could not be written (disk full, `feeds/` read-only) are tried
            // again every second, even while edits keep coming.
            if last_retry.elapsed() >= RETRY_EVERY {
                if publisher.has_unwritten() {
                    let report = publisher.retry_writes();
                    if report.sync.written > 0 {
                        tracing::info!(
                            "{} documents written to disk on retry",
                            report.sync.written
                        );
                    }
                }
                last_retry = std::time::Instant::now();
            }
            publisher.next_due()
        };
        let wait = if watcher.is_none() {
            MISSING_ROOT_POLL
        } else {
            next_due.map_or(MAX_SLEEP, |due| {
                (due - Utc::now())
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .saturating_add(Duration::from_millis(1))
                    .min(MAX_SLEEP)
            })
        };
        let wait = if poller.is_some() {
            wait.min(POLL_EVERY.saturating_sub(last_poll.elapsed()))
                .max(Duration::from_millis(1))
        } else {
            wait
        };
        // The whole burst is gathered before the publisher is locked: archive requests
        // need the lock meanwhile.
        let received = rx.recv_timeout(wait).map(|first| burst(first, &rx, window));
        // Only the end of a burst already published (it ran past BURST_MAX): nothing to do.
        if received.as_ref().is_ok_and(Gathered::is_empty) {
            continue;
        }
        let mut publisher = publisher_lock(shared);
        publisher.save_archive_state();
        match received {
            Ok(mut gathered) => {
                // Many removals at once: let them settle, so a tree that is being deleted or
                // unmounted is seen gone as a whole (and its last good feeds kept) rather than
                // published shrinking batch by batch. A directory moved away is one event but
                // counts for every post under it.
                if removed_posts(&publisher.site, &gathered.changes) >= MASS_REMOVAL {
                    // Archive requests need not wait for the removals to settle.
                    drop(publisher);
                    let started = std::time::Instant::now();
                    while started.elapsed() < SETTLE_MAX {
                        match rx.recv_timeout(SETTLE_QUIET) {
                            Ok(b) => gathered.take(b),
                            Err(_) => break,
                        }
                    }
                    publisher = publisher_lock(shared);
                }
                let Gathered {
                    changes,
                    mut rescan,
                    failed,
                } = gathered;
                if let Some(why) = failed {
                    if poller.is_none() {
                        tracing::warn!(
                            "the file watcher failed ({why}); polling {} every {} s from now on \
                             (on Linux, raise fs.inotify.max_user_watches)",
                            root.display(),
                            POLL_EVERY.as_secs()
                        );
                        degraded = true;
                    }
                }
                if !root.is_dir() {
                    tracing::error!(
                        "posts directory {} vanished; serving the last good feeds until it is back",
                        root.display()
                    );
                    watcher = None;
                    continue;
                }
                // The directory itself went away (removed, or renamed away) yet one is there
                // again, or another one took its name: the watch follows the old directory,
                // so watch the new one, then read it all.
                let root_gone = changes
                    .iter()
                    .any(|c| matches!(c, Change::Remove(p) if p.as_os_str().is_empty()));
                if root_gone || dir_identity(&root) != watched_id {
                    watcher = None;
                    poller = None;
                    match rewatch(&root, window, drafts, mode, &tx) {
                        Some(w) => {
                            tracing::info!(
                                "posts directory {} was replaced; watching the new one",
                                root.display()
                            );
                            watcher = Some(w);
                            watched_id = dir_identity(&root);
                            held = true;
                        }
                        // Retried by the missing-directory poll.
                        None => continue,
                    }
                }
                if held {
                    if !may_replace(&publisher, &root, drafts) {
                        continue;
                    }
                    held = false;
                    rescan = Some("the posts directory was replaced".into());
                }
                if let Some(w) = watcher.as_mut() {
                    if rescan.is_some() {
                        w.follow(&[Change::Upsert(std::path::PathBuf::new())], drafts);
                    } else {
                        w.follow(&changes, drafts);
                    }
                }
                let report = if let Some(why) = rescan {
                    tracing::warn!("full rescan: {why}");
                    publisher.rescan(Utc::now())
                } else {
                    publisher.apply(&changes, Utc::now())
                };
                if report.files_changed > 0 || report.rendered > 0 || !report.errors.is_empty() {
                    log_report("republished", &report);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if watcher.is_some() && dir_identity(&root) != watched_id {
                    // Another directory is at the path now: watch that one (below).
                    watcher = None;
                }
                if watcher.is_none() {
                    poller = None;
                    if let Some(w) = rewatch(&root, window, drafts, mode, &tx) {
                        tracing::info!("posts directory {} is back", root.display());
                        watcher = Some(w);
                        watched_id = dir_identity(&root);
                        held = !may_replace(&publisher, &root, drafts);
                        if !held {
                            let report = publisher.rescan(Utc::now());
                            log_report("rescanned", &report);
                        }
                    }
                    continue;
                }
                if publisher.next_due().is_some_and(|due| due <= Utc::now()) {
                    let report = publisher.tick(Utc::now());
                    log_report("scheduled posts published", &report);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

/// What the watcher said during one burst.
#[derive(Default)]
struct Gathered {
    changes: Vec<Change>,
    /// Why everything must be read again, if it must.
    rescan: Option<String>,
    /// The watcher failed: poll from now on.
    failed: Option<String>,
}

impl Gathered {
    fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.rescan.is_none() && self.failed.is_none()
    }

    fn take(&mut self, batch: Batch) {
        match batch {
            Batch::Changes(c) => self.changes.extend(c),
            Batch::Rescan(why) => self.rescan = Some(why),
            Batch::Failed(why) => {
                self.rescan = Some(format!("the watcher failed: {why}"));
                self.failed = Some(why);
            }
            Batch::Settled => {}
        }
    }
}

/// Everything the watcher sends for one burst of file events, as one batch.
///
/// The watcher hands a burst over in parts while it goes on (a `git checkout` writing thousands
/// of files) and says when it has settled (see `watch::debounce`); the parts are taken until
/// then: one burst is one republish, one store swap and one hub notification, never a run of
/// half-applied states. Bursts that queued up meanwhile (the publisher was busy) are taken
/// too, each to its end. An endless stream is still published every [`BURST_MAX`].
fn burst(first: Batch, rx: &Receiver<Batch>, window: Duration) -> Gathered {
    let mut g = Gathered::default();
    let started = std::time::Instant::now();
    // In a burst, the watcher sends at least every window + PART_EVERY: a longer silence
    // means it is gone (replaced, or failed).
    let patience = window + watch::PART_EVERY * 2;
    let mut next = Some(first);
    while let Some(batch) = next.take() {
        let open = batch != Batch::Settled;
        g.take(batch);
        if started.elapsed() >= BURST_MAX {
            break;
        }
        next = if open {
            rx.recv_timeout(patience).ok()
        } else {
            rx.try_recv().ok()
        };
    }
    g
}

/// Whether the directory now at `root` may replace the published site.
///
/// An unmounted volume leaves its empty mount point at the same path, and a restore may put an
/// empty directory there before filling it: publishing that would empty every feed and delete
/// every term feed on disk. So a replacement with no post files at all (good or bad) replaces
/// a site that has posts only once some post appears in it. The same directory being emptied
/// file by file is not a replacement and is published as it goes.
fn may_replace(publisher: &Publisher, root: &Path, drafts: bool) -> bool {
    if publisher.site.posts.is_empty() && publisher.site.errors.is_empty() {
        return true;
    }
    let (found, errors) = crate::site::discover(root, drafts);
    if found.is_empty() && errors.is_empty() {
        tracing::error!(
            "posts directory {} was replaced by one with no posts (an unmounted volume?); \
             serving the last good feeds until posts appear in it",
            root.display()
        );
        return false;
    }
    true
}

/// How many posts a batch's removals take away: each known post (or bad post) at or under a
/// removed path once, however many of the removals name it (`rm -rf dir` reports every file
/// and the directory), and a removed path that held none once.
fn removed_posts(site: &Site, changes: &[Change]) -> usize {
    let mut gone: std::collections::BTreeSet<&Path> = std::collections::BTreeSet::new();
    let mut others = 0;
    for change in changes {
        let Change::Remove(rel) = change else {
            continue;
        };
        let mut any = false;
        for p in crate::site::under(&site.posts, rel).chain(crate::site::under(&site.errors, rel)) {
            any = true;
            gone.insert(p.as_path());
        }
        if !any {
            others += 1;
        }
    }
    gone.len() + others
}

/// Which directory is at `root` (device and inode), to notice it being replaced by another
/// under the same name. `None` where the platform does not say.
fn dir_identity(root: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(root).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        None
    }
}

/// Watches the posts directory again once it exists.
fn rewatch(
    root: &Path,
    window: Duration,
    drafts: bool,
    mode: WatchMode,
    tx: &Sender<Batch>,
) -> Option<Watcher> {
    if !root.is_dir() {
        return None;
    }
    if mode == WatchMode::Poll {
        tracing::info!(
            "polling {} every {} s for changes (server.watch = \"poll\")",
            root.display(),
            POLL_EVERY.as_secs()
        );
        return Some(Watcher::polling(root));
    }
    match watch::watch(root, window, drafts, tx.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "cannot watch {} ({e}); polling it every {} s instead (on Linux, raise \
                 fs.inotify.max_user_watches / max_user_instances)",
                root.display(),
                POLL_EVERY.as_secs()
            );
            Some(Watcher::polling(root))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn removed_posts_counts_each_post_once() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::feed::parse_context(&crate::config::Config::default());
        for rel in ["d/a.md", "d/b.md", "c.md"] {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "---\ndate: 2021-01-01\n---\nx\n").unwrap();
        }
        let site = Site::load(dir.path(), &ctx, false);
        assert_eq!(site.posts.len(), 3);
        let remove = |p: &str| Change::Remove(PathBuf::from(p));
        // `rm -rf d` reports each file and the directory: two posts, not four.
        assert_eq!(
            removed_posts(&site, &[remove("d/a.md"), remove("d/b.md"), remove("d")]),
            2
        );
        // A path that held no post counts once; an upsert not at all.
        assert_eq!(
            removed_posts(
                &site,
                &[
                    remove("tmp.md"),
                    remove("c.md"),
                    Change::Upsert("d/a.md".into())
                ]
            ),
            2
        );
        // The root removed takes every post.
        assert_eq!(removed_posts(&site, &[remove("")]), 3);
    }

    fn up(p: &str) -> Change {
        Change::Upsert(PathBuf::from(p))
    }

    #[test]
    fn a_burst_is_taken_to_its_end_with_the_bursts_queued_behind_it() {
        let (tx, rx) = mpsc::channel();
        // A burst in two parts, and a whole second burst queued while the publisher was busy.
        for b in [
            Batch::Changes(vec![up("b.md")]),
            Batch::Settled,
            Batch::Rescan("lost".into()),
            Batch::Changes(vec![up("c.md")]),
            Batch::Settled,
        ] {
            tx.send(b).unwrap();
        }
        let started = std::time::Instant::now();
        // A long window: waiting for more would take it whole.
        let window = Duration::from_secs(2);
        let g = burst(Batch::Changes(vec![up("a.md")]), &rx, window);
        assert_eq!(g.changes, vec![up("a.md"), up("b.md"), up("c.md")]);
        assert_eq!(g.rescan.as_deref(), Some("lost"));
        assert!(g.failed.is_none());
        // Ended at the last queued `Settled`, without waiting for more.
        assert!(started.elapsed() < window / 2, "{:?}", started.elapsed());
        // What comes after is the next burst's.
        tx.send(Batch::Changes(vec![up("d.md")])).unwrap();
        assert_eq!(rx.try_recv().ok(), Some(Batch::Changes(vec![up("d.md")])));
    }

    #[test]
    fn a_burst_whose_watcher_goes_silent_ends_after_its_patience() {
        let (tx, rx) = mpsc::channel::<Batch>();
        let window = Duration::from_millis(20);
        let patience = window + watch::PART_EVERY * 2;
        let started = std::time::Instant::now();
        let g = burst(Batch::Failed("gone".into()), &rx, window);
        let took = started.elapsed();
        assert!(
            took >= patience && took < patience + Duration::from_secs(1),
            "{took:?}"
        );
        assert_eq!(g.failed.as_deref(), Some("gone"));
        assert!(
            g.rescan.is_some(),
            "a failed watcher means reading everything again"
        );
        drop(tx);
    }

    #[test]
    fn a_lone_settled_gathers_nothing() {
        let (_tx, rx) = mpsc::channel::<Batch>();
        assert!(burst(Batch::Settled, &rx, Duration::from_millis(20)).is_empty());
    }

    #[test]
    fn an_endless_stream_is_published_every_burst_max() {
        let (tx, rx) = mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let feeder = std::thread::spawn({
            let stop = std::sync::Arc::clone(&stop);
            move || {
                let mut n = 0;
                // Bounded, so that a burst without its cut ends too (and fails below).
                let until = std::time::Instant::now() + BURST_MAX * 2;
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && std::time::Instant::now() < until
                {
                    if tx
                        .send(Batch::Changes(vec![up(&format!("{n}.md"))]))
                        .is_err()
                    {
                        break;
                    }
                    n += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        let started = std::time::Instant::now();
        let g = burst(
            Batch::Changes(vec![up("first.md")]),
            &rx,
            Duration::from_millis(20),
        );
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        feeder.join().unwrap();
        assert!(
            took >= BURST_MAX && took < BURST_MAX + Duration::from_secs(1),
            "{took:?}"
        );
        assert!(g.changes.len() > 10, "{} changes", g.changes.len());
    }
}
