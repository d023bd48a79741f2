//! One post file → one [`Post`], or an error that names the file and the reason.
//!
//! Parsing is a pure function of the file's bytes, its path under `posts/` and the site
//! settings; reading the file is kept apart ([`read_post`]) so every I/O failure gets its own
//! message too (unreadable, vanished, too large, not UTF-8).

pub mod body;
pub mod date;
mod error;
mod file;
pub mod front_matter;
mod html;
pub mod media;
mod permalink;
pub mod refs;

pub use error::{PostError, PostErrorKind};
pub use file::{
    classify, is_ignored_name, lossless_name, normalize_path, read_post, FileKind, DRAFTS_DIR,
};
pub use html::{ContentDict, Html};
pub use media::Attachment;
pub use permalink::{expand_permalink, DEFAULT_PERMALINK, PERMALINK_STYLES};
pub use refs::AssetSet;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use url::Url;

use crate::slug::encode_path;
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
    /// The lead image's absolute URL: front matter `image`, else (with
    /// `feeds.lead_image = "first"`) the body's first image. Never an enclosure.
    pub image: Option<String>,
    /// Front matter `enclosure`: a real attachment (audio, video, PDF…).
    pub enclosure: Option<Attachment>,
    /// Front matter `feed_content`: this post's items carry full content or the summary,
    /// whatever `feeds.content` says.
    pub feed_content: Option<media::ContentMode>,
    pub lang: Option<String>,
    /// `published: false` in front matter.
    pub unpublished: bool,
    /// `draft: true`, or the file lives under `_drafts/`.
    pub draft: bool,
    /// When the file was last modified (`None` for a post parsed from bytes alone): a post's
    /// page changes when its file does, whatever its front matter dates say.
    pub modified: Option<std::time::SystemTime>,
    /// The asset paths (under `posts/`) its relative references were looked up as, found or
    /// not (see [`refs`]): the post is read again when one of them appears or goes.
    pub asset_refs: Box<[String]>,
}

impl Post {
    /// The plain-text summary: front matter `excerpt`/`description`/`summary`, or the first
    /// paragraph's text cut at [`SUMMARY_CHARS`].
    /// (With an `excerpt_separator` in the body, the text before it instead of the first
    /// paragraph.)
    pub fn summary(&self) -> Cow<'_, str> {
        self.content_html.summary()
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
    /// The files beside the posts that relative references may name (see [`refs`]); empty
    /// when not known (`check`, the fuzz harness).
    pub assets: Arc<AssetSet>,
    /// `feeds.lead_image`: whether a post without `image` takes its body's first image.
    pub lead_image: media::LeadImage,
    /// `feeds.excerpt_separator`, the default of front matter `excerpt_separator`.
    pub excerpt_separator: String,
}

impl ParseContext {
    /// `site url` + an absolute site path, percent-encoded.
    pub fn link(&self, path: &str) -> String {
        let base = self.site_url.as_str().trim_end_matches('/');
        format!("{base}{}", encode_path(path))
    }
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
    let resolver = refs::Resolver::new(&base, &ctx.site_url, rel, &ctx.assets);
    // An author's `uri` is a link like those in the body: `/about/ann` names a page of the
    // site, and Atom `uri`, JSON Feed `authors.url` and the page's h-card are read elsewhere.
    let author = author.map(|mut p| {
        p.uri = p.uri.map(|u| resolver.url(&u));
        p
    });

    // Body → HTML with absolute links.
    let body_text = split.body;
    let html = match markup {
        Markup::Markdown => body::markdown_to_html(body_text),
        Markup::Html => body_text.to_owned(),
    };
    let rewritten = body::rewrite_with(&html, &resolver)
        .map_err(|e| field_err(PostErrorKind::Html(e.to_string())))?;

    let summary = match fields
        .text(&["excerpt", "description", "summary"])
        .map_err(field_err)?
    {
        Some(s) if !s.trim().is_empty() => s.split_whitespace().collect::<Vec<_>>().join(" "),
        _ => match media::excerpt(&fields, &ctx.excerpt_separator, body_text, markup)
            .map_err(field_err)?
        {
            // The author chose where the excerpt ends: not cut again.
            Some(excerpt) => excerpt,
            None => body::truncate_summary(&rewritten.first_paragraph, SUMMARY_CHARS),
        },
    };

    let absolute_field = |keys: &[&'static str]| -> Result<Option<String>, PostError> {
        match fields.get(keys) {
            None => Ok(None),
            Some((key, v)) => {
                let s = front_matter::scalar(v).unwrap_or_default();
                let abs = resolver.url(s.trim());
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
    let image = match absolute_field(&["image"])? {
        None if ctx.lead_image == media::LeadImage::First => rewritten.first_image.clone(),
        image => image,
    };
    let enclosure = media::enclosure(&fields, &resolver).map_err(field_err)?;
    let feed_content = media::feed_content(&fields).map_err(field_err)?;
    let asset_refs = resolver.into_looked_up().into_boxed_slice();

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
        enclosure,
        feed_content,
        lang: text_opt(&["lang"])?,
        unpublished,
        draft,
        modified: None,
        asset_refs,
    })
}

fn read_author(fields: &Fields<'_>) -> Result<Option<Person>, PostErrorKind> {
    use serde_yaml_ng::Value;
    let Some((key, v)) = fields.get(&["author"]) else {
        return Ok(None);
    };
    match v {
        Value::Mapping(m) => {
            let get = |k: &str| front_matter::mapping_text(m, k);
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

#[cfg(test)]
mod tests;
