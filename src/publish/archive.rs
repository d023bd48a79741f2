//! RFC 5005 archive pages in `serve`: rendered on request from the publisher's listing and
//! item fragments, kept in the byte-budgeted page cache with their validators.

use std::sync::Arc;

use chrono::Utc;

use super::{system_time, Publisher};
use crate::feed::{paging, FeedSpec};
use crate::render;
use crate::store::archive::Lookup;
use crate::store::Document;

impl Publisher {
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
}
