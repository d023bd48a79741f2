//! Publishing: rendered documents → `feeds/` on disk and the server's store, swapped whole.
//!
//! The publisher owns the current site and the last good documents. After the first full
//! build, every change is incremental: only the posts that changed are re-read, only the
//! scopes that contain them (before or after) are re-rendered, only changed files are written,
//! and the store is swapped once per batch. A document that fails its check keeps its previous
//! version on disk and in the store (SPEC §2).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

mod archive;
mod assets;
mod changed;
mod changes;
mod deletions;
mod retry;

pub use archive::{ArchivePages, ScopeSnapshot};
pub use changed::Changed;
pub mod follow;
mod pages;

pub use changes::PostChange;
use pages::{ClaimOrder, PageClaim};

use crate::config::{Config, Format};
use crate::feed::page;
use crate::feed::{self, SiteMeta};
use crate::output::{self, SyncReport};
use crate::post::{ParseContext, PostError};
use crate::render::{self, Doc, Fragments, Rendered, HTML_TYPE};
use crate::site::Delta;
use crate::site::{Change, ListOptions, Listing, Scope, Site};
use crate::store::{self, Document, Lazy, Render, Store};
use rayon::prelude::*;

/// What one publish did, for the log line.
#[derive(Debug, Default)]
pub struct Report {
    /// Post files added, changed or removed.
    pub files_changed: usize,
    /// The first few of the posts that changed (paths under the posts root), for the log.
    pub changed: Vec<PathBuf>,
    /// Posts listed after the publish.
    pub posts: usize,
    /// Documents in the store.
    pub documents: usize,
    /// Documents rendered by this publish (feeds, lists and post pages).
    pub rendered: usize,
    /// Documents that failed their check, with why (their previous version stays).
    pub failures: Vec<(String, String)>,
    /// Post errors found by this publish.
    pub errors: Vec<PostError>,
    /// Assets left out or not copied by this publish, with why.
    pub asset_errors: Vec<String>,
    pub sync: SyncReport,
    pub elapsed: Duration,
}

/// One publish, handed to where the documents are served from: the new store, whole, the
/// feeds it changed or removed (a WebSub hub pushes them), and all it changed (shared caches
/// drop them).
pub struct Published {
    pub store: Arc<Store>,
    /// Feeds whose bytes changed, with their new document.
    pub feeds_changed: Vec<(String, Arc<Document>)>,
    pub feeds_removed: Vec<String>,
    pub changed: Changed,
    /// Posts that entered, changed or left the listing (ActivityPub delivers them). None at
    /// the first publish: what was there before the start is not known here.
    pub posts: Vec<PostChange>,
}

/// Where each publish goes (`serve`: the server's state and the hub). Called on the
/// publisher's thread; it must only swap and enqueue, never wait on the network.
pub trait Outlet: Send + Sync {
    fn publish(&self, published: Published);
}

/// The current published state of the site.
pub struct Publisher {
    /// Held for the whole of each publish (and retry): `serve` takes it on shutdown, so the
    /// process never ends between a swap and the state files that record it.
    busy: Arc<std::sync::Mutex<()>>,
    pub config: Config,
    pub opts: ListOptions,
    /// Shared with the post pages' lazy documents, which render with it.
    pub meta: Arc<SiteMeta>,
    pub ctx: ParseContext,
    pub site: Site,
    /// The files beside the posts (the parse context holds their names).
    pub assets: crate::site::assets::Assets,
    /// Their copies in the output directory, and what the next store gets of them.
    asset_copies: assets::AssetCopies,
    pub listing: Listing,
    /// The store last published (the one the server answers from).
    store: Arc<Store>,
    /// Where each new store goes.
    outlet: Arc<dyn Outlet>,
    /// The published feed, OPML and index documents, by route (last good versions).
    docs: BTreeMap<String, Doc>,
    /// Item fragments of the posts in the feeds, by post version.
    fragments: Fragments,
    /// Routes whose file in `feeds/` could not be written or removed yet (disk full, not
    /// writable): the store serves them from memory meanwhile, and they are tried again.
    unwritten: BTreeSet<String>,
    unremoved: BTreeSet<String>,
    /// The output directory was missing or not a directory when a publish wrote to it, so files
    /// of documents that did not change since may be gone too: write every document again.
    resync: bool,
    /// Each listed post's page route, and which posts claim each route.
    pages: HashMap<Arc<std::path::Path>, PageClaim>,
    claims: HashMap<Arc<str>, BTreeSet<ClaimOrder>>,
    /// RFC 5005 archive pages rendered on request, from a snapshot taken at each publish.
    archive_pages: Option<Arc<ArchivePages>>,
    /// Where each published feed's items are (to release fragments pointing into it).
    doc_items: HashMap<String, render::FeedItems>,
    /// The posts published, and the tombstones of those that left.
    deletions: deletions::Deletions,
    /// The listed version of each post a batch is changing, as it was before the batch.
    before: HashMap<PathBuf, Arc<crate::post::Post>>,
    /// The posts the publish under way changed, for its [`Published`].
    post_changes: Vec<PostChange>,
}

/// How many changed posts a republish's log line names.
pub const CHANGED_SHOWN: usize = 3;

impl Publisher {
    /// Reads every post, renders and writes everything, and hands the first store to
    /// `outlet`. `hub` is the built-in WebSub hub's URL, if any: every feed advertises it
    /// before the external hubs of `hub.external`.
    pub fn start(
        config: Config,
        opts: ListOptions,
        now: DateTime<Utc>,
        hub: Option<String>,
        outlet: Arc<dyn Outlet>,
    ) -> (Publisher, Report) {
        let started = Instant::now();
        // Assets first: a post's relative references are resolved against them.
        let asset_index = assets::load(&config);
        // The server holds every post for as long as it runs: content compressed.
        let mut ctx = ParseContext {
            compact: true,
            assets: Arc::new(asset_index.names()),
            ..config.parse_context()
        };
        let mut meta = SiteMeta::from_config(&config);
        meta.hubs.splice(0..0, hub);
        if config.activitypub.enabled {
            meta.actors = config.activitypub.actors.clone();
        }
        let site = Site::load_compact(&config.paths.posts, &mut ctx, opts.drafts);
        let mut listing = site.listing(now, opts);
        let window = config.feeds.tombstone_window();
        let deletions = deletions::Deletions::start(
            window,
            &config.paths.posts,
            &config.hub.state_dir,
            &meta,
            &mut listing,
            now,
        );
        // No fragments first: each document renders its items, and the fragments kept for
        // the next republish are taken from the documents (so they never exist twice).
        let fragments = Fragments::default();
        let rendered = render::render_all(&meta, &listing, &fragments);
        let all: BTreeSet<PathBuf> = listing.iter().map(|p| p.source.clone()).collect();
        let mut p = Publisher {
            fragments,
            unwritten: BTreeSet::new(),
            unremoved: BTreeSet::new(),
            resync: false,
            ctx,
            opts,
            site,
            assets: asset_index,
            asset_copies: assets::AssetCopies::new(&config.paths.output),
            listing,
            store: Arc::new(Store::default()),
            outlet,
            docs: BTreeMap::new(),
            pages: HashMap::new(),
            claims: HashMap::new(),
            archive_pages: None,
            doc_items: HashMap::new(),
            deletions,
            before: HashMap::new(),
            post_changes: Vec::new(),
            busy: Arc::default(),
            meta: Arc::new(meta),
            config,
        };
        // Archive pages and the browser views of feeds are rendered on request from the same
        // snapshot of the scopes.
        // The ActivityPub outboxes read the same snapshot.
        if p.meta.archive_page.is_some()
            || p.config.server.browser_view
            || p.config.activitypub.enabled
        {
            p.archive_pages = Some(Arc::new(ArchivePages::new(
                Arc::clone(&p.meta),
                &p.listing,
                crate::cache::Policy::from_config(&p.config.cache)
                    .header(p.config.server.archive_max_age),
            )));
        }
        let keep: BTreeSet<String> = rendered.failures.keys().cloned().collect();
        let sync = output::sync(&p.config.paths.output, &rendered.docs, &keep);
        let asset_errors = p.copy_all_assets();
        p.record_sync(rendered.docs.keys(), &sync);
        let mut report = p.swap_in(rendered, Vec::new(), started, &all, &BTreeSet::new());
        report.sync = sync;
        report.files_changed = p.site.posts.len() + p.site.errors.len() + p.assets.files.len();
        report.errors = p.site.errors.values().cloned().collect();
        report.asset_errors = asset_errors;
        (p, report)
    }

    /// Applies a batch of file changes and republishes what they affect.
    pub fn apply(&mut self, changes: &[Change], now: DateTime<Utc>) -> Report {
        let busy = Arc::clone(&self.busy);
        let _busy = busy.lock().unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        let root = self.config.paths.posts.clone();
        if !root.is_dir() {
            // The posts volume vanished: keep serving the last good set rather than publishing
            // empty feeds (a full rescan runs when it comes back).
            let mut r = Report {
                posts: self.listing.len(),
                documents: self.store.len(),
                ..Report::default()
            };
            r.sync.errors.push(format!(
                "{}: posts directory is missing; keeping the last good feeds",
                root.display()
            ));
            return r;
        }
        // Assets first: the posts that looked up one that came or went are read again, with
        // the new set.
        let (changes, assets_changed, asset_errors) = self.apply_assets(&root, changes);
        let applied = self
            .site
            .apply(&root, &self.ctx, self.opts.drafts, &changes);
        let mut delta = Delta::default();
        for source in &applied.changed {
            if let Some(old) = self.listing.get(source) {
                self.before.insert(source.clone(), Arc::clone(old));
            }
            delta.extend(match self.site.posts.get(source) {
                Some(post) => self.listing.upsert(Arc::clone(post), now),
                None => self.listing.remove(source),
            });
        }
        delta.extend(self.listing.advance(now));
        let mut report = self.republish(delta, now, started);
        report.files_changed = applied.changed.len() + assets_changed.len();
        report.changed = applied
            .changed
            .iter()
            .chain(&assets_changed)
            .take(CHANGED_SHOWN)
            .cloned()
            .collect();
        report.errors = applied.errors;
        report.asset_errors = asset_errors;
        report
    }

    /// Re-reads the whole tree (after lost events), keeping last good versions.
    pub fn rescan(&mut self, now: DateTime<Utc>) -> Report {
        self.apply(&[Change::Upsert(PathBuf::new())], now)
    }

    /// Republishes for the passage of time alone (a scheduled post's date has come).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Report {
        let busy = Arc::clone(&self.busy);
        let _busy = busy.lock().unwrap_or_else(PoisonError::into_inner);
        let delta = self.listing.advance(now);
        self.republish(delta, now, Instant::now())
    }

    /// Held while a publish runs: whoever takes it waits for the one under way and keeps the
    /// next from starting (`serve`'s shutdown).
    pub fn busy(&self) -> Arc<std::sync::Mutex<()>> {
        Arc::clone(&self.busy)
    }

    /// The archive pages of the site, when it has them (`feeds.archive`).
    pub fn archive_pages(&self) -> Option<Arc<ArchivePages>> {
        self.archive_pages.clone()
    }

    /// When the next scheduled post is due (or the next tombstone expires), if any.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let expiry = self.deletions.next_expiry();
        self.listing.next_due().into_iter().chain(expiry).min()
    }

    /// Re-renders only the scopes a change touched, and the pages of the posts it touched.
    fn republish(&mut self, mut delta: Delta, now: DateTime<Utc>, started: Instant) -> Report {
        let before = std::mem::take(&mut self.before);
        self.post_changes = changes::post_changes(before, &delta.posts, &self.listing);
        let (meta, listing) = (&self.meta, &mut self.listing);
        self.deletions.apply(meta, listing, &mut delta, now);
        if delta.is_empty() {
            if self.assets_pending() {
                // Only assets changed: a store with them, and nothing rendered.
                self.publish_assets();
            }
            return Report {
                posts: self.listing.len(),
                documents: self.store.len(),
                elapsed: started.elapsed(),
                ..Report::default()
            };
        }
        let (render_now, gone): (Vec<Scope>, Vec<Scope>) = delta
            .scopes
            .iter()
            .cloned()
            .partition(|s| self.listing.has_scope(s));
        self.fragments.forget(&delta.posts);
        self.fragments
            .prepare(&self.meta, &self.listing, &render_now);
        let rendered = render::render_scopes_and_lists(
            &self.meta,
            &self.listing,
            &self.fragments,
            &render_now,
        );
        // A term gone for good takes its feeds and its page with it.
        let removals: Vec<String> = gone
            .iter()
            .flat_map(|s| {
                let page = matches!(s, Scope::Term(..)).then(|| feed::scope_page_route(s));
                self.meta
                    .formats
                    .iter()
                    .map(move |f| feed::route(s, *f))
                    .chain(page)
            })
            .collect();
        // The output directory went away (or something else took its name): the files of the
        // documents not rendered now are gone with it, so all are to be written again.
        self.resync |= !self.config.paths.output.is_dir();
        // Only what differs from the last written bytes or time goes to disk, without reading
        // the old file back; a document that did not change keeps its file and its mtime.
        let changed: Vec<(String, Doc)> = rendered
            .docs
            .iter()
            .filter(|(route, doc)| {
                self.resync
                    || self.unwritten.contains(*route)
                    || self
                        .docs
                        .get(*route)
                        .is_none_or(|old| old.bytes != doc.bytes || old.modified != doc.modified)
            })
            .map(|(r, d)| (r.clone(), d.clone()))
            .collect();
        // Serve first, write after: readers see the change without waiting for the disk. Each
        // file gets its document's Last-Modified as its mtime, so a plain file server in front
        // of `feeds/` says the same.
        let mut report = self.swap_in(
            rendered,
            removals.clone(),
            started,
            &delta.posts,
            &delta.scopes,
        );
        let sync = output::apply_changed(
            &self.config.paths.output,
            changed.iter().map(|(r, d)| (r, d)),
            &removals,
        );
        self.record_sync(changed.iter().map(|(r, _)| r).chain(&removals), &sync);
        self.deletions.flush();
        report.sync = sync;
        report.elapsed = started.elapsed();
        report
    }

    /// Notes what a write to `feeds/` did: the attempted routes are in sync unless they failed,
    /// and failures are queued to be tried again.
    fn record_sync<'r>(
        &mut self,
        attempted: impl IntoIterator<Item = &'r String>,
        sync: &SyncReport,
    ) {
        for route in attempted {
            self.unwritten.remove(route);
            self.unremoved.remove(route);
        }
        self.unwritten.extend(sync.failed_writes.iter().cloned());
        self.unremoved.extend(sync.failed_removals.iter().cloned());
        self.note_output(sync);
    }

    /// Records `rendered` as the current documents, refreshes post pages, and swaps the store.
    fn swap_in(
        &mut self,
        rendered: Rendered,
        removals: Vec<String>,
        started: Instant,
        changed_posts: &BTreeSet<PathBuf>,
        changed_scopes: &BTreeSet<Scope>,
    ) -> Report {
        for r in &removals {
            self.docs.remove(r);
        }
        let rendered_feeds = rendered.docs.len();
        let (page_upserts, page_removals) = self.refresh_pages(changed_posts);
        let rendered_pages = page_upserts.len();
        let prev = Arc::clone(&self.store);
        let meta = &self.meta;
        let link_of = |route: &str| store::link_header(&meta.relations(route));
        // The feeds this publish rendered, and those it removed (for push: the WebSub hub).
        let feeds_rendered: Vec<String> = rendered
            .docs
            .iter()
            .filter(|(_, d)| Format::of_content_type(d.content_type).is_some())
            .map(|(r, _)| r.clone())
            .collect();
        let feeds_removed: Vec<String> = removals
            .iter()
            .filter(|r| Format::of_route(r).is_some())
            .cloned()
            .collect();
        let rendered_routes: Vec<String> = rendered.docs.keys().cloned().collect();
        let now = SystemTime::now();
        // Post pages new, changed (below) or removed: their caches' copies are dropped.
        let mut pages_changed = page_removals.clone();
        let mut store = Store::update(
            &prev,
            rendered.docs,
            removals.iter().cloned().chain(page_removals),
            link_of,
            now,
        );
        self.share_bytes(&prev, &store, &rendered_routes, rendered.items, &removals);
        // Post pages are many and rarely requested: the store keeps their validators and
        // renders their bytes again from the post when asked (see `Document::etag_header`).
        // Each is rendered once here to hash it, and its bytes dropped at once.
        let page_meta = &self.meta;
        let pages: Vec<(String, Lazy)> = page_upserts
            .into_par_iter()
            .map(|(route, post, time)| {
                let bytes = page::render(page_meta, &post);
                let render: Render = {
                    let (meta, post) = (Arc::clone(page_meta), Arc::clone(&post));
                    Arc::new(move || bytes::Bytes::from(page::render(&meta, &post)))
                };
                let entry = Lazy::new(HTML_TYPE, &bytes, time.min(now), render).with_post(post);
                (route, entry)
            })
            .collect();
        for (route, entry) in pages {
            if prev.lazy(&route).is_none_or(|old| {
                old.hash != entry.hash || old.last_modified != entry.last_modified
            }) {
                pages_changed.push(route.clone());
            }
            store.put_lazy(route, entry);
        }
        let assets_changed = self.put_assets(&mut store);
        store.set_gone(self.deletions.gone_routes());
        let documents = store.len();
        // A feed changed when its bytes did (a post file touched moves its Last-Modified only:
        // nothing to push).
        let feeds_changed: Vec<(String, Arc<Document>)> = feeds_rendered
            .into_iter()
            .filter_map(|route| {
                let new = Arc::clone(store.get(&route)?);
                let same = prev.get(&route).is_some_and(|old| old.hash == new.hash);
                (!same).then_some((route, new))
            })
            .collect();
        self.store = Arc::new(store);
        // The archive pages' snapshot of the scopes that changed, swapped in with the store, so
        // that every archive page a new feed links to is there (a walk of those scopes: about
        // 4 ms for all posts at 100,000).
        if let Some(archives) = &self.archive_pages {
            archives.update(&self.listing, changed_scopes.iter().cloned(), changed_posts);
        }
        // Documents (feeds, lists, term pages) whose bytes changed or that went away.
        let documents_changed = rendered_routes
            .iter()
            .filter(|route| match (prev.get(route), self.store.get(route)) {
                (Some(old), Some(new)) => !Arc::ptr_eq(old, new),
                _ => true,
            })
            .chain(&removals)
            .cloned()
            .collect();
        self.outlet.publish(Published {
            store: Arc::clone(&self.store),
            feeds_changed,
            feeds_removed,
            changed: Changed {
                scopes: changed_scopes.iter().cloned().collect(),
                documents: documents_changed,
                pages: pages_changed,
                assets: assets_changed,
            },
            posts: std::mem::take(&mut self.post_changes),
        });
        self.after_publish();
        Report {
            posts: self.listing.len(),
            documents,
            rendered: rendered_feeds + rendered_pages,
            failures: rendered
                .failures
                .into_iter()
                .map(|(route, e)| (route, e.to_string()))
                .collect(),
            elapsed: started.elapsed(),
            ..Report::default()
        }
    }

    /// Makes the documents just published the only copy of their bytes: the publisher's own
    /// record and the item fragments (which are byte ranges of the feeds) point into the
    /// store's buffers, and fragments that pointed into a replaced or removed document get
    /// bytes of their own, so it is freed.
    fn share_bytes(
        &mut self,
        prev: &Store,
        store: &Store,
        rendered: &[String],
        items: HashMap<String, render::FeedItems>,
        removals: &[String],
    ) {
        for route in rendered {
            if let Some(doc) = store.get(route) {
                self.docs.insert(
                    route.clone(),
                    Doc {
                        content_type: doc.content_type,
                        bytes: doc.identity.bytes.clone(),
                        modified: doc.last_modified,
                    },
                );
            }
        }
        for (route, (format, placed)) in &items {
            let Some(doc) = store.get(route) else {
                continue;
            };
            for (source, range) in placed {
                let Some(post) = self.listing.get(source) else {
                    continue;
                };
                if let Some(bytes) = doc.identity.bytes.get(range.clone()) {
                    let slice = doc.identity.bytes.slice_ref(bytes);
                    self.fragments.rebase(post, *format, slice);
                }
            }
        }
        for route in rendered.iter().chain(removals) {
            let (Some(old), Some((format, placed))) = (prev.get(route), self.doc_items.get(route))
            else {
                continue;
            };
            if store.get(route).is_some_and(|new| Arc::ptr_eq(new, old)) {
                continue;
            }
            for (source, _) in placed {
                self.fragments.unpin(source, *format, &old.identity.bytes);
            }
        }
        for route in removals {
            self.doc_items.remove(route);
        }
        self.doc_items.extend(items);
    }
}

#[cfg(test)]
mod tests;
