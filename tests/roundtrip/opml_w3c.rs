//! `/feeds.opml` against the rules the W3C Feed Validation Service applies to OPML
//! (`feedvalidator/opml.py`), so that a regression shows here rather than on validator.w3.org:
//! only OPML 1.0's head elements, head dates in RFC 822, every outline with `text`, an outline
//! with more than a folder's attributes typed, `type="rss"` with `xmlUrl` and `title`,
//! `type="link"` with `url`, URLs absolute.

use chrono::Datelike;

use super::*;

/// The head elements the validator knows (anything else: "Undefined head element").
const HEAD: &[&str] = &[
    "title",
    "dateCreated",
    "dateModified",
    "ownerName",
    "ownerEmail",
    "expansionState",
    "vertScrollState",
    "windowTop",
    "windowLeft",
    "windowBottom",
    "windowRight",
];

/// The outline attributes the validator knows (anything else: "Unexpected attribute").
const OUTLINE_ATTRIBUTES: &[&str] = &[
    "category",
    "created",
    "description",
    "htmlUrl",
    "isBreakpoint",
    "isComment",
    "language",
    "text",
    "title",
    "type",
    "url",
    "version",
    "xmlUrl",
];

/// Every problem the validator would report on `text`, one line each.
fn w3c_opml_problems(text: &str) -> Vec<String> {
    let root = match xmltree::parse(text) {
        Ok(r) => r,
        Err(e) => return vec![format!("not well-formed: {e}")],
    };
    let mut problems = Vec::new();
    if root.name != "opml" {
        problems.push(format!("root element {}", root.name));
    }
    if !matches!(root.attr("version"), Some("1.0" | "1.1" | "2.0")) {
        problems.push(format!("opml version {:?}", root.attr("version")));
    }
    match root.child("head") {
        None => problems.push("no head".into()),
        Some(head) => {
            for e in &head.children {
                if !HEAD.contains(&e.name.as_str()) {
                    problems.push(format!("Undefined head element: {}", e.name));
                }
                if matches!(e.name.as_str(), "dateCreated" | "dateModified")
                    && DateTime::parse_from_rfc2822(e.text.trim()).is_err()
                {
                    problems.push(format!("{}: not RFC 822: {:?}", e.name, e.text));
                }
            }
        }
    }
    match root.child("body") {
        Some(body) if body.child("outline").is_some() => {
            for o in body.children_named("outline") {
                outline_problems(o, &mut problems);
            }
        }
        _ => problems.push("body without an outline".into()),
    }
    problems
}

fn outline_problems(o: &Node, problems: &mut Vec<String>) {
    let text = o.attr("text").unwrap_or("");
    let name = |what: &str| format!("outline {text:?}: {what}");
    if o.attr("text").is_none() {
        problems.push(name("MissingAttribute text"));
    }
    for (k, _) in &o.attrs {
        if !OUTLINE_ATTRIBUTES.contains(&k.as_str()) {
            problems.push(name(&format!("unexpected attribute {k}")));
        }
    }
    match o.attr("type").map(str::to_ascii_lowercase).as_deref() {
        Some("rss") => {
            if o.attr("xmlUrl").is_none() {
                problems.push(name("MissingXmlURL"));
            }
            if o.attr("title").is_none() {
                problems.push(name("MissingTitleAttr"));
            }
        }
        Some("link") if o.attr("url").is_none() => problems.push(name("MissingUrlAttr")),
        Some(_) => {}
        None => {
            let typed = [
                "description",
                "htmlUrl",
                "language",
                "title",
                "version",
                "xmlUrl",
            ];
            if o.attrs.len() > 1 && typed.iter().any(|a| o.attr(a).is_some()) {
                problems.push(name("MissingOutlineType"));
            }
        }
    }
    for a in ["htmlUrl", "xmlUrl", "url"] {
        if let Some(v) = o.attr(a) {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                problems.push(name(&format!("{a} not absolute: {v:?}")));
            }
        }
    }
    for child in &o.children {
        if child.name == "outline" {
            outline_problems(child, problems);
        } else {
            problems.push(name(&format!("child element {}", child.name)));
        }
    }
}

#[test]
fn opml_has_no_w3c_errors_or_warnings() {
    let site = TempSite::new();
    write_fixture(&site);
    build_ok(&site, &[]);
    let problems = w3c_opml_problems(&site.read_out("feeds.opml"));
    assert!(problems.is_empty(), "{problems:#?}");
    // Atom only: the outlines point at Atom feeds and stay typed.
    let atom = TempSite::new();
    write_fixture(&atom);
    std::fs::write(
        atom.root().join("feedsmith.toml"),
        format!("{CONFIG}\n[feeds]\nformats = [\"atom\"]\n"),
    )
    .expect("write config");
    build_ok(&atom, &[]);
    let problems = w3c_opml_problems(&atom.read_out("feeds.opml"));
    assert!(problems.is_empty(), "atom only: {problems:#?}");
}

#[test]
fn opml_of_a_site_without_posts_is_valid() {
    let site = TempSite::new();
    std::fs::create_dir_all(site.posts()).expect("posts dir");
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = site.read_out("feeds.opml");
    let problems = w3c_opml_problems(&text);
    assert!(problems.is_empty(), "{problems:#?}");
    // No post, no date to take: still none before 1990, the validator's "Implausible date".
    let root = xmltree::parse(&text).expect("OPML parses");
    let modified = root
        .child("head")
        .and_then(|h| h.child_text("dateModified"))
        .map(|d| DateTime::parse_from_rfc2822(d.trim()).expect("RFC 822"));
    if let Some(d) = modified {
        assert!(d.year() >= 1990, "implausible dateModified {d}");
    }
}

#[test]
fn the_opml_checker_reports_what_the_validator_did() {
    // The two messages issue 17 quotes from validator.w3.org: a `docs` head element and an
    // untyped outline with a title; and a feed outline without its URL.
    let bad = r#"<?xml version="1.0"?><opml version="2.0"><head><title>t</title><docs>http://opml.org/spec2.opml</docs><dateModified>2021-12-21</dateModified></head><body><outline text="Tags" title="Tags"><outline text="x" type="rss" title="x"/></outline></body></opml>"#;
    let problems = w3c_opml_problems(bad);
    let has = |s: &str| problems.iter().any(|p| p.contains(s));
    assert!(has("Undefined head element: docs"), "{problems:#?}");
    assert!(has("dateModified: not RFC 822"), "{problems:#?}");
    assert!(has("MissingOutlineType"), "{problems:#?}");
    assert!(has("MissingXmlURL"), "{problems:#?}");
    assert_eq!(problems.len(), 4, "{problems:#?}");
}
