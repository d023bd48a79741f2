//! What every HTML page of the site shares (the index, post pages, term pages and the browser
//! view of a feed): the document head, the site's header and footer, one stylesheet — readable
//! type, responsive, dark by `prefers-color-scheme` — and the markup of a post in a list, so
//! that every page names a post, its date and its terms the same way (microformats2 included).
//! Inline styles only: the pages' CSP allows no scripts and loads no stylesheet.

use std::fmt::Write;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{rfc3339, scope_page_url, term_scope, terms_of, SiteMeta, OPML_ROUTE};
use crate::post::Post;
use crate::site::TermKind;

/// The site's stylesheet, inlined in every page's head.
///
/// Class names other pages rely on: `.meta` (muted small text), `.n` (a count), `.terms` and
/// `.feeds` (rows of links), `.tag` (a tag's name, shown with a `#` the text does not hold),
/// `ul.entries` (a list of posts, one `li` each), `.summary`, `.subscribe` (the box saying how
/// to follow a feed), `.url` (an address to copy), `header.site` and `.home` (the bar at the
/// top), `ul.scopes` (terms with their counts and feeds).
pub const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1d1f21;--bg:#fdfdfc;--muted:#5f6368;--line:#e3e3e0;\
--accent:#0b57d0;--code:#f3f3f0}\
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e3;--bg:#151617;--muted:#9aa0a6;\
--line:#2e3032;--accent:#8ab4f8;--code:#222426}}\
*{box-sizing:border-box}\
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\
body{margin:0;background:var(--bg);color:var(--fg);overflow-wrap:break-word;\
font:1.0625rem/1.65 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\
\"PingFang SC\",\"Hiragino Sans GB\",\"Microsoft YaHei\",\"Noto Sans CJK SC\",sans-serif}\
main,header,footer{max-width:44rem;margin:0 auto;padding:0 1.1rem}\
header{padding-top:1.4rem}\
header.site{display:flex;flex-wrap:wrap;align-items:baseline;gap:.2rem 1.2rem;\
padding-top:.9rem;padding-bottom:.7rem;margin-bottom:1.2rem;border-bottom:1px solid var(--line)}\
header.site nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem;font-size:.92em}\
.home{font-weight:650;color:var(--fg);text-decoration:none}\
footer{margin-top:2.5rem;padding-top:1rem;padding-bottom:2rem;border-top:1px solid var(--line);\
color:var(--muted);font-size:.9em}\
h1,h2,h3{line-height:1.25}h1{font-size:1.9rem;margin:.4rem 0 .6rem}\
h2{font-size:1.3rem;margin-top:2rem}\
a{color:var(--accent);text-underline-offset:.15em}\
a:hover{text-decoration-thickness:2px}\
img,video,audio,iframe{max-width:100%;height:auto}\
pre,code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code)}\
pre{padding:.8rem;overflow-x:auto;border-radius:.3rem}code{padding:.1em .25em;border-radius:.2rem}\
pre code{padding:0}\
table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto;margin:1rem 0}\
th,td{border:1px solid var(--line);padding:.3rem .6rem;text-align:left;vertical-align:top}\
blockquote{margin:1rem 0;padding-left:1rem;border-left:3px solid var(--line);color:var(--muted)}\
hr{border:0;border-top:1px solid var(--line);margin:2rem 0}\
.footnote-definition{display:flex;gap:.5rem;font-size:.9em;color:var(--muted)}\
.footnote-definition p{margin:0}\
.meta,.n{color:var(--muted);font-size:.92em}\
.terms a{margin-right:.7rem}.feeds a{margin-right:.6rem}\
.tag::before{content:\"#\"}\
ul.entries{list-style:none;padding:0}ul.entries>li{padding:.9rem 0;border-top:1px solid var(--line)}\
ul.entries h2,ul.entries h3{margin:0 0 .2rem;font-size:1.12rem}\
ul.entries h2 a,ul.entries h3 a{text-decoration:none}\
ul.entries h2 a:hover,ul.entries h3 a:hover{text-decoration:underline}\
ul.entries p{margin:.2rem 0}ul.entries .meta a{margin-right:.5rem}\
.summary{margin:.3rem 0 0}\
ul.scopes{padding-left:1.2rem;columns:19rem auto;column-gap:2rem}\
ul.scopes li{break-inside:avoid;margin:.15rem 0}\
ul.scopes .feeds{font-size:.85em;margin-left:.4rem;white-space:nowrap}ul.scopes .feeds a{margin-right:.4rem}\
.subscribe{border:1px solid var(--line);border-radius:.4rem;padding:.4rem 1rem;margin:1rem 0}\
.url{display:block;padding:.5rem .6rem;background:var(--code);border-radius:.3rem;\
font:.92em ui-monospace,monospace;overflow-wrap:anywhere;user-select:all}\
";

/// Opens an HTML page: doctype, `<html lang>`, charset, viewport, `<title>` (`title` is
/// already escaped) and the stylesheet. The caller adds any `<link>`s and closes the head
/// with `</head>`. Pages of the site use [`page_head`], which adds the site's own links.
pub fn html_head(h: &mut String, lang: &str, title: &str) {
    let lang = if lang.is_empty() { "en" } else { lang };
    // Writing to a String cannot fail.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n",
        attr(lang)
    );
}

/// [`html_head`] plus what every page of the site links in its head: the site's icon, when
/// `site.icon` is set.
pub fn page_head(h: &mut String, meta: &SiteMeta, lang: &str, title: &str) {
    html_head(h, lang, title);
    if let Some(icon) = &meta.icon {
        let _ = writeln!(h, "<link rel=\"icon\" href=\"{}\">", attr(icon));
    }
}

/// The `<link>` to a page's ActivityPub representation (`serve` with actors only): the scope's
/// actor on the index and term pages, the post's `Article` (its own URL) on a post page.
pub fn activity_link(h: &mut String, href: &str) {
    let _ = writeln!(
        h,
        "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}\">",
        attr(href)
    );
}

/// The line of a subscription box saying how to follow `scope` from the Fediverse, when its
/// actor is served (`serve` with `activitypub`): the actor's address, which Mastodon's search
/// (and Misskey's, Pixelfed's…) resolves to an account to follow.
pub fn fediverse_line(h: &mut String, meta: &SiteMeta, scope: &crate::site::Scope) {
    if let Some(actor) = super::actor_url(meta, scope) {
        let _ = write!(
            h,
            "<p class=\"meta\">Or follow it from the Fediverse (Mastodon and others): search \
             there for this address.</p><p><code class=\"url\">{}</code></p>",
            text(&actor)
        );
    }
}

/// The bar at the top of every page (after `<body>`): the site's name, linking home, and the
/// index's lists of categories and tags, so a reader is one click from anywhere.
pub fn site_header(h: &mut String, meta: &SiteMeta) {
    let home = meta.home();
    let _ = writeln!(
        h,
        "<header class=\"site\"><a class=\"home\" href=\"{home}\" rel=\"home\">{}</a>\
         <nav><a href=\"{home}#recent\">Recent</a><a href=\"{home}#categories\">Categories</a>\
         <a href=\"{home}#tags\">Tags</a><a href=\"{}\">OPML</a></nav></header>",
        text(&meta.title),
        attr(&meta.url(OPML_ROUTE)),
        home = attr(&home),
    );
}

/// Closes a page: the footer, `</body>` and `</html>`.
pub fn site_footer(h: &mut String) {
    let _ = write!(
        h,
        "<footer>Generated by {} {}.</footer>\n</body>\n</html>\n",
        super::GENERATOR,
        super::VERSION
    );
}

/// How a post is shown in a list of posts.
#[derive(Debug, Clone, Copy)]
pub struct EntryStyle {
    /// The heading level of the post's title (2 under a page's `h1`, 3 under a section's).
    pub heading: u8,
    /// Whether its summary is shown.
    pub summary: bool,
}

/// One post in a list (`ul.entries`): an `h-entry` whose title (`p-name u-url`) links its
/// page, with its date in the post's own offset (`dt-published`), its categories and tags
/// (`p-category`, each linking its own page) and, if asked, its summary (`p-summary`).
///
/// Everything shown comes from the post alone (terms as the post spells them), so a list of
/// posts changes only when one of its posts does.
pub fn entry(h: &mut String, meta: &SiteMeta, post: &Post, style: EntryStyle) {
    let level = style.heading.clamp(2, 6);
    let _ = write!(
        h,
        "<li class=\"h-entry\"><h{level}><a class=\"p-name u-url\" href=\"{}\">{}</a></h{level}>\
         <p class=\"meta\"><time class=\"dt-published\" datetime=\"{}\">{}</time>",
        attr(&post.url),
        text(&post.title),
        rfc3339(&post.date),
        post.date.format("%Y-%m-%d")
    );
    term_links(h, meta, post, " · ", "");
    h.push_str("</p>");
    if style.summary {
        let summary = post.summary();
        if !summary.trim().is_empty() {
            let _ = write!(h, "<p class=\"p-summary summary\">{}</p>", text(&summary));
        }
    }
    h.push_str("</li>\n");
}

/// A post's categories then tags as `p-category` links to their pages, after `lead` (written
/// only when the post has any); `class` is added to each link's classes.
pub fn term_links(h: &mut String, meta: &SiteMeta, post: &Post, lead: &str, class: &str) {
    let mut first = true;
    for (kind, name) in terms_of(post) {
        let Some(scope) = term_scope(kind, name) else {
            continue;
        };
        if first {
            h.push_str(lead);
            first = false;
        }
        let kind_class = match kind {
            TermKind::Category => "",
            TermKind::Tag => " tag",
        };
        let _ = write!(
            h,
            "<a class=\"p-category{kind_class}{class}\" href=\"{}\">{}</a>",
            attr(&scope_page_url(meta, &scope)),
            text(name)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::post::{body::Markup, parse_post};
    use std::path::Path;

    fn meta() -> SiteMeta {
        let mut config = Config::default_for_test(Path::new("p"), Path::new("o"));
        config.site.icon = Some("img/icon \"x\".png".into());
        SiteMeta::from_config(&config)
    }

    #[test]
    fn every_page_links_the_icon_when_there_is_one() {
        let mut h = String::new();
        page_head(&mut h, &meta(), "en", "T");
        assert!(
            h.contains("<link rel=\"icon\" href=\"https://example.com/img/icon%20%22x%22.png\">"),
            "{h}"
        );
        let mut plain = meta();
        plain.icon = None;
        let mut h = String::new();
        page_head(&mut h, &plain, "en", "T");
        assert!(!h.contains("rel=\"icon\""), "{h}");
    }

    #[test]
    fn an_entry_is_an_escaped_h_entry() {
        let config = Config::default_for_test(Path::new("p"), Path::new("o"));
        let post = parse_post(
            Path::new("2021-12-21-a.md"),
            "---\ntitle: \"<b>港口</b> & \\\"x\\\"\"\ndate: 2021-12-21 08:10:27 +0800\n\
             categories: \"<i>news</i>\"\ntags: [厦门, \"a\\\"b\"]\n---\n<p>First &amp; <em>only</em>.</p>\n"
                .as_bytes(),
            Markup::Markdown,
            &config.parse_context(),
        )
        .unwrap();
        let mut h = String::new();
        entry(
            &mut h,
            &meta(),
            &post,
            EntryStyle {
                heading: 2,
                summary: true,
            },
        );
        assert!(
            h.starts_with("<li class=\"h-entry\"><h2><a class=\"p-name u-url\""),
            "{h}"
        );
        assert!(
            h.contains(">&lt;b&gt;港口&lt;/b&gt; &amp; \"x\"</a></h2>"),
            "{h}"
        );
        assert!(
            h.contains("<time class=\"dt-published\" datetime=\"2021-12-21T08:10:27+08:00\">2021-12-21</time>"),
            "{h}"
        );
        assert!(
            h.contains(
                "href=\"https://example.com/categories/i-news-i/\">&lt;i&gt;news&lt;/i&gt;</a>"
            ),
            "{h}"
        );
        assert!(
            h.contains("<a class=\"p-category tag\" href=\"https://example.com/tags/%E5%8E%A6%E9%97%A8/\">厦门</a>"),
            "{h}"
        );
        assert!(h.contains(">a\"b</a>"), "{h}");
        assert!(
            h.contains("<p class=\"p-summary summary\">First &amp; only.</p>"),
            "{h}"
        );
        assert!(!h.contains("<b>") && !h.contains("<i>"), "{h}");
    }
}
