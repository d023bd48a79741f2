//! One full build: read every post, render every document, write `feeds/`.
//!
//! This is the whole pipeline in order — posts → site → listing → documents → disk — used by
//! `feedsmith build` and as the first step of `serve`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::archive;
use crate::config::Config;
use crate::feed::{self, SiteMeta};
use crate::output::{self, SyncReport};
use crate::post::PostError;
use crate::render::{self, Fragments, Rendered};
use crate::site::{ListOptions, Listing, Site};

/// Everything a build produced.
pub struct Build {
    pub site: Site,
    pub listing: Listing,
    pub meta: SiteMeta,
    pub rendered: Rendered,
    /// RFC 5005 archive pages written by [`Build::write`].
    pub archive_pages: usize,
    pub elapsed: Duration,
}

/// Archive pages rendered and written per batch: bounds the memory a build of a large site
/// needs for its archives (which hold every post, in every scope, in every format).
const ARCHIVE_BATCH: usize = 512;

impl Build {
    /// Reads and renders everything (no disk writes).
    pub fn run(config: &Config, opts: ListOptions, now: DateTime<Utc>) -> Build {
        let start = Instant::now();
        let ctx = feed::parse_context(config);
        let site = Site::load(&config.paths.posts, &ctx, opts.drafts);
        let loaded = start.elapsed();
        let listing = site.listing(now, opts);
        let listed = start.elapsed();
        let meta = SiteMeta::from_config(config);
        let rendered = render::render_site(&meta, &listing);
        tracing::debug!(
            "build phases: read {:?}, list {:?}, render {:?}",
            loaded,
            listed - loaded,
            start.elapsed() - listed
        );
        Build {
            site,
            listing,
            meta,
            rendered,
            archive_pages: 0,
            elapsed: start.elapsed(),
        }
    }

    /// The post errors, in path order.
    pub fn errors(&self) -> impl Iterator<Item = &PostError> {
        self.site.errors.values()
    }

    /// Writes the documents to the output directory, then renders and writes the archive
    /// pages batch by batch; failed documents keep their old file.
    pub fn write(&mut self, config: &Config) -> SyncReport {
        let start = Instant::now();
        let jobs = render::archive_jobs(&self.meta, &self.listing);
        let mut keep: BTreeSet<String> = self.rendered.failures.keys().cloned().collect();
        keep.extend(jobs.iter().map(|(s, f, k)| archive::route(s, *k, *f)));
        let mut report = output::sync(&config.paths.output, &self.rendered.docs, &keep);
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
                fragments.prepare_all(&meta, &self.listing);
                for batch in jobs.chunks(ARCHIVE_BATCH) {
                    let pages =
                        render::render_archive_jobs(&meta, &self.listing, &fragments, batch);
                    let written = output::apply(&config.paths.output, &pages.docs, &[]);
                    self.archive_pages += pages.docs.len();
                    self.rendered.failures.extend(pages.failures);
                    report.absorb(written);
                }
            }
        }
        self.elapsed += start.elapsed();
        report
    }
}
