//! Front matter `enclosure`, `feed_content`, `excerpt_separator` and the lead image.

use super::*;
use crate::post::media::{ContentMode, LeadImage};
use crate::post::Attachment;

/// Parses `text` as `posts/rel` on a site whose assets are `assets` (key, size).
fn parse_with(rel: &str, text: &str, ctx: &ParseContext) -> Result<Post, PostError> {
    parse_post(Path::new(rel), text.as_bytes(), Markup::Markdown, ctx)
}

fn with_assets(assets: &[(&str, u64)]) -> ParseContext {
    ParseContext {
        assets: Arc::new(assets.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()),
        ..ctx()
    }
}

#[test]
fn an_asset_enclosure_has_the_files_true_length_and_type() {
    let ctx = with_assets(&[("audio/ep1.mp3", 4_321_000)]);
    for reference in [
        "audio/ep1.mp3",
        "/audio/ep1.mp3",
        "https://example.com/audio/ep1.mp3",
    ] {
        // The front matter's own length and type lose to the file's.
        let text = format!(
            "---\ndate: 2024-01-02\nenclosure: {{url: '{reference}', type: text/plain, length: 5}}\n---\nx\n"
        );
        let post = parse_with("2024-01-02-ep.md", &text, &ctx).unwrap();
        assert_eq!(
            post.enclosure,
            Some(Attachment {
                url: "https://example.com/audio/ep1.mp3".into(),
                mime_type: "audio/mpeg".into(),
                length: Some(4_321_000),
            }),
            "{reference}"
        );
        // Read again when the file comes or goes.
        assert!(post.asset_refs.contains(&"audio/ep1.mp3".to_owned()));
    }
}

#[test]
fn an_external_enclosure_keeps_the_front_matters_length_and_type() {
    let text = "---\ndate: 2024-01-02\nenclosure: {url: 'https://cdn.example.org/v', type: video/mp4, length: 77}\n---\nx\n";
    let post = parse_with("a.md", text, &ctx()).unwrap();
    let a = post.enclosure.unwrap();
    assert_eq!((a.mime_type.as_str(), a.length), ("video/mp4", Some(77)));
    let text = "---\ndate: 2024-01-02\nenclosure: https://cdn.example.org/v\n---\nx\n";
    let a = parse_with("a.md", text, &ctx()).unwrap().enclosure.unwrap();
    assert_eq!(
        (a.mime_type.as_str(), a.length),
        ("application/octet-stream", None)
    );
}

#[test]
fn an_image_enclosure_or_a_bad_one_is_refused() {
    for bad in [
        "enclosure: https://cdn.example.org/cover.jpg",
        "enclosure: {url: 'https://x.example/a', type: image/png}",
        "enclosure: {url: 'https://x.example/a.mp3', length: lots}",
        "enclosure: {type: audio/mpeg}",
        "enclosure: {url: 'https://x.example/a.mp3', type: 'audio mpeg'}",
        "enclosure: 'ftp://x.example/a.mp3'",
        "enclosure: [a, b]",
    ] {
        let text = format!("---\ndate: 2024-01-02\n{bad}\n---\nx\n");
        let err = parse_with("a.md", &text, &ctx()).unwrap_err().to_string();
        assert!(err.contains("enclosure"), "{bad}: {err}");
    }
}

#[test]
fn lead_image_first_takes_the_bodys_first_image_when_front_matter_has_none() {
    let body = "Text ![a](//cdn.example.org/a.png) ![b](b.png) <img data-src=\"c.png\">\n";
    let text = format!("---\ndate: 2024-01-02\n---\n{body}");
    let first = ParseContext {
        lead_image: LeadImage::First,
        ..ctx()
    };
    let post = parse_with("a.md", &text, &first).unwrap();
    assert_eq!(post.image.as_deref(), Some("https://cdn.example.org/a.png"));
    // The default: front matter only.
    assert_eq!(parse_with("a.md", &text, &ctx()).unwrap().image, None);
    // Front matter wins.
    let text = format!("---\ndate: 2024-01-02\nimage: https://x.example/lead.jpg\n---\n{body}");
    let post = parse_with("a.md", &text, &first).unwrap();
    assert_eq!(post.image.as_deref(), Some("https://x.example/lead.jpg"));
    // A data: image is no lead image.
    let text = "---\ndate: 2024-01-02\n---\n<img src=\"data:image/png;base64,AA\">\n";
    assert_eq!(parse_with("a.md", text, &first).unwrap().image, None);
}

#[test]
fn the_excerpt_separator_ends_the_summary() {
    let text = "---\ndate: 2024-01-02\n---\nFirst *para*.\n\nSecond &amp; more.\n\n<!--more-->\n\nHidden.\n";
    let post = parse_with("a.md", text, &ctx()).unwrap();
    assert_eq!(post.summary(), "First para. Second & more.");
    // The whole body is still the content.
    assert!(post.content_html.get().contains("Hidden."));
    // Without a separator: the first paragraph, as before.
    let text = "---\ndate: 2024-01-02\n---\nFirst.\n\nSecond.\n";
    assert_eq!(
        parse_with("a.md", text, &ctx()).unwrap().summary(),
        "First."
    );
    // A post's own separator; front matter `excerpt` still wins.
    let text = "---\ndate: 2024-01-02\nexcerpt_separator: '<!-- cut -->'\n---\nA.\n\nB.\n<!-- cut -->\nC.\n";
    assert_eq!(parse_with("a.md", text, &ctx()).unwrap().summary(), "A. B.");
    let text = "---\ndate: 2024-01-02\nexcerpt: Mine.\n---\nA.\n<!--more-->\nC.\n";
    assert_eq!(parse_with("a.md", text, &ctx()).unwrap().summary(), "Mine.");
    // The site's separator, and none at all.
    let site = |sep: &str| ParseContext {
        excerpt_separator: sep.to_owned(),
        ..ctx()
    };
    let text = "---\ndate: 2024-01-02\n---\nA.\n\nB.\n\n---8<---\n\nC.\n";
    assert_eq!(
        parse_with("a.md", text, &site("---8<---"))
            .unwrap()
            .summary(),
        "A. B."
    );
    let text = "---\ndate: 2024-01-02\n---\nA.\n\nB.\n<!--more-->\n";
    assert_eq!(parse_with("a.md", text, &site("")).unwrap().summary(), "A.");
}

#[test]
fn feed_content_is_full_or_summary() {
    let read = |v: &str| {
        let text = format!("---\ndate: 2024-01-02\nfeed_content: {v}\n---\nx\n");
        parse_with("a.md", &text, &ctx()).map(|p| p.feed_content)
    };
    assert_eq!(read("full").unwrap(), Some(ContentMode::Full));
    assert_eq!(read("summary").unwrap(), Some(ContentMode::Summary));
    let err = read("excerpt").unwrap_err().to_string();
    assert!(err.contains("feed_content"), "{err}");
}
