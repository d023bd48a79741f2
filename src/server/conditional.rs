//! Conditional requests (RFC 9110 §13) and content-coding negotiation (RFC 9110 §12.5.3), as
//! pure functions of the request headers and the document.
//!
//! The request's validators are read into [`Preconditions`] once; [`Preconditions::evaluate`]
//! answers with an [`Outcome`] the handler matches on. The order is RFC 9110 §13.2.2:
//! `If-Match`, then `If-Unmodified-Since`, then `If-None-Match`, and `If-Modified-Since` only
//! when `If-None-Match` is absent. Entity-tags are compared with the ETag of the selected
//! representation — the content coding this request is answered in — not with those of the
//! other codings (RFC 9110 §13.1.1, §13.1.2): a cache holding the gzip bytes must not be told
//! its copy is current when it asks for the identity ones.

use std::time::SystemTime;

use hyper::header::{
    HeaderMap, ACCEPT_ENCODING, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
};

use crate::store::{Coding, Document};

/// An entity-tag list header: `*` or a list of tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagList {
    Any,
    Tags(Vec<EntityTag>),
}

/// One entity-tag from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    pub weak: bool,
    /// The opaque tag with its quotes.
    pub opaque: String,
}

impl TagList {
    /// Parses `*` or `W/"a", "b"`; unparsable members are skipped.
    pub fn parse(value: &str) -> TagList {
        if value.trim() == "*" {
            return TagList::Any;
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.is_empty() {
                break;
            }
            let weak = rest.starts_with("W/");
            if weak {
                rest = &rest[2..];
            }
            if let Some(body) = rest.strip_prefix('"') {
                match body.find('"') {
                    Some(end) => {
                        tags.push(EntityTag {
                            weak,
                            opaque: format!("\"{}\"", &body[..end]),
                        });
                        rest = &body[end + 1..];
                    }
                    None => break,
                }
            } else {
                // Not a valid entity-tag: skip to the next comma.
                match rest.find(',') {
                    Some(i) => rest = &rest[i + 1..],
                    None => break,
                }
            }
        }
        TagList::Tags(tags)
    }

    /// Weak comparison (RFC 9110 §8.8.3.2) with `doc` sent in `coding`: a tag matches when its
    /// opaque part is that representation's, whether or not it is marked weak.
    fn weak_match(&self, doc: &Document, coding: Coding) -> bool {
        match self {
            TagList::Any => true,
            TagList::Tags(tags) => tags.iter().any(|t| doc.matches_etag_in(&t.opaque, coding)),
        }
    }

    /// Strong comparison with `doc` sent in `coding`: weak tags never match.
    fn strong_match(&self, doc: &Document, coding: Coding) -> bool {
        match self {
            TagList::Any => true,
            TagList::Tags(tags) => tags
                .iter()
                .any(|t| !t.weak && doc.matches_etag_in(&t.opaque, coding)),
        }
    }
}

/// The validators of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub if_match: Option<TagList>,
    pub if_unmodified_since: Option<SystemTime>,
    pub if_none_match: Option<TagList>,
    pub if_modified_since: Option<SystemTime>,
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Send the representation.
    Full,
    /// `304 Not Modified`.
    NotModified,
    /// `412 Precondition Failed`.
    PreconditionFailed,
}

fn header_str(headers: &HeaderMap, name: &hyper::header::HeaderName) -> Option<String> {
    // Several fields of one list header combine into one comma-separated value.
    let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    let mut out = first.to_owned();
    for v in values {
        out.push_str(", ");
        out.push_str(v);
    }
    Some(out)
}

fn http_date(headers: &HeaderMap, name: &hyper::header::HeaderName) -> Option<SystemTime> {
    // A date header that appears more than once, or does not parse, is ignored (§13.1.3).
    let mut values = headers.get_all(name).iter();
    let v = values.next()?;
    if values.next().is_some() {
        return None;
    }
    httpdate::parse_http_date(v.to_str().ok()?.trim()).ok()
}

impl Preconditions {
    /// Reads the validators from the request headers.
    pub fn from_headers(headers: &HeaderMap) -> Preconditions {
        Preconditions {
            if_match: header_str(headers, &IF_MATCH).map(|v| TagList::parse(&v)),
            if_unmodified_since: http_date(headers, &IF_UNMODIFIED_SINCE),
            if_none_match: header_str(headers, &IF_NONE_MATCH).map(|v| TagList::parse(&v)),
            if_modified_since: http_date(headers, &IF_MODIFIED_SINCE),
        }
    }

    /// Evaluates the preconditions of a GET or HEAD against `doc` sent in `coding` — the
    /// coding the response would carry, as [`Document::etag_header`] chose it (RFC 9110
    /// §13.2.2).
    pub fn evaluate(&self, doc: &Document, coding: Coding) -> Outcome {
        if let Some(list) = &self.if_match {
            if !list.strong_match(doc, coding) {
                return Outcome::PreconditionFailed;
            }
        } else if let Some(since) = self.if_unmodified_since {
            if doc.last_modified > since {
                return Outcome::PreconditionFailed;
            }
        }
        if let Some(list) = &self.if_none_match {
            if list.weak_match(doc, coding) {
                return Outcome::NotModified;
            }
        } else if let Some(since) = self.if_modified_since {
            // Not modified since the given date: a time comparison, not a string match.
            if doc.last_modified <= since {
                return Outcome::NotModified;
            }
        }
        Outcome::Full
    }
}

/// Picks the content coding to send from `Accept-Encoding` (q-values, `*`, `identity`).
/// Among equally acceptable codings the server prefers br, then zstd, then gzip.
pub fn choose_coding(headers: &HeaderMap) -> Coding {
    let mut values = headers.get_all(ACCEPT_ENCODING).iter();
    match (values.next(), values.next()) {
        (None, _) => Coding::Identity,
        // The usual case: one field, read in place.
        (Some(v), None) => v.to_str().map_or(Coding::Identity, negotiate),
        _ => header_str(headers, &ACCEPT_ENCODING).map_or(Coding::Identity, |v| negotiate(&v)),
    }
}

/// The negotiation behind [`choose_coding`], on the header's text (no allocation: it runs on
/// every request).
pub fn negotiate(accept_encoding: &str) -> Coding {
    // q-values of br, zstd, gzip, identity and `*`, as listed (None = not listed).
    let mut q: [Option<f32>; 5] = [None; 5];
    for part in accept_encoding.split(',') {
        let mut pieces = part.split(';');
        let name = pieces.next().unwrap_or("").trim();
        let slot = if name.eq_ignore_ascii_case("br") {
            0
        } else if name.eq_ignore_ascii_case("zstd") {
            1
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            2
        } else if name.eq_ignore_ascii_case("identity") {
            3
        } else if name == "*" {
            4
        } else {
            continue;
        };
        let mut value = 1.0f32;
        for param in pieces {
            if let Some((k, v)) = param.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    value = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
        }
        q[slot] = Some(value);
    }
    let star = q[4];
    let mut best = Coding::Identity;
    let mut best_q = 0.0f32;
    for (i, coding) in [Coding::Brotli, Coding::Zstd, Coding::Gzip]
        .into_iter()
        .enumerate()
    {
        let qv = q[i].or(star).unwrap_or(0.0);
        if qv > best_q {
            best = coding;
            best_q = qv;
        }
    }
    // Identity the client did not rank (neither by name nor through `*`) is the fallback, not
    // a rival: a client that lists `gzip;q=0.5` wants gzip over the raw bytes.
    let identity_q = q[3].or(star).unwrap_or(0.0);
    if best_q > 0.0 && best_q >= identity_q {
        best
    } else {
        Coding::Identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::{Duration, UNIX_EPOCH};

    fn doc() -> Document {
        Document::new(
            "text/plain",
            Bytes::from_static(b"hello world"),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            None,
        )
    }

    fn pre(pairs: &[(&str, &str)]) -> Preconditions {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Preconditions::from_headers(&h)
    }

    #[test]
    fn if_none_match_forms() {
        let d = doc();
        let tag = d.identity.etag().to_owned();
        assert_eq!(
            pre(&[("if-none-match", &tag)]).evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-none-match", &format!("W/{tag}"))]).evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-none-match", &format!("\"a\", \"b,c\", {tag}"))])
                .evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-none-match", "*")]).evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-none-match", "\"nope\"")]).evaluate(&d, Coding::Identity),
            Outcome::Full
        );
        assert_eq!(
            pre(&[("if-none-match", "garbage")]).evaluate(&d, Coding::Identity),
            Outcome::Full
        );
        // Two header fields combine.
        assert_eq!(
            pre(&[("if-none-match", "\"x\""), ("if-none-match", &tag)])
                .evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
    }

    #[test]
    fn if_modified_since_is_a_time_comparison() {
        let d = doc();
        let lm = d.last_modified;
        let fmt = httpdate::fmt_http_date;
        assert_eq!(
            pre(&[("if-modified-since", &fmt(lm))]).evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-modified-since", &fmt(lm + Duration::from_secs(60)))])
                .evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-modified-since", &fmt(lm - Duration::from_secs(1)))])
                .evaluate(&d, Coding::Identity),
            Outcome::Full
        );
        // RFC 850 and asctime forms are dates too.
        assert_eq!(
            pre(&[("if-modified-since", "Sunday, 06-Nov-33 08:49:37 GMT")])
                .evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        // RFC 850 dates have a two-digit year; a four-digit one is not an HTTP-date.
        assert_eq!(
            pre(&[("if-modified-since", "Sunday, 06-Nov-2033 08:49:37 GMT")])
                .evaluate(&d, Coding::Identity),
            Outcome::Full
        );
        assert_eq!(
            pre(&[("if-modified-since", "Sun Nov  6 08:49:37 2033")])
                .evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
        assert_eq!(
            pre(&[("if-modified-since", "yesterday")]).evaluate(&d, Coding::Identity),
            Outcome::Full
        );
    }

    #[test]
    fn if_none_match_takes_precedence() {
        let d = doc();
        let future = httpdate::fmt_http_date(d.last_modified + Duration::from_secs(3600));
        assert_eq!(
            pre(&[
                ("if-none-match", "\"stale\""),
                ("if-modified-since", &future)
            ])
            .evaluate(&d, Coding::Identity),
            Outcome::Full
        );
        let past = httpdate::fmt_http_date(d.last_modified - Duration::from_secs(3600));
        assert_eq!(
            pre(&[
                ("if-none-match", d.identity.etag()),
                ("if-modified-since", &past)
            ])
            .evaluate(&d, Coding::Identity),
            Outcome::NotModified
        );
    }

    #[test]
    fn if_match_and_unmodified_since() {
        let d = doc();
        assert_eq!(
            pre(&[("if-match", "\"x\"")]).evaluate(&d, Coding::Identity),
            Outcome::PreconditionFailed
        );
        assert_eq!(
            pre(&[("if-match", d.identity.etag())]).evaluate(&d, Coding::Identity),
            Outcome::Full
        );
        assert_eq!(
            pre(&[("if-match", &format!("W/{}", d.identity.etag()))])
                .evaluate(&d, Coding::Identity),
            Outcome::PreconditionFailed
        );
        let past = httpdate::fmt_http_date(d.last_modified - Duration::from_secs(1));
        assert_eq!(
            pre(&[("if-unmodified-since", &past)]).evaluate(&d, Coding::Identity),
            Outcome::PreconditionFailed
        );
    }

    #[test]
    fn tags_compare_with_the_selected_representation() {
        let d = doc();
        let tag = |c| crate::store::etag_for(d.hash, c);
        let all = [Coding::Identity, Coding::Gzip, Coding::Brotli, Coding::Zstd];
        for sent in all {
            for tagged in all {
                let inm = pre(&[("if-none-match", &tag(tagged))]).evaluate(&d, sent);
                let im = pre(&[("if-match", &tag(tagged))]).evaluate(&d, sent);
                if sent == tagged {
                    assert_eq!(inm, Outcome::NotModified, "{tagged:?} tag, {sent:?} sent");
                    assert_eq!(im, Outcome::Full, "{tagged:?} tag, {sent:?} sent");
                } else {
                    assert_eq!(inm, Outcome::Full, "{tagged:?} tag, {sent:?} sent");
                    assert_eq!(
                        im,
                        Outcome::PreconditionFailed,
                        "{tagged:?} tag, {sent:?} sent"
                    );
                }
            }
            // `*` matches whatever is sent; a list matches when one member is the sent tag.
            assert_eq!(
                pre(&[("if-none-match", "*")]).evaluate(&d, sent),
                Outcome::NotModified
            );
            assert_eq!(pre(&[("if-match", "*")]).evaluate(&d, sent), Outcome::Full);
            let list = all.map(tag).join(", ");
            assert_eq!(
                pre(&[("if-none-match", &list)]).evaluate(&d, sent),
                Outcome::NotModified
            );
        }
    }

    #[test]
    fn accept_encoding() {
        assert_eq!(negotiate("gzip"), Coding::Gzip);
        assert_eq!(negotiate("gzip, deflate, br, zstd"), Coding::Brotli);
        assert_eq!(negotiate("gzip;q=0"), Coding::Identity);
        assert_eq!(negotiate("gzip;q=0.5, br;q=0.4"), Coding::Gzip);
        assert_eq!(negotiate("*"), Coding::Brotli);
        assert_eq!(negotiate("*;q=0.5, br;q=0"), Coding::Zstd);
        assert_eq!(negotiate("identity"), Coding::Identity);
        assert_eq!(negotiate("gzip;q=0.5, identity;q=1"), Coding::Identity);
        assert_eq!(negotiate("x-gzip"), Coding::Gzip);
        assert_eq!(negotiate("GZIP;Q=1"), Coding::Gzip);
        assert_eq!(negotiate("deflate"), Coding::Identity);
        assert_eq!(negotiate("gzip;q=abc"), Coding::Identity);
        assert_eq!(negotiate(""), Coding::Identity);
    }
}
