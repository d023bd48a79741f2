//! One post file → one [`Post`], or an error that names the file and the reason.
//!
//! Parsing is a pure function of the file's bytes, its path under `posts/` and the site
//! settings; reading the file is kept apart ([`read_post`]) so every I/O failure gets its own
//! message too (unreadable, vanished, too large, not UTF-8).

pub mod body;
pub mod date;
pub mod front_matter;

use std::borrow::Cow;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use url::Url;

use crate::slug::{encode_path, slugify};
use body::Markup;
use front_matter::Fields;

/// What one post may cost (`[limits]` in the config): a post over a limit is refused with
/// an error naming the limit, never read or rendered at any size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest post file accepted; a bigger one is reported, not read.
    pub max_post_bytes: u64,
    /// Largest front matter block: YAML becomes a tree many times its size in memory.
    pub max_front_matter_bytes: usize,
    /// Most categories plus tags one post may carry: each term is a feed scope, so a post
    /// with thousands of tags would make thousands of feeds.
    pub max_terms: usize,
    /// Most content bytes one post may put into feeds: its content is copied into the
    /// all-posts feed and the feed of each of its categories and tags.
    pub max_feed_bytes_per_post: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_post_bytes: 10 * 1024 * 1024,
            max_front_matter_bytes: 256 * 1024,
            max_terms: 256,
            max_feed_bytes_per_post: 256 * 1024 * 1024,
        }
    }
}

/// The permalink pattern when `site.permalink` is not set (Jekyll's default).
pub const DEFAULT_PERMALINK: &str = "/:categories/:year/:month/:day/:title.html";

/// Names `site.permalink` may take instead of a pattern (Jekyll's built-in styles).
pub const PERMALINK_STYLES: [&str; 4] = ["date", "pretty", "ordinal", "none"];

/// Summary length when it is derived from the body.
pub const SUMMARY_CHARS: usize = 300;

/// A parsed post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Path relative to the posts root (the key of the post in the site).
    pub source: PathBuf,
    pub title: String,
    pub date: DateTime<FixedOffset>,
    pub updated: DateTime<FixedOffset>,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub author: Option<Person>,
    /// HTML with absolute URLs and no scripts, and the plain-text summary ([`Post::summary`]).
    pub content_html: Html,
    /// The original article's URL.
    pub source_link: Option<String>,
    pub source_name: Option<String>,
    /// The post's path on the site (decoded), starting with `/`.
    pub path: String,
    /// Absolute URL of the post (`site url` + percent-encoded path).
    pub url: String,
    /// Stable identifier: front matter `id`/`guid`, else the URL.
    pub id: String,
    pub image: Option<String>,
    pub lang: Option<String>,
    /// `published: false` in front matter.
    pub unpublished: bool,
    /// `draft: true`, or the file lives under `_drafts/`.
    pub draft: bool,
    /// When the file was last modified (`None` for a post parsed from bytes alone): a post's
    /// page changes when its file does, whatever its front matter dates say.
    pub modified: Option<std::time::SystemTime>,
}

impl Post {
    /// The plain-text summary: front matter `excerpt`/`description`/`summary`, or the first
    /// paragraph's text cut at [`SUMMARY_CHARS`].
    pub fn summary(&self) -> Cow<'_, str> {
        self.content_html.summary()
    }
}

/// A post's HTML content and its plain-text summary, kept as they are or, for a long-running
/// server holding every post of a large site, compressed together in one zstd frame (level 1,
/// with the site's [`ContentDict`] when it has one): the summary is mostly the first
/// paragraph's words again, so it costs next to nothing in the frame. Reading it back takes
/// a few microseconds each time an item or page is rendered.
#[derive(Clone, PartialEq, Eq)]
pub struct Html(HtmlRepr);

#[derive(Clone, PartialEq, Eq)]
enum HtmlRepr {
    /// As rendered: `build` keeps posts only while it runs, and shrinking each string to fit
    /// would copy it (~4% of a cold build in a profile).
    Plain { content: String, summary: String },
    Zstd {
        frame: Box<[u8]>,
        content_len: usize,
        summary_len: usize,
        dict: Option<Arc<ContentDict>>,
    },
}

/// A zstd dictionary trained on a sample of the site's own posts (see
/// [`ContentDict::train`]): posts of one site share markup, boilerplate and phrases, which a
/// frame of a single post cannot exploit on its own. About a third smaller on news text.
pub struct ContentDict {
    encoder: zstd::dict::EncoderDictionary<'static>,
    decoder: zstd::dict::DecoderDictionary<'static>,
    /// Hash of the dictionary bytes: two dictionaries compare equal when they are the same.
    hash: u64,
}

impl PartialEq for ContentDict {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
    }
}

impl Eq for ContentDict {}

impl fmt::Debug for ContentDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentDict({:016x})", self.hash)
    }
}

/// How many bytes of samples a dictionary is trained on, at most (about a second of work).
const DICT_SAMPLE_BYTES: usize = 8 << 20;
/// The dictionary's size.
const DICT_BYTES: usize = 112 << 10;

impl ContentDict {
    /// Trains a dictionary on `samples` (each the text a post's frame holds); `None` when
    /// there are too few to learn from or training fails.
    pub fn train(samples: &[Vec<u8>]) -> Option<ContentDict> {
        if samples.len() < 100 {
            return None;
        }
        let dict = zstd::dict::from_samples(&training_slices(samples), DICT_BYTES).ok()?;
        Some(ContentDict::from_bytes(&dict))
    }

    fn from_bytes(dict: &[u8]) -> ContentDict {
        ContentDict {
            encoder: zstd::dict::EncoderDictionary::copy(dict, 1),
            decoder: zstd::dict::DecoderDictionary::copy(dict),
            hash: xxhash_rust::xxh3::xxh3_64(dict),
        }
    }

    /// The text one post's frame holds, for training.
    pub fn sample(post: &Post) -> Vec<u8> {
        let (content, summary) = post.content_html.both();
        frame_text(&content, &summary)
    }
}

/// What a dictionary is trained on: every sample's start, at most [`DICT_SAMPLE_BYTES`] in
/// all. Not the first samples whole: the samples are spread over the site, old posts and new,
/// and the bound on training time should keep that spread.
fn training_slices(samples: &[Vec<u8>]) -> Vec<&[u8]> {
    let each = DICT_SAMPLE_BYTES / samples.len().max(1);
    samples.iter().map(|s| &s[..s.len().min(each)]).collect()
}

/// What a compressed frame holds: the content, then the summary.
fn frame_text(content: &str, summary: &str) -> Vec<u8> {
    [content.as_bytes(), summary.as_bytes()].concat()
}

impl Html {
    /// Keeps `content` and `summary`, compressed when `compact` and long enough to gain from
    /// it (with `dict` if given).
    pub fn new(
        content: String,
        summary: String,
        compact: bool,
        dict: Option<&Arc<ContentDict>>,
    ) -> Html {
        if compact && content.len() + summary.len() >= 512 {
            let joined = frame_text(&content, &summary);
            let frame = match dict {
                Some(d) => zstd::bulk::Compressor::with_prepared_dictionary(&d.encoder)
                    .and_then(|mut c| c.compress(&joined)),
                None => zstd::bulk::compress(&joined, 1),
            };
            if let Ok(frame) = frame {
                if frame.len() < joined.len() {
                    return Html(HtmlRepr::Zstd {
                        frame: frame.into_boxed_slice(),
                        content_len: content.len(),
                        summary_len: summary.len(),
                        dict: dict.cloned(),
                    });
                }
            }
        }
        let (mut content, mut summary) = (content, summary);
        if compact {
            // Kept for as long as the server runs: no spare capacity from the renderers.
            content.shrink_to_fit();
            summary.shrink_to_fit();
        }
        Html(HtmlRepr::Plain { content, summary })
    }

    /// The same text kept compressed as every post of a serving site is (with `dict` if
    /// given): for a post read plain, such as a dictionary's training sample.
    pub fn compacted(&self, dict: Option<&Arc<ContentDict>>) -> Html {
        let (content, summary) = self.both();
        Html::new(content.into_owned(), summary.into_owned(), true, dict)
    }

    /// The HTML content and the summary.
    pub fn both(&self) -> (Cow<'_, str>, Cow<'_, str>) {
        match &self.0 {
            HtmlRepr::Plain { content, summary } => {
                (Cow::Borrowed(content), Cow::Borrowed(summary))
            }
            HtmlRepr::Zstd {
                frame,
                content_len,
                summary_len,
                dict,
            } => {
                let capacity = content_len + summary_len;
                let bytes = match dict {
                    Some(d) => zstd::bulk::Decompressor::with_prepared_dictionary(&d.decoder)
                        .and_then(|mut z| z.decompress(frame, capacity)),
                    None => zstd::bulk::decompress(frame, capacity),
                };
                // Compressed from two `String`s by this process: cannot fail.
                let mut text = bytes
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|t| t.len() == capacity && t.is_char_boundary(*content_len))
                    .unwrap_or_default();
                let summary = text.split_off((*content_len).min(text.len()));
                (Cow::Owned(text), Cow::Owned(summary))
            }
        }
    }

    /// The HTML.
    pub fn get(&self) -> Cow<'_, str> {
        match &self.0 {
            HtmlRepr::Plain { content, .. } => Cow::Borrowed(content),
            HtmlRepr::Zstd { .. } => self.both().0,
        }
    }

    /// The summary (plain text).
    pub fn summary(&self) -> Cow<'_, str> {
        match &self.0 {
            HtmlRepr::Plain { summary, .. } => Cow::Borrowed(summary),
            HtmlRepr::Zstd { .. } => self.both().1,
        }
    }

    /// Length of the HTML in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            HtmlRepr::Plain { content, .. } => content.len(),
            HtmlRepr::Zstd { content_len, .. } => *content_len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held in memory (content and summary).
    pub fn held(&self) -> usize {
        match &self.0 {
            HtmlRepr::Plain { content, summary } => content.len() + summary.len(),
            HtmlRepr::Zstd { frame, .. } => frame.len(),
        }
    }
}

impl fmt::Debug for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (content, summary) = self.both();
        f.debug_struct("Html")
            .field("content", &content)
            .field("summary", &summary)
            .finish()
    }
}

/// A person: `author: Name` or `author: {name, email, uri}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    pub name: String,
    pub email: Option<String>,
    pub uri: Option<String>,
}

/// What parsing needs to know about the site.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// Site base URL (any path prefix kept, no trailing slash required).
    pub site_url: Url,
    pub timezone: FixedOffset,
    pub permalink: String,
    /// Keep the content compressed in memory (`serve`, which holds every post for as long
    /// as it runs).
    pub compact: bool,
    /// The dictionary compressed content uses, if the site has one.
    pub dict: Option<Arc<ContentDict>>,
    pub limits: Limits,
}

impl ParseContext {
    /// `site url` + an absolute site path, percent-encoded.
    pub fn link(&self, path: &str) -> String {
        let base = self.site_url.as_str().trim_end_matches('/');
        format!("{base}{}", encode_path(path))
    }
}

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

/// Parses a post from its bytes. `rel` is its path under the posts root.
pub fn parse_post(
    rel: &Path,
    bytes: &[u8],
    markup: Markup,
    ctx: &ParseContext,
) -> Result<Post, PostError> {
    let fail = |line: Option<usize>, kind| PostError {
        path: rel.to_path_buf(),
        line,
        kind,
    };
    // The SIMD check: std's was 2.5% of a cold build, all of it on valid text.
    let text = match simdutf8::compat::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            return Err(fail(Some(line), PostErrorKind::NotUtf8));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // CRLF → LF, and characters XML 1.0 cannot carry removed once, here, for every format.
    let normalized;
    let text = if text.contains('\r') || !crate::text::is_clean(text) {
        normalized = crate::text::clean_text(&text.replace("\r\n", "\n").replace('\r', "\n"));
        normalized.as_str()
    } else {
        text
    };

    let split = front_matter::split(text).map_err(|k| fail(Some(1), k))?;
    if split.yaml.len() > ctx.limits.max_front_matter_bytes {
        return Err(fail(
            Some(1),
            PostErrorKind::FrontMatterTooLarge(split.yaml.len(), ctx.limits.max_front_matter_bytes),
        ));
    }
    let map = front_matter::parse(&split).map_err(|(line, k)| fail(line, k))?;
    let fields = Fields::new(&map);
    let field_err = |k: PostErrorKind| fail(None, k);

    let stem = rel.file_stem().map(lossless_name).unwrap_or_default();
    let name_date = date::file_name_date(&stem);
    let name_slug_part = name_date.map_or(stem.as_str(), |(_, rest)| rest);

    let title = match fields.text(&["title"]).map_err(field_err)? {
        Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
        _ => name_slug_part.replace(['-', '_'], " ").trim().to_owned(),
    };

    let read_date = |keys: &[&'static str]| -> Result<Option<DateTime<FixedOffset>>, PostError> {
        match fields.get(keys) {
            None => Ok(None),
            Some((key, v)) => {
                let s = front_matter::scalar(v).unwrap_or_default();
                date::parse_date(&s, ctx.timezone).map(Some).ok_or_else(|| {
                    field_err(PostErrorKind::BadDate {
                        key,
                        value: if s.is_empty() {
                            front_matter::kind_name(v).to_owned()
                        } else {
                            s
                        },
                    })
                })
            }
        }
    };
    let date = match read_date(&["date"])? {
        Some(d) => d,
        None => name_date
            .and_then(|(d, _)| date::midnight(d, ctx.timezone))
            .ok_or_else(|| field_err(PostErrorKind::NoDate))?,
    };
    let updated = read_date(&["updated", "last_modified_at", "lastmod"])?.unwrap_or(date);

    let categories = fields
        .terms(&["categories", "category"])
        .map_err(field_err)?;
    let tags = fields.terms(&["tags", "tag"]).map_err(field_err)?;
    let max_terms = ctx.limits.max_terms;
    if categories.len() + tags.len() > max_terms {
        return Err(field_err(PostErrorKind::Field {
            key: if tags.len() >= categories.len() {
                "tags"
            } else {
                "categories"
            },
            reason: format!(
                "{} categories and tags; a post may have at most {max_terms} (limits.max_terms)",
                categories.len() + tags.len()
            ),
        }));
    }

    let unpublished = fields.flag("published").map_err(field_err)? == Some(false);
    let in_drafts = rel.components().any(|c| c.as_os_str() == DRAFTS_DIR);
    let draft = in_drafts || fields.flag("draft").map_err(field_err)? == Some(true);

    let author = read_author(&fields).map_err(field_err)?;

    // Where the post lives on the site.
    let path = match fields.text(&["permalink"]).map_err(field_err)? {
        Some(p) if !p.trim().is_empty() => normalize_path(p.trim()),
        _ => expand_permalink(&ctx.permalink, &date, &categories, name_slug_part, &title),
    };
    let url = ctx.link(&path);
    let base = Url::parse(&url).map_err(|e| {
        field_err(PostErrorKind::Field {
            key: "permalink",
            reason: format!("does not form a valid URL ({e})"),
        })
    })?;

    // Body → HTML with absolute links.
    let body_text = split.body;
    let html = match markup {
        Markup::Markdown => body::markdown_to_html(body_text),
        Markup::Html => body_text.to_owned(),
    };
    let rewritten = body::rewrite(&html, &base).map_err(|e| field_err(PostErrorKind::Html(e)))?;

    let summary = match fields
        .text(&["excerpt", "description", "summary"])
        .map_err(field_err)?
    {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => body::truncate_summary(&rewritten.first_paragraph, SUMMARY_CHARS),
    };

    let absolute_field = |keys: &[&'static str]| -> Result<Option<String>, PostError> {
        match fields.get(keys) {
            None => Ok(None),
            Some((key, v)) => {
                let s = front_matter::scalar(v).unwrap_or_default();
                let abs = body::absolute_url(s.trim(), &base);
                match Url::parse(&abs) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(u.to_string())),
                    _ => Err(field_err(PostErrorKind::Field {
                        key,
                        reason: format!("not a usable http(s) URL: {s:?}"),
                    })),
                }
            }
        }
    };
    let source_link =
        match absolute_field(&["source_url", "source", "original_url", "canonical_url"])? {
            Some(u) => Some(u),
            None => body::trailing_autolink(body_text),
        };
    let image = absolute_field(&["image"])?;

    let id = fields
        .text(&["id", "guid"])
        .map_err(field_err)?
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| url.clone());

    let text_opt = |keys: &[&'static str]| -> Result<Option<String>, PostError> {
        Ok(fields
            .text(keys)
            .map_err(field_err)?
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()))
    };

    let feeds = 1 + categories.len() + tags.len();
    let feed_bytes = (rewritten.html.len() as u64).saturating_mul(feeds as u64);
    if feed_bytes > ctx.limits.max_feed_bytes_per_post {
        return Err(fail(
            None,
            PostErrorKind::TooManyFeedBytes {
                bytes: feed_bytes,
                feeds,
                limit: ctx.limits.max_feed_bytes_per_post,
            },
        ));
    }
    // Kept for the life of the post: no spare capacity from the renderers' growth.
    let content_html = Html::new(rewritten.html, summary, ctx.compact, ctx.dict.as_ref());
    Ok(Post {
        source: rel.to_path_buf(),
        title,
        date,
        updated,
        categories,
        tags,
        author,
        content_html,
        source_link,
        source_name: text_opt(&["source_name"])?,
        path,
        url,
        id,
        image,
        lang: text_opt(&["lang"])?,
        unpublished,
        draft,
        modified: None,
    })
}

fn read_author(fields: &Fields<'_>) -> Result<Option<Person>, PostErrorKind> {
    use serde_yaml_ng::Value;
    let Some((key, v)) = fields.get(&["author"]) else {
        return Ok(None);
    };
    match v {
        Value::Mapping(m) => {
            let get = |k: &str| {
                m.get(k)
                    .and_then(front_matter::scalar)
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
            };
            let name = get("name")
                .or_else(|| get("email"))
                .ok_or(PostErrorKind::Field {
                    key,
                    reason: "a mapping needs at least `name`".into(),
                })?;
            Ok(Some(Person {
                name,
                email: get("email"),
                uri: get("uri").or_else(|| get("url")),
            }))
        }
        other => match front_matter::scalar(other) {
            Some(s) if !s.trim().is_empty() => Ok(Some(Person {
                name: s.trim().to_owned(),
                email: None,
                uri: None,
            })),
            Some(_) => Ok(None),
            None => Err(PostErrorKind::Field {
                key,
                reason: format!(
                    "expected a name or a mapping with name/email/uri, found {}",
                    front_matter::kind_name(other)
                ),
            }),
        },
    }
}

/// Expands a permalink pattern (Jekyll placeholders and the built-in styles).
pub fn expand_permalink(
    pattern: &str,
    date: &DateTime<FixedOffset>,
    categories: &[String],
    file_slug: &str,
    title: &str,
) -> String {
    let pattern = match pattern {
        "date" => "/:categories/:year/:month/:day/:title.html",
        "pretty" => "/:categories/:year/:month/:day/:title/",
        "ordinal" => "/:categories/:year/:y_day/:title.html",
        "none" => "/:categories/:title.html",
        p => p,
    };
    let mut cats: Vec<String> = Vec::new();
    for c in categories {
        let s = slugify(c);
        if !s.is_empty() && !cats.contains(&s) {
            cats.push(s);
        }
    }
    let title_slug = {
        let s = slugify(file_slug);
        if s.is_empty() {
            slugify(title)
        } else {
            s
        }
    };
    let title_slug = if title_slug.is_empty() {
        "post".to_owned()
    } else {
        title_slug
    };
    use chrono::Datelike;
    /// What a placeholder's value is made from.
    struct Vars<'a> {
        date: &'a DateTime<FixedOffset>,
        cats: &'a [String],
        slug: &'a str,
    }
    // Each name beside its value, which is made only if the pattern uses it (formatting all of
    // them for every post was 2% of a cold build). Longest names first so `:i_month` is not
    // read as `:i` + `_month`.
    type Value = fn(&Vars<'_>) -> String;
    const PLACEHOLDERS: [(&str, Value); 14] = [
        (":categories", |v| v.cats.join("/")),
        (":short_year", |v| v.date.format("%y").to_string()),
        (":output_ext", |_| ".html".to_owned()),
        (":i_month", |v| v.date.month().to_string()),
        (":i_day", |v| v.date.day().to_string()),
        (":y_day", |v| format!("{:03}", v.date.ordinal())),
        (":minute", |v| v.date.format("%M").to_string()),
        (":second", |v| v.date.format("%S").to_string()),
        (":month", |v| format!("{:02}", v.date.month())),
        (":title", |v| v.slug.to_owned()),
        (":slug", |v| v.slug.to_owned()),
        (":year", |v| v.date.format("%Y").to_string()),
        (":hour", |v| v.date.format("%H").to_string()),
        (":day", |v| format!("{:02}", v.date.day())),
    ];
    let vars = Vars {
        date,
        cats: &cats,
        slug: &title_slug,
    };
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut rest = pattern;
    while let Some(i) = rest.find(':') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match PLACEHOLDERS
            .iter()
            .find_map(|(k, value)| Some((tail.strip_prefix(k)?, value)))
        {
            Some((after, value)) => {
                out.push_str(&value(&vars));
                rest = after;
            }
            None => {
                out.push(':');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    normalize_path(&out)
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

#[cfg(test)]
mod tests;
