//! Surrogate keys: which scopes a response's bytes come from, so a shared cache can drop every
//! URL of a scope at once.
//!
//! Sent as `Surrogate-Key: all <key>` (Fastly's header; space-separated tokens, as Varnish's
//! `xkey` reads them too). Each document has exactly one key of its own:
//!
//! | documents | key |
//! | --- | --- |
//! | `/rss.xml`, `/atom.xml`, `/feed.json`, their archive pages and browser views, the index, `/feeds.opml` | `site` |
//! | a category's feeds, archive pages, views and page | `category:{slug}` |
//! | a tag's feeds, archive pages, views and page | `tag:{slug}` |
//! | a post's page | `post:{path}` (`post:/2024/01/02/hello/`) |
//! | a post asset | `asset:{path}` |
//!
//! and every one also carries `all`, so one ban empties the cache of the site (`serve` sends
//! it once it has built, since anything may have changed while it was down). A post page is
//! its post's only: its bytes come from that post alone, so an edit elsewhere in a tag never
//! drops it.
//!
//! A token is made of `A-Z a-z 0-9 _ - / : %` only: the slug or path is percent-encoded
//! (UTF-8), `.` included, so a ban regex built by joining tokens with `|` matches them exactly
//! and a token can never be a regex (`deploy/varnish.vcl` refuses any other byte).

use std::borrow::Cow;

use hyper::header::{HeaderName, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::feed::{paging, INDEX_ROUTE, OPML_ROUTE};
use crate::site::{Scope, TermKind};

/// The response header naming a document's keys, and the `BAN` request header naming those
/// to drop.
pub const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// Every document's key: one ban of it empties the cache of the site.
pub const ALL: &str = "all";
/// The key of the documents of all posts.
pub const SITE: &str = "site";

/// Bytes kept as they are in a token's slug or path: the rest is percent-encoded.
const TOKEN: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'/');

/// Whether `token` is made only of the bytes a key may hold (the check the VCL makes).
#[cfg(test)]
fn is_token(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':' | b'%'))
}

/// The key of a scope's documents: `site`, `category:{slug}`, `tag:{slug}`.
pub fn scope_key(scope: &Scope) -> Cow<'static, str> {
    match scope {
        Scope::All => Cow::Borrowed(SITE),
        Scope::Term(kind, slug) => {
            let kind = match kind {
                TermKind::Category => "category",
                TermKind::Tag => "tag",
            };
            Cow::Owned(format!("{kind}:{}", utf8_percent_encode(slug, TOKEN)))
        }
    }
}

/// The key of the post page at `route` (`/2024/01/02/hello/index.html` → `post:/2024/01/02/hello/`).
pub fn page_key(route: &str) -> String {
    let path = route.strip_suffix("index.html").unwrap_or(route);
    format!("post:{}", utf8_percent_encode(path, TOKEN))
}

/// The key of the asset at `route`.
pub fn asset_key(route: &str) -> String {
    format!("asset:{}", utf8_percent_encode(route, TOKEN))
}

/// The key of the document at `route` when its route says (feeds, archive pages, views, the
/// index, the OPML list, term pages); `None` for any other route (a post page or an asset,
/// which only the store can tell apart).
pub fn route_key(route: &str) -> Option<Cow<'static, str>> {
    if route == INDEX_ROUTE || route == OPML_ROUTE {
        return Some(Cow::Borrowed(SITE));
    }
    if let Some((scope, _, _)) = paging::parse_feed_route(route) {
        return Some(scope_key(&scope));
    }
    let dir = route.strip_suffix("/index.html")?;
    match paging::scope_of_dir(dir)? {
        term @ Scope::Term(..) => Some(scope_key(&term)),
        Scope::All => None,
    }
}

/// The `Surrogate-Key` value of a response for a document whose key is `key`: `all site`
/// without allocating for the site's own documents, `all {key}` for the others.
pub fn value(key: &str) -> HeaderValue {
    if key == SITE {
        return HeaderValue::from_static("all site");
    }
    // One allocation, handed over to the header without a copy (this runs per response).
    let mut value = String::with_capacity(ALL.len() + 1 + key.len());
    value.push_str(ALL);
    value.push(' ');
    value.push_str(key);
    // Tokens are ASCII (see [`TOKEN`]): always a valid header value.
    HeaderValue::from_maybe_shared(bytes::Bytes::from(value))
        .unwrap_or_else(|_| HeaderValue::from_static(ALL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum Kind {
        Site,
        Page,
        Asset,
    }

    /// The header of the document at `route`, as the server picks its key.
    fn h(route: &str, kind: Kind) -> String {
        let key = match kind {
            Kind::Site => route_key(route).map_or_else(|| page_key(route), Cow::into_owned),
            Kind::Page => page_key(route),
            Kind::Asset => asset_key(route),
        };
        value(&key).to_str().unwrap().to_owned()
    }

    #[test]
    fn site_documents_share_the_site_key() {
        for route in [
            "/rss.xml",
            "/atom.xml",
            "/feed.json",
            "/archive/3/atom.xml",
            "/index.html",
            "/feeds.opml",
        ] {
            assert_eq!(h(route, Kind::Site), "all site", "{route}");
        }
    }

    #[test]
    fn term_documents_carry_their_term() {
        for route in [
            "/tags/rust/rss.xml",
            "/tags/rust/feed.json",
            "/tags/rust/archive/1/atom.xml",
            "/tags/rust/index.html",
        ] {
            assert_eq!(h(route, Kind::Site), "all tag:rust", "{route}");
        }
        assert_eq!(
            h("/categories/news/atom.xml", Kind::Site),
            "all category:news"
        );
        // Unicode slugs are percent-encoded, as in their URLs.
        assert_eq!(
            h("/tags/厦门/rss.xml", Kind::Site),
            "all tag:%E5%8E%A6%E9%97%A8"
        );
    }

    #[test]
    fn pages_and_assets_are_keyed_by_path_without_regex_bytes() {
        assert_eq!(
            h("/2024/01/02/hello/index.html", Kind::Page),
            "all post:/2024/01/02/hello/"
        );
        assert_eq!(
            h("/2024/01/02/hello.html", Kind::Page),
            "all post:/2024/01/02/hello%2Ehtml"
        );
        assert_eq!(
            h("/img/a (1).png", Kind::Asset),
            "all asset:/img/a%20%281%29%2Epng"
        );
        // A route that names no scope falls back to its page's key.
        assert_eq!(h("/about/index.html", Kind::Site), "all post:/about/");
        for token in h("/x*y+z?.[a]|b.png", Kind::Asset).split(' ') {
            assert!(is_token(token), "{token}");
        }
    }

    #[test]
    fn route_keys_match_scope_keys() {
        let tag = Scope::Term(TermKind::Tag, "c++".into());
        assert_eq!(scope_key(&tag), "tag:c%2B%2B");
        for format in crate::config::Format::ALL {
            let route = crate::feed::route(&tag, format);
            assert_eq!(route_key(&route), Some(scope_key(&tag)), "{route}");
        }
        assert_eq!(
            route_key(&crate::feed::scope_page_route(&tag)),
            Some(scope_key(&tag))
        );
        assert_eq!(route_key("/2024/01/02/hello/index.html"), None);
        assert!(!is_token("a.b"));
        assert!(!is_token(""));
    }
}
