//! Post pages: each published post as a small readable HTML page at its permalink, so that
//! item links in the feeds resolve when the site URL is the server's own address.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::feed::{route, SiteMeta};
use crate::post::Post;
use crate::site::Scope;

/// The route a post page is served at (decoded path; `…/` gets `index.html`).
pub fn page_route(post: &Post) -> String {
    if post.path.ends_with('/') {
        format!("{}index.html", post.path)
    } else {
        post.path.clone()
    }
}

/// True for a route the site's own documents use (feeds, archive pages, the OPML list, the
/// index page, term pages, the hub): a post page there is shadowed by that document.
pub fn is_reserved_route(route: &str) -> bool {
    // A term's page: `/categories/{slug}/index.html`, `/tags/{slug}/index.html`.
    let term_page = route.strip_suffix("/index.html").is_some_and(|dir| {
        ["/categories/", "/tags/"].iter().any(|kind| {
            dir.strip_prefix(kind)
                .is_some_and(|slug| !slug.is_empty() && !slug.contains('/'))
        })
    });
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
        || term_page
        || route == crate::feed::OPML_ROUTE
        || route == crate::feed::INDEX_ROUTE
        || route == crate::feed::stylesheet::ROUTE
        || route == "/hub"
}

/// Renders a post page: an `h-entry` (title, permalink, dates, author, content, categories
/// and tags linking their pages, the source link as `u-syndication`) under the site's header.
pub fn render(meta: &SiteMeta, post: &Post) -> Vec<u8> {
    let mut h = String::with_capacity(post.content_html.len() + 4096);
    let lang = post.lang.as_deref().unwrap_or(&meta.language);
    let title = format!("{} — {}", text(&post.title), text(&meta.title));
    crate::feed::html::page_head(&mut h, meta, lang, &title);
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
        if let Some(scope) = crate::feed::term_scope(kind, name) {
            scopes.push((scope, format!("{} — {name}", meta.title)));
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
    // The post as an ActivityPub `Article`, at its own URL (negotiated by `Accept`).
    if crate::feed::author_actor(meta, post).is_some() {
        crate::feed::html::activity_link(&mut h, &post.url);
    }
    h.push_str("</head>\n<body>\n");
    crate::feed::html::site_header(&mut h, meta);
    let published = crate::feed::rfc3339(&post.date);
    let _ = write!(
        h,
        "<main>\n<article class=\"h-entry\">\n<h1 class=\"p-name\">{}</h1>\n\
         <p class=\"meta\"><a class=\"u-url\" href=\"{}\"><time class=\"dt-published\" \
         datetime=\"{published}\">{}</time></a>",
        text(&post.title),
        attr(&post.url),
        post.date.format("%Y-%m-%d %H:%M %:z"),
    );
    if post.updated > post.date {
        let _ = write!(
            h,
            " · updated <time class=\"dt-updated\" datetime=\"{}\">{}</time>",
            crate::feed::rfc3339(&post.updated),
            post.updated.format("%Y-%m-%d %H:%M %:z")
        );
    }
    if let Some(a) = &post.author {
        // Only a web address becomes a link (the front matter may hold anything).
        let web = |u: &&str| {
            url::Url::parse(u.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        };
        match a.uri.as_deref().filter(web) {
            Some(uri) => {
                let _ = write!(
                    h,
                    " · <a class=\"p-author h-card\" href=\"{}\">{}</a>",
                    attr(uri),
                    text(&a.name)
                );
            }
            None => {
                let _ = write!(
                    h,
                    " · <span class=\"p-author h-card\">{}</span>",
                    text(&a.name)
                );
            }
        }
    }
    h.push_str("</p>\n<div class=\"e-content\">\n");
    h.push_str(&content);
    h.push_str("\n</div>\n");
    if let Some(src) = &post.source_link {
        let name = post
            .source_name
            .clone()
            .unwrap_or_else(|| crate::feed::host_of(src));
        // The same article elsewhere (its original): mf2's `u-syndication`.
        let _ = writeln!(
            h,
            "<p class=\"meta\">Source: <a class=\"u-syndication\" href=\"{}\" \
             rel=\"nofollow\">{}</a></p>",
            attr(src),
            text(&name)
        );
    }
    let mut terms = String::new();
    crate::feed::html::term_links(&mut terms, meta, post, "", "");
    if !terms.is_empty() {
        let _ = writeln!(h, "<p class=\"meta terms\">Filed under {terms}</p>");
    }
    h.push_str("</article>\n");
    let _ = writeln!(
        h,
        "<p class=\"meta\"><a href=\"{}\">← All posts</a></p>\n</main>",
        attr(&meta.home())
    );
    crate::feed::html::site_footer(&mut h);
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::feed::SiteMeta;
    use crate::post::{body::Markup, parse_post};
    use std::path::Path;

    fn page(front_matter: &str) -> String {
        let mut config = Config::default_for_test(Path::new("p"), Path::new("o"));
        config.site.icon = Some("https://cdn.example.org/i.png".into());
        let post = parse_post(
            Path::new("2021-12-21-a.md"),
            format!("---\n{front_matter}---\n<p>Body <em>here</em>.</p>\n").as_bytes(),
            Markup::Markdown,
            &config.parse_context(),
        )
        .unwrap();
        String::from_utf8(super::render(&SiteMeta::from_config(&config), &post)).unwrap()
    }

    #[test]
    fn a_post_page_is_an_h_entry_linking_its_terms_pages() {
        let html = page(
            "title: \"<A> & B\"\ndate: 2021-12-21 08:10:27 +0800\nupdated: 2021-12-22 09:00:00 +0800\n\
             categories: news\ntags: [厦门]\nauthor: {name: Ann, uri: \"https://ann.example\"}\n\
             source_url: https://src.example/1\n",
        );
        for want in [
            "<link rel=\"icon\" href=\"https://cdn.example.org/i.png\">",
            "<article class=\"h-entry\">",
            "<h1 class=\"p-name\">&lt;A&gt; &amp; B</h1>",
            "<a class=\"u-url\" href=\"https://example.com/news/2021/12/21/a.html\">\
             <time class=\"dt-published\" datetime=\"2021-12-21T08:10:27+08:00\">\
             2021-12-21 08:10 +08:00</time></a>",
            "<time class=\"dt-updated\" datetime=\"2021-12-22T09:00:00+08:00\">",
            "<a class=\"p-author h-card\" href=\"https://ann.example\">Ann</a>",
            "<div class=\"e-content\">\n<p>Body <em>here</em>.</p>",
            "<a class=\"u-syndication\" href=\"https://src.example/1\"",
            "<a class=\"p-category\" href=\"https://example.com/categories/news/\">news</a>",
            "<a class=\"p-category tag\" href=\"https://example.com/tags/%E5%8E%A6%E9%97%A8/\">厦门</a>",
            "class=\"home\" href=\"https://example.com/\"",
        ] {
            assert!(html.contains(want), "no {want} in\n{html}");
        }
        assert!(!html.to_ascii_lowercase().contains("<script"));
    }

    #[test]
    fn only_a_web_address_becomes_the_authors_link() {
        let html =
            page("title: T\ndate: 2021-12-21\nauthor: {name: Eve, uri: \"javascript:alert(1)\"}\n");
        assert!(
            html.contains("<span class=\"p-author h-card\">Eve</span>"),
            "{html}"
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            !html.contains("dt-updated"),
            "no update, no dt-updated: {html}"
        );
    }

    #[test]
    fn reserved_routes_are_the_site_documents() {
        for r in [
            "/rss.xml",
            "/feed.json",
            "/tags/x/atom.xml",
            "/categories/a/archive/2/rss.xml",
            "/archive/1/feed.json",
            "/tags/rust/index.html",
            "/categories/厦门/index.html",
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
            "/tags/index.html",
            "/tags/a/b/index.html",
            "/x/tags/a/index.html",
        ] {
            assert!(!super::is_reserved_route(r), "{r}");
        }
    }
}
