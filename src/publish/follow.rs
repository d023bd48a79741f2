//! The publisher's thread in `serve`: it takes the watcher's batches (see
//! [`crate::watch::timing`] for how file events become one batch), wakes by itself when a
//! scheduled post falls due, follows the posts directory when it is replaced or vanishes,
//! polls when kernel watches fail, and retries writes that failed. Each publish goes to the
//! publisher's [`super::Outlet`]; requests never wait for this thread.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use chrono::Utc;

use super::{Publisher, Report};
use crate::config::WatchMode;
use crate::metrics::{Fallback, Metrics};
use crate::site::Change;
use crate::watch::timing::{self, Gathered, MASS_REMOVAL, POLL_EVERY};
use crate::watch::{self, Batch, Watcher};

/// The longest the publisher sleeps without looking at the clock and the posts directory
/// (which can be replaced with no event reaching the watch: a re-pointed symbolic link).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// How often documents that could not be written to `feeds/` are tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How often to look for a posts directory that has vanished.
const MISSING_ROOT_POLL: Duration = Duration::from_secs(1);

/// Logs a publish: what changed, what was rendered, what failed, how long it took.
pub fn log_report(what: &str, r: &Report) {
    for e in &r.errors {
        tracing::warn!("{e} (last good version kept, if any)");
    }
    for e in &r.asset_errors {
        tracing::warn!("{e}");
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

/// Counts a publish that did something (changed files read, documents rendered).
fn count(metrics: &Metrics, r: &Report) {
    if r.files_changed > 0 || r.rendered > 0 {
        metrics.republished(r.elapsed);
    }
}

/// Applies watcher batches and the schedule of future posts until the channel closes. The
/// publisher is this thread's alone: requests read only what it swaps out (the store, the
/// archive pages' snapshot).
/// Republishes and the watcher's fallbacks are counted in `metrics`.
pub fn follow(
    mut publisher: Publisher,
    rx: Receiver<Batch>,
    tx: Sender<Batch>,
    watcher: Watcher,
    metrics: &Metrics,
) {
    let mut watcher = Some(watcher);
    let (root, window, drafts, mode) = (
        publisher.config.paths.posts.clone(),
        Duration::from_millis(publisher.config.server.debounce_ms),
        publisher.opts.drafts,
        publisher.config.server.watch,
    );
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
        let polled = poller
            .as_mut()
            .filter(|_| last_poll.elapsed() >= POLL_EVERY)
            .map(watch::Poller::poll);
        // Housekeeping: the poller's first snapshot (against the site as read) or its changes,
        // documents to write again, the next scheduled post.
        let next_due = {
            let changes = match (wants_poll, poller.is_some()) {
                (true, false) => {
                    let (p, changes) =
                        watch::Poller::new(&root, drafts, &publisher.site, &publisher.assets);
                    poller = Some(p);
                    Some(changes)
                }
                _ => polled,
            };
            if let Some(changes) = changes {
                last_poll = std::time::Instant::now();
                if !changes.is_empty() && root.is_dir() {
                    let report = publisher.apply(&changes, Utc::now());
                    count(metrics, &report);
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
        // The whole burst is gathered before it is published.
        let received = rx
            .recv_timeout(wait)
            .map(|first| timing::burst(first, &rx, window));
        // Only the end of a burst already published (it ran past BURST_MAX): nothing to do.
        if received.as_ref().is_ok_and(Gathered::is_empty) {
            continue;
        }
        match received {
            Ok(mut gathered) => {
                // Many removals at once: let them settle, so a tree that is being deleted or
                // unmounted is seen gone as a whole (and its last good feeds kept) rather than
                // published shrinking batch by batch. A directory moved away is one event but
                // counts for every post under it.
                if timing::removed_posts(&publisher.site, &gathered.changes) >= MASS_REMOVAL {
                    timing::settle(&mut gathered, &rx);
                }
                let Gathered {
                    changes,
                    mut rescan,
                    failed,
                } = gathered;
                if let Some(why) = failed {
                    metrics.fallback(Fallback::WatchFailed);
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
                    metrics.fallback(Fallback::RootReplaced);
                    match rewatch(&root, window, drafts, mode, &tx, metrics) {
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
                // A rescan for a replaced directory is counted as that, not as lost events.
                let held_just_now = held;
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
                    if !held_just_now {
                        metrics.fallback(Fallback::LostEvents);
                    }
                    tracing::warn!("full rescan: {why}");
                    publisher.rescan(Utc::now())
                } else {
                    publisher.apply(&changes, Utc::now())
                };
                count(metrics, &report);
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
                    if let Some(w) = rewatch(&root, window, drafts, mode, &tx, metrics) {
                        metrics.fallback(Fallback::RootReplaced);
                        tracing::info!("posts directory {} is back", root.display());
                        watcher = Some(w);
                        watched_id = dir_identity(&root);
                        held = !may_replace(&publisher, &root, drafts);
                        if !held {
                            let report = publisher.rescan(Utc::now());
                            count(metrics, &report);
                            log_report("rescanned", &report);
                        }
                    }
                    continue;
                }
                if publisher.next_due().is_some_and(|due| due <= Utc::now()) {
                    let report = publisher.tick(Utc::now());
                    count(metrics, &report);
                    log_report("scheduled posts published", &report);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
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
pub fn rewatch(
    root: &Path,
    window: Duration,
    drafts: bool,
    mode: WatchMode,
    tx: &Sender<Batch>,
    metrics: &Metrics,
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
            metrics.fallback(Fallback::WatchUnavailable);
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
