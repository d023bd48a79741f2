//! Post pages: each published post as a small readable HTML page at its permalink, so that
//! item links in the feeds resolve when the site URL is the server's own address.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::config::Format;
use crate::feed::{route, SiteMeta};
use crate::post::Post;
use crate::site::{Scope, TermKind};

/// The route a post page is served at (decoded path; `…/` gets `index.html`).
pub fn page_route(post: &Post) -> String {
    if post.path.ends_with('/') {
        format!("{}index.html", post.path)
    } else {
        post.path.clone()
    }
}

/// True for a route the site's own documents use (feeds, archive pages, the OPML list, the
/// index page, the hub): a post page there is shadowed by that document.
pub fn is_reserved_route(route: &str) -> bool {
    let feed_file = ["/rss.xml", "/atom.xml", "/feed.json"]
        .iter()
        .any(|f| route.ends_with(f));
    // Feeds live at the root, under a term's directory, and in archive directories.
    let dir = route.rsplit_once('/').map_or("", |(d, _)| d);
    let feed_dir = dir.is_empty()
        || dir.starts_with("/categories/")
        || dir.starts_with("/tags/")
        || dir.starts_with("/archive/");
    (feed_file && feed_dir)
        || route == crate::feed::OPML_ROUTE
        || route == crate::feed::INDEX_ROUTE
        || route == crate::feed::stylesheet::ROUTE
        || route == "/hub"
}

/// Renders a post page.
pub fn render(meta: &SiteMeta, post: &Post) -> Vec<u8> {
    let mut h = String::with_capacity(post.content_html.len() + 4096);
    let lang = post.lang.as_deref().unwrap_or(&meta.language);
    let title = format!("{} — {}", text(&post.title), text(&meta.title));
    crate::feed::html::html_head(&mut h, lang, &title);
    let _ = writeln!(h, "<link rel=\"canonical\" href=\"{}\">", attr(&post.url));
    let (content, summary) = post.content_html.both();
    if !summary.is_empty() {
        let _ = writeln!(
            h,
            "<meta name=\"description\" content=\"{}\">",
            attr(&summary)
        );
    }
    // Autodiscovery: the site's feeds, then the feeds of the post's own categories and tags.
    let mut scopes = vec![(Scope::All, meta.title.clone())];
    for (kind, name) in crate::feed::terms_of(post) {
        let slug = crate::slug::slugify(name);
        if !slug.is_empty() {
            scopes.push((Scope::Term(kind, slug), format!("{} — {name}", meta.title)));
        }
    }
    for (scope, title) in &scopes {
        for f in &meta.formats {
            let _ = writeln!(
                h,
                "<link rel=\"alternate\" type=\"{}\" title=\"{}\" href=\"{}\">",
                f.mime(),
                attr(title),
                attr(&meta.url(&route(scope, *f)))
            );
        }
    }
    let _ = write!(
        h,
        "</head>\n<body>\n<header class=\"meta\"><a href=\"{}\">{}</a></header>\n<main>\n\
         <article>\n<h1>{}</h1>\n\
         <p class=\"meta\"><time datetime=\"{}\">{}</time>{}</p>\n",
        attr(&meta.home()),
        text(&meta.title),
        text(&post.title),
        attr(&crate::feed::rfc3339(&post.date)),
        post.date.format("%Y-%m-%d %H:%M %:z"),
        post.author
            .as_ref()
            .map(|a| format!(" · {}", text(&a.name)))
            .unwrap_or_default()
    );
    h.push_str(&content);
    h.push_str("\n</article>\n");
    if let Some(src) = &post.source_link {
        let name = post
            .source_name
            .clone()
            .unwrap_or_else(|| crate::feed::host_of(src));
        let _ = writeln!(
            h,
            "<p class=\"meta\">Source: <a href=\"{}\" rel=\"nofollow\">{}</a></p>",
            attr(src),
            text(&name)
        );
    }
    let _ = write!(h, "<p class=\"meta terms\">");
    let feed_format = meta.formats.first().copied().unwrap_or(Format::Rss);
    for (kind, name) in crate::feed::terms_of(post) {
        let slug = crate::slug::slugify(name);
        if slug.is_empty() {
            continue;
        }
        let label = match kind {
            TermKind::Category => "",
            TermKind::Tag => "#",
        };
        let _ = write!(
            h,
            "<a href=\"{}\">{label}{}</a>",
            attr(&meta.url(&route(&Scope::Term(kind, slug), feed_format))),
            text(name)
        );
    }
    h.push_str("</p>\n</main>\n</body>\n</html>\n");
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_routes_are_the_site_documents() {
        for r in [
            "/rss.xml",
            "/feed.json",
            "/tags/x/atom.xml",
            "/categories/a/archive/2/rss.xml",
            "/archive/1/feed.json",
            "/feeds.opml",
            "/index.html",
            "/hub",
        ] {
            assert!(super::is_reserved_route(r), "{r}");
        }
        for r in [
            "/notes/rss.xml",
            "/2021/01/01/a.html",
            "/tags.html",
            "/x/index.html",
        ] {
            assert!(!super::is_reserved_route(r), "{r}");
        }
    }
}
