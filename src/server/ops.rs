//! The operator's endpoints: Prometheus metrics (`server.metrics_path`) and the load
//! balancers' health check (`server.health_path`), answered before any route of the site
//! (their default paths, under `/.feedsmith/`, are ones no post or asset can take; a
//! document configured onto one of them is shadowed, and the publisher says so).
//!
//! Both are never cached (`Cache-Control: no-store`): a cache in front must not answer a
//! health check for a server that is gone, nor hand out stale counters.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};

use super::State;

/// Where the two endpoints are (each `None` when turned off).
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub metrics: Option<Box<str>>,
    pub health: Option<Box<str>>,
}

impl Paths {
    /// From `server.metrics_path` and `server.health_path` (`""` is off).
    pub fn new(metrics: &str, health: &str) -> Paths {
        let some = |p: &str| (!p.is_empty()).then(|| p.into());
        Paths {
            metrics: some(metrics),
            health: some(health),
        }
    }
}

impl Paths {
    /// Whether `path` is one of the endpoints.
    pub fn has(&self, path: &str) -> bool {
        self.metrics.as_deref() == Some(path) || self.health.as_deref() == Some(path)
    }
}

/// The answer to any other request while `serve` is starting: `503`, to try again in a
/// second.
pub fn starting() -> Response<Full<Bytes>> {
    let mut r = answer(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/plain; charset=utf-8",
        Bytes::from_static(b"503 starting: the first build is not published yet\n"),
    );
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The answer to `req` when its path is one of the endpoints.
pub fn respond<B>(req: &Request<B>, state: &State) -> Option<Response<Full<Bytes>>> {
    let path = req.uri().path();
    let metrics = state.ops.metrics.as_deref() == Some(path);
    if !metrics && state.ops.health.as_deref() != Some(path) {
        return None;
    }
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        let mut r = answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"405 method not allowed\n"),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(r);
    }
    let mut r = if metrics {
        answer(
            StatusCode::OK,
            crate::metrics::CONTENT_TYPE,
            Bytes::from(state.metrics.render()),
        )
    } else if state.ready.load(Ordering::Acquire) {
        answer(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"ok\n"),
        )
    } else {
        answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"starting: the first build is not published yet\n"),
        )
    };
    if method == Method::HEAD {
        *r.body_mut() = Full::new(Bytes::new());
    }
    Some(r)
}

fn answer(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let len = body.len();
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn get(state: &State, path: &str) -> Option<(u16, String)> {
        let req = Request::get(path).body(()).ok()?;
        let r = respond(&req, state)?;
        let cache = r.headers().get(CACHE_CONTROL).cloned();
        assert_eq!(cache, Some(HeaderValue::from_static("no-store")), "{path}");
        Some((r.status().as_u16(), format!("{:?}", r.body())))
    }

    #[test]
    fn health_is_503_until_the_first_store_then_200() {
        let mut state = State::new(Store::default(), 300, false);
        state.ops = Paths::new("/m", "/h");
        state.ready = std::sync::atomic::AtomicBool::new(false);
        assert_eq!(get(&state, "/h").map(|r| r.0), Some(503));
        state.ready.store(true, Ordering::Release);
        assert_eq!(get(&state, "/h").map(|r| r.0), Some(200));
        let (status, body) = get(&state, "/m").unwrap_or_default();
        assert_eq!(status, 200);
        assert!(body.contains("feedsmith_build_info"), "{body}");
        // Other paths are the site's; an endpoint turned off is too.
        assert!(get(&state, "/rss.xml").is_none());
        state.ops = Paths::new("", "/h");
        assert!(get(&state, "/m").is_none());
    }
}
