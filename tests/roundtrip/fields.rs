//! Every feed document read back field by field, with and without a limit.

use super::*;

// ---------------------------------------------------------------------------------------------
// Checks.
// ---------------------------------------------------------------------------------------------

/// Every URL-bearing attribute in item content must be absolute (or a fragment / mailto).
fn assert_absolute_links(ctx: &str, html: &str) {
    // (Leading space: `data-src` is not one of the attributes SPEC §2 rewrites.)
    assert!(
        !html.contains(" href=\"//"),
        "{ctx}: protocol-relative href left:\n{html}"
    );
    assert!(
        !html.contains(" src=\"/"),
        "{ctx}: site-relative src left:\n{html}"
    );
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "{ctx}: <script> left:\n{html}"
    );
    for attr in [" href=\"", " src=\"", " poster=\"", " srcset=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            let after = &rest[i + attr.len()..];
            let value = &after[..after.find('"').unwrap_or(after.len())];
            let urls: Vec<&str> = if attr == " srcset=\"" {
                value
                    .split(',')
                    .map(|c| c.split_whitespace().next().unwrap_or(""))
                    .collect()
            } else {
                vec![value]
            };
            for u in urls {
                assert!(
                    u.starts_with("https://")
                        || u.starts_with("http://")
                        || u.starts_with("mailto:")
                        || u.starts_with('#'),
                    "{ctx}: {attr}{value}\" is not absolute in:\n{html}"
                );
            }
            rest = after;
        }
    }
}

fn assert_content(ctx: &str, w: &Want, html: &str) {
    assert!(!html.trim().is_empty(), "{ctx}: empty content");
    assert_absolute_links(ctx, html);
    for s in w.content_has {
        assert!(html.contains(s), "{ctx}: content lacks {s:?}:\n{html}");
    }
    for s in w.content_lacks {
        assert!(!html.contains(s), "{ctx}: content still has {s:?}:\n{html}");
    }
}

/// Atom dates are RFC 3339 with the post's own offset; UTC may be written `Z` or `+00:00`.
fn assert_rfc3339_raw(ctx: &str, got: &str, want: &str) {
    let utc_alt = want
        .strip_suffix('Z')
        .map(|s| format!("{s}+00:00"))
        .unwrap_or_default();
    assert!(
        got == want || got == utc_alt,
        "{ctx}: raw date {got:?}, expected {want:?} (the post's own offset)"
    );
}

fn terms_of(w: &Want) -> Vec<(&'static str, Kind)> {
    w.categories
        .iter()
        .map(|c| (*c, Kind::Category))
        .chain(w.tags.iter().map(|t| (*t, Kind::Tag)))
        .collect()
}

fn scheme(kind: Kind) -> String {
    format!("{SITE}/{}/", kind.dir())
}

fn html_decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

fn parse_feed(ctx: &str, bytes: &[u8]) -> Feed {
    feed_rs::parser::parse(bytes).unwrap_or_else(|e| panic!("{ctx}: feed-rs cannot parse: {e}"))
}

fn check_common_entry(ctx: &str, e: &Entry, w: &Want) {
    let title = e.title.as_ref().map(|t| t.content.as_str());
    assert_eq!(title, Some(w.title), "{ctx}: title");
    let published = e
        .published
        .unwrap_or_else(|| panic!("{ctx}: no published date"));
    assert_eq!(published, instant(w.date), "{ctx}: published");
}

/// One RSS document, parsed by feed-rs and by the strict tree reader.
fn check_rss(ctx: &str, text: &str, self_url: &str, title: &str, items: &[&Want]) {
    let feed = parse_feed(ctx, text.as_bytes());
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::RSS2, "{ctx}");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some(title),
        "{ctx}: feed title"
    );
    assert!(
        feed.links
            .iter()
            .any(|l| l.rel.as_deref() == Some("self") && l.href == self_url),
        "{ctx}: no atom:link rel=self to {self_url}: {:?}",
        feed.links
    );
    assert_eq!(feed.entries.len(), items.len(), "{ctx}: item count");

    let root = xmltree::parse(text).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(root.name, "rss", "{ctx}");
    assert_eq!(root.attr("version"), Some("2.0"), "{ctx}");
    let channel = root
        .child("channel")
        .unwrap_or_else(|| panic!("{ctx}: no channel"));
    let selfs: Vec<&Node> = channel
        .children_named("atom:link")
        .filter(|l| l.attr("rel") == Some("self"))
        .collect();
    assert_eq!(selfs.len(), 1, "{ctx}: one self link");
    assert_eq!(selfs[0].attr("href"), Some(self_url), "{ctx}: self link");
    assert_eq!(
        channel.child_text("link"),
        Some(&*format!("{SITE}/")),
        "{ctx}: channel link"
    );
    if let Some(newest) = items.iter().max_by_key(|w| instant(w.updated)) {
        assert_eq!(
            channel.child_text("lastBuildDate"),
            Some(newest.rss_updated),
            "{ctx}: lastBuildDate = newest item's updated time"
        );
    }
    let raw_items: Vec<&Node> = channel.children_named("item").collect();
    assert_eq!(raw_items.len(), items.len(), "{ctx}: raw item count");

    for ((e, raw), w) in feed.entries.iter().zip(&raw_items).zip(items) {
        let ctx = &format!("{ctx} item {}", w.path);
        check_common_entry(ctx, e, w);
        // feed-rs view.
        assert_eq!(
            e.links.first().map(|l| l.href.as_str()),
            Some(w.url),
            "{ctx}: link"
        );
        assert_eq!(e.id, w.id, "{ctx}: guid");
        let cats: Vec<(String, Option<String>)> = e
            .categories
            .iter()
            .map(|c| (c.term.clone(), c.scheme.clone()))
            .collect();
        let want_cats: Vec<(String, Option<String>)> = terms_of(w)
            .into_iter()
            .map(|(t, k)| (t.to_owned(), Some(scheme(k))))
            .collect();
        assert_eq!(cats, want_cats, "{ctx}: categories + tags");
        let content = e
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or("");
        assert_content(ctx, w, content);
        let summary = e.summary.as_ref().map(|s| html_decode(&s.content));
        assert_eq!(summary.as_deref(), Some(w.summary), "{ctx}: description");
        // feed-rs reads `email (Name)` as name "(Name)": compare without the parentheses.
        let names: Vec<(Option<&str>, Option<&str>)> = e
            .authors
            .iter()
            .map(|a| {
                (
                    a.name.as_deref().map(|n| n.trim_matches(['(', ')'])),
                    a.email.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![(Some(w.author.name), w.author.email)],
            "{ctx}: author"
        );
        match w.image {
            Some((url, mime)) => {
                let media: Vec<(String, String)> = e
                    .media
                    .iter()
                    .flat_map(|m| &m.content)
                    .map(|c| {
                        (
                            c.url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                            c.content_type
                                .as_ref()
                                .map(|t| t.to_string())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                assert_eq!(
                    media,
                    vec![(url.to_owned(), mime.to_owned())],
                    "{ctx}: enclosure"
                );
            }
            None => assert!(e.media.is_empty(), "{ctx}: unexpected enclosure"),
        }

        // Raw view: exactly what the document says.
        assert_eq!(raw.child_text("title"), Some(w.title), "{ctx}: raw title");
        assert_eq!(raw.child_text("link"), Some(w.url), "{ctx}: raw link");
        assert_eq!(
            raw.child_text("pubDate"),
            Some(w.rss_date),
            "{ctx}: raw pubDate keeps the offset"
        );
        let guid = raw
            .child("guid")
            .unwrap_or_else(|| panic!("{ctx}: no guid"));
        assert_eq!(guid.text, w.id, "{ctx}: raw guid");
        let permalink = guid.attr("isPermaLink").unwrap_or("true");
        assert_eq!(
            permalink,
            if w.id == w.url { "true" } else { "false" },
            "{ctx}: guid isPermaLink"
        );
        let raw_cats: Vec<(String, Option<String>)> = raw
            .children_named("category")
            .map(|c| (c.text.clone(), c.attr("domain").map(str::to_owned)))
            .collect();
        let want_cats: Vec<(String, Option<String>)> = terms_of(w)
            .into_iter()
            .map(|(t, k)| (t.to_owned(), Some(scheme(k))))
            .collect();
        assert_eq!(raw_cats, want_cats, "{ctx}: raw categories");
        match &w.source {
            Some(s) => {
                let src = raw
                    .child("source")
                    .unwrap_or_else(|| panic!("{ctx}: no <source>"));
                assert_eq!(src.attr("url"), Some(s.url), "{ctx}: source url");
                assert_eq!(src.text, s.rss_text, "{ctx}: source text");
            }
            None => assert!(raw.child("source").is_none(), "{ctx}: unexpected <source>"),
        }
        match w.author.email {
            Some(email) => {
                assert_eq!(
                    raw.child_text("author"),
                    Some(&*format!("{email} ({})", w.author.name)),
                    "{ctx}: RSS author is the e-mail form"
                );
                assert!(
                    raw.child("dc:creator").is_none(),
                    "{ctx}: both author forms"
                );
            }
            None => {
                assert!(
                    raw.child("author").is_none(),
                    "{ctx}: author without e-mail"
                );
                assert_eq!(
                    raw.child_text("dc:creator"),
                    Some(w.author.name),
                    "{ctx}: dc:creator"
                );
            }
        }
        // The lead image is Media RSS; an image is never an enclosure (issue 17).
        assert!(
            raw.child("enclosure").is_none(),
            "{ctx}: an image as enclosure"
        );
        match w.image {
            Some((url, mime)) => {
                let content = raw
                    .child("media:content")
                    .unwrap_or_else(|| panic!("{ctx}: no media:content"));
                assert_eq!(content.attr("url"), Some(url), "{ctx}: media:content url");
                assert_eq!(
                    content.attr("type"),
                    Some(mime),
                    "{ctx}: media:content type"
                );
                assert_eq!(content.attr("medium"), Some("image"), "{ctx}: medium");
                let thumb = raw.child("media:thumbnail").map(|t| t.attr("url"));
                assert_eq!(thumb, Some(Some(url)), "{ctx}: media:thumbnail");
            }
            None => assert!(raw.child("media:content").is_none(), "{ctx}"),
        }
        let encoded = raw.child_text("content:encoded").unwrap_or("");
        assert_content(ctx, w, encoded);
    }
}

/// One Atom document.
fn check_atom(ctx: &str, text: &str, self_url: &str, title: &str, items: &[&Want]) {
    let feed = parse_feed(ctx, text.as_bytes());
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom, "{ctx}");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some(title),
        "{ctx}: feed title"
    );
    assert!(
        feed.links
            .iter()
            .any(|l| l.rel.as_deref() == Some("self") && l.href == self_url),
        "{ctx}: no link rel=self to {self_url}: {:?}",
        feed.links
    );
    assert!(
        !feed.authors.is_empty(),
        "{ctx}: Atom requires a feed author"
    );
    assert_eq!(feed.entries.len(), items.len(), "{ctx}: entry count");

    let root = xmltree::parse(text).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(root.name, "feed", "{ctx}");
    assert_eq!(
        root.attr("xmlns"),
        Some("http://www.w3.org/2005/Atom"),
        "{ctx}"
    );
    let selfs: Vec<&Node> = root
        .children_named("link")
        .filter(|l| l.attr("rel") == Some("self"))
        .collect();
    assert_eq!(selfs.len(), 1, "{ctx}: one self link");
    assert_eq!(selfs[0].attr("href"), Some(self_url), "{ctx}: self link");
    if let Some(newest) = items.iter().max_by_key(|w| instant(w.updated)) {
        assert_rfc3339_raw(
            &format!("{ctx}: feed updated"),
            root.child_text("updated").unwrap_or(""),
            newest.updated,
        );
    }
    let raw_entries: Vec<&Node> = root.children_named("entry").collect();
    assert_eq!(raw_entries.len(), items.len(), "{ctx}: raw entry count");

    for ((e, raw), w) in feed.entries.iter().zip(&raw_entries).zip(items) {
        let ctx = &format!("{ctx} entry {}", w.path);
        check_common_entry(ctx, e, w);
        assert_eq!(e.id, w.atom_id, "{ctx}: id");
        assert_eq!(e.updated, Some(instant(w.updated)), "{ctx}: updated");
        let link = |rel: &str| e.links.iter().find(|l| l.rel.as_deref() == Some(rel));
        assert_eq!(
            link("alternate").map(|l| l.href.as_str()),
            Some(w.url),
            "{ctx}: alternate"
        );
        match &w.source {
            Some(s) => {
                let via = link("via").unwrap_or_else(|| panic!("{ctx}: no rel=via"));
                assert_eq!(via.href, s.url, "{ctx}: via href");
                assert_eq!(via.title.as_deref(), s.atom_title, "{ctx}: via title");
            }
            None => assert!(link("via").is_none(), "{ctx}: unexpected via"),
        }
        // The lead image is Media RSS (checked with feed-rs above), never an enclosure.
        assert!(link("enclosure").is_none(), "{ctx}: an image as enclosure");
        let cats: Vec<(String, Option<String>)> = e
            .categories
            .iter()
            .map(|c| (c.term.clone(), c.scheme.clone()))
            .collect();
        let want_cats: Vec<(String, Option<String>)> = terms_of(w)
            .into_iter()
            .map(|(t, k)| (t.to_owned(), Some(scheme(k))))
            .collect();
        assert_eq!(cats, want_cats, "{ctx}: categories + tags");
        assert_eq!(e.authors.len(), 1, "{ctx}: one author");
        let a = &e.authors[0];
        assert_eq!(a.name.as_deref(), Some(w.author.name), "{ctx}: author name");
        assert_eq!(a.email.as_deref(), w.author.email, "{ctx}: author email");
        assert_eq!(a.uri.as_deref(), w.author.uri, "{ctx}: author uri");
        assert_eq!(
            e.summary.as_ref().map(|s| s.content.as_str()),
            Some(w.summary),
            "{ctx}: summary"
        );
        let content = e
            .content
            .as_ref()
            .unwrap_or_else(|| panic!("{ctx}: no content"));
        assert_eq!(
            content.content_type.to_string(),
            "text/html",
            "{ctx}: content type"
        );
        assert_content(ctx, w, content.body.as_deref().unwrap_or(""));
        assert_eq!(e.language.as_deref(), w.lang, "{ctx}: content xml:lang");

        // Raw strings keep the post's own offset.
        assert_rfc3339_raw(ctx, raw.child_text("published").unwrap_or(""), w.date);
        assert_rfc3339_raw(ctx, raw.child_text("updated").unwrap_or(""), w.updated);
        assert_eq!(raw.child_text("title"), Some(w.title), "{ctx}: raw title");
        assert_eq!(
            raw.child("content").and_then(|c| c.attr("type")),
            Some("html"),
            "{ctx}: content type=html"
        );
    }
}

/// One JSON Feed document.
fn check_json(ctx: &str, text: &str, self_url: &str, title: &str, items: &[&Want]) {
    let feed = parse_feed(ctx, text.as_bytes());
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::JSON, "{ctx}");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some(title),
        "{ctx}: feed title"
    );
    assert_eq!(feed.entries.len(), items.len(), "{ctx}: item count");

    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{ctx}: JSON: {e}"));
    assert_eq!(
        v["version"], "https://jsonfeed.org/version/1.1",
        "{ctx}: version"
    );
    assert_eq!(v["feed_url"], self_url, "{ctx}: feed_url");
    assert_eq!(
        v["home_page_url"],
        format!("{SITE}/"),
        "{ctx}: home_page_url"
    );
    assert_eq!(v["title"], title, "{ctx}: raw title");
    let raw_items = v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: no items"));
    assert_eq!(raw_items.len(), items.len(), "{ctx}: raw item count");

    for ((e, raw), w) in feed.entries.iter().zip(raw_items).zip(items) {
        let ctx = &format!("{ctx} item {}", w.path);
        check_common_entry(ctx, e, w);
        assert_eq!(e.id, w.id, "{ctx}: id");
        assert_eq!(e.updated, Some(instant(w.updated)), "{ctx}: date_modified");
        assert_eq!(
            e.links.first().map(|l| l.href.as_str()),
            Some(w.url),
            "{ctx}: url"
        );
        let tags: Vec<&str> = e.categories.iter().map(|c| c.term.as_str()).collect();
        let mut want_tags: Vec<&str> = Vec::new();
        for (t, _) in terms_of(w) {
            if !want_tags.contains(&t) {
                want_tags.push(t);
            }
        }
        assert_eq!(tags, want_tags, "{ctx}: tags");
        let names: Vec<Option<&str>> = e.authors.iter().map(|a| a.name.as_deref()).collect();
        assert_eq!(names, vec![Some(w.author.name)], "{ctx}: authors");
        assert_eq!(
            e.summary.as_ref().map(|s| s.content.as_str()),
            Some(w.summary),
            "{ctx}: summary"
        );
        let content = e
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .unwrap_or("");
        assert_content(ctx, w, content);

        assert_eq!(raw["title"], w.title, "{ctx}: raw title");
        assert_eq!(raw["url"], w.url, "{ctx}: raw url");
        assert_eq!(raw["id"], w.id, "{ctx}: raw id");
        assert_eq!(
            raw["date_published"], w.date,
            "{ctx}: date_published keeps the offset"
        );
        assert_eq!(
            raw["date_modified"], w.updated,
            "{ctx}: date_modified keeps the offset"
        );
        assert_eq!(
            raw["external_url"].as_str(),
            w.source.as_ref().map(|s| s.url),
            "{ctx}: external_url"
        );
        assert_eq!(
            raw["image"].as_str(),
            w.image.map(|(u, _)| u),
            "{ctx}: image"
        );
        assert_eq!(raw["language"].as_str(), w.lang, "{ctx}: language");
        assert_eq!(
            raw["authors"][0]["url"].as_str(),
            w.author.uri,
            "{ctx}: author url"
        );
        assert!(raw["content_html"].is_string(), "{ctx}: content_html");
    }
}

fn check_all_documents(out_dir: &Path, limit: usize) {
    let wants = wants();
    let scopes = scope_wants(&wants);
    let mut expected_files: BTreeSet<String> = ["feeds.opml", "index.html"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for scope in &scopes {
        let items = ordered(&wants, &scope.members, limit);
        if !scope.dir.is_empty() {
            // A term's page, beside its feeds.
            expected_files.insert(format!("{}index.html", scope.dir));
        }
        for fmt in FORMATS {
            let file = format!("{}{}", scope.dir, fmt.file());
            expected_files.insert(file.clone());
            let text = std::fs::read_to_string(out_dir.join(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let self_url = format!("{SITE}/{}{}", scope.url_dir, fmt.file());
            let ctx = format!("{file} (limit {limit})");
            match fmt {
                Fmt::Rss => check_rss(&ctx, &text, &self_url, &scope.title, &items),
                Fmt::Atom => check_atom(&ctx, &text, &self_url, &scope.title, &items),
                Fmt::Json => check_json(&ctx, &text, &self_url, &scope.title, &items),
            }
        }
    }
    assert_eq!(
        files_under(out_dir),
        expected_files,
        "the output directory holds exactly the documents of every scope"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_document_round_trips_field_by_field() {
    let site = TempSite::new();
    write_fixture(&site);
    build_ok(&site, &[]);
    check_all_documents(&site.out(), 50);
}

#[test]
fn limit_is_respected_in_every_document() {
    let site = TempSite::new();
    write_fixture(&site);
    // Without RFC 5005 archives (tests/archive/ covers them), a feed holds exactly the newest
    // `limit` posts of its scope.
    for (limit, dir) in [(2usize, "limited2"), (1, "limited1"), (0, "unlimited")] {
        let config = site.root().join(format!("{dir}.toml"));
        std::fs::write(
            &config,
            format!("{CONFIG}\n[feeds]\nlimit = {limit}\narchive = false\n"),
        )
        .expect("config");
        let out_dir = site.root().join(dir);
        let args: Vec<String> = [
            "build",
            "--config",
            &config.display().to_string(),
            "--posts",
            &site.posts().display().to_string(),
            "--out",
            &out_dir.display().to_string(),
            "--url",
            SITE,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let out = common::feedsmith(site.root(), &args);
        assert!(
            out.status.success() && !stderr(&out).contains("skipped"),
            "build with limit {limit} failed: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        check_all_documents(&out_dir, limit);
    }
}
