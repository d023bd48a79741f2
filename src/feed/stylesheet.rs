//! `feeds.stylesheet` (off by default): for static hosting, where no server can answer a
//! browser with the feed's browser view, an `<?xml-stylesheet?>` processing instruction in the
//! RSS and Atom documents and the XSLT it names (`/feed.xsl`), which turns either feed into a
//! readable page in a browser that still runs XSLT. Feed readers ignore the instruction; every
//! validator accepts it. `serve` answers browsers with the view (`feed/view.rs`) either way.

use html_escape::encode_text as text;

use super::html::STYLE;
use super::SiteMeta;

/// Route of the stylesheet.
pub const ROUTE: &str = "/feed.xsl";

/// Its content type: browsers take XSLT as `text/xsl`.
pub const CONTENT_TYPE: &str = "text/xsl; charset=utf-8";

/// Puts the stylesheet instruction after the XML declaration of `doc` (an RSS or Atom
/// document, its envelope or a whole one), when the site has the stylesheet on.
pub fn link(meta: &SiteMeta, mut doc: Vec<u8>) -> Vec<u8> {
    let Some(href) = &meta.stylesheet else {
        return doc;
    };
    // The writers start with the declaration; after it, or at the very start without one.
    let at = if doc.starts_with(b"<?xml ") {
        super::find(&doc, b"?>").map_or(0, |i| i + 2)
    } else {
        0
    };
    let pi = format!(
        "\n<?xml-stylesheet type=\"text/xsl\" href=\"{}\"?>",
        html_escape::encode_double_quoted_attribute(href)
    );
    let pi = if at == 0 { &pi[1..] } else { &pi[..] };
    doc.splice(at..at, pi.bytes());
    doc
}

/// The XSLT 1.0 stylesheet: the feed's title, description and address to subscribe to, and
/// its items (title → post page, date), for RSS 2.0 and Atom alike.
pub fn render(meta: &SiteMeta) -> Vec<u8> {
    let lang = if meta.language.is_empty() {
        "en"
    } else {
        &meta.language
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
<xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>
<xsl:template match="/">
<xsl:variable name="title" select="rss/channel/title|atom:feed/atom:title"/>
<xsl:variable name="self" select="rss/channel/atom:link[@rel='self']/@href|atom:feed/atom:link[@rel='self']/@href"/>
<html lang="{lang}">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="$title"/></title>
<style>{style}</style>
</head>
<body>
<header class="meta"><a href="{home}">{site}</a></header>
<main>
<p class="meta">Feed</p>
<h1><xsl:value-of select="$title"/></h1>
<p><xsl:value-of select="rss/channel/description|atom:feed/atom:subtitle"/></p>
<section class="subscribe">
<h2>Follow this feed</h2>
<p>A feed brings new posts to you: copy this address into a feed reader (NetNewsWire, Feedly, Inoreader, Thunderbird, newsboat…) and it checks for new posts by itself, with no account here and nothing to sign up for.</p>
<p><code class="url"><xsl:value-of select="$self"/></code></p>
</section>
<h2>Posts</h2>
<ul class="entries">
<xsl:for-each select="rss/channel/item">
<li><h3><a href="{{link}}"><xsl:value-of select="title"/></a></h3><p class="meta"><xsl:value-of select="pubDate"/></p></li>
</xsl:for-each>
<xsl:for-each select="atom:feed/atom:entry">
<li><h3><a href="{{atom:link[@rel='alternate']/@href}}"><xsl:value-of select="atom:title"/></a></h3><p class="meta"><xsl:value-of select="atom:published"/></p><p><xsl:value-of select="atom:summary"/></p></li>
</xsl:for-each>
</ul>
</main>
</body>
</html>
</xsl:template>
</xsl:stylesheet>
"#,
        lang = html_escape::encode_double_quoted_attribute(lang),
        style = text(STYLE),
        home = html_escape::encode_double_quoted_attribute(&meta.home()),
        site = text(&meta.title),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_instruction_follows_the_declaration_only_when_on() {
        let mut config = Config::default();
        let off = SiteMeta::from_config(&config);
        let doc = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>".to_vec();
        assert_eq!(link(&off, doc.clone()), doc);
        config.feeds.stylesheet = true;
        let on = SiteMeta::from_config(&config);
        let linked = String::from_utf8(link(&on, doc)).unwrap();
        assert_eq!(
            linked,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<?xml-stylesheet type=\"text/xsl\" \
                 href=\"{}\"?><rss/>",
                on.url(ROUTE)
            )
        );
        assert!(crate::feed::verify::well_formed_xml(&render(&on)).is_ok());
    }
}
