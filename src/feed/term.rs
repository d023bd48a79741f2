//! Term pages: each category and tag as an HTML page at `/categories/{slug}/` and
//! `/tags/{slug}/` listing its posts, newest first, with its feeds — what a person clicking a
//! tag expects, where until now a tag only led to a feed.
//!
//! A term page depends on its term's posts alone (their titles, dates, terms as they spell
//! them, and the newest ones' summaries) and on the site's settings, so a republish renders
//! exactly the pages of the terms whose posts changed, as it does their feeds. Its length is
//! bounded ([`LISTED`]): a term of 20,000 posts costs what one of [`LISTED`] does, and the
//! older posts are one click away in the term's archive feeds.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::html::{entry, page_head, site_footer, site_header, EntryStyle};
use super::{paging, route, scope_page_url, scope_paging, SiteMeta, OPML_ROUTE};
use crate::site::{Listing, Scope, TermKind};

/// The most posts a term page lists (its newest).
pub const LISTED: usize = 100;
/// How many of the newest listed posts show their summary.
pub const SUMMARIES: usize = 10;

/// Renders the page of a term scope; `None` for the all-posts scope or a term with no posts.
pub fn render(meta: &SiteMeta, listing: &Listing, scope: &Scope) -> Option<Vec<u8>> {
    let Scope::Term(kind, _) = scope else {
        return None;
    };
    let term = listing.term(scope)?;
    let (what, whats, class) = match kind {
        TermKind::Category => ("Category", "category", ""),
        TermKind::Tag => ("Tag", "tag", " tag"),
    };
    let mut h = String::with_capacity(4096 + 400 * term.posts.len().min(LISTED));
    let name = text(&term.name);
    page_head(
        &mut h,
        meta,
        &meta.language,
        &format!("{name} — {}", text(&meta.title)),
    );
    let _ = writeln!(
        h,
        "<link rel=\"canonical\" href=\"{}\">",
        attr(&scope_page_url(meta, scope))
    );
    for f in &meta.formats {
        let _ = writeln!(
            h,
            "<link rel=\"alternate\" type=\"{}\" title=\"{} — {} ({})\" href=\"{}\">",
            f.mime(),
            attr(&meta.title),
            attr(&term.name),
            f.label(),
            attr(&meta.url(&route(scope, *f)))
        );
    }
    if let Some(actor) = super::actor_url(meta, scope) {
        super::html::activity_link(&mut h, &actor);
    }
    h.push_str("</head>\n<body>\n");
    site_header(&mut h, meta);
    let count = term.posts.len();
    let listed = if count > LISTED {
        format!("{count} posts in this {whats}; here are the newest {LISTED}.")
    } else if count == 1 {
        format!("1 post in this {whats}.")
    } else {
        format!("{count} posts in this {whats}, newest first.")
    };
    let _ = write!(
        h,
        "<main class=\"h-feed\">\n<p class=\"meta\">{what}</p>\n\
         <h1 class=\"p-name{class}\">{name}</h1>\n<p>{listed}</p>\n\
         <div class=\"subscribe\"><p>Follow this {whats} in a feed reader: \
         <span class=\"feeds\">"
    );
    for f in &meta.formats {
        let _ = write!(
            h,
            "<a href=\"{}\" type=\"{}\">{}</a>",
            attr(&meta.url(&route(scope, *f))),
            f.mime(),
            f.label()
        );
    }
    let first = meta
        .formats
        .first()
        .copied()
        .unwrap_or(crate::config::Format::Rss);
    let _ = write!(
        h,
        "</span></p><p><code class=\"url\">{}</code></p>\
         <p class=\"meta\">Every feed of the site, for a reader's import: \
         <a href=\"{}\">OPML</a>.</p>",
        text(&meta.url(&route(scope, first))),
        attr(&meta.url(OPML_ROUTE))
    );
    super::html::fediverse_line(&mut h, meta, scope);
    h.push_str("</div>\n<ul class=\"entries\">\n");
    for (i, post) in term.posts.values().take(LISTED).enumerate() {
        let style = EntryStyle {
            heading: 2,
            summary: i < SUMMARIES,
        };
        entry(&mut h, meta, post, style);
    }
    h.push_str("</ul>\n");
    if count > LISTED {
        let older = count - LISTED;
        // The newest archive page in the first format the term is archived in, if any.
        let archived = meta.formats.iter().find_map(|f| {
            let pages = scope_paging(meta, listing, scope, *f).pages;
            (pages > 0).then_some((*f, pages))
        });
        if let Some((format, pages)) = archived {
            // The newest archive page: a reader (or the feed's browser view) walks back from
            // there through every older post.
            let _ = writeln!(
                h,
                "<p>{older} older post{} are in this {whats}'s \
                 <a href=\"{}\">feed archive</a>.</p>",
                if older == 1 { "" } else { "s" },
                attr(&meta.url(&paging::route(scope, pages, format)))
            );
        } else {
            let _ = writeln!(
                h,
                "<p>{older} older post{} are not listed here.</p>",
                if older == 1 { "" } else { "s" }
            );
        }
    }
    h.push_str("</main>\n");
    site_footer(&mut h);
    Some(h.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ArchiveScope, Config, Format};
    use crate::post::{body::Markup, parse_post, Post};
    use crate::site::ListOptions;
    use std::path::Path;
    use std::sync::Arc;

    fn post(config: &Config, n: usize, tags: &str) -> Arc<Post> {
        let text = format!(
            "---\ntitle: \"Post {n} <&>\"\ndate: 2021-01-01 00:00:00 +0800\ntags: {tags}\n---\n\
             <p>Summary {n}.</p>\n"
        );
        let date =
            chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + chrono::Duration::days(n as i64);
        let text = text.replace("2021-01-01", &date.format("%Y-%m-%d").to_string());
        let name = format!("p{n:04}.md");
        Arc::new(
            parse_post(
                Path::new(&name),
                text.as_bytes(),
                Markup::Markdown,
                &config.parse_context(),
            )
            .unwrap(),
        )
    }

    fn site(n: usize) -> (SiteMeta, Listing) {
        let mut config = Config::default_for_test(Path::new("p"), Path::new("o"));
        // Tags archived (in RSS, the first format): a big term links its archive.
        config.feeds.archive_scopes = vec![ArchiveScope::Site, ArchiveScope::Tags];
        config.feeds.archive_formats = vec![Format::Rss];
        let posts: Vec<Arc<Post>> = (0..n)
            .map(|i| {
                post(
                    &config,
                    i,
                    if i % 2 == 0 {
                        "[even, all]"
                    } else {
                        "[odd, all]"
                    },
                )
            })
            .collect();
        let listing = Listing::new(posts, chrono::Utc::now(), ListOptions::default());
        (SiteMeta::from_config(&config), listing)
    }

    fn tag(slug: &str) -> Scope {
        Scope::Term(TermKind::Tag, slug.into())
    }

    #[test]
    fn lists_the_terms_posts_newest_first_with_its_feeds() {
        let (meta, listing) = site(5);
        let html = String::from_utf8(render(&meta, &listing, &tag("even")).unwrap()).unwrap();
        let titles: Vec<&str> = html
            .split("class=\"p-name u-url\"")
            .skip(1)
            .map(|s| &s[s.find('>').unwrap() + 1..s.find("</a>").unwrap()])
            .collect();
        assert_eq!(
            titles,
            [
                "Post 4 &lt;&amp;&gt;",
                "Post 2 &lt;&amp;&gt;",
                "Post 0 &lt;&amp;&gt;"
            ]
        );
        assert!(html.contains("<main class=\"h-feed\">"), "{html}");
        assert!(
            html.contains("<h1 class=\"p-name tag\">even</h1>"),
            "{html}"
        );
        for f in ["rss.xml", "atom.xml", "feed.json"] {
            let url = format!("https://example.com/tags/even/{f}");
            assert!(html.contains("rel=\"alternate\" type="), "{html}");
            assert_eq!(
                html.matches(&format!("href=\"{url}\"")).count(),
                2,
                "{url}: {html}"
            );
        }
        assert!(
            html.contains("href=\"https://example.com/feeds.opml\""),
            "{html}"
        );
        assert!(html.contains("<link rel=\"canonical\" href=\"https://example.com/tags/even/\">"));
        assert!(
            html.contains("class=\"home\" href=\"https://example.com/\""),
            "{html}"
        );
        assert!(render(&meta, &listing, &Scope::All).is_none());
        assert!(render(&meta, &listing, &tag("none")).is_none());
    }

    #[test]
    fn a_big_term_lists_its_newest_posts_and_links_its_archive() {
        let n = LISTED + 7;
        let (meta, listing) = site(n);
        let html = String::from_utf8(render(&meta, &listing, &tag("all")).unwrap()).unwrap();
        assert_eq!(html.matches("<li class=\"h-entry\">").count(), LISTED);
        assert!(html.contains(&format!(
            "<p>{n} posts in this tag; here are the newest {LISTED}."
        )));
        assert_eq!(
            html.matches("class=\"p-summary summary\"").count(),
            SUMMARIES
        );
        assert!(
            html.contains(&format!("Post {} &lt;", n - 1)),
            "the newest is listed"
        );
        assert!(!html.contains("Post 6 &lt;"), "an old one is not");
        let pages = scope_paging(&meta, &listing, &tag("all"), Format::Rss).pages;
        assert!(pages > 0);
        assert!(
            html.contains(&format!(
                "7 older posts are in this tag's <a href=\"https://example.com/tags/all/archive/{pages}/rss.xml\">"
            )),
            "{html}"
        );
    }
}
