//! The watcher's timing, all in one place: how file events become one republish.
//!
//! ```text
//! notify events ─► debounce (quiet window, parts every PART_EVERY) ─► Batch ─► channel
//!                                                                             │
//!          publisher thread ◄─ settle (mass removals) ◄─ burst (to its end, ≤ BURST_MAX)
//! ```
//!
//! - [`debounce`]: on the watcher's thread, a burst of events is handed over in parts while it
//!   goes on and marked settled once the window (`server.debounce_ms`) passes quietly.
//! - [`burst`]: on the publisher's thread, the parts of a burst (and bursts queued behind it)
//!   are gathered into one republish — but an endless stream is published every [`BURST_MAX`].
//! - [`settle`]: a burst that removes many posts waits for the removals to pause, so a tree
//!   being deleted or unmounted is seen gone as a whole.
//! - [`POLL_EVERY`]: the walk of the tree when kernel watches are missing.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::Event;

use super::{Batch, Delivered};
use crate::site::{Change, Site};

/// How often the part of a burst gathered so far is handed over while events keep coming:
/// often enough that a publisher waiting for a burst to end, or for removals to settle
/// (150 ms), is never left waiting in the middle of one.
pub const PART_EVERY: Duration = Duration::from_millis(50);

/// A batch removing at least this many posts may be a whole tree going away (`rm -rf posts`,
/// an unmount): wait for the removals to settle before publishing any of them.
pub const MASS_REMOVAL: usize = 10;
/// How long removals must pause to count as settled, and the longest wait for that.
pub const SETTLE_QUIET: Duration = Duration::from_millis(150);
pub const SETTLE_MAX: Duration = Duration::from_secs(5);
/// How often the tree is walked for changes when kernel watches are missing or incomplete.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// The longest one burst of file events is gathered before it is published anyway.
pub const BURST_MAX: Duration = Duration::from_secs(2);

/// Debounces notify's deliveries: blocks while nothing happens (no timer runs while idle);
/// after an event, hands what it gathered to `deliver` every `every` while events keep coming,
/// and the rest with `settled = true` once `quiet` has passed without one. With nothing new
/// gathered it waits only for the quiet to end. Returns when the watcher that sends to `rx` is
/// gone, after handing over what it had.
pub fn debounce(
    rx: &Receiver<notify::Result<Event>>,
    quiet: Duration,
    every: Duration,
    mut deliver: impl FnMut(Delivered, bool),
) {
    fn take(events: &mut Vec<Event>, errors: &mut Vec<notify::Error>) -> Delivered {
        if errors.is_empty() {
            Ok(std::mem::take(events))
        } else {
            events.clear();
            Err(std::mem::take(errors))
        }
    }
    fn add(
        delivery: notify::Result<Event>,
        events: &mut Vec<Event>,
        errors: &mut Vec<notify::Error>,
    ) {
        match delivery {
            Ok(event) => events.push(event),
            Err(e) => errors.push(e),
        }
    }
    let mut events = Vec::new();
    let mut errors = Vec::new();
    while let Ok(first) = rx.recv() {
        add(first, &mut events, &mut errors);
        let mut last_event = Instant::now();
        let mut next_part = last_event + every;
        loop {
            let quiet_ends = last_event + quiet;
            let wake = if events.is_empty() && errors.is_empty() {
                quiet_ends
            } else {
                quiet_ends.min(next_part)
            };
            match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
                Ok(delivery) => {
                    add(delivery, &mut events, &mut errors);
                    last_event = Instant::now();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    deliver(take(&mut events, &mut errors), true);
                    return;
                }
            }
            let now = Instant::now();
            if now >= last_event + quiet {
                deliver(take(&mut events, &mut errors), true);
                break;
            }
            if now >= next_part {
                if !events.is_empty() || !errors.is_empty() {
                    deliver(take(&mut events, &mut errors), false);
                }
                next_part = now + every;
            }
        }
    }
}

/// What the watcher said during one burst.
#[derive(Default)]
pub struct Gathered {
    pub changes: Vec<Change>,
    /// Why everything must be read again, if it must.
    pub rescan: Option<String>,
    /// The watcher failed: poll from now on.
    pub failed: Option<String>,
}

impl Gathered {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.rescan.is_none() && self.failed.is_none()
    }

    pub fn take(&mut self, batch: Batch) {
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
/// of files) and says when it has settled (see [`debounce`]); the parts are taken until
/// then: one burst is one republish, one store swap and one hub notification, never a run of
/// half-applied states. Bursts that queued up meanwhile (the publisher was busy) are taken
/// too, each to its end. An endless stream is still published every [`BURST_MAX`].
pub fn burst(first: Batch, rx: &Receiver<Batch>, window: Duration) -> Gathered {
    let mut g = Gathered::default();
    let started = std::time::Instant::now();
    // In a burst, the watcher sends at least every window + PART_EVERY: a longer silence
    // means it is gone (replaced, or failed).
    let patience = window + PART_EVERY * 2;
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

/// Takes what comes while many removals settle (see [`MASS_REMOVAL`]): until they pause for
/// [`SETTLE_QUIET`], at most [`SETTLE_MAX`].
pub fn settle(gathered: &mut Gathered, rx: &Receiver<Batch>) {
    let started = Instant::now();
    while started.elapsed() < SETTLE_MAX {
        match rx.recv_timeout(SETTLE_QUIET) {
            Ok(b) => gathered.take(b),
            Err(_) => break,
        }
    }
}

/// How many posts a batch's removals take away: each known post (or bad post) at or under a
/// removed path once, however many of the removals name it (`rm -rf dir` reports every file
/// and the directory), and a removed path that held none once.
pub fn removed_posts(site: &Site, changes: &[Change]) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, EventKind};
    use std::path::PathBuf;
    use std::sync::mpsc;

    fn ev(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn debounce_hands_bursts_over_in_parts_then_settled() {
        let (raw_tx, raw_rx) = std::sync::mpsc::channel();
        let (out_tx, out_rx) = std::sync::mpsc::channel();
        // The real ratio: the quiet (the window, 20 ms) shorter than the part interval.
        let quiet = Duration::from_millis(100);
        let every = Duration::from_millis(250);
        let thread = std::thread::spawn(move || {
            debounce(&raw_rx, quiet, every, |d, settled| {
                out_tx.send((d, settled)).unwrap();
            });
        });
        let create = |p: &str| Ok(ev(EventKind::Create(CreateKind::File), &[p]));
        let wait = || out_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // Nothing happens: nothing is handed over. (That no thread wakes meanwhile is what
        // tests/watch/timing.rs `an_idle_server_does_not_wake_up_on_a_timer` checks, in /proc.)
        assert!(out_rx.recv_timeout(Duration::from_millis(300)).is_err());

        // Two events together: one burst, handed over settled once the quiet has passed after
        // the last of them.
        let last = Instant::now();
        raw_tx.send(create("/p/a.md")).unwrap();
        raw_tx.send(create("/p/b.md")).unwrap();
        let (burst, settled) = wait();
        assert!(last.elapsed() >= quiet, "{:?}", last.elapsed());
        assert!(settled);
        assert_eq!(burst.unwrap().len(), 2);

        // A stream of events: parts while it goes on, then the settled end; every event once.
        let started = Instant::now();
        let mut sent = 0;
        while started.elapsed() < every * 4 {
            raw_tx.send(create("/p/c.md")).unwrap();
            sent += 1;
            std::thread::sleep(quiet / 5);
        }
        // Until the settled delivery after the last event (a stall of the sender longer than
        // the quiet may settle a burst in between).
        let (mut parts, mut got) = (0, 0);
        loop {
            let (d, settled) = wait();
            got += d.unwrap().len();
            parts += usize::from(!settled);
            if settled && got >= sent {
                break;
            }
        }
        assert_eq!(got, sent);
        assert!(parts >= 2, "{parts} parts of a stream {:?} long", every * 4);

        // An error makes its delivery an error (the publisher then rescans).
        raw_tx.send(create("/p/d.md")).unwrap();
        raw_tx
            .send(Err(notify::Error::generic("queue overflow")))
            .unwrap();
        let mut failed = false;
        loop {
            let (d, settled) = wait();
            failed |= d.is_err();
            if settled && failed {
                break;
            }
        }

        // The watcher gone, debouncing ends, after handing over what it had.
        raw_tx.send(create("/p/e.md")).unwrap();
        drop(raw_tx);
        thread.join().unwrap();
        let (d, settled) = out_rx.recv().unwrap();
        assert!(settled);
        assert_eq!(d.unwrap().len(), 1);
    }

    #[test]
    fn removed_posts_counts_each_post_once() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::config::Config::default().parse_context();
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
        let patience = window + PART_EVERY * 2;
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
