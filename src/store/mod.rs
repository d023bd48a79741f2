//! The store: every published document by route, with the validators the server sends — a
//! strong `ETag` from the bytes and a `Last-Modified` that moves only when the bytes do — and
//! its compressed forms, computed on first request and kept while they fit in a byte budget
//! ([`Forms`], owned by the server's state).
//!
//! A store is immutable; a rebuild makes a new one and swaps it in whole (`arc-swap`), so a
//! request sees the old set or the new set, never a mix. Documents whose bytes did not change
//! are carried over as the same `Arc`, keeping their `Last-Modified` and compressed bytes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

pub mod archive;
mod asset;
pub mod cache;
mod document;
mod encodings;
mod forms;
pub mod route;

pub use asset::{Asset, FileAsset};
pub use document::{
    content_hash, etag_for, link_header, Document, Lazy, Render, RenderedPages, Representation,
};
pub use encodings::{compress, Coding};
pub use forms::Forms;

use crate::render::Doc;
use document::whole_seconds;

/// How many shards the store is split into.
const SHARDS: usize = 256;

/// Every published document by decoded route.
///
/// The map is split into shards behind `Arc`s: the next store shares every shard a republish
/// did not touch, so swapping in an edit costs the few shards it changed, not a copy of every
/// post page of the site.
#[derive(Debug, Clone)]
pub struct Store {
    shards: Vec<Arc<HashMap<String, Arc<Document>>>>,
    /// Documents whose bytes are not kept (post pages), sharded the same way.
    lazy: Vec<Arc<HashMap<String, Lazy>>>,
    /// Post assets, looked up after the documents: far fewer than post pages, and changed
    /// one file at a time.
    assets: Arc<HashMap<String, Asset>>,
    /// Routes of deleted posts' pages: `410 Gone` rather than 404 while their tombstone lasts
    /// (see `crate::site::deleted`). A route that has a document again is not gone.
    gone: Arc<std::collections::BTreeSet<String>>,
    len: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            shards: (0..SHARDS).map(|_| Arc::new(HashMap::new())).collect(),
            lazy: (0..SHARDS).map(|_| Arc::new(HashMap::new())).collect(),
            assets: Arc::new(HashMap::new()),
            gone: Arc::default(),
            len: 0,
        }
    }
}

fn shard_of(route: &str) -> usize {
    // Fixed hash (not per-process random): shard choice is a pure function of the route.
    (xxhash_rust::xxh3::xxh3_64(route.as_bytes()) % SHARDS as u64) as usize
}

impl Store {
    /// Looks a decoded route up among the documents whose bytes are kept.
    pub fn get(&self, route: &str) -> Option<&Arc<Document>> {
        self.shards[shard_of(route)].get(route)
    }

    /// Looks a decoded route up among the lazy documents.
    pub fn lazy(&self, route: &str) -> Option<&Lazy> {
        self.lazy[shard_of(route)].get(route)
    }

    /// The document at a route, kept or lazy.
    pub fn document(&self, route: &str) -> Option<Arc<Document>> {
        self.get(route)
            .cloned()
            .or_else(|| self.lazy(route).map(|l| Arc::new(Document::from_lazy(l))))
    }

    /// Adds or replaces a lazy document.
    pub fn put_lazy(&mut self, route: String, entry: Lazy) {
        let i = shard_of(&route);
        if Arc::make_mut(&mut self.lazy[i])
            .insert(route, entry)
            .is_none()
        {
            self.len += 1;
        }
    }

    /// Looks a decoded route up among the assets (a document at the same route wins: look
    /// it up first).
    pub fn asset(&self, route: &str) -> Option<&Asset> {
        self.assets.get(route)
    }

    /// Adds, replaces and removes assets.
    pub fn update_assets(
        &mut self,
        upserts: impl IntoIterator<Item = (String, Asset)>,
        removals: impl IntoIterator<Item = String>,
    ) {
        let assets = Arc::make_mut(&mut self.assets);
        for route in removals {
            assets.remove(&route);
        }
        assets.extend(upserts);
    }

    /// Sets the routes that answer `410 Gone` (the publisher's tombstones).
    pub fn set_gone(&mut self, routes: impl IntoIterator<Item = String>) {
        self.gone = Arc::new(routes.into_iter().collect());
    }

    /// Whether `route` was a deleted post's page and nothing else is there now.
    pub fn is_gone(&self, route: &str) -> bool {
        self.gone.contains(route)
            && self.get(route).is_none()
            && self.lazy(route).is_none()
            && self.asset(route).is_none()
    }

    /// How many assets there are.
    pub fn assets_len(&self) -> usize {
        self.assets.len()
    }

    /// Documents (assets aside).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the documents whose bytes are kept (identity forms; post pages are rendered
    /// on request and not counted), for the metrics.
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| s.values())
            .map(|d| d.identity.bytes.len())
            .sum()
    }

    /// Routes in order (for logs and tests).
    pub fn routes(&self) -> Vec<&str> {
        let mut r: Vec<&str> = self
            .shards
            .iter()
            .flat_map(|s| s.keys().map(String::as_str))
            .chain(self.lazy.iter().flat_map(|s| s.keys().map(String::as_str)))
            .collect();
        r.sort_unstable();
        r
    }

    fn shard_mut(&mut self, route: &str) -> &mut HashMap<String, Arc<Document>> {
        Arc::make_mut(&mut self.shards[shard_of(route)])
    }

    /// Builds the next store from `prev`: `removals` leave, `upserts` come in.
    ///
    /// A document's `Last-Modified` is the time its content says ([`Doc::modified`]), never
    /// later than `now`. An upserted document with the same bytes and time as the previous
    /// store's is carried over as the same `Arc` (compressed forms kept).
    pub fn update(
        prev: &Store,
        upserts: impl IntoIterator<Item = (String, Doc)>,
        removals: impl IntoIterator<Item = String>,
        link_of: impl Fn(&str) -> Option<String>,
        now: SystemTime,
    ) -> Store {
        let mut next = prev.clone();
        for route in removals {
            let i = shard_of(&route);
            let removed = next.shard_mut(&route).remove(&route).is_some()
                || (next.lazy[i].contains_key(&route)
                    && Arc::make_mut(&mut next.lazy[i]).remove(&route).is_some());
            if removed {
                next.len -= 1;
            }
        }
        for (route, doc) in upserts {
            let hash = content_hash(&doc.bytes);
            // Never later than now (RFC 9110 §8.8.2.1): a document of a future-`updated` post
            // would otherwise answer 304 to every later revalidation.
            let time = whole_seconds(doc.modified.min(now));
            let document = match prev.get(&route) {
                Some(old)
                    if old.hash == hash
                        && old.content_type == doc.content_type
                        && old.last_modified == time =>
                {
                    Arc::clone(old)
                }
                _ => {
                    let link = link_of(&route);
                    Arc::new(Document::new(doc.content_type, doc.bytes, time, link))
                }
            };
            if next.shard_mut(&route).insert(route, document).is_none() {
                next.len += 1;
            }
        }
        next
    }

    /// Builds the next store holding exactly `docs` (see [`Store::update`]).
    pub fn next(
        prev: &Store,
        docs: impl IntoIterator<Item = (String, Doc)>,
        link_of: impl Fn(&str) -> Option<String>,
        now: SystemTime,
    ) -> Store {
        let docs: Vec<_> = docs.into_iter().collect();
        let keep: std::collections::HashSet<&str> = docs.iter().map(|d| d.0.as_str()).collect();
        let removals: Vec<String> = prev
            .shards
            .iter()
            .flat_map(|s| s.keys())
            .filter(|r| !keep.contains(r.as_str()))
            .cloned()
            .collect();
        Store::update(prev, docs, removals, link_of, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::{Duration, UNIX_EPOCH};
    #[test]
    fn lazy_documents_keep_validators_not_bytes() {
        let raw = Bytes::from("<p>港口</p>".repeat(300));
        let stored = Document::new("text/html; charset=utf-8", raw.clone(), UNIX_EPOCH, None);
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r2, n) = (raw.clone(), Arc::clone(&renders));
        let render: Render = Arc::new(move || {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            r2.clone()
        });
        let mut store = Store::default();
        store.put_lazy(
            "/p.html".into(),
            Lazy::new("text/html; charset=utf-8", &raw, UNIX_EPOCH, render),
        );
        assert_eq!(store.len(), 1);
        assert_eq!(store.routes(), ["/p.html"]);
        assert!(store.get("/p.html").is_none(), "not a kept document");
        let lazy = store.document("/p.html").unwrap();
        assert!(lazy.is_lazy() && lazy.identity.bytes.is_empty());
        assert_eq!(lazy.len(), raw.len());
        assert_eq!(lazy.identity.etag(), stored.identity.etag());
        assert_eq!(lazy.last_modified, stored.last_modified);
        assert_eq!(lazy.last_modified_header, stored.last_modified_header);
        // Validators without rendering.
        let forms = Forms::new(1 << 20);
        for coding in [Coding::Identity, Coding::Gzip, Coding::Brotli, Coding::Zstd] {
            let (c, etag) = forms.etag_header(&lazy, coding);
            assert_eq!(c, coding);
            assert_eq!(etag, forms.etag_header(&stored, coding).1, "{coding:?}");
        }
        assert_eq!(renders.load(std::sync::atomic::Ordering::Relaxed), 0);
        // Bytes rendered per response, compressed as asked.
        assert_eq!(forms.body(&lazy, Coding::Identity), raw);
        let gz = forms.body(&lazy, Coding::Gzip);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, raw);
        assert_eq!(renders.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Removed like any document.
        let next = Store::update(
            &store,
            [],
            ["/p.html".to_owned()],
            |_| None,
            SystemTime::now(),
        );
        assert!(next.document("/p.html").is_none() && next.is_empty());
    }

    #[test]
    fn a_gone_route_is_gone_until_something_is_published_there() {
        let doc = Doc {
            content_type: "text/html",
            bytes: Bytes::from_static(b"back"),
            modified: UNIX_EPOCH,
        };
        let mut store = Store::default();
        store.set_gone(["/p.html".to_owned()]);
        assert!(store.is_gone("/p.html"));
        assert!(!store.is_gone("/q.html"));
        let back = Store::update(&store, [("/p.html".into(), doc)], [], |_| None, UNIX_EPOCH);
        assert!(
            !back.is_gone("/p.html"),
            "a document there again is not gone"
        );
    }

    #[test]
    fn documents_are_dated_by_their_content_and_unchanged_ones_carry_over() {
        let t1 = UNIX_EPOCH + Duration::from_secs(1000);
        let t2 = UNIX_EPOCH + Duration::from_secs(2000);
        let doc = |b: &str, modified| Doc {
            content_type: "text/plain",
            bytes: Bytes::from(b.as_bytes().to_vec()),
            modified,
        };
        let now = UNIX_EPOCH + Duration::from_secs(5000);
        let s1 = Store::next(
            &Store::default(),
            [("/a".into(), doc("a", t1)), ("/b".into(), doc("b", t1))],
            |_| None,
            now,
        );
        assert_eq!(s1.get("/a").unwrap().last_modified, t1);
        let s2 = Store::next(
            &s1,
            [
                ("/a".into(), doc("a", t1)),
                ("/b".into(), doc("b2", t2)),
                // Dated after now: now.
                ("/c".into(), doc("c", now + Duration::from_secs(60))),
            ],
            |_| None,
            now,
        );
        assert!(Arc::ptr_eq(s1.get("/a").unwrap(), s2.get("/a").unwrap()));
        assert_eq!(s2.get("/b").unwrap().last_modified, t2);
        assert_eq!(s2.get("/c").unwrap().last_modified, now);
        // The same bytes at a later time (a post's file touched): a new Last-Modified.
        let s3 = Store::next(&s2, [("/a".into(), doc("a", t2))], |_| None, now);
        assert_eq!(s3.get("/a").unwrap().last_modified, t2);
        assert_eq!(s3.get("/a").unwrap().hash, s1.get("/a").unwrap().hash);
    }
}
