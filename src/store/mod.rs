//! The store: every published document by route, with the validators the server sends — a
//! strong `ETag` from the bytes and a `Last-Modified` that moves only when the bytes do — and
//! its compressed forms, computed on first request and kept while they fit in a byte budget
//! ([`CompressedBudget`]).
//!
//! A store is immutable; a rebuild makes a new one and swaps it in whole (`arc-swap`), so a
//! request sees the old set or the new set, never a mix. Documents whose bytes did not change
//! are carried over as the same `Arc`, keeping their `Last-Modified` and compressed bytes.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod archive;
pub mod route;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use hyper::header::HeaderValue;

use crate::render::Doc;

/// A content coding the server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// Suffix that makes an encoded representation's ETag differ from the identity one.
    fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gz",
            Coding::Brotli => "-br",
            Coding::Zstd => "-zst",
        }
    }
}

/// Compression levels: fast enough that compressing a 100 KB feed takes about a millisecond,
/// so it never dominates a rebuild, while keeping most of the size win.
pub const GZIP_LEVEL: u32 = 6;
pub const BROTLI_QUALITY: u32 = 5;
pub const ZSTD_LEVEL: i32 = 3;

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

/// Post pages rendered for requests, kept while they fit in a byte budget (oldest out): a
/// page asked for again, in the same or another coding, is neither rendered nor compressed
/// again. An entry counts only for the version (hash) it was rendered from.
pub struct RenderedPages {
    inner: std::sync::Mutex<RenderedInner>,
    budget: usize,
}

#[derive(Default)]
struct RenderedInner {
    map: HashMap<String, Arc<Document>>,
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

impl RenderedPages {
    pub fn new(budget: usize) -> RenderedPages {
        RenderedPages {
            inner: std::sync::Mutex::new(RenderedInner::default()),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RenderedInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The page at `route` rendered from the version `hash`, if kept.
    pub fn get(&self, route: &str, hash: u128) -> Option<Arc<Document>> {
        self.lock()
            .map
            .get(route)
            .filter(|d| d.hash == hash)
            .map(Arc::clone)
    }

    /// Keeps `doc` for `route` (replacing an older version), dropping the oldest pages
    /// while over budget; a page bigger than a quarter of the budget is not kept.
    pub fn put(&self, route: &str, doc: Arc<Document>) {
        // The identity bytes (its compressed forms count in the process's compressed budget).
        let cost = |d: &Document| d.len();
        if cost(&doc) > self.budget / 4 {
            return;
        }
        let mut inner = self.lock();
        let added = cost(&doc);
        match inner.map.insert(route.to_owned(), doc) {
            Some(old) => inner.bytes = inner.bytes.saturating_sub(cost(&old)),
            None => inner.order.push_back(route.to_owned()),
        }
        inner.bytes += added;
        while inner.bytes > self.budget {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.map.remove(&oldest) {
                inner.bytes = inner.bytes.saturating_sub(cost(&gone));
            }
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

/// Compresses `raw` with `coding`.
pub fn compress(coding: Coding, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = match coding {
        Coding::Identity => raw.to_vec(),
        Coding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw.len() / 3),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(raw)?;
            enc.finish()?
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(raw.len() / 3);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, 22);
                w.write_all(raw)?;
                w.flush()?;
            }
            out
        }
        Coding::Zstd => zstd::bulk::compress(raw, ZSTD_LEVEL)?,
    };
    // Kept for the life of the document version: without the spare capacity of the guess
    // (a third of the input) or of zstd's worst-case bound (more than the input).
    out.shrink_to_fit();
    Ok(out)
}

/// How many shards the store is split into.
const SHARDS: usize = 256;

/// Every published document by decoded route.
///
/// The map is split into shards behind `Arc`s: the next store shares every shard a republish
/// did not touch, so swapping in an edit costs the few shards it changed, not a copy of every
/// post page of the site.
#[derive(Debug, Clone)]
pub struct Store {
    shards: Vec<Arc<HashMap<String, Arc<Document>>>>,
    /// Documents whose bytes are not kept (post pages), sharded the same way.
    lazy: Vec<Arc<HashMap<String, Lazy>>>,
    len: usize,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            shards: (0..SHARDS).map(|_| Arc::new(HashMap::new())).collect(),
            lazy: (0..SHARDS).map(|_| Arc::new(HashMap::new())).collect(),
            len: 0,
        }
    }
}

fn shard_of(route: &str) -> usize {
    // Fixed hash (not per-process random): shard choice is a pure function of the route.
    (xxhash_rust::xxh3::xxh3_64(route.as_bytes()) % SHARDS as u64) as usize
}

impl Store {
    /// Looks a decoded route up among the documents whose bytes are kept.
    pub fn get(&self, route: &str) -> Option<&Arc<Document>> {
        self.shards[shard_of(route)].get(route)
    }

    /// Looks a decoded route up among the lazy documents.
    pub fn lazy(&self, route: &str) -> Option<&Lazy> {
        self.lazy[shard_of(route)].get(route)
    }

    /// The document at a route, kept or lazy.
    pub fn document(&self, route: &str) -> Option<Arc<Document>> {
        self.get(route)
            .cloned()
            .or_else(|| self.lazy(route).map(|l| Arc::new(Document::from_lazy(l))))
    }

    /// Adds or replaces a lazy document.
    pub fn put_lazy(&mut self, route: String, entry: Lazy) {
        let i = shard_of(&route);
        if Arc::make_mut(&mut self.lazy[i])
            .insert(route, entry)
            .is_none()
        {
            self.len += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Routes in order (for logs and tests).
    pub fn routes(&self) -> Vec<&str> {
        let mut r: Vec<&str> = self
            .shards
            .iter()
            .flat_map(|s| s.keys().map(String::as_str))
            .chain(self.lazy.iter().flat_map(|s| s.keys().map(String::as_str)))
            .collect();
        r.sort_unstable();
        r
    }

    fn shard_mut(&mut self, route: &str) -> &mut HashMap<String, Arc<Document>> {
        Arc::make_mut(&mut self.shards[shard_of(route)])
    }

    /// Builds the next store from `prev`: `removals` leave, `upserts` come in.
    ///
    /// An upserted document whose bytes equal the previous store's is carried over as the same
    /// `Arc` (same `Last-Modified`, compressed forms kept). Otherwise its `Last-Modified` is
    /// `fixed_time` if given, else `time_of(route, hash)` — the mtime of the file holding those
    /// bytes, as the sync of `feeds/` reports it, so it survives restarts — else
    /// `fallback_time` (this publish); and never later than `fallback_time`.
    pub fn update(
        prev: &Store,
        upserts: impl IntoIterator<Item = (String, Doc, Option<SystemTime>)>,
        removals: impl IntoIterator<Item = String>,
        time_of: impl Fn(&str, u128) -> Option<SystemTime>,
        link_of: impl Fn(&str) -> Option<String>,
        fallback_time: SystemTime,
    ) -> Store {
        let mut next = prev.clone();
        for route in removals {
            let i = shard_of(&route);
            let removed = next.shard_mut(&route).remove(&route).is_some()
                || (next.lazy[i].contains_key(&route)
                    && Arc::make_mut(&mut next.lazy[i]).remove(&route).is_some());
            if removed {
                next.len -= 1;
            }
        }
        for (route, doc, fixed_time) in upserts {
            let hash = content_hash(&doc.bytes);
            let document = match prev.get(&route) {
                Some(old) if old.hash == hash && old.content_type == doc.content_type => {
                    Arc::clone(old)
                }
                _ => {
                    let time = fixed_time
                        .or_else(|| time_of(&route, hash))
                        .unwrap_or(fallback_time)
                        // Never later than now (RFC 9110 §8.8.2.1): a post page of a
                        // future-dated or future-`updated` post would otherwise answer 304 to
                        // every later revalidation.
                        .min(fallback_time);
                    let link = link_of(&route);
                    Arc::new(Document::new(doc.content_type, doc.bytes, time, link))
                }
            };
            if next.shard_mut(&route).insert(route, document).is_none() {
                next.len += 1;
            }
        }
        next
    }

    /// Builds the next store holding exactly `docs` (see [`Store::update`]).
    pub fn next(
        prev: &Store,
        docs: impl IntoIterator<Item = (String, Doc, Option<SystemTime>)>,
        link_of: impl Fn(&str) -> Option<String>,
        fallback_time: SystemTime,
    ) -> Store {
        let docs: Vec<_> = docs.into_iter().collect();
        let keep: std::collections::HashSet<&str> = docs.iter().map(|d| d.0.as_str()).collect();
        let removals: Vec<String> = prev
            .shards
            .iter()
            .flat_map(|s| s.keys())
            .filter(|r| !keep.contains(r.as_str()))
            .cloned()
            .collect();
        Store::update(prev, docs, removals, |_, _| None, link_of, fallback_time)
    }
}

#[cfg(test)]
mod tests {

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
        // 50 bytes of budget; a page costs its length; at most 12.5 per page.
        let kept = RenderedPages::new(50);
        let pages: Vec<Arc<Document>> = "abcd"
            .chars()
            .map(|c| page(&c.to_string().repeat(12)))
            .collect();
        for (p, route) in pages.iter().zip(["/a", "/b", "/c", "/d"]) {
            kept.put(route, Arc::clone(p));
        }
        assert!(kept.get("/a", pages[0].hash).is_some(), "48 bytes fit");
        // Another version of the page is not what was kept.
        assert!(kept.get("/a", pages[0].hash ^ 1).is_none());
        let e = page(&"e".repeat(12));
        kept.put("/e", Arc::clone(&e));
        // 60 > 50: the oldest went, the rest stay.
        assert!(kept.get("/a", pages[0].hash).is_none());
        assert!(kept.get("/b", pages[1].hash).is_some() && kept.get("/e", e.hash).is_some());
        // Too big for a quarter of the budget: not kept at all.
        let big = page(&"f".repeat(13));
        kept.put("/f", Arc::clone(&big));
        assert!(kept.get("/f", big.hash).is_none());
        // A new version replaces the old one in place.
        let b2 = page(&"B".repeat(12));
        kept.put("/b", Arc::clone(&b2));
        assert!(kept.get("/b", pages[1].hash).is_none());
        assert!(kept.get("/b", b2.hash).is_some());
        assert!(kept.get("/c", pages[2].hash).is_some());
    }

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
    use super::*;

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

    #[test]
    fn lazy_documents_keep_validators_not_bytes() {
        let raw = Bytes::from("<p>港口</p>".repeat(300));
        let stored = Document::new("text/html; charset=utf-8", raw.clone(), UNIX_EPOCH, None);
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r2, n) = (raw.clone(), Arc::clone(&renders));
        let render: Render = Arc::new(move || {
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            r2.clone()
        });
        let mut store = Store::default();
        store.put_lazy(
            "/p.html".into(),
            Lazy::new("text/html; charset=utf-8", &raw, UNIX_EPOCH, render),
        );
        assert_eq!(store.len(), 1);
        assert_eq!(store.routes(), ["/p.html"]);
        assert!(store.get("/p.html").is_none(), "not a kept document");
        let lazy = store.document("/p.html").unwrap();
        assert!(lazy.is_lazy() && lazy.identity.bytes.is_empty());
        assert_eq!(lazy.len(), raw.len());
        assert_eq!(lazy.identity.etag(), stored.identity.etag());
        assert_eq!(lazy.last_modified, stored.last_modified);
        assert_eq!(lazy.last_modified_header, stored.last_modified_header);
        // Validators without rendering.
        for coding in [Coding::Identity, Coding::Gzip, Coding::Brotli, Coding::Zstd] {
            let (c, etag) = lazy.etag_header(coding);
            assert_eq!(c, coding);
            assert_eq!(etag, stored.etag_header(coding).1, "{coding:?}");
        }
        assert_eq!(renders.load(std::sync::atomic::Ordering::Relaxed), 0);
        // Bytes rendered per response, compressed as asked.
        assert_eq!(lazy.body(Coding::Identity), raw);
        let gz = lazy.body(Coding::Gzip);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, raw);
        assert_eq!(renders.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Removed like any document.
        let next = Store::update(
            &store,
            [],
            ["/p.html".to_owned()],
            |_, _| None,
            |_| None,
            SystemTime::now(),
        );
        assert!(next.document("/p.html").is_none() && next.is_empty());
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
    fn unchanged_documents_carry_over() {
        let doc = |b: &str| Doc {
            content_type: "text/plain",
            bytes: Bytes::from(b.as_bytes().to_vec()),
        };
        let t1 = UNIX_EPOCH + Duration::from_secs(1000);
        let t2 = UNIX_EPOCH + Duration::from_secs(2000);
        let s1 = Store::next(
            &Store::default(),
            [("/a".into(), doc("a"), None), ("/b".into(), doc("b"), None)],
            |_| None,
            t1,
        );
        let s2 = Store::next(
            &s1,
            [
                ("/a".into(), doc("a"), None),
                ("/b".into(), doc("b2"), None),
            ],
            |_| None,
            t2,
        );
        assert!(Arc::ptr_eq(s1.get("/a").unwrap(), s2.get("/a").unwrap()));
        assert_eq!(s2.get("/a").unwrap().last_modified, t1);
        assert_eq!(s2.get("/b").unwrap().last_modified, t2);
    }
}
