//! `/index.html`: the site's front page — the newest posts, then every category and tag with
//! its own page and its feeds — with autodiscovery links, so that a reader given the site's
//! address finds the feeds by itself, and an `h-feed` of the newest posts for IndieWeb readers.

use super::FeedError;
use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::html::{entry, page_head, site_footer, site_header, EntryStyle};
use super::{route, scope_page_url, SiteMeta};
use crate::config::Format;
use crate::site::{Listing, Scope, TermKind};

/// How many of the newest posts the index lists.
pub const RECENT: usize = 20;
/// How many of those show their summary.
pub const RECENT_SUMMARIES: usize = 5;

/// Renders the index page.
pub fn render(meta: &SiteMeta, listing: &Listing) -> Result<Vec<u8>, FeedError> {
    let terms = listing.categories.len() + listing.tags.len();
    let mut h = String::with_capacity(16 * 1024 + 300 * terms);
    let title = text(&meta.title);
    // Writing to a String cannot fail.
    page_head(&mut h, meta, &meta.language, &title);
    for f in &meta.formats {
        let _ = writeln!(
            h,
            "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
            f.mime(),
            attr(&meta.title),
            f.label(),
            attr(&meta.url(&route(&Scope::All, *f)))
        );
    }
    if let Some(actor) = super::actor_url(meta, &Scope::All) {
        super::html::activity_link(&mut h, &actor);
    }
    h.push_str("</head>\n<body>\n");
    site_header(&mut h, meta);
    let _ = write!(
        h,
        "<main class=\"h-feed\">\n<h1 class=\"p-name\">{title}</h1>\n"
    );
    if !meta.description.is_empty() {
        let _ = writeln!(h, "<p class=\"p-summary\">{}</p>", text(&meta.description));
    }
    let _ = write!(
        h,
        "<div class=\"subscribe\"><p>{} posts. Follow them all in a feed reader: \
         <span class=\"feeds\">",
        listing.len()
    );
    feed_links(&mut h, meta, &Scope::All, false);
    let _ = write!(
        h,
        "</span></p><p class=\"meta\">Or only a category or a tag, below. \
         <a href=\"{}\">OPML</a> lists every feed, for a reader's import.</p>",
        attr(&meta.url(super::OPML_ROUTE))
    );
    super::html::fediverse_line(&mut h, meta, &Scope::All);
    h.push_str("</div>\n<h2 id=\"recent\">Recent posts</h2>\n<ul class=\"entries\">\n");
    for (i, p) in listing.iter().take(RECENT).enumerate() {
        let style = EntryStyle {
            heading: 3,
            summary: i < RECENT_SUMMARIES,
        };
        entry(&mut h, meta, p, style);
    }
    h.push_str("</ul>\n");
    for (label, kind, terms) in [
        ("Categories", TermKind::Category, &listing.categories),
        ("Tags", TermKind::Tag, &listing.tags),
    ] {
        let _ = write!(
            h,
            "<h2 id=\"{}\">{label}</h2>\n<ul class=\"scopes\">\n",
            kind.dir()
        );
        let class = match kind {
            TermKind::Category => "",
            TermKind::Tag => " class=\"tag\"",
        };
        for term in terms.values() {
            let scope = Scope::Term(kind, term.slug.clone());
            let _ = write!(
                h,
                "<li id=\"{}-{}\"><a{class} href=\"{}\">{}</a> <span class=\"n\">({})</span>\
                 <span class=\"feeds\">",
                kind.dir(),
                attr(&crate::slug::encode_segment(&term.slug)),
                attr(&scope_page_url(meta, &scope)),
                text(&term.name),
                term.posts.len()
            );
            feed_links(&mut h, meta, &scope, true);
            h.push_str("</span></li>\n");
        }
        if terms.is_empty() {
            let _ = writeln!(h, "<li class=\"meta\">None yet.</li>");
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</main>\n");
    site_footer(&mut h);
    Ok(h.into_bytes())
}

/// Links to a scope's feeds; `short` names them by their files' kinds (`rss`, `atom`,
/// `json`), which keeps a line per term in the lists of hundreds of terms.
fn feed_links(h: &mut String, meta: &SiteMeta, scope: &Scope, short: bool) {
    for f in &meta.formats {
        let label = match (short, f) {
            (false, _) => f.label(),
            (true, Format::Rss) => "rss",
            (true, Format::Atom) => "atom",
            (true, Format::Json) => "json",
        };
        let _ = write!(
            h,
            "<a href=\"{}\" type=\"{}\" title=\"{}\">{label}</a>",
            attr(&meta.url(&route(scope, *f))),
            f.mime(),
            f.label()
        );
    }
}
