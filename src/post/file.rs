//! Which files under `posts/` are posts, and reading one (bounded, with its own error for
//! each way reading can fail).

use std::path::{Component, Path};

use super::body::Markup;
use super::{parse_post, ParseContext, Post, PostError, PostErrorKind};

/// How a file under `posts/` is treated, from its name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Post(Markup),
    /// Hidden, editor leftover, or not a post extension: skipped silently.
    Ignored,
}

/// Classifies a file name per SPEC §1.
pub fn classify(file_name: &str) -> FileKind {
    if is_ignored_name(file_name) {
        return FileKind::Ignored;
    }
    let ext = match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => return FileKind::Ignored,
    };
    match ext.as_str() {
        "md" | "markdown" | "txt" => FileKind::Post(Markup::Markdown),
        "html" | "htm" => FileKind::Post(Markup::Html),
        _ => FileKind::Ignored,
    }
}

/// Hidden files and editor leftovers (`.x`, `x~`, `*.swp`, `*.swx`, `*.tmp`, `#x#`, `.#x`).
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || (name.starts_with('#') && name.ends_with('#'))
}

/// The drafts directory name.
pub const DRAFTS_DIR: &str = "_drafts";

/// Reads and parses the file at `root/rel`. `display` is how the file is named in errors.
pub fn read_post(root: &Path, rel: &Path, ctx: &ParseContext) -> Result<Post, PostError> {
    let full = root.join(rel);
    let err = |kind| PostError {
        path: full.clone(),
        line: None,
        kind,
    };
    let markup = match classify(&rel.file_name().unwrap_or_default().to_string_lossy()) {
        FileKind::Post(m) => m,
        FileKind::Ignored => return Err(err(PostErrorKind::Unreadable("not a post file".into()))),
    };
    let (bytes, modified) = read_bounded(&full, ctx.limits.max_post_bytes).map_err(err)?;
    let mut post = parse_post(rel, &bytes, markup, ctx).map_err(|mut e| {
        e.path = full.clone();
        e
    })?;
    post.modified = modified;
    Ok(post)
}

/// Reads a file, refusing ones over `limit` bytes without reading them whole.
fn read_bounded(
    path: &Path,
    limit: u64,
) -> Result<(Vec<u8>, Option<std::time::SystemTime>), PostErrorKind> {
    use std::io::Read;
    let io_kind = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => PostErrorKind::Vanished,
        _ => PostErrorKind::Unreadable(e.to_string()),
    };
    // Check the type before opening: opening a FIFO named `x.md` would block forever.
    let meta = std::fs::metadata(path).map_err(io_kind)?;
    if !meta.is_file() {
        return Err(PostErrorKind::Unreadable("not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(io_kind)?;
    if meta.len() > limit {
        return Err(PostErrorKind::TooLarge(meta.len(), limit));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_kind)?;
    if bytes.len() as u64 > limit {
        return Err(PostErrorKind::TooLarge(bytes.len() as u64, limit));
    }
    Ok((bytes, meta.modified().ok()))
}

/// A file name as text, with each byte that is not UTF-8 written `%XX`: two names that differ
/// only in such bytes (`caf\xE9`, `caf\xE8`) stay two titles and two permalinks, where a
/// lossy conversion would make both `caf\u{FFFD}`.
pub fn lossless_name(name: &std::ffi::OsStr) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::with_capacity(name.len());
        for chunk in name.as_bytes().utf8_chunks() {
            out.push_str(chunk.valid());
            for b in chunk.invalid() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        name.to_string_lossy().into_owned()
    }
}

/// Makes a site path absolute and clean: leading `/`, no empty, `.` or `..` segments.
pub fn normalize_path(path: &str) -> String {
    let trailing = path.ends_with('/');
    let mut out = String::with_capacity(path.len() + 1);
    for comp in Path::new(path).components() {
        if let Component::Normal(seg) = comp {
            out.push('/');
            out.push_str(&seg.to_string_lossy());
        }
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}
