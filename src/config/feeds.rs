//! `[feeds]`: what goes into each document, and where a site's history is archived.

use serde::Deserialize;

use super::Format;
pub use crate::post::media::{ContentMode, LeadImage};

/// `[feeds]`: what goes into each document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Items per feed; 0 = all.
    pub limit: usize,
    pub content: ContentMode,
    pub formats: Vec<Format>,
    /// RFC 5005 archive pages for the posts beyond `limit` (see `crate::feed::paging`).
    pub archive: bool,
    /// Posts per archive page; 0 = half of `limit`, rounded up. At most `limit`.
    pub archive_page: usize,
    /// The scopes whose history is archived: the whole site's (the default: a mirror gets
    /// every post from it), and each category's or tag's only when asked for — each of those
    /// copies every post of the term once more.
    pub archive_scopes: Vec<ArchiveScope>,
    /// The formats archived; empty (the default) = Atom, RFC 5005's own format, or the first
    /// format written when Atom is not.
    pub archive_formats: Vec<Format>,
    /// For static hosting: an `<?xml-stylesheet?>` in RSS and Atom and the XSLT it names
    /// (`feed/stylesheet.rs`). Off: `serve` shows browsers each feed's view without it.
    pub stylesheet: bool,
    /// Where a post's lead image comes from (Media RSS `media:content`, JSON Feed `image`).
    pub lead_image: LeadImage,
    /// The marker that ends a post's excerpt (Jekyll's `excerpt_separator`): the summary is
    /// the body's text before it. Empty: no separator, the first paragraph as before.
    pub excerpt_separator: String,
    /// How long a deleted post stays announced in the Atom feeds it was in (RFC 6721
    /// `at:deleted-entry`) and its page answers `410 Gone`, in days; 0 = not at all. A
    /// fraction is allowed (`0.0001` is under 9 seconds: what the tests use).
    pub tombstone_days: f64,
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            limit: 50,
            content: ContentMode::Full,
            formats: vec![Format::Rss, Format::Atom, Format::Json],
            archive: true,
            archive_page: 0,
            archive_scopes: vec![ArchiveScope::Site],
            archive_formats: Vec::new(),
            stylesheet: false,
            lead_image: LeadImage::FrontMatter,
            excerpt_separator: DEFAULT_EXCERPT_SEPARATOR.to_owned(),
            tombstone_days: 30.0,
        }
    }
}

impl FeedsConfig {
    /// How long tombstones last (`tombstone_days`); `None` when they are off.
    pub fn tombstone_window(&self) -> Option<chrono::Duration> {
        let ms = self.tombstone_days * 86_400_000.0;
        // Checked by `Config::validate`; anything else is off. At most 100 years.
        (ms.is_finite() && ms >= 1.0).then(|| chrono::Duration::milliseconds(ms.min(3.2e12) as i64))
    }

    /// The archive page size in effect, or `None` when there are no archives (turned off, or
    /// `limit = 0`: every feed holds every post).
    pub fn archive_page_size(&self) -> Option<usize> {
        if !self.archive || self.limit == 0 {
            return None;
        }
        Some(match self.archive_page {
            0 => self.limit.div_ceil(2),
            n => n,
        })
    }
}

/// A kind of scope `feeds.archive_scopes` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveScope {
    /// All posts.
    Site,
    Categories,
    Tags,
}

impl FeedsConfig {
    /// The formats whose documents have archive pages (see [`FeedsConfig::archive_formats`]),
    /// among those written.
    pub fn archived_formats(&self) -> Vec<Format> {
        if !self.archive_formats.is_empty() {
            return Format::ALL
                .into_iter()
                .filter(|f| self.archive_formats.contains(f) && self.formats.contains(f))
                .collect();
        }
        let default = if self.formats.contains(&Format::Atom) {
            Some(Format::Atom)
        } else {
            Format::ALL.into_iter().find(|f| self.formats.contains(f))
        };
        default.into_iter().collect()
    }
}

/// Jekyll's default excerpt separator: an HTML comment, invisible in the rendered post.
pub const DEFAULT_EXCERPT_SEPARATOR: &str = "<!--more-->";

#[cfg(test)]
mod tests {
    use super::LeadImage;
    use crate::config::Config;

    #[test]
    fn lead_image_and_excerpt_separator() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.feeds.lead_image, LeadImage::FrontMatter);
        assert_eq!(c.feeds.excerpt_separator, "<!--more-->");
        let c = Config::from_toml("[feeds]\nlead_image = \"first\"\nexcerpt_separator = \"\"\n")
            .unwrap();
        assert_eq!(c.feeds.lead_image, LeadImage::First);
        assert_eq!(c.feeds.excerpt_separator, "");
        let err = Config::from_toml("[feeds]\nlead_image = \"body\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("lead_image"), "{err:#}");
    }
}
