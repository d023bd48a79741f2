//! Publishing: rendered documents → `feeds/` on disk and the server's store, swapped whole.
//!
//! The publisher owns the current site and the last good documents. After the first full
//! build, every change is incremental: only the posts that changed are re-read, only the
//! scopes that contain them (before or after) are re-rendered, only changed files are written,
//! and the store is swapped once per batch. A document that fails its check keeps its previous
//! version on disk and in the store (SPEC §2).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use hyper::header::HeaderValue;

use crate::config::Config;
use crate::feed::page;
use crate::feed::paging;
use crate::feed::{self, FeedSpec, SiteMeta};
use crate::hub::{self, Hub};
use crate::output::{self, SyncReport};
use crate::post::{ParseContext, Post, PostError};
use crate::render::{self, Doc, Fragments, Rendered, HTML_TYPE};
use crate::server::State;
use crate::site::Delta;
use crate::site::{Change, ListOptions, Listing, Scope, Site};
use crate::store::archive::{Lookup, PageCache};
use crate::store::{Document, Lazy, Render, Store};
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
    pub sync: SyncReport,
    pub elapsed: Duration,
}

/// Orders the posts claiming one page route: newest first, then by path.
type ClaimOrder = (std::cmp::Reverse<DateTime<Utc>>, Arc<std::path::Path>);

/// The route a listed post's page claims (the bytes live in the store).
struct PageClaim {
    route: Arc<str>,
    /// Newest first: the newest post claiming a route gets it.
    order: ClaimOrder,
}

/// The current published state of the site.
pub struct Publisher {
    pub config: Config,
    pub opts: ListOptions,
    /// Shared with the post pages' lazy documents, which render with it.
    pub meta: Arc<SiteMeta>,
    pub ctx: ParseContext,
    pub site: Site,
    pub listing: Listing,
    pub state: Arc<State>,
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
    /// RFC 5005 archive pages rendered on request.
    archives: PageCache,
    /// `Cache-Control` of archive pages.
    archive_cache_control: HeaderValue,
    /// Where the archive pages' validators are kept across restarts.
    archive_state: PathBuf,
    /// The earliest `Last-Modified` of any post page (see [`page_epoch`]).
    page_epoch: SystemTime,
    /// Where each published feed's items are (to release fragments pointing into it).
    doc_items: HashMap<String, render::FeedItems>,
}

/// The archive validators file, under the state directory.
pub const ARCHIVE_STATE_FILE: &str = "archive-validators.json";
/// How many changed posts a republish's log line names.
pub const CHANGED_SHOWN: usize = 3;

/// Where `serve` keeps the post pages' epoch (see [`page_epoch`]).
pub const PAGE_EPOCH_FILE: &str = "page-epoch";

/// A post every page renderer is tried on: its page changes when the page template, the
/// site's settings or the renderer do, and then every post page has changed.
const CANARY_POST: &str = "---\ntitle: Canary <&>\ndate: 2021-12-21 08:10:27 +0800\n\
categories: c\ntags: [t, 标签]\nauthor: {name: A, email: a@example.com}\n\
source_url: https://example.org/a\nimage: /i.png\n---\n<p>Body <a href=\"/x\">link</a></p>\n";

/// The time since which post pages look the way this process renders them: kept in
/// `{state_dir}/page-epoch` with a hash of the canary page, and moved to now when that hash
/// changes (new settings, new version). A post page's `Last-Modified` is never earlier, so a
/// page whose bytes changed because the site did never answers `If-Modified-Since` with 304.
/// If the file cannot be read or written, the epoch is now: more full responses, never a
/// stale one.
pub fn page_epoch(meta: &SiteMeta, ctx: &ParseContext, state_dir: &std::path::Path) -> SystemTime {
    let now = SystemTime::now();
    let Ok(canary) = crate::post::parse_post(
        std::path::Path::new("canary.md"),
        CANARY_POST.as_bytes(),
        crate::post::body::Markup::Html,
        ctx,
    ) else {
        return now;
    };
    let hash = format!(
        "{:032x}",
        crate::store::content_hash(&page::render(meta, &canary))
    );
    let path = state_dir.join(PAGE_EPOCH_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut parts = text.split_whitespace();
        if parts.next() == Some(hash.as_str()) {
            if let Some(secs) = parts.next().and_then(|t| t.parse::<u64>().ok()) {
                return (UNIX_EPOCH + Duration::from_secs(secs)).min(now);
            }
        }
    }
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let saved = std::fs::create_dir_all(state_dir)
        .and_then(|()| output::Atomic::STATE.write(&path, format!("{hash} {secs}\n").as_bytes()));
    if let Err(e) = saved {
        tracing::warn!(
            "{}: not written ({e}); post pages get Last-Modified = now at every start",
            path.display()
        );
    }
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Publisher {
    /// Reads every post, renders and writes everything, and makes the first store.
    pub fn start(
        config: Config,
        opts: ListOptions,
        now: DateTime<Utc>,
        access_log: bool,
    ) -> (Publisher, Report) {
        Publisher::start_with_hub(config, opts, now, access_log, None)
    }

    /// [`Publisher::start`] with a WebSub hub: every feed advertises it, the server answers
    /// at its route, and every publish tells it which feeds changed.
    pub fn start_with_hub(
        config: Config,
        opts: ListOptions,
        now: DateTime<Utc>,
        access_log: bool,
        hub: Option<Arc<Hub>>,
    ) -> (Publisher, Report) {
        let started = Instant::now();
        // The server holds every post for as long as it runs: content compressed.
        let mut ctx = ParseContext {
            compact: true,
            ..config.parse_context()
        };
        let mut meta = SiteMeta::from_config(&config);
        meta.hub = hub.as_ref().map(|h| h.url().to_owned());
        let state =
            Arc::new(State::new(Store::default(), config.server.max_age, access_log).with_hub(hub));
        let site = Site::load_compact(&config.paths.posts, &mut ctx, opts.drafts);
        let listing = site.listing(now, opts);
        // No fragments first: each document renders its items, and the fragments kept for
        // the next republish are taken from the documents (so they never exist twice).
        let fragments = Fragments::default();
        let rendered = render::render_all(&meta, &listing, &fragments);
        let all: BTreeSet<PathBuf> = listing.iter().map(|p| p.source.clone()).collect();
        let epoch = page_epoch(&meta, &ctx, &config.hub.state_dir);
        let mut p = Publisher {
            fragments,
            unwritten: BTreeSet::new(),
            unremoved: BTreeSet::new(),
            resync: false,
            ctx,
            opts,
            site,
            listing,
            state,
            docs: BTreeMap::new(),
            pages: HashMap::new(),
            claims: HashMap::new(),
            archives: PageCache::default(),
            archive_cache_control: HeaderValue::from_str(&format!(
                "public, max-age={}",
                config.server.archive_max_age
            ))
            .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=86400")),
            archive_state: config.hub.state_dir.join(ARCHIVE_STATE_FILE),
            page_epoch: epoch,
            doc_items: HashMap::new(),
            meta: Arc::new(meta),
            config,
        };
        if p.meta.archive_page.is_some() {
            if let Err(e) = p.archives.load_validators(&p.archive_state) {
                tracing::warn!(
                    "archive validators not read ({e}); pages get Last-Modified from their posts"
                );
            }
        }
        let keep: BTreeSet<String> = rendered.failures.keys().cloned().collect();
        let sync = output::sync(&p.config.paths.output, &rendered.docs, &keep);
        p.record_sync(rendered.docs.keys(), &sync);
        let times = sync.times.clone();
        let mut report = p.swap_in(rendered, Vec::new(), &times, started, &all);
        report.sync = sync;
        report.files_changed = p.site.posts.len() + p.site.errors.len();
        report.errors = p.site.errors.values().cloned().collect();
        (p, report)
    }

    /// Applies a batch of file changes and republishes what they affect.
    pub fn apply(&mut self, changes: &[Change], now: DateTime<Utc>) -> Report {
        let started = Instant::now();
        let root = self.config.paths.posts.clone();
        if !root.is_dir() {
            // The posts volume vanished: keep serving the last good set rather than publishing
            // empty feeds (a full rescan runs when it comes back).
            let mut r = Report {
                posts: self.listing.len(),
                documents: self.state.store.load().len(),
                ..Report::default()
            };
            r.sync.errors.push(format!(
                "{}: posts directory is missing; keeping the last good feeds",
                root.display()
            ));
            return r;
        }
        let applied = self.site.apply(&root, &self.ctx, self.opts.drafts, changes);
        let mut delta = Delta::default();
        for source in &applied.changed {
            delta.extend(match self.site.posts.get(source) {
                Some(post) => self.listing.upsert(Arc::clone(post), now),
                None => self.listing.remove(source),
            });
        }
        delta.extend(self.listing.advance(now));
        let mut report = self.republish(delta, started);
        report.files_changed = applied.changed.len();
        report.changed = applied
            .changed
            .iter()
            .take(CHANGED_SHOWN)
            .cloned()
            .collect();
        report.errors = applied.errors;
        report
    }

    /// Re-reads the whole tree (after lost events), keeping last good versions.
    pub fn rescan(&mut self, now: DateTime<Utc>) -> Report {
        self.apply(&[Change::Upsert(PathBuf::new())], now)
    }

    /// Republishes for the passage of time alone (a scheduled post's date has come).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Report {
        let delta = self.listing.advance(now);
        self.republish(delta, Instant::now())
    }

    /// Whether some documents could not be written to (or removed from) `feeds/` yet.
    pub fn has_unwritten(&self) -> bool {
        self.resync || !self.unwritten.is_empty() || !self.unremoved.is_empty()
    }

    /// Tries again to write (and remove) what failed before; the store is unaffected.
    pub fn retry_writes(&mut self) -> Report {
        let started = Instant::now();
        let dir = &self.config.paths.output;
        if self.resync && std::fs::create_dir_all(dir).is_err() {
            // Still not a directory: nothing can be written yet.
            return Report {
                posts: self.listing.len(),
                documents: self.state.store.load().len(),
                elapsed: started.elapsed(),
                ..Report::default()
            };
        }
        let docs: Vec<(&String, &Doc)> = if self.resync {
            // Every document, each written only where its file is missing or differs.
            self.docs.iter().collect()
        } else {
            self.unwritten
                .iter()
                .filter_map(|r| self.docs.get_key_value(r))
                .collect()
        };
        let removals: Vec<String> = self.unremoved.iter().cloned().collect();
        let sync = output::apply(dir, docs, &removals);
        self.resync = false;
        self.unwritten = sync.failed_writes.iter().cloned().collect();
        self.unremoved = sync.failed_removals.iter().cloned().collect();
        self.note_output(&sync);
        Report {
            posts: self.listing.len(),
            documents: self.state.store.load().len(),
            sync,
            elapsed: started.elapsed(),
            ..Report::default()
        }
    }

    /// After a failed write, notes whether the output directory itself is unusable (then every
    /// document is written again once it can be).
    fn note_output(&mut self, sync: &SyncReport) {
        if !sync.failed_writes.is_empty() && !self.config.paths.output.is_dir() {
            self.resync = true;
        }
    }

    /// When the next scheduled post is due, if any is held back.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.listing.next_due()
    }

    /// The archive page at `route` (RFC 5005), from the cache or rendered now; `None` if
    /// there is no such page. A page that fails its check keeps its last good version.
    pub fn archive(&mut self, route: &str) -> Option<Arc<Document>> {
        let (scope, page, format) = paging::parse_route(route)?;
        if !self.meta.formats.contains(&format) {
            return None;
        }
        if let Lookup::Fresh(doc) = self.archives.lookup(route, &scope) {
            return Some(doc);
        }
        let Some(spec) = FeedSpec::archive(&self.meta, &self.listing, &scope, format, page) else {
            self.archives.remove(route);
            return None;
        };
        // Served for the first time since the start: the newest update among its posts (a
        // time that is the same after a restart when nothing changed).
        let first_seen = system_time(&spec.updated.with_timezone(&Utc));
        match render::assemble_spec(&self.meta, &self.fragments, &spec, format) {
            Ok((doc, _)) => {
                let link = format!("<{}>; rel=\"self\"", spec.self_url);
                let cache_control = self.archive_cache_control.clone();
                Some(
                    self.archives
                        .insert(route, &scope, &doc.bytes, first_seen, |last_modified| {
                            Document::new(
                                doc.content_type,
                                doc.bytes.clone(),
                                last_modified,
                                Some(link),
                            )
                            .with_cache_control(cache_control)
                        }),
                )
            }
            Err(e) => {
                tracing::error!("not published {route}: {e} (previous version kept, if any)");
                self.archives.last_good(route)
            }
        }
    }

    /// Saves the archive pages' validators if they changed (called by the publisher loop at
    /// least once a second, so a crash loses at most that much).
    pub fn save_archive_state(&mut self) {
        if let Err(e) = self.archives.save_validators(&self.archive_state) {
            tracing::warn!("cannot save archive validators: {e}");
        }
    }

    /// Re-renders only the scopes a change touched, and the pages of the posts it touched.
    fn republish(&mut self, delta: Delta, started: Instant) -> Report {
        if delta.is_empty() {
            return Report {
                posts: self.listing.len(),
                documents: self.state.store.load().len(),
                elapsed: started.elapsed(),
                ..Report::default()
            };
        }
        for scope in &delta.scopes {
            self.archives.invalidate(scope);
        }
        let (render_now, gone): (Vec<Scope>, Vec<Scope>) = delta
            .scopes
            .into_iter()
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
        let removals: Vec<String> = gone
            .iter()
            .flat_map(|s| self.meta.formats.iter().map(move |f| feed::route(s, *f)))
            .collect();
        // The output directory went away (or something else took its name): the files of the
        // documents not rendered now are gone with it, so all are to be written again.
        self.resync |= !self.config.paths.output.is_dir();
        // Only what differs from the last written bytes goes to disk, without reading the old
        // file back; a document whose bytes did not change keeps its file and its mtime.
        let changed: Vec<(String, Doc)> = rendered
            .docs
            .iter()
            .filter(|(route, doc)| {
                self.resync
                    || self.unwritten.contains(*route)
                    || self
                        .docs
                        .get(*route)
                        .is_none_or(|old| old.bytes != doc.bytes)
            })
            .map(|(r, d)| (r.clone(), d.clone()))
            .collect();
        // Serve first, write after: readers see the change without waiting for the disk. Each
        // file gets the Last-Modified its document was published with as its mtime, so the
        // validators are the same after a restart.
        let mut report = self.swap_in(
            rendered,
            removals.clone(),
            &HashMap::new(),
            started,
            &delta.posts,
        );
        let store = self.state.store.load();
        let sync = output::apply_changed(
            &self.config.paths.output,
            changed
                .iter()
                .map(|(r, d)| (r, d, store.get(r).map(|doc| doc.last_modified))),
            &removals,
        );
        self.record_sync(changed.iter().map(|(r, _)| r).chain(&removals), &sync);
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
        times: &HashMap<String, SystemTime>,
        started: Instant,
        changed_posts: &BTreeSet<PathBuf>,
    ) -> Report {
        for r in &removals {
            self.docs.remove(r);
        }
        let rendered_feeds = rendered.docs.len();
        let (page_upserts, page_removals) = self.refresh_pages(changed_posts);
        let rendered_pages = page_upserts.len();
        let prev = self.state.store.load_full();
        let meta = &self.meta;
        let link_of = |route: &str| {
            let is_feed = route.ends_with("/rss.xml")
                || route.ends_with("/atom.xml")
                || route.ends_with("/feed.json");
            let listing = route == feed::OPML_ROUTE || route == feed::INDEX_ROUTE;
            (is_feed || listing).then(|| {
                let mut l = format!("<{}>; rel=\"self\"", meta.url(route));
                // Only feeds are WebSub topics.
                if let Some(hub) = meta.hub.as_ref().filter(|_| is_feed) {
                    l.push_str(&format!(", <{hub}>; rel=\"hub\""));
                }
                l
            })
        };
        // The feeds this publish rendered, and those it removed, for the hub.
        let hub = self.state.hub.clone();
        let (hub_rendered, hub_removed): (Vec<String>, Vec<String>) = match &hub {
            Some(_) => (
                rendered
                    .docs
                    .iter()
                    .filter(|(_, d)| hub::is_feed_type(d.content_type))
                    .map(|(r, _)| r.clone())
                    .collect(),
                removals.clone(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let mut upserts: Vec<(String, Doc, Option<SystemTime>)> =
            Vec::with_capacity(rendered_feeds + rendered_pages);
        let rendered_routes: Vec<String> = rendered.docs.keys().cloned().collect();
        for (route, doc) in rendered.docs {
            upserts.push((route, doc, None));
        }
        let mut store = Store::update(
            &prev,
            upserts,
            removals.iter().cloned().chain(page_removals),
            |route, _| times.get(route).copied(),
            link_of,
            SystemTime::now(),
        );
        self.share_bytes(&prev, &store, &rendered_routes, rendered.items, &removals);
        // Post pages are many and rarely requested: the store keeps their validators and
        // renders their bytes again from the post when asked (see `Document::etag_header`).
        // Each is rendered once here to hash it, and its bytes dropped at once.
        let now = SystemTime::now();
        let page_meta = &self.meta;
        let pages: Vec<(String, Lazy)> = page_upserts
            .into_par_iter()
            .map(|(route, post, time)| {
                let bytes = page::render(page_meta, &post);
                let render: Render = {
                    let meta = Arc::clone(page_meta);
                    Arc::new(move || bytes::Bytes::from(page::render(&meta, &post)))
                };
                let mut entry = Lazy::new(HTML_TYPE, &bytes, time.min(now), render);
                // The same bytes as before keep their Last-Modified; new bytes are new now.
                if let Some(old) = prev.lazy(&route) {
                    entry.last_modified = if old.hash == entry.hash {
                        old.last_modified
                    } else {
                        now.max(old.last_modified)
                    };
                }
                (route, entry)
            })
            .collect();
        for (route, entry) in pages {
            store.put_lazy(route, entry);
        }
        let documents = store.len();
        // A feed changed when its document is not the previous one: the store keeps the same
        // `Arc` for unchanged bytes.
        let hub_changed: Vec<(String, Arc<crate::store::Document>)> = hub_rendered
            .into_iter()
            .filter_map(|route| {
                let new = Arc::clone(store.get(&route)?);
                let same = prev.get(&route).is_some_and(|old| Arc::ptr_eq(old, &new));
                (!same).then_some((route, new))
            })
            .collect();
        self.state.swap(store);
        if let Some(hub) = hub {
            // Only bookkeeping and enqueueing: never waits for a subscriber.
            hub.published(hub_changed, &hub_removed);
        }
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

    /// The post whose page is at `route` (the newest post claiming it).
    fn page_winner(&self, route: &str) -> Option<&Arc<Post>> {
        self.claims
            .get(route)
            .and_then(|c| c.first())
            .and_then(|(_, src)| self.listing.get(src))
    }

    /// Re-renders the pages of the posts that entered, left or changed in the listing, and
    /// drops pages no post claims any more. Two posts claiming one permalink: the newer one
    /// gets it. Returns the pages to upsert (route, post, Last-Modified) and the routes to
    /// remove.
    #[allow(clippy::type_complexity)]
    fn refresh_pages(
        &mut self,
        changed: &BTreeSet<PathBuf>,
    ) -> (Vec<(String, Arc<Post>, SystemTime)>, Vec<String>) {
        let mut dirty: BTreeSet<String> = BTreeSet::new();
        for source in changed {
            if let Some(old) = self.pages.remove(source.as_path()) {
                if let Some(c) = self.claims.get_mut(&*old.route) {
                    c.remove(&old.order);
                }
                dirty.insert(old.route.to_string());
            }
            if let Some(post) = self.listing.get(source) {
                // One allocation of the path and of the route, shared by both maps.
                let route: Arc<str> = Arc::from(page::page_route(post));
                let path: Arc<std::path::Path> = Arc::from(source.as_path());
                let order = (
                    std::cmp::Reverse(post.date.with_timezone(&Utc)),
                    Arc::clone(&path),
                );
                self.claims
                    .entry(Arc::clone(&route))
                    .or_default()
                    .insert(order.clone());
                dirty.insert(route.to_string());
                self.pages.insert(path, PageClaim { route, order });
            }
        }
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        for route in dirty {
            if let Some(claims) = self.claims.get(route.as_str()).filter(|c| c.len() > 1) {
                let mut sources = claims.iter().map(|(_, src)| src.display().to_string());
                let winner = sources.next().unwrap_or_default();
                tracing::warn!(
                    "{winner}: its permalink {route} is also claimed by {}; the newest post's \
                     page is served there (give the others a `permalink`)",
                    sources.collect::<Vec<_>>().join(", ")
                );
            }
            match self.page_winner(&route) {
                Some(post) => {
                    if page::is_reserved_route(&route) {
                        tracing::warn!(
                            "{}: its permalink {route} is the address of a feed or site \
                             document, which is served there instead of the post's page",
                            post.source.display()
                        );
                    }
                    // The page changed when its post's dates say, when its file did, or when
                    // the site's pages did: whichever is latest.
                    let t = system_time(&post.updated.max(post.date).with_timezone(&Utc))
                        .max(post.modified.unwrap_or(UNIX_EPOCH))
                        .max(self.page_epoch);
                    upserts.push((route, Arc::clone(post), t));
                }
                None => {
                    self.claims.remove(route.as_str());
                    removals.push(route);
                }
            }
        }
        (upserts, removals)
    }
}

/// A UTC time as `SystemTime` (times before 1970 clamp to the epoch).
pub fn system_time(t: &DateTime<Utc>) -> SystemTime {
    u64::try_from(t.timestamp()).map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s))
}
