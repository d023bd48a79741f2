//! Issue 17's media and excerpt features, end to end through `build` and read back as a reader
//! would: with `feed-rs` always, and with Python feedparser when it is installed. A lead image
//! is Media RSS (never an enclosure); an attachment is an enclosure with the file's true size
//! and type; the site's icon and logo reach every format; the excerpt separator ends the
//! summary and `feed_content` overrides `feeds.content` for one post.

use std::process::Command;

use crate::common::TempSite;

const SITE: &str = "https://example.com";

/// Four posts: one with a lead image beside it and an episode attached, one with slides
/// attached and no image, one whose only image is in its body (a lead image with
/// `lead_image = "first"`), and one cut by `<!--more-->` whose items carry only the summary.
fn site() -> TempSite {
    let site = TempSite::new();
    site.write_post(
        "2024-02-10-episode.md",
        "---\ntitle: Episode\ndate: 2024-02-10 09:00:00 +0000\nimage: images/cover.png\n\
         enclosure: audio/ep1.mp3\n---\nListen.\n",
    );
    site.write_post(
        "2024-02-11-photo.md",
        "---\ntitle: Photo\ndate: 2024-02-11 09:00:00 +0000\n---\nLook:\n\n\
         ![harbor](images/harbor.jpg)\n",
    );
    site.write_post(
        "2024-02-12-long.md",
        "---\ntitle: Long\ndate: 2024-02-12 09:00:00 +0000\nfeed_content: summary\n---\n\
         The start.\n\nStill the start.\n\n<!--more-->\n\nThe rest.\n",
    );
    site.write_post(
        "2024-02-09-talk.md",
        "---\ntitle: Talk\ndate: 2024-02-09 09:00:00 +0000\nenclosure: docs/talk.pdf\n---\nSlides.\n",
    );
    site.write_post_bytes("docs/talk.pdf", b"%PDF-1.4 slides");
    site.write_post_bytes("images/cover.png", b"\x89PNG\r\n\x1a\nnot really");
    site.write_post_bytes("images/harbor.jpg", &[0xff, 0xd8, 0xff, 0xe0]);
    site.write_post_bytes("audio/ep1.mp3", &vec![7u8; 3210]);
    site.write_post_bytes("images/icon.png", b"icon");
    site
}

/// Builds `site` with `config` and returns its `feeds/` documents (RSS, Atom, JSON).
fn build(site: &TempSite, config: &str) -> [(String, Vec<u8>); 3] {
    let config = site.write_config("media-test.toml", config);
    let out = site.build(&["--config", &config]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    ["rss.xml", "atom.xml", "feed.json"].map(|name| {
        let bytes = std::fs::read(site.out().join(name)).expect("a feed was written");
        (name.to_owned(), bytes)
    })
}

const CONFIG: &str =
    "[site]\nicon = \"images/icon.png\"\nlogo = \"https://cdn.example.org/logo.png\"\n\
                      [feeds]\nlead_image = \"first\"\n";

fn entry<'f>(feed: &'f feed_rs::model::Feed, title: &str) -> &'f feed_rs::model::Entry {
    feed.entries
        .iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == title))
        .unwrap_or_else(|| panic!("no entry {title}"))
}

#[test]
fn lead_images_are_media_rss_and_attachments_enclosures_read_back_with_feed_rs() {
    let site = site();
    let [(_, rss), (_, atom), (_, json)] = build(&site, CONFIG);
    let cover = format!("{SITE}/images/cover.png");
    let harbor = format!("{SITE}/images/harbor.jpg");
    let mp3 = format!("{SITE}/audio/ep1.mp3");
    for (name, doc) in [("rss", &rss), ("atom", &atom)] {
        let feed = feed_rs::parser::parse(&doc[..]).expect("parses");
        for (title, image) in [("Episode", &cover), ("Photo", &harbor)] {
            let e = entry(&feed, title);
            let images: Vec<_> = e
                .media
                .iter()
                .flat_map(|m| &m.content)
                .filter(|c| c.content_type.as_ref().is_some_and(|t| t.ty() == "image"))
                .filter_map(|c| c.url.as_ref().map(|u| u.to_string()))
                .collect();
            assert_eq!(images, [image.as_str()], "{name} {title}");
            let thumbs: Vec<String> = e
                .media
                .iter()
                .flat_map(|m| &m.thumbnails)
                .map(|t| t.image.uri.clone())
                .collect();
            assert_eq!(thumbs, [image.as_str()], "{name} {title}");
        }
    }
    // The attachment: RSS's enclosure (feed-rs reads it as media content with its size; it
    // keeps only the `media:content` of an item that has both, so on the post without image).
    let feed = feed_rs::parser::parse(&rss[..]).expect("parses");
    let pdf = format!("{SITE}/docs/talk.pdf");
    let attached: Vec<_> = entry(&feed, "Talk")
        .media
        .iter()
        .flat_map(|m| &m.content)
        .map(|c| {
            let url = c.url.as_ref().map(|u| u.to_string());
            (url, c.content_type.as_ref().map(|t| t.to_string()), c.size)
        })
        .collect();
    assert_eq!(
        attached,
        [(Some(pdf), Some("application/pdf".to_owned()), Some(15))]
    );
    // … and no post's image is an enclosure.
    let rss_text = String::from_utf8_lossy(&rss);
    assert_eq!(rss_text.matches("<enclosure").count(), 2, "{rss_text}");
    assert!(
        rss_text.contains(&format!(
            "<enclosure url=\"{mp3}\" length=\"3210\" type=\"audio/mpeg\"/>"
        )),
        "{rss_text}"
    );
    // Atom's `rel="enclosure"` link and JSON Feed's attachment, with size and type.
    for doc in [&atom, &json] {
        let feed = feed_rs::parser::parse(&doc[..]).expect("parses");
        let e = entry(&feed, "Episode");
        let enclosures: Vec<_> = e
            .links
            .iter()
            .filter(|l| l.href == mp3)
            .map(|l| (l.media_type.clone(), l.length))
            .collect();
        assert_eq!(enclosures, [(Some("audio/mpeg".to_owned()), Some(3210))]);
        assert!(e.links.iter().all(|l| l.href != cover), "{:?}", e.links);
    }
    let json: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    let items = json["items"].as_array().expect("items");
    let item = |title: &str| {
        items
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("no item {title}"))
    };
    assert_eq!(item("Episode")["image"], cover);
    assert_eq!(item("Photo")["image"], harbor);
    assert!(item("Photo").get("attachments").is_none());
}

#[test]
fn without_lead_image_first_a_body_image_is_no_lead_image() {
    let site = site();
    let [_, (_, atom), _] = build(&site, "");
    let feed = feed_rs::parser::parse(&atom[..]).expect("parses");
    assert!(entry(&feed, "Photo").media.is_empty());
    assert!(!entry(&feed, "Episode").media.is_empty());
}

#[test]
fn icons_and_logo_in_every_format() {
    let site = site();
    let [(_, rss), (_, atom), (_, json)] = build(&site, CONFIG);
    let icon = format!("{SITE}/images/icon.png");
    let logo = "https://cdn.example.org/logo.png";
    let rss = feed_rs::parser::parse(&rss[..]).expect("parses");
    assert_eq!(rss.logo.map(|i| i.uri).as_deref(), Some(logo));
    let atom = feed_rs::parser::parse(&atom[..]).expect("parses");
    assert_eq!(atom.icon.map(|i| i.uri), Some(icon.clone()));
    assert_eq!(atom.logo.map(|i| i.uri).as_deref(), Some(logo));
    let json: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(json["icon"], logo);
    assert_eq!(json["favicon"], icon);
}

#[test]
fn the_excerpt_separator_ends_the_summary_and_feed_content_overrides() {
    let site = site();
    let [(_, rss), (_, atom), (_, json)] = build(&site, CONFIG);
    for doc in [&rss, &atom, &json] {
        let feed = feed_rs::parser::parse(&doc[..]).expect("parses");
        let long = entry(&feed, "Long");
        let summary = long.summary.as_ref().map(|s| s.content.as_str());
        assert_eq!(summary, Some("The start. Still the start."));
        // `feed_content: summary`: no full content for this post, full content for the others.
        let content = long.content.as_ref().and_then(|c| c.body.as_deref());
        assert!(
            content.is_none_or(|c| !c.contains("The rest")),
            "{content:?}"
        );
        let other = entry(&feed, "Photo")
            .content
            .as_ref()
            .and_then(|c| c.body.clone());
        assert!(other.is_some_and(|c| c.contains("harbor")));
    }
}

/// Python feedparser, when installed, reads the same mapping (skipped otherwise).
#[test]
fn feedparser_reads_images_enclosures_and_icons() {
    let probe = Command::new("python3")
        .args(["-c", "import feedparser"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: python3 with feedparser is not installed");
        return;
    }
    let site = site();
    let [(_, rss), (_, atom), _] = build(&site, CONFIG);
    let script = r#"
import sys, feedparser
d = feedparser.parse(sys.stdin.buffer.read())
assert not d.bozo, d.bozo_exception
e = {x.title: x for x in d.entries}
ep = e["Episode"]
assert [m["url"] for m in ep.media_content if m.get("medium") == "image"] == [sys.argv[1] + "/images/cover.png"], ep.media_content
assert [t["url"] for t in ep.media_thumbnail] == [sys.argv[1] + "/images/cover.png"], ep.media_thumbnail
encl = [(x.href, x.get("type"), x.get("length")) for x in ep.enclosures]
assert encl == [(sys.argv[1] + "/audio/ep1.mp3", "audio/mpeg", "3210")], encl
assert e["Photo"].enclosures == [], e["Photo"].enclosures
assert e["Long"].summary == "The start. Still the start.", e["Long"].summary
print("ok")
"#;
    for (name, doc) in [("rss", rss), ("atom", atom)] {
        use std::io::Write;
        let mut child = Command::new("python3")
            .args(["-c", script, SITE])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&doc)
            .expect("write the feed");
        let out = child.wait_with_output().expect("python3 ends");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// While serving, an attached asset that grows republishes its post with the new `length`.
#[test]
fn a_resized_attachment_changes_its_enclosure_length_while_serving() {
    use crate::common::http::wait_for;
    use crate::common::Server;
    let site = site();
    let config = site.write_config(
        "media-serve.toml",
        "[server]\ndebounce_ms = 20\naccess_log = false\n",
    );
    let server = Server::start(&site, &["--config", &config, "--url", SITE]);
    let length = |server: &Server| -> Result<String, String> {
        let body = String::from_utf8_lossy(&server.get("/rss.xml").body).into_owned();
        let at = body.find("ep1.mp3\" length=\"").ok_or("no enclosure")?;
        let rest = &body[at + "ep1.mp3\" length=\"".len()..];
        Ok(rest[..rest.find('"').ok_or("no end")?].to_owned())
    };
    assert_eq!(length(&server), Ok("3210".to_owned()));
    site.write_post_bytes("audio/ep1.mp3", &vec![7u8; 5000]);
    wait_for(
        "the enclosure's new length",
        std::time::Duration::from_secs(10),
        Some(&server),
        || match length(&server)? {
            l if l == "5000" => Ok(()),
            l => Err(l),
        },
    );
}
