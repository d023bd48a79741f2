//! Post assets in the output directory: each asset copied to its route (`posts/images/x.png`
//! → `feeds/images/x.png`), only when it changed, and the copies of assets that are gone
//! removed — as `build` does for feeds, so a static host serves the same files `serve` does.
//!
//! The copy is also what `serve` answers from (`crate::server::file`): only feedsmith writes
//! it, atomically (a temporary file renamed into place), and the hash behind the asset's ETag
//! is taken from the very bytes written, so the ETag always names the bytes on disk. Its mtime
//! is set to the source's, which is the asset's `Last-Modified`.
//!
//! Which files under the output directory are asset copies is kept in a small manifest beside
//! them ([`MANIFEST`]): an asset's path has no shape to recognize it by (feeds do, see
//! `managed_files`), and a file feedsmith did not write must never be removed. The manifest
//! also keeps each copy's hash, so a restart does not read every podcast episode again.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{file_for, Atomic};
use crate::site::assets::{is_compressible, Asset};

/// The manifest of the asset copies, in the output directory.
pub const MANIFEST: &str = ".feedsmith-assets.json";

/// Compressible assets (text, SVG, JSON, XML, JavaScript) up to this size are kept in memory
/// and served like documents (compressed forms, no `Range`); everything else is served from
/// its copy on disk.
pub const IN_MEMORY_MAX: u64 = 1 << 20;

/// Whether `route` is one the site's own documents may take: feeds of every scope, their
/// archive pages, the OPML list and the index. An asset there is not served or copied (the
/// documents win, and would overwrite its copy); post pages, which `serve` alone makes, win
/// by being looked up first.
pub fn reserved(route: &str) -> bool {
    use crate::config::Format;
    use crate::feed::{paging, INDEX_ROUTE, OPML_ROUTE};
    if route == OPML_ROUTE || route == INDEX_ROUTE || paging::parse_route(route).is_some() {
        return true;
    }
    let Some(format) = Format::of_route(route) else {
        return false;
    };
    let dir = &route[..route.len() - format.file_name().len()];
    dir == "/"
        || matches!(
            dir.trim_end_matches('/').rsplit_once('/'),
            Some(("/categories" | "/tags", slug)) if !slug.is_empty()
        )
}

/// How much of a file is read at a time when copying.
const COPY_CHUNK: usize = 256 << 10;

/// One asset as it is in the output directory.
#[derive(Debug, Clone)]
pub struct Copied {
    /// Its route (decoded).
    pub route: String,
    /// The copy.
    pub path: PathBuf,
    pub len: u64,
    /// Hash of the copy's bytes (the ETag's opaque part).
    pub hash: u128,
    /// The source file's mtime.
    pub modified: SystemTime,
    pub content_type: &'static str,
    /// Its bytes, when it is served from memory (see [`IN_MEMORY_MAX`]).
    pub bytes: Option<Bytes>,
}

/// Why an asset could not be copied (it is not served until it is).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{}: cannot read asset: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write asset copy: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: grew over assets.max_bytes ({limit}) while it was copied; not served", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{route}: not a safe output path")]
    UnsafePath { route: String },
}

/// What the manifest says about one copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Entry {
    len: u64,
    secs: u64,
    nanos: u32,
    /// The copy's content hash, 32 hex digits.
    hash: String,
}

impl Entry {
    fn modified(&self) -> SystemTime {
        UNIX_EPOCH + Duration::new(self.secs, self.nanos)
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Manifest {
    version: u32,
    /// By route.
    assets: BTreeMap<String, Entry>,
}

/// The asset copies of one output directory, as its manifest records them.
#[derive(Debug)]
pub struct Copies {
    dir: PathBuf,
    entries: BTreeMap<String, Entry>,
    /// The manifest on disk differs from `entries`.
    dirty: bool,
}

/// What an asset sync did.
#[derive(Debug, Default)]
pub struct AssetSync {
    /// Every asset now in the output directory.
    pub copied: Vec<Copied>,
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Assets that could not be copied, by path under `posts/`, with why.
    pub failed: Vec<(PathBuf, CopyError)>,
    /// Other problems (a stale copy that could not be removed, the manifest).
    pub errors: Vec<String>,
}

impl Copies {
    /// The copies `dir`'s manifest records (none when it is missing or unreadable: then
    /// every asset is copied again, and no file is taken for a stale copy).
    pub fn open(dir: &Path) -> Copies {
        let entries = fs::read(dir.join(MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            .filter(|m| m.version == 1)
            .map(|m| m.assets)
            .unwrap_or_default();
        Copies {
            dir: dir.to_path_buf(),
            entries,
            dirty: false,
        }
    }

    /// The routes of the copies recorded.
    pub fn routes(&self) -> impl Iterator<Item = &String> {
        self.entries.keys()
    }

    /// Copies the asset at `posts_root/rel` to its route unless the copy there is current
    /// (same size and mtime as the source, as the manifest recorded them). Returns the copy
    /// and whether it was written.
    pub fn copy(
        &mut self,
        posts_root: &Path,
        rel: &Path,
        asset: &Asset,
        max_bytes: u64,
    ) -> Result<(Copied, bool), CopyError> {
        let route = asset.route();
        let dest = file_for(&self.dir, &route).ok_or_else(|| CopyError::UnsafePath {
            route: route.clone(),
        })?;
        let content_type = asset.content_type();
        let in_memory = is_compressible(content_type) && asset.len <= IN_MEMORY_MAX;
        if let Some(copied) = self.current(&route, &dest, asset, in_memory) {
            return Ok((copied, false));
        }
        let source = posts_root.join(rel);
        let (hash, len, modified, bytes) = copy_file(&source, &dest, max_bytes, in_memory)?;
        self.entries.insert(
            route.clone(),
            Entry {
                len,
                secs: modified
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                nanos: modified
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
                hash: format!("{hash:032x}"),
            },
        );
        self.dirty = true;
        Ok((
            Copied {
                route,
                path: dest,
                len,
                hash,
                modified,
                content_type,
                bytes: bytes.map(Bytes::from),
            },
            true,
        ))
    }

    /// The copy at `dest` when the manifest says it is of this version of the asset and the
    /// file there agrees (size and mtime); a copy served from memory is read back.
    fn current(&self, route: &str, dest: &Path, asset: &Asset, in_memory: bool) -> Option<Copied> {
        let entry = self.entries.get(route)?;
        if entry.len != asset.len || entry.modified() != asset.modified {
            return None;
        }
        let meta = fs::metadata(dest).ok()?;
        if !meta.is_file() || meta.len() != entry.len || meta.modified().ok()? != asset.modified {
            return None;
        }
        let hash = u128::from_str_radix(&entry.hash, 16).ok()?;
        let bytes = if in_memory {
            let bytes = fs::read(dest).ok()?;
            // Read back whole: its hash is checked, not trusted.
            (hash_of(&bytes) == hash).then_some(Bytes::from(bytes))?
        } else {
            Bytes::new()
        };
        Some(Copied {
            route: route.to_owned(),
            path: dest.to_path_buf(),
            len: entry.len,
            hash,
            modified: asset.modified,
            content_type: asset.content_type(),
            bytes: in_memory.then_some(bytes),
        })
    }

    /// Removes the copy at `route` (and directories it leaves empty) and forgets it. A route
    /// `keep_file` says is a document's now only leaves the manifest.
    pub fn remove(&mut self, route: &str, keep_file: bool) -> std::io::Result<bool> {
        if self.entries.remove(route).is_none() {
            return Ok(false);
        }
        self.dirty = true;
        if keep_file {
            return Ok(false);
        }
        let Some(path) = file_for(&self.dir, route) else {
            return Ok(false);
        };
        match fs::remove_file(&path) {
            Ok(()) => {
                let mut parent = path.parent();
                while let Some(p) = parent.filter(|p| *p != self.dir && p.starts_with(&self.dir)) {
                    if fs::remove_dir(p).is_err() {
                        break;
                    }
                    parent = p.parent();
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes the manifest if it changed (removes it when no copy is left).
    pub fn save(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let path = self.dir.join(MANIFEST);
        if self.entries.is_empty() {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else {
            let manifest = Manifest {
                version: 1,
                assets: self.entries.clone(),
            };
            let mut text = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
            text.push(b'\n');
            Atomic::DOCUMENT.write(&path, &text)?;
        }
        self.dirty = false;
        Ok(())
    }

    /// Brings the copies in line with `assets` (path under `posts/` → asset): copies what
    /// changed, removes copies of assets that are gone, and saves the manifest. Routes
    /// `reserved` names (the site's own documents) are neither copied nor removed.
    pub fn sync<'a>(
        &mut self,
        posts_root: &Path,
        assets: impl IntoIterator<Item = (&'a PathBuf, &'a Asset)>,
        reserved: impl Fn(&str) -> bool,
        max_bytes: u64,
    ) -> AssetSync {
        let mut report = AssetSync::default();
        let mut live = std::collections::BTreeSet::new();
        for (rel, asset) in assets {
            let route = asset.route();
            if reserved(&route) {
                continue;
            }
            live.insert(route);
            match self.copy(posts_root, rel, asset, max_bytes) {
                Ok((copied, written)) => {
                    if written {
                        report.written += 1;
                    } else {
                        report.unchanged += 1;
                    }
                    report.copied.push(copied);
                }
                Err(e) => report.failed.push((rel.clone(), e)),
            }
        }
        let stale: Vec<String> = self
            .routes()
            .filter(|r| !live.contains(*r))
            .cloned()
            .collect();
        for route in stale {
            match self.remove(&route, reserved(&route)) {
                Ok(true) => report.removed += 1,
                Ok(false) => {}
                Err(e) => report
                    .errors
                    .push(format!("{route}: cannot remove stale asset copy: {e}")),
            }
        }
        if let Err(e) = self.save() {
            report.errors.push(format!(
                "{}: cannot write: {e}",
                self.dir.join(MANIFEST).display()
            ));
        }
        report
    }
}

/// The hash of a copy's bytes, as [`copy_file`] takes it while writing: XXH3-128, the
/// function behind every document's ETag (`store::content_hash`; the publisher's tests check
/// they agree).
pub fn hash_of(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// What [`copy_file`] wrote: the hash of the bytes, their length, the source's mtime as the
/// open file reported it (the copy has it too), and the bytes when they were to be kept.
type Written = (u128, u64, SystemTime, Option<Vec<u8>>);

/// Copies `source` to `dest` through a temporary file renamed into place, hashing the bytes
/// as they are written (and keeping them when `keep`).
fn copy_file(source: &Path, dest: &Path, max_bytes: u64, keep: bool) -> Result<Written, CopyError> {
    let read_err = |e| CopyError::Read {
        path: source.to_path_buf(),
        source: e,
    };
    let write_err = |e| CopyError::Write {
        path: dest.to_path_buf(),
        source: e,
    };
    let mut input = fs::File::open(source).map_err(read_err)?;
    let meta = input.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(read_err(std::io::Error::other("not a regular file")));
    }
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(write_err)?;
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut out = fs::File::create(&tmp).map_err(write_err)?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut kept = keep.then(Vec::new);
        let mut buf = vec![0; COPY_CHUNK];
        let mut len: u64 = 0;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            len += n as u64;
            if len > max_bytes {
                return Err(CopyError::TooLarge {
                    path: source.to_path_buf(),
                    limit: max_bytes,
                });
            }
            hasher.update(&buf[..n]);
            if let Some(k) = kept.as_mut() {
                k.extend_from_slice(&buf[..n]);
            }
            out.write_all(&buf[..n]).map_err(write_err)?;
        }
        out.set_modified(modified).map_err(write_err)?;
        drop(out);
        fs::rename(&tmp, dest).map_err(write_err)?;
        Ok((hasher.digest128(), len, modified, kept))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
