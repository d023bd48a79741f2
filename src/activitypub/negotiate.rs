//! Which representation a request for a post's page or an actor's address gets: ActivityPub
//! JSON (what a Fediverse server fetches) or HTML (what a browser navigates to). Both live at
//! one URL, so that pasting a post's address into Mastodon's search finds it.
//!
//! ActivityPub asks with `Accept: application/activity+json` or
//! `application/ld+json; profile="https://www.w3.org/ns/activitystreams"` (Mastodon sends both,
//! Fedify both without the profile). Only a range that names one of them counts — `*/*` is
//! not a request for JSON-LD — and it must weigh at least as much as `text/html`.

use hyper::header::{HeaderMap, ACCEPT};

use crate::accept::{best, ranges, Range};

/// The profile that makes `application/ld+json` ActivityStreams.
pub const AS_PROFILE: &str = "https://www.w3.org/ns/activitystreams";

/// Headers a response on an address with both representations varies on.
pub const VARY: &str = "Accept, Accept-Encoding";

/// What the `Accept` fields of a request ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants {
    /// ActivityPub JSON.
    Activity,
    /// HTML, named outright (a browser).
    Html,
    /// Neither named (`*/*`, no `Accept`, something else).
    Other,
}

/// What `headers` ask for (several `Accept` fields are read as one list).
pub fn wants(headers: &HeaderMap) -> Wants {
    let values: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let accept = values.join(",");
    let ranges = ranges(&accept);
    let named = |r: &Range<'_>| r.kind != "*" && r.sub != "*";
    let activity = [
        best(&ranges, "application", "activity+json", named),
        best(&ranges, "application", "ld+json", |r| {
            named(r)
                && r.param("profile")
                    .is_none_or(|p| p.split_whitespace().any(|p| p == AS_PROFILE))
        }),
    ]
    .into_iter()
    .flatten()
    .map(|(_, q)| q)
    .fold(0.0, f32::max);
    let html = best(&ranges, "text", "html", |_| true);
    let html_named = best(&ranges, "text", "html", named).is_some_and(|(_, q)| q > 0.0);
    let html_q = html.map_or(0.0, |(_, q)| q);
    if activity > 0.0 && activity >= html_q {
        Wants::Activity
    } else if html_named {
        Wants::Html
    } else {
        Wants::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn asks(values: &[&'static str]) -> Wants {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ACCEPT, HeaderValue::from_static(v));
        }
        wants(&h)
    }

    #[test]
    fn fediverse_servers_get_activity_json() {
        for accept in [
            "application/activity+json",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            // Mastodon
            "application/activity+json, application/ld+json; \
             profile=\"https://www.w3.org/ns/activitystreams\", text/html;q=0.1",
            // Fedify
            "application/activity+json, application/ld+json",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams https://example.com/x\"",
            "text/html, application/activity+json",
        ] {
            assert_eq!(asks(&[accept]), Wants::Activity, "{accept}");
        }
        assert_eq!(
            asks(&["text/html;q=0.5", "application/activity+json"]),
            Wants::Activity
        );
    }

    #[test]
    fn browsers_and_others_do_not() {
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(asks(&[firefox]), Wants::Html);
        assert_eq!(asks(&["*/*"]), Wants::Other);
        assert_eq!(asks(&[]), Wants::Other);
        assert_eq!(asks(&["application/json"]), Wants::Other);
        assert_eq!(asks(&["application/*"]), Wants::Other);
        assert_eq!(
            asks(&["application/ld+json; profile=\"http://www.w3.org/ns/json-ld#compacted\""]),
            Wants::Other
        );
        assert_eq!(asks(&["application/activity+json;q=0"]), Wants::Other);
        assert_eq!(
            asks(&["text/html, application/activity+json;q=0.5"]),
            Wants::Html
        );
    }
}
