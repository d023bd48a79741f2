//! Post assets: the files under `posts/` that are not posts (images, PDFs, audio, video), served
//! and copied as they are, at their path under `posts/` — Jekyll's way with static files, and
//! what a relative reference from a post beside them names (see `crate::post::refs`).
//!
//! What is an asset is decided here, from the file's path and what it is on disk: a regular
//! file whose name is not a post's ([`crate::post::classify`]), not hidden (no path component
//! starting with `.`), not an editor leftover, not under a directory whose name starts with `_`
//! (`_drafts`, `_includes`: Jekyll leaves those out too), with a UTF-8 path, no larger than
//! `assets.max_bytes`, and not reached through a symbolic link that leads out of `posts/`
//! (a link within `posts/` is fine). A file that fails the last three is reported, with its
//! path and why, and left out; the others are not assets and are skipped silently.
//!
//! Only metadata is read here (size, mtime); the bytes are read once, when the file is copied
//! into the output directory (`crate::output::assets`), which also hashes them.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use walkdir::WalkDir;

use super::Change;
use crate::post::{self, AssetSet, FileKind};

/// One asset, as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Its path under `posts/` with `/` between segments (`images/pipeline.png`): the key
    /// posts look it up by, and its route without the leading `/`.
    pub key: String,
    /// Its size in bytes when it was found.
    pub len: u64,
    /// Its mtime when it was found: the asset's `Last-Modified`, and with the size how a
    /// changed file is told from an unchanged one.
    pub modified: SystemTime,
}

impl Asset {
    /// The route it is served at (decoded): `/` + its key.
    pub fn route(&self) -> String {
        format!("/{}", self.key)
    }

    /// Its media type, from its extension (`application/octet-stream` when unknown).
    pub fn content_type(&self) -> &'static str {
        content_type(&self.key)
    }
}

/// The media type of a file name, from its extension.
pub fn content_type(name: &str) -> &'static str {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
}

/// Whether a media type is worth compressing (text and text-based formats); images, audio,
/// video, PDF and archives are compressed already.
pub fn is_compressible(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/wasm"
        )
}

/// Why a file under `posts/` that would be an asset is left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetError {
    #[error("{}: asset of {len} bytes is over assets.max_bytes ({limit}); not served or copied", path.display())]
    TooLarge { path: PathBuf, len: u64, limit: u64 },
    #[error("{}: symbolic link to {} outside the posts directory; not served or copied as an asset", path.display(), target.display())]
    Outside { path: PathBuf, target: PathBuf },
    #[error("{}: file name is not UTF-8; not served or copied as an asset", path.display())]
    NotUtf8 { path: PathBuf },
    #[error("{}: cannot read asset: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
}

/// Every asset under the posts root, by path relative to it, and the files left out with why.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    pub files: BTreeMap<PathBuf, Asset>,
    pub errors: BTreeMap<PathBuf, AssetError>,
    max_bytes: u64,
}

/// What applying changes did to the assets.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AssetDelta {
    /// Assets added or changed (size or mtime), by path relative to the root.
    pub upserted: Vec<PathBuf>,
    /// Assets gone (removed, or now left out).
    pub removed: Vec<Asset>,
    /// Keys that became assets or stopped being ones: the posts that looked them up are
    /// read again.
    pub flipped: Vec<String>,
    /// Files found to be left out in this round.
    pub errors: Vec<AssetError>,
}

impl AssetDelta {
    pub fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.removed.is_empty()
    }
}

/// True when a path under `posts/` may be an asset by its name alone: not a post, not hidden,
/// not an editor leftover, not under a `_` directory.
pub fn is_asset_path(rel: &Path) -> bool {
    let names: Vec<std::borrow::Cow<'_, str>> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy()),
            _ => None,
        })
        .collect();
    let Some((file, dirs)) = names.split_last() else {
        return false;
    };
    !dirs.iter().any(|d| d.starts_with(['.', '_']))
        && !post::is_ignored_name(file)
        && post::classify(file) == FileKind::Ignored
}

impl Assets {
    /// Finds every asset under `root`.
    pub fn load(root: &Path, max_bytes: u64) -> Assets {
        let mut assets = Assets {
            max_bytes,
            ..Assets::default()
        };
        assets.apply(root, &[Change::Upsert(PathBuf::new())]);
        assets
    }

    /// The keys and sizes of every asset, for the parse context.
    pub fn names(&self) -> AssetSet {
        self.files
            .values()
            .map(|a| (a.key.clone(), a.len))
            .collect()
    }

    /// Applies file changes: looks again at every path they name (walking directories), and
    /// reports what came, changed and went.
    pub fn apply(&mut self, root: &Path, changes: &[Change]) -> AssetDelta {
        let canonical_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut found: BTreeMap<PathBuf, Result<Asset, AssetError>> = BTreeMap::new();
        let mut looked: Vec<&Path> = Vec::new();
        for change in changes {
            let rel = change.path();
            looked.push(rel);
            if !rel.as_os_str().is_empty() && super::walk_ancestors(root, rel).is_none() {
                continue;
            }
            self.find(root, &canonical_root, rel, &mut found);
        }
        let mut delta = AssetDelta::default();
        // What was known under the looked-at paths and is not found there now is gone.
        let known: Vec<PathBuf> = looked
            .iter()
            .flat_map(|rel| {
                super::under(&self.files, rel)
                    .chain(super::under(&self.errors, rel))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        for rel in known {
            if found.contains_key(&rel) {
                continue;
            }
            self.errors.remove(&rel);
            if let Some(gone) = self.files.remove(&rel) {
                delta.flipped.push(gone.key.clone());
                delta.removed.push(gone);
            }
        }
        for (rel, outcome) in found {
            match outcome {
                Ok(asset) => {
                    self.errors.remove(&rel);
                    match self.files.insert(rel.clone(), asset.clone()) {
                        Some(old) if old == asset => {}
                        Some(_) => delta.upserted.push(rel),
                        None => {
                            delta.flipped.push(asset.key.clone());
                            delta.upserted.push(rel);
                        }
                    }
                }
                Err(e) => {
                    if let Some(gone) = self.files.remove(&rel) {
                        delta.flipped.push(gone.key.clone());
                        delta.removed.push(gone);
                    }
                    if self.errors.get(&rel) != Some(&e) {
                        delta.errors.push(e.clone());
                    }
                    self.errors.insert(rel, e);
                }
            }
        }
        delta.flipped.sort();
        delta.flipped.dedup();
        delta
    }

    /// Looks at `rel` (a file, or a directory walked), adding what is there to `found`.
    fn find(
        &self,
        root: &Path,
        canonical_root: &Path,
        rel: &Path,
        found: &mut BTreeMap<PathBuf, Result<Asset, AssetError>>,
    ) {
        let full = root.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            return;
        };
        if !rel.as_os_str().is_empty() && !dirs_allowed(rel) {
            return;
        }
        if meta.file_type().is_symlink() || !rel.as_os_str().is_empty() {
            // Whatever leads here (this link, or one above it), it must end inside posts/.
            match inside(&full, canonical_root) {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    if is_asset_path(rel) || full.is_dir() {
                        found.insert(rel.to_path_buf(), Err(e));
                    }
                    return;
                }
                None => return,
            }
        }
        if !full.is_dir() {
            if is_asset_path(rel) {
                if let Some(outcome) = self.examine(root, rel) {
                    found.insert(rel.to_path_buf(), outcome);
                }
            }
            return;
        }
        // Directories behind links out of posts/ are reported and not entered.
        let outside_dirs = std::cell::RefCell::new(Vec::new());
        let walker = WalkDir::new(&full)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                if e.depth() == 0 {
                    return true;
                }
                let name = e.file_name().to_string_lossy();
                let is_dir = e.file_type().is_dir();
                if name.starts_with('.') || (is_dir && name.starts_with('_')) {
                    return false;
                }
                if is_dir && e.path_is_symlink() {
                    if let Some(Err(err)) = inside(e.path(), canonical_root) {
                        outside_dirs
                            .borrow_mut()
                            .push((e.path().to_path_buf(), err));
                        return false;
                    }
                }
                true
            });
        // Loops and unreadable directories: the walk of the posts reports them.
        for entry in walker.flatten() {
            if entry.depth() == 0 {
                continue;
            }
            let Ok(sub) = entry.path().strip_prefix(root) else {
                continue;
            };
            if !entry.file_type().is_file() || !is_asset_path(sub) {
                continue;
            }
            if entry.path_is_symlink() {
                match inside(entry.path(), canonical_root) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        found.insert(sub.to_path_buf(), Err(e));
                        continue;
                    }
                    None => continue,
                }
            }
            if let Some(outcome) = self.examine(root, sub) {
                found.insert(sub.to_path_buf(), outcome);
            }
        }
        for (path, err) in outside_dirs.into_inner() {
            if let Ok(sub) = path.strip_prefix(root) {
                found.insert(sub.to_path_buf(), Err(err));
            }
        }
    }

    /// The asset at `rel` (known to be inside posts/ and named like an asset), or why it is
    /// left out; `None` when it is not a regular file (or is gone).
    fn examine(&self, root: &Path, rel: &Path) -> Option<Result<Asset, AssetError>> {
        let full = root.join(rel);
        let meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                return Some(Err(AssetError::Unreadable {
                    path: full,
                    reason: e.to_string(),
                }))
            }
        };
        if !meta.is_file() {
            return None;
        }
        let Some(key) = key_of(rel) else {
            return Some(Err(AssetError::NotUtf8 { path: full }));
        };
        if meta.len() > self.max_bytes {
            return Some(Err(AssetError::TooLarge {
                path: full,
                len: meta.len(),
                limit: self.max_bytes,
            }));
        }
        Some(Ok(Asset {
            key,
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }))
    }
}

/// The directories of `rel` (all but its last component) may hold assets: none hidden or
/// starting with `_`.
fn dirs_allowed(rel: &Path) -> bool {
    let mut comps: Vec<Component<'_>> = rel.components().collect();
    comps.pop();
    comps.iter().all(|c| match c {
        Component::Normal(s) => !s.to_string_lossy().starts_with(['.', '_']),
        _ => true,
    })
}

/// Whether `path` (through any symbolic links) ends inside `canonical_root`; `None` when it
/// does not resolve (a dangling link, a file gone meanwhile): nothing there to serve.
fn inside(path: &Path, canonical_root: &Path) -> Option<Result<(), AssetError>> {
    let target = std::fs::canonicalize(path).ok()?;
    Some(if target.starts_with(canonical_root) {
        Ok(())
    } else {
        Err(AssetError::Outside {
            path: path.to_path_buf(),
            target,
        })
    })
}

/// `rel` as a key (`a/b.png`), when every component is UTF-8.
fn key_of(rel: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests;
