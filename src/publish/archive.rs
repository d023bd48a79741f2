//! RFC 5005 archive pages in `serve`: rendered on request, from a snapshot of the scopes'
//! posts that the publisher swaps in with each store, never from its live listing — so a
//! request for an archive page never waits for a republish, and a republish never waits for
//! one. Rendered pages are kept in the byte-budgeted page cache, with their validators.
//!
//! A snapshot holds, for each scope that has archive pages, its posts oldest first (shared
//! `Arc`s of the posts, no copies) in chunks of [`CHUNK`], and a version. A republish takes a
//! new snapshot of only the scopes it touched, and of those only the chunks that changed: a
//! chunk whose posts are the same `Arc`s is shared with the previous snapshot. An edit at a
//! site of 100,000 posts thus costs a walk of its scopes' listings (pointer comparisons), not a
//! copy of them. Scopes that did not change keep their version, and their cached pages stay
//! current.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use chrono::Utc;
use hyper::header::HeaderValue;

use crate::feed::{modified, paging, FeedSpec, ScopePosts, SiteMeta};
use crate::post::Post;
use crate::render::{self, Fragments};
use crate::site::listing::Key;
use crate::site::{Listing, Scope};
use crate::store::archive::{Archives, Lookup, PageCache};
use crate::store::{link_header, Document};

/// Posts per chunk of a snapshot.
const CHUNK: usize = 256;

/// One scope's posts as they were when the snapshot was taken.
struct ScopeView {
    /// Changes whenever the scope's posts (or their order, or the term's name) did.
    version: u64,
    /// The term as written (`None` for all posts).
    term: Option<String>,
    /// Posts in the scope.
    len: usize,
    /// When a post last left the scope (part of its documents' `Last-Modified`).
    removed: SystemTime,
    /// When the scope last changed: its newest post time, or `removed` if later
    /// (`feed::modified`), for documents made of the whole scope (an actor's outbox).
    modified: SystemTime,
    /// Oldest first, [`CHUNK`] posts a chunk (the last one may hold fewer).
    chunks: Vec<Arc<[Arc<Post>]>>,
}

impl ScopeView {
    /// The view after the posts at `changed` were edited in place: each one that is in the
    /// scope found where it was (same date, same path) and its chunk copied with the new
    /// version. `None` when that does not describe the change (a post came, went or moved:
    /// the scope is walked instead); `Some(None)` when nothing in the scope changed.
    fn patched(
        &self,
        listing: &Listing,
        scope: &Scope,
        changed: &BTreeSet<PathBuf>,
        version: impl FnOnce() -> u64,
    ) -> Option<Option<ScopeView>> {
        let term = listing.term(scope).map(|t| t.name.clone());
        if listing.scope_len(scope) != self.len || term != self.term {
            return None;
        }
        let removed = modified::removed_from(&listing.tombstones, scope);
        let mut chunks = self.chunks.clone();
        let mut any = removed != self.removed;
        for source in changed {
            let Some(post) = listing.get(source) else {
                continue;
            };
            if !listing.in_scope(post, scope) {
                continue;
            }
            let i = self.find(Key::order(post))?;
            let (c, j) = (i / CHUNK, i % CHUNK);
            if chunks
                .get(c)
                .and_then(|c| c.get(j))
                .is_none_or(|old| Arc::ptr_eq(old, post))
            {
                continue;
            }
            let mut copy: Vec<Arc<Post>> = chunks[c].to_vec();
            copy[j] = Arc::clone(post);
            chunks[c] = copy.into();
            any = true;
        }
        let newest = changed
            .iter()
            .filter_map(|source| listing.get(source))
            .filter(|post| listing.in_scope(post, scope))
            .map(|post| modified::post_time(post))
            .fold(self.modified.max(removed), SystemTime::max);
        let any = any || newest != self.modified;
        Some(any.then(|| ScopeView {
            version: version(),
            term,
            len: self.len,
            removed,
            modified: newest,
            chunks,
        }))
    }

    /// The index of the post that sorts at `order` (oldest first, so keys descend), if there
    /// is one.
    fn find(
        &self,
        order: (std::cmp::Reverse<chrono::DateTime<Utc>>, &std::path::Path),
    ) -> Option<usize> {
        let at = |i: usize| self.chunks.get(i / CHUNK)?.get(i % CHUNK);
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match Key::order(at(mid)?).cmp(&order) {
                std::cmp::Ordering::Equal => return Some(mid),
                // Oldest first: a key greater than `order` (an older post) comes first.
                std::cmp::Ordering::Greater => lo = mid + 1,
                std::cmp::Ordering::Less => hi = mid,
            }
        }
        None
    }

    /// The scope's posts in `listing`, sharing every chunk that did not change with `old`;
    /// `None` when nothing changed (the old view stays, with its version).
    fn take(
        listing: &Listing,
        scope: &Scope,
        old: Option<&ScopeView>,
        version: impl FnOnce() -> u64,
    ) -> Option<ScopeView> {
        let term = listing.term(scope).map(|t| t.name.clone());
        let removed = modified::removed_from(&listing.tombstones, scope);
        let mut chunks: Vec<Arc<[Arc<Post>]>> = Vec::new();
        let mut changed = old.is_none_or(|o| o.term != term || o.removed != removed);
        let mut part: Vec<&Arc<Post>> = Vec::with_capacity(CHUNK);
        let mut len = 0;
        let mut close = |part: &mut Vec<&Arc<Post>>, chunks: &mut Vec<Arc<[Arc<Post>]>>| {
            let same = old.and_then(|o| o.chunks.get(chunks.len())).filter(|c| {
                c.len() == part.len() && c.iter().zip(part.iter()).all(|(a, b)| Arc::ptr_eq(a, b))
            });
            match same {
                Some(c) => chunks.push(Arc::clone(c)),
                None => {
                    changed = true;
                    chunks.push(part.iter().map(|p| Arc::clone(p)).collect());
                }
            }
            part.clear();
        };
        let mut newest = removed.max(modified::of_nothing());
        for post in listing.scope_oldest_first(scope) {
            newest = newest.max(modified::post_time(post));
            part.push(post);
            len += 1;
            if part.len() == CHUNK {
                close(&mut part, &mut chunks);
            }
        }
        if !part.is_empty() {
            close(&mut part, &mut chunks);
        }
        let changed = changed || old.is_some_and(|o| o.chunks.len() != chunks.len());
        let changed = changed || old.is_some_and(|o| o.modified != newest);
        changed.then(|| ScopeView {
            version: version(),
            term,
            len,
            removed,
            modified: newest,
            chunks,
        })
    }

    /// `take` posts after skipping `skip` from the oldest, newest first (an archive page).
    fn page(&self, skip: usize, take: usize) -> Vec<&Post> {
        let mut page: Vec<&Post> = (skip..(skip + take).min(self.len))
            .filter_map(|i| self.chunks.get(i / CHUNK)?.get(i % CHUNK))
            .map(Arc::as_ref)
            .collect();
        page.reverse();
        page
    }
}

/// The scopes with archive pages, as of one publish.
#[derive(Default)]
struct Snapshot {
    scopes: HashMap<Scope, Arc<ScopeView>>,
}

/// The archive pages of a site being served.
pub struct ArchivePages {
    meta: Arc<SiteMeta>,
    snapshot: ArcSwap<Snapshot>,
    cache: Mutex<PageCache>,
    /// `Cache-Control` of archive pages (`server.archive_max_age`): they change rarely.
    cache_control: HeaderValue,
    versions: AtomicU64,
}

impl ArchivePages {
    /// The archive pages of `listing`'s scopes, sent with `cache_control`
    /// (`server.archive_max_age` and the shared caches' directives).
    pub fn new(meta: Arc<SiteMeta>, listing: &Listing, cache_control: HeaderValue) -> ArchivePages {
        let cache = PageCache::default();
        let pages = ArchivePages {
            meta,
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            cache: Mutex::new(cache),
            cache_control,
            versions: AtomicU64::new(0),
        };
        pages.update(listing, listing.scopes(), &BTreeSet::new());
        pages
    }

    /// Takes a new snapshot of `scopes` (those a republish touched, for the posts at
    /// `changed`) from `listing`, sharing every other scope's with the current snapshot, and
    /// swaps it in.
    pub fn update(
        &self,
        listing: &Listing,
        scopes: impl IntoIterator<Item = Scope>,
        changed: &BTreeSet<PathBuf>,
    ) {
        let started = std::time::Instant::now();
        let touched: BTreeSet<Scope> = scopes.into_iter().collect();
        if touched.is_empty() {
            return;
        }
        let n = touched.len();
        let mut next: HashMap<Scope, Arc<ScopeView>> = self.snapshot.load().scopes.clone();
        for scope in touched {
            // Every scope is kept, with archive pages or not: its browser view comes from here
            // too. A term with no posts left is gone.
            if scope != Scope::All && !listing.has_scope(&scope) {
                next.remove(&scope);
                continue;
            }
            let old = next.get(&scope).map(Arc::as_ref);
            let version = || self.versions.fetch_add(1, Ordering::Relaxed) + 1;
            // An edit in place (the common case) patches its chunk; anything else walks the
            // scope, sharing the chunks that did not change.
            let view = match old.and_then(|o| o.patched(listing, &scope, changed, version)) {
                Some(patched) => patched,
                None => ScopeView::take(listing, &scope, old, version),
            };
            if let Some(view) = view {
                next.insert(scope, Arc::new(view));
            }
        }
        self.snapshot.store(Arc::new(Snapshot { scopes: next }));
        tracing::debug!(
            "archive pages: snapshot of {n} scopes in {:.2} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    fn cache(&self) -> MutexGuard<'_, PageCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One scope's posts as of the last publish, for readers other than the archive pages (the
/// ActivityPub outboxes): the same snapshot, so no second index of the posts is kept.
#[derive(Clone)]
pub struct ScopeSnapshot(Arc<ScopeView>);

impl ScopeSnapshot {
    /// Posts in the scope.
    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The term as written (`None` for all posts).
    pub fn term(&self) -> Option<&str> {
        self.0.term.as_deref()
    }

    /// Changes whenever the scope's posts did.
    pub fn version(&self) -> u64 {
        self.0.version
    }

    /// When the scope last changed, read off its posts (`feed::modified`): the
    /// `Last-Modified` of documents made of the whole scope.
    pub fn modified(&self) -> SystemTime {
        self.0.modified
    }

    /// `take` posts after skipping the `skip` newest, newest first.
    pub fn newest_first(&self, skip: usize, take: usize) -> Vec<&Post> {
        let len = self.0.len;
        let end = len.saturating_sub(skip);
        let start = end.saturating_sub(take);
        self.0.page(start, end - start)
    }
}

impl ArchivePages {
    /// The posts of `scope` as of the last publish; `None` for a term no post carries.
    pub fn scope(&self, scope: &Scope) -> Option<ScopeSnapshot> {
        let snapshot = self.snapshot.load();
        snapshot.scopes.get(scope).cloned().map(ScopeSnapshot)
    }

    /// Every scope as of the last publish (all posts first, then the terms in order).
    pub fn scopes(&self) -> Vec<Scope> {
        let snapshot = self.snapshot.load();
        let mut scopes: Vec<Scope> = snapshot.scopes.keys().cloned().collect();
        scopes.sort();
        scopes
    }
}

impl Archives for ArchivePages {
    /// The archive page at `route` (RFC 5005), from the cache or rendered now; `None` if
    /// there is no such page. A page that fails its check keeps its last good version.
    fn get(&self, route: &str) -> Option<Arc<Document>> {
        let (scope, page, format) = paging::parse_route(route)?;
        if !self.meta.formats.contains(&format) {
            return None;
        }
        let snapshot = self.snapshot.load_full();
        let Some(view) = snapshot.scopes.get(&scope) else {
            self.cache().remove(route);
            return None;
        };
        if let Lookup::Fresh(doc) = self.cache().lookup(route, view.version) {
            return Some(doc);
        }
        let take_page = |skip: usize, take: usize| view.page(skip, take);
        let posts = ScopePosts {
            term: view.term.as_deref(),
            len: view.len,
            removed: view.removed,
            page: &take_page,
        };
        let Some(spec) = FeedSpec::archive_of(&self.meta, &scope, &posts, format, page) else {
            self.cache().remove(route);
            return None;
        };
        // Archive pages hold the older posts, whose item fragments the publisher does not
        // keep: every item is rendered (and checked) here.
        match render::assemble_spec(&self.meta, &Fragments::default(), &spec, format) {
            Ok((doc, _)) => {
                let link = link_header(&[("self", spec.self_url.clone())]);
                let cache_control = self.cache_control.clone();
                let doc = Document::new(doc.content_type, doc.bytes, doc.modified, link)
                    .with_cache_control(cache_control);
                Some(self.cache().insert(route, view.version, doc))
            }
            Err(e) => {
                tracing::error!("not published {route}: {e} (previous version kept, if any)");
                self.cache().last_good(route)
            }
        }
    }

    /// The browser view of the feed at `route` (a subscription document or an archive page),
    /// from the cache or rendered now; `None` if there is no such feed.
    fn view(&self, route: &str) -> Option<Arc<Document>> {
        let (scope, page, format) = paging::parse_feed_route(route)?;
        if !self.meta.formats.contains(&format) {
            return None;
        }
        let snapshot = self.snapshot.load_full();
        let view = snapshot.scopes.get(&scope)?;
        // Kept beside the archive pages, under a key no route can be.
        let key = format!("view:{route}");
        if let Lookup::Fresh(doc) = self.cache().lookup(&key, view.version) {
            return Some(doc);
        }
        let take_page = |skip: usize, take: usize| view.page(skip, take);
        let posts = ScopePosts {
            term: view.term.as_deref(),
            len: view.len,
            removed: view.removed,
            page: &take_page,
        };
        let spec = match page {
            Some(page) => FeedSpec::archive_of(&self.meta, &scope, &posts, format, page)?,
            None => FeedSpec::current_of(&self.meta, &scope, &posts, format),
        };
        let bytes = bytes::Bytes::from(crate::feed::render_view(&spec, &scope, format));
        let doc = Document::new(render::HTML_TYPE, bytes, modified::of_spec(&spec), None);
        // An archive page's view changes as rarely as the page.
        let doc = match page {
            Some(_) => doc.with_cache_control(self.cache_control.clone()),
            None => doc,
        };
        Some(self.cache().insert(&key, view.version, doc))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use std::path::PathBuf;

    use super::*;
    use crate::config::{Config, Format};
    use crate::post::body::Markup;
    use crate::site::{ListOptions, TermKind};

    fn max_age_60() -> HeaderValue {
        HeaderValue::from_static("public, max-age=60")
    }

    fn post(name: &str, day: u32, tag: &str) -> Arc<Post> {
        let text = format!("---\ntitle: {name}\ndate: 2024-01-{day:02}\ntags: {tag}\n---\nx\n");
        let ctx = Config::default().parse_context();
        let parsed =
            crate::post::parse_post(Path::new(name), text.as_bytes(), Markup::Markdown, &ctx);
        Arc::new(parsed.expect("test post"))
    }

    /// A site of `limit = 2` and pages of 1 post: posts beyond the newest two have pages.
    fn setup(dir: &Path) -> (Arc<SiteMeta>, Listing, ArchivePages) {
        let mut config = Config::default();
        config.feeds.limit = 2;
        config.feeds.archive = true;
        config.feeds.archive_page = 1;
        config.feeds.archive_scopes = vec![
            crate::config::ArchiveScope::Site,
            crate::config::ArchiveScope::Categories,
            crate::config::ArchiveScope::Tags,
        ];
        config.feeds.archive_formats = Format::ALL.to_vec();
        let meta = Arc::new(SiteMeta::from_config(&config));
        let now = chrono::Utc::now();
        let posts = (1..=5).map(|d| {
            post(
                &format!("p{d}.md"),
                d + 10,
                if d % 2 == 0 { "even" } else { "odd" },
            )
        });
        let listing = Listing::new(posts, now, ListOptions::default());
        let _ = dir;
        let pages = ArchivePages::new(Arc::clone(&meta), &listing, max_age_60());
        (meta, listing, pages)
    }

    fn tag(slug: &str) -> Scope {
        Scope::Term(TermKind::Tag, slug.into())
    }

    #[test]
    fn pages_come_from_the_snapshot_not_the_live_listing() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut listing, pages) = setup(dir.path());
        let route = paging::route(&Scope::All, 1, Format::Rss);
        let odd = paging::route(&tag("odd"), 1, Format::Rss);
        let first = pages.get(&route).expect("the oldest page of all posts");
        assert!(std::str::from_utf8(&first.identity.bytes)
            .unwrap()
            .contains("<title>p1.md</title>"));
        let odd_first = pages.get(&odd).expect("the oldest page of tag odd");
        assert!(Arc::ptr_eq(&pages.get(&route).unwrap(), &first), "kept");
        // The listing changes (an older post arrives) but no snapshot was taken: the same page.
        listing.upsert(post("p0.md", 1, "even"), chrono::Utc::now());
        assert!(Arc::ptr_eq(&pages.get(&route).unwrap(), &first));
        // A snapshot of the scopes the change touched: all posts and tag `even`.
        let p0: BTreeSet<PathBuf> = [PathBuf::from("p0.md")].into();
        pages.update(&listing, [Scope::All, tag("even")], &p0);
        let now_first = pages.get(&route).unwrap();
        assert!(std::str::from_utf8(&now_first.identity.bytes)
            .unwrap()
            .contains("<title>p0.md</title>"));
        // An untouched scope keeps its version, so its cached page stays current.
        assert!(Arc::ptr_eq(&pages.get(&odd).unwrap(), &odd_first));
        // No such page, no such format, no such scope.
        assert!(pages
            .get(&paging::route(&Scope::All, 9, Format::Rss))
            .is_none());
        assert!(pages
            .get(&paging::route(&tag("none"), 1, Format::Rss))
            .is_none());
        assert!(pages.get("/archive/1/index.html").is_none());
    }

    #[test]
    fn pages_are_dated_by_their_posts_the_same_in_every_process() {
        let dir = tempfile::tempdir().unwrap();
        let (meta, listing, pages) = setup(dir.path());
        let route = paging::route(&Scope::All, 1, Format::Atom);
        let doc = pages.get(&route).unwrap();
        // Another process (a replica, or this one after a restart): the same validators.
        let again = ArchivePages::new(Arc::clone(&meta), &listing, max_age_60());
        let same = again.get(&route).unwrap();
        assert_eq!(
            (same.hash, same.last_modified),
            (doc.hash, doc.last_modified)
        );
        // Its one post's date (pages of one post), in whole seconds.
        assert_eq!(
            doc.last_modified,
            modified::system_time(
                &"2024-01-11T00:00:00Z"
                    .parse::<chrono::DateTime<Utc>>()
                    .unwrap()
            )
        );
        // One of its posts edited (same dates, its file written now): new bytes, and a
        // Last-Modified that moved forward with the file.
        let mut edited = listing.clone();
        let text = "---\ntitle: p1.md\ndate: 2024-01-11\ntags: odd\n---\nanother body\n";
        let ctx = Config::default().parse_context();
        let mut p1 =
            crate::post::parse_post(Path::new("p1.md"), text.as_bytes(), Markup::Markdown, &ctx)
                .unwrap();
        p1.modified = Some(std::time::SystemTime::now());
        edited.upsert(Arc::new(p1), chrono::Utc::now());
        let third = ArchivePages::new(meta, &edited, max_age_60());
        let changed = third.get(&route).unwrap();
        assert_ne!(changed.hash, doc.hash);
        assert!(changed.last_modified > doc.last_modified, "{changed:?}");
    }

    #[test]
    fn a_snapshot_shares_the_chunks_an_edit_did_not_touch() {
        let posts: Vec<Arc<Post>> = (0..600)
            .map(|i| post(&format!("p{i:03}.md"), 1 + (i % 28) as u32, "t"))
            .collect();
        let mut listing = Listing::new(posts, chrono::Utc::now(), ListOptions::default());
        let first = ScopeView::take(&listing, &Scope::All, None, || 1).expect("a first view");
        assert_eq!((first.len, first.chunks.len()), (600, 3));
        // Pages across chunk boundaries read as the listing does.
        for (skip, take) in [(0, 5), (250, 10), (254, 3), (510, 90), (598, 5)] {
            let names = |ps: Vec<&Post>| ps.iter().map(|p| p.source.clone()).collect::<Vec<_>>();
            assert_eq!(
                names(first.page(skip, take)),
                names(listing.scope_page(&Scope::All, skip, take)),
                "skip {skip}, take {take}"
            );
        }
        // Nothing changed: no new view, the version stays.
        assert!(ScopeView::take(&listing, &Scope::All, Some(&first), || 2).is_none());
        // One of the oldest posts edited: only its chunk is taken again, walked or patched.
        let oldest = first.page(0, 1)[0].source.clone();
        let edited = post(&oldest.to_string_lossy(), 1, "t");
        listing.upsert(Arc::clone(&edited), chrono::Utc::now());
        let walked = ScopeView::take(&listing, &Scope::All, Some(&first), || 2).expect("changed");
        let changed: BTreeSet<PathBuf> = [oldest.clone()].into();
        let patched = first
            .patched(&listing, &Scope::All, &changed, || 3)
            .expect("an edit in place")
            .expect("changed");
        for next in [&walked, &patched] {
            assert!(
                Arc::ptr_eq(&next.chunks[0][0], &edited),
                "the new version is in"
            );
            assert!(!Arc::ptr_eq(&next.chunks[0], &first.chunks[0]));
            assert!(Arc::ptr_eq(&next.chunks[1], &first.chunks[1]));
            assert!(Arc::ptr_eq(&next.chunks[2], &first.chunks[2]));
        }
        assert_eq!((walked.version, patched.version), (2, 3));
        // A post in the middle edited: patched where it is.
        let middle = first.page(300, 1)[0].source.clone();
        let date = first.page(300, 1)[0].date.format("%d").to_string();
        let again = post(&middle.to_string_lossy(), date.parse().unwrap(), "t");
        listing.upsert(Arc::clone(&again), chrono::Utc::now());
        let changed: BTreeSet<PathBuf> = [middle].into();
        let p2 = patched
            .patched(&listing, &Scope::All, &changed, || 4)
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&p2.chunks[1][300 - CHUNK], &again));
        assert!(Arc::ptr_eq(&p2.chunks[0], &patched.chunks[0]));
        // A post that comes (or goes) is not an edit in place: the scope is walked.
        listing.upsert(post("new.md", 2, "t"), chrono::Utc::now());
        let changed: BTreeSet<PathBuf> = [PathBuf::from("new.md")].into();
        assert!(p2.patched(&listing, &Scope::All, &changed, || 5).is_none());
        // A post whose date moved is not found where it was: walked too.
        let base = ScopeView::take(&listing, &Scope::All, None, || 6).unwrap();
        let mut moved = listing.clone();
        moved.upsert(post(&oldest.to_string_lossy(), 27, "t"), chrono::Utc::now());
        let changed: BTreeSet<PathBuf> = [oldest].into();
        assert!(base.patched(&moved, &Scope::All, &changed, || 7).is_none());
        // Nothing changed in the scope: the view stays.
        let same = base.patched(&listing, &Scope::All, &changed, || 8);
        assert!(matches!(same, Some(None)));
    }
}
