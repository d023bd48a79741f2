//! Watching `posts/`: notify's events, debounced, collapsed into feedsmith's own vocabulary.
//!
//! notify reports many kinds of events, differently per platform. What the publisher needs is
//! only *where to look again*: [`Change::Upsert`] (something appeared or changed there) or
//! [`Change::Remove`] (something went away). Renames are split into a remove and an upsert, the
//! last event per path wins, ignored names (hidden, editor temp files, `_drafts`) are dropped,
//! and an event that says events were lost asks for a full rescan — a change is never missed
//! silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::event::{EventKind, ModifyKind, RenameMode};
use notify::{Event, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult, DebouncedEvent};

use crate::site::{is_skipped_path, Change};

/// What the watcher tells the publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// One debounced burst of changes.
    Changes(Vec<Change>),
    /// Events were lost or the watcher failed: re-read everything.
    Rescan(String),
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    debouncer: notify_debouncer_full::Debouncer<
        notify::RecommendedWatcher,
        notify_debouncer_full::RecommendedCache,
    >,
    /// The canonical posts root: event paths are relative to it.
    root: PathBuf,
    /// Symbolic links to directories that appeared after the watch began, watched on their
    /// own (relative paths).
    links: std::collections::BTreeSet<PathBuf>,
}

impl Watcher {
    /// Follows what a batch changed: watches the directories behind symbolic links that
    /// appeared at or under the changed paths, and stops watching the ones that went.
    ///
    /// The kernel watch on a directory adds watches for subdirectories created in it, but a
    /// new symbolic link to a directory is not one: without this, posts published through a
    /// link made while serving would never be seen to change again.
    pub fn follow(&mut self, changes: &[crate::site::Change], drafts: bool) {
        use crate::site::Change;
        for change in changes {
            let rel = change.path();
            let gone: Vec<PathBuf> = self
                .links
                .iter()
                .filter(|l| l.starts_with(rel))
                .cloned()
                .collect();
            for l in gone {
                if !self.root.join(&l).is_dir() {
                    let _ = self.debouncer.unwatch(self.root.join(&l));
                    self.links.remove(&l);
                }
            }
            if let Change::Upsert(rel) = change {
                for link in crate::site::linked_dirs(&self.root, rel, drafts) {
                    if self.links.contains(&link) {
                        continue;
                    }
                    match self
                        .debouncer
                        .watch(self.root.join(&link), RecursiveMode::Recursive)
                    {
                        Ok(()) => {
                            self.links.insert(link);
                        }
                        Err(e) => tracing::warn!(
                            "cannot watch {} (behind a symbolic link): {e}; changes there are \
                             seen on the next full rescan",
                            self.root.join(&link).display()
                        ),
                    }
                }
            }
        }
    }
}

/// Starts watching `root` recursively; debounced batches go to `tx`.
pub fn watch(
    root: &Path,
    window: Duration,
    drafts: bool,
    tx: Sender<Batch>,
) -> notify::Result<Watcher> {
    let canonical = std::fs::canonicalize(root).map_err(notify::Error::io)?;
    let base = canonical.clone();
    // Half the window here, the other half in the publisher's wait for the burst to end
    // (`quiet_half`): an isolated save is published a window after it, a long burst once.
    let mut debouncer = new_debouncer(
        quiet_half(window),
        None,
        move |result: DebounceEventResult| {
            let batch = match result {
                Ok(events) => to_batch(&base, drafts, &events),
                Err(errors) => Some(Batch::Rescan(
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
            };
            if let Some(b) = batch {
                // The publisher has stopped: nothing left to tell.
                let _ = tx.send(b);
            }
        },
    )?;
    debouncer.watch(&canonical, RecursiveMode::Recursive)?;
    Ok(Watcher {
        debouncer,
        root: canonical,
        links: std::collections::BTreeSet::new(),
    })
}

/// Half the debounce window (at least a millisecond): how long the watcher holds an event,
/// and how long the publisher then waits for more before it publishes.
pub fn quiet_half(window: Duration) -> Duration {
    (window / 2).max(Duration::from_millis(1))
}

/// Collapses a debounced burst into a batch; `None` when nothing relevant happened.
pub fn to_batch(root: &Path, drafts: bool, events: &[DebouncedEvent]) -> Option<Batch> {
    let mut last: BTreeMap<PathBuf, Change> = BTreeMap::new();
    for e in events {
        let event: &Event = e;
        if event.need_rescan() {
            return Some(Batch::Rescan("the watcher lost events".into()));
        }
        for change in changes_of(event) {
            let Ok(rel) = change.path().strip_prefix(root) else {
                continue;
            };
            if is_skipped_path(rel, drafts) {
                continue;
            }
            let rel = rel.to_path_buf();
            let change = match change {
                Change::Upsert(_) => Change::Upsert(rel.clone()),
                Change::Remove(_) => Change::Remove(rel.clone()),
            };
            last.insert(rel, change);
        }
    }
    if last.is_empty() {
        None
    } else {
        Some(Batch::Changes(last.into_values().collect()))
    }
}

/// One notify event in feedsmith's vocabulary (absolute paths).
pub fn changes_of(event: &Event) -> Vec<Change> {
    let upsert = |p: &PathBuf| Change::Upsert(p.clone());
    let remove = |p: &PathBuf| Change::Remove(p.clone());
    match event.kind {
        // Reads change nothing.
        EventKind::Access(_) => Vec::new(),
        EventKind::Create(_) => event.paths.iter().map(upsert).collect(),
        EventKind::Remove(_) => event.paths.iter().map(remove).collect(),
        EventKind::Modify(ModifyKind::Name(mode)) => match mode {
            RenameMode::From => event.paths.iter().map(remove).collect(),
            RenameMode::To => event.paths.iter().map(upsert).collect(),
            RenameMode::Both => {
                let mut out = Vec::with_capacity(2);
                if let Some(from) = event.paths.first() {
                    out.push(remove(from));
                }
                if let Some(to) = event.paths.get(1) {
                    out.push(upsert(to));
                }
                out
            }
            // Which side is unknown: look at every path again; the file system decides.
            RenameMode::Any | RenameMode::Other => event.paths.iter().map(upsert).collect(),
        },
        EventKind::Modify(
            ModifyKind::Data(_) | ModifyKind::Metadata(_) | ModifyKind::Any | ModifyKind::Other,
        )
        | EventKind::Any
        | EventKind::Other => event.paths.iter().map(upsert).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, RemoveKind};
    use std::time::Instant;

    fn ev(kind: EventKind, paths: &[&str]) -> DebouncedEvent {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        DebouncedEvent::new(e, Instant::now())
    }

    fn changes(events: &[DebouncedEvent]) -> Vec<Change> {
        match to_batch(Path::new("/p"), false, events) {
            Some(Batch::Changes(c)) => c,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn editor_atomic_save_is_one_upsert() {
        // vim: write `.x.md.swp`, then `x.md~` backup, then rename temp over the post.
        let c = changes(&[
            ev(EventKind::Create(CreateKind::File), &["/p/.x.md.swp"]),
            ev(EventKind::Create(CreateKind::File), &["/p/4913"]),
            ev(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/p/x.md.tmp", "/p/x.md"],
            ),
            ev(
                EventKind::Access(AccessKind::Close(notify::event::AccessMode::Write)),
                &["/p/x.md"],
            ),
        ]);
        assert_eq!(
            c,
            vec![Change::Upsert("4913".into()), Change::Upsert("x.md".into())]
        );
    }

    #[test]
    fn rename_splits_and_last_event_wins() {
        let c = changes(&[
            ev(
                EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
                &["/p/a.md", "/p/b.md"],
            ),
            ev(
                EventKind::Modify(ModifyKind::Data(DataChange::Content)),
                &["/p/c.md"],
            ),
            ev(EventKind::Remove(RemoveKind::File), &["/p/c.md"]),
        ]);
        assert_eq!(
            c,
            vec![
                Change::Remove("a.md".into()),
                Change::Upsert("b.md".into()),
                Change::Remove("c.md".into())
            ]
        );
    }

    #[test]
    fn ignored_and_outside_paths_are_dropped() {
        assert_eq!(
            to_batch(
                Path::new("/p"),
                false,
                &[
                    ev(EventKind::Create(CreateKind::File), &["/p/.git/index"]),
                    ev(EventKind::Create(CreateKind::File), &["/p/_drafts/x.md"]),
                    ev(EventKind::Create(CreateKind::File), &["/p/#x.md#"]),
                    ev(EventKind::Create(CreateKind::File), &["/elsewhere/x.md"]),
                    ev(EventKind::Access(AccessKind::Any), &["/p/x.md"]),
                ]
            ),
            None
        );
        // With --drafts, `_drafts` counts.
        assert!(to_batch(
            Path::new("/p"),
            true,
            &[ev(
                EventKind::Create(CreateKind::File),
                &["/p/_drafts/x.md"]
            )]
        )
        .is_some());
    }

    #[test]
    fn lost_events_ask_for_a_rescan() {
        let mut e = Event::new(EventKind::Other);
        e = e.set_flag(notify::event::Flag::Rescan);
        let b = to_batch(
            Path::new("/p"),
            false,
            &[DebouncedEvent::new(e, Instant::now())],
        );
        assert!(matches!(b, Some(Batch::Rescan(_))));
    }
}
