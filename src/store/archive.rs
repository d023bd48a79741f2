//! Archive pages rendered on request (`serve` keeps no archive files): the pages kept for the
//! next request. A page's `Last-Modified` is read off its content (`feed::modified`), so it is
//! the same after a restart, and in every replica, with nothing saved for it.

use std::sync::Arc;

use super::cache::{ByteCache, Cost};
use super::Document;

/// Rendered archive pages kept for the next request.
///
/// A page is valid while it was rendered from the current version of its scope (each
/// republish takes a new snapshot, with a new version, of the scopes it touched). A stale page
/// is rendered again; when it came out the same (bytes and `Last-Modified`) it keeps its
/// document, compressed forms included. The bytes are bounded ([`PageCache::MAX_BYTES`]).
pub struct PageCache {
    pages: ByteCache<String, Cached>,
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

    /// Keeps a freshly rendered page and returns the document to serve: the previous one
    /// (with its compressed forms) when it has the same bytes and `Last-Modified`.
    pub fn insert(&mut self, route: &str, version: u64, doc: Document) -> Arc<Document> {
        let key = route.to_owned();
        let doc = match self.pages.peek(&key) {
            Some(c) if c.doc.hash == doc.hash && c.doc.last_modified == doc.last_modified => {
                Arc::clone(&c.doc)
            }
            _ => Arc::new(doc),
        };
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

    /// Pages and bytes held.
    #[cfg(test)]
    pub fn held(&self) -> (usize, usize) {
        self.pages.held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Format;
    use crate::feed::paging::route;
    use crate::site::Scope;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn doc(bytes: &'static [u8], t: SystemTime) -> Document {
        Document::new("t", bytes::Bytes::from_static(bytes), t, None)
    }

    #[test]
    fn a_page_rendered_the_same_keeps_its_document() {
        let route = "/archive/1/rss.xml";
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut cache = PageCache::default();
        assert!(matches!(cache.lookup(route, 1), Lookup::Render));
        let a = cache.insert(route, 1, doc(b"one", t0));
        assert_eq!(a.last_modified, t0);
        assert!(matches!(cache.lookup(route, 1), Lookup::Fresh(d) if Arc::ptr_eq(&d, &a)));
        // A new version of its scope: rendered again.
        assert!(matches!(cache.lookup(route, 2), Lookup::Render));
        // The same bytes and time: the same document (validators, compressed forms).
        let again = cache.insert(route, 2, doc(b"one", t0));
        assert!(Arc::ptr_eq(&again, &a));
        assert!(matches!(cache.lookup(route, 2), Lookup::Fresh(_)));
        // Other bytes, or the same bytes at a later time (a post's file touched): a new one.
        let b = cache.insert(route, 3, doc(b"two", t0));
        assert_ne!(b.hash, a.hash);
        let t1 = t0 + Duration::from_secs(5);
        let c = cache.insert(route, 4, doc(b"two", t1));
        assert!(!Arc::ptr_eq(&b, &c));
        assert_eq!(c.last_modified, t1);
    }

    #[test]
    fn the_cache_holds_a_bounded_number_of_bytes() {
        let mut cache = PageCache::default();
        let page = vec![b'x'; PageCache::MAX_BYTES / 64];
        for k in 1..=200 {
            let route = route(&Scope::All, k, Format::Rss);
            let bytes = bytes::Bytes::from(page.clone());
            cache.insert(
                &route,
                1,
                Document::new("t", bytes, SystemTime::now(), None),
            );
            assert!(cache.held().1 <= PageCache::MAX_BYTES);
        }
        assert!((32..64).contains(&cache.held().0), "{:?}", cache.held());
        assert!(cache
            .last_good(&route(&Scope::All, 200, Format::Rss))
            .is_some());
    }
}
