//! What a post carries besides its text: its attachment (front matter `enclosure`), its lead
//! image (`image`, or the body's first when `feeds.lead_image = "first"`), its excerpt (the body
//! before `excerpt_separator`, as Jekyll cuts it) and whether its items carry full content.
//!
//! Podcast apps take any RSS `<enclosure>` as an episode, so the lead image never becomes one:
//! an enclosure is only what the author attached, and an image attached is refused (it belongs
//! in `image`).

use serde_yaml_ng::Value;

use super::body::{self, Markup};
use super::front_matter::{self, Fields};
use super::refs::Resolver;
use super::PostErrorKind;
use serde::Deserialize;

// The two settings a post reads are defined here, where they are used first; `config`
// re-exports them (config depends on post, never the other way).

/// Whether items carry the full HTML content or only the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentMode {
    Full,
    Summary,
}

/// `feeds.lead_image`: which image represents a post in readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadImage {
    /// Only front matter `image`: an author who wants none gets none.
    FrontMatter,
    /// Front matter `image`, else the first `<img>` of the body with an http(s) source, as
    /// readers that show a card per item pick one themselves.
    First,
}

/// A post's attachment (RSS `enclosure`, Atom `link rel="enclosure"`, JSON Feed `attachments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Absolute `http(s)` URL.
    pub url: String,
    /// Media type: front matter `type`, else the asset's or the URL's by extension, else
    /// `application/octet-stream`.
    pub mime_type: String,
    /// Size in bytes: the file's own for a post asset, else front matter `length`; `None`
    /// when neither is known.
    pub length: Option<u64>,
}

/// The media type a file name or URL path suggests by its extension.
fn guess_type(path: &str) -> Option<&'static str> {
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    mime_guess::from_path(path).first_raw()
}

/// Reads front matter `enclosure`: a URL or path (resolved like every reference: a path
/// beside the post names a post asset), or a mapping `{url, type, length}`.
pub fn enclosure(
    fields: &Fields<'_>,
    resolver: &Resolver<'_>,
) -> Result<Option<Attachment>, PostErrorKind> {
    let Some((key, v)) = fields.get(&["enclosure"]) else {
        return Ok(None);
    };
    let bad = |reason: String| PostErrorKind::Field { key, reason };
    let (url, mime, length) = match v {
        Value::Mapping(m) => {
            let get = |k: &str| front_matter::mapping_text(m, k);
            let url = get("url").ok_or_else(|| bad("a mapping needs `url`".into()))?;
            let length =
                match get("length") {
                    None => None,
                    Some(l) => Some(l.parse::<u64>().map_err(|_| {
                        bad(format!("`length` must be a number of bytes, got {l:?}"))
                    })?),
                };
            let mime = get("type");
            if let Some(t) = &mime {
                // `type/subtype[; params]`: what readers and podcast apps match on.
                let essence = t.split(';').next().unwrap_or_default().trim();
                let ok = essence.split_once('/').is_some_and(|(a, b)| {
                    !a.is_empty() && !b.is_empty() && !essence.contains(char::is_whitespace)
                });
                if !ok {
                    return Err(bad(format!("`type` must be a media type, got {t:?}")));
                }
            }
            (url, mime, length)
        }
        other => match front_matter::scalar(other).map(|s| s.trim().to_owned()) {
            Some(s) if !s.is_empty() => (s, None, None),
            _ => return Err(bad("expected a URL, a path or {url, type, length}".into())),
        },
    };
    let abs = resolver.url(&url);
    match url::Url::parse(&abs) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err(bad(format!("not a usable http(s) URL: {url:?}"))),
    }
    // A post asset: its true size and type, whatever the front matter says.
    let asset = resolver.asset_at(&abs);
    let mime_type = match (&asset, mime) {
        (Some((key, _)), _) => guess_type(key).map(str::to_owned),
        (None, Some(t)) => Some(t),
        (None, None) => guess_type(&abs).map(str::to_owned),
    }
    .unwrap_or_else(|| "application/octet-stream".to_owned());
    if mime_type.starts_with("image/") {
        return Err(bad(format!(
            "{url:?} is an image ({mime_type}); podcast apps would take it for an episode: \
             use `image` for a post's picture"
        )));
    }
    Ok(Some(Attachment {
        url: abs,
        mime_type,
        length: asset.map(|(_, len)| len).or(length),
    }))
}

/// Reads front matter `feed_content: full | summary`.
pub fn feed_content(fields: &Fields<'_>) -> Result<Option<ContentMode>, PostErrorKind> {
    let Some(text) = fields.text(&["feed_content"])? else {
        return Ok(None);
    };
    match text.trim() {
        "full" => Ok(Some(ContentMode::Full)),
        "summary" => Ok(Some(ContentMode::Summary)),
        other => Err(PostErrorKind::Field {
            key: "feed_content",
            reason: format!("expected `full` or `summary`, got {other:?}"),
        }),
    }
}

/// The excerpt's plain text: the body before the separator (front matter
/// `excerpt_separator`, else `default`), or `None` when the body has no separator (or it is
/// empty: no excerpt cut).
pub fn excerpt(
    fields: &Fields<'_>,
    default: &str,
    body_text: &str,
    markup: Markup,
) -> Result<Option<String>, PostErrorKind> {
    let own = fields.text(&["excerpt_separator"])?;
    let sep = own.as_deref().unwrap_or(default);
    if sep.is_empty() {
        return Ok(None);
    }
    let Some((before, _)) = body_text.split_once(sep) else {
        return Ok(None);
    };
    let html = match markup {
        Markup::Markdown => body::markdown_to_html(before),
        Markup::Html => before.to_owned(),
    };
    let text = body::plain_text_of(&html).map_err(|e| PostErrorKind::Html(e.to_string()))?;
    Ok(Some(text).filter(|t| !t.trim().is_empty()))
}
