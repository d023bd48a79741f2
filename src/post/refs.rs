//! Relative references in a post body that name a file beside the post (a post asset).
//!
//! An author writes `![](images/pipeline.png)` in `posts/2024-02-10-getting-started.md` because
//! `posts/images/pipeline.png` is there: their editor's preview and GitHub's show the image, and
//! Hugo's page bundles (`posts/trip/index.md` beside `posts/trip/map.jpg`) work the same way.
//! Resolved against the post's URL (`/2024/02/10/getting-started.html`), as SPEC §2 says of
//! relative links, that reference would name `/2024/02/10/images/pipeline.png`: nothing. So a
//! relative reference — no scheme, not `/…` or `//…`, not `#…` — that, resolved against the
//! directory of the post's *source file*, names an asset becomes that asset's URL (the site URL
//! plus the asset's path under `posts/`). Everything else resolves against the post's URL as
//! before. Root-relative references (`/images/x.png`) already resolve against the site URL,
//! which is where the asset is too.
//!
//! Every such lookup is recorded on the post (hits and misses alike), so that when an asset
//! appears or goes while serving, exactly the posts that referred to it are read again.

use std::cell::RefCell;
use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use url::Url;

use super::body;
use crate::slug::encode_path;

/// The assets a post body may refer to: their paths under `posts/` (`images/x.png`, `/`
/// between segments) and sizes (an enclosure's true `length`). Empty when the caller has none
/// (`check`, the fuzz harness): every relative reference then resolves against the post's URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetSet(HashMap<String, u64>);

impl AssetSet {
    /// Whether `key` (a path under `posts/`) is an asset.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The size in bytes of the asset `key`, if it is one.
    pub fn len_of(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Keys alone (sizes unknown: 0), for callers that only resolve references.
impl FromIterator<String> for AssetSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        AssetSet(iter.into_iter().map(|k| (k, 0)).collect())
    }
}

impl FromIterator<(String, u64)> for AssetSet {
    fn from_iter<I: IntoIterator<Item = (String, u64)>>(iter: I) -> Self {
        AssetSet(iter.into_iter().collect())
    }
}

/// Makes the URLs of one post absolute: relative references to assets become the asset's URL,
/// everything else is resolved against the post's URL ([`body::absolute_url`]).
pub struct Resolver<'a> {
    /// The post's URL.
    base: &'a Url,
    /// The site URL without its trailing `/`, which an asset's path is appended to.
    site: &'a str,
    /// The directories of the post's source file under `posts/`, outermost first.
    dir: Vec<String>,
    assets: &'a AssetSet,
    /// Asset keys looked up so far, in order, without repeats.
    looked_up: RefCell<Vec<String>>,
}

impl<'a> Resolver<'a> {
    /// A resolver for the post whose source is `source` (its path under `posts/`, `/`- or
    /// platform-separated) and whose URL is `base`, on the site at `site`.
    pub fn new(
        base: &'a Url,
        site: &'a Url,
        source: &std::path::Path,
        assets: &'a AssetSet,
    ) -> Resolver<'a> {
        let mut dir: Vec<String> = source
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        dir.pop();
        Resolver {
            base,
            site: site.as_str().trim_end_matches('/'),
            dir,
            assets,
            looked_up: RefCell::default(),
        }
    }

    /// A resolver with no assets: every reference resolves against `base` (SPEC §2).
    #[cfg(test)]
    pub fn plain(base: &'a Url) -> Resolver<'a> {
        static NONE: std::sync::LazyLock<AssetSet> = std::sync::LazyLock::new(AssetSet::default);
        Resolver {
            base,
            site: "",
            dir: Vec::new(),
            assets: &NONE,
            looked_up: RefCell::default(),
        }
    }

    /// The absolute URL of one reference.
    pub fn url(&self, value: &str) -> String {
        if let Some(url) = self.asset_url(value.trim()) {
            return url;
        }
        body::absolute_url(value, self.base)
    }

    /// Each URL of a `srcset` list (`url [descriptor], …`) made absolute by [`Resolver::url`].
    pub fn srcset(&self, value: &str) -> String {
        srcset_candidates(value)
            .into_iter()
            .map(|(url, descriptors)| match descriptors {
                "" => self.url(url),
                d => format!("{} {d}", self.url(url)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The asset an absolute URL names — one under the site URL whose path is an asset's —
    /// as its key and size (the lookup is recorded either way, so the post is read again
    /// when the file comes or goes).
    pub fn asset_at(&self, url: &str) -> Option<(String, u64)> {
        if self.site.is_empty() {
            return None;
        }
        let rest = url.strip_prefix(self.site)?.strip_prefix('/')?;
        let path = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        let key = asset_key(&[], path)?;
        let len = self.assets.len_of(&key);
        let mut seen = self.looked_up.borrow_mut();
        if !seen.contains(&key) {
            seen.push(key.clone());
        }
        len.map(|len| (key, len))
    }

    /// The asset keys looked up, hits and misses, in the order first met.
    pub fn into_looked_up(self) -> Vec<String> {
        self.looked_up.into_inner()
    }

    /// The asset URL `v` names, if it is a relative reference to an asset (the lookup is
    /// recorded either way).
    fn asset_url(&self, v: &str) -> Option<String> {
        if self.site.is_empty() || !is_relative_path_reference(v) {
            return None;
        }
        let end = v.find(['?', '#']).unwrap_or(v.len());
        let (path, suffix) = v.split_at(end);
        let key = asset_key(&self.dir, path)?;
        let hit = self.assets.contains(&key);
        let url = hit.then(|| format!("{}{}{suffix}", self.site, encode_path(&format!("/{key}"))));
        let mut seen = self.looked_up.borrow_mut();
        if !seen.contains(&key) {
            seen.push(key);
        }
        url
    }
}

/// A `srcset`'s candidates as `(url, descriptors)`, split as HTML's "parse a srcset attribute"
/// algorithm splits them, not on every comma: a URL is a run of non-whitespace that may hold
/// commas (`data:image/png;base64,…`, `?w=1,2`), and its descriptors run to the next comma
/// outside parentheses. Splitting on commas cut such a URL in two and resolved the tail as a
/// relative reference.
fn srcset_candidates(value: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (url, after) = rest.split_at(end);
        if url.ends_with(',') {
            // `a.png,b.png 2x`: the commas at the end of a URL end the candidate.
            out.push((url.trim_end_matches(','), ""));
            rest = after;
            continue;
        }
        let mut depth = 0usize;
        let cut = after
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ',' => return depth == 0,
                    _ => {}
                }
                false
            })
            .map_or(after.len(), |(i, _)| i);
        out.push((url, after[..cut].trim()));
        rest = &after[cut..];
    }
}

/// A relative-path reference (RFC 3986 §4.2): not empty, no scheme, not `/…` (root- or
/// protocol-relative), not `#…` or `?…` (the post itself).
fn is_relative_path_reference(v: &str) -> bool {
    !v.is_empty() && !v.starts_with(['/', '#', '?', '\\']) && !body::has_scheme(v)
}

/// The path under `posts/` that the reference path `path` (percent-encoded, relative) names
/// from the directory `dir`; `None` when it leaves `posts/`, names a directory, or cannot be a
/// file name (not UTF-8 once decoded, or holding a backslash or NUL).
pub fn asset_key(dir: &[String], path: &str) -> Option<String> {
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    if decoded.contains(['\\', '\0']) || decoded.ends_with('/') {
        return None;
    }
    let mut segments: Vec<&str> = dir.iter().map(String::as_str).collect();
    let mut last_is_file = false;
    for seg in decoded.split('/') {
        last_is_file = false;
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            name => {
                segments.push(name);
                last_is_file = true;
            }
        }
    }
    (last_is_file && !segments.is_empty()).then(|| segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn set(keys: &[&str]) -> AssetSet {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn srcset_candidates_as_html_splits_them() {
        assert_eq!(
            srcset_candidates(" a.jpg 1x,/b.jpg  2x ,, c.jpg"),
            [("a.jpg", "1x"), ("/b.jpg", "2x"), ("c.jpg", "")]
        );
        // Commas inside a URL belong to it; trailing ones end the candidate.
        assert_eq!(
            srcset_candidates("data:image/png;base64,AAAA 1x, x.png?w=1,2 2x"),
            [("data:image/png;base64,AAAA", "1x"), ("x.png?w=1,2", "2x")]
        );
        assert_eq!(
            srcset_candidates("a.png, b.png, c.png 2x"),
            [("a.png", ""), ("b.png", ""), ("c.png", "2x")]
        );
        // As a browser reads it: no whitespace after the comma, one URL.
        assert_eq!(srcset_candidates("b.png,c.png 2x"), [("b.png,c.png", "2x")]);
        assert_eq!(srcset_candidates("   "), []);
        let base = Url::parse("https://site.example/p/post.html").unwrap();
        assert_eq!(
            Resolver::plain(&base).srcset("data:image/gif;base64,R0lG 1x, b.png 2x"),
            "data:image/gif;base64,R0lG 1x, https://site.example/p/b.png 2x"
        );
    }

    #[test]
    fn keys_resolve_against_the_source_directory() {
        let dir = |d: &[&str]| d.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            asset_key(&dir(&[]), "images/p.png").as_deref(),
            Some("images/p.png")
        );
        assert_eq!(
            asset_key(&dir(&["trip"]), "./map.jpg").as_deref(),
            Some("trip/map.jpg")
        );
        assert_eq!(
            asset_key(&dir(&["2024", "trip"]), "../shared/a%20b.png").as_deref(),
            Some("2024/shared/a b.png")
        );
        assert_eq!(
            asset_key(&dir(&["a"]), "%E5%9B%BE.png").as_deref(),
            Some("a/图.png")
        );
        // Leaving posts/, a directory, an undecodable or impossible name: no asset.
        assert_eq!(asset_key(&dir(&[]), "../x.png"), None);
        assert_eq!(asset_key(&dir(&["a"]), "../../x.png"), None);
        assert_eq!(asset_key(&dir(&[]), "images/"), None);
        assert_eq!(asset_key(&dir(&["a"]), ".."), None);
        assert_eq!(asset_key(&dir(&[]), "%FF.png"), None);
        assert_eq!(asset_key(&dir(&[]), "a%5Cb.png"), None);
        assert_eq!(asset_key(&dir(&[]), "a%00b.png"), None);
    }

    #[test]
    fn relative_references_to_assets_become_asset_urls() {
        let site = Url::parse("https://site.example/blog/").unwrap();
        let base = Url::parse("https://site.example/blog/news/2024/02/10/post.html").unwrap();
        let assets = set(&["images/p.png", "trip/map.jpg", "a b.png"]);
        let r = Resolver::new(&base, &site, Path::new("2024-02-10-post.md"), &assets);
        assert_eq!(
            r.url("images/p.png"),
            "https://site.example/blog/images/p.png"
        );
        assert_eq!(
            r.url(" ./images/p.png?v=2#top "),
            "https://site.example/blog/images/p.png?v=2#top"
        );
        assert_eq!(r.url("a%20b.png"), "https://site.example/blog/a%20b.png");
        // A miss resolves against the post's URL, as SPEC §2 says.
        assert_eq!(
            r.url("missing.png"),
            "https://site.example/blog/news/2024/02/10/missing.png"
        );
        // Root-relative, protocol-relative, fragments (against the post's URL), schemes: as
        // before, not looked up.
        assert_eq!(r.url("/images/p.png"), "https://site.example/images/p.png");
        assert_eq!(r.url("//cdn.example/x.png"), "https://cdn.example/x.png");
        assert_eq!(
            r.url("#fn1"),
            "https://site.example/blog/news/2024/02/10/post.html#fn1"
        );
        assert_eq!(r.url("mailto:a@b"), "mailto:a@b");
        assert_eq!(
            r.srcset("images/p.png 1x, other.png 2x"),
            "https://site.example/blog/images/p.png 1x, https://site.example/blog/news/2024/02/10/other.png 2x"
        );
        assert_eq!(
            r.into_looked_up(),
            ["images/p.png", "a b.png", "missing.png", "other.png"]
        );
        // From a page bundle's directory.
        let r = Resolver::new(&base, &site, Path::new("trip/index.md"), &assets);
        assert_eq!(r.url("map.jpg"), "https://site.example/blog/trip/map.jpg");
        assert_eq!(
            r.url("../images/p.png"),
            "https://site.example/blog/images/p.png"
        );
        assert_eq!(
            r.url("../../outside.png"),
            "https://site.example/blog/news/2024/outside.png"
        );
        assert_eq!(r.into_looked_up(), ["trip/map.jpg", "images/p.png"]);
    }

    #[test]
    fn a_plain_resolver_looks_nothing_up() {
        let base = Url::parse("https://site.example/a/b.html").unwrap();
        let r = Resolver::plain(&base);
        assert_eq!(r.url("x.png"), "https://site.example/a/x.png");
        assert!(r.into_looked_up().is_empty());
    }

    #[test]
    fn a_post_links_its_assets_and_records_its_lookups() {
        use crate::post::{body::Markup, parse_post};
        let config = crate::config::Config::default_for_test(Path::new("p"), Path::new("o"));
        let ctx = crate::post::ParseContext {
            assets: std::sync::Arc::new(set(&["images/p.png", "2024/cover.jpg"])),
            ..config.parse_context()
        };
        let md = "---\ntitle: T\ndate: 2024-02-10\nimage: cover.jpg\n---\n![d](../images/p.png) [x](gone.pdf)\n";
        let post = parse_post(
            Path::new("2024/t.md"),
            md.as_bytes(),
            Markup::Markdown,
            &ctx,
        )
        .unwrap();
        let html = post.content_html.get().into_owned();
        assert!(
            html.contains(r#"src="https://example.com/images/p.png""#),
            "{html}"
        );
        assert!(
            html.contains(r#"href="https://example.com/2024/02/10/gone.pdf""#),
            "{html}"
        );
        assert_eq!(
            post.image.as_deref(),
            Some("https://example.com/2024/cover.jpg")
        );
        assert_eq!(
            &*post.asset_refs,
            ["images/p.png", "2024/gone.pdf", "2024/cover.jpg"]
        );
        let page = "---\ntitle: H\ndate: 2024-02-10\n---\n<img data-src=\"../images/p.png\">\n";
        let post = parse_post(
            Path::new("2024/h.html"),
            page.as_bytes(),
            Markup::Html,
            &ctx,
        )
        .unwrap();
        let html = post.content_html.get().into_owned();
        assert!(
            html.contains(r#"src="https://example.com/images/p.png""#),
            "{html}"
        );
        assert_eq!(&*post.asset_refs, ["images/p.png"]);
    }
}
