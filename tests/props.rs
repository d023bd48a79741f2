//! Property tests: arbitrary titles, categories, tags and bodies — control characters,
//! U+FFFE/U+FFFF, `]]>`, markup, quotes, emoji, right-to-left text, ~100 KB strings — always
//! give documents that are well-formed and that read back with the title the post gave,
//! minus only the characters XML 1.0 cannot carry.
//!
//! Runs through the library (parse → listing → render), not the binary, so a case takes
//! milliseconds. `PROPTEST_CASES` overrides the case count (default 64).

use std::path::Path;
use std::sync::Arc;

use feedsmith::internals::config::Config;
use feedsmith::internals::feed::SiteMeta;
use feedsmith::internals::post::body::Markup;
use feedsmith::internals::post::{parse_post, Post};
use feedsmith::internals::render::{render_site, Rendered};
use feedsmith::internals::site::{ListOptions, Listing};
use proptest::prelude::*;
use serde_json::Value;
use serde_yaml_ng::{Mapping, Value as Yaml};

use crate::common::xmltree::{self, is_xml_char, Node};

/// The file every generated post lives in (its name gives the fallback title "prop post").
const REL: &str = "2024-01-02-prop-post.md";
const FALLBACK_TITLE: &str = "prop post";

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

/// Characters feeds get wrong: every C0 control, the two non-characters XML forbids, markup and
/// quoting characters, emoji (with modifiers and ZWJ), RTL scripts and bidi controls, CJK,
/// Unicode whitespace — plus any char at all.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        3 => proptest::char::range('\u{0}', '\u{1F}'),
        1 => Just('\u{7F}'),
        1 => prop_oneof![Just('\u{FFFE}'), Just('\u{FFFF}'), Just('\u{FFFD}'), Just('\u{FEFF}')],
        2 => proptest::sample::select(vec!['<', '>', '&', '"', '\'', ']', '[', '!', '-', '`', '*', '#', '\\']),
        1 => proptest::sample::select(vec!['😀', '👍', '\u{1F3FD}', '\u{200D}', '👩', '🚀', '\u{FE0F}']),
        2 => proptest::sample::select(vec!['م', 'ر', 'ح', 'ب', 'ا', 'ש', 'ל', 'ו', 'ם', '\u{200F}', '\u{202E}', '\u{2067}']),
        1 => proptest::sample::select(vec!['港', '口', '厦', '门', '。', '，', '…']),
        1 => proptest::sample::select(vec![' ', '\u{A0}', '\u{2028}', '\u{2029}', '\u{3000}', '\u{85}']),
        2 => any::<char>(),
    ]
}

/// Multi-character fragments that break naive escaping.
fn nasty_fragment() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "]]>",
        "<![CDATA[",
        "]]]]><![CDATA[>",
        "&amp;",
        "&#0;",
        "&#x1;",
        "&lt;",
        "</title>",
        "<script>alert(1)</script>",
        "\"quoted\"",
        "---",
        "...",
        "\r\n",
        "مرحبا بالعالم",
        "שלום עולם",
        "👩‍👩‍👧‍👦",
        "港口吞吐量",
        "<b>bold</b>",
        "<http://a.example/b>",
        "[l](//h.example/x)",
        "%E5%8E",
        "{{ x }}",
        ": - ? | > ! % @ `",
    ])
    .prop_map(str::to_owned)
}

/// A short nasty string.
fn short_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => nasty_char().prop_map(String::from),
            1 => nasty_fragment(),
        ],
        0..max,
    )
    .prop_map(|parts| parts.concat())
}

/// Usually short, sometimes very long (~100 KB: a nasty string repeated).
fn text(max_short: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        12 => short_text(max_short),
        1 => (short_text(24), 1usize..=100_000).prop_map(|(s, target)| {
            let unit = if s.is_empty() { "x]]>\u{1}".to_owned() } else { s };
            let reps = target / unit.len() + 1;
            unit.repeat(reps)
        }),
    ]
}

fn terms() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(short_text(12), 0..4)
}

#[derive(Debug, Clone)]
struct Input {
    title: String,
    categories: Vec<String>,
    tags: Vec<String>,
    body: String,
}

fn input() -> impl Strategy<Value = Input> {
    (text(40), terms(), terms(), text(200)).prop_map(|(title, categories, tags, body)| Input {
        title,
        categories,
        tags,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// The pipeline, through the library.
// ---------------------------------------------------------------------------------------------

fn config() -> Config {
    let mut c = Config::default();
    c.site.url = Some("https://example.com".to_owned());
    c.site.title = "Prop Site".to_owned();
    c.feeds.limit = 0;
    // Long titles of escaped controls can make more YAML than the default 256 KiB front-matter
    // limit (a refusal tested elsewhere): these properties are about rendering.
    c.limits.max_front_matter_bytes = 64 << 20;
    c
}

/// The post file: YAML front matter written by the YAML library (so any string is quoted and
/// escaped correctly), then the raw body.
fn post_file(input: &Input) -> String {
    let list = |v: &[String]| Yaml::Sequence(v.iter().cloned().map(Yaml::String).collect());
    let mut m = Mapping::new();
    m.insert("layout".into(), "post".into());
    m.insert("title".into(), Yaml::String(input.title.clone()));
    m.insert("date".into(), "2024-01-02 03:04:05 +0800".into());
    m.insert("categories".into(), list(&input.categories));
    m.insert("tags".into(), list(&input.tags));
    let yaml = serde_yaml_ng::to_string(&m).expect("YAML serializes");
    format!("---\n{yaml}---\n{}", input.body)
}

fn render(input: &Input) -> Result<(Post, Rendered), TestCaseError> {
    let config = config();
    let ctx = config.parse_context();
    let file = post_file(input);
    let post = parse_post(Path::new(REL), file.as_bytes(), Markup::Markdown, &ctx)
        .map_err(|e| TestCaseError::fail(format!("post rejected: {e}\n--- file ---\n{file}")))?;
    let listing = Listing::new(
        [Arc::new(post.clone())],
        chrono::Utc::now(),
        ListOptions::default(),
    );
    let meta = SiteMeta::from_config(&config);
    Ok((post, render_site(&meta, &listing)))
}

// ---------------------------------------------------------------------------------------------
// The oracle.
// ---------------------------------------------------------------------------------------------

/// What SPEC §2 lets the product drop: characters XML 1.0 does not allow.
fn xml_clean(s: &str) -> String {
    s.chars().filter(|c| is_xml_char(*c)).collect()
}

/// The title rule (post/mod.rs): the front-matter title with leading/trailing whitespace
/// trimmed — nothing inside is collapsed — or, when that leaves nothing, the file-name title.
/// Documents carry it minus the XML-illegal characters, and trimmed again (so removing a
/// character never leaves whitespace at an end).
fn expected_title(raw: &str) -> String {
    // Illegal characters are removed when the post is read, before the fallback applies.
    let cleaned = xml_clean(raw);
    let t = cleaned.trim();
    if t.is_empty() {
        FALLBACK_TITLE.to_owned()
    } else {
        t.to_owned()
    }
}

/// Terms: each trimmed, empty ones dropped, exact duplicates dropped, order kept.
fn expected_terms(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = xml_clean(t).trim().to_owned();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// XML attribute-value normalization (what any conforming parser reports for an attribute
/// written with a literal tab, CR or LF): line ends normalized first, then each one a space.
fn attr_normalized(s: &str) -> String {
    eol_normalized(s).replace(['\t', '\n'], " ")
}

/// A conforming XML parser reports CR and CRLF in text content as LF.
fn eol_normalized(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

fn html_unescape_text(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn short(s: &str) -> String {
    if s.chars().count() <= 200 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(200).collect();
        format!("{head:?}… ({} chars)", s.chars().count())
    }
}

/// Checks every rendered document of one generated post.
fn check(input: &Input) -> Result<(), TestCaseError> {
    let (post, rendered) = render(input)?;
    prop_assert!(
        rendered.failures.is_empty(),
        "documents failed their check and would not be published: {:?}",
        rendered.failures
    );

    let title = expected_title(&input.title);
    let categories: Vec<String> = expected_terms(&input.categories)
        .iter()
        .map(|t| xml_clean(t))
        .collect();
    let tags: Vec<String> = expected_terms(&input.tags)
        .iter()
        .map(|t| xml_clean(t))
        .collect();
    // The summary (derived or given) is whitespace-collapsed text; documents carry it cleaned.
    let summary = xml_clean(&post.summary());
    // A conforming XML parser reads a literal CR as LF.
    let xml_title = eol_normalized(&title);
    let all_terms: Vec<String> = categories.iter().chain(&tags).cloned().collect();
    let mut json_tags: Vec<String> = Vec::new();
    for t in &all_terms {
        if !json_tags.contains(t) {
            json_tags.push(t.clone());
        }
    }

    // Every term with a non-empty slug has its three feeds.
    for (dir, list) in [("categories", &input.categories), ("tags", &input.tags)] {
        for t in expected_terms(list) {
            let slug = feedsmith::internals::slug::slugify(&t);
            if slug.is_empty() {
                continue;
            }
            for f in ["rss.xml", "atom.xml", "feed.json"] {
                let route = format!("/{dir}/{slug}/{f}");
                prop_assert!(rendered.docs.contains_key(&route), "missing {route}");
            }
        }
    }

    let mut content_seen: Option<(String, String)> = None;
    let mut same_content = |route: &str, html: String| -> Result<(), TestCaseError> {
        match &content_seen {
            None => content_seen = Some((route.to_owned(), html)),
            Some((first, want)) => prop_assert!(
                html == *want,
                "content differs between {first} and {route}: {} vs {}",
                short(want),
                short(&html)
            ),
        }
        Ok(())
    };

    for (route, doc) in &rendered.docs {
        let text = std::str::from_utf8(&doc.bytes)
            .map_err(|e| TestCaseError::fail(format!("{route}: not UTF-8: {e}")))?;
        if route.ends_with(".html") {
            continue;
        }
        if route.ends_with(".opml") {
            let root =
                xmltree::parse(text).map_err(|e| TestCaseError::fail(format!("{route}: {e}")))?;
            prop_assert_eq!(root.name.as_str(), "opml");
            continue;
        }
        let parsed = feed_rs::parser::parse(&doc.bytes[..])
            .map_err(|e| TestCaseError::fail(format!("{route}: feed-rs cannot parse: {e}")))?;
        prop_assert_eq!(parsed.entries.len(), 1, "{}: one item", route);
        let entry = &parsed.entries[0];
        let fr_title = entry
            .title
            .as_ref()
            .map(|t| t.content.clone())
            .unwrap_or_default();
        // feed-rs trims titles itself.
        // feed-rs trims titles, and (unlike a conforming XML parser) keeps a literal CR.
        prop_assert!(
            fr_title == title.trim() || fr_title == xml_title.trim(),
            "{}: feed-rs title {} != expected {} (raw title {})",
            route,
            short(&fr_title),
            short(&title),
            short(&input.title)
        );

        if route.ends_with(".json") {
            let v: Value = serde_json::from_str(text)
                .map_err(|e| TestCaseError::fail(format!("{route}: JSON: {e}")))?;
            let item = &v["items"][0];
            prop_assert_eq!(
                item["title"].as_str(),
                Some(title.as_str()),
                "{}: title",
                route
            );
            let got_tags: Vec<String> = item["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            prop_assert_eq!(&got_tags, &json_tags, "{}: tags", route);
            prop_assert_eq!(
                item["summary"].as_str().unwrap_or_default(),
                summary.as_str(),
                "{}: summary",
                route
            );
            let content = item["content_html"].as_str().unwrap_or_default().to_owned();
            prop_assert!(
                content.chars().all(is_xml_char),
                "{}: content_html carries XML-illegal characters the other formats drop",
                route
            );
            same_content(route, content)?;
            continue;
        }

        let root =
            xmltree::parse(text).map_err(|e| TestCaseError::fail(format!("{route}: {e}")))?;
        if route.ends_with("rss.xml") {
            let item = root
                .child("channel")
                .and_then(|c| c.child("item"))
                .ok_or_else(|| TestCaseError::fail(format!("{route}: no item")))?;
            prop_assert_eq!(
                item.child_text("title"),
                Some(xml_title.as_str()),
                "{}: title as a conforming XML parser reads it",
                route
            );
            let cats: Vec<String> = item
                .children_named("category")
                .map(|c| c.text.clone())
                .collect();
            let want: Vec<String> = all_terms.iter().map(|t| eol_normalized(t)).collect();
            prop_assert_eq!(cats, want, "{}: categories", route);
            let desc = item.child_text("description").unwrap_or_default();
            prop_assert_eq!(
                html_unescape_text(desc),
                summary.clone(),
                "{}: description",
                route
            );
            same_content(
                route,
                item.child_text("content:encoded")
                    .unwrap_or_default()
                    .to_owned(),
            )?;
        } else {
            let entry: &Node = root
                .child("entry")
                .ok_or_else(|| TestCaseError::fail(format!("{route}: no entry")))?;
            prop_assert_eq!(
                entry.child_text("title"),
                Some(xml_title.as_str()),
                "{}: title as a conforming XML parser reads it",
                route
            );
            let cats: Vec<String> = entry
                .children_named("category")
                .map(|c| c.attr("term").unwrap_or_default().to_owned())
                .collect();
            let want: Vec<String> = all_terms.iter().map(|t| attr_normalized(t)).collect();
            prop_assert_eq!(cats, want, "{}: category terms", route);
            prop_assert_eq!(
                entry.child_text("summary").unwrap_or_default(),
                summary.as_str(),
                "{}: summary",
                route
            );
            same_content(
                route,
                entry.child_text("content").unwrap_or_default().to_owned(),
            )?;
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 2000,
        // Failures print their minimal input; nothing is written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_posts_give_well_formed_documents_with_their_titles(input in input()) {
        check(&input)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases: the worst inputs, always run (proptest may not draw them).
// ---------------------------------------------------------------------------------------------

fn fixed(title: &str, terms: &[&str], body: &str) {
    let input = Input {
        title: title.to_owned(),
        categories: terms.iter().map(|s| (*s).to_owned()).collect(),
        tags: terms.iter().rev().map(|s| (*s).to_owned()).collect(),
        body: body.to_owned(),
    };
    if let Err(e) = check(&input) {
        panic!(
            "{e}\ninput: title {}, categories {:?}, tags {:?}, body {}",
            short(&input.title),
            input.categories,
            input.tags,
            short(&input.body)
        );
    }
}

#[test]
fn every_c0_control_and_noncharacter() {
    let all: String = ('\u{0}'..='\u{1F}')
        .chain(['\u{FFFE}', '\u{FFFF}'])
        .collect();
    fixed(
        &format!("Before{all}After"),
        &[&format!("tag{all}x"), "plain"],
        &format!("Body {all} text\n\n<p>{all}</p>\n"),
    );
}

#[test]
fn cdata_end_and_markup_everywhere() {
    fixed(
        "]]> <title>&amp;</title> \"q\" 'a' ]]]]><![CDATA[>",
        &["]]>", "<b>", "a&b"],
        "<![CDATA[ x ]]> y\n\n```\n]]>\n```\n\n<p>]]></p>",
    );
}

#[test]
fn rtl_emoji_and_long_strings() {
    let long_title = "مرحبا שלום 👩‍👩‍👧‍👦 ".repeat(4_000);
    let long_body = "港口 ]]> & < \u{1} 😀\n".repeat(6_000);
    fixed(&long_title, &["\u{202E}مرحبا", "שלום"], &long_body);
}

#[test]
fn title_that_is_only_whitespace_or_illegal() {
    fixed("   \t  ", &[], "x");
    fixed("\u{1}\u{2}", &[], "x");
}
