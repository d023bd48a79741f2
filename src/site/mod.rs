//! The site: every post read from `posts/`, and the published view of them at a given time —
//! posts newest first plus the category and tag indexes that define the feed scopes.
//!
//! Loading walks the tree once and parses files in parallel; bad files become entries in an
//! error list while the rest still loads (SPEC §7).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use walkdir::WalkDir;

pub mod assets;
pub mod deleted;
pub mod listing;
use crate::post::{self, FileKind, ParseContext, Post, PostError, PostErrorKind, DRAFTS_DIR};
pub use listing::{Delta, ListOptions, Listing, Scope, Term, TermKind};

/// Every post file under the root, parsed or failed, keyed by path relative to the root.
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub posts: BTreeMap<PathBuf, Arc<Post>>,
    pub errors: BTreeMap<PathBuf, PostError>,
}

/// Lists the post files under `root` (relative paths), following SPEC §1's skip rules.
/// Walk problems (symlink loops, unreadable directories) come back as errors.
pub fn discover(root: &Path, drafts: bool) -> (Vec<PathBuf>, Vec<PostError>) {
    discover_below(root, drafts, &[])
}

/// [`discover`] for a directory reached from the posts root through the directories whose
/// canonical paths are `outer` (see [`walk_ancestors`]): a symbolic link back to one of them
/// is a loop a walk from the root would not follow, so it is not followed here either.
fn discover_below(root: &Path, drafts: bool, outer: &[PathBuf]) -> (Vec<PathBuf>, Vec<PostError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    // The canonical paths of the directories the walk is in: `outer`, then one per depth.
    // walkdir only checks a followed symbolic link against its ancestors; a real directory
    // under a followed link can be an ancestor too (`posts/loop → ..` leads to
    // `posts/loop/posts`), and is a loop just the same.
    let mut chain: Vec<PathBuf> = outer.to_vec();
    let loops: std::cell::RefCell<Vec<(PathBuf, PathBuf)>> = std::cell::RefCell::default();
    let walker = WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                chain.truncate(outer.len());
                chain.push(std::fs::canonicalize(e.path()).unwrap_or_else(|_| e.path().into()));
                return true;
            }
            let name = e.file_name().to_string_lossy();
            if !e.file_type().is_dir() {
                return !post::is_ignored_name(&name);
            }
            if name.starts_with('.') || (!drafts && name == DRAFTS_DIR) {
                return false;
            }
            chain.truncate(outer.len() + e.depth());
            let here = if e.path_is_symlink() {
                match std::fs::canonicalize(e.path()) {
                    Ok(c) => c,
                    // walkdir reports what is wrong with it.
                    Err(_) => return true,
                }
            } else {
                match chain.last() {
                    Some(parent) => parent.join(e.file_name()),
                    None => return true,
                }
            };
            // A link to the posts root's own parent (or above) leads back into the root.
            let contains_root =
                e.path_is_symlink() && chain.first().is_some_and(|r| r.starts_with(&here));
            if let Some(ancestor) = chain
                .iter()
                .find(|a| **a == here)
                .or(contains_root.then_some(&here))
            {
                loops
                    .borrow_mut()
                    .push((e.path().to_path_buf(), ancestor.clone()));
                return false;
            }
            chain.push(here);
            true
        });
    for entry in walker {
        match entry {
            Ok(e) => {
                if !e.file_type().is_file() {
                    continue;
                }
                let name = e.file_name().to_string_lossy();
                if let FileKind::Post(_) = post::classify(&name) {
                    if let Ok(rel) = e.path().strip_prefix(root) {
                        files.push(rel.to_path_buf());
                    }
                }
            }
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf());
                // Errors reach here without passing `filter_entry`: apply the skip rules.
                if e.depth() > 0 && silently_skipped(&path) {
                    continue;
                }
                let reason = if let Some(ancestor) = e.loop_ancestor() {
                    format!(
                        "symbolic link loop back to {} (not followed)",
                        ancestor.display()
                    )
                } else if e.depth() == 0 {
                    format!("cannot read posts directory: {}", io_reason(&e))
                } else if is_dangling_symlink(&path) {
                    "broken symbolic link (its target does not exist)".to_owned()
                } else {
                    io_reason(&e)
                };
                errors.push(PostError {
                    path,
                    line: None,
                    kind: PostErrorKind::Unreadable(reason),
                });
            }
        }
    }
    for (path, ancestor) in loops.into_inner() {
        errors.push(PostError {
            path,
            line: None,
            kind: PostErrorKind::Unreadable(format!(
                "symbolic link loop back to {} (not followed)",
                ancestor.display()
            )),
        });
    }
    (files, errors)
}

/// A walk error on an entry the skip rules pass over anyway: a hidden name or an editor
/// leftover (Emacs lock files `.#x` are dangling symlinks), or a dangling symlink whose name
/// is not a post's.
fn silently_skipped(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    post::is_ignored_name(&name)
        || (post::classify(&name) == FileKind::Ignored && is_dangling_symlink(path))
}

fn is_dangling_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(path).is_err()
}

fn io_reason(e: &walkdir::Error) -> String {
    e.io_error()
        .map_or_else(|| e.to_string(), std::string::ToString::to_string)
}

/// Sites with fewer posts keep content compressed without a dictionary (it would not pay for
/// the time it takes to train).
pub const DICT_MIN_POSTS: usize = 2000;
/// How many posts a dictionary is trained on.
const DICT_SAMPLES: usize = 1000;

impl Site {
    /// Reads every post under `root` (parsing in parallel).
    pub fn load(root: &Path, ctx: &ParseContext, drafts: bool) -> Site {
        let (files, walk_errors) = discover(root, drafts);
        Site::read(root, ctx, files, walk_errors)
    }

    /// [`Site::load`] for a server that keeps content compressed (`ctx.compact`): a site of
    /// [`DICT_MIN_POSTS`] posts or more first gets a compression dictionary trained on a
    /// sample of its posts, set in `ctx` for every post read with it from now on.
    pub fn load_compact(root: &Path, ctx: &mut ParseContext, drafts: bool) -> Site {
        let (files, walk_errors) = discover(root, drafts);
        if ctx.compact && files.len() >= DICT_MIN_POSTS {
            let started = std::time::Instant::now();
            // Evenly spread over the files (walked in name order): old and new posts alike.
            let step = files.len() / DICT_SAMPLES;
            // Read as they are: compressing the samples would be undone at once.
            let plain = ParseContext {
                compact: false,
                ..ctx.clone()
            };
            let sampled: Vec<(PathBuf, Post)> = files
                .par_iter()
                .step_by(step.max(1))
                .filter_map(|rel| Some((rel.clone(), post::read_post(root, rel, &plain).ok()?)))
                .collect();
            let samples: Vec<Vec<u8>> = sampled
                .iter()
                .map(|(_, p)| post::ContentDict::sample(p))
                .collect();
            ctx.dict = post::ContentDict::train(&samples).map(Arc::new);
            tracing::debug!(
                "content dictionary from {} posts in {:?}: {}",
                samples.len(),
                started.elapsed(),
                if ctx.dict.is_some() {
                    "trained"
                } else {
                    "none"
                }
            );
            // The sampled posts are read already: compressed now like the rest, not read again.
            let dict = ctx.dict.as_ref();
            let read: Vec<(PathBuf, Post)> = sampled
                .into_par_iter()
                .map(|(rel, mut p)| {
                    p.content_html = p.content_html.compacted(dict);
                    (rel, p)
                })
                .collect();
            let done: std::collections::HashSet<&PathBuf> = read.iter().map(|(r, _)| r).collect();
            let rest: Vec<PathBuf> = files
                .iter()
                .filter(|f| !done.contains(f))
                .cloned()
                .collect();
            let mut site = Site::read(root, ctx, rest, walk_errors);
            for (rel, p) in read {
                site.posts.insert(rel, Arc::new(p));
            }
            return site;
        }
        Site::read(root, ctx, files, walk_errors)
    }

    fn read(
        root: &Path,
        ctx: &ParseContext,
        files: Vec<PathBuf>,
        walk_errors: Vec<PostError>,
    ) -> Site {
        let results: Vec<(PathBuf, Result<Post, PostError>)> = files
            .into_par_iter()
            .map(|rel| {
                let r = post::read_post(root, &rel, ctx);
                (rel, r)
            })
            .collect();
        let mut site = Site::default();
        for e in walk_errors {
            // Keyed like the posts: by the path relative to the root.
            let key = e.path.strip_prefix(root).unwrap_or(&e.path).to_path_buf();
            site.errors.insert(key, e);
        }
        for (rel, r) in results {
            match r {
                Ok(p) => {
                    site.posts.insert(rel, Arc::new(p));
                }
                Err(e) => {
                    site.errors.insert(rel, e);
                }
            }
        }
        site
    }

    /// The published view at `now`.
    pub fn listing(&self, now: DateTime<Utc>, opts: ListOptions) -> Listing {
        Listing::new(self.posts.values().cloned(), now, opts)
    }
}

/// One change to the posts tree, in feedsmith's own vocabulary (see `watch`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// A file or directory (path relative to the root) was created or modified: re-read it.
    Upsert(PathBuf),
    /// A file or directory was removed or moved away.
    Remove(PathBuf),
}

impl Change {
    /// The path the change is about, relative to the posts root.
    pub fn path(&self) -> &Path {
        match self {
            Change::Upsert(p) | Change::Remove(p) => p,
        }
    }
}

/// What applying changes did to the site.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Files whose post was added, changed or removed.
    pub changed: Vec<PathBuf>,
    /// Errors found in this round (the post's last good version, if any, is kept).
    pub errors: Vec<PostError>,
}

impl Site {
    /// Applies changes: re-reads upserted files (walking upserted directories), drops removed
    /// files and directories. A file that fails to parse keeps its last good version.
    pub fn apply(
        &mut self,
        root: &Path,
        ctx: &ParseContext,
        drafts: bool,
        changes: &[Change],
    ) -> Applied {
        let mut applied = Applied::default();
        let mut to_read: Vec<PathBuf> = Vec::new();
        for change in changes {
            // The event says where to look; the file system says what is there now (events
            // of one batch may be stale: created then deleted, removed then re-created).
            let rel = change.path();
            let full = root.join(rel);
            if !full.exists() {
                applied.changed.extend(self.remove_prefix(rel));
                if is_dangling_symlink(&full) {
                    // Read it anyway, to report it (below).
                    to_read.extend(self.files_under(root, rel, drafts));
                }
                continue;
            }
            let found = self.files_under(root, rel, drafts);
            if full.is_dir() {
                // A directory moved in brings its files; known files no longer under it go.
                let found_set: std::collections::HashSet<&PathBuf> = found.iter().collect();
                let gone: Vec<PathBuf> = self
                    .posts
                    .keys()
                    .chain(self.errors.keys())
                    .filter(|p| p.starts_with(rel) && !found_set.contains(p))
                    .cloned()
                    .collect();
                for p in gone {
                    applied.changed.extend(self.remove_prefix(&p));
                }
            }
            to_read.extend(found);
        }
        to_read.sort();
        to_read.dedup();
        let results: Vec<(PathBuf, Result<Post, PostError>)> = to_read
            .into_par_iter()
            .map(|rel| {
                let r = post::read_post(root, &rel, ctx);
                (rel, r)
            })
            .collect();
        for (rel, r) in results {
            match r {
                Ok(p) => {
                    self.errors.remove(&rel);
                    let same = self.posts.get(&rel).is_some_and(|old| **old == p);
                    if !same {
                        self.posts.insert(rel.clone(), Arc::new(p));
                        applied.changed.push(rel);
                    }
                }
                Err(e) if e.kind == PostErrorKind::Vanished => {
                    applied.changed.extend(self.remove_prefix(&rel));
                    // A post name that is a dangling symbolic link is reported, as a full
                    // walk reports it, not taken for a deletion in silence.
                    if is_dangling_symlink(&root.join(&rel)) {
                        let e = PostError {
                            kind: PostErrorKind::Unreadable(
                                "broken symbolic link (its target does not exist)".to_owned(),
                            ),
                            ..e
                        };
                        self.errors.insert(rel, e.clone());
                        applied.errors.push(e);
                    }
                }
                Err(e) => {
                    // Keep the last good version, if any; report the error.
                    self.errors.insert(rel, e.clone());
                    applied.errors.push(e);
                }
            }
        }
        applied.changed.sort();
        applied.changed.dedup();
        applied
    }

    /// Post files at or under `rel` (a file or a directory), by the walk's skip rules.
    fn files_under(&self, root: &Path, rel: &Path, drafts: bool) -> Vec<PathBuf> {
        if is_skipped_path(rel, drafts) {
            return Vec::new();
        }
        // Through a symbolic link loop, a walk from the root never gets here.
        let Some(outer) = walk_ancestors(root, rel) else {
            return Vec::new();
        };
        let full = root.join(rel);
        if full.is_dir() {
            let (files, _errors) = discover_below(&full, drafts, &outer);
            files.into_iter().map(|f| rel.join(f)).collect()
        } else {
            let name = rel.file_name().unwrap_or_default().to_string_lossy();
            match post::classify(&name) {
                FileKind::Post(_) => vec![rel.to_path_buf()],
                FileKind::Ignored => Vec::new(),
            }
        }
    }

    /// Drops every post and error at or under `rel`; returns the posts dropped.
    fn remove_prefix(&mut self, rel: &Path) -> Vec<PathBuf> {
        let gone: Vec<PathBuf> = under(&self.posts, rel).cloned().collect();
        for p in &gone {
            self.posts.remove(p);
        }
        let errors: Vec<PathBuf> = under(&self.errors, rel).cloned().collect();
        for p in errors {
            self.errors.remove(&p);
        }
        gone
    }
}

/// The keys at or under `rel`: paths order by components, so they follow `rel` in one run
/// (O(log n + k), not a scan of the whole site).
pub(crate) fn under<'m, V>(
    map: &'m BTreeMap<PathBuf, V>,
    rel: &'m Path,
) -> impl Iterator<Item = &'m PathBuf> {
    use std::ops::Bound::{Included, Unbounded};
    map.range::<Path, _>((Included(rel), Unbounded))
        .take_while(move |(p, _)| p.starts_with(rel))
        .map(|(p, _)| p)
}

/// The canonical paths of the directories a walk from `root` passes through to reach `rel`
/// (`root` included, `rel` itself not), or `None` when `rel` is reached only through a
/// symbolic link back to a directory above it — a loop that the walk from the root does not
/// follow (SPEC §1). Without this, re-reading `posts/loop` (→ `..`) after a file event would
/// find every post a second time under `loop/`.
fn walk_ancestors(root: &Path, rel: &Path) -> Option<Vec<PathBuf>> {
    let mut chain = vec![std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())];
    let mut path = root.to_path_buf();
    let mut comps = rel.components().peekable();
    while let Some(c) = comps.next() {
        path.push(c);
        let here = if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            match std::fs::canonicalize(&path) {
                Ok(target) => target,
                // Dangling: nothing to walk through; reading it reports why.
                Err(_) => return Some(chain),
            }
        } else {
            chain.last().map_or_else(|| path.clone(), |p| p.join(c))
        };
        // Back at a directory the walk has already passed through, or at one that holds the
        // root: a loop (the same rule as the walk's, so incremental and full reads agree).
        let contains_root = chain.first().is_some_and(|r| r.starts_with(&here));
        if chain.contains(&here) || contains_root {
            return None;
        }
        if comps.peek().is_some() {
            chain.push(here);
        }
    }
    Some(chain)
}

/// The symbolic links to directories at or under `rel` (relative to `root`) that a walk from
/// the root would follow: what a watcher must watch on its own.
pub fn linked_dirs(root: &Path, rel: &Path, drafts: bool) -> Vec<PathBuf> {
    if is_skipped_path(rel, drafts) {
        return Vec::new();
    }
    let full = root.join(rel);
    let Ok(meta) = std::fs::symlink_metadata(&full) else {
        return Vec::new();
    };
    let is_link = meta.file_type().is_symlink();
    if !is_link && !meta.is_dir() {
        return Vec::new();
    }
    // Through a loop the walk does not go; neither does the watch.
    if walk_ancestors(root, rel).is_none() {
        return Vec::new();
    }
    if !full.is_dir() {
        return Vec::new();
    }
    let mut links = Vec::new();
    if is_link {
        links.push(rel.to_path_buf());
    }
    // Links further down, by the walk's own rules (skips and loops included).
    let mut stack = vec![(rel.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let child = dir.join(entry.file_name());
            if is_skipped_path(&child, drafts) {
                continue;
            }
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_symlink() {
                // Links inside a linked directory are covered by its own recursive watch.
                if root.join(&child).is_dir() && walk_ancestors(root, &child).is_some() {
                    links.push(child);
                }
            } else if ft.is_dir() && depth < 64 {
                stack.push((child, depth + 1));
            }
        }
    }
    links
}

/// True when a relative path lies in a hidden directory, is a hidden/editor file, or is under
/// `_drafts` while drafts are off (SPEC §1 skip rules, applied to every component).
pub fn is_skipped_path(rel: &Path, drafts: bool) -> bool {
    let comps: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = comps.len().saturating_sub(1);
    comps.iter().enumerate().any(|(i, name)| {
        name.starts_with('.')
            || (!drafts && name == DRAFTS_DIR)
            || (i == last && post::is_ignored_name(name))
    })
}
