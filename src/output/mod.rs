//! `feeds/` on disk: every document written atomically (temp file + rename), only when its
//! bytes changed, and term feeds that no longer exist removed.
//!
//! A file whose bytes did not change is not touched, so its mtime — which the server uses as
//! `Last-Modified` — only moves when the document really changed, across restarts too.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

pub mod assets;
mod atomic;

pub use atomic::Atomic;

/// Why a document is not (yet) in `feeds/`.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// It could not be made (its check failed): the old file, if any, stays.
    #[error(transparent)]
    Render(#[from] FeedError),
    /// Its route cannot be a file under the output directory.
    #[error("{route}: not a safe output path")]
    UnsafePath { route: String },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot create output directory: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}

use crate::config::Format;
use crate::feed::{self, FeedError};
use crate::render::Doc;

/// What a sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Files that could not be written or removed, with why.
    pub errors: Vec<String>,
    /// Routes whose file could not be written (to try again later).
    pub failed_writes: Vec<String>,
    /// Routes whose stale file could not be removed (to try again later).
    pub failed_removals: Vec<String>,
    /// Files and bytes now in the output (written or unchanged), by kind: what a site costs.
    pub kinds: std::collections::BTreeMap<Kind, Tally>,
    /// Routes of the subscription feeds whose file was written (its bytes changed): the
    /// topics to ping the external WebSub hubs for.
    pub feeds_written: Vec<String>,
}

/// What a file in the output is, for the build's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Subscription documents: each scope's feed in each format.
    Feeds,
    /// RFC 5005 archive pages.
    ArchivePages,
    /// Everything else: HTML pages, the OPML list, the stylesheet.
    Pages,
}

impl Kind {
    /// The kind of the document at `route`.
    pub fn of(route: &str) -> Kind {
        if Format::of_route(route).is_none() {
            Kind::Pages
        } else if feed::paging::parse_route(route).is_some() {
            Kind::ArchivePages
        } else {
            Kind::Feeds
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Feeds => "feeds",
            Kind::ArchivePages => "archive pages",
            Kind::Pages => "pages",
        }
    }
}

/// Files and bytes of one [`Kind`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub files: usize,
    pub bytes: u64,
}

impl SyncReport {
    /// Adds the outcome of a further write to this one.
    pub fn absorb(&mut self, other: SyncReport) {
        self.written += other.written;
        self.unchanged += other.unchanged;
        self.removed += other.removed;
        self.errors.extend(other.errors);
        self.failed_writes.extend(other.failed_writes);
        self.failed_removals.extend(other.failed_removals);
        self.feeds_written.extend(other.feeds_written);
        for (kind, t) in other.kinds {
            let mine = self.kinds.entry(kind).or_default();
            mine.files += t.files;
            mine.bytes += t.bytes;
        }
    }
}

/// The file of a route under `dir` (routes are decoded paths starting with `/`).
pub fn file_for(dir: &Path, route: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for seg in route.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." || seg.contains('\\') || seg.contains('\0') {
            return None;
        }
        path.push(seg);
    }
    Some(path)
}

/// Writes `bytes` to `path` atomically, with `mtime`, unless the file already holds exactly
/// these bytes (then only its mtime is set, if it differs). Returns whether it wrote.
pub fn write_if_changed(
    path: &Path,
    bytes: &[u8],
    mtime: std::time::SystemTime,
) -> std::io::Result<bool> {
    if let Ok(meta) = fs::metadata(path) {
        if meta.len() == bytes.len() as u64 && fs::read(path)? == bytes {
            if meta.modified().ok() != Some(mtime) {
                fs::File::options()
                    .write(true)
                    .open(path)?
                    .set_modified(mtime)?;
            }
            return Ok(false);
        }
    }
    Atomic::DOCUMENT
        .with_mtime(Some(mtime))
        .write(path, bytes)
        .map(|_| true)
}

/// Brings `dir` in line with `docs`: writes changed documents and removes managed files whose
/// route is neither in `docs` nor in `keep` (routes that failed to render keep their old file).
pub fn sync<'a>(
    dir: &Path,
    docs: impl IntoIterator<Item = (&'a String, &'a Doc)>,
    keep: &BTreeSet<String>,
) -> SyncReport {
    let mut report = SyncReport::default();
    let docs: Vec<(&String, &Doc)> = docs.into_iter().collect();
    let existed = match prepare_dir(dir) {
        Ok(existed) => existed,
        Err(e) => {
            report.errors.push(e.to_string());
            // Nothing could be written: every document is to be tried again.
            report.failed_writes = docs.iter().map(|(route, _)| (*route).clone()).collect();
            return report;
        }
    };
    let mut live: BTreeSet<String> = keep.clone();
    write_docs(
        dir,
        docs.into_iter().inspect(|(route, _)| {
            live.insert((*route).clone());
        }),
        Overwrite::IfChanged,
        &mut report,
    );
    if existed {
        remove_stale(dir, &live, &mut report);
    }
    report
}

/// Makes the output directory if it is missing, and removes the temporary files a killed
/// process may have left in one that was there. Returns whether it was there (a directory
/// made now holds no temporary or stale file: nothing to walk it for).
fn prepare_dir(dir: &Path) -> Result<bool, OutputError> {
    let existed = dir.is_dir();
    fs::create_dir_all(dir).map_err(|source| OutputError::CreateDir {
        dir: dir.to_owned(),
        source,
    })?;
    if existed {
        remove_temp_files(dir);
    }
    Ok(existed)
}

/// Removes the managed files under `dir` whose route is not in `live`.
fn remove_stale(dir: &Path, live: &BTreeSet<String>, report: &mut SyncReport) {
    let stale: Vec<String> = managed_files(dir)
        .into_iter()
        .filter(|r| !live.contains(r))
        .collect();
    remove_routes(dir, &stale, report);
}

/// A document made for [`sync_made`]: its route, and the document or why it could not be made.
pub type Made = (String, Result<Doc, FeedError>);

/// [`sync`] for documents made while they are written: `make` renders each job's document (in
/// parallel), which is written and dropped at once, so a build never holds every document of
/// the site in memory (nor pays for the fresh pages all of them would take). A route whose
/// document could not be made keeps its old file; those routes and why are returned.
pub fn sync_made<J: Sync>(
    dir: &Path,
    jobs: &[J],
    make: impl Fn(&J) -> Made + Sync,
    keep: &BTreeSet<String>,
) -> (SyncReport, std::collections::BTreeMap<String, OutputError>) {
    use rayon::prelude::*;
    let mut report = SyncReport::default();
    let mut failures = std::collections::BTreeMap::new();
    let existed = match prepare_dir(dir) {
        Ok(existed) => existed,
        Err(e) => {
            report.errors.push(e.to_string());
            return (report, failures);
        }
    };
    // Each job's write and its document's length, or why it could not be made.
    type Outcome = Result<(Written, usize), FeedError>;
    let outcomes: Vec<(String, Outcome)> = jobs
        .par_iter()
        .map(|job| {
            let (route, made) = make(job);
            // The document is dropped as soon as it is on disk.
            let outcome = made.map(|doc| {
                let written = write_route(dir, &route, &doc, Overwrite::IfChanged);
                (written, doc.bytes.len())
            });
            (route, outcome)
        })
        .collect();
    let mut live: BTreeSet<String> = keep.clone();
    for (route, outcome) in outcomes {
        match outcome {
            Ok((written, len)) => record(&mut report, &route, written, len),
            Err(why) => {
                failures.insert(route.clone(), OutputError::Render(why));
            }
        }
        live.insert(route);
    }
    if existed {
        remove_stale(dir, &live, &mut report);
    }
    (report, failures)
}

/// Writes the given documents (when their bytes changed) and removes the files of `removals`:
/// the incremental form of [`sync`], touching only what a republish changed.
pub fn apply<'a>(
    dir: &Path,
    upserts: impl IntoIterator<Item = (&'a String, &'a Doc)>,
    removals: &[String],
) -> SyncReport {
    let mut report = SyncReport::default();
    write_docs(dir, upserts, Overwrite::IfChanged, &mut report);
    remove_routes(dir, removals, &mut report);
    report
}

/// [`apply`] for documents known to differ from their files (the publisher holds the bytes
/// it last wrote): written without reading the old file back first.
pub fn apply_changed<'a>(
    dir: &Path,
    upserts: impl IntoIterator<Item = (&'a String, &'a Doc)>,
    removals: &[String],
) -> SyncReport {
    let mut report = SyncReport::default();
    write_docs(dir, upserts, Overwrite::Known, &mut report);
    remove_routes(dir, removals, &mut report);
    report
}

/// How [`write_docs`] treats the file already there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overwrite {
    /// Read it and leave it alone when it holds the same bytes.
    IfChanged,
    /// The caller knows the bytes differ: write without reading it back.
    Known,
}

/// Writes documents in parallel: creating thousands of files is mostly kernel work (inode
/// allocation, directory updates) that two threads overlap well.
fn write_docs<'a>(
    dir: &Path,
    docs: impl IntoIterator<Item = (&'a String, &'a Doc)>,
    how: Overwrite,
    report: &mut SyncReport,
) {
    use rayon::prelude::*;
    let docs: Vec<_> = docs.into_iter().collect();
    let outcomes: Vec<Written> = docs
        .par_iter()
        .map(|(route, doc)| write_route(dir, route, doc, how))
        .collect();
    for ((route, doc), outcome) in docs.iter().zip(outcomes) {
        record(report, route, outcome, doc.bytes.len());
    }
}

/// What writing one document came to: whether it was written (not found unchanged), or why it
/// could not be.
type Written = Result<bool, OutputError>;

/// Writes the document of `route` under `dir`, with its `Last-Modified` as the file's mtime
/// (so a plain file server in front of the directory says the same as `serve`).
fn write_route(dir: &Path, route: &str, doc: &Doc, how: Overwrite) -> Written {
    let path = file_for(dir, route).ok_or_else(|| OutputError::UnsafePath {
        route: route.to_owned(),
    })?;
    let mtime = doc.modified.min(std::time::SystemTime::now());
    match how {
        Overwrite::IfChanged => write_if_changed(&path, &doc.bytes, mtime),
        Overwrite::Known => Atomic::DOCUMENT
            .with_mtime(Some(mtime))
            .write(&path, &doc.bytes)
            .map(|_| true),
    }
    .map_err(|source| OutputError::Write { path, source })
}

/// Counts one document's write in `report`.
fn record(report: &mut SyncReport, route: &str, outcome: Written, len: usize) {
    match outcome {
        Ok(written) => {
            if written {
                report.written += 1;
                if Kind::of(route) == Kind::Feeds {
                    report.feeds_written.push(route.to_owned());
                }
            } else {
                report.unchanged += 1;
            }
            let tally = report.kinds.entry(Kind::of(route)).or_default();
            tally.files += 1;
            tally.bytes += len as u64;
        }
        Err(e) => {
            report.errors.push(e.to_string());
            // Served from memory meanwhile; the publisher tries it again.
            report.failed_writes.push(route.to_owned());
        }
    }
}

/// Removes the files of `routes`, and a term directory once it is empty.
fn remove_routes(dir: &Path, routes: &[String], report: &mut SyncReport) {
    for route in routes {
        let Some(path) = file_for(dir, route) else {
            continue;
        };
        match fs::remove_file(&path) {
            Ok(()) => {
                report.removed += 1;
                // Empty directories go too (`tags/x/archive/3/`, then `tags/x/archive/`, …);
                // removing one fails harmlessly while other files remain.
                let mut parent = path.parent();
                while let Some(p) = parent.filter(|p| *p != dir && p.starts_with(dir)) {
                    if fs::remove_dir(p).is_err() {
                        break;
                    }
                    parent = p.parent();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                report
                    .errors
                    .push(format!("{}: cannot remove stale file: {e}", path.display()));
                report.failed_removals.push(route.clone());
            }
        }
    }
}

/// Removes temporary files a killed process may have left (`.{name}.{pid}.tmp`) in the
/// directories feedsmith writes; complete files are only ever renamed into place.
pub fn remove_temp_files(dir: &Path) {
    let mut dirs = Vec::new();
    for (_, scope_dir) in scope_dirs(dir) {
        dirs.extend(archive_page_dirs(&scope_dir).into_iter().map(|(_, d)| d));
        dirs.push(scope_dir);
    }
    for d in dirs {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") && entry.path().is_file() {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// The scope directories under `dir` as (route prefix, path): the root (`""`), then every
/// `categories/{slug}` and `tags/{slug}`.
fn scope_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = vec![(String::new(), dir.to_path_buf())];
    for kind in ["categories", "tags"] {
        let Ok(entries) = fs::read_dir(dir.join(kind)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(slug) = entry.file_name().into_string() {
                if entry.path().is_dir() {
                    out.push((format!("/{kind}/{slug}"), entry.path()));
                }
            }
        }
    }
    out
}

/// The archive page directories of a scope directory (`archive/{n}`) as (n, path).
fn archive_page_dirs(scope_dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(pages) = fs::read_dir(scope_dir.join(crate::feed::paging::SEGMENT)) else {
        return Vec::new();
    };
    pages
        .flatten()
        .filter_map(|page| {
            let n = page.file_name().into_string().ok()?;
            page.path().is_dir().then(|| (n, page.path()))
        })
        .collect()
}

/// The file of a term's page inside its directory (`tags/{slug}/index.html`).
const TERM_PAGE_FILE: &str = "index.html";

/// The routes feedsmith owns under the output directory, as found on disk.
pub fn managed_files(dir: &Path) -> Vec<String> {
    let feed_names: Vec<&str> = Format::ALL.iter().map(|f| f.file_name()).collect();
    let mut out = Vec::new();
    for name in [&feed::OPML_ROUTE[1..], &feed::INDEX_ROUTE[1..]] {
        if dir.join(name).is_file() {
            out.push(format!("/{name}"));
        }
    }
    for (scope, scope_dir) in scope_dirs(dir) {
        for name in &feed_names {
            if scope_dir.join(name).is_file() {
                out.push(format!("{scope}/{name}"));
            }
        }
        // A term's page (the root's `index.html` is the site's index, counted above).
        if !scope.is_empty() && scope_dir.join(TERM_PAGE_FILE).is_file() {
            out.push(format!("{scope}/{TERM_PAGE_FILE}"));
        }
        // RFC 5005 archive pages: `{scope}/archive/{n}/{name}`.
        for (n, page_dir) in archive_page_dirs(&scope_dir) {
            for name in &feed_names {
                let route = format!("{scope}/{}/{n}/{name}", crate::feed::paging::SEGMENT);
                if crate::feed::paging::parse_route(&route).is_some()
                    && page_dir.join(name).is_file()
                {
                    out.push(route);
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn routes_map_inside_the_directory() {
        let d = Path::new("/out");
        assert_eq!(
            file_for(d, "/tags/厦门/rss.xml").unwrap(),
            Path::new("/out/tags/厦门/rss.xml")
        );
        assert!(file_for(d, "/../etc/passwd").is_none());
        assert!(file_for(d, "/tags/../../x").is_none());
    }

    fn doc(text: &str) -> Doc {
        Doc {
            content_type: "application/rss+xml; charset=utf-8",
            bytes: bytes::Bytes::copy_from_slice(text.as_bytes()),
            modified: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        }
    }

    /// A document that failed its check this time is in `keep`: its previous file stays as it
    /// was (the last good version), while a document nobody renders any more is removed.
    #[test]
    fn sync_keeps_the_previous_file_of_a_failed_document() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let first: BTreeMap<String, Doc> = [
            ("/rss.xml".to_owned(), doc("<rss>1</rss>")),
            ("/tags/a/rss.xml".to_owned(), doc("<rss>a1</rss>")),
            ("/tags/gone/rss.xml".to_owned(), doc("<rss>g</rss>")),
        ]
        .into();
        let r = sync(root, &first, &BTreeSet::new());
        assert_eq!((r.written, r.errors.len()), (3, 0), "{:?}", r.errors);

        // Second build: tags/a failed its check (not rendered, kept); tags/gone has no posts.
        let second: BTreeMap<String, Doc> = [("/rss.xml".to_owned(), doc("<rss>2</rss>"))].into();
        let keep: BTreeSet<String> = ["/tags/a/rss.xml".to_owned()].into();
        let r = sync(root, &second, &keep);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let read = |rel: &str| fs::read_to_string(root.join(rel)).ok();
        assert_eq!(read("rss.xml").as_deref(), Some("<rss>2</rss>"));
        assert_eq!(read("tags/a/rss.xml").as_deref(), Some("<rss>a1</rss>"));
        assert_eq!(read("tags/gone/rss.xml"), None);
    }

    #[test]
    fn sync_made_writes_what_it_makes_and_keeps_what_failed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("feeds");
        let make = |(route, text): &(&str, Option<&str>)| -> Made {
            (
                (*route).to_owned(),
                text.map(doc).ok_or_else(|| "failed its check".into()),
            )
        };
        // A directory that does not exist yet: made, and every document written.
        let first = [
            ("/rss.xml", Some("<rss>1</rss>")),
            ("/tags/a/rss.xml", Some("<rss>a1</rss>")),
            ("/tags/gone/rss.xml", Some("<rss>g</rss>")),
        ];
        let (r, failures) = sync_made(&out, &first, make, &BTreeSet::new());
        assert_eq!((r.written, r.unchanged), (3, 0), "{:?}", r.errors);
        assert!(failures.is_empty() && r.errors.is_empty());
        // Each file dated as its document.
        let mtime = fs::metadata(out.join("rss.xml"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(mtime, doc("x").modified);
        // Again: one unchanged, one changed, one failed (kept), one gone (removed), one kept
        // by the caller, and a stray temp file of a killed process cleaned up.
        fs::write(out.join("tags/a/.rss.xml.123.tmp"), "partial").unwrap();
        fs::create_dir_all(out.join("tags/b")).unwrap();
        fs::write(out.join("tags/b/atom.xml"), "<feed/>").unwrap();
        let second = [
            ("/rss.xml", Some("<rss>1</rss>")),
            ("/tags/a/rss.xml", None),
            ("/tags/new/rss.xml", Some("<rss>n</rss>")),
        ];
        let keep: BTreeSet<String> = ["/tags/b/atom.xml".to_owned()].into();
        let (r, failures) = sync_made(&out, &second, make, &keep);
        assert_eq!((r.written, r.unchanged, r.removed), (1, 1, 1), "{:?}", r);
        assert_eq!(
            failures
                .into_iter()
                .map(|(r, e)| (r, e.to_string()))
                .collect::<Vec<_>>(),
            [("/tags/a/rss.xml".to_owned(), "failed its check".to_owned())]
        );
        let read = |rel: &str| fs::read_to_string(out.join(rel)).ok();
        assert_eq!(read("tags/a/rss.xml").as_deref(), Some("<rss>a1</rss>"));
        assert_eq!(read("tags/new/rss.xml").as_deref(), Some("<rss>n</rss>"));
        assert_eq!(read("tags/b/atom.xml").as_deref(), Some("<feed/>"));
        assert_eq!(read("tags/gone/rss.xml"), None);
        assert_eq!(read("tags/a/.rss.xml.123.tmp"), None);
    }
}
