//! One request → one response, from the current store only.
//!
//! Paths are percent-decoded segment by segment and looked up in an in-memory map; nothing
//! here touches the file system, so no request path can reach it. A decoded segment that is
//! `.`/`..` or holds `/` or NUL never names a document.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, ETAG, HOST, LAST_MODIFIED, LINK, VARY, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};

use super::conditional::{choose_coding, Outcome, Preconditions};
use super::State;
use crate::cache::keys::{self, SURROGATE_KEY};
use crate::metrics::Class;
use crate::store::{Coding, Document, Representation};

pub use crate::store::route::{route_of, PathError, MAX_PATH_BYTES};

/// The policy for HTML pages: no scripts, no frames, no plugins; images and media from anywhere
/// (post content links to the original site's images).
pub const HTML_CSP: &str = "default-src 'none'; img-src * data:; media-src *; \
     style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Length of the request-target as the client sent it: the path and query, plus the scheme and
/// authority of an absolute-form target.
fn target_len(uri: &Uri) -> usize {
    uri.scheme_str().map_or(0, |s| s.len() + "://".len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |pq| pq.as_str().len())
}

/// Whether the request's `Host` fields are as RFC 9112 §3.2 requires: exactly one in an
/// HTTP/1.1 request, at most one in an HTTP/1.0 one. HTTP/2 names the authority in
/// `:authority` instead and is exempt.
pub fn host_is_valid(version: Version, headers: &hyper::HeaderMap) -> bool {
    if version == Version::HTTP_2 || version == Version::HTTP_3 {
        return true;
    }
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) => version != Version::HTTP_11,
        (Some(_), None) => true,
        (Some(_), Some(_)) => false,
    }
}

/// Answers a request that fails [`host_is_valid`] with 400, whatever its method and path: the
/// connection layer's check, made before any routing (a request built in-process, as the fuzz
/// harness builds them, goes to [`handle`] without it).
pub fn handle_bad_host<B>(req: &Request<B>, state: &State) -> Response<Full<Bytes>> {
    let started = state.access_log.then(Instant::now);
    let response = plain(
        StatusCode::BAD_REQUEST,
        "400 bad request: expected one Host header\n",
    );
    if let Some(started) = started {
        log_access(req.method(), req.uri().path(), &response, started);
    }
    response
}

/// Handles one request.
pub fn handle<B>(req: &Request<B>, state: &State) -> Handled {
    handle_classed(req, state).1
}

/// Handles one request, and says what it was routed to (for the metrics).
pub fn handle_classed<B>(req: &Request<B>, state: &State) -> (Class, Handled) {
    let started = state.access_log.then(Instant::now);
    let (class, handled) = respond(req, state);
    if let (Some(started), Handled::Done(response)) = (started, &handled) {
        log_access(req.method(), req.uri().path(), response, started);
    }
    (class, handled)
}

/// What [`handle`] did with a request.
pub enum Handled {
    /// Answered.
    Done(Response<Full<Bytes>>),
    /// An archive page the store does not hold: to be fetched from the source (it may block)
    /// with its representation in the coding given, and answered with [`handle_fetched`].
    Archive(String, std::sync::Arc<dyn super::Archives>, Coding),
    /// A post page to render (and compress in the coding given) with [`render_page`], which
    /// may take a while for a long post, then answer with [`handle_fetched`].
    Page(String, crate::store::Lazy, Coding),
    /// A browser's navigation to the feed at this route: its browser view (rendered from the
    /// source, where it may block) in the coding given, answered with [`handle_fetched`] — or
    /// the feed itself if there is no view.
    View(String, std::sync::Arc<dyn super::Archives>, Coding),
    /// A document whose form in the coding given is not at hand: to compress (with
    /// [`Document::representation`], which keeps it) on a thread that may block, then answer with
    /// [`handle_fetched`] and that representation.
    Compress(std::sync::Arc<Document>, Coding),
    /// An asset's file to open (which may block) and stream: [`super::file::serve`].
    File(super::file::Planned),
    /// An ActivityPub document (an actor, an outbox page, a post's `Article`…) to make with
    /// [`crate::activitypub::ActivityPub::render`] where it may block, in the coding given,
    /// then answer with [`handle_fetched`].
    Activity(
        std::sync::Arc<crate::activitypub::ActivityPub>,
        crate::activitypub::Job,
        Coding,
    ),
}

/// The access log line of a request: method, path, status, body bytes, microseconds.
pub(super) fn log_access<B>(method: &Method, path: &str, response: &Response<B>, started: Instant) {
    let bytes = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0");
    let bytes = if method == Method::HEAD { "0" } else { bytes };
    tracing::info!(
        target: "feedsmith::access",
        "{} {} {} {}B {}µs",
        method,
        path,
        response.status().as_u16(),
        bytes,
        started.elapsed().as_micros()
    );
}

/// How long a subscriber has to send its request body.
pub const HUB_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Handles `POST /hub` (only called when the hub is enabled): reads the form body, at most
/// [`crate::hub::request::MAX_BODY_BYTES`] within [`HUB_BODY_TIMEOUT`], and hands it to the
/// hub.
pub async fn handle_hub_post(
    req: Request<hyper::body::Incoming>,
    state: &State,
) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let limit = crate::hub::request::MAX_BODY_BYTES;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let response = if declared.is_some_and(|n| n > limit as u64) {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413 request body too large\n",
        )
    } else {
        let read = http_body_util::Limited::new(body, limit).collect();
        match tokio::time::timeout(HUB_BODY_TIMEOUT, read).await {
            Err(_) => plain(StatusCode::REQUEST_TIMEOUT, "408 request body too slow\n"),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "413 request body too large\n",
            ),
            Ok(Err(_)) => plain(StatusCode::BAD_REQUEST, "400 bad request body\n"),
            Ok(Ok(collected)) => match &state.hub {
                Some(hub) => {
                    let body = collected.to_bytes();
                    let content_type = parts
                        .headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok());
                    let reply = hub.accept(content_type, &body, &state.store.load());
                    let status = StatusCode::from_u16(reply.status)
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    text(status, reply.message)
                }
                None => plain(StatusCode::NOT_FOUND, "404 not found\n"),
            },
        }
    };
    if state.access_log {
        log_access(&parts.method, parts.uri.path(), &response, started);
    }
    response
}

fn respond<B>(req: &Request<B>, state: &State) -> (Class, Handled) {
    if target_len(req.uri()) > MAX_PATH_BYTES {
        let r = plain(StatusCode::URI_TOO_LONG, "414 URI too long\n");
        return (Class::Other, Handled::Done(r));
    }
    // `/metrics` and `/healthz` (wherever configured) come before every route of the site.
    if let Some(response) = super::ops::respond(req, state) {
        return (Class::Ops, Handled::Done(response));
    }
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed\n");
        let allow = if state.hub.is_some() && req.uri().path() == crate::hub::HUB_ROUTE {
            "GET, HEAD, POST"
        } else {
            "GET, HEAD"
        };
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        return (Class::Other, Handled::Done(r));
    }
    let route = match route_of(req.uri().path()) {
        Ok(r) => r,
        Err(e) => {
            let r = match e {
                PathError::Bad => plain(StatusCode::BAD_REQUEST, "400 bad request\n"),
                PathError::TooLong => plain(StatusCode::URI_TOO_LONG, "414 URI too long\n"),
                PathError::NotFound => plain(StatusCode::NOT_FOUND, "404 not found\n"),
            };
            return (Class::Other, Handled::Done(r));
        }
    };
    // ActivityPub's addresses (WebFinger, NodeInfo, `/ap/…`) come before the store's.
    let activitypub = state.activitypub.get();
    if let Some(ap) = activitypub {
        if let Some(routed) = ap.route(&route, req.uri().query(), req.headers()) {
            return (Class::ActivityPub, activity(req, ap, routed));
        }
    }
    if let Some(archives) = state.archives.get().filter(|_| state.browser_view) {
        // Only a site feed's address: an asset named `notes/rss.xml` is a file like any other.
        let view = crate::feed::paging::parse_feed_route(&route)
            .is_some_and(|(_, _, format)| super::navigation::wants_view(req.headers(), format));
        if view {
            return (
                Class::View,
                Handled::View(
                    route.into_owned(),
                    std::sync::Arc::clone(archives),
                    choose_coding(req.headers()),
                ),
            );
        }
    }
    let store = state.store.load();
    if let Some(doc) = store.get(&route) {
        let class = doc_class(&route, doc);
        // Compressing a large feed takes milliseconds: not on a thread that serves connections.
        // Even a 304 or a HEAD needs the form, to know whether compressing pays (its ETag, its
        // length).
        let coding = choose_coding(req.headers());
        if !state.forms.is_ready(doc, coding) {
            return (class, Handled::Compress(std::sync::Arc::clone(doc), coding));
        }
        return (class, Handled::Done(respond_in(req, state, doc, coding)));
    }
    if let Some(lazy) = store.lazy(&route) {
        // A Fediverse server asking for the post: its `Article`, at the same URL.
        if let Some(ap) = activitypub {
            if let Some(job) = ap.article(lazy, req.headers()) {
                let coding = choose_coding(req.headers());
                return (
                    Class::ActivityPub,
                    Handled::Activity(std::sync::Arc::clone(ap), job, coding),
                );
            }
        }
        // A 304 or 412 needs no bytes, nor does a page already rendered in this coding;
        // anything else is rendered (and compressed) where it may block.
        let doc = Document::from_lazy(lazy);
        let (coding, _) = state.forms.etag_header(&doc, choose_coding(req.headers()));
        if Preconditions::from_headers(req.headers()).evaluate(&doc, coding) != Outcome::Full {
            return (Class::Page, Handled::Done(respond_with(req, state, &doc)));
        }
        if let Some(kept) = state
            .rendered
            .get(&route, lazy.hash)
            .filter(|d| state.forms.is_ready(d, coding))
        {
            return (Class::Page, Handled::Done(respond_with(req, state, &kept)));
        }
        return (
            Class::Page,
            Handled::Page(route.into_owned(), lazy.clone(), coding),
        );
    }
    if let Some(hub) = state
        .hub
        .as_ref()
        .filter(|_| route == crate::hub::HUB_ROUTE)
    {
        return (Class::Hub, Handled::Done(text(StatusCode::OK, hub.page())));
    }
    // Post assets come after every document the site makes (one at a route an archive page
    // could take is never published: see `output::assets::reserved`).
    if let Some(asset) = store.asset(&route) {
        return (Class::Asset, super::file::respond(req, state, asset));
    }
    let handled = match state.archives.get() {
        Some(archives) if crate::feed::paging::looks_like_archive(&route) => {
            return (
                Class::Archive,
                Handled::Archive(
                    route.into_owned(),
                    std::sync::Arc::clone(archives),
                    choose_coding(req.headers()),
                ),
            )
        }
        // A deleted post's page says so (RFC 9110 §15.5.11): a mirror or a crawler can drop it.
        _ if store.is_gone(&route) => {
            Handled::Done(plain(StatusCode::GONE, "410 gone: this post was deleted\n"))
        }
        // A directory's page asked for without its slash (`/tags/rust`): where it is.
        _ if store.document(&format!("{route}/index.html")).is_some() => {
            Handled::Done(to_directory(req.uri()))
        }
        _ => Handled::Done(plain(StatusCode::NOT_FOUND, "404 not found\n")),
    };
    (Class::Other, handled)
}

/// The class of a document the store holds at `route`.
fn doc_class(route: &str, doc: &Document) -> Class {
    if crate::config::Format::of_content_type(doc.content_type).is_some() {
        Class::Feed
    } else if route == crate::feed::OPML_ROUTE || route == crate::feed::INDEX_ROUTE {
        Class::List
    } else {
        Class::Page
    }
}

/// What the server does with a request to an ActivityPub address.
fn activity<B>(
    req: &Request<B>,
    ap: &std::sync::Arc<crate::activitypub::ActivityPub>,
    routed: crate::activitypub::Routed,
) -> Handled {
    use crate::activitypub::Routed;
    match routed {
        Routed::Render(job) => {
            Handled::Activity(std::sync::Arc::clone(ap), job, choose_coding(req.headers()))
        }
        // A browser at an actor's address: its page (RFC 9110 §15.4.4).
        Routed::Redirect(location) => {
            let mut r = plain(StatusCode::SEE_OTHER, "303 see other\n");
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(hyper::header::LOCATION, v);
            }
            r.headers_mut().insert(
                VARY,
                HeaderValue::from_static(crate::activitypub::negotiate::VARY),
            );
            Handled::Done(r)
        }
        Routed::Refuse(status, why) => Handled::Done(plain(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            why,
        )),
    }
}

/// `301 Moved Permanently` to the same path with a trailing slash (and the same query): the
/// address a term page or a `…/` permalink is published at.
fn to_directory(uri: &Uri) -> Response<Full<Bytes>> {
    let location = match uri.query() {
        Some(q) => format!("{}/?{q}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut r = plain(StatusCode::MOVED_PERMANENTLY, "301 moved permanently\n");
    // The path came in as a valid request target; with a `/` added it is still one.
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(hyper::header::LOCATION, v);
    }
    r
}

/// Answers a request whose document was fetched where it may block (an archive page, a post
/// page) with it, or 404 when there is none. `made`: its representation, when that was made
/// there too.
pub fn handle_fetched<B>(
    req: &Request<B>,
    state: &State,
    doc: Option<std::sync::Arc<Document>>,
    made: Option<(Coding, Representation)>,
    started: Instant,
) -> Response<Full<Bytes>> {
    let response = match (&doc, made) {
        (Some(doc), Some(made)) => respond_made(req, state, doc, Chosen::made(made)),
        (Some(doc), None) => respond_with(req, state, doc),
        (None, _) => plain(StatusCode::NOT_FOUND, "404 not found\n"),
    };
    if state.access_log {
        log_access(req.method(), req.uri().path(), &response, started);
    }
    response
}

/// Renders the post page at `route` and its representation in `coding`, and keeps it for
/// the next request (the same page may have been rendered meanwhile: that one is used).
pub fn render_page(
    state: &State,
    route: &str,
    lazy: &crate::store::Lazy,
    coding: Coding,
) -> (std::sync::Arc<Document>, Option<(Coding, Representation)>) {
    let doc = state
        .rendered
        .get(route, lazy.hash)
        .unwrap_or_else(|| std::sync::Arc::new(lazy.materialize()));
    let made = state.forms.representation(&doc, coding);
    state.rendered.put(route, std::sync::Arc::clone(&doc));
    (doc, made)
}

/// The response to a GET or HEAD of `doc`.
fn respond_with<B>(req: &Request<B>, state: &State, doc: &Document) -> Response<Full<Bytes>> {
    respond_in(req, state, doc, choose_coding(req.headers()))
}

/// [`respond_with`] for a request whose acceptable coding is already chosen.
pub(super) fn respond_in<B>(
    req: &Request<B>,
    state: &State,
    doc: &Document,
    accepted: Coding,
) -> Response<Full<Bytes>> {
    let chosen = match state.forms.representation(doc, accepted) {
        Some(made) => Chosen::made(made),
        None => {
            let (coding, etag) = state.forms.etag_header(doc, accepted);
            Chosen {
                coding,
                etag,
                bytes: None,
            }
        }
    };
    respond_made(req, state, doc, chosen)
}

/// The representation a response carries: its coding and ETag, and its bytes when they are
/// at hand (a lazy document renders them only for a full response).
struct Chosen {
    coding: Coding,
    etag: HeaderValue,
    bytes: Option<Bytes>,
}

impl Chosen {
    fn made((coding, rep): (Coding, Representation)) -> Chosen {
        Chosen {
            coding,
            etag: rep.etag_header,
            bytes: Some(rep.bytes),
        }
    }
}

/// The response to a GET or HEAD of `doc` in the representation `chosen`: ETag and body come
/// from the same one, so a form the budget lets go in between is not made again.
fn respond_made<B>(
    req: &Request<B>,
    state: &State,
    doc: &Document,
    chosen: Chosen,
) -> Response<Full<Bytes>> {
    let method = req.method();
    let head = method == Method::HEAD;
    let cache_control = || {
        doc.cache_control
            .clone()
            .unwrap_or_else(|| state.max_age_header.clone())
    };
    let Chosen {
        coding,
        etag,
        bytes,
    } = chosen;

    let (vary, key) = cache_headers(req, state);
    // Preconditions compare with the representation this response carries (after falling back
    // to identity when compressing did not pay), and a 304 names that same one.
    match Preconditions::from_headers(req.headers()).evaluate(doc, coding) {
        Outcome::NotModified => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            validators(r.headers_mut(), doc, etag, cache_control(), (vary, key));
            r
        }
        Outcome::PreconditionFailed => {
            let mut r = plain(StatusCode::PRECONDITION_FAILED, "412 precondition failed\n");
            validators(r.headers_mut(), doc, etag, cache_control(), (vary, key));
            r
        }
        Outcome::Full => {
            // HEAD sends the length GET would (a lazy document is rendered for it).
            let bytes = bytes.unwrap_or_else(|| state.forms.body(doc, coding));
            let len = bytes.len();
            let body = if head { Bytes::new() } else { bytes };
            let mut r = Response::new(Full::new(body));
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(doc.content_type));
            h.insert(CONTENT_LENGTH, HeaderValue::from(len));
            if coding != Coding::Identity {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
            }
            validators(h, doc, etag, cache_control(), (vary, key));
            if let Some(link) = &doc.link_header {
                h.insert(LINK, link.clone());
            }
            h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            if super::file::scriptable(doc.content_type) {
                h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(HTML_CSP));
            }
            r
        }
    }
}

/// The headers a 200 and a 304 share: ETag, Last-Modified, Cache-Control, Vary and the
/// surrogate key.
fn validators(
    h: &mut hyper::HeaderMap,
    doc: &Document,
    etag: HeaderValue,
    cache_control: HeaderValue,
    (vary, key): (&'static str, HeaderValue),
) {
    h.insert(ETAG, etag);
    h.insert(LAST_MODIFIED, doc.last_modified_header.clone());
    h.insert(CACHE_CONTROL, cache_control);
    h.insert(VARY, HeaderValue::from_static(vary));
    h.insert(SURROGATE_KEY, key);
}

/// What a response varies on, and its `Surrogate-Key` ([`crate::cache::keys`]), from the route
/// it answers. A feed's address has two representations when browser views are on (the view
/// and the feed), and so do a post's page and an actor's address when ActivityPub is on (HTML
/// and JSON); every other document one in several codings.
fn cache_headers<B>(req: &Request<B>, state: &State) -> (&'static str, HeaderValue) {
    let Ok(route) = route_of(req.uri().path()) else {
        return ("Accept-Encoding", HeaderValue::from_static(keys::ALL));
    };
    let feed = crate::feed::paging::parse_feed_route(&route);
    let store = state.store.load();
    let is_page = || store.lazy(&route).is_some();
    let ap = state.activitypub.get();
    let vary = if feed.is_some() && state.browser_view && state.archives.get().is_some() {
        super::navigation::FEED_VARY
    } else if ap.is_some_and(|ap| ap.negotiates(&route, is_page())) {
        // A post's page or an actor's address: HTML or ActivityPub JSON, by `Accept`.
        crate::activitypub::negotiate::VARY
    } else {
        "Accept-Encoding"
    };
    // An actor's documents (its outbox) change with its scope's posts.
    let actor = ap
        .and_then(|ap| ap.actor_at(&route))
        .map(|(scope, _)| scope);
    let key = match (feed, actor) {
        (Some((scope, ..)), _) | (None, Some(scope)) => keys::value(&keys::scope_key(&scope)),
        (None, None) => match keys::route_key(&route) {
            Some(key) => keys::value(&key),
            // A post's page, or else an asset kept in memory.
            None if is_page() => keys::value(&keys::page_key(&route)),
            None => keys::value(&keys::asset_key(&route)),
        },
    };
    (vary, key)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    body_text(status, Bytes::from_static(text.as_bytes()))
}

/// A `text/plain` response of an owned message.
fn text(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    body_text(status, Bytes::from(text))
}

fn body_text(status: StatusCode, text: Bytes) -> Response<Full<Bytes>> {
    let len = text.len();
    let mut r = Response::new(Full::new(text));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route_of("/rss.xml").unwrap(), "/rss.xml");
        assert!(matches!(
            route_of("/tags/rust/rss.xml").unwrap(),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(route_of("/a/./b").unwrap_err(), PathError::NotFound);
        assert_eq!(route_of("/a/..").unwrap_err(), PathError::NotFound);
        assert_eq!(route_of("/").unwrap(), "/index.html");
        assert_eq!(
            route_of("/tags/%E5%8E%A6%E9%97%A8/rss.xml").unwrap(),
            "/tags/厦门/rss.xml"
        );
        assert_eq!(
            route_of("/guides/start/").unwrap(),
            "/guides/start/index.html"
        );
    }

    #[test]
    fn host_fields() {
        let headers = |hosts: &[&str]| {
            let mut h = hyper::HeaderMap::new();
            for v in hosts {
                h.append(HOST, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        assert!(host_is_valid(Version::HTTP_11, &headers(&["example.com"])));
        assert!(host_is_valid(Version::HTTP_11, &headers(&[""])));
        assert!(!host_is_valid(Version::HTTP_11, &headers(&[])));
        assert!(!host_is_valid(Version::HTTP_11, &headers(&["a", "b"])));
        assert!(!host_is_valid(Version::HTTP_11, &headers(&["a", "a"])));
        assert!(host_is_valid(Version::HTTP_10, &headers(&[])));
        assert!(!host_is_valid(Version::HTTP_10, &headers(&["a", "b"])));
        assert!(host_is_valid(Version::HTTP_2, &headers(&[])));
        assert!(host_is_valid(Version::HTTP_2, &headers(&["a", "b"])));
    }

    #[test]
    fn target_length_counts_what_was_sent() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(target_len(&uri("/rss.xml?a=b")), "/rss.xml?a=b".len());
        assert_eq!(target_len(&uri("*")), 1);
        assert_eq!(
            target_len(&uri("http://example.com/rss.xml")),
            "http://example.com/rss.xml".len()
        );
    }

    #[test]
    fn hostile_paths() {
        assert_eq!(route_of("/../etc/passwd"), Err(PathError::NotFound));
        assert_eq!(route_of("/tags/%2e%2e/%2e%2e/x"), Err(PathError::NotFound));
        assert_eq!(route_of("/tags%2Frust%2Frss.xml"), Err(PathError::NotFound));
        assert_eq!(route_of("/a%00b"), Err(PathError::Bad));
        assert_eq!(route_of("/%FF%FE"), Err(PathError::Bad));
        assert_eq!(route_of("/a//b"), Err(PathError::NotFound));
        assert_eq!(route_of("/a%5Cb"), Err(PathError::NotFound));
        assert_eq!(
            route_of(&format!("/{}", "a".repeat(5000))),
            Err(PathError::TooLong)
        );
        assert_eq!(route_of("*"), Err(PathError::Bad));
    }
}
