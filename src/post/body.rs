//! The post body: Markdown → HTML, links made absolute, scripts dropped, summary and source
//! link extracted.
//!
//! Feed readers show content out of the site's context, so every relative or protocol-relative
//! URL must be absolute there; they also run no page scripts and rarely run lazy-load code, so
//! `<script>` goes and `data-src` images get a real `src`. The rewriting uses a real HTML
//! tokenizer (`lol_html`), never regexes over HTML.

use std::cell::RefCell;
use std::rc::Rc;

use lol_html::html_content::Element;
use lol_html::{doc_text, ElementContentHandlers, HtmlRewriter, Selector, Settings};
use pulldown_cmark::{html, Options, Parser};
use std::borrow::Cow;
use std::sync::LazyLock;
use url::Url;

use super::refs::Resolver;

/// How the body text is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    Markdown,
    Html,
}

/// Renders a Markdown body (CommonMark + tables, strikethrough, footnotes; raw HTML passes).
pub fn markdown_to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM;
    let parser = Parser::new_ext(text, options);
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    html::push_html(&mut out, parser);
    out
}

/// Why a body's HTML could not be rewritten (the post is rejected rather than published with
/// scripts or relative links left in).
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// Markup so ambiguous that lol_html cannot match selectors in it safely.
    #[error(transparent)]
    Rewrite(#[from] lol_html::errors::RewritingError),
    #[error("the rewritten HTML is not UTF-8: {0}")]
    NotUtf8(simdutf8::compat::Utf8Error),
}

/// The result of rewriting the HTML: content for feeds plus its first paragraph as text.
pub struct Rewritten {
    pub html: String,
    pub first_paragraph: String,
    /// The absolute `http(s)` source of the body's first `<img>` (after lazy images got a
    /// real one): the lead image when `feeds.lead_image = "first"`.
    pub first_image: Option<String>,
}

/// [`rewrite_with`] for a post with no assets: every URL resolved against `base`.
#[cfg(test)]
pub fn rewrite(html: &str, base: &Url) -> Result<Rewritten, HtmlError> {
    rewrite_with(html, &Resolver::plain(base))
}

/// Makes URLs absolute (`resolver`: against the post's URL, or an asset's, see
/// [`super::refs`]), fixes lazy images, drops scripts, and extracts the first
/// non-empty paragraph's text.
///
/// Two passes over the input, each cheap for what it does: the rewrite has no text handler, so
/// lol_html passes text through as raw bytes instead of decoding and re-encoding all of it;
/// the text pass stops at the end of the first paragraph, usually within the first kilobyte.
/// lol_html compiles its selectors into a matching program for every document: with the forty
/// type selectors used before, that compilation alone was 7% of a cold build. The rewrite now
/// matches one short selector list of the elements it may change, the text pass the universal
/// selector, and both dispatch on the tag name here.
pub fn rewrite_with(html: &str, resolver: &Resolver<'_>) -> Result<Rewritten, HtmlError> {
    let first_image: RefCell<Option<String>> = RefCell::default();
    let settings = settings().append_element_content_handler((
        Cow::Borrowed(&*FIXED),
        ElementContentHandlers::default().element(|el: &mut Element<'_, '_>| {
            fix_element(el, resolver);
            if el.tag_name() == "img" && first_image.borrow().is_none() {
                let src = el
                    .get_attribute("src")
                    .filter(|s| s.starts_with("https://") || s.starts_with("http://"));
                *first_image.borrow_mut() = src;
            }
            Ok(())
        }),
    ));
    // The output is collected as bytes and checked as UTF-8 once at the end, not chunk by
    // chunk as `rewrite_str` does.
    let mut out = Vec::with_capacity(html.len() + html.len() / 8);
    let mut rewriter = HtmlRewriter::new(settings, |chunk: &[u8]| out.extend_from_slice(chunk));
    // lol_html fails only on markup so ambiguous that selectors cannot be matched safely; the
    // post is then rejected rather than published with scripts or relative links left in.
    rewriter
        .write(html.as_bytes())
        .and_then(|()| rewriter.end())?;
    let out = simdutf8::compat::from_utf8(&out).map_err(HtmlError::NotUtf8)?;
    Ok(Rewritten {
        // Character references (`&#x1;`) decode to characters XML cannot carry: remove them.
        // `out` borrows the rewriter's buffer, so this makes the body's one copy.
        html: crate::text::clean_text(out),
        first_paragraph: first_paragraph(html)?,
        first_image: first_image.into_inner(),
    })
}

/// Both passes parse alike: as `rewrite_str` does, which this module used before, so
/// `<esi:…>` tags are void elements.
fn settings<'h>() -> Settings<'h, 'static> {
    Settings::new().with_enable_esi_tags(true)
}

/// The universal selector, parsed once.
static ANY: LazyLock<Selector> = LazyLock::new(|| "*".parse().expect("a valid selector"));

/// The elements the rewrite may change, in one selector list, parsed once.
static FIXED: LazyLock<Selector> = LazyLock::new(|| {
    "script, img, [href], [src], [srcset], [poster], [data-src], [data-srcset], [longdesc], \
     [cite], object[data], [action], [formaction], [background], [xlink\\:href]"
        .parse()
        .expect("a valid selector")
});

/// What the rewrite does to one element: scripts go, lazy images get a real source, URL
/// attributes become absolute.
fn fix_element(el: &mut Element<'_, '_>, resolver: &Resolver<'_>) {
    let name = el.tag_name();
    if name == "script" {
        el.remove();
        return;
    }
    if name == "img" {
        fix_lazy_image(el, resolver);
    }
    // `data-src`/`data-srcset` too: a reader that runs the page's lazy loader (or a validator
    // reading them) must not meet a relative or protocol-relative URL.
    for &attr in URL_ATTRIBUTES {
        // `data` names a URL on `<object>` only; elsewhere it is the author's own attribute.
        if attr == "data" && name != "object" {
            continue;
        }
        if let Some(raw) = el.get_attribute(attr) {
            if is_svg_local_reference(&name, attr, &raw) {
                continue;
            }
            let abs = absolute_attribute(&raw, attr.ends_with("srcset"), resolver);
            if abs != raw {
                // Attribute names here are fixed, valid names: setting cannot fail.
                let _ = el.set_attribute(attr, &abs);
            }
        }
    }
}

/// True for an SVG element's reference to an element of the same inline SVG (`<use
/// href="#icon">`, a gradient's `href="#base"`): made absolute, it names another document,
/// which a reader fetches cross-origin, if at all, and the icon or gradient is gone. Links
/// (`<a>`) are navigation, not such a reference, and are resolved like any other.
fn is_svg_local_reference(element: &str, attr: &str, raw: &str) -> bool {
    matches!(attr, "href" | "xlink:href")
        && raw.trim_start().starts_with('#')
        && SVG_REFERRING.contains(&element)
}

/// SVG elements whose `href` names an element (lol_html reports tag names lowercased).
const SVG_REFERRING: &[&str] = &[
    "use",
    "textpath",
    "lineargradient",
    "radialgradient",
    "pattern",
    "filter",
    "feimage",
    "mpath",
    "animate",
    "animatemotion",
    "animatetransform",
    "set",
    "tref",
];

/// Every attribute whose value is a URL (or, `*srcset`, a list of them) in HTML 4 and 5, in
/// SVG (`xlink:href`; plain `href` is in the list already) and in lazy loaders. A reader shows
/// the item away from the site, so any of them left relative leads nowhere (the W3C validator's
/// `ContainsRelRef`). `data` counts on `<object>` only.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "poster",
    "data-src",
    "data-srcset",
    "longdesc",
    "cite",
    "data",
    "action",
    "formaction",
    "background",
    "xlink:href",
];

/// The absolute form of one attribute's raw value, as it is to be written back.
///
/// lol_html hands over values as written, character references and all: `a?x=1&amp;y=2`,
/// or `&#47;&#47;host/x` (a protocol-relative URL in disguise). The value is decoded before it
/// is resolved, so the URL resolved is the one a browser sees, and `&` and `"` are escaped
/// again on the way out (lol_html escapes nothing but quotes when it writes a value).
fn absolute_attribute(raw: &str, is_srcset: bool, resolver: &Resolver<'_>) -> String {
    let decoded = html_escape::decode_html_entities(raw);
    let abs = if is_srcset {
        resolver.srcset(&decoded)
    } else {
        resolver.url(&decoded)
    };
    if abs == decoded {
        // Unchanged: keep the author's spelling of it.
        return raw.to_owned();
    }
    html_escape::encode_double_quoted_attribute(&abs).into_owned()
}

/// The plain text of the first non-empty paragraph; when the body has none, of the start of
/// the body. Script and style text is not prose and is left out.
fn first_paragraph(html: &str) -> Result<String, HtmlError> {
    text_pass(html, false)
}

/// The plain text of all of `html` (up to [`FALLBACK_TEXT`] bytes of it): an excerpt's text.
pub fn plain_text_of(html: &str) -> Result<String, HtmlError> {
    text_pass(html, true)
}

/// The text pass of [`first_paragraph`]; `whole`: never stop at a paragraph, the text of all
/// of the start of `html`.
fn text_pass(html: &str, whole: bool) -> Result<String, HtmlError> {
    #[derive(Default)]
    struct TextState {
        whole: bool,
        in_p: usize,
        first_p: String,
        found: bool,
        all: String,
        in_skip: usize,
    }
    impl TextState {
        /// A block boundary (`<br>`, `<li>`, `</div>` …) separates words in the plain text.
        fn boundary(&mut self) {
            if self.in_p > 0 && !self.found {
                self.first_p.push(' ');
            }
            if !self.found && self.all.len() < FALLBACK_TEXT {
                self.all.push(' ');
            }
        }
    }
    /// Runs `at_end` when the element's end tag is reached (at once for an element that has
    /// none, such as a void or self-closed one).
    fn on_end(
        el: &mut Element<'_, '_>,
        state: &Rc<RefCell<TextState>>,
        at_end: fn(&mut TextState),
    ) {
        match el.end_tag_handlers() {
            Some(handlers) => {
                let st = Rc::clone(state);
                handlers.push(Box::new(move |_end| {
                    at_end(&mut st.borrow_mut());
                    Ok(())
                }));
            }
            None => at_end(&mut state.borrow_mut()),
        }
    }
    let state = Rc::new(RefCell::new(TextState {
        whole,
        ..TextState::default()
    }));
    let el_state = Rc::clone(&state);
    let text_state = Rc::clone(&state);
    let settings = settings()
        .append_element_content_handler((
            Cow::Borrowed(&*ANY),
            ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
                let name = el.tag_name();
                if name == "p" {
                    el_state.borrow_mut().in_p += 1;
                    on_end(el, &el_state, |s| {
                        s.in_p = s.in_p.saturating_sub(1);
                        if s.in_p == 0 && !s.found && !s.whole && !s.first_p.trim().is_empty() {
                            s.found = true;
                        }
                    });
                } else if BLOCKS.contains(&name.as_str()) {
                    el_state.borrow_mut().boundary();
                    if el.end_tag_handlers().is_some() {
                        on_end(el, &el_state, TextState::boundary);
                    }
                } else if SKIPPED.contains(&name.as_str()) {
                    el_state.borrow_mut().in_skip += 1;
                    on_end(el, &el_state, |s| s.in_skip = s.in_skip.saturating_sub(1));
                }
                Ok(())
            }),
        ))
        .append_document_content_handler(doc_text!(move |t| {
            let mut s = text_state.borrow_mut();
            if s.in_skip > 0 {
                return Ok(());
            }
            let chunk = t.as_str();
            if s.in_p > 0 && !s.found {
                s.first_p.push_str(chunk);
            }
            // Enough text for a summary when the body has no paragraph.
            if !s.found && s.all.len() < FALLBACK_TEXT {
                s.all.push_str(chunk);
            }
            Ok(())
        }));
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    let mut rest = html.as_bytes();
    while !rest.is_empty() && !state.borrow().found {
        let (chunk, tail) = rest.split_at(rest.len().min(TEXT_CHUNK));
        rewriter.write(chunk)?;
        rest = tail;
    }
    if !state.borrow().found {
        rewriter.end()?;
    }
    let s = state.borrow();
    let raw = if !whole && (s.found || !s.first_p.trim().is_empty()) {
        &s.first_p
    } else {
        &s.all
    };
    // Character references (`&#x1;`) decode to characters XML cannot carry: remove them too.
    Ok(crate::text::clean_text(&plain_text(raw)))
}

/// How much text of a body without a paragraph is kept for its summary (bytes, whole text
/// chunks): far more than a summary needs, so that markup-heavy or whitespace-heavy text
/// still yields one.
const FALLBACK_TEXT: usize = 64 * 1024;

/// How much of the body the text pass reads at a time before it looks whether it is done.
const TEXT_CHUNK: usize = 1024;

/// Elements whose text is not prose.
const SKIPPED: [&str; 4] = ["script", "style", "template", "noscript"];

/// Elements whose edges separate words: text on either side of them is not one word.
const BLOCKS: [&str; 33] = [
    "br",
    "hr",
    "div",
    "li",
    "dt",
    "dd",
    "td",
    "th",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "nav",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "main",
];

/// Collapses whitespace and decodes entities.
fn plain_text(raw_html_text: &str) -> String {
    let decoded = html_escape::decode_html_entities(raw_html_text);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A lazy-load image gets its real source when `src` is missing or a placeholder.
///
/// The new value is made absolute here, as it is set; [`fix_element`] then makes every URL
/// attribute absolute, which leaves an absolute one as it is.
fn fix_lazy_image(el: &mut Element<'_, '_>, resolver: &Resolver<'_>) {
    if let Some(data_src) = el.get_attribute("data-src") {
        let src = el.get_attribute("src");
        if src.as_deref().is_none_or(is_placeholder) && !data_src.trim().is_empty() {
            let src = absolute_attribute(data_src.trim(), false, resolver);
            let _ = el.set_attribute("src", &src);
        }
    }
    if let Some(data_srcset) = el.get_attribute("data-srcset") {
        if el.get_attribute("srcset").is_none() && !data_srcset.trim().is_empty() {
            let srcset = absolute_attribute(data_srcset.trim(), true, resolver);
            let _ = el.set_attribute("srcset", &srcset);
        }
    }
}

/// True for an empty `src`, a `data:` URI, or a file named like a spacer/placeholder.
pub fn is_placeholder(src: &str) -> bool {
    let s = src.trim().to_ascii_lowercase();
    if s.is_empty() || s.starts_with("data:") || s == "#" || s == "about:blank" {
        return true;
    }
    let name = s
        .rsplit('/')
        .next()
        .unwrap_or(&s)
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    [
        "placeholder",
        "blank",
        "spacer",
        "loading",
        "lazy",
        "pixel",
        "transparent",
        "grey.gif",
        "gray.gif",
        "1x1",
    ]
    .iter()
    .any(|p| name.contains(p))
}

/// Resolves `value` against `base`; leaves absolute URLs, fragments and non-HTTP schemes alone.
pub fn absolute_url(value: &str, base: &Url) -> String {
    let v = value.trim();
    // A fragment-only link (`#fn1`, a footnote) resolves against the post's URL too: in a
    // feed reader the item is not at the post's address, and a relative `#x` leads nowhere.
    if v.is_empty() {
        return value.to_owned();
    }
    if has_scheme(v) {
        return v.to_owned();
    }
    match base.join(v) {
        Ok(u) => u.to_string(),
        Err(_) => value.to_owned(),
    }
}

/// True when `v` starts with `scheme:` (so it is already absolute: http:, mailto:, data:, …).
pub(super) fn has_scheme(v: &str) -> bool {
    match v.find(':') {
        Some(i) if i > 0 => {
            let scheme = &v[..i];
            scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        }
        _ => false,
    }
}

/// The last line of the body that is a bare autolink `<http…>`, as SPEC §1 defines the source.
pub fn trailing_autolink(body: &str) -> Option<String> {
    body.lines().rev().find_map(|line| {
        let l = line.trim();
        let inner = l.strip_prefix('<')?.strip_suffix('>')?;
        if !(inner.starts_with("http://") || inner.starts_with("https://")) {
            return None;
        }
        if inner.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
            return None;
        }
        Url::parse(inner).ok().map(|u| u.to_string())
    })
}

/// Cuts `text` near `max` characters at a word boundary (or a character boundary for scripts
/// without spaces) and marks the cut with `…`.
pub fn truncate_summary(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let cut_byte = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut_byte];
    // Prefer the last space in the final fifth of the window.
    let min_keep = text.char_indices().nth(max * 4 / 5).map_or(0, |(i, _)| i);
    let cut = match head.rfind(char::is_whitespace) {
        Some(i) if i >= min_keep => &head[..i],
        _ => head,
    };
    let cut = cut.trim_end_matches(|c: char| c.is_whitespace() || ",;:，、；：".contains(c));
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://site.example/news/2021/12/21/port.html").unwrap()
    }

    #[test]
    fn absolutizes_every_attribute() {
        let html = r##"<a href="//news.example.com/x.html">a</a><img src="/images/p.jpg" srcset="a.jpg 1x, /b.jpg 2x"><video poster="p.png"></video><a href="https://abs.example/">b</a><a href="mailto:x@y">m</a><a href="#fn1">f</a>"##;
        let out = rewrite(html, &base()).unwrap().html;
        assert!(
            out.contains(r#"href="https://news.example.com/x.html""#),
            "{out}"
        );
        assert!(
            out.contains(r#"src="https://site.example/images/p.jpg""#),
            "{out}"
        );
        assert!(
            out.contains(r#"srcset="https://site.example/news/2021/12/21/a.jpg 1x, https://site.example/b.jpg 2x""#),
            "{out}"
        );
        assert!(
            out.contains(r#"poster="https://site.example/news/2021/12/21/p.png""#),
            "{out}"
        );
        assert!(out.contains(r#"href="https://abs.example/""#));
        assert!(out.contains(r#"href="mailto:x@y""#));
        // A footnote link: against the post's URL, so it works in a reader too.
        let fn1 = base().join("#fn1").unwrap();
        assert!(out.contains(&format!("href=\"{fn1}\"")), "{out}");
    }

    #[test]
    fn absolutizes_the_less_common_url_attributes() {
        let html = r##"<blockquote cite="/src.html"><q cite="q.html">q</q></blockquote><del cite="//d.example/why">x</del><ins cite="#ins">y</ins><img src="/i.png" longdesc="desc.html"><object data="movie.swf"><embed src="e.swf"></object><video poster="p.png"><source src="v.webm" srcset="v1.webp 1x"><track src="subs.vtt"></video><map><area href="area.html"></map><form action="/post"><button formaction="go">b</button></form><table background="bg.png"></table><svg><a xlink:href="svg.html"><image href="svg.png"/></a></svg><div data="not-a-url"></div>"##;
        let out = rewrite(html, &base()).unwrap().html;
        let dir = "https://site.example/news/2021/12/21";
        for expected in [
            r#"cite="https://site.example/src.html""#.to_owned(),
            format!(r#"cite="{dir}/q.html""#),
            r#"cite="https://d.example/why""#.to_owned(),
            format!(r#"cite="{dir}/port.html#ins""#),
            format!(r#"longdesc="{dir}/desc.html""#),
            format!(r#"data="{dir}/movie.swf""#),
            format!(r#"src="{dir}/e.swf""#),
            format!(r#"src="{dir}/v.webm""#),
            format!(r#"srcset="{dir}/v1.webp 1x""#),
            format!(r#"src="{dir}/subs.vtt""#),
            format!(r#"href="{dir}/area.html""#),
            r#"action="https://site.example/post""#.to_owned(),
            format!(r#"formaction="{dir}/go""#),
            format!(r#"background="{dir}/bg.png""#),
            format!(r#"xlink:href="{dir}/svg.html""#),
            format!(r#"href="{dir}/svg.png""#),
            // `data` is a URL on `<object>` only.
            r#"data="not-a-url""#.to_owned(),
        ] {
            assert!(out.contains(&expected), "{expected} in {out}");
        }
    }

    #[test]
    fn svg_references_within_the_svg_stay_local() {
        let html = r##"<svg><defs><linearGradient id="g"/><linearGradient href="#g" id="h"/></defs><use href="#icon"/><use xlink:href="#icon"/><use href="sprites.svg#icon"/><a href="#top"><text>t</text></a></svg>"##;
        let out = rewrite(html, &base()).unwrap().html;
        assert!(out.contains(r##"<linearGradient href="#g""##), "{out}");
        assert!(
            out.contains(r##"<use href="#icon"/><use xlink:href="#icon"/>"##),
            "{out}"
        );
        let page = "https://site.example/news/2021/12/21";
        assert!(
            out.contains(&format!(r#"<use href="{page}/sprites.svg#icon""#)),
            "{out}"
        );
        assert!(
            out.contains(&format!(r#"<a href="{page}/port.html#top">"#)),
            "{out}"
        );
    }

    #[test]
    fn character_references_in_urls() {
        // Decoded before resolving (`&#47;&#47;` is `//`, `&#58;` a scheme's colon), escaped
        // again on output (`&` as `&amp;`); an absolute one is left as written.
        let html = r#"<a href="&#47;&#47;cdn.example/a?x=1&amp;y=2">a</a><a href="https&#58;//abs.example/?a=1&amp;b=2">b</a><a href="page.html?q=1&amp;r=&quot;2&quot;">c</a><img data-src="/lazy.png?w=1&amp;h=2">"#;
        let out = rewrite(html, &base()).unwrap().html;
        assert!(
            out.contains(r#"href="https://cdn.example/a?x=1&amp;y=2""#),
            "{out}"
        );
        assert!(
            out.contains(r#"href="https&#58;//abs.example/?a=1&amp;b=2""#),
            "{out}"
        );
        assert!(
            out.contains(
                r#"href="https://site.example/news/2021/12/21/page.html?q=1&amp;r=%222%22""#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#"src="https://site.example/lazy.png?w=1&amp;h=2""#),
            "{out}"
        );
    }

    #[test]
    fn protocol_relative_takes_site_scheme() {
        let http = Url::parse("http://127.0.0.1:8080/a/b.html").unwrap();
        assert_eq!(absolute_url("//h.example/x", &http), "http://h.example/x");
        assert_eq!(
            absolute_url("//h.example/x", &base()),
            "https://h.example/x"
        );
        assert_eq!(
            absolute_url("../spec.html", &http),
            "http://127.0.0.1:8080/spec.html"
        );
    }

    #[test]
    fn lazy_images_and_scripts() {
        let html = r#"<p>x<script>alert(1)</script></p><img data-src="//img.example/1.jpg" src="data:image/gif;base64,R0l"><img data-src="/2.jpg"><img data-src="/3.jpg" src="/real.jpg"><SCRIPT src="x.js"></SCRIPT>"#;
        let out = rewrite(html, &base()).unwrap().html;
        assert!(!out.to_lowercase().contains("<script"), "{out}");
        assert!(!out.contains("alert"), "{out}");
        assert!(out.contains(r#"src="https://img.example/1.jpg""#), "{out}");
        assert!(out.contains(r#"src="https://site.example/2.jpg""#), "{out}");
        assert!(
            out.contains(r#"src="https://site.example/real.jpg""#),
            "{out}"
        );
    }

    #[test]
    fn first_paragraph_text() {
        let html = "<h1>Head</h1><p>  </p><p>本报讯 <b>今年</b> &amp; more\n text</p><p>second</p>";
        assert_eq!(
            rewrite(html, &base()).unwrap().first_paragraph,
            "本报讯 今年 & more text"
        );
        let no_p = "<div>just <i>text</i></div>";
        assert_eq!(rewrite(no_p, &base()).unwrap().first_paragraph, "just text");
    }

    #[test]
    fn first_paragraph_read_in_chunks() {
        // The text pass reads 1 KiB at a time: a paragraph that spans chunks, with a
        // three-byte character cut by the boundary, comes out whole.
        let long = "港".repeat(1500);
        let html = format!("<p>{long}</p><p>second</p>");
        assert!(!html.is_char_boundary(TEXT_CHUNK));
        assert_eq!(rewrite(&html, &base()).unwrap().first_paragraph, long);
        // A paragraph that starts after the first chunk, behind skipped text.
        let html = format!(
            "<script>{}</script><div>a<br>b</div><p>found</p>",
            "x".repeat(3000)
        );
        assert_eq!(rewrite(&html, &base()).unwrap().first_paragraph, "found");
        // Whitespace before the text of a body without a paragraph does not crowd it out.
        let html = format!("<div>{}x</div>", " ".repeat(10_000));
        assert_eq!(rewrite(&html, &base()).unwrap().first_paragraph, "x");
        // No paragraph at all: the start of the text, blocks separating words.
        let html = format!(
            "<div>a<br>b</div><ul><li>c</li></ul>{}",
            "<i>d</i>".repeat(500)
        );
        let text = rewrite(&html, &base()).unwrap().first_paragraph;
        assert!(text.starts_with("a b c dddd"), "{text}");
    }

    #[test]
    fn the_text_pass_stops_after_the_first_paragraph() {
        // Markup lol_html refuses in strict mode (its own example of an ambiguous state): the
        // text pass never reaches it when a paragraph comes first, and does otherwise.
        let refused = "<select><xmp><script>\"use strict\";</script></select>";
        assert!(rewrite(refused, &base()).is_err());
        let filler = "<div>filler</div>".repeat(200);
        let early = format!("<p>first</p>{filler}{refused}");
        assert_eq!(first_paragraph(&early).unwrap(), "first");
        let late = format!("{filler}{refused}<p>first</p>");
        assert!(first_paragraph(&late).is_err());
    }

    #[test]
    fn markdown_extensions() {
        let out = markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ new[^1]\n\n[^1]: note\n\n<http://x.example/y>\n");
        assert!(out.contains("<table>"), "{out}");
        assert!(out.contains("<del>old</del>"), "{out}");
        assert!(out.contains("footnote"), "{out}");
        assert!(out.contains(r#"<a href="http://x.example/y">"#), "{out}");
    }

    #[test]
    fn source_autolink_is_last_bare_line() {
        let body = "<p>x</p>\n\n<http://a.example/1>\n\n<https://b.example/2?x=1&y=2>  \n\n[back](//n.example/)\n";
        assert_eq!(
            trailing_autolink(body).as_deref(),
            Some("https://b.example/2?x=1&y=2")
        );
        assert_eq!(trailing_autolink("see <http://a.example/> inline\n"), None);
        assert_eq!(trailing_autolink("<mailto:x@y>\n"), None);
    }

    #[test]
    fn summary_cut() {
        let long = "word ".repeat(100);
        let s = truncate_summary(long.trim(), 300);
        assert!(s.ends_with("word…"), "{s}");
        assert!(s.chars().count() <= 301);
        let zh = "港".repeat(400);
        let s = truncate_summary(&zh, 300);
        assert_eq!(s.chars().count(), 301);
        assert_eq!(truncate_summary("short", 300), "short");
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder(""));
        assert!(is_placeholder("data:image/gif;base64,xx"));
        assert!(is_placeholder("/img/placeholder.png"));
        assert!(is_placeholder("/img/blank.gif?x=1"));
        assert!(!is_placeholder("/img/photo.jpg"));
    }
}
