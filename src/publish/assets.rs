//! Post assets while serving: each asset copied into the output directory and put in the store
//! (in memory, or as its copy's validators), kept current as files come, change and go, and
//! the posts that refer to an asset read again when it appears or goes (see
//! `crate::post::refs`).
//!
//! Order matters for readers: a new or changed asset is copied before the store that serves
//! it is published; a removed asset's copy is deleted only after the store without it is.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Published, Publisher};
use crate::output::assets::{reserved, Copied, Copies, CopyError};
use crate::site::assets::{AssetDelta, Assets};
use crate::site::Change;
use crate::store::{self, Document, FileAsset, Store};

/// The publisher's bookkeeping of asset copies and what the next store gets.
pub(super) struct AssetCopies {
    copies: Copies,
    /// Assets copied (or found current) and not yet in a published store, by route.
    upserts: Vec<(String, store::Asset)>,
    /// Routes of assets gone, to leave the next store.
    removals: Vec<String>,
    /// Copies to delete once a store without them is published.
    doomed: Vec<String>,
    /// Assets whose copy could not be written (disk full, output not writable), by path
    /// under `posts/`: tried again with the other unwritten files.
    unwritten: BTreeSet<PathBuf>,
    /// Routes whose shadowing by a document has been reported (once each).
    warned: HashSet<String>,
}

impl AssetCopies {
    pub(super) fn new(output: &std::path::Path) -> AssetCopies {
        AssetCopies {
            copies: Copies::open(output),
            upserts: Vec::new(),
            removals: Vec::new(),
            doomed: Vec::new(),
            unwritten: BTreeSet::new(),
            warned: HashSet::new(),
        }
    }
}

/// An asset copy as the store serves it: its bytes in memory, or its file.
fn store_asset(copied: Copied) -> (String, store::Asset) {
    // Never later than now (RFC 9110 §8.8.2.1): a file dated in the future would answer 304
    // to every revalidation until then.
    let last_modified = copied.modified.min(SystemTime::now());
    let asset = match copied.bytes {
        Some(bytes) => store::Asset::Memory(Arc::new(Document::new(
            copied.content_type,
            bytes,
            last_modified,
            None,
        ))),
        None => store::Asset::File(Arc::new(FileAsset::new(
            copied.content_type,
            copied.path,
            copied.len,
            copied.hash,
            copied.modified,
            last_modified,
        ))),
    };
    (copied.route, asset)
}

impl Publisher {
    /// Copies every asset (those whose copy is current are only looked at) and removes stale
    /// copies, for the first store. Returns the errors.
    pub(super) fn copy_all_assets(&mut self) -> Vec<String> {
        let mut errors: Vec<String> = self.assets.errors.values().map(|e| e.to_string()).collect();
        let synced = self.asset_copies.copies.sync(
            &self.config.paths.posts,
            &self.assets.files,
            reserved,
            self.config.assets.max_bytes,
        );
        self.asset_copies
            .upserts
            .extend(synced.copied.into_iter().map(store_asset));
        for (rel, e) in synced.failed {
            self.note_copy_failure(rel, &e);
            errors.push(e.to_string());
        }
        errors.extend(synced.errors);
        errors
    }

    /// Applies file changes to the assets (see [`Publisher::take_asset_delta`]). Returns the
    /// changes to apply to the posts (`changes`, and the posts to read again), the assets
    /// that changed (paths under `posts/`) and the errors found.
    pub(super) fn apply_assets<'c>(
        &mut self,
        root: &std::path::Path,
        changes: &'c [Change],
    ) -> (Cow<'c, [Change]>, Vec<PathBuf>, Vec<String>) {
        let delta = self.assets.apply(root, changes);
        let changed: Vec<PathBuf> = delta
            .upserted
            .iter()
            .cloned()
            .chain(delta.removed.iter().map(|a| PathBuf::from(&a.key)))
            .collect();
        let (rereads, errors) = self.take_asset_delta(delta);
        let changes = if rereads.is_empty() {
            Cow::Borrowed(changes)
        } else {
            Cow::Owned(changes.iter().cloned().chain(rereads).collect())
        };
        (changes, changed, errors)
    }

    /// Takes what changing the files did to the assets: copies the new and changed ones,
    /// queues the removals, and returns the posts to read again (those that looked up an
    /// asset that came or went) with the errors found.
    fn take_asset_delta(&mut self, delta: AssetDelta) -> (Vec<Change>, Vec<String>) {
        let mut errors: Vec<String> = delta.errors.iter().map(ToString::to_string).collect();
        for rel in &delta.upserted {
            errors.extend(self.copy_asset(rel));
        }
        for gone in &delta.removed {
            let route = gone.route();
            self.asset_copies
                .unwritten
                .remove(&PathBuf::from(&gone.key));
            self.asset_copies.removals.push(route.clone());
            self.asset_copies.doomed.push(route);
        }
        // An asset whose size changed changes the `length` of the enclosures naming it.
        let resized: Vec<&str> = delta
            .upserted
            .iter()
            .filter_map(|rel| self.assets.files.get(rel))
            .filter(|a| {
                self.ctx
                    .assets
                    .len_of(&a.key)
                    .is_some_and(|len| len != a.len)
            })
            .map(|a| a.key.as_str())
            .collect();
        if delta.flipped.is_empty() && resized.is_empty() {
            return (Vec::new(), errors);
        }
        let mut flipped: HashSet<&str> = delta.flipped.iter().map(String::as_str).collect();
        flipped.extend(resized);
        self.ctx.assets = Arc::new(self.assets.names());
        let rereads = self
            .site
            .posts
            .values()
            .filter(|p| p.asset_refs.iter().any(|r| flipped.contains(r.as_str())))
            .map(|p| Change::Upsert(p.source.clone()))
            .collect();
        (rereads, errors)
    }

    /// Copies one asset and queues it for the next store; the error, if it failed.
    fn copy_asset(&mut self, rel: &PathBuf) -> Option<String> {
        let asset = self.assets.files.get(rel)?;
        let route = asset.route();
        if reserved(&route) {
            self.warn_shadowed(&route);
            return None;
        }
        match self.asset_copies.copies.copy(
            &self.config.paths.posts,
            rel,
            asset,
            self.config.assets.max_bytes,
        ) {
            Ok((copied, _)) => {
                self.asset_copies.unwritten.remove(rel);
                self.asset_copies.upserts.push(store_asset(copied));
                None
            }
            Err(e) => {
                let message = e.to_string();
                self.note_copy_failure(rel.clone(), &e);
                Some(message)
            }
        }
    }

    /// A copy that failed to be written is tried again; one whose source failed waits for
    /// its next change.
    fn note_copy_failure(&mut self, rel: PathBuf, e: &CopyError) {
        if matches!(e, CopyError::Write { .. }) {
            self.asset_copies.unwritten.insert(rel);
        }
    }

    /// Whether some asset copies are still to be written.
    pub(super) fn has_unwritten_assets(&self) -> bool {
        !self.asset_copies.unwritten.is_empty()
    }

    /// Copies again the assets whose copy failed, or all of them when the output directory
    /// had to be written anew; publishes those that now have one. Returns how many.
    pub(super) fn retry_assets(&mut self, all: bool) -> usize {
        let todo: Vec<PathBuf> = if all {
            self.assets.files.keys().cloned().collect()
        } else {
            self.asset_copies.unwritten.iter().cloned().collect()
        };
        let before = self.asset_copies.upserts.len();
        for rel in todo {
            if let Some(e) = self.copy_asset(&rel) {
                tracing::debug!("asset copy still failing: {e}");
            }
        }
        let _ = self.asset_copies.copies.save();
        let done = self.asset_copies.upserts.len() - before;
        if done > 0 {
            self.publish_assets();
        }
        done
    }

    /// Puts the queued assets in `store` (being built for the next publish); returns the
    /// routes of those added, replaced or removed.
    pub(super) fn put_assets(&mut self, store: &mut Store) -> Vec<String> {
        let removals = std::mem::take(&mut self.asset_copies.removals);
        let upserts = std::mem::take(&mut self.asset_copies.upserts);
        if removals.is_empty() && upserts.is_empty() {
            return Vec::new();
        }
        let routes = upserts
            .iter()
            .map(|(route, _)| route.clone())
            .chain(removals.iter().cloned())
            .collect();
        store.update_assets(upserts, removals);
        if let Err(e) = self.asset_copies.copies.save() {
            tracing::warn!("asset manifest not written: {e}");
        }
        routes
    }

    /// After a store is published: deletes the copies it no longer serves, and reports
    /// assets a document shadows.
    pub(super) fn after_publish(&mut self) {
        for route in std::mem::take(&mut self.asset_copies.doomed) {
            if let Err(e) = self.asset_copies.copies.remove(&route, reserved(&route)) {
                tracing::error!("{route}: cannot remove stale asset copy: {e}");
            }
        }
        let _ = self.asset_copies.copies.save();
        let store = Arc::clone(&self.store);
        // The routes `serve` answers itself, before any document or asset.
        let server = &self.config.server;
        let own: Vec<&str> = [
            self.config.hub.enabled.then_some("/hub"),
            Some(server.metrics_path.as_str()),
            Some(server.health_path.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter(|r| !r.is_empty())
        .collect();
        let shadowed: Vec<String> = self
            .assets
            .files
            .values()
            .map(|a| a.route())
            .filter(|route| {
                reserved(route)
                    || store.get(route).is_some()
                    || store.lazy(route).is_some()
                    || own.contains(&route.as_str())
            })
            .collect();
        for route in shadowed {
            self.warn_shadowed(&route);
        }
    }

    /// Says once that the asset at `route` is not served: a document of the site is there.
    fn warn_shadowed(&mut self, route: &str) {
        if self.asset_copies.warned.insert(route.to_owned()) {
            tracing::warn!(
                "{}{route}: asset at a route of the site's own documents; the document is served",
                self.config.paths.posts.display()
            );
        }
    }

    /// Publishes the queued assets alone (no post changed).
    pub(super) fn publish_assets(&mut self) {
        let mut store = (*self.store).clone();
        let assets = self.put_assets(&mut store);
        self.store = Arc::new(store);
        self.outlet.publish(Published {
            store: Arc::clone(&self.store),
            feeds_changed: Vec::new(),
            feeds_removed: Vec::new(),
            changed: super::Changed {
                assets,
                ..super::Changed::default()
            },
            posts: Vec::new(),
        });
        self.after_publish();
    }

    /// Whether asset changes wait for a publish.
    pub(super) fn assets_pending(&self) -> bool {
        !self.asset_copies.upserts.is_empty() || !self.asset_copies.removals.is_empty()
    }
}

/// The asset index for a freshly started publisher.
pub(super) fn load(config: &crate::config::Config) -> Assets {
    Assets::load(&config.paths.posts, config.assets.max_bytes)
}

#[cfg(test)]
mod tests {
    /// An asset's ETag, taken while its copy is written, is the ETag its bytes would have as
    /// a document (an in-memory asset is one).
    #[test]
    fn asset_copies_hash_as_documents_do() {
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(
            crate::output::assets::hash_of(&bytes),
            crate::store::content_hash(&bytes)
        );
        let dir = tempfile::tempdir().unwrap();
        let posts = dir.path().join("posts");
        std::fs::create_dir_all(&posts).unwrap();
        std::fs::write(posts.join("a.bin"), &bytes).unwrap();
        let assets = crate::site::assets::Assets::load(&posts, 1 << 20);
        let mut copies = crate::output::assets::Copies::open(&dir.path().join("out"));
        let synced = copies.sync(&posts, &assets.files, |_| false, 1 << 20);
        assert_eq!(synced.copied[0].hash, crate::store::content_hash(&bytes));
    }
}
