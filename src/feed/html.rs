//! What every HTML page of the site shares (the index, post pages, term pages and the browser
//! view of a feed): the document head and one stylesheet — readable type, responsive, dark by
//! `prefers-color-scheme`. Inline (the pages' CSP allows inline styles, no scripts).

use std::fmt::Write;

use html_escape::encode_double_quoted_attribute as attr;

/// The site's stylesheet, inlined in every page's head.
pub const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1d1f21;--bg:#fdfdfc;--muted:#5f6368;--line:#e3e3e0;\
--accent:#0b57d0;--code:#f3f3f0}\
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e3;--bg:#151617;--muted:#9aa0a6;\
--line:#2e3032;--accent:#8ab4f8;--code:#222426}}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--fg);\
font:1.0625rem/1.65 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif}\
main,header,footer{max-width:44rem;margin:0 auto;padding:0 1.1rem}\
header{padding-top:1.4rem}footer{padding-bottom:2rem;color:var(--muted);font-size:.9em}\
h1,h2,h3{line-height:1.25}h1{font-size:1.9rem;margin:.4rem 0 .6rem}\
h2{font-size:1.3rem;margin-top:2rem}\
a{color:var(--accent);text-underline-offset:.15em}\
img,video,audio,iframe{max-width:100%;height:auto}\
pre,code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code)}\
pre{padding:.8rem;overflow-x:auto;border-radius:.3rem}code{padding:.1em .25em;border-radius:.2rem}\
pre code{padding:0}\
blockquote{margin:1rem 0;padding-left:1rem;border-left:3px solid var(--line);color:var(--muted)}\
.meta,.n{color:var(--muted);font-size:.92em}\
.terms a{margin-right:.7rem}.feeds a{margin-right:.6rem}\
ul.entries{list-style:none;padding:0}ul.entries>li{padding:.9rem 0;border-top:1px solid var(--line)}\
ul.entries h3{margin:0 0 .2rem;font-size:1.12rem}ul.entries p{margin:.25rem 0}\
.subscribe{border:1px solid var(--line);border-radius:.4rem;padding:.4rem 1rem;margin:1rem 0}\
.url{display:block;padding:.5rem .6rem;background:var(--code);border-radius:.3rem;\
font:.92em ui-monospace,monospace;overflow-wrap:anywhere;user-select:all}\
";

/// Opens an HTML page: doctype, `<html lang>`, charset, viewport, `<title>` (`title` is
/// already escaped) and the stylesheet. The caller adds any `<link>`s and closes the head
/// with `</head>`.
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
