//! Tells a person's browser, navigating to a feed's address, from everything else that asks
//! for it — feed readers, curl, wget, a WebSub subscriber, a script's `fetch()`. The first
//! gets the feed's browser view (`feed/view.rs`), all others the feed's bytes.
//!
//! A browser says it is navigating with the fetch metadata headers (`Sec-Fetch-Dest: document`,
//! `Sec-Fetch-Mode: navigate`; sent by every current browser to HTTPS and loopback origins) and
//! with an `Accept` that ranks `text/html` first. Both must agree: fetch metadata that names
//! anything but a top-level navigation means the feed, and so does an `Accept` that does not
//! prefer HTML to the feed's own types — `*/*`, no `Accept`, or a reader's list of feed types.
//! Over plain HTTP to another host browsers send no fetch metadata; then `Accept` decides.

use hyper::header::{HeaderMap, HeaderName, ACCEPT};

use crate::accept::quality;
use crate::config::Format;

/// Headers a response on a feed's address varies on: a shared cache must not hand the browser
/// view to a reader, nor the feed to a browser.
pub const FEED_VARY: &str = "Accept, Sec-Fetch-Dest, Sec-Fetch-Mode, Accept-Encoding";

const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");
const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// Whether a request for the feed in `format` is a browser's navigation to it.
pub fn wants_view(headers: &HeaderMap, format: Format) -> bool {
    let is = |name: &HeaderName, want: &str| {
        headers
            .get(name)
            .is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(want.as_bytes()))
    };
    if !is(&SEC_FETCH_DEST, "document") || !is(&SEC_FETCH_MODE, "navigate") {
        return false;
    }
    let mut accept = headers.get_all(ACCEPT).iter();
    match (accept.next(), accept.next()) {
        (Some(value), None) => value.to_str().is_ok_and(|v| prefers_html(v, format)),
        // No `Accept` (any type will do), or several fields: not a browser.
        _ => false,
    }
}

/// Whether `accept` ranks `text/html` above every type the feed in `format` could be served
/// as (its own type and the generic XML or JSON ones).
pub fn prefers_html(accept: &str, format: Format) -> bool {
    let html = quality(accept, "text", "html");
    let generic: &[(&str, &str)] = match format {
        Format::Json => &[("application", "json")],
        Format::Rss | Format::Atom => &[("application", "xml"), ("text", "xml")],
    };
    let (kind, sub) = format
        .mime()
        .split_once('/')
        .unwrap_or(("application", "xml"));
    let feed = generic
        .iter()
        .map(|(t, s)| quality(accept, t, s))
        .fold(quality(accept, kind, sub), f32::max);
    html > 0.0 && html > feed
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
        image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
    const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const SAFARI: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    const FEEDPARSER: &str = "application/atom+xml,application/rdf+xml,application/rss+xml,\
        application/x-netcdf,application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn browsers_navigating_get_the_view() {
        for accept in [CHROME, FIREFOX, SAFARI] {
            for format in Format::ALL {
                let nav = headers(&[
                    ("accept", accept),
                    ("sec-fetch-dest", "document"),
                    ("sec-fetch-mode", "navigate"),
                ]);
                assert!(wants_view(&nav, format), "{accept} {format:?}");
                // Plain HTTP to another host: no fetch metadata, Accept decides.
                assert!(wants_view(&headers(&[("accept", accept)]), format));
            }
        }
    }

    #[test]
    fn everything_else_gets_the_feed() {
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("accept", "*/*")],
            &[("accept", FEEDPARSER)],
            &[("accept", "application/rss+xml, text/html;q=0.5")],
            &[("accept", "text/html;q=0.9, application/xml")],
            &[("accept", "text/html;q=0")],
            &[("accept", "application/*, text/html;q=0.9")],
            &[("accept", "text/*;q=0.5, */*")],
            // A script's fetch(), an image, an iframe: not a top-level navigation.
            &[("accept", FIREFOX), ("sec-fetch-mode", "cors")],
            &[("accept", FIREFOX), ("sec-fetch-dest", "empty")],
            &[("accept", FIREFOX), ("sec-fetch-dest", "iframe")],
            // Two Accept fields: not what a browser sends.
            &[("accept", "text/html"), ("accept", "application/rss+xml")],
        ];
        for case in cases {
            let h = headers(case);
            assert!(!wants_view(&h, Format::Rss), "{case:?}");
        }
    }

    #[test]
    fn the_feed_types_compare_by_format() {
        // JSON Feed competes with JSON, not XML.
        let accept = "text/html;q=0.8, application/json;q=0.9, application/xml";
        assert!(!prefers_html(accept, Format::Json));
        assert!(!prefers_html(accept, Format::Atom));
        let accept = "text/html;q=0.8, application/xml;q=0.5";
        assert!(prefers_html(accept, Format::Json));
        assert!(prefers_html(accept, Format::Rss));
        // (How a list of ranges weighs one type is `accept::quality`'s, tested there.)
    }
}
