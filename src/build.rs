//! One full build: read every post, render every document, write `feeds/`.
//!
//! This is the whole pipeline in order — posts → site → listing → documents → disk — used by
//! `feedsmith build` (`serve` keeps its state between publishes: `publish::Publisher`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::feed::paging;
use crate::feed::SiteMeta;
use crate::output::{self, SyncReport};
use crate::post::{ParseContext, PostError};
use crate::render::{self, Fragments};
use crate::site::assets::Assets;
use crate::site::{ListOptions, Listing, Site};

/// Everything a build produced.
pub struct Build {
    pub site: Site,
    pub listing: Listing,
    pub meta: SiteMeta,
    /// Every listed post's item in every format, rendered once for all the feeds listing it.
    fragments: Fragments,
    /// Documents rendered and written (or found unchanged) by [`Build::write`], archive pages
    /// aside.
    pub documents: usize,
    /// Documents that failed their check, by route, with why (their old file is kept).
    pub failures: BTreeMap<String, crate::output::OutputError>,
    /// RFC 5005 archive pages written by [`Build::write`].
    pub archive_pages: usize,
    /// The files beside the posts, copied into the output by [`Build::write`].
    pub assets: Assets,
    /// Assets in the output directory after [`Build::write`].
    pub assets_copied: usize,
    /// Assets left out, with why (over the size limit, a link out of `posts/`, unreadable,
    /// at a route of the site's own documents).
    pub asset_notes: Vec<String>,
    pub elapsed: Duration,
}

/// How long `build --ping` may take in all, retries included.
pub const PING_WITHIN: Duration = Duration::from_secs(30);

/// `build --ping`: tells every external hub (`hub.external`) of the feeds whose files `sync`
/// wrote, within [`PING_WITHIN`]. Returns the topics named, and how each hub answered.
pub fn ping(config: &Config, sync: &SyncReport) -> (usize, Vec<crate::hub::ping::Pinged>) {
    use crate::hub::ping::{ping_now, topic_url};
    let base = config.site_url().as_str().trim_end_matches('/').to_owned();
    let topics: Vec<String> = sync
        .feeds_written
        .iter()
        .map(|route| topic_url(&base, route))
        .collect();
    if topics.is_empty() || config.hub.external.is_empty() {
        return (topics.len(), Vec::new());
    }
    (topics.len(), ping_now(config, &topics, PING_WITHIN))
}

/// Archive pages rendered and written per batch: bounds the memory a build of a large site
/// needs for its archives (which hold every post, in every scope, in every format).
const ARCHIVE_BATCH: usize = 512;

impl Build {
    /// Reads every post and renders each listed post's items (no disk writes): the documents
    /// themselves are rendered by [`Build::write`], each written as soon as it is made.
    pub fn run(config: &Config, opts: ListOptions, now: DateTime<Utc>) -> Build {
        let start = Instant::now();
        // Assets first: a post's relative references are resolved against them.
        let assets = Assets::load(&config.paths.posts, config.assets.max_bytes);
        let ctx = ParseContext {
            assets: std::sync::Arc::new(assets.names()),
            ..config.parse_context()
        };
        let site = Site::load(&config.paths.posts, &ctx, opts.drafts);
        let loaded = start.elapsed();
        let listing = site.listing(now, opts);
        let listed = start.elapsed();
        let meta = SiteMeta::from_config(config);
        let mut fragments = Fragments::default();
        fragments.prepare(&meta, &listing, &listing.scopes());
        tracing::debug!(
            "build phases: read {:?}, list {:?}, items {:?}",
            loaded,
            listed - loaded,
            start.elapsed() - listed
        );
        Build {
            site,
            listing,
            meta,
            fragments,
            documents: 0,
            failures: BTreeMap::new(),
            archive_pages: 0,
            asset_notes: assets.errors.values().map(ToString::to_string).collect(),
            assets,
            assets_copied: 0,
            elapsed: start.elapsed(),
        }
    }

    /// The post errors, in path order.
    pub fn errors(&self) -> impl Iterator<Item = &PostError> {
        self.site.errors.values()
    }

    /// Renders the documents, writing each to the output directory as soon as it is made,
    /// then renders and writes the archive pages batch by batch; failed documents keep their
    /// old file.
    pub fn write(&mut self, config: &Config) -> SyncReport {
        let start = Instant::now();
        let jobs = render::archive_jobs(&self.meta, &self.listing);
        let keep: BTreeSet<String> = jobs
            .iter()
            .map(|(s, f, k)| paging::route(s, *k, *f))
            .collect();
        let docs = render::doc_jobs(&self.meta, &self.listing, &self.listing.scopes());
        let (meta, listing, fragments) = (&self.meta, &self.listing, &self.fragments);
        let (mut report, failures) = output::sync_made(
            &config.paths.output,
            &docs,
            |job| {
                let (route, made) = render::render_job(meta, listing, fragments, job);
                (route, made.map(|(doc, _)| doc))
            },
            &keep,
        );
        // Made, whether or not they could be written (none, when the output directory could
        // not be created: then nothing was made).
        self.documents = report.written + report.unchanged + report.failed_writes.len();
        self.failures = failures;
        let documents_done = start.elapsed();
        // Where an archive build's time goes (RUST_LOG=feedsmith=debug): items, pages, disk.
        let (mut items, mut pages_made, mut pages_written) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        if !jobs.is_empty() {
            // The subscription documents are written: their items make room for the archives'.
            self.fragments = Fragments::default();
        }
        if report.errors.is_empty() || config.paths.output.is_dir() {
            // One format at a time, with that format's item of every post rendered once (a
            // post is in the archives of every scope it belongs to).
            for format in self.meta.formats.clone() {
                let jobs: Vec<_> = jobs.iter().filter(|j| j.1 == format).cloned().collect();
                // No archive pages (archives off, or every scope within its limit): no items
                // to render for them either.
                if jobs.is_empty() {
                    continue;
                }
                let meta = SiteMeta {
                    formats: vec![format],
                    ..self.meta.clone()
                };
                let mut fragments = Fragments::default();
                let t = Instant::now();
                fragments.prepare_all(&meta, &self.listing);
                items += t.elapsed();
                for batch in jobs.chunks(ARCHIVE_BATCH) {
                    let t = Instant::now();
                    let pages =
                        render::render_archive_jobs(&meta, &self.listing, &fragments, batch);
                    pages_made += t.elapsed();
                    let t = Instant::now();
                    let written = output::apply(&config.paths.output, &pages.docs, &[]);
                    pages_written += t.elapsed();
                    self.archive_pages += pages.docs.len();
                    self.failures
                        .extend(pages.failures.into_iter().map(|(r, e)| (r, e.into())));
                    report.absorb(written);
                }
            }
        }
        tracing::debug!(
            "build write: documents made, checked and written {documents_done:?}; archive \
             pages: items {items:?}, pages made and checked {pages_made:?}, written \
             {pages_written:?}"
        );
        self.write_assets(config, &mut report);
        self.elapsed += start.elapsed();
        report
    }

    /// Copies the assets into the output directory (the changed ones) and removes the copies
    /// of assets that are gone.
    fn write_assets(&mut self, config: &Config, report: &mut SyncReport) {
        for asset in self.assets.files.values() {
            let route = asset.route();
            if output::assets::reserved(&route) {
                self.asset_notes.push(format!(
                    "{}: asset at {route}, where the site's own document goes; not copied",
                    config.paths.posts.join(&asset.key).display()
                ));
            }
        }
        let mut copies = output::assets::Copies::open(&config.paths.output);
        let synced = copies.sync(
            &config.paths.posts,
            &self.assets.files,
            output::assets::reserved,
            config.assets.max_bytes,
        );
        self.assets_copied = synced.copied.len();
        for (_, e) in synced.failed {
            match e {
                output::assets::CopyError::Write { .. } => report.errors.push(e.to_string()),
                other => self.asset_notes.push(other.to_string()),
            }
        }
        report.errors.extend(synced.errors);
    }
}
