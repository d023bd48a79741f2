//! Feed documents made of parts: an envelope (the document without its items, cut where they
//! go) and one fragment per item, each checked when made, spliced together byte for byte as
//! the crate's writers would have written the whole ([`super::render`], which a test holds it
//! to).

use super::{atom, json, rss, FeedError, FeedSpec, SiteMeta};
use crate::config::Format;
use crate::post::Post;

/// A feed document without its items, cut where the items go. Checked before it is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
}

impl Envelope {
    /// Cuts `doc` before the last occurrence of `closing`.
    pub(super) fn cut(mut doc: Vec<u8>, closing: &[u8]) -> Result<Envelope, FeedError> {
        let at = rfind(&doc, closing)
            .ok_or_else(|| format!("no {:?} in the envelope", String::from_utf8_lossy(closing)))?;
        let tail = doc[at..].to_vec();
        doc.truncate(at);
        Ok(Envelope { head: doc, tail })
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The bytes of a one-item document from `open` up to the last `closing` (exclusive).
pub(super) fn splice_out(
    doc: &[u8],
    open: &[u8],
    closing: &[u8],
) -> Result<bytes::Bytes, FeedError> {
    let start = find(doc, open).ok_or("no item start in the fragment document")?;
    let end = rfind(doc, closing)
        .filter(|e| *e >= start)
        .ok_or("no item end in the fragment document")?;
    Ok(bytes::Bytes::copy_from_slice(&doc[start..end]))
}

/// The checked envelope of a feed document.
pub fn envelope(spec: &FeedSpec<'_>, format: Format) -> Result<Envelope, FeedError> {
    match format {
        Format::Rss => rss::envelope(spec),
        Format::Atom => atom::envelope(spec),
        Format::Json => json::envelope(spec),
    }
}

/// One post's item in a format (`<item>`, `<entry>` or a JSON object), checked by parsing it
/// back. Rendered once per post version and shared by every feed the post appears in.
pub fn fragment(meta: &SiteMeta, post: &Post, format: Format) -> Result<bytes::Bytes, FeedError> {
    fragment_of(meta, post, &post.content_html.both(), format)
}

/// The post's items in each of `formats`, its content and summary read back once for all.
pub fn fragments(
    meta: &SiteMeta,
    post: &Post,
    formats: &[Format],
) -> Vec<(Format, Result<bytes::Bytes, FeedError>)> {
    let texts = post.content_html.both();
    formats
        .iter()
        .map(|f| (*f, fragment_of(meta, post, &texts, *f)))
        .collect()
}

/// A post's HTML content and its summary, as [`crate::post::Html::both`] reads them back.
pub type Texts<'a> = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>);

fn fragment_of(
    meta: &SiteMeta,
    post: &Post,
    texts: &Texts<'_>,
    format: Format,
) -> Result<bytes::Bytes, FeedError> {
    match format {
        Format::Rss => rss::fragment(meta, post, texts),
        Format::Atom => atom::fragment(meta, post, texts),
        Format::Json => json::fragment(meta, post, texts),
    }
}

/// Splices item fragments into an envelope; also returns where each item landed.
///
/// Both the envelope and every fragment were parsed back when they were made; an element or
/// JSON value that is well-formed on its own stays so between a well-formed head and tail, so
/// the document needs no second parse. A test holds the result byte-identical to [`render`].
pub fn assemble<'f>(
    env: &Envelope,
    items: impl ExactSizeIterator<Item = &'f [u8]> + Clone,
    format: Format,
) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let body: usize = items.clone().map(<[u8]>::len).sum::<usize>() + items.len();
    let mut out = Vec::with_capacity(env.head.len() + body + env.tail.len());
    let mut ranges = Vec::with_capacity(items.len());
    out.extend_from_slice(&env.head);
    for (i, item) in items.enumerate() {
        if format == Format::Json && i > 0 {
            out.push(b',');
        }
        let start = out.len();
        out.extend_from_slice(item);
        ranges.push(start..out.len());
    }
    out.extend_from_slice(&env.tail);
    (out, ranges)
}
