//! Watching `posts/`: notify's events, debounced, collapsed into feedsmith's own vocabulary.
//!
//! notify reports many kinds of events, differently per platform. What the publisher needs is
//! only *where to look again*: [`Change::Upsert`] (something appeared or changed there) or
//! [`Change::Remove`] (something went away). Renames are split into a remove and an upsert, the
//! last event per path wins, ignored names (hidden, editor temp files, `_drafts`) are dropped,
//! and an event that says events were lost asks for a full rescan — a change is never missed
//! silently.
//!
//! The debouncing is feedsmith's own ([`debounce`]): a thread that blocks while nothing
//! happens and, once something has, hands the burst over in parts while it goes on, then says
//! it has settled when the window has passed without a further event. notify-debouncer-full,
//! used before, ticks at a quarter of its timeout whether or not anything happened: with the
//! default 20 ms window, 400 wake-ups a second for the life of the server (counted in /proc);
//! and it walked the whole tree at start to cache file ids this module never used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{Event, RecursiveMode, Watcher as _};

use crate::site::{is_skipped_path, Change};

pub mod timing;

pub use timing::{debounce, PART_EVERY};

/// What the watcher tells the publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Changes of a burst (all of it, or a part while it goes on).
    Changes(Vec<Change>),
    /// Events were lost: re-read everything.
    Rescan(String),
    /// The watcher itself failed (e.g. the kernel's limit on watches): re-read everything,
    /// and from now on also poll, since the watch may no longer cover the whole tree.
    Failed(String),
    /// The burst the batches before this belong to has ended: a whole window passed with no
    /// further event. Until it comes, more of the same burst is on its way.
    Settled,
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    /// `None`: no kernel watch (polling only).
    watcher: Option<notify::RecommendedWatcher>,
    /// The canonical posts root: event paths are relative to it.
    root: PathBuf,
    /// Symbolic links to directories that appeared after the watch began, watched on their
    /// own (relative paths).
    links: std::collections::BTreeSet<PathBuf>,
}

impl Watcher {
    /// A watcher with no kernel watch: the publisher polls `root` instead.
    pub fn polling(root: &Path) -> Watcher {
        Watcher {
            watcher: None,
            root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            links: std::collections::BTreeSet::new(),
        }
    }

    /// True when there is no kernel watch and changes are seen only by polling.
    pub fn is_polling(&self) -> bool {
        self.watcher.is_none()
    }
    /// Follows what a batch changed: watches the directories behind symbolic links that
    /// appeared at or under the changed paths, and stops watching the ones that went.
    ///
    /// The kernel watch on a directory adds watches for subdirectories created in it, but a
    /// new symbolic link to a directory is not one: without this, posts published through a
    /// link made while serving would never be seen to change again.
    pub fn follow(&mut self, changes: &[crate::site::Change], drafts: bool) {
        use crate::site::Change;
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
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
                    let _ = watcher.unwatch(&self.root.join(&l));
                    self.links.remove(&l);
                }
            }
            if let Change::Upsert(rel) = change {
                for link in crate::site::linked_dirs(&self.root, rel, drafts) {
                    if self.links.contains(&link) {
                        continue;
                    }
                    match watcher.watch(&self.root.join(&link), RecursiveMode::Recursive) {
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
    let filter_root = canonical.clone();
    let (raw_tx, raw_rx) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        // Reads (notify reports every open) and files feedsmith ignores would only hold a
        // burst open, and wake the debouncing thread for nothing.
        if event
            .as_ref()
            .is_ok_and(|e| !matters(e, &filter_root, drafts))
        {
            return;
        }
        // The debouncing thread has stopped: nothing left to tell.
        let _ = raw_tx.send(event);
    })?;
    watcher.watch(&canonical, RecursiveMode::Recursive)?;
    std::thread::Builder::new()
        .name("watch-debounce".into())
        .spawn(move || {
            debounce(&raw_rx, window, PART_EVERY, |events, settled| {
                // The publisher has stopped: nothing left to tell. (A burst with nothing in it
                // still ends with `Settled`: the publisher skips an empty one.)
                if let Some(b) = batch_of(events, &base, drafts) {
                    let _ = tx.send(b);
                }
                if settled {
                    let _ = tx.send(Batch::Settled);
                }
            });
        })
        .map_err(notify::Error::io)?;
    Ok(Watcher {
        watcher: Some(watcher),
        root: canonical,
        links: std::collections::BTreeSet::new(),
    })
}

/// Whether an event can change what is published: it asks for a rescan, or it touches a
/// path under `root` that is not ignored, in a way other than reading it.
pub fn matters(event: &Event, root: &Path, drafts: bool) -> bool {
    event.need_rescan()
        || changes_of(event).iter().any(|c| {
            c.path()
                .strip_prefix(root)
                .is_ok_and(|rel| !is_skipped_path(rel, drafts))
        })
}

/// What notify delivered in a while: the events, or the errors when there were any.
pub type Delivered = Result<Vec<Event>, Vec<notify::Error>>;

/// What one delivery of [`debounce`] means for the publisher.
pub fn batch_of(result: Delivered, root: &Path, drafts: bool) -> Option<Batch> {
    match result {
        Ok(events) => to_batch(root, drafts, &events),
        Err(errors) => Some(Batch::Failed(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

/// The fallback when kernel watches are not available or not complete (their limit reached,
/// a network file system): a walk of the tree every few seconds, compared by modification
/// time and size with the last walk. A change is seen a poll late, never missed.
pub struct Poller {
    root: PathBuf,
    drafts: bool,
    seen: std::collections::HashMap<PathBuf, Stamp>,
    /// The assets' stamps, apart from the posts': an asset is known to the publisher by its
    /// own index.
    seen_assets: std::collections::HashMap<PathBuf, Stamp>,
}

/// What a poll compares a file by: its mtime and size.
type Stamp = (Option<std::time::SystemTime>, u64);

impl Poller {
    /// Takes the first snapshot; returns it with the changes against `known` (the site as
    /// read): posts whose files differ, files not read yet, posts whose files are gone — so
    /// nothing changed before the snapshot is missed.
    pub fn new(
        root: &Path,
        drafts: bool,
        known: &crate::site::Site,
        known_assets: &crate::site::assets::Assets,
    ) -> (Poller, Vec<Change>) {
        let mut poller = Poller {
            root: root.to_path_buf(),
            drafts,
            seen: std::collections::HashMap::new(),
            seen_assets: std::collections::HashMap::new(),
        };
        let _ = poller.poll();
        let mut changes: Vec<Change> = poller
            .seen
            .iter()
            .filter(|(rel, (mtime, _))| match known.posts.get(*rel) {
                Some(p) => p.modified.is_none() || p.modified != *mtime,
                None => !known.errors.contains_key(*rel),
            })
            .map(|(rel, _)| Change::Upsert(rel.clone()))
            .collect();
        changes.extend(
            known
                .posts
                .keys()
                .filter(|rel| !poller.seen.contains_key(*rel))
                .map(|rel| Change::Remove(rel.clone())),
        );
        for (rel, stamp) in &poller.seen_assets {
            let same = known_assets
                .files
                .get(rel)
                .is_some_and(|a| (Some(a.modified), a.len) == *stamp);
            if !same {
                changes.push(Change::Upsert(rel.clone()));
            }
        }
        changes.extend(
            known_assets
                .files
                .keys()
                .filter(|rel| !poller.seen_assets.contains_key(*rel))
                .map(|rel| Change::Remove(rel.clone())),
        );
        changes.sort_by(|a, b| a.path().cmp(b.path()));
        (poller, changes)
    }

    /// Walks the tree again: what appeared, changed or went since the last walk.
    pub fn poll(&mut self) -> Vec<Change> {
        let (files, _errors) = crate::site::discover(&self.root, self.drafts);
        let mut now = std::collections::HashMap::with_capacity(files.len());
        let mut changes = Vec::new();
        for rel in files {
            let stamp = std::fs::metadata(self.root.join(&rel))
                .map(|m| (m.modified().ok(), m.len()))
                .unwrap_or((None, 0));
            if self.seen.get(&rel) != Some(&stamp) {
                changes.push(Change::Upsert(rel.clone()));
            }
            now.insert(rel, stamp);
        }
        for rel in self.seen.keys() {
            if !now.contains_key(rel) {
                changes.push(Change::Remove(rel.clone()));
            }
        }
        self.seen = now;
        // Assets at any size: one shrinking under the limit is a change too.
        let assets = crate::site::assets::Assets::load(&self.root, u64::MAX);
        let now: std::collections::HashMap<PathBuf, Stamp> = assets
            .files
            .into_iter()
            .map(|(rel, a)| (rel, (Some(a.modified), a.len)))
            .collect();
        for (rel, stamp) in &now {
            if self.seen_assets.get(rel) != Some(stamp) {
                changes.push(Change::Upsert(rel.clone()));
            }
        }
        for rel in self.seen_assets.keys() {
            if !now.contains_key(rel) {
                changes.push(Change::Remove(rel.clone()));
            }
        }
        self.seen_assets = now;
        changes.sort_by(|a, b| a.path().cmp(b.path()));
        changes
    }
}

/// Collapses a delivery of events into a batch; `None` when nothing relevant happened.
pub fn to_batch(root: &Path, drafts: bool, events: &[Event]) -> Option<Batch> {
    let mut last: BTreeMap<PathBuf, Change> = BTreeMap::new();
    for event in events {
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
        // A file open for writing was closed: usually after modify events, but a write made
        // through a memory map reports only this.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            event.paths.iter().map(upsert).collect()
        }
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

    /// An event of `kind` on `paths` (also for the timing tests).
    pub(crate) fn ev(kind: EventKind, paths: &[&str]) -> Event {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    #[test]
    fn a_failing_watcher_asks_for_a_rescan_and_polling() {
        let errors = vec![notify::Error::generic("inotify watch limit reached")];
        match batch_of(Err(errors), Path::new("/posts"), false) {
            Some(Batch::Failed(why)) => assert!(why.contains("limit"), "{why}"),
            other => panic!("{other:?}"),
        }
        let lost = ev(EventKind::Other, &["/posts/a.md"]).set_flag(notify::event::Flag::Rescan);
        assert!(matches!(
            batch_of(Ok(vec![lost]), Path::new("/posts"), false),
            Some(Batch::Rescan(_))
        ));
    }

    #[test]
    fn the_poller_sees_what_appears_changes_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("a.md", "---\ndate: 2021-01-01\n---\na\n");
        write("sub/b.md", "---\ndate: 2021-01-02\n---\nb\n");
        write(".hidden.md", "---\ndate: 2021-01-02\n---\nh\n");
        // The site as read knows only a.md: b.md appeared since and must be reported.
        let mut known = crate::site::Site::default();
        let ctx = crate::config::Config::default().parse_context();
        let a = crate::post::read_post(root, Path::new("a.md"), &ctx).unwrap();
        known
            .posts
            .insert(PathBuf::from("a.md"), std::sync::Arc::new(a));
        let (mut poller, first) = Poller::new(root, false, &known, &Default::default());
        assert_eq!(first, vec![Change::Upsert(PathBuf::from("sub/b.md"))]);
        assert!(poller.poll().is_empty(), "nothing changed since");

        write("a.md", "---\ndate: 2021-01-01\n---\na, longer now\n");
        write("c.md", "---\ndate: 2021-01-03\n---\nc\n");
        std::fs::remove_file(root.join("sub/b.md")).unwrap();
        write("x.md.swp", "editor leftovers are not posts");
        let mut got = poller.poll();
        got.sort_by(|a, b| a.path().cmp(b.path()));
        assert_eq!(
            got,
            vec![
                Change::Upsert(PathBuf::from("a.md")),
                Change::Upsert(PathBuf::from("c.md")),
                Change::Remove(PathBuf::from("sub/b.md")),
            ]
        );
        assert!(poller.poll().is_empty());

        // Assets are polled too.
        write("img/p.png", "png");
        assert_eq!(poller.poll(), [Change::Upsert(PathBuf::from("img/p.png"))]);
        write("img/p.png", "png, changed");
        assert_eq!(poller.poll(), [Change::Upsert(PathBuf::from("img/p.png"))]);
        std::fs::remove_file(root.join("img/p.png")).unwrap();
        assert_eq!(poller.poll(), [Change::Remove(PathBuf::from("img/p.png"))]);
    }

    fn changes(events: &[Event]) -> Vec<Change> {
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
    fn a_file_written_and_closed_is_an_upsert() {
        // A write through a memory map reports only this event.
        let close = |mode| ev(EventKind::Access(AccessKind::Close(mode)), &["/p/a.md"]);
        assert_eq!(
            changes(&[close(AccessMode::Write)]),
            vec![Change::Upsert("a.md".into())]
        );
        assert_eq!(
            to_batch(Path::new("/p"), false, &[close(AccessMode::Read)]),
            None
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
    fn only_events_that_can_change_the_site_matter() {
        let root = Path::new("/p");
        let matter = |e: Event| matters(&e, root, false);
        assert!(matter(ev(
            EventKind::Create(CreateKind::File),
            &["/p/a.md"]
        )));
        assert!(matter(ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/p/.a.md.swp", "/p/a.md"]
        )));
        // Reads: notify reports every open, the publisher's own included.
        assert!(!matter(ev(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            &["/p/a.md"]
        )));
        assert!(!matter(ev(
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            &["/p/a.md"]
        )));
        // A file written and closed counts, even with no modify event before (a write through
        // a memory map).
        assert!(matter(ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &["/p/a.md"]
        )));
        assert!(!matter(ev(
            EventKind::Create(CreateKind::File),
            &["/p/.git/index"]
        )));
        assert!(!matter(ev(
            EventKind::Create(CreateKind::File),
            &["/p/_drafts/x.md"]
        )));
        assert!(matters(
            &ev(EventKind::Create(CreateKind::File), &["/p/_drafts/x.md"]),
            root,
            true
        ));
        assert!(!matter(ev(
            EventKind::Create(CreateKind::File),
            &["/q/a.md"]
        )));
        // Lost events always matter.
        assert!(matter(
            ev(EventKind::Other, &[]).set_flag(notify::event::Flag::Rescan)
        ));
    }

    #[test]
    fn lost_events_ask_for_a_rescan() {
        let mut e = Event::new(EventKind::Other);
        e = e.set_flag(notify::event::Flag::Rescan);
        let b = to_batch(Path::new("/p"), false, &[e]);
        assert!(matches!(b, Some(Batch::Rescan(_))));
    }
}
