//! The compressed forms of documents: each made on first request in a coding, then kept while
//! it fits in the budget the server's state was given (`server.compressed_cache_mb`). A site
//! of 100,000 posts has thousands of feeds: a reader polling each once would otherwise leave a
//! compressed copy of every one of them in memory for good.
//!
//! Forms are keyed by the document's content hash and the coding, so a new version of a
//! document never meets its predecessor's form, and two routes with the same bytes share one.

use bytes::Bytes;
use hyper::header::HeaderValue;

use super::cache::{ByteCache, Cost};
use super::document::{etag_for, Document, Representation};
use super::encodings::{compress, Coding};

/// One coding of one document version: `None` when compressing does not make it smaller
/// (the identity is sent instead).
#[derive(Clone)]
struct Form(Option<Representation>);

impl Cost for Form {
    /// Its bytes, and the bookkeeping of the entry.
    fn cost(&self) -> usize {
        self.0.as_ref().map_or(0, |r| r.bytes.len()) + 128
    }
}

/// The compressed forms kept, within a byte budget.
pub struct Forms(ByteCache<(u128, Coding), Form>);

impl Forms {
    /// Forms of at most `budget` bytes in all.
    pub fn new(budget: usize) -> Forms {
        Forms(ByteCache::new(budget, 32 << 10))
    }

    /// Whether the representation in `coding` is at hand (identity always is; a compressed
    /// form once made and still kept), so answering with it costs no rendering or compression.
    pub fn is_ready(&self, doc: &Document, coding: Coding) -> bool {
        !doc.is_lazy() && (coding == Coding::Identity || self.0.peek(&(doc.hash, coding)).is_some())
    }

    /// The representation of `doc` in `coding`, compressing on first use (or again, once the
    /// budget let the form go). `None` when compressing does not make it smaller, and for a
    /// lazy document (its bytes are rendered per response).
    pub fn encoded(&self, doc: &Document, coding: Coding) -> Option<Representation> {
        if doc.is_lazy() {
            return None;
        }
        if coding == Coding::Identity {
            return Some(doc.identity.clone());
        }
        let raw = &doc.identity.bytes;
        self.0
            .get_or_insert_with(&(doc.hash, coding), || {
                Form(
                    compress(coding, raw)
                        .ok()
                        .filter(|bytes| bytes.len() < raw.len())
                        .map(|bytes| {
                            Representation::new(Bytes::from(bytes), etag_for(doc.hash, coding))
                        }),
                )
            })
            .0
    }

    /// What a response asking for `accepted` carries: the form in that coding, or the identity
    /// when compressing does not pay; its ETag and its bytes together. `None` for a lazy
    /// document.
    pub fn representation(
        &self,
        doc: &Document,
        accepted: Coding,
    ) -> Option<(Coding, Representation)> {
        if doc.is_lazy() {
            return None;
        }
        Some(match self.encoded(doc, accepted) {
            Some(rep) => (accepted, rep),
            None => (Coding::Identity, doc.identity.clone()),
        })
    }

    /// The coding that will be sent for a request accepting `coding`, and its ETag header.
    /// Cheap for lazy documents (nothing is rendered): they are always sent in the requested
    /// coding.
    pub fn etag_header(&self, doc: &Document, coding: Coding) -> (Coding, HeaderValue) {
        if doc.is_lazy() {
            if coding == Coding::Identity {
                return (coding, doc.identity.etag_header.clone());
            }
            let etag = etag_for(doc.hash, coding);
            let header =
                HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            return (coding, header);
        }
        self.representation(doc, coding).map_or(
            (Coding::Identity, doc.identity.etag_header.clone()),
            |(c, rep)| (c, rep.etag_header),
        )
    }

    /// The bytes to send in `coding` (as chosen by [`Forms::etag_header`]).
    pub fn body(&self, doc: &Document, coding: Coding) -> Bytes {
        match doc.render() {
            Some(render) => {
                let raw = render();
                if coding == Coding::Identity {
                    return raw;
                }
                compress(coding, &raw).map_or(raw, Bytes::from)
            }
            None => self
                .representation(doc, coding)
                .map_or_else(|| doc.identity.bytes.clone(), |(_, rep)| rep.bytes),
        }
    }

    /// Forms held and their bytes.
    pub fn held(&self) -> (usize, usize) {
        self.0.held()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::store::{Lazy, Render};

    fn doc(text: &str) -> Document {
        Document::new("text/xml", Bytes::from(text.to_owned()), UNIX_EPOCH, None)
    }

    #[test]
    fn compression_round_trips_and_is_kept() {
        let forms = Forms::new(1 << 20);
        let raw = "港口吞吐量 <item>feed</item> ".repeat(500);
        let d = doc(&raw);
        assert!(!forms.is_ready(&d, Coding::Gzip));
        let gz = forms.encoded(&d, Coding::Gzip).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz.bytes[..]), &mut out)
            .unwrap();
        assert_eq!(out, raw);
        assert!(forms.is_ready(&d, Coding::Gzip) && !forms.is_ready(&d, Coding::Brotli));
        let br = forms.encoded(&d, Coding::Brotli).unwrap();
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br.bytes[..], &mut out).unwrap();
        assert_eq!(out, raw.as_bytes());
        let zs = forms.encoded(&d, Coding::Zstd).unwrap();
        assert_eq!(
            zstd::bulk::decompress(&zs.bytes, raw.len()).unwrap(),
            raw.as_bytes()
        );
        // Kept: the same bytes come back, and the ETag names the coding.
        assert_eq!(forms.encoded(&d, Coding::Gzip).unwrap().bytes, gz.bytes);
        assert_eq!(gz.etag(), etag_for(d.hash, Coding::Gzip));
    }

    #[test]
    fn forms_stay_within_the_budget_of_their_owner() {
        let one = Form(forms_of_one()).cost();
        let forms = Forms::new(8 * one);
        let docs: Vec<Document> = (0..40)
            .map(|i| doc(&format!("<item>{i}</item>").repeat(2000)))
            .collect();
        for d in &docs {
            assert!(forms.encoded(d, Coding::Gzip).is_some());
            assert!(forms.held().1 <= 8 * one, "{:?}", forms.held());
        }
        let ready = docs
            .iter()
            .filter(|d| forms.is_ready(d, Coding::Gzip))
            .count();
        assert!((1..=8).contains(&ready), "{ready} forms kept");
        // A form let go is made again, the same bytes.
        let again = forms.encoded(&docs[0], Coding::Gzip).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&again.bytes[..]),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, "<item>0</item>".repeat(2000));
        // No budget: nothing kept, still answered.
        let none = Forms::new(0);
        assert!(none.encoded(&docs[1], Coding::Gzip).is_some());
        assert!(!none.is_ready(&docs[1], Coding::Gzip));
    }

    fn forms_of_one() -> Option<Representation> {
        Forms::new(1 << 20).encoded(&doc(&"<item>0</item>".repeat(2000)), Coding::Gzip)
    }

    #[test]
    fn tiny_documents_are_sent_as_they_are() {
        let forms = Forms::new(1 << 20);
        let d = Document::new("text/plain", Bytes::from_static(b"x"), UNIX_EPOCH, None);
        assert!(forms.encoded(&d, Coding::Gzip).is_none());
        let (coding, etag) = forms.etag_header(&d, Coding::Gzip);
        assert_eq!(
            (coding, etag),
            (Coding::Identity, d.identity.etag_header.clone())
        );
        assert_eq!(forms.body(&d, Coding::Gzip), Bytes::from_static(b"x"));
    }

    #[test]
    fn a_materialized_page_is_ready_in_the_codings_computed() {
        let forms = Forms::new(1 << 20);
        let text = "<p>page</p>".repeat(100);
        let render: Render = {
            let text = text.clone();
            Arc::new(move || Bytes::from(text.clone()))
        };
        let lazy = Lazy::new(
            "text/html; charset=utf-8",
            text.as_bytes(),
            UNIX_EPOCH,
            render,
        );
        assert!(!forms.is_ready(&Document::from_lazy(&lazy), Coding::Identity));
        let doc = lazy.materialize();
        assert_eq!(doc.hash, lazy.hash);
        assert!(forms.is_ready(&doc, Coding::Identity) && !forms.is_ready(&doc, Coding::Gzip));
        assert!(forms.encoded(&doc, Coding::Gzip).is_some());
        assert!(forms.is_ready(&doc, Coding::Gzip) && !forms.is_ready(&doc, Coding::Brotli));
    }
}
