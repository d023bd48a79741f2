//! Publishing: rendered documents → `feeds/` on disk and the server's store, swapped whole.
//!
//! The publisher owns the current site and the last good documents. A document that fails its
//! check keeps its previous version on disk and in the store (SPEC §2), and post pages are
//! re-rendered only for posts that changed.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::feed::{self, SiteMeta};
use crate::output::{self, SyncReport};
use crate::page;
use crate::post::{ParseContext, Post};
use crate::render::{self, Doc, Rendered, HTML_TYPE};
use crate::server::State;
use crate::site::{ListOptions, Listing, Site};
use crate::store::Store;

/// What one publish did, for the log line.
#[derive(Debug, Default)]
pub struct Report {
    pub posts: usize,
    pub documents: usize,
    pub rendered: usize,
    pub failures: Vec<(String, String)>,
    pub sync: SyncReport,
    pub elapsed: Duration,
}

/// A post page, cached with the post version it was rendered from.
struct CachedPage {
    post: Arc<Post>,
    route: String,
    doc: Doc,
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
        let ctx = feed::parse_context(&config);
        let meta = SiteMeta::from_config(&config);
        let state = Arc::new(State::new(
            Store::default(),
            config.server.max_age,
            access_log,
        ));
        let mut p = Publisher {
            ctx,
            meta,
            opts,
            site: Site::default(),
            listing: Listing::new(Vec::new(), now, opts),
            state,
            pages: HashMap::new(),
            config,
        };
        let report = p.rebuild_all(now);
        (p, report)
    }

    /// Re-reads every post and republishes everything.
    pub fn rebuild_all(&mut self, now: DateTime<Utc>) -> Report {
        let started = Instant::now();
        self.site = Site::load(&self.config.paths.posts, &self.ctx, self.opts.drafts);
        self.listing = self.site.listing(now, self.opts);
        let rendered = render::render_all(&self.meta, &self.listing);
        self.publish(rendered, started)
    }

    /// Writes `rendered` to disk, adds post pages, and swaps in the new store.
    pub fn publish(&mut self, rendered: Rendered, started: Instant) -> Report {
        let keep: BTreeSet<String> = rendered.failures.keys().cloned().collect();
        let sync = output::sync(&self.config.paths.output, &rendered.docs, &keep);
        let rendered_count = rendered.docs.len();

        self.refresh_pages();
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
        let feeds = rendered
            .docs
            .into_iter()
            .map(|(route, doc)| (route, doc, None::<SystemTime>));
        let pages = self.pages.values().map(|p| {
            let t = system_time(&p.post.updated.max(p.post.date).with_timezone(&Utc));
            (p.route.clone(), p.doc.clone(), Some(t))
        });
        let mut store = Store::next(
            &prev,
            feeds.chain(pages),
            Some(&self.config.paths.output),
            link_of,
            SystemTime::now(),
        );
        store.carry_over(&prev, keep);
        let documents = store.len();
        self.state.swap(store);
        Report {
            posts: self.listing.posts.len(),
            documents,
            rendered: rendered_count,
            failures: rendered.failures.into_iter().collect(),
            sync,
            elapsed: started.elapsed(),
        }
    }

    /// Renders the pages of new or changed posts; drops pages of posts no longer listed.
    fn refresh_pages(&mut self) {
        let mut next = HashMap::with_capacity(self.listing.posts.len());
        for post in &self.listing.posts {
            let cached = self
                .pages
                .remove(&post.source)
                .filter(|c| Arc::ptr_eq(&c.post, post) || *c.post == **post);
            let page = cached.unwrap_or_else(|| CachedPage {
                post: Arc::clone(post),
                route: page::page_route(post),
                doc: Doc {
                    content_type: HTML_TYPE,
                    bytes: page::render(&self.meta, post),
                },
            });
            next.insert(post.source.clone(), page);
        }
        // Two posts claiming one permalink: the newer one (first in the listing) wins, the
        // same way for every build.
        let mut seen = BTreeSet::new();
        let mut order: Vec<&Arc<Post>> = self.listing.posts.iter().collect();
        order.retain(|p| seen.insert(page::page_route(p)));
        let winners: BTreeSet<&PathBuf> = order.iter().map(|p| &p.source).collect();
        next.retain(|k, _| winners.contains(k));
        self.pages = next;
    }
}

/// A UTC time as `SystemTime` (times before 1970 clamp to the epoch).
pub fn system_time(t: &DateTime<Utc>) -> SystemTime {
    u64::try_from(t.timestamp()).map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s))
}
