//! Why a post could not be used: every error names the file, and the line when there is one.

use std::fmt;
use std::path::PathBuf;

/// Why a post could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostErrorKind {
    Unreadable(String),
    Vanished,
    /// The file's size and the limit.
    TooLarge(u64, u64),
    /// The front matter's size and the limit.
    FrontMatterTooLarge(usize, usize),
    /// Content bytes copied into feeds, the feeds, and the limit.
    TooManyFeedBytes {
        bytes: u64,
        feeds: usize,
        limit: u64,
    },
    NotUtf8,
    NoFrontMatter,
    UnterminatedFrontMatter,
    Yaml(String),
    Field {
        key: &'static str,
        reason: String,
    },
    BadDate {
        key: &'static str,
        value: String,
    },
    NoDate,
    Html(String),
}

impl fmt::Display for PostErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostErrorKind::Unreadable(e) => write!(f, "cannot read file: {e}"),
            PostErrorKind::Vanished => write!(f, "file vanished while being read"),
            PostErrorKind::TooLarge(n, limit) => write!(
                f,
                "file is {n} bytes, over the {limit}-byte limit for a post (limits.max_post_bytes)"
            ),
            PostErrorKind::FrontMatterTooLarge(n, limit) => write!(
                f,
                "front matter is {n} bytes, over the {limit}-byte limit \
                 (limits.max_front_matter_bytes)"
            ),
            PostErrorKind::TooManyFeedBytes {
                bytes,
                feeds,
                limit,
            } => write!(
                f,
                "its content would put {bytes} bytes into {feeds} feeds (all posts plus each \
                 category and tag), over the {limit}-byte limit \
                 (limits.max_feed_bytes_per_post): use fewer tags or a shorter body"
            ),
            PostErrorKind::NotUtf8 => write!(f, "not valid UTF-8 (save the file as UTF-8)"),
            PostErrorKind::NoFrontMatter => write!(
                f,
                "no front matter: a post must start with a line `---`, then YAML, then `---`"
            ),
            PostErrorKind::UnterminatedFrontMatter => write!(
                f,
                "unterminated front matter: no closing `---` (or `...`) line"
            ),
            PostErrorKind::Yaml(e) => write!(f, "YAML error in front matter: {e}"),
            PostErrorKind::Field { key, reason } => write!(f, "front matter `{key}`: {reason}"),
            PostErrorKind::BadDate { key, value } => write!(
                f,
                "front matter `{key}`: cannot read {value:?} as a date \
                 (expected e.g. 2021-12-21 08:10:27 +0800, 2021-12-21 or RFC 3339)"
            ),
            PostErrorKind::NoDate => write!(
                f,
                "no date: add `date:` to the front matter or start the file name with YYYY-MM-DD-"
            ),
            PostErrorKind::Html(e) => write!(f, "body HTML cannot be processed: {e}"),
        }
    }
}

/// A post error: the file, the line when known, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub kind: PostErrorKind,
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.kind),
            None => write!(f, "{}: {}", self.path.display(), self.kind),
        }
    }
}

impl std::error::Error for PostError {}
