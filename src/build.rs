//! One full build: read every post, render every document, write `feeds/`.
//!
//! This is the whole pipeline in order — posts → site → listing → documents → disk — used by
//! `feedsmith build` and as the first step of `serve`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::feed::{self, SiteMeta};
use crate::output::{self, SyncReport};
use crate::post::PostError;
use crate::render::{self, Rendered};
use crate::site::{ListOptions, Listing, Site};

/// Everything a build produced.
pub struct Build {
    pub site: Site,
    pub listing: Listing,
    pub meta: SiteMeta,
    pub rendered: Rendered,
    pub elapsed: Duration,
}

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
            elapsed: start.elapsed(),
        }
    }

    /// The post errors, in path order.
    pub fn errors(&self) -> impl Iterator<Item = &PostError> {
        self.site.errors.values()
    }

    /// Writes the documents to the output directory; failed documents keep their old file.
    pub fn write(&self, config: &Config) -> SyncReport {
        let keep: BTreeSet<String> = self.rendered.failures.keys().cloned().collect();
        output::sync(&config.paths.output, &self.rendered.docs, &keep)
    }
}
