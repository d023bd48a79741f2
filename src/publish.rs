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

use crate::config::Config;
use crate::feed::{self, SiteMeta};
use crate::output::{self, SyncReport};
use crate::page;
use crate::post::{ParseContext, Post, PostError};
use crate::render::{self, Doc, Fragments, Rendered, HTML_TYPE};
use crate::server::State;
use crate::site::{self, Change, ListOptions, Listing, Scope, Site};
use crate::store::Store;

/// What one publish did, for the log line.
#[derive(Debug, Default)]
pub struct Report {
    /// Post files added, changed or removed.
    pub files_changed: usize,
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

/// A post page's route and the post version it was rendered from (the bytes live in the store).
struct CachedPage {
    post: Arc<Post>,
    route: String,
}

/// The current published state of the site.
pub struct Publisher {
    pub config: Config,
    pub opts: ListOptions,
    pub meta: SiteMeta,
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
    pages: HashMap<PathBuf, CachedPage>,
}

impl Publisher {
    /// Reads every post, renders and writes everything, and makes the first store.
    pub fn start(
        config: Config,
        opts: ListOptions,
        now: DateTime<Utc>,
        access_log: bool,
    ) -> (Publisher, Report) {
        let started = Instant::now();
        let ctx = feed::parse_context(&config);
        let meta = SiteMeta::from_config(&config);
        let state = Arc::new(State::new(
            Store::default(),
            config.server.max_age,
            access_log,
        ));
        let site = Site::load(&config.paths.posts, &ctx, opts.drafts);
        let listing = site.listing(now, opts);
        let fragments = Fragments::update(&Fragments::default(), &meta, &listing);
        let rendered = render::render_all(&meta, &listing, &fragments);
        let mut p = Publisher {
            fragments,
            unwritten: BTreeSet::new(),
            unremoved: BTreeSet::new(),
            resync: false,
            ctx,
            meta,
            opts,
            site,
            listing,
            state,
            docs: BTreeMap::new(),
            pages: HashMap::new(),
            config,
        };
        let keep: BTreeSet<String> = rendered.failures.keys().cloned().collect();
        let sync = output::sync(&p.config.paths.output, &rendered.docs, &keep);
        let mut report = p.swap_in(rendered, Vec::new(), sync, started);
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
                posts: self.listing.posts.len(),
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
        let mut report = self.republish(now, started);
        report.files_changed = applied.changed.len();
        report.errors = applied.errors;
        report
    }

    /// Re-reads the whole tree (after lost events), keeping last good versions.
    pub fn rescan(&mut self, now: DateTime<Utc>) -> Report {
        self.apply(&[Change::Upsert(PathBuf::new())], now)
    }

    /// Republishes for the passage of time alone (a scheduled post's date has come).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Report {
        self.republish(now, Instant::now())
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
                posts: self.listing.posts.len(),
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
            posts: self.listing.posts.len(),
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
        self.listing.next_future.map(|d| d.with_timezone(&Utc))
    }

    /// Recomputes the listing and re-renders only the scopes whose posts changed.
    fn republish(&mut self, now: DateTime<Utc>, started: Instant) -> Report {
        let new_listing = self.site.listing(now, self.opts);
        let affected = site::affected_scopes(&self.listing, &new_listing);
        self.listing = new_listing;
        if affected.is_empty() {
            return Report {
                posts: self.listing.posts.len(),
                documents: self.state.store.load().len(),
                elapsed: started.elapsed(),
                ..Report::default()
            };
        }
        let live: BTreeSet<Scope> = self.listing.scopes().into_iter().collect();
        let (render_now, gone): (Vec<Scope>, Vec<Scope>) =
            affected.into_iter().partition(|s| live.contains(s));
        self.fragments = Fragments::update(&self.fragments, &self.meta, &self.listing);
        let mut rendered =
            render::render_scopes(&self.meta, &self.listing, &self.fragments, &render_now);
        render::render_lists(&self.meta, &self.listing, &mut rendered);
        let removals: Vec<String> = gone
            .iter()
            .flat_map(|s| self.meta.formats.iter().map(move |f| feed::route(s, *f)))
            .collect();
        // The output directory went away (or something else took its name): the files of the
        // documents not rendered now are gone with it, so all are to be written again.
        self.resync |= !self.config.paths.output.is_dir();
        let sync = output::apply(&self.config.paths.output, &rendered.docs, &removals);
        self.swap_in(rendered, removals, sync, started)
    }

    /// Records `rendered` as the current documents, refreshes post pages, and swaps the store.
    fn swap_in(
        &mut self,
        rendered: Rendered,
        removals: Vec<String>,
        sync: SyncReport,
        started: Instant,
    ) -> Report {
        for r in &removals {
            self.docs.remove(r);
        }
        // What this publish wrote (or removed) is in sync now; what failed is to be retried.
        for route in rendered.docs.keys().chain(&removals) {
            self.unwritten.remove(route);
            self.unremoved.remove(route);
        }
        self.unwritten.extend(sync.failed_writes.iter().cloned());
        self.unremoved.extend(sync.failed_removals.iter().cloned());
        self.note_output(&sync);
        let rendered_feeds = rendered.docs.len();
        let (page_upserts, page_removals) = self.refresh_pages();
        let rendered_pages = page_upserts.len();
        let prev = self.state.store.load_full();
        let meta = &self.meta;
        let link_of = |route: &str| {
            let is_feed = route.ends_with("/rss.xml")
                || route.ends_with("/atom.xml")
                || route.ends_with("/feed.json");
            is_feed.then(|| {
                let mut l = format!("<{}>; rel=\"self\"", meta.url(route));
                if let Some(hub) = &meta.hub {
                    l.push_str(&format!(", <{hub}>; rel=\"hub\""));
                }
                l
            })
        };
        let mut upserts: Vec<(String, Doc, Option<SystemTime>)> =
            Vec::with_capacity(rendered_feeds + rendered_pages);
        for (route, doc) in rendered.docs {
            self.docs.insert(route.clone(), doc.clone());
            upserts.push((route, doc, None));
        }
        upserts.extend(page_upserts);
        let store = Store::update(
            &prev,
            upserts,
            removals.into_iter().chain(page_removals),
            Some(&self.config.paths.output),
            link_of,
            SystemTime::now(),
        );
        let documents = store.len();
        self.state.swap(store);
        Report {
            posts: self.listing.posts.len(),
            documents,
            rendered: rendered_feeds + rendered_pages,
            failures: rendered.failures.into_iter().collect(),
            sync,
            elapsed: started.elapsed(),
            ..Report::default()
        }
    }

    /// Renders the pages of new or changed posts and drops those of posts no longer listed.
    /// Returns the pages to upsert and the routes to remove.
    #[allow(clippy::type_complexity)]
    fn refresh_pages(&mut self) -> (Vec<(String, Doc, Option<SystemTime>)>, Vec<String>) {
        let mut next: HashMap<PathBuf, CachedPage> =
            HashMap::with_capacity(self.listing.posts.len());
        let mut upserts = Vec::new();
        // Two posts claiming one permalink: the newer one (first in the listing) wins.
        let mut claimed: BTreeSet<String> = BTreeSet::new();
        for post in &self.listing.posts {
            let route = page::page_route(post);
            if !claimed.insert(route.clone()) {
                continue;
            }
            let cached = self
                .pages
                .remove(&post.source)
                .filter(|c| c.route == route && Arc::ptr_eq(&c.post, post));
            let page = match cached {
                Some(c) => c,
                None => {
                    let doc = Doc {
                        content_type: HTML_TYPE,
                        bytes: page::render(&self.meta, post).into(),
                    };
                    let t = system_time(&post.updated.max(post.date).with_timezone(&Utc));
                    upserts.push((route.clone(), doc, Some(t)));
                    CachedPage {
                        post: Arc::clone(post),
                        route,
                    }
                }
            };
            next.insert(post.source.clone(), page);
        }
        let live: BTreeSet<&str> = next.values().map(|p| p.route.as_str()).collect();
        let removals = self
            .pages
            .values()
            .map(|p| p.route.clone())
            .filter(|r| !live.contains(r.as_str()))
            .collect();
        self.pages = next;
        (upserts, removals)
    }

    /// The current feed/list document of a route (for tests and diagnostics).
    pub fn doc(&self, route: &str) -> Option<&Doc> {
        self.docs.get(route)
    }
}

/// A UTC time as `SystemTime` (times before 1970 clamp to the epoch).
pub fn system_time(t: &DateTime<Utc>) -> SystemTime {
    u64::try_from(t.timestamp()).map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s))
}
