//! Renders the whole document set of a listing: every scope × every format, plus OPML and the
//! index page — each parsed back before it is accepted.
//!
//! Each post's items are rendered once ([`Fragments`]) and spliced into every feed that lists
//! it. Documents are rendered in parallel; a document that fails its check is left out of the
//! set and reported, so the caller keeps publishing the previous version of it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;

use crate::config::Format;
use crate::feed::{self, verify, FeedError, FeedSpec, SiteMeta};
use crate::post::Post;
use crate::site::{Listing, Scope};

/// A rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub content_type: &'static str,
    /// Shared with the store: cloning a `Doc` does not copy the bytes.
    pub bytes: Bytes,
    /// When its content last changed, read off the content (`feed::modified`): its
    /// `Last-Modified`, the same in every process that renders the same posts.
    pub modified: std::time::SystemTime,
}

/// Content types of the non-feed documents.
pub const OPML_TYPE: &str = "text/x-opml; charset=utf-8";
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// The outcome of rendering: documents by route, and the routes that failed with why.
#[derive(Debug, Default)]
pub struct Rendered {
    pub docs: BTreeMap<String, Doc>,
    pub failures: BTreeMap<String, FeedError>,
    /// For each feed document in `docs`: its format and where each post's item is in it.
    pub items: HashMap<String, FeedItems>,
}

impl Rendered {
    /// Files one document's outcome: the document (and where its items are), or its failure.
    pub fn insert(&mut self, route: String, outcome: Result<(Doc, Option<FeedItems>), FeedError>) {
        match outcome {
            Ok((doc, items)) => {
                if let Some(items) = items {
                    self.items.insert(route.clone(), items);
                }
                self.docs.insert(route, doc);
            }
            Err(e) => {
                self.failures.insert(route, e);
            }
        }
    }
}

/// Where the items of one feed document are: its format, and (post, byte range) in order.
pub type FeedItems = (Format, Vec<(PathBuf, std::ops::Range<usize>)>);

/// One post's item fragments in every configured format, for one version of the post.
#[derive(Debug, Clone)]
pub struct PostFragments {
    post: Arc<Post>,
    by_format: Vec<(Format, Result<Bytes, FeedError>)>,
}

/// The item fragments of every post that appears in some feed, by source path.
///
/// Each post's `<item>`, `<entry>` and JSON object are rendered and checked once per version
/// of the post, then spliced into every feed that lists it: a feed costs a copy of its items,
/// not a render.
#[derive(Debug, Default, Clone)]
pub struct Fragments {
    map: HashMap<PathBuf, Arc<PostFragments>>,
}

impl Fragments {
    /// Makes sure every post in the feeds of `scopes` has fragments for its current version,
    /// rendering the missing or stale ones in parallel.
    pub fn prepare(&mut self, meta: &SiteMeta, listing: &Listing, scopes: &[Scope]) {
        let posts = scopes
            .iter()
            .flat_map(|scope| listing.scope_posts(scope, meta.limit));
        self.prepare_posts(meta, listing, posts);
    }

    /// Makes sure every listed post has fragments (in `meta`'s formats): what the archive
    /// pages of a whole site need.
    pub fn prepare_all(&mut self, meta: &SiteMeta, listing: &Listing) {
        self.prepare_posts(meta, listing, listing.iter().map(Arc::as_ref));
    }

    fn prepare_posts<'p>(
        &mut self,
        meta: &SiteMeta,
        listing: &Listing,
        posts: impl Iterator<Item = &'p Post>,
    ) {
        let mut todo: HashMap<&Path, &Post> = HashMap::new();
        for post in posts {
            let fresh = self
                .map
                .get(&post.source)
                .is_some_and(|f| std::ptr::eq(f.post.as_ref(), post));
            if !fresh {
                todo.insert(post.source.as_path(), post);
            }
        }
        let fresh: Vec<(PathBuf, Arc<PostFragments>)> = todo
            .into_par_iter()
            .filter_map(|(src, post)| {
                // The listing holds the Arc; fragments keep it to know their version.
                let arc = Arc::clone(listing.get(src)?);
                let by_format = feed::fragments(meta, post, &meta.formats);
                Some((
                    src.to_path_buf(),
                    Arc::new(PostFragments {
                        post: arc,
                        by_format,
                    }),
                ))
            })
            .collect();
        self.map.extend(fresh);
    }

    /// Points the fragment of `post` in `format` at the same bytes inside a published
    /// document (`bytes` is a slice of it), so the fragment costs no memory of its own; a
    /// missing fragment is taken from the document (the first render of a site makes none).
    pub fn rebase(&mut self, post: &Arc<Post>, format: Format, bytes: Bytes) {
        let entry = self.map.entry(post.source.clone()).or_insert_with(|| {
            Arc::new(PostFragments {
                post: Arc::clone(post),
                by_format: Vec::new(),
            })
        });
        if !Arc::ptr_eq(&entry.post, post) {
            // A stale version's fragments: this document holds the current one.
            *entry = Arc::new(PostFragments {
                post: Arc::clone(post),
                by_format: Vec::new(),
            });
        }
        let f = Arc::make_mut(entry);
        match f.by_format.iter_mut().find(|(fmt, _)| *fmt == format) {
            Some((_, Ok(b))) => {
                // Already a slice of this very buffer (a carried-over document): nothing to
                // compare or move.
                if b.as_ptr() != bytes.as_ptr() && b.as_ref() == bytes.as_ref() {
                    *b = bytes;
                }
            }
            // Rendered and checked as part of the document it is a slice of.
            Some((_, r @ Err(_))) => *r = Ok(bytes),
            None => f.by_format.push((format, Ok(bytes))),
        }
    }

    /// Gives the fragment of `source` in `format` bytes of its own if it points into `buffer`
    /// (a document being replaced, which it would otherwise keep alive).
    pub fn unpin(&mut self, source: &Path, format: Format, buffer: &[u8]) {
        let Some(f) = self.map.get_mut(source) else {
            return;
        };
        let within = |b: &Bytes| {
            let (start, end) = (
                buffer.as_ptr() as usize,
                buffer.as_ptr() as usize + buffer.len(),
            );
            let p = b.as_ptr() as usize;
            !b.is_empty() && p >= start && p < end
        };
        let pinned = f
            .by_format
            .iter()
            .any(|(fmt, r)| *fmt == format && r.as_ref().is_ok_and(within));
        if !pinned {
            return;
        }
        for (fmt, r) in &mut Arc::make_mut(f).by_format {
            if let (true, Ok(b)) = (*fmt == format, r) {
                *b = Bytes::copy_from_slice(b);
            }
        }
    }

    /// Drops the fragments of posts that changed or left.
    pub fn forget<'p>(&mut self, sources: impl IntoIterator<Item = &'p PathBuf>) {
        for s in sources {
            self.map.remove(s);
        }
    }

    /// The fragment of `post` in `format`, or why it could not be made.
    pub fn get(&self, post: &Post, format: Format) -> Result<&Bytes, FeedError> {
        let f = self
            .map
            .get(&post.source)
            .filter(|f| std::ptr::eq(f.post.as_ref(), post))
            .ok_or_else(|| format!("no fragment for {}", post.source.display()))?;
        match f.by_format.iter().find(|(fmt, _)| *fmt == format) {
            Some((_, Ok(bytes))) => Ok(bytes),
            Some((_, Err(e))) => Err(format!("item {}: {e}", post.source.display()).into()),
            None => Err(format!("no {format:?} fragment for {}", post.source.display()).into()),
        }
    }

    /// How many posts have fragments.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Renders one feed document: its checked envelope with the checked item fragments spliced in.
pub fn render_feed(
    meta: &SiteMeta,
    listing: &Listing,
    fragments: &Fragments,
    scope: &Scope,
    format: Format,
) -> Result<(Doc, FeedItems), FeedError> {
    let spec = FeedSpec::new(meta, listing, scope, format);
    assemble_spec(meta, fragments, &spec, format)
}

/// Renders archive page `page` of `scope` in `format` (`None` if there is no such page).
///
/// Archive pages hold old posts, whose fragments are mostly not kept (only the posts in some
/// subscription document have theirs): the missing ones are rendered here, in parallel.
pub fn render_archive(
    meta: &SiteMeta,
    listing: &Listing,
    fragments: &Fragments,
    scope: &Scope,
    format: Format,
    page: usize,
) -> Option<Result<Doc, FeedError>> {
    let spec = FeedSpec::archive(meta, listing, scope, format, page)?;
    Some(assemble_spec(meta, fragments, &spec, format).map(|(doc, _)| doc))
}

/// Splices a document from its envelope and its items' fragments, rendering (and checking)
/// the fragments that are not kept.
pub fn assemble_spec(
    meta: &SiteMeta,
    fragments: &Fragments,
    spec: &FeedSpec<'_>,
    format: Format,
) -> Result<(Doc, FeedItems), FeedError> {
    let env = feed::envelope(spec, format)?;
    let items: Vec<Result<Bytes, FeedError>> = spec
        .items
        .par_iter()
        .map(|p| match fragments.get(p, format) {
            Ok(b) => Ok(b.clone()),
            Err(_) => feed::fragment(meta, p, format)
                .map_err(|e| FeedError::Check(format!("item {}: {e}", p.source.display()))),
        })
        .collect();
    let items = items
        .into_iter()
        .collect::<Result<Vec<Bytes>, FeedError>>()?;
    let (bytes, ranges) = feed::assemble(&env, items.iter().map(Bytes::as_ref), format);
    let placed = spec
        .items
        .iter()
        .map(|p| p.source.clone())
        .zip(ranges)
        .collect();
    Ok((
        Doc {
            content_type: format.content_type(),
            bytes: Bytes::from(bytes),
            modified: feed::modified::of_spec(spec),
        },
        (format, placed),
    ))
}

/// Every archive page of the site: (scope, format, page).
pub fn archive_jobs(meta: &SiteMeta, listing: &Listing) -> Vec<(Scope, Format, usize)> {
    let mut jobs = Vec::new();
    for scope in listing.scopes() {
        for format in &meta.formats {
            let pages = feed::scope_paging(meta, listing, &scope, *format).pages;
            for page in 1..=pages {
                jobs.push((scope.clone(), *format, page));
            }
        }
    }
    jobs
}

/// Renders the given archive pages, in parallel.
pub fn render_archive_jobs(
    meta: &SiteMeta,
    listing: &Listing,
    fragments: &Fragments,
    jobs: &[(Scope, Format, usize)],
) -> Rendered {
    let results: Vec<(String, Result<Doc, FeedError>)> = jobs
        .par_iter()
        .filter_map(|(scope, format, page)| {
            let doc = render_archive(meta, listing, fragments, scope, *format, *page)?;
            Some((crate::feed::paging::route(scope, *page, *format), doc))
        })
        .collect();
    let mut out = Rendered::default();
    for (route, r) in results {
        out.insert(route, r.map(|doc| (doc, None)));
    }
    out
}

/// One document of a site other than an archive page: a scope's feed in one format, a term's
/// HTML page, or one of the lists of feeds.
pub enum DocJob {
    Feed(Scope, Format),
    /// The page of a category or tag (`feed::term`): it lists the term's posts, so it is
    /// rendered whenever the term's feeds are.
    TermPage(Scope),
    /// The OPML list and the index, with their time (the site's: computed once for both,
    /// since it reads every post).
    Opml(std::time::SystemTime),
    Index(std::time::SystemTime),
    /// The XSLT stylesheet (`feeds.stylesheet`).
    Stylesheet,
}

/// The documents of `scopes` (each feed format, and a term's page), then the OPML list and
/// the index.
pub fn doc_jobs(meta: &SiteMeta, listing: &Listing, scopes: &[Scope]) -> Vec<DocJob> {
    let mut jobs: Vec<DocJob> = Vec::with_capacity(scopes.len() * (meta.formats.len() + 1) + 2);
    for s in scopes {
        jobs.extend(meta.formats.iter().map(|f| DocJob::Feed(s.clone(), *f)));
        if matches!(s, Scope::Term(..)) {
            jobs.push(DocJob::TermPage(s.clone()));
        }
    }
    let site = feed::modified::of_site(listing);
    jobs.extend([DocJob::Opml(site), DocJob::Index(site)]);
    if meta.stylesheet.is_some() {
        jobs.push(DocJob::Stylesheet);
    }
    jobs
}

/// A document rendered by [`render_job`]: its route, and the document (with where its items
/// are, for a feed) or why it could not be made.
pub type JobOutcome = (String, Result<(Doc, Option<FeedItems>), FeedError>);

/// Renders one document.
pub fn render_job(
    meta: &SiteMeta,
    listing: &Listing,
    fragments: &Fragments,
    job: &DocJob,
) -> JobOutcome {
    use feed::modified;
    let list = |route: &str, content_type, bytes: Result<Vec<u8>, FeedError>, modified| {
        let doc = bytes.map(|bytes| {
            let doc = Doc {
                content_type,
                bytes: Bytes::from(bytes),
                modified,
            };
            (doc, None)
        });
        (route.to_owned(), doc)
    };
    match job {
        DocJob::Feed(scope, format) => (
            feed::route(scope, *format),
            render_feed(meta, listing, fragments, scope, *format)
                .map(|(doc, items)| (doc, Some(items))),
        ),
        DocJob::TermPage(scope) => list(
            &feed::scope_page_route(scope),
            HTML_TYPE,
            feed::term::render(meta, listing, scope)
                .ok_or_else(|| FeedError::from(format!("{scope:?}: no such term"))),
            modified::of_scope(listing, scope),
        ),
        DocJob::Opml(site) => list(
            feed::OPML_ROUTE,
            OPML_TYPE,
            feed::render_opml(meta, listing).and_then(|b| verify::well_formed_xml(&b).map(|()| b)),
            *site,
        ),
        DocJob::Index(site) => list(
            feed::INDEX_ROUTE,
            HTML_TYPE,
            feed::render_index(meta, listing),
            *site,
        ),
        DocJob::Stylesheet => list(
            feed::stylesheet::ROUTE,
            feed::stylesheet::CONTENT_TYPE,
            Ok(feed::stylesheet::render(meta))
                .and_then(|b| verify::well_formed_xml(&b).map(|()| b)),
            modified::of_nothing(),
        ),
    }
}

/// Renders the feeds of `scopes` and, alongside them, the OPML list and the index page.
pub fn render_scopes_and_lists(
    meta: &SiteMeta,
    listing: &Listing,
    fragments: &Fragments,
    scopes: &[Scope],
) -> Rendered {
    let results: Vec<JobOutcome> = doc_jobs(meta, listing, scopes)
        .par_iter()
        .map(|job| render_job(meta, listing, fragments, job))
        .collect();
    let mut out = Rendered::default();
    for (route, r) in results {
        out.insert(route, r);
    }
    out
}

/// Renders every document of the site from scratch (fragments included).
pub fn render_site(meta: &SiteMeta, listing: &Listing) -> Rendered {
    let mut fragments = Fragments::default();
    fragments.prepare(meta, listing, &listing.scopes());
    render_all(meta, listing, &fragments)
}

/// Renders every document of the site.
pub fn render_all(meta: &SiteMeta, listing: &Listing, fragments: &Fragments) -> Rendered {
    render_scopes_and_lists(meta, listing, fragments, &listing.scopes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::post::{body::Markup, parse_post};
    use crate::site::ListOptions;
    use std::path::Path;

    fn listing(config: &Config) -> Listing {
        let ctx = config.parse_context();
        let posts = [
            ("2021-12-21-a.md", "---\ntitle: \"港口 <b>&amp;</b> ]]>\"\ndate: 2021-12-21 08:10:27 +0800\ncategories: news\ntags: 厦门 Rust\n---\n<p>x ]]> </item></channel></feed> ]}\"</p>\n\n<http://n.example.cn/1>\n"),
            ("2022-01-01-b.md", "---\ntitle: B\nauthor: {name: Ann, email: ann@example.com}\nimage: /i.png\ntags: [rust]\n---\nplain *md* with [link](//h.example/x)\n"),
            ("2022-01-01-c.html", "---\ntitle: C\ndate: 2022-01-01\ncategories: [news, other]\nid: c-1\nenclosure: {url: /ep.mp3, length: 7}\nfeed_content: summary\n---\n<p>c</p>"),
        ];
        let parsed: Vec<Arc<Post>> = posts
            .iter()
            .map(|(name, text)| {
                let markup = if name.ends_with(".html") {
                    Markup::Html
                } else {
                    Markup::Markdown
                };
                Arc::new(parse_post(Path::new(name), text.as_bytes(), markup, &ctx).unwrap())
            })
            .collect();
        Listing::new(parsed, chrono::Utc::now(), ListOptions::default())
    }

    /// A spliced document equals the crate writer's whole render of the same spec, and
    /// passes the publish check.
    fn equals_whole_render_and_checks(doc: &Doc, spec: &FeedSpec<'_>, format: Format, what: &str) {
        let whole = feed::render(spec, format).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&doc.bytes),
            String::from_utf8_lossy(&whole),
            "{what}"
        );
        verify::feed(
            format,
            &doc.bytes,
            &verify::Expect {
                titles: spec.items.iter().map(|p| p.title.as_str()).collect(),
                self_url: Some(&spec.self_url),
            },
        )
        .unwrap();
    }

    #[test]
    fn spliced_documents_equal_whole_renders() {
        for content in ["full", "summary"] {
            for limit in [0, 1, 2] {
                let mut config = Config::default_for_test(Path::new("p"), Path::new("o"));
                config.feeds.limit = limit;
                config.site.icon = Some("icon.png".into());
                config.site.logo = Some("logo.png".into());
                config.feeds.archive_scopes = vec![
                    crate::config::ArchiveScope::Site,
                    crate::config::ArchiveScope::Categories,
                    crate::config::ArchiveScope::Tags,
                ];
                config.feeds.archive_formats = Format::ALL.to_vec();
                config.feeds.content = if content == "full" {
                    crate::config::ContentMode::Full
                } else {
                    crate::config::ContentMode::Summary
                };
                let meta = SiteMeta::from_config(&config);
                let listing = listing(&config);
                let scopes = listing.scopes();
                let mut fragments = Fragments::default();
                fragments.prepare(&meta, &listing, &scopes);
                assert_eq!(scopes.len(), 5, "{scopes:?}");
                for scope in &scopes {
                    for format in Format::ALL {
                        let (doc, items) =
                            render_feed(&meta, &listing, &fragments, scope, format).unwrap();
                        // Each item's range holds exactly its fragment.
                        for (src, range) in &items.1 {
                            let post = listing.get(src).unwrap();
                            assert_eq!(
                                &doc.bytes[range.clone()],
                                fragments.get(post, format).unwrap()
                            );
                        }
                        let spec = FeedSpec::new(&meta, &listing, scope, format);
                        let what = format!("{scope:?} {format:?} {content} limit {limit}");
                        equals_whole_render_and_checks(&doc, &spec, format, &what);
                        // Archive pages splice the same way (Atom's `fh:archive` is placed
                        // before the entries by hand).
                        let pages = feed::scope_paging(&meta, &listing, scope, format).pages;
                        if limit > 0 && scope == &Scope::All {
                            assert!(pages > 0, "limit {limit}: 3 posts make archives");
                        }
                        for page in 1..=pages {
                            let doc =
                                render_archive(&meta, &listing, &fragments, scope, format, page)
                                    .unwrap()
                                    .unwrap();
                            let spec =
                                FeedSpec::archive(&meta, &listing, scope, format, page).unwrap();
                            let what = format!("{scope:?} {format:?} page {page}");
                            equals_whole_render_and_checks(&doc, &spec, format, &what);
                        }
                        assert!(render_archive(
                            &meta,
                            &listing,
                            &fragments,
                            scope,
                            format,
                            pages + 1
                        )
                        .is_none());
                    }
                }
            }
        }
    }

    #[test]
    fn tombstones_are_spliced_into_atom_subscription_documents_only() {
        use crate::site::deleted::{Record, Tombstone};
        use crate::site::TermKind;
        let mut config = Config::default_for_test(Path::new("p"), Path::new("o"));
        config.feeds.limit = 1;
        config.feeds.archive_formats = Format::ALL.to_vec();
        let meta = SiteMeta::from_config(&config);
        let mut listing = listing(&config);
        let rust = Scope::Term(TermKind::Tag, "rust".into());
        let stone = |id: &str, secs, scopes: &[Scope]| {
            let record = Record {
                id: id.into(),
                route: "/gone.html".into(),
                scopes: scopes.iter().cloned().collect(),
                source: Default::default(),
            };
            let when = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            (id.to_owned(), Tombstone { record, when })
        };
        listing.tombstones = Arc::new(
            [
                stone("tag:example.com,2000:a&b", 1_800_000_000, &[Scope::All]),
                stone(
                    "https://example.com/x.html",
                    1_700_000_000,
                    &[Scope::All, rust.clone()],
                ),
            ]
            .into_iter()
            .collect(),
        );
        let mut fragments = Fragments::default();
        fragments.prepare(&meta, &listing, &listing.scopes());
        for scope in listing.scopes() {
            for format in Format::ALL {
                let (doc, _) = render_feed(&meta, &listing, &fragments, &scope, format).unwrap();
                let spec = FeedSpec::new(&meta, &listing, &scope, format);
                let what = format!("{scope:?} {format:?}");
                equals_whole_render_and_checks(&doc, &spec, format, &what);
                let text = String::from_utf8_lossy(&doc.bytes);
                let want = match (format, &scope) {
                    (Format::Atom, Scope::All) => 2,
                    (Format::Atom, s) if *s == rust => 1,
                    _ => 0,
                };
                assert_eq!(
                    text.matches("<at:deleted-entry ").count(),
                    want,
                    "{what}: {text}"
                );
                if want > 0 {
                    let ns = "xmlns:at=\"http://purl.org/atompub/tombstones/1.0\"";
                    assert!(text.contains(ns), "{text}");
                    // Newest deletion first, escaped, in whole seconds; the feed's `updated`
                    // is that deletion when it is the latest change.
                    let first = "<at:deleted-entry ref=\"";
                    let at = text.find(first).unwrap() + first.len();
                    if scope == Scope::All {
                        assert!(
                            text[at..].starts_with(
                                "tag:example.com,2000:a&amp;b\" when=\"2027-01-15T08:00:00Z\"/>"
                            ),
                            "{text}"
                        );
                        assert!(
                            text.contains("<updated>2027-01-15T08:00:00+00:00</updated>"),
                            "{text}"
                        );
                    }
                    // Before the first entry: among the feed's metadata.
                    assert!(text.find("<entry>").is_none_or(|e| e > at), "{text}");
                }
                let pages = feed::scope_paging(&meta, &listing, &scope, format).pages;
                for page in 1..=pages {
                    let doc = render_archive(&meta, &listing, &fragments, &scope, format, page)
                        .unwrap()
                        .unwrap();
                    assert!(!String::from_utf8_lossy(&doc.bytes).contains("deleted-entry"));
                }
            }
        }
    }

    #[test]
    fn unchanged_posts_keep_their_fragments() {
        let config = Config::default_for_test(Path::new("p"), Path::new("o"));
        let meta = SiteMeta::from_config(&config);
        let listing = listing(&config);
        let mut fragments = Fragments::default();
        fragments.prepare(&meta, &listing, &listing.scopes());
        let first = fragments.clone();
        fragments.prepare(&meta, &listing, &listing.scopes());
        assert_eq!(first.len(), 3);
        for (src, f) in &first.map {
            assert!(Arc::ptr_eq(f, &fragments.map[src]));
        }
        fragments.forget([&PathBuf::from("2022-01-01-b.md")]);
        assert_eq!(fragments.len(), 2);
    }
}
