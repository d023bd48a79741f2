//! A published document: its bytes, the validators the server sends with them — a strong
//! `ETag` from the bytes (RFC 9110 §8.8.3) and a `Last-Modified` that moves only when the bytes
//! do — and the ready header values, built once per version and cloned per response.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::HeaderValue;

use super::cache::{ByteCache, Cost};
use super::encodings::Coding;

/// One representation of a document: its bytes and its strong ETag (quoted).
#[derive(Debug, Clone)]
pub struct Representation {
    pub bytes: Bytes,
    /// The ETag as a ready header value (built once, cloned per response).
    pub etag_header: HeaderValue,
}

impl Representation {
    pub(super) fn new(bytes: Bytes, etag: String) -> Representation {
        // An ETag is `"` + hex + suffix + `"`: always a valid header value.
        let etag_header =
            HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Representation { bytes, etag_header }
    }

    /// The ETag (quoted).
    pub fn etag(&self) -> &str {
        self.etag_header.to_str().unwrap_or_default()
    }
}

/// Renders a document's bytes again, the same every time (a post page, from its post).
pub type Render = Arc<dyn Fn() -> Bytes + Send + Sync>;

/// A document whose bytes are not kept (post pages: many, rarely requested, cheap to render):
/// its validators and how to render it again. A few dozen bytes instead of a [`Document`];
/// a request makes the `Document` it needs with [`Document::from_lazy`].
#[derive(Clone)]
pub struct Lazy {
    pub content_type: &'static str,
    /// Hash of the bytes `render` gives (the ETag's opaque part).
    pub hash: u128,
    pub len: usize,
    /// Whole seconds.
    pub last_modified: SystemTime,
    /// Gives exactly the bytes `hash` was taken from.
    pub render: Render,
    /// The post a post page shows: its other representations (an ActivityPub `Article`,
    /// negotiated by `Accept`) are made from it.
    pub post: Option<std::sync::Arc<crate::post::Post>>,
}

impl std::fmt::Debug for Lazy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy")
            .field("content_type", &self.content_type)
            .field("hash", &format_args!("{:032x}", self.hash))
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Lazy {
    /// Renders the bytes and makes the document a request is answered from (compressed forms
    /// computed on first use, as for any document). Its validators are the lazy entry's.
    pub fn materialize(&self) -> Document {
        // The ETag is taken from the bytes actually rendered (the same the hash was).
        Document::new(self.content_type, (self.render)(), self.last_modified, None)
    }

    /// The lazy form of `bytes`, rendered again by `render`.
    pub fn new(
        content_type: &'static str,
        bytes: &[u8],
        last_modified: SystemTime,
        render: Render,
    ) -> Lazy {
        Lazy {
            content_type,
            hash: content_hash(bytes),
            len: bytes.len(),
            last_modified: whole_seconds(last_modified),
            render,
            post: None,
        }
    }

    /// The same, the page of `post`.
    pub fn with_post(mut self, post: std::sync::Arc<crate::post::Post>) -> Lazy {
        self.post = Some(post);
        self
    }
}

/// Post pages rendered for requests, kept while they fit in a byte budget: a page asked for
/// again, in the same or another coding, is neither rendered nor compressed again. An entry
/// counts only for the version (hash) it was rendered from.
pub struct RenderedPages(ByteCache<String, Arc<Document>>);

impl Cost for Arc<Document> {
    /// The identity bytes (its compressed forms count in the budget for compressed forms).
    fn cost(&self) -> usize {
        self.len() + 256
    }
}

impl RenderedPages {
    pub fn new(budget: usize) -> RenderedPages {
        RenderedPages(ByteCache::new(budget, 16 << 10))
    }

    /// The page at `route` rendered from the version `hash`, if kept.
    pub fn get(&self, route: &str, hash: u128) -> Option<Arc<Document>> {
        self.0.get(&route.to_owned()).filter(|d| d.hash == hash)
    }

    /// Keeps `doc` for `route` (replacing an older version); a page bigger than a quarter of
    /// the budget is not kept.
    pub fn put(&self, route: &str, doc: Arc<Document>) {
        if doc.cost() <= self.0.budget() / 4 {
            self.0.insert(route.to_owned(), doc);
        }
    }
}

/// One published document.
pub struct Document {
    pub content_type: &'static str,
    pub identity: Representation,
    /// 128-bit hash of the identity bytes: the ETag's opaque part.
    pub hash: u128,
    /// When these bytes were first published (whole seconds).
    pub last_modified: SystemTime,
    pub last_modified_header: HeaderValue,
    /// `Link` header value (`<url>; rel="self"`, hub), if any.
    pub link: Option<String>,
    pub link_header: Option<HeaderValue>,
    /// `Cache-Control` when it is not the server's default (archive pages).
    pub cache_control: Option<HeaderValue>,
    /// Set for documents whose bytes are not kept (`identity.bytes` is empty): they are
    /// rendered again for each response that needs them, and compressed then.
    lazy: Option<Render>,
    /// Length of the identity bytes.
    len: usize,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("content_type", &self.content_type)
            .field("etag", &self.identity.etag())
            .field("last_modified", &self.last_modified_header)
            .field("len", &self.len)
            .field("lazy", &self.lazy.is_some())
            .finish_non_exhaustive()
    }
}

/// A `Link` header value (RFC 8288) for `(rel, target)` pairs; `None` for none.
pub fn link_header(relations: &[(&str, String)]) -> Option<String> {
    (!relations.is_empty()).then(|| {
        relations
            .iter()
            .map(|(rel, url)| format!("<{url}>; rel=\"{rel}\""))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The strong ETag of some bytes (RFC 9110 §8.8.3): a hash of the content, so it is the same
/// across restarts and machines for the same bytes.
pub fn etag_for(hash: u128, coding: Coding) -> String {
    format!("\"{hash:032x}{}\"", coding.etag_suffix())
}

/// The content hash behind the ETag.
pub fn content_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// Rounds down to whole seconds: HTTP dates have no fractions, and comparisons must agree
/// with what the client saw.
pub use crate::feed::modified::whole_seconds;

impl Document {
    /// A document with its validators.
    pub fn new(
        content_type: &'static str,
        bytes: Bytes,
        last_modified: SystemTime,
        link: Option<String>,
    ) -> Document {
        let hash = content_hash(&bytes);
        let len = bytes.len();
        let last_modified = whole_seconds(last_modified);
        let last_modified_http = httpdate::fmt_http_date(last_modified);
        Document {
            content_type,
            identity: Representation::new(bytes, etag_for(hash, Coding::Identity)),
            hash,
            last_modified,
            last_modified_header: HeaderValue::from_str(&last_modified_http)
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            // A header value cannot hold CR/LF or other controls: such a link is dropped.
            link_header: link.as_deref().and_then(|l| HeaderValue::from_str(l).ok()),
            link,
            cache_control: None,
            lazy: None,
            len,
        }
    }

    /// The document of a lazy entry, for one response (its bytes rendered when needed).
    pub fn from_lazy(l: &Lazy) -> Document {
        let etag = etag_for(l.hash, Coding::Identity);
        let last_modified_http = httpdate::fmt_http_date(l.last_modified);
        Document {
            content_type: l.content_type,
            identity: Representation::new(Bytes::new(), etag),
            hash: l.hash,
            last_modified: l.last_modified,
            last_modified_header: HeaderValue::from_str(&last_modified_http)
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            link: None,
            link_header: None,
            cache_control: None,
            lazy: Some(Arc::clone(&l.render)),
            len: l.len,
        }
    }

    /// How to render the bytes again, for a document whose bytes are not kept.
    pub(super) fn render(&self) -> Option<&Render> {
        self.lazy.as_ref()
    }

    /// Whether the bytes are rendered per response rather than kept.
    pub fn is_lazy(&self) -> bool {
        self.lazy.is_some()
    }

    /// Length of the identity bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The identity bytes (rendered now, for a lazy document).
    pub fn identity_bytes(&self) -> Bytes {
        match &self.lazy {
            Some(render) => render(),
            None => self.identity.bytes.clone(),
        }
    }

    /// The same document with its own `Cache-Control`.
    pub fn with_cache_control(mut self, value: HeaderValue) -> Document {
        self.cache_control = Some(value);
        self
    }

    /// True when `tag` (opaque part, quotes included) is this version's ETag in `coding`: the
    /// comparison preconditions make, against the representation the request would be sent
    /// (RFC 9110 §13.1.1, §13.1.2), not against any representation of the document.
    pub fn matches_etag_in(&self, tag: &str, coding: Coding) -> bool {
        let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let suffix = coding.etag_suffix();
        inner.len() == 32 + suffix.len()
            && inner.ends_with(suffix)
            && is_hex_of(&inner[..32], self.hash)
    }

    /// True when `tag` (opaque part, quotes included) names any representation of this
    /// version of the document. For checking what was sent; preconditions use
    /// [`Document::matches_etag_in`].
    pub fn matches_etag(&self, tag: &str) -> bool {
        let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let hex = format!("{:032x}", self.hash);
        matches!(
            inner.strip_prefix(hex.as_str()),
            Some("" | "-gz" | "-br" | "-zst")
        )
    }
}

/// True when `hex` is `hash` as 32 lowercase hex digits (what [`etag_for`] writes), without
/// formatting it: this runs on every conditional request.
fn is_hex_of(hex: &str, hash: u128) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    hex.len() == 32
        && hex
            .bytes()
            .enumerate()
            .all(|(i, b)| b == DIGITS[((hash >> (124 - 4 * i)) & 0xf) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn etag_is_stable_and_differs_per_coding() {
        let d = Document::new("text/plain", Bytes::from_static(b"hello"), UNIX_EPOCH, None);
        let again = Document::new("text/plain", Bytes::from_static(b"hello"), UNIX_EPOCH, None);
        assert_eq!(d.identity.etag(), again.identity.etag());
        assert!(d.identity.etag().starts_with('"') && d.identity.etag().ends_with('"'));
        assert_ne!(etag_for(d.hash, Coding::Gzip), d.identity.etag());
        assert!(d.matches_etag(&etag_for(d.hash, Coding::Brotli)));
        assert!(!d.matches_etag("\"other\""));
        assert!(!d.matches_etag(&d.identity.etag()[1..]));
    }

    #[test]
    fn etag_matches_only_in_its_own_coding() {
        let d = Document::new("text/plain", Bytes::from_static(b"hello"), UNIX_EPOCH, None);
        let all = [Coding::Identity, Coding::Gzip, Coding::Brotli, Coding::Zstd];
        for sent in all {
            for tagged in all {
                assert_eq!(
                    d.matches_etag_in(&etag_for(d.hash, tagged), sent),
                    sent == tagged,
                    "{tagged:?} tag against a {sent:?} response"
                );
            }
        }
        let tag = d.identity.etag();
        assert!(!d.matches_etag_in(&tag.to_ascii_uppercase(), Coding::Identity));
        assert!(!d.matches_etag_in(&tag[1..], Coding::Identity));
        assert!(!d.matches_etag_in("\"\"", Coding::Identity));
        assert!(!d.matches_etag_in(&format!("\"{:032x}-gz\"", d.hash ^ 1), Coding::Gzip));
    }

    #[test]
    fn rendered_pages_keep_one_version_within_their_budget() {
        let page = |text: &str| {
            Arc::new(Document::new(
                "text/html; charset=utf-8",
                Bytes::copy_from_slice(text.as_bytes()),
                UNIX_EPOCH,
                None,
            ))
        };
        let a = page(&"a".repeat(1000));
        let kept = RenderedPages::new(100 * a.cost());
        kept.put("/a", Arc::clone(&a));
        assert!(kept.get("/a", a.hash).is_some());
        // Another version of the page is not what was kept.
        assert!(kept.get("/a", a.hash ^ 1).is_none());
        // A new version replaces the old one in place.
        let a2 = page(&"A".repeat(1000));
        kept.put("/a", Arc::clone(&a2));
        assert!(kept.get("/a", a.hash).is_none() && kept.get("/a", a2.hash).is_some());
        // Too big for a quarter of the budget: not kept at all.
        let big = page(&"f".repeat(26 * a.cost()));
        kept.put("/f", Arc::clone(&big));
        assert!(kept.get("/f", big.hash).is_none());
        // Many pages: the budget holds.
        for n in 0..1000 {
            kept.put(&format!("/{n}"), page(&format!("{n:04}").repeat(250)));
        }
        assert!(kept.0.held().1 <= 100 * a.cost(), "{:?}", kept.0.held());
    }
}
