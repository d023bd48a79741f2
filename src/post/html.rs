//! A post's content as kept in memory: HTML and summary, plain or compressed together.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::Post;

/// A post's HTML content and its plain-text summary, kept as they are or, for a long-running
/// server holding every post of a large site, compressed together in one zstd frame (level 1,
/// with the site's [`ContentDict`] when it has one): the summary is mostly the first
/// paragraph's words again, so it costs next to nothing in the frame. Reading it back takes
/// a few microseconds each time an item or page is rendered.
#[derive(Clone, PartialEq, Eq)]
pub struct Html(HtmlRepr);

#[derive(Clone, PartialEq, Eq)]
enum HtmlRepr {
    /// As rendered: `build` keeps posts only while it runs, and shrinking each string to fit
    /// would copy it (~4% of a cold build in a profile).
    Plain { content: String, summary: String },
    Zstd {
        frame: Box<[u8]>,
        content_len: usize,
        summary_len: usize,
        dict: Option<Arc<ContentDict>>,
    },
}

/// A zstd dictionary trained on a sample of the site's own posts (see
/// [`ContentDict::train`]): posts of one site share markup, boilerplate and phrases, which a
/// frame of a single post cannot exploit on its own. About a third smaller on news text.
pub struct ContentDict {
    encoder: zstd::dict::EncoderDictionary<'static>,
    decoder: zstd::dict::DecoderDictionary<'static>,
    /// Hash of the dictionary bytes: two dictionaries compare equal when they are the same.
    hash: u64,
}

impl PartialEq for ContentDict {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
    }
}

impl Eq for ContentDict {}

impl fmt::Debug for ContentDict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentDict({:016x})", self.hash)
    }
}

/// How many bytes of samples a dictionary is trained on, at most (about a second of work).
pub(super) const DICT_SAMPLE_BYTES: usize = 8 << 20;
/// The dictionary's size.
const DICT_BYTES: usize = 112 << 10;

impl ContentDict {
    /// Trains a dictionary on `samples` (each the text a post's frame holds); `None` when
    /// there are too few to learn from or training fails.
    pub fn train(samples: &[Vec<u8>]) -> Option<ContentDict> {
        if samples.len() < 100 {
            return None;
        }
        let dict = zstd::dict::from_samples(&training_slices(samples), DICT_BYTES).ok()?;
        Some(ContentDict::from_bytes(&dict))
    }

    fn from_bytes(dict: &[u8]) -> ContentDict {
        ContentDict {
            encoder: zstd::dict::EncoderDictionary::copy(dict, 1),
            decoder: zstd::dict::DecoderDictionary::copy(dict),
            hash: xxhash_rust::xxh3::xxh3_64(dict),
        }
    }

    /// The text one post's frame holds, for training.
    pub fn sample(post: &Post) -> Vec<u8> {
        let (content, summary) = post.content_html.both();
        frame_text(&content, &summary)
    }
}

/// What a dictionary is trained on: every sample's start, at most [`DICT_SAMPLE_BYTES`] in
/// all. Not the first samples whole: the samples are spread over the site, old posts and new,
/// and the bound on training time should keep that spread.
pub(super) fn training_slices(samples: &[Vec<u8>]) -> Vec<&[u8]> {
    let each = DICT_SAMPLE_BYTES / samples.len().max(1);
    samples.iter().map(|s| &s[..s.len().min(each)]).collect()
}

/// What a compressed frame holds: the content, then the summary.
fn frame_text(content: &str, summary: &str) -> Vec<u8> {
    [content.as_bytes(), summary.as_bytes()].concat()
}

impl Html {
    /// Keeps `content` and `summary`, compressed when `compact` and long enough to gain from
    /// it (with `dict` if given).
    pub fn new(
        content: String,
        summary: String,
        compact: bool,
        dict: Option<&Arc<ContentDict>>,
    ) -> Html {
        if compact && content.len() + summary.len() >= 512 {
            let joined = frame_text(&content, &summary);
            let frame = match dict {
                Some(d) => zstd::bulk::Compressor::with_prepared_dictionary(&d.encoder)
                    .and_then(|mut c| c.compress(&joined)),
                None => zstd::bulk::compress(&joined, 1),
            };
            if let Ok(frame) = frame {
                if frame.len() < joined.len() {
                    return Html(HtmlRepr::Zstd {
                        frame: frame.into_boxed_slice(),
                        content_len: content.len(),
                        summary_len: summary.len(),
                        dict: dict.cloned(),
                    });
                }
            }
        }
        let (mut content, mut summary) = (content, summary);
        if compact {
            // Kept for as long as the server runs: no spare capacity from the renderers.
            content.shrink_to_fit();
            summary.shrink_to_fit();
        }
        Html(HtmlRepr::Plain { content, summary })
    }

    /// The same text kept compressed as every post of a serving site is (with `dict` if
    /// given): for a post read plain, such as a dictionary's training sample.
    pub fn compacted(&self, dict: Option<&Arc<ContentDict>>) -> Html {
        let (content, summary) = self.both();
        Html::new(content.into_owned(), summary.into_owned(), true, dict)
    }

    /// The HTML content and the summary.
    pub fn both(&self) -> (Cow<'_, str>, Cow<'_, str>) {
        match &self.0 {
            HtmlRepr::Plain { content, summary } => {
                (Cow::Borrowed(content), Cow::Borrowed(summary))
            }
            HtmlRepr::Zstd {
                frame,
                content_len,
                summary_len,
                dict,
            } => {
                let capacity = content_len + summary_len;
                let bytes = match dict {
                    Some(d) => zstd::bulk::Decompressor::with_prepared_dictionary(&d.decoder)
                        .and_then(|mut z| z.decompress(frame, capacity)),
                    None => zstd::bulk::decompress(frame, capacity),
                };
                // Compressed from two `String`s by this process: cannot fail.
                let mut text = bytes
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|t| t.len() == capacity && t.is_char_boundary(*content_len))
                    .unwrap_or_default();
                let summary = text.split_off((*content_len).min(text.len()));
                (Cow::Owned(text), Cow::Owned(summary))
            }
        }
    }

    /// The HTML.
    pub fn get(&self) -> Cow<'_, str> {
        match &self.0 {
            HtmlRepr::Plain { content, .. } => Cow::Borrowed(content),
            HtmlRepr::Zstd { .. } => self.both().0,
        }
    }

    /// The summary (plain text).
    pub fn summary(&self) -> Cow<'_, str> {
        match &self.0 {
            HtmlRepr::Plain { summary, .. } => Cow::Borrowed(summary),
            HtmlRepr::Zstd { .. } => self.both().1,
        }
    }

    /// Length of the HTML in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            HtmlRepr::Plain { content, .. } => content.len(),
            HtmlRepr::Zstd { content_len, .. } => *content_len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held in memory (content and summary).
    pub fn held(&self) -> usize {
        match &self.0 {
            HtmlRepr::Plain { content, summary } => content.len() + summary.len(),
            HtmlRepr::Zstd { frame, .. } => frame.len(),
        }
    }
}

impl fmt::Debug for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (content, summary) = self.both();
        f.debug_struct("Html")
            .field("content", &content)
            .field("summary", &summary)
            .finish()
    }
}
