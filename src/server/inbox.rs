//! `POST` to an ActivityPub inbox: the body's type and size are checked and the body read
//! here, on the event loop, without blocking it (bounded by [`super::handler::HUB_BODY_TIMEOUT`]
//! as the hub's POST is); what may block — fetching the sender's key, verifying, storing a
//! follower — runs on a thread of its own ([`crate::activitypub::Federation::receive`]), at
//! most [`crate::activitypub::federation::MAX_INBOX_WORK`] at once (more get a 503: the sender
//! retries). Not on the server's blocking pool: a key fetch may wait `hub.timeout_ms`, and
//! pages to render must not wait behind it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Request, Response, StatusCode};

use super::handler::{log_access, HUB_BODY_TIMEOUT};
use super::State;
use crate::activitypub::inbox::{is_activity_type, Incoming, Reply, MAX_BODY_BYTES};
use crate::activitypub::Federation;

/// Answers a POST to one of `federation`'s inboxes.
pub async fn handle(
    req: Request<hyper::body::Incoming>,
    state: Arc<State>,
    federation: Arc<Federation>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let (method, uri) = (parts.method.clone(), parts.uri.clone());
    let made = receive(parts, body, federation).await;
    // The federation logs its own refusals; these are the server's.
    if !made.logged {
        tracing::warn!(
            "activitypub: POST {} refused with {}",
            uri.path(),
            made.reply.message.trim_end()
        );
    }
    let mut response = text(made.reply.status, made.reply.message);
    if made.reply.status == 503 {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("10"));
    }
    if state.access_log {
        log_access(&method, uri.path(), &response, started);
    }
    response
}

/// A reply, and whether it was logged (the federation logs its own).
struct Made {
    reply: Reply,
    logged: bool,
}

fn here(status: u16, message: &str) -> Made {
    Made {
        reply: Reply {
            status,
            message: format!("{status}: {message}\n"),
        },
        logged: false,
    }
}

async fn receive(
    parts: hyper::http::request::Parts,
    body: hyper::body::Incoming,
    federation: Arc<Federation>,
) -> Made {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !is_activity_type(content_type) {
        return here(
            415,
            "the body must be application/activity+json or application/ld+json",
        );
    }
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return here(413, "the body is larger than 1 MiB");
    }
    let read = http_body_util::Limited::new(body, MAX_BODY_BYTES).collect();
    let body = match tokio::time::timeout(HUB_BODY_TIMEOUT, read).await {
        Err(_) => return here(408, "the body came too slowly"),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return here(413, "the body is larger than 1 MiB")
        }
        Ok(Err(_)) => return here(400, "the body could not be read"),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let Ok(permit) = Arc::clone(&federation.inbox_permits).try_acquire_owned() else {
        return here(
            503,
            "too many activities are being checked; try again later",
        );
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let incoming = Incoming {
        method: parts.method.as_str().to_owned(),
        target,
        headers: parts.headers,
        body,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("activitypub-inbox".into())
        .spawn(move || {
            let _permit = permit;
            let _ = tx.send(federation.receive(&incoming));
        });
    if let Err(e) = spawned {
        tracing::error!("activitypub: cannot start a thread for an inbox POST: {e}");
        return here(503, "the activity cannot be checked now; try again later");
    }
    match rx.await {
        Ok(reply) => Made {
            reply,
            logged: true,
        },
        Err(_) => here(500, "the activity could not be handled"),
    }
}

fn text(status: u16, message: String) -> Response<Full<Bytes>> {
    let len = message.len();
    let mut r = Response::new(Full::new(Bytes::from(message)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}
