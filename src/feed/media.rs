//! A post's lead image as Media RSS (<https://www.rssboard.org/media-rss>), in RSS and Atom
//! alike: `<media:content url medium="image" type>` and `<media:thumbnail url>`, the elements
//! readers (Feedly, Inoreader, NetNewsWire, feedparser's `media_content`/`media_thumbnail`)
//! show a card's picture from. An image is never an `<enclosure>`: podcast apps take any
//! enclosure as an episode.
//!
//! Both `rss` and `atom_syndication` write extension elements from the same kind of map, so one
//! function builds it for both.

use std::collections::BTreeMap;

use crate::post::Post;

/// The Media RSS namespace.
pub const NAMESPACE: &str = "http://search.yahoo.com/mrss/";
/// Its prefix in every document that uses it.
pub const PREFIX: &str = "media";

/// One extension element, in the shape both crates share (name, attributes, no children).
pub struct Element {
    pub name: &'static str,
    pub attrs: BTreeMap<String, String>,
}

/// The Media RSS elements of `post`: none without a lead image, else `media:content` and
/// `media:thumbnail`, keyed by local name as the crates' extension maps are.
pub fn elements(post: &Post) -> Vec<(&'static str, Element)> {
    let Some(url) = &post.image else {
        return Vec::new();
    };
    let mut content = BTreeMap::from([
        ("url".to_owned(), url.clone()),
        ("medium".to_owned(), "image".to_owned()),
    ]);
    if let Some(mime) = image_type(url) {
        content.insert("type".to_owned(), mime.to_owned());
    }
    vec![
        (
            "content",
            Element {
                name: "media:content",
                attrs: content,
            },
        ),
        (
            "thumbnail",
            Element {
                name: "media:thumbnail",
                attrs: BTreeMap::from([("url".to_owned(), url.clone())]),
            },
        ),
    ]
}

/// Whether any of `posts` has a lead image: a document declares the namespace only then, so
/// the documents of sites without images are unchanged.
pub fn any_image<'p>(mut posts: impl Iterator<Item = &'p Post>) -> bool {
    posts.any(|p| p.image.is_some())
}

/// An image's media type from its URL's extension, when the extension says (a Media RSS
/// `type` is optional: better none than a wrong one).
pub fn image_type(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "avif" => "image/avif",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_only_when_the_extension_says() {
        assert_eq!(image_type("https://x/a.PNG?x=1"), Some("image/png"));
        assert_eq!(image_type("https://x/a.jpg#f"), Some("image/jpeg"));
        assert_eq!(image_type("https://x/photo"), None);
        assert_eq!(image_type("https://x/a.tiff"), None);
    }
}
