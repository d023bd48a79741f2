//! Post assets over HTTP: a request whose route names no document but an asset.
//!
//! An asset kept in memory (small text-like files) is answered as any document is, compressed
//! forms included; it ignores `Range` (RFC 9110 §14.2 lets a server). Any other asset is read
//! from its copy in the output directory: `HEAD`, `304`, `412` and `416` are answered at once
//! from the validators, with no file opened; a `GET` is opened and its first chunk read on a
//! blocking thread ([`open`]), then streamed ([`super::body::FileStream`]). One range per
//! request is answered with `206` ([`super::range`]). The route was looked up in the store's
//! asset index, never joined onto a directory, so no request reaches a file that is not an
//! asset's copy.

use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE, RETRY_AFTER,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};

use super::body::{read_chunk, Body, FileStream, CHUNK};
use super::conditional::{choose_coding, Outcome, Preconditions};
use super::handler::{self, Handled, HTML_CSP};
use super::range::{self, Ranged};
use super::service::Blocking;
use super::State;
use crate::cache::keys::{self, SURROGATE_KEY};
use crate::store::{Asset, Coding, FileAsset};

/// A `GET` of an asset's file: which bytes to send.
pub struct Planned {
    pub asset: Arc<FileAsset>,
    /// The first byte sent.
    pub start: u64,
    /// One past the last byte sent.
    pub end: u64,
    /// A `206` (a range was asked for and applies), not a `200`.
    pub partial: bool,
}

/// Whether a media type can run script when opened as a document (HTML, SVG, XML): such a
/// response gets the HTML pages' policy, which allows none.
pub fn scriptable(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    matches!(
        essence,
        "text/html" | "image/svg+xml" | "application/xhtml+xml" | "text/xml" | "application/xml"
    )
}

/// The answer to a `GET` or `HEAD` of `asset`.
pub fn respond<B>(req: &Request<B>, state: &State, asset: &Asset) -> Handled {
    match asset {
        Asset::Memory(doc) => {
            let coding = choose_coding(req.headers());
            if !state.forms.is_ready(doc, coding) {
                return Handled::Compress(Arc::clone(doc), coding);
            }
            Handled::Done(handler::respond_in(req, state, doc, coding))
        }
        Asset::File(file) => respond_file(req, state, file),
    }
}

fn respond_file<B>(req: &Request<B>, state: &State, file: &Arc<FileAsset>) -> Handled {
    let doc = &file.doc;
    match Preconditions::from_headers(req.headers()).evaluate(doc, Coding::Identity) {
        Outcome::NotModified => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            validators(r.headers_mut(), state, file, surrogate_key(req));
            return Handled::Done(r);
        }
        Outcome::PreconditionFailed => {
            let mut r = text(StatusCode::PRECONDITION_FAILED, "412 precondition failed\n");
            validators(r.headers_mut(), state, file, surrogate_key(req));
            return Handled::Done(r);
        }
        Outcome::Full => {}
    }
    // Range applies to GET only (RFC 9110 §14.2); HEAD describes the whole file.
    let ranged = match req.headers().get(RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) if req.method() == Method::GET => {
            let applies = req
                .headers()
                .get(IF_RANGE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| range::if_range_holds(v, doc.identity.etag(), doc.last_modified));
            if applies {
                range::parse(value, file.len)
            } else {
                Ranged::Whole
            }
        }
        _ => Ranged::Whole,
    };
    let (start, end, partial) = match ranged {
        Ranged::Unsatisfiable => {
            let mut r = text(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "416 range not satisfiable\n",
            );
            let h = r.headers_mut();
            h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", file.len)) {
                h.insert(CONTENT_RANGE, v);
            }
            return Handled::Done(r);
        }
        Ranged::Whole => (0, file.len, false),
        Ranged::Part { start, end } => (start, end + 1, true),
    };
    if req.method() == Method::HEAD {
        let mut r = Response::new(Full::new(Bytes::new()));
        content_headers(
            r.headers_mut(),
            state,
            file,
            (0, file.len, false),
            surrogate_key(req),
        );
        return Handled::Done(r);
    }
    Handled::File(Planned {
        asset: Arc::clone(file),
        start,
        end,
        partial,
    })
}

/// Why an asset's copy could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The copy is not the one the store published: replaced or removed by a publish whose
    /// store is about to be swapped in (or was, since this request looked).
    #[error("the copy was replaced since it was published")]
    Replaced,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Opens the asset's copy and reads the first chunk of what `plan` sends. It may block: run it
/// where blocking is allowed.
pub fn open(plan: &Planned) -> Result<(std::fs::File, Bytes), OpenError> {
    let asset = &plan.asset;
    let mut file = match std::fs::File::open(&asset.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenError::Replaced),
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    if meta.len() != asset.len || meta.modified().ok() != Some(asset.modified) {
        return Err(OpenError::Replaced);
    }
    file.seek(SeekFrom::Start(plan.start))?;
    let first = usize::try_from(plan.end - plan.start).map_or(CHUNK, |n| n.min(CHUNK));
    let first = read_chunk(&mut file, first)?;
    Ok((file, first))
}

/// How long a request whose copy was replaced waits for the store that serves the new one.
const REPLACED_WAIT: Duration = Duration::from_secs(2);

/// Answers a `GET` of an asset's file: opens it on a blocking thread, then streams it (the
/// rest read on `pool`). A copy replaced between the lookup and the open (its new store not
/// swapped in yet) is looked up again once the store has changed, so the bytes sent are
/// always those the validators sent with them name.
pub async fn serve<B>(
    req: &Request<B>,
    state: &Arc<State>,
    pool: Arc<dyn Blocking>,
    plan: Planned,
) -> Response<Body> {
    let started = Instant::now();
    let mut plan = Arc::new(plan);
    loop {
        let opening = Arc::clone(&plan);
        let opened = super::service::blocking(state, &*pool, move || open(&opening)).await;
        let replaced = matches!(opened, Some(Err(OpenError::Replaced)));
        if !replaced || started.elapsed() >= REPLACED_WAIT {
            return answer(req, state, &plan, opened, pool, started);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        match handler::handle(req, state) {
            Handled::File(next) => plan = Arc::new(next),
            // Gone, not modified, or now kept in memory: answered (and logged) at once.
            Handled::Done(response) => return response.map(Body::from),
            _ => {
                return answer(req, state, &plan, opened, pool, started);
            }
        }
    }
}

/// The response to `plan`'s request once its file was opened (`None`: the open never ran);
/// the rest of the file is read on `pool` as it is sent.
fn answer<B>(
    req: &Request<B>,
    state: &State,
    plan: &Planned,
    opened: Option<Result<(std::fs::File, Bytes), OpenError>>,
    pool: Arc<dyn Blocking>,
    started: Instant,
) -> Response<Body> {
    let response = match opened {
        Some(Ok((file, first))) => {
            let remaining = (plan.end - plan.start).saturating_sub(first.len() as u64);
            let body = FileStream::new(file, first, remaining, pool);
            let mut r = Response::new(Body::File(body));
            let asset = &plan.asset;
            content_headers(
                r.headers_mut(),
                state,
                asset,
                (plan.start, plan.end, plan.partial),
                surrogate_key(req),
            );
            if plan.partial {
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            }
            r
        }
        failed => {
            let why = failed.map_or_else(
                || "the read was not run".to_owned(),
                |r| r.err().map(|e| e.to_string()).unwrap_or_default(),
            );
            tracing::error!("{}: cannot serve asset: {why}", plan.asset.path.display());
            let mut r = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 this file cannot be read now\n",
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            r.map(Body::from)
        }
    };
    if state.access_log {
        handler::log_access(req.method(), req.uri().path(), &response, started);
    }
    response
}

/// The headers of a `200`/`206` (and of the `HEAD` that describes it): bytes `start..end`
/// (`partial`: of a `206`).
fn content_headers(
    h: &mut hyper::HeaderMap,
    state: &State,
    asset: &FileAsset,
    (start, end, partial): (u64, u64, bool),
    key: HeaderValue,
) {
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(asset.doc.content_type),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(end - start));
    if partial {
        let range = format!("bytes {start}-{}/{}", end.saturating_sub(1), asset.len);
        if let Ok(v) = HeaderValue::from_str(&range) {
            h.insert(CONTENT_RANGE, v);
        }
    }
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    validators(h, state, asset, key);
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if scriptable(asset.doc.content_type) {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(HTML_CSP));
    }
}

/// ETag, Last-Modified, Cache-Control and the surrogate key: what a `200`, `206` and `304`
/// share. No `Vary`: an asset's file has one representation.
fn validators(h: &mut hyper::HeaderMap, state: &State, asset: &FileAsset, key: HeaderValue) {
    h.insert(ETAG, asset.doc.identity.etag_header.clone());
    h.insert(LAST_MODIFIED, asset.doc.last_modified_header.clone());
    h.insert(CACHE_CONTROL, state.max_age_header.clone());
    h.insert(SURROGATE_KEY, key);
}

/// The `Surrogate-Key` of the asset a request names (see [`crate::cache::keys`]).
fn surrogate_key<B>(req: &Request<B>) -> HeaderValue {
    handler::route_of(req.uri().path()).map_or_else(
        |_| HeaderValue::from_static(keys::ALL),
        |route| keys::value(&keys::asset_key(&route)),
    )
}

fn text(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(message.as_bytes())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(message.len()));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}
