//! Archive pages rendered on request (`serve` keeps no archive files): the pages kept for the
//! next request and the validators every page was served with, so that a page keeps its ETag
//! and `Last-Modified` for as long as its bytes stay the same — across restarts too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::cache::{ByteCache, Cost};
use super::Document;

/// Rendered archive pages kept for the next request, and the validators every page served
/// so far was sent with.
///
/// A page is valid while it was rendered from the current version of its scope (each
/// republish takes a new snapshot, with a new version, of the scopes it touched). A stale page is rendered again; when its
/// bytes came out the same it keeps its document — ETag, `Last-Modified` and compressed
/// forms — and when they differ its `Last-Modified` becomes the time of that change. The bytes
/// are bounded ([`PageCache::MAX_BYTES`]); the validators (a few dozen bytes
/// a page) are kept for every page, so an evicted page comes back with the same ones.
pub struct PageCache {
    pages: ByteCache<String, Cached>,
    seen: HashMap<String, (u128, SystemTime)>,
    /// `seen` changed since it was last saved.
    dirty: bool,
}

/// Why the validators file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
}

/// Validators taken to be saved.
pub struct Unsaved(SavedValidators);

impl Unsaved {
    /// Writes them to `path`, atomically and durably.
    pub fn write(self, path: &std::path::Path) -> Result<(), StateError> {
        let at = || path.to_owned();
        let bytes = serde_json::to_vec(&self.0)
            .map_err(|source| StateError::Json { path: at(), source })?;
        crate::output::Atomic::STATE
            .write(path, &bytes)
            .map(|_| ())
            .map_err(|source| StateError::Io { path: at(), source })
    }
}

/// The source of archive pages: far more bytes than the subscription documents (every post,
/// in every scope, in every format), so they are rendered when asked for and cached.
pub trait Archives: Send + Sync {
    /// The archive page at `route`, if there is one. May block while it is rendered.
    fn get(&self, route: &str) -> Option<Arc<Document>>;
    /// The browser view (HTML) of the feed at `route`, a subscription document or an archive
    /// page, if there is such a feed. May block while it is rendered.
    fn view(&self, route: &str) -> Option<Arc<Document>>;
}

/// The validators file: every archive page's content hash and `Last-Modified`, so that after a
/// restart a page whose bytes changed meanwhile gets a new `Last-Modified` (and one that did
/// not keeps its old one) even though `serve` keeps no archive files on disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedValidators {
    version: u32,
    /// Route → (hex content hash, Last-Modified in Unix seconds).
    pages: std::collections::BTreeMap<String, (String, u64)>,
}

#[derive(Clone)]
struct Cached {
    doc: Arc<Document>,
    version: u64,
}

impl Cost for Cached {
    fn cost(&self) -> usize {
        self.doc.cost()
    }
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            pages: ByteCache::new(Self::MAX_BYTES, 64 << 10),
            seen: HashMap::new(),
            dirty: false,
        }
    }
}

/// What the cache knows about a page before it is rendered.
pub enum Lookup {
    /// Current: serve it.
    Fresh(Arc<Document>),
    /// Render it, then [`PageCache::insert`] it.
    Render,
}

impl PageCache {
    /// Bytes of rendered pages kept at most.
    pub const MAX_BYTES: usize = 16 * 1024 * 1024;

    /// The cached page at `route`, if it was rendered from `version` of its scope.
    pub fn lookup(&self, route: &str, version: u64) -> Lookup {
        match self.pages.get(&route.to_owned()) {
            Some(c) if c.version == version => Lookup::Fresh(c.doc),
            _ => Lookup::Render,
        }
    }

    /// Keeps a freshly rendered page (`make` builds its document from the `Last-Modified` to
    /// send) and returns the document to serve: the previous one when the bytes are the same.
    pub fn insert(
        &mut self,
        route: &str,
        version: u64,
        bytes: &[u8],
        first_seen: SystemTime,
        make: impl FnOnce(SystemTime) -> Document,
    ) -> Arc<Document> {
        let hash = super::content_hash(bytes);
        let key = route.to_owned();
        if let Some(c) = self.pages.peek(&key) {
            if c.doc.hash == hash {
                let doc = Arc::clone(&c.doc);
                self.pages.insert(
                    key,
                    Cached {
                        doc: Arc::clone(&doc),
                        version,
                    },
                );
                return doc;
            }
        }
        let last_modified = match self.seen.get(route) {
            Some((h, t)) if *h == hash => *t,
            // Served before with other bytes: they changed now.
            Some(_) => SystemTime::now(),
            None => first_seen,
        };
        let doc = Arc::new(make(last_modified));
        if self.seen.get(route) != Some(&(hash, doc.last_modified)) {
            self.seen
                .insert(route.to_owned(), (hash, doc.last_modified));
            self.dirty = true;
        }
        self.pages.insert(
            key,
            Cached {
                doc: Arc::clone(&doc),
                version,
            },
        );
        doc
    }

    /// The page last rendered at `route`, current or not (the last good version, when
    /// rendering it again failed).
    pub fn last_good(&self, route: &str) -> Option<Arc<Document>> {
        self.pages.peek(&route.to_owned()).map(|c| c.doc)
    }

    /// Forgets a page that no longer exists.
    pub fn remove(&mut self, route: &str) {
        self.pages.remove(&route.to_owned());
    }

    /// Reads the validators saved by an earlier run (a missing file is a first run).
    pub fn load_validators(&mut self, path: &std::path::Path) -> Result<(), StateError> {
        let at = || path.to_owned();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(StateError::Io { path: at(), source }),
        };
        let saved: SavedValidators = serde_json::from_slice(&bytes)
            .map_err(|source| StateError::Json { path: at(), source })?;
        for (route, (hex, secs)) in saved.pages {
            if let Ok(hash) = u128::from_str_radix(&hex, 16) {
                let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
                self.seen.insert(route, (hash, t));
            }
        }
        Ok(())
    }

    /// Pages and bytes held.
    #[cfg(test)]
    pub fn held(&self) -> (usize, usize) {
        self.pages.held()
    }

    /// Writes the validators if they changed since the last save (atomically).
    #[cfg(test)]
    pub fn save_validators(&mut self, path: &std::path::Path) -> Result<(), StateError> {
        match self.unsaved() {
            Some(saved) => saved.write(path),
            None => Ok(()),
        }
    }

    /// The validators to save, if they changed since the last call: taken under the caller's
    /// lock, written after it is released ([`Unsaved::write`]).
    pub fn unsaved(&mut self) -> Option<Unsaved> {
        if !self.dirty {
            return None;
        }
        // Tried once per change: a state directory that cannot be written is reported, not
        // retried every second.
        self.dirty = false;
        Some(Unsaved(SavedValidators {
            version: 1,
            pages: self
                .seen
                .iter()
                .map(|(route, (hash, t))| {
                    let secs = t
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    (route.clone(), (format!("{hash:032x}"), secs))
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Format;
    use crate::feed::paging::route;
    use crate::site::Scope;
    #[test]
    fn cached_pages_keep_their_validators_until_their_bytes_change() {
        use std::time::{Duration, UNIX_EPOCH};
        let route = "/archive/1/rss.xml";
        let doc = |bytes: &'static [u8]| {
            move |t| Document::new("t", bytes::Bytes::from_static(bytes), t, None)
        };
        let first_seen = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut cache = PageCache::default();
        assert!(matches!(cache.lookup(route, 1), Lookup::Render));
        let a = cache.insert(route, 1, b"one", first_seen, doc(b"one"));
        assert_eq!(a.last_modified, first_seen);
        assert!(matches!(cache.lookup(route, 1), Lookup::Fresh(d) if Arc::ptr_eq(&d, &a)));
        // A new version of its scope: rendered again.
        assert!(matches!(cache.lookup(route, 2), Lookup::Render));
        // Rendered again to the same bytes: the same document (validators, compressed forms).
        let again = cache.insert(route, 2, b"one", SystemTime::now(), doc(b"one"));
        assert!(Arc::ptr_eq(&again, &a));
        assert!(matches!(cache.lookup(route, 2), Lookup::Fresh(_)));
        // Other bytes: Last-Modified is the time of the change, not the first-seen time.
        let before = crate::store::document::whole_seconds(SystemTime::now());
        let b = cache.insert(route, 3, b"two", first_seen, doc(b"two"));
        assert!(b.last_modified >= before);
        assert_ne!(b.hash, a.hash);
        // Evicted and rendered again with the same bytes: the validators it was served with.
        cache.remove(route);
        assert_eq!(cache.held(), (0, 0));
        let c = cache.insert(route, 3, b"two", first_seen, doc(b"two"));
        assert_eq!(c.last_modified, b.last_modified);
    }

    #[test]
    fn validators_survive_a_restart() {
        use std::time::{Duration, UNIX_EPOCH};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/archive-validators.json");
        let route = "/tags/厦门/archive/2/feed.json";
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut cache = PageCache::default();
        cache.save_validators(&path).unwrap();
        assert!(!path.exists(), "nothing to save yet");
        let make =
            |b: &'static [u8]| move |t| Document::new("t", bytes::Bytes::from_static(b), t, None);
        cache.insert(route, 1, b"v1", t0, make(b"v1"));
        cache.save_validators(&path).unwrap();
        // The next run: same bytes → the same Last-Modified, whatever the fallback says.
        let mut next = PageCache::default();
        next.load_validators(&path).unwrap();
        let later = t0 + Duration::from_secs(99);
        let d = next.insert(route, 1, b"v1", later, make(b"v1"));
        assert_eq!(d.last_modified, t0);
        // Other bytes than the last run served: changed now, not at the fallback time.
        let mut third = PageCache::default();
        third.load_validators(&path).unwrap();
        let d = third.insert(route, 1, b"v2", t0, make(b"v2"));
        assert!(d.last_modified > t0);
        // A corrupt file is an error, not a panic.
        std::fs::write(&path, b"{not json").unwrap();
        assert!(PageCache::default().load_validators(&path).is_err());
        // An unwritable place is reported once per change, not on every later call.
        let blocked = dir.path().join("file-not-dir");
        std::fs::write(&blocked, b"x").unwrap();
        let target = blocked.join("archive-validators.json");
        third.insert(route, 1, b"v3", t0, make(b"v3"));
        assert!(third.save_validators(&target).is_err());
        assert!(
            third.save_validators(&target).is_ok(),
            "nothing new to save"
        );
    }

    #[test]
    fn the_cache_holds_a_bounded_number_of_bytes() {
        let mut cache = PageCache::default();
        let page = vec![b'x'; PageCache::MAX_BYTES / 64];
        for k in 1..=200 {
            let route = route(&Scope::All, k, Format::Rss);
            let bytes = bytes::Bytes::from(page.clone());
            cache.insert(&route, 1, &bytes, SystemTime::now(), |t| {
                Document::new("t", bytes.clone(), t, None)
            });
            assert!(cache.held().1 <= PageCache::MAX_BYTES);
        }
        assert!((32..64).contains(&cache.held().0), "{:?}", cache.held());
        assert!(cache
            .last_good(&route(&Scope::All, 200, Format::Rss))
            .is_some());
        // Every page's validators are kept, held or not.
        assert_eq!(cache.seen.len(), 200);
    }
}
