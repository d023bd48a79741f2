//! Rendering: a scope's posts → an RSS 2.0, Atom 1.0 or JSON Feed 1.1 document, plus the OPML
//! list and the human index page.
//!
//! Everything here is a pure function of the listing and the config: no clock, no I/O, no hash
//! map order, so unchanged posts give byte-identical documents from build to build.

mod atom;
mod error;
pub mod actors;
pub mod html;
mod index;
mod json;
pub mod media;
pub mod modified;
mod opml;
pub mod page;
pub mod paging;
mod view;
mod rss;
mod splice;
pub mod stylesheet;
pub mod term;
pub mod verify;

pub use actors::{actor_path, actor_url, author_actor, ACTOR_PREFIX};
pub use atom::atom_id;
pub use error::FeedError;
pub use splice::{assemble, envelope, fragment, fragments, Envelope, Texts};
use splice::{find, rfind, splice_out};

use chrono::{DateTime, FixedOffset};

use crate::config::{Config, ContentMode, Format};
use crate::post::{Person, Post};
use crate::site::{Listing, Scope, TermKind};

/// The generator name written into every feed.
pub const GENERATOR: &str = "feedsmith";
/// The generator version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The generator's home.
pub const GENERATOR_URI: &str = "https://github.com/feedsmith/feedsmith";

/// Site-wide settings the renderers need, resolved once per build.
#[derive(Debug, Clone)]
pub struct SiteMeta {
    pub title: String,
    pub description: String,
    pub language: String,
    /// Base URL without trailing slash (`https://example.com` or `https://example.com/blog`).
    pub base: String,
    /// The default author of items that name none (site author, else the site title).
    pub default_author: Person,
    pub content: ContentMode,
    pub limit: usize,
    /// Posts per RFC 5005 archive page; `None` = no archives.
    pub archive_page: Option<usize>,
    /// Which scopes and formats have archive pages (`feeds.archive_scopes`/`_formats`);
    /// see [`SiteMeta::archive_page_of`].
    pub archive_scopes: Vec<crate::config::ArchiveScope>,
    pub archive_formats: Vec<Format>,
    pub formats: Vec<Format>,
    /// The WebSub hubs every feed advertises: the built-in one (`serve`), then
    /// `hub.external` in their order.
    pub hubs: Vec<String>,
    /// The XSLT stylesheet's URL, when `feeds.stylesheet` is on.
    pub stylesheet: Option<String>,
    /// Absolute URL of the site's icon (`site.icon`), linked from every HTML page and feed.
    pub icon: Option<String>,
    /// Absolute URL of the site's logo (`site.logo`): Atom `logo`, RSS `<image>`, JSON `icon`.
    pub logo: Option<String>,
    /// The kinds of scope that are ActivityPub actors, which their pages link (`serve` with
    /// `activitypub.enabled` only: a static copy has no server to answer for them).
    pub actors: Vec<crate::config::ActorScope>,
}

impl SiteMeta {
    /// The link relations of the document at `route`, as its feed lists them inside (RFC 8288
    /// targets for the `Link` header): `self` for feeds, the OPML and the index, and `hub` for
    /// feeds for each WebSub hub advertised — only feeds are WebSub topics.
    pub fn relations(&self, route: &str) -> Vec<(&'static str, String)> {
        let is_feed = Format::of_route(route).is_some();
        let is_list = route == OPML_ROUTE || route == INDEX_ROUTE;
        let mut rels = Vec::new();
        if is_feed || is_list {
            rels.push(("self", self.url(route)));
        }
        if is_feed {
            rels.extend(self.hubs.iter().map(|hub| ("hub", hub.clone())));
        }
        rels
    }

    /// Resolves the settings of `config`.
    pub fn from_config(config: &Config) -> SiteMeta {
        let author = if config.site.author.trim().is_empty() {
            config.site.title.trim()
        } else {
            config.site.author.trim()
        };
        let mut meta = SiteMeta {
            title: clean_text(config.site.title.trim()),
            description: clean_text(config.site.description.trim()),
            language: config.site.language.trim().to_owned(),
            base: config.site_url().as_str().trim_end_matches('/').to_owned(),
            default_author: Person {
                name: clean_text(author),
                email: None,
                uri: None,
            },
            content: config.feeds.content,
            limit: config.feeds.limit,
            archive_page: config.feeds.archive_page_size(),
            archive_scopes: config.feeds.archive_scopes.clone(),
            archive_formats: config.feeds.archived_formats(),
            formats: config.formats(),
            hubs: config.hub.external.clone(),
            stylesheet: None,
            icon: config.icon_url(),
            logo: config.logo_url(),
            actors: Vec::new(),
        };
        if config.feeds.stylesheet {
            meta.stylesheet = Some(meta.url(stylesheet::ROUTE));
        }
        meta
    }

    /// The archive page size of `scope`'s document in `format`: `None` when it has no
    /// archive pages (archives off, or not asked for that scope or format).
    pub fn archive_page_of(&self, scope: &Scope, format: Format) -> Option<usize> {
        use crate::config::ArchiveScope;
        let kind = match scope {
            Scope::All => ArchiveScope::Site,
            Scope::Term(TermKind::Category, _) => ArchiveScope::Categories,
            Scope::Term(TermKind::Tag, _) => ArchiveScope::Tags,
        };
        self.archive_page.filter(|_| {
            self.archive_scopes.contains(&kind) && self.archive_formats.contains(&format)
        })
    }

    /// Whether `post`'s items carry full content: its own `feed_content`, else
    /// `feeds.content`.
    pub fn full_content(&self, post: &Post) -> bool {
        post.feed_content.unwrap_or(self.content) == ContentMode::Full
    }

    /// The author of an item: its own, else the site default.
    pub fn author_of<'p>(&'p self, post: &'p Post) -> &'p Person {
        post.author.as_ref().unwrap_or(&self.default_author)
    }

    /// Absolute URL of a site path (percent-encoded).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, crate::slug::encode_path(path))
    }

    /// The home page URL.
    pub fn home(&self) -> String {
        format!("{}/", self.base)
    }
}

/// One feed document's inputs: the scope's metadata and its posts.
pub struct FeedSpec<'a> {
    pub meta: &'a SiteMeta,
    pub title: String,
    pub description: String,
    /// The document's own URL.
    pub self_url: String,
    /// The feed's identity (Atom `id`): the subscription document's URL, for its archive
    /// pages too — they are parts of one logical feed.
    pub feed_id: String,
    pub items: Vec<&'a Post>,
    /// The newest `updated` of the items; the Unix epoch for an empty feed.
    pub updated: DateTime<FixedOffset>,
    pub history: History,
    /// RFC 6721 tombstones (Atom subscription documents only: `atom::write` places them).
    pub deleted: Vec<&'a crate::site::deleted::Tombstone>,
    /// When a post last left the scope (the Unix epoch if none is remembered), whatever the
    /// format: part of the document's time ([`modified::of_spec`]).
    pub removed: std::time::SystemTime,
    /// The scope's ActivityPub actor, which the subscription document links (`serve` only).
    pub actor: Option<String>,
}

/// A document's place in an RFC 5005 archived feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// This is an archive page (`fh:archive`), not the subscription document.
    pub archive: bool,
    /// The subscription document (archive pages only).
    pub current: Option<String>,
    /// The next older archive page (JSON Feed: `next_url`).
    pub prev_archive: Option<String>,
    /// The next newer archive page.
    pub next_archive: Option<String>,
}

impl History {
    /// The RFC 5005 links this document carries, as (rel, href).
    pub fn links(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("current", &self.current),
            ("prev-archive", &self.prev_archive),
            ("next-archive", &self.next_archive),
        ]
        .into_iter()
        .filter_map(|(rel, href)| href.as_deref().map(|h| (rel, h)))
    }
}

/// What an archive page needs of its scope: the term's name as written, how many posts the
/// scope has, and `page(skip, take)`: `take` posts after skipping `skip` from the oldest,
/// newest first.
pub struct ScopePosts<'a, 'f> {
    pub term: Option<&'a str>,
    pub len: usize,
    /// When a post last left the scope ([`modified::removed_from`]).
    pub removed: std::time::SystemTime,
    #[allow(clippy::type_complexity)]
    pub page: &'f dyn Fn(usize, usize) -> Vec<&'a Post>,
}

impl<'a> FeedSpec<'a> {
    /// Prepares the subscription document of `scope` in `format`: its newest posts (at most
    /// `limit`; those not in a complete archive page when archives are on).
    pub fn new(meta: &'a SiteMeta, listing: &'a Listing, scope: &Scope, format: Format) -> Self {
        let paging = scope_paging(meta, listing, scope, format);
        let take = paging.current_len(meta.limit);
        let items = if take == 0 {
            Vec::new()
        } else {
            listing.scope_posts(scope, take)
        };
        let self_url = meta.url(&route(scope, format));
        let history = History {
            prev_archive: (paging.pages > 0)
                .then(|| meta.url(&paging::route(scope, paging.pages, format))),
            ..History::default()
        };
        let mut spec = FeedSpec::with_items(
            meta,
            listing.term(scope).map(|t| t.name.as_str()),
            scope,
            items,
            self_url.clone(),
            self_url,
            history,
        );
        if format == Format::Atom {
            atom::announce_deletions(&mut spec, listing, scope);
        }
        spec.removed = modified::removed_from(&listing.tombstones, scope);
        spec
    }

    /// [`FeedSpec::new`] from a scope's posts as they were when they were taken (the browser
    /// view of a feed is rendered from such a snapshot).
    pub fn current_of(
        meta: &'a SiteMeta,
        scope: &Scope,
        posts: &ScopePosts<'a, '_>,
        format: Format,
    ) -> Self {
        let paging =
            paging::Paging::new(posts.len, meta.limit, meta.archive_page_of(scope, format));
        let take = paging.current_len(meta.limit);
        let items = if take == 0 {
            Vec::new()
        } else {
            (posts.page)(posts.len - take, take)
        };
        let self_url = meta.url(&route(scope, format));
        let history = History {
            prev_archive: (paging.pages > 0)
                .then(|| meta.url(&paging::route(scope, paging.pages, format))),
            ..History::default()
        };
        let mut spec = FeedSpec::with_items(
            meta,
            posts.term,
            scope,
            items,
            self_url.clone(),
            self_url,
            history,
        );
        spec.removed = posts.removed;
        spec
    }

    /// Prepares archive page `page` (1 = oldest) of `scope` in `format`, if it exists.
    pub fn archive(
        meta: &'a SiteMeta,
        listing: &'a Listing,
        scope: &Scope,
        format: Format,
        page: usize,
    ) -> Option<Self> {
        if !listing.has_scope(scope) {
            return None;
        }
        let term = listing.term(scope).map(|t| t.name.as_str());
        let posts = ScopePosts {
            term,
            len: listing.scope_len(scope),
            removed: modified::removed_from(&listing.tombstones, scope),
            page: &|skip, take| listing.scope_page(scope, skip, take),
        };
        FeedSpec::archive_of(meta, scope, &posts, format, page)
    }

    /// [`FeedSpec::archive`] from a scope's posts as they were when they were taken (`serve`
    /// renders archive pages on request from such a snapshot, not from the live listing).
    pub fn archive_of(
        meta: &'a SiteMeta,
        scope: &Scope,
        posts: &ScopePosts<'a, '_>,
        format: Format,
        page: usize,
    ) -> Option<Self> {
        let paging =
            paging::Paging::new(posts.len, meta.limit, meta.archive_page_of(scope, format));
        let (skip, take) = paging.page(page)?;
        let items = (posts.page)(skip, take);
        let at = |k: usize| meta.url(&paging::route(scope, k, format));
        let current = meta.url(&route(scope, format));
        let history = History {
            archive: true,
            current: Some(current.clone()),
            prev_archive: (page > 1).then(|| at(page - 1)),
            next_archive: (page < paging.pages).then(|| at(page + 1)),
        };
        let mut spec =
            FeedSpec::with_items(meta, posts.term, scope, items, at(page), current, history);
        spec.removed = posts.removed;
        Some(spec)
    }

    fn with_items(
        meta: &'a SiteMeta,
        term: Option<&str>,
        scope: &Scope,
        items: Vec<&'a Post>,
        self_url: String,
        feed_id: String,
        history: History,
    ) -> Self {
        let updated = items
            .iter()
            .map(|p| p.updated.max(p.date))
            .max()
            .unwrap_or_else(epoch);
        let (title, description) = match (scope, term) {
            (Scope::Term(kind, _), Some(name)) => {
                let what = match kind {
                    TermKind::Category => format!("Posts in “{name}”"),
                    TermKind::Tag => format!("Posts tagged “{name}”"),
                };
                let desc = if meta.description.is_empty() {
                    format!("{what} on {}", meta.title)
                } else {
                    format!("{} — {what}", meta.description)
                };
                (format!("{} — {name}", meta.title), desc)
            }
            _ => {
                let desc = if meta.description.is_empty() {
                    format!("Latest posts on {}", meta.title)
                } else {
                    meta.description.clone()
                };
                (meta.title.clone(), desc)
            }
        };
        FeedSpec {
            meta,
            self_url,
            feed_id,
            title,
            description,
            items,
            updated,
            actor: actor_url(meta, scope).filter(|_| !history.archive),
            history,
            deleted: Vec::new(),
            removed: std::time::UNIX_EPOCH,
        }
    }

    /// The WebSub hubs this document advertises: none for archive pages, which are not topics.
    pub fn hubs(&self) -> &[String] {
        if self.history.archive {
            &[]
        } else {
            &self.meta.hubs
        }
    }
}

/// How a scope's posts split into its subscription document and archive pages.
pub fn scope_paging(
    meta: &SiteMeta,
    listing: &Listing,
    scope: &Scope,
    format: Format,
) -> paging::Paging {
    paging::Paging::new(
        listing.scope_len(scope),
        meta.limit,
        meta.archive_page_of(scope, format),
    )
}

/// 2000-01-01T00:00:00Z: the `updated` time of a feed with no items. Fixed, so an empty feed
/// is byte-identical from build to build; not 1970, which the W3C validator reports as an
/// "Implausible date" (anything before 1990) in RSS, Atom and OPML alike.
pub fn epoch() -> DateTime<FixedOffset> {
    DateTime::from_timestamp(946_684_800, 0)
        .unwrap_or_default()
        .fixed_offset()
}

/// The server path of a scope's document in a format: `/rss.xml`, `/tags/{slug}/atom.xml`.
pub fn route(scope: &Scope, format: Format) -> String {
    format!("{}/{}", scope.dir(), format.file_name())
}

/// The route of a scope's HTML page: the index for all posts, `/tags/{slug}/index.html` (served
/// at `/tags/{slug}/`) for a term.
pub fn scope_page_route(scope: &Scope) -> String {
    match scope {
        Scope::All => INDEX_ROUTE.to_owned(),
        Scope::Term(..) => format!("{}/index.html", scope.dir()),
    }
}

/// The URL of a scope's HTML page, as links name it (`…/tags/{slug}/`, not `…/index.html`).
pub fn scope_page_url(meta: &SiteMeta, scope: &Scope) -> String {
    match scope {
        Scope::All => meta.home(),
        Scope::Term(..) => meta.url(&format!("{}/", scope.dir())),
    }
}

/// The scope of a term named `name` as written in a post (`None` when it slugifies to nothing
/// and so has no feeds or page).
pub fn term_scope(kind: TermKind, name: &str) -> Option<Scope> {
    let slug = crate::slug::slugify(name);
    (!slug.is_empty()).then_some(Scope::Term(kind, slug))
}

/// Renders one feed document in one go, with the crate's writer (the reference that spliced
/// documents equal byte for byte; see [`assemble`]).
pub fn render(spec: &FeedSpec<'_>, format: Format) -> Result<Vec<u8>, FeedError> {
    match format {
        Format::Rss => rss::render(spec),
        Format::Atom => atom::render(spec),
        Format::Json => json::render(spec),
    }
}

pub use index::render as render_index;
pub use opml::render as render_opml;
pub use view::render as render_view;

/// Route of the OPML list.
pub const OPML_ROUTE: &str = "/feeds.opml";
/// Route of the index page.
pub const INDEX_ROUTE: &str = "/index.html";

pub use crate::text::clean_text;

/// RSS 2.0 date: RFC 822 with a numeric offset, the post's own.
pub fn rfc822(d: &DateTime<FixedOffset>) -> String {
    d.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

/// Atom/JSON date: RFC 3339 with the post's own offset (`Z` for UTC).
pub fn rfc3339(d: &DateTime<FixedOffset>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The host of a URL, used as the visible name of a source without `source_name`.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// Categories then tags of a post, as (kind, name) without duplicates of the same kind.
pub fn terms_of(post: &Post) -> impl Iterator<Item = (TermKind, &str)> {
    post.categories
        .iter()
        .map(|c| (TermKind::Category, c.as_str()))
        .chain(post.tags.iter().map(|t| (TermKind::Tag, t.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_keep_offset() {
        let d = DateTime::parse_from_rfc3339("2021-12-21T08:10:27+08:00").unwrap();
        assert_eq!(rfc822(&d), "Tue, 21 Dec 2021 08:10:27 +0800");
        assert_eq!(rfc3339(&d), "2021-12-21T08:10:27+08:00");
        let u = DateTime::parse_from_rfc3339("2021-12-21T08:10:27Z").unwrap();
        assert_eq!(rfc3339(&u), "2021-12-21T08:10:27Z");
        assert_eq!(rfc822(&u), "Tue, 21 Dec 2021 08:10:27 +0000");
    }

    #[test]
    fn host() {
        assert_eq!(host_of("http://news.example.cn/a?b"), "news.example.cn");
    }
}
