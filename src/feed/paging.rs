//! RFC 5005 archived feeds: where the posts beyond a feed's `limit` go.
//!
//! The subscription document holds the newest `limit` posts, as without archives. The posts
//! older than those are cut into archive pages of a fixed size counted from the oldest post, so
//! a page's set of posts changes only when an older post is edited or removed — never because
//! a new one arrived. Only complete pages are archives, so the newest page may also hold a few
//! of the posts the subscription document lists (fewer than a page):
//!
//! ```text
//! oldest                                                              newest
//! [ page 1 ][ page 2 ] … [ page c ]
//!                          [  subscription document: newest `limit`  ]
//! ```
//!
//! A reader following `prev-archive` from the subscription document (`next_url` in JSON Feed)
//! reaches every post of the scope; an entry met twice is the same entry (same id), which RFC
//! 5005 §4.2 consumers merge.

use crate::config::Format;
use crate::site::{Scope, TermKind};

/// The URL segment archive pages live under, inside a scope's directory.
pub const SEGMENT: &str = "archive";

/// The XML namespace of `fh:archive` (RFC 5005 §4).
pub const FH_NAMESPACE: &str = "http://purl.org/syndication/history/1.0";

/// How one scope's posts split into the subscription document and archive pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Posts in the scope.
    pub posts: usize,
    /// Posts per archive page (0 when there are no archives).
    pub page_size: usize,
    /// Number of archive pages.
    pub pages: usize,
}

impl Paging {
    /// The paging of a scope of `posts` posts, for feeds of at most `limit` items (0 = all)
    /// and archive pages of `page_size` posts (`None` = no archives; otherwise 1..=limit).
    pub fn new(posts: usize, limit: usize, page_size: Option<usize>) -> Paging {
        let pages = match page_size {
            Some(p) if p > 0 && limit > 0 && posts > limit => (posts - limit).div_ceil(p),
            _ => 0,
        };
        Paging {
            posts,
            page_size: if pages > 0 { page_size.unwrap_or(0) } else { 0 },
            pages,
        }
    }

    /// How many of the newest posts the subscription document lists, given `limit`: the
    /// newest `limit` (all with 0), archives or not.
    pub fn current_len(&self, limit: usize) -> usize {
        if limit == 0 {
            self.posts
        } else {
            self.posts.min(limit)
        }
    }

    /// Archive page `page` (1 = oldest) as (posts to skip from the oldest, posts to take);
    /// `None` if there is no such page.
    pub fn page(&self, page: usize) -> Option<(usize, usize)> {
        (1..=self.pages)
            .contains(&page)
            .then(|| ((page - 1) * self.page_size, self.page_size))
    }
}

/// The route of archive page `page` of `scope` in `format`: `/archive/3/atom.xml`,
/// `/tags/{slug}/archive/1/feed.json`.
pub fn route(scope: &Scope, page: usize, format: Format) -> String {
    format!("{}/{SEGMENT}/{page}/{}", scope.dir(), format.file_name())
}

/// Reads an archive route back: (scope, page, format). Page numbers are plain decimal
/// without leading zeros, so every page has exactly one route.
pub fn parse_route(route: &str) -> Option<(Scope, usize, Format)> {
    let (rest, file) = route.rsplit_once('/')?;
    let format = Format::ALL.into_iter().find(|f| f.file_name() == file)?;
    let (rest, number) = rest.rsplit_once('/')?;
    if number.is_empty()
        || number.len() > 9
        || number.starts_with('0')
        || !number.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let page: usize = number.parse().ok()?;
    let dir = rest.strip_suffix(SEGMENT)?.strip_suffix('/')?;
    Some((scope_of_dir(dir)?, page, format))
}

/// Reads a feed route back, a subscription document's or an archive page's: (scope, archive
/// page if it is one, format).
pub fn parse_feed_route(route: &str) -> Option<(Scope, Option<usize>, Format)> {
    if let Some((scope, page, format)) = parse_route(route) {
        return Some((scope, Some(page), format));
    }
    let (dir, file) = route.rsplit_once('/')?;
    let format = Format::ALL.into_iter().find(|f| f.file_name() == file)?;
    Some((scope_of_dir(dir)?, None, format))
}

/// The scope whose documents live in `dir` (`""`, `/categories/{slug}`, `/tags/{slug}`).
pub fn scope_of_dir(dir: &str) -> Option<Scope> {
    if dir.is_empty() {
        return Some(Scope::All);
    }
    let (kind, slug) = dir.strip_prefix('/')?.split_once('/')?;
    let kind = match kind {
        "categories" => TermKind::Category,
        "tags" => TermKind::Tag,
        _ => return None,
    };
    if slug.is_empty() || slug.contains('/') {
        return None;
    }
    Some(Scope::Term(kind, slug.to_owned()))
}

/// Whether a route could name an archive page (a cheap test before [`parse_route`]).
pub fn looks_like_archive(route: &str) -> bool {
    route.contains("/archive/")
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_routes_read_back() {
        let tag = Scope::Term(TermKind::Tag, "rust".into());
        for scope in [Scope::All, tag.clone()] {
            for format in Format::ALL {
                let current = crate::feed::route(&scope, format);
                assert_eq!(
                    parse_feed_route(&current),
                    Some((scope.clone(), None, format))
                );
                let page = route(&scope, 3, format);
                assert_eq!(
                    parse_feed_route(&page),
                    Some((scope.clone(), Some(3), format))
                );
            }
        }
        for not_a_feed in [
            "/index.html",
            "/feeds.opml",
            "/notes/rss.xml",
            "/tags/rss.xml",
            "/tags/a/b/rss.xml",
            "/rss.xml.gz",
            "rss.xml",
        ] {
            assert_eq!(parse_feed_route(not_a_feed), None, "{not_a_feed}");
        }
    }

    #[test]
    fn pages_hold_what_the_subscription_document_does_not() {
        // Fewer posts than the limit: no archives.
        let p = Paging::new(50, 50, Some(25));
        assert_eq!((p.pages, p.current_len(50)), (0, 50));
        // One more: the oldest post is beyond the feed, so the oldest 25 make a page; the
        // feed still lists the newest 50 (24 of them also on the page).
        let p = Paging::new(51, 50, Some(25));
        assert_eq!((p.pages, p.current_len(50)), (1, 50));
        assert_eq!(p.page(1), Some((0, 25)));
        assert_eq!(p.page(2), None);
        assert_eq!(p.page(0), None);
        // Up to 75 posts, the same single page; then a second.
        let p = Paging::new(75, 50, Some(25));
        assert_eq!((p.pages, p.current_len(50)), (1, 50));
        let p = Paging::new(76, 50, Some(25));
        assert_eq!((p.pages, p.current_len(50)), (2, 50));
        assert_eq!(p.page(2), Some((25, 25)));
        // The feed holds the newest min(limit, posts); pages are complete, disjoint, counted
        // from the oldest, and with the feed they cover every post; a page overlaps the feed
        // by less than a page, and only the newest page does.
        for limit in 1..8 {
            for size in 1..=limit {
                for posts in 0..60 {
                    let what = format!("{posts} posts, limit {limit}, page {size}");
                    let p = Paging::new(posts, limit, Some(size));
                    let current = p.current_len(limit);
                    assert_eq!(current, posts.min(limit), "{what}");
                    let mut covered = vec![0usize; posts];
                    // Index 0 = oldest; the feed holds the last `current`.
                    for c in covered.iter_mut().skip(posts - current) {
                        *c += 1;
                    }
                    for k in 1..=p.pages {
                        let (skip, take) = p.page(k).unwrap();
                        assert_eq!((skip, take), ((k - 1) * size, size), "{what}");
                        for c in &mut covered[skip..skip + take] {
                            *c += 1;
                        }
                    }
                    assert!(covered.iter().all(|&c| c >= 1), "{what}: a post nowhere");
                    let twice = covered.iter().filter(|&&c| c > 1).count();
                    assert!(twice < size.max(1), "{what}: {twice} posts twice");
                    assert!(covered.iter().all(|&c| c <= 2), "{what}");
                    if p.pages > 1 {
                        // Pages below the newest never touch the feed.
                        let (skip, take) = p.page(p.pages - 1).unwrap();
                        assert!(skip + take <= posts - current, "{what}");
                    }
                }
            }
        }
        // No archives: off, or limit 0 (all posts in every feed).
        assert_eq!(Paging::new(100, 50, None).current_len(50), 50);
        assert_eq!(Paging::new(100, 0, Some(25)).current_len(0), 100);
    }

    #[test]
    fn routes_round_trip() {
        let tag = Scope::Term(TermKind::Tag, "厦门 news".into());
        for scope in [
            Scope::All,
            Scope::Term(TermKind::Category, "news".into()),
            tag,
        ] {
            for format in Format::ALL {
                for page in [1, 2, 10, 123_456] {
                    let r = route(&scope, page, format);
                    assert!(looks_like_archive(&r), "{r}");
                    assert_eq!(parse_route(&r), Some((scope.clone(), page, format)), "{r}");
                }
            }
        }
        assert_eq!(route(&Scope::All, 3, Format::Atom), "/archive/3/atom.xml");
        for bad in [
            "/archive/0/rss.xml",
            "/archive/01/rss.xml",
            "/archive/x/rss.xml",
            "/archive//rss.xml",
            "/archive/1/index.html",
            "/archive/1",
            "/archive/1/rss.xml/x",
            "/places/x/archive/1/rss.xml",
            "/tags//archive/1/rss.xml",
            "/tags/a/b/archive/1/rss.xml",
            "/xarchive/1/rss.xml",
            "/archive/99999999999999999999/rss.xml",
        ] {
            assert_eq!(parse_route(bad), None, "{bad}");
        }
    }
}
