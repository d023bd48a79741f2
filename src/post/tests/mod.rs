//! Unit tests of [`parse_post`], [`classify`] and [`is_ignored_name`], one SPEC §1 rule at a
//! time.

use super::*;
use crate::post::DEFAULT_PERMALINK;

pub(super) const FILE: &str = "2021-12-21-x.md";

/// The sample post of SPEC §1.
pub(super) const SAMPLE: &str = include_str!("../../../tests/fixtures/sample-post.md");

pub(super) fn tz(secs: i32) -> FixedOffset {
    FixedOffset::east_opt(secs).unwrap()
}

pub(super) fn ctx_with(url: &str, timezone: FixedOffset, permalink: &str) -> ParseContext {
    ParseContext {
        site_url: Url::parse(url).unwrap(),
        timezone,
        permalink: permalink.to_owned(),
        compact: false,
        dict: None,
        limits: Limits::default(),
        assets: Arc::default(),
        lead_image: crate::post::media::LeadImage::FrontMatter,
        excerpt_separator: "<!--more-->".to_owned(),
    }
}

pub(super) fn ctx() -> ParseContext {
    ctx_with("https://example.com/", tz(0), DEFAULT_PERMALINK)
}

pub(super) fn parse_at(rel: &str, text: &str) -> Result<Post, PostError> {
    parse_post(Path::new(rel), text.as_bytes(), Markup::Markdown, &ctx())
}

pub(super) fn parse(text: &str) -> Post {
    parse_at(FILE, text).unwrap_or_else(|e| panic!("should parse: {e}\n{text}"))
}

pub(super) fn parse_err(text: &str) -> PostError {
    match parse_at(FILE, text) {
        Ok(p) => panic!("should fail, parsed as {p:?}\n{text}"),
        Err(e) => e,
    }
}

/// A post with a date plus the given front matter lines and body.
pub(super) fn post_with(front: &str, body: &str) -> Post {
    parse(&format!(
        "---\ndate: 2021-12-21 08:00:00 +0000\n{front}\n---\n{body}"
    ))
}

pub(super) fn rfc(d: &DateTime<FixedOffset>) -> String {
    d.to_rfc3339()
}

pub(super) fn field_key(e: &PostError) -> &'static str {
    match &e.kind {
        PostErrorKind::Field { key, .. } | PostErrorKind::BadDate { key, .. } => key,
        other => panic!("expected a field error, got {other:?}"),
    }
}

mod fields;
mod files;
mod media;
