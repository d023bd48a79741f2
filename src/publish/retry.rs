//! Writes to `feeds/` that failed (disk full, not writable, the directory gone), tried again
//! without touching the store.

use std::time::Instant;

use super::{Publisher, Report};
use crate::output::{self, SyncReport};
use crate::render::Doc;

impl Publisher {
    /// Whether some documents could not be written to (or removed from) `feeds/` yet.
    pub fn has_unwritten(&self) -> bool {
        self.resync
            || !self.unwritten.is_empty()
            || !self.unremoved.is_empty()
            || self.has_unwritten_assets()
    }

    /// Tries again to write (and remove) what failed before; the store is unaffected.
    pub fn retry_writes(&mut self) -> Report {
        let busy = self.busy();
        let _busy = busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let started = Instant::now();
        let dir = &self.config.paths.output;
        if self.resync && std::fs::create_dir_all(dir).is_err() {
            // Still not a directory: nothing can be written yet.
            return Report {
                posts: self.listing.len(),
                documents: self.store.len(),
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
        let mut sync = output::apply(dir, docs, &removals);
        // The asset copies went with the directory, or some could not be written.
        sync.written += self.retry_assets(self.resync);
        self.resync = false;
        self.unwritten = sync.failed_writes.iter().cloned().collect();
        self.unremoved = sync.failed_removals.iter().cloned().collect();
        self.note_output(&sync);
        Report {
            posts: self.listing.len(),
            documents: self.store.len(),
            sync,
            elapsed: started.elapsed(),
            ..Report::default()
        }
    }

    /// After a failed write, notes whether the output directory itself is unusable (then every
    /// document is written again once it can be).
    pub(super) fn note_output(&mut self, sync: &SyncReport) {
        if !sync.failed_writes.is_empty() && !self.config.paths.output.is_dir() {
            self.resync = true;
        }
    }
}
