//! Who follows each actor: `{state_dir}/activitypub-followers.json`, replaced atomically (temp
//! file, fsync, rename) on every change, read back at start.
//!
//! A follower is a remote actor (its id) with the inboxes deliveries go to: its own, and its
//! server's shared inbox when it has one (used first: one request per server, not per
//! follower).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::push::lock;

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "activitypub-followers.json";
/// The format version written; a file of another version is set aside, not read.
const VERSION: u32 = 1;
/// Followers kept in all (a follow beyond is refused).
pub const MAX_FOLLOWERS: usize = 100_000;

/// A remote actor following one of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follower {
    /// Its actor id.
    pub id: String,
    pub inbox: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_inbox: Option<String>,
    /// The id of its `Follow` activity (an `Undo` may name only that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_id: Option<String>,
}

impl Follower {
    /// Where deliveries to it go: its server's shared inbox, else its own.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    version: u32,
    /// Our actor's id → its followers.
    actors: BTreeMap<String, Vec<Follower>>,
}

/// Our actor's id → follower id → follower.
type Table = BTreeMap<String, BTreeMap<String, Follower>>;

/// The followers of every actor, in memory and on disk.
#[derive(Debug)]
pub struct Followers {
    path: PathBuf,
    table: Mutex<Table>,
    /// One writer at a time (they share the temp file name).
    writing: Mutex<()>,
}

/// Why a follower was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the site holds its maximum of {MAX_FOLLOWERS} followers")]
pub struct Full;

impl Followers {
    /// The followers saved in `dir`; none when there is no file. A file that cannot be read
    /// is moved aside (`….corrupt`) and reported, so the next save does not destroy it.
    pub fn load(dir: &Path) -> Followers {
        let path = dir.join(FILE_NAME);
        let mut table = Table::new();
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Contents>(&bytes) {
                Ok(c) if c.version == VERSION => {
                    for (actor, list) in c.actors {
                        let map = table.entry(actor).or_default();
                        for f in list {
                            map.insert(f.id.clone(), f);
                        }
                    }
                    tracing::info!(
                        "activitypub: {} followers restored from {}",
                        table.values().map(BTreeMap::len).sum::<usize>(),
                        path.display()
                    );
                }
                Ok(c) => set_aside(&path, &format!("unknown version {}", c.version)),
                Err(e) => set_aside(&path, &e.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!("activitypub: cannot read {}: {e}", path.display()),
        }
        Followers {
            path,
            table: Mutex::new(table),
            writing: Mutex::new(()),
        }
    }

    /// Adds (or refreshes) `follower` of `actor`; `Ok(true)` when it is new.
    pub fn add(&self, actor: &str, follower: Follower) -> Result<bool, Full> {
        let mut t = lock(&self.table);
        let known = t.get(actor).is_some_and(|m| m.contains_key(&follower.id));
        if !known && t.values().map(BTreeMap::len).sum::<usize>() >= MAX_FOLLOWERS {
            return Err(Full);
        }
        let old = t
            .entry(actor.to_owned())
            .or_default()
            .insert(follower.id.clone(), follower.clone());
        let changed = old.as_ref() != Some(&follower);
        drop(t);
        if changed {
            self.save();
        }
        Ok(old.is_none())
    }

    /// Removes `follower` (an actor id) from `actor`'s followers; whether it was one.
    pub fn remove(&self, actor: &str, follower: &str) -> bool {
        let mut t = lock(&self.table);
        let removed = t.get_mut(actor).and_then(|m| m.remove(follower)).is_some();
        t.retain(|_, m| !m.is_empty());
        drop(t);
        if removed {
            self.save();
        }
        removed
    }

    /// Removes the follow whose `Follow` activity had the id `follow_id`, made by `follower`:
    /// the actor it followed, if there was one.
    pub fn remove_follow(&self, follower: &str, follow_id: &str) -> Option<String> {
        let actor = lock(&self.table).iter().find_map(|(actor, m)| {
            m.get(follower)
                .filter(|f| f.follow_id.as_deref() == Some(follow_id))
                .map(|_| actor.clone())
        })?;
        self.remove(&actor, follower).then_some(actor)
    }

    /// Removes `follower` from every actor's followers (the remote actor was deleted); how
    /// many follows that ended.
    pub fn remove_everywhere(&self, follower: &str) -> usize {
        self.remove_where(|f| f.id == follower)
    }

    /// Removes every follower whose deliveries go to `inbox` (it is gone or keeps failing).
    pub fn remove_inbox(&self, inbox: &str) -> usize {
        self.remove_where(|f| f.delivery_inbox() == inbox)
    }

    fn remove_where(&self, gone: impl Fn(&Follower) -> bool) -> usize {
        let mut t = lock(&self.table);
        let mut n = 0;
        for m in t.values_mut() {
            let before = m.len();
            m.retain(|_, f| !gone(f));
            n += before - m.len();
        }
        t.retain(|_, m| !m.is_empty());
        drop(t);
        if n > 0 {
            self.save();
        }
        n
    }

    /// How many follow `actor`.
    pub fn count(&self, actor: &str) -> usize {
        lock(&self.table).get(actor).map_or(0, BTreeMap::len)
    }

    /// The inboxes the followers of `actors` are reached at, each once.
    pub fn inboxes<'a>(&self, actors: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
        let t = lock(&self.table);
        actors
            .into_iter()
            .filter_map(|a| t.get(a))
            .flat_map(|m| m.values().map(|f| f.delivery_inbox().to_owned()))
            .collect()
    }

    /// Writes the file now. A failure is logged: the followers still hold in memory.
    fn save(&self) {
        let _one = lock(&self.writing);
        let contents = Contents {
            version: VERSION,
            actors: lock(&self.table)
                .iter()
                .map(|(a, m)| (a.clone(), m.values().cloned().collect()))
                .collect(),
        };
        let written = serde_json::to_vec_pretty(&contents)
            .map_err(std::io::Error::other)
            .and_then(|mut bytes| {
                bytes.push(b'\n');
                crate::output::Atomic::STATE.write(&self.path, &bytes)
            });
        if let Err(e) = written {
            tracing::error!(
                "activitypub: cannot write {}: {e} (the followers are kept in memory)",
                self.path.display()
            );
        }
    }
}

impl super::FollowerCount for Followers {
    fn followers(&self, actor: &str) -> usize {
        self.count(actor)
    }
}

/// Moves an unreadable state file aside, and says so.
pub(super) fn set_aside(path: &Path, why: &str) {
    let aside = path.with_extension("json.corrupt");
    match std::fs::rename(path, &aside) {
        Ok(()) => tracing::error!(
            "activitypub: {}: {why}; moved to {} and starting without it",
            path.display(),
            aside.display()
        ),
        Err(e) => tracing::error!(
            "activitypub: {}: {why}; starting without it (and it could not be moved aside: {e})",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follower(id: &str, shared: Option<&str>) -> Follower {
        Follower {
            id: format!("https://{id}"),
            inbox: format!("https://{id}/inbox"),
            shared_inbox: shared.map(str::to_owned),
            follow_id: Some(format!("https://{id}#follow")),
        }
    }

    const SITE: &str = "https://example.com/ap/site";
    const RUST: &str = "https://example.com/ap/tags/rust";

    #[test]
    fn follows_survive_a_restart_and_inboxes_are_shared() {
        let dir = tempfile::tempdir().unwrap();
        let f = Followers::load(dir.path());
        let shared = Some("https://m.example/inbox");
        assert_eq!(f.add(SITE, follower("m.example/a", shared)), Ok(true));
        assert_eq!(f.add(SITE, follower("m.example/a", shared)), Ok(false));
        assert_eq!(f.add(RUST, follower("m.example/b", shared)), Ok(true));
        assert_eq!(f.add(RUST, follower("p.example/c", None)), Ok(true));
        assert_eq!(f.count(SITE), 1);
        assert_eq!(f.count(RUST), 2);
        let all: Vec<String> = f.inboxes([SITE, RUST]).into_iter().collect();
        assert_eq!(
            all,
            ["https://m.example/inbox", "https://p.example/c/inbox"]
        );

        let again = Followers::load(dir.path());
        assert_eq!(again.count(SITE), 1);
        assert_eq!(again.count(RUST), 2);
        assert_eq!(again.remove_follow("https://p.example/c", "x"), None);
        assert_eq!(
            again.remove_follow("https://p.example/c", "https://p.example/c#follow"),
            Some(RUST.to_owned())
        );
        assert!(!again.remove(RUST, "https://p.example/c"));
        assert_eq!(again.remove_everywhere("https://m.example/a"), 1);
        assert_eq!(Followers::load(dir.path()).count(RUST), 1);
        assert_eq!(again.remove_inbox("https://m.example/inbox"), 1);
        assert_eq!(Followers::load(dir.path()).count(RUST), 0);
    }

    #[test]
    fn an_unreadable_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{ not json").unwrap();
        let f = Followers::load(dir.path());
        assert_eq!(f.count(SITE), 0);
        assert!(dir.path().join(format!("{FILE_NAME}.corrupt")).exists());
        f.add(SITE, follower("a.example/x", None)).unwrap();
        assert_eq!(Followers::load(dir.path()).count(SITE), 1);
    }
}
