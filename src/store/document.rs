//! A published document: its bytes, the validators the server sends with them — a strong
//! `ETag` from the bytes (RFC 9110 §8.8.3) and a `Last-Modified` that moves only when the bytes
//! do — and the ready header values, built once per version and cloned per response.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use hyper::header::HeaderValue;

use super::cache::{ByteCache, Cost};
use super::encodings::{compress, Coding};

/// One representation of a document: its bytes and its strong ETag (quoted).
#[derive(Debug, Clone)]
pub struct Representation {
    pub bytes: Bytes,
    /// The ETag as a ready header value (built once, cloned per response).
    pub etag_header: HeaderValue,
}

impl Representation {
    fn new(bytes: Bytes, etag: String) -> Representation {
        // An ETag is `"` + hex + suffix + `"`: always a valid header value.
        let etag_header =
            HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Representation { bytes, etag_header }
    }

    /// The ETag (quoted).
    pub fn etag(&self) -> &str {
        self.etag_header.to_str().unwrap_or_default()
    }
}

/// Renders a document's bytes again, the same every time (a post page, from its post).
pub type Render = Arc<dyn Fn() -> Bytes + Send + Sync>;

/// A document whose bytes are not kept (post pages: many, rarely requested, cheap to render):
/// its validators and how to render it again. A few dozen bytes instead of a [`Document`];
/// a request makes the `Document` it needs with [`Document::from_lazy`].
#[derive(Clone)]
pub struct Lazy {
    pub content_type: &'static str,
    /// Hash of the bytes `render` gives (the ETag's opaque part).
    pub hash: u128,
    pub len: usize,
    /// Whole seconds.
    pub last_modified: SystemTime,
    /// Gives exactly the bytes `hash` was taken from.
    pub render: Render,
}

impl std::fmt::Debug for Lazy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy")
            .field("content_type", &self.content_type)
            .field("hash", &format_args!("{:032x}", self.hash))
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Lazy {
    /// Renders the bytes and makes the document a request is answered from (compressed forms
    /// computed on first use, as for any document). Its validators are the lazy entry's.
    pub fn materialize(&self) -> Document {
        // The ETag is taken from the bytes actually rendered (the same the hash was).
        Document::new(self.content_type, (self.render)(), self.last_modified, None)
    }

    /// The lazy form of `bytes`, rendered again by `render`.
    pub fn new(
        content_type: &'static str,
        bytes: &[u8],
        last_modified: SystemTime,
        render: Render,
    ) -> Lazy {
        Lazy {
            content_type,
            hash: content_hash(bytes),
            len: bytes.len(),
            last_modified: whole_seconds(last_modified),
            render,
        }
    }
}

/// Post pages rendered for requests, kept while they fit in a byte budget: a page asked for
/// again, in the same or another coding, is neither rendered nor compressed again. An entry
/// counts only for the version (hash) it was rendered from.
pub struct RenderedPages(ByteCache<String, Arc<Document>>);

impl Cost for Arc<Document> {
    /// The identity bytes (its compressed forms count in the budget for compressed forms).
    fn cost(&self) -> usize {
        self.len() + 256
    }
}

impl RenderedPages {
    pub fn new(budget: usize) -> RenderedPages {
        RenderedPages(ByteCache::new(budget, 16 << 10))
    }

    /// The page at `route` rendered from the version `hash`, if kept.
    pub fn get(&self, route: &str, hash: u128) -> Option<Arc<Document>> {
        self.0.get(&route.to_owned()).filter(|d| d.hash == hash)
    }

    /// Keeps `doc` for `route` (replacing an older version); a page bigger than a quarter of
    /// the budget is not kept.
    pub fn put(&self, route: &str, doc: Arc<Document>) {
        if doc.cost() <= self.0.budget() / 4 {
            self.0.insert(route.to_owned(), doc);
        }
    }
}

/// The compressed forms of one document version: each made on first use, and kept while the
/// process's budget for compressed bytes allows.
struct Encodings {
    /// gzip, br, zstd: `Some(None)` once compressing was found not to pay.
    cells: [ArcSwapOption<Option<Representation>>; 3],
    /// Set when a kept form is read: the budget passes over a used form once before it drops
    /// it (second chance), so a feed that is polled stays compressed.
    used: [AtomicBool; 3],
    budget: &'static CompressedBudget,
}

impl Encodings {
    fn new(budget: &'static CompressedBudget) -> Encodings {
        Encodings {
            cells: Default::default(),
            used: Default::default(),
            budget,
        }
    }

    fn slot(coding: Coding) -> Option<usize> {
        match coding {
            Coding::Identity => None,
            Coding::Gzip => Some(0),
            Coding::Brotli => Some(1),
            Coding::Zstd => Some(2),
        }
    }

    fn touch(&self, i: usize) {
        // Read before written: a hot form's flag is already set, and its cache line stays
        // shared between the event loops.
        if !self.used[i].load(Ordering::Relaxed) {
            self.used[i].store(true, Ordering::Relaxed);
        }
    }

    /// Keeps `form` in cell `i` unless another request got there first (that one is
    /// returned), and charges it to the budget.
    fn keep(
        self: &Arc<Self>,
        i: usize,
        form: Arc<Option<Representation>>,
    ) -> Arc<Option<Representation>> {
        let prev = self.cells[i].compare_and_swap(&None::<Arc<_>>, Some(Arc::clone(&form)));
        if let Some(kept) = prev.as_ref() {
            return Arc::clone(kept);
        }
        self.budget
            .charge(Arc::downgrade(self), i, form_cost(&form));
        form
    }
}

impl Drop for Encodings {
    fn drop(&mut self) {
        let held: usize = self
            .cells
            .iter()
            .filter_map(|c| c.load().as_ref().map(|f| form_cost(f)))
            .sum();
        self.budget.held.fetch_sub(held, Ordering::Relaxed);
    }
}

/// What a kept compressed form costs: its bytes and bookkeeping.
fn form_cost(form: &Option<Representation>) -> usize {
    form.as_ref().map_or(0, |r| r.bytes.len()) + 128
}

/// The byte budget for the compressed forms of every document (by default
/// [`crate::config::DEFAULT_COMPRESSED_BUDGET`]; `server.compressed_cache_mb`). A site of 100,000 posts has
/// thousands of feeds: a reader polling each once would otherwise leave a compressed copy of
/// every one of them in memory for good. Over budget, the forms made longest ago go first,
/// except those read since the last pass.
pub struct CompressedBudget {
    budget: AtomicUsize,
    held: AtomicUsize,
    queue: Mutex<FormQueue>,
}

/// The kept forms, oldest first: (whose, which cell).
struct FormQueue {
    entries: VecDeque<(Weak<Encodings>, usize)>,
    /// Length at which entries of dropped documents are swept out.
    sweep_at: usize,
}

/// The process's budget, shared by every document.
static COMPRESSED: CompressedBudget =
    CompressedBudget::new(crate::config::DEFAULT_COMPRESSED_BUDGET);

impl CompressedBudget {
    const fn new(budget: usize) -> CompressedBudget {
        CompressedBudget {
            budget: AtomicUsize::new(budget),
            held: AtomicUsize::new(0),
            queue: Mutex::new(FormQueue {
                entries: VecDeque::new(),
                sweep_at: 64,
            }),
        }
    }

    /// Sets the process's budget for compressed forms (bytes).
    pub fn set_global(bytes: usize) {
        COMPRESSED.budget.store(bytes, Ordering::Relaxed);
    }

    fn charge(&self, owner: Weak<Encodings>, slot: usize, cost: usize) {
        self.held.fetch_add(cost, Ordering::Relaxed);
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        // While the budget holds, nothing pops entries: those of dropped documents are swept
        // out each time the queue doubles, so it stays within twice the forms alive.
        if queue.entries.len() >= queue.sweep_at {
            queue.entries.retain(|(w, _)| w.strong_count() > 0);
            queue.sweep_at = (2 * queue.entries.len()).max(64);
        }
        let queue = &mut queue.entries;
        queue.push_back((owner, slot));
        // Each entry is looked at most twice (once to clear its flag): the loop ends.
        let mut looks = 2 * queue.len();
        while self.held.load(Ordering::Relaxed) > self.budget.load(Ordering::Relaxed) && looks > 0 {
            looks -= 1;
            let Some((owner, slot)) = queue.pop_front() else {
                break;
            };
            // A document already dropped gave its bytes back (Drop).
            let Some(enc) = owner.upgrade() else {
                continue;
            };
            if enc.used[slot].swap(false, Ordering::Relaxed) {
                queue.push_back((owner, slot));
                continue;
            }
            if let Some(form) = enc.cells[slot].swap(None) {
                self.held.fetch_sub(form_cost(&form), Ordering::Relaxed);
            }
            // `enc` may be the last reference: its Drop only touches atomics, not the queue.
        }
    }
}

/// One published document.
pub struct Document {
    pub content_type: &'static str,
    pub identity: Representation,
    /// 128-bit hash of the identity bytes: the ETag's opaque part.
    pub hash: u128,
    /// When these bytes were first published (whole seconds).
    pub last_modified: SystemTime,
    pub last_modified_header: HeaderValue,
    /// `Link` header value (`<url>; rel="self"`, hub), if any.
    pub link: Option<String>,
    pub link_header: Option<HeaderValue>,
    /// `Cache-Control` when it is not the server's default (archive pages).
    pub cache_control: Option<HeaderValue>,
    /// Compressed forms made so far (and still kept).
    encodings: Arc<Encodings>,
    /// Set for documents whose bytes are not kept (`identity.bytes` is empty): they are
    /// rendered again for each response that needs them, and compressed then.
    lazy: Option<Render>,
    /// Length of the identity bytes.
    len: usize,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("content_type", &self.content_type)
            .field("etag", &self.identity.etag())
            .field("last_modified", &self.last_modified_header)
            .field("len", &self.len)
            .field("lazy", &self.lazy.is_some())
            .finish_non_exhaustive()
    }
}

/// A `Link` header value (RFC 8288) for `(rel, target)` pairs; `None` for none.
pub fn link_header(relations: &[(&str, String)]) -> Option<String> {
    (!relations.is_empty()).then(|| {
        relations
            .iter()
            .map(|(rel, url)| format!("<{url}>; rel=\"{rel}\""))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The strong ETag of some bytes (RFC 9110 §8.8.3): a hash of the content, so it is the same
/// across restarts and machines for the same bytes.
pub fn etag_for(hash: u128, coding: Coding) -> String {
    format!("\"{hash:032x}{}\"", coding.etag_suffix())
}

/// The content hash behind the ETag.
pub fn content_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// Rounds down to whole seconds: HTTP dates have no fractions, and comparisons must agree
/// with what the client saw.
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Document {
    /// A document with its validators.
    pub fn new(
        content_type: &'static str,
        bytes: Bytes,
        last_modified: SystemTime,
        link: Option<String>,
    ) -> Document {
        let hash = content_hash(&bytes);
        let len = bytes.len();
        let last_modified = whole_seconds(last_modified);
        let last_modified_http = httpdate::fmt_http_date(last_modified);
        Document {
            content_type,
            identity: Representation::new(bytes, etag_for(hash, Coding::Identity)),
            hash,
            last_modified,
            last_modified_header: HeaderValue::from_str(&last_modified_http)
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            // A header value cannot hold CR/LF or other controls: such a link is dropped.
            link_header: link.as_deref().and_then(|l| HeaderValue::from_str(l).ok()),
            link,
            cache_control: None,
            encodings: Arc::new(Encodings::new(&COMPRESSED)),
            lazy: None,
            len,
        }
    }

    /// The document of a lazy entry, for one response (its bytes rendered when needed).
    pub fn from_lazy(l: &Lazy) -> Document {
        let etag = etag_for(l.hash, Coding::Identity);
        let last_modified_http = httpdate::fmt_http_date(l.last_modified);
        Document {
            content_type: l.content_type,
            identity: Representation::new(Bytes::new(), etag),
            hash: l.hash,
            last_modified: l.last_modified,
            last_modified_header: HeaderValue::from_str(&last_modified_http)
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            link: None,
            link_header: None,
            cache_control: None,
            encodings: Arc::new(Encodings::new(&COMPRESSED)),
            lazy: Some(Arc::clone(&l.render)),
            len: l.len,
        }
    }

    /// Whether the representation in `coding` is at hand (identity always is; a compressed
    /// form once computed), so answering with it costs no rendering or compression.
    pub fn is_ready(&self, coding: Coding) -> bool {
        if self.lazy.is_some() {
            return false;
        }
        match Encodings::slot(coding) {
            None => true,
            Some(i) => self.encodings.cells[i].load().is_some(),
        }
    }

    /// Whether the bytes are rendered per response rather than kept.
    pub fn is_lazy(&self) -> bool {
        self.lazy.is_some()
    }

    /// Length of the identity bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The identity bytes (rendered now, for a lazy document).
    pub fn identity_bytes(&self) -> Bytes {
        match &self.lazy {
            Some(render) => render(),
            None => self.identity.bytes.clone(),
        }
    }

    /// The coding that will be sent for a request accepting `coding`, and its ETag header.
    /// Cheap for lazy documents (nothing is rendered): they are always sent in the requested
    /// coding.
    pub fn etag_header(&self, coding: Coding) -> (Coding, HeaderValue) {
        if self.lazy.is_some() {
            if coding == Coding::Identity {
                return (coding, self.identity.etag_header.clone());
            }
            let etag = etag_for(self.hash, coding);
            let header =
                HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            return (coding, header);
        }
        self.representation(coding).map_or(
            (Coding::Identity, self.identity.etag_header.clone()),
            |(c, rep)| (c, rep.etag_header),
        )
    }

    /// The bytes to send in `coding` (as chosen by [`Document::etag_header`]).
    pub fn body(&self, coding: Coding) -> Bytes {
        match &self.lazy {
            Some(render) => {
                let raw = render();
                if coding == Coding::Identity {
                    return raw;
                }
                compress(coding, &raw).map_or(raw, Bytes::from)
            }
            None => self
                .representation(coding)
                .map_or_else(|| self.identity.bytes.clone(), |(_, rep)| rep.bytes),
        }
    }

    /// The same document with its own `Cache-Control`.
    pub fn with_cache_control(mut self, value: HeaderValue) -> Document {
        self.cache_control = Some(value);
        self
    }

    /// The representation in `coding`, compressing on first use (or again, once the budget
    /// for compressed bytes let it go). `None` when compressing does not make it smaller (the
    /// identity is sent instead).
    pub fn encoded(&self, coding: Coding) -> Option<Representation> {
        if self.lazy.is_some() {
            return None;
        }
        let Some(i) = Encodings::slot(coding) else {
            return Some(self.identity.clone());
        };
        let cell = &self.encodings.cells[i];
        if let Some(form) = cell.load().as_ref() {
            self.encodings.touch(i);
            return form.as_ref().clone();
        }
        let raw = &self.identity.bytes;
        let form = compress(coding, raw)
            .ok()
            .filter(|bytes| bytes.len() < raw.len())
            .map(|bytes| Representation::new(Bytes::from(bytes), etag_for(self.hash, coding)));
        self.encodings.keep(i, Arc::new(form)).as_ref().clone()
    }

    /// What a response asking for `accepted` carries: the form in that coding, or the identity
    /// when compressing does not pay; its ETag and its bytes together, compressed at most once
    /// per call (the budget may let a form go between two calls). `None` for a lazy document,
    /// whose bytes are rendered per response.
    pub fn representation(&self, accepted: Coding) -> Option<(Coding, Representation)> {
        if self.lazy.is_some() {
            return None;
        }
        Some(match self.encoded(accepted) {
            Some(rep) => (accepted, rep),
            None => (Coding::Identity, self.identity.clone()),
        })
    }

    /// True when `tag` (opaque part, quotes included) is this version's ETag in `coding`: the
    /// comparison preconditions make, against the representation the request would be sent
    /// (RFC 9110 §13.1.1, §13.1.2), not against any representation of the document.
    pub fn matches_etag_in(&self, tag: &str, coding: Coding) -> bool {
        let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let suffix = coding.etag_suffix();
        inner.len() == 32 + suffix.len()
            && inner.ends_with(suffix)
            && is_hex_of(&inner[..32], self.hash)
    }

    /// True when `tag` (opaque part, quotes included) names any representation of this
    /// version of the document. For checking what was sent; preconditions use
    /// [`Document::matches_etag_in`].
    pub fn matches_etag(&self, tag: &str) -> bool {
        let Some(inner) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return false;
        };
        let hex = format!("{:032x}", self.hash);
        matches!(
            inner.strip_prefix(hex.as_str()),
            Some("" | "-gz" | "-br" | "-zst")
        )
    }
}

/// True when `hex` is `hash` as 32 lowercase hex digits (what [`etag_for`] writes), without
/// formatting it: this runs on every conditional request.
fn is_hex_of(hex: &str, hash: u128) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    hex.len() == 32
        && hex
            .bytes()
            .enumerate()
            .all(|(i, b)| b == DIGITS[((hash >> (124 - 4 * i)) & 0xf) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_materialized_page_is_ready_in_the_codings_computed() {
        let text = "<p>page</p>".repeat(100);
        let render: Render = {
            let text = text.clone();
            Arc::new(move || Bytes::from(text.clone()))
        };
        let lazy = Lazy::new(
            "text/html; charset=utf-8",
            text.as_bytes(),
            UNIX_EPOCH,
            render,
        );
        assert!(!Document::from_lazy(&lazy).is_ready(Coding::Identity));
        let doc = lazy.materialize();
        assert_eq!(doc.hash, lazy.hash);
        assert!(doc.is_ready(Coding::Identity) && !doc.is_ready(Coding::Gzip));
        assert!(doc.encoded(Coding::Gzip).is_some());
        assert!(doc.is_ready(Coding::Gzip) && !doc.is_ready(Coding::Brotli));
    }
    #[test]
    fn etag_is_stable_and_differs_per_coding() {
        let d = Document::new("text/plain", Bytes::from_static(b"hello"), UNIX_EPOCH, None);
        let again = Document::new("text/plain", Bytes::from_static(b"hello"), UNIX_EPOCH, None);
        assert_eq!(d.identity.etag(), again.identity.etag());
        assert!(d.identity.etag().starts_with('"') && d.identity.etag().ends_with('"'));
        assert_ne!(etag_for(d.hash, Coding::Gzip), d.identity.etag());
        assert!(d.matches_etag(&etag_for(d.hash, Coding::Brotli)));
        assert!(!d.matches_etag("\"other\""));
        assert!(!d.matches_etag(&d.identity.etag()[1..]));
    }

    #[test]
    fn etag_matches_only_in_its_own_coding() {
        let d = Document::new("text/plain", Bytes::from_static(b"hello"), UNIX_EPOCH, None);
        let all = [Coding::Identity, Coding::Gzip, Coding::Brotli, Coding::Zstd];
        for sent in all {
            for tagged in all {
                assert_eq!(
                    d.matches_etag_in(&etag_for(d.hash, tagged), sent),
                    sent == tagged,
                    "{tagged:?} tag against a {sent:?} response"
                );
            }
        }
        let tag = d.identity.etag();
        assert!(!d.matches_etag_in(&tag.to_ascii_uppercase(), Coding::Identity));
        assert!(!d.matches_etag_in(&tag[1..], Coding::Identity));
        assert!(!d.matches_etag_in("\"\"", Coding::Identity));
        assert!(!d.matches_etag_in(&format!("\"{:032x}-gz\"", d.hash ^ 1), Coding::Gzip));
    }

    #[test]
    fn compression_round_trips() {
        let raw = "港口吞吐量 <item>feed</item> ".repeat(500);
        let d = Document::new("text/xml", Bytes::from(raw.clone()), UNIX_EPOCH, None);
        let gz = d.encoded(Coding::Gzip).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz.bytes[..]), &mut out)
            .unwrap();
        assert_eq!(out, raw);
        let br = d.encoded(Coding::Brotli).unwrap();
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br.bytes[..], &mut out).unwrap();
        assert_eq!(out, raw.as_bytes());
        let zs = d.encoded(Coding::Zstd).unwrap();
        assert_eq!(
            zstd::bulk::decompress(&zs.bytes, raw.len()).unwrap(),
            raw.as_bytes()
        );
        // Cached: the same bytes come back.
        assert_eq!(d.encoded(Coding::Gzip).unwrap().bytes, gz.bytes);
    }

    /// A document whose compressed forms are charged to `budget` instead of the process's.
    fn doc_in(budget: &'static CompressedBudget, text: &str) -> Document {
        let mut d = Document::new("text/xml", Bytes::from(text.to_owned()), UNIX_EPOCH, None);
        d.encodings = Arc::new(Encodings::new(budget));
        d
    }

    /// `n` documents of distinct texts charged to a new budget, the texts, and what one gzip
    /// form costs (made for the first document with a zero budget: let go at once).
    fn budgeted(n: usize) -> (&'static CompressedBudget, Vec<Document>, Vec<String>, usize) {
        let budget: &'static CompressedBudget = Box::leak(Box::new(CompressedBudget::new(0)));
        let texts: Vec<String> = (0..n)
            .map(|i| format!("<item>{i}</item>").repeat(2000))
            .collect();
        let docs: Vec<Document> = texts.iter().map(|t| doc_in(budget, t)).collect();
        let one = form_cost(&Some(docs[0].encoded(Coding::Gzip).unwrap()));
        (budget, docs, texts, one)
    }

    #[test]
    fn compressed_forms_stay_within_their_budget() {
        let (budget, docs, texts, one) = budgeted(6);
        // Room for three forms (the first one, made with a zero budget, was let go at once).
        assert!(!docs[0].is_ready(Coding::Gzip));
        budget.budget.store(3 * one + one / 2, Ordering::Relaxed);
        for d in &docs {
            assert!(d.encoded(Coding::Gzip).is_some());
            assert!(budget.held.load(Ordering::Relaxed) <= 3 * one + one / 2);
        }
        let ready: Vec<bool> = docs.iter().map(|d| d.is_ready(Coding::Gzip)).collect();
        assert_eq!(ready, [false, false, false, true, true, true]);
        // A form made again is the same bytes.
        let again = docs[0].encoded(Coding::Gzip).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&again.bytes[..]),
            &mut out,
        )
        .unwrap();
        assert_eq!(out, texts[0]);
        // Dropped documents give their bytes back.
        drop(docs);
        assert_eq!(budget.held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn forms_of_dropped_documents_leave_the_queue_under_budget() {
        let (budget, docs, _, _) = budgeted(1);
        budget.budget.store(usize::MAX, Ordering::Relaxed);
        drop(docs);
        // More rounds than the first sweep's threshold (64): without the sweep the queue
        // would hold one entry per round.
        for round in 0..200 {
            let d = doc_in(budget, &format!("<item>{round}</item>").repeat(500));
            assert!(d.encoded(Coding::Gzip).is_some());
        }
        let queue = budget.queue.lock().unwrap();
        assert!(queue.entries.len() <= 64, "{} entries", queue.entries.len());
        drop(queue);
        let kept: Vec<Document> = (0..200)
            .map(|n| doc_in(budget, &format!("<item>{n}</item>").repeat(500)))
            .collect();
        for (n, d) in kept.iter().enumerate() {
            assert!(d.encoded(Coding::Gzip).is_some(), "{n}");
        }
        drop(kept);
        for round in 0..300 {
            let d = doc_in(budget, &format!("<entry>{round}</entry>").repeat(500));
            assert!(d.encoded(Coding::Gzip).is_some());
        }
        let n = budget.queue.lock().unwrap().entries.len();
        assert!(n <= 400, "{n} entries for no document alive");
        assert_eq!(budget.held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_compressed_form_read_again_is_kept_longer() {
        let (budget, docs, _, one) = budgeted(4);
        budget.budget.store(2 * one + one / 2, Ordering::Relaxed);
        let hot = &docs[1];
        hot.encoded(Coding::Gzip);
        docs[2].encoded(Coding::Gzip);
        // Polled again: the next form to come in drops docs[2], not the older hot one.
        hot.encoded(Coding::Gzip);
        docs[3].encoded(Coding::Gzip);
        assert!(hot.is_ready(Coding::Gzip));
        assert!(!docs[2].is_ready(Coding::Gzip));
        assert!(docs[3].is_ready(Coding::Gzip));
        // Each coding is a form of its own, read or not on its own.
        hot.encoded(Coding::Zstd);
        assert!(hot.is_ready(Coding::Zstd) && !docs[3].is_ready(Coding::Gzip));
    }

    #[test]
    fn tiny_documents_are_not_compressed() {
        let d = Document::new("text/plain", Bytes::from_static(b"x"), UNIX_EPOCH, None);
        assert!(d.encoded(Coding::Gzip).is_none());
    }

    #[test]
    fn rendered_pages_keep_one_version_within_their_budget() {
        let page = |text: &str| {
            Arc::new(Document::new(
                "text/html; charset=utf-8",
                Bytes::copy_from_slice(text.as_bytes()),
                UNIX_EPOCH,
                None,
            ))
        };
        let a = page(&"a".repeat(1000));
        let kept = RenderedPages::new(100 * a.cost());
        kept.put("/a", Arc::clone(&a));
        assert!(kept.get("/a", a.hash).is_some());
        // Another version of the page is not what was kept.
        assert!(kept.get("/a", a.hash ^ 1).is_none());
        // A new version replaces the old one in place.
        let a2 = page(&"A".repeat(1000));
        kept.put("/a", Arc::clone(&a2));
        assert!(kept.get("/a", a.hash).is_none() && kept.get("/a", a2.hash).is_some());
        // Too big for a quarter of the budget: not kept at all.
        let big = page(&"f".repeat(26 * a.cost()));
        kept.put("/f", Arc::clone(&big));
        assert!(kept.get("/f", big.hash).is_none());
        // Many pages: the budget holds.
        for n in 0..1000 {
            kept.put(&format!("/{n}"), page(&format!("{n:04}").repeat(250)));
        }
        assert!(kept.0.held().1 <= 100 * a.cost(), "{:?}", kept.0.held());
    }
}
