//! The hyper service both servers run: a request in, the handler's answer out.
//!
//! Most answers are made at once from the store. Four kinds of work may take milliseconds
//! or block — rendering an archive page, rendering a post page, compressing a large
//! document, opening an asset's file — and run on a blocking thread, at most
//! [`super::BLOCKING_CONCURRENCY`] at a time (an asset's file is then read a chunk at a time
//! as it is sent, see [`super::body`]); the subscription POST of the hub and the POSTs to
//! ActivityPub inboxes ([`super::inbox`]) read their bodies. The
//! thread pool is the server's to pick ([`Blocking`]): the stock server uses its runtime's,
//! the steering server one shared by its event loops.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::body::Body;
use super::{file, handler, State};
use crate::metrics::Class;
use crate::store::Coding;

/// A response as both servers send it.
pub type Answer = Response<Body>;

/// Work for a blocking thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// Threads where work that may block runs.
pub trait Blocking: Send + Sync {
    /// Starts `job` on one of them.
    fn spawn(&self, job: Job);
}

/// The blocking pool of the runtime the caller runs on (`tokio::task::spawn_blocking`).
pub struct RuntimePool;

impl Blocking for RuntimePool {
    fn spawn(&self, job: Job) {
        drop(tokio::task::spawn_blocking(job));
    }
}

/// Runs `work` on `pool` once a [`State::blocking_permits`] permit is free; `None` if it
/// panicked or the pool is gone. The permit is the work's, not the request's: a request
/// given up (a stream reset, the shutdown grace over) leaves its work running, and the work
/// still counts until it ends.
pub async fn blocking<T: Send + 'static>(
    state: &State,
    pool: &dyn Blocking,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let permit = Arc::clone(&state.blocking_permits)
        .acquire_owned()
        .await
        .ok();
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.spawn(Box::new(move || {
        let _permit = permit;
        let _ = tx.send(work());
    }));
    rx.await.ok()
}

/// The answer to `req` with the document `fetch` gets on a blocking thread (an archive page, a
/// feed's browser view: rendered there, it may take a while) in `coding`, or 404 without one.
fn fetched(
    req: Request<Incoming>,
    state: Arc<State>,
    pool: Arc<dyn Blocking>,
    coding: Coding,
    fetch: impl FnOnce() -> Option<Arc<crate::store::Document>> + Send + 'static,
) -> Later {
    Box::pin(async move {
        let started = std::time::Instant::now();
        let kept = Arc::clone(&state);
        let fetched = blocking(&state, &*pool, move || {
            let doc = fetch()?;
            let made = kept.forms.representation(&doc, coding);
            Some((doc, made))
        })
        .await
        .flatten();
        let (doc, made) = fetched.map_or((None, None), |(d, m)| (Some(d), m));
        handler::handle_fetched(&req, &state, doc, made, started).map(Body::from)
    })
}

/// A future answer, from work done on a blocking thread.
pub type Later = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// The answer to `req`, or the work that will make it (run on `pool`). Every response of
/// both servers passes here, and is counted here ([`State::metrics`]).
pub fn answer(
    req: Request<Incoming>,
    state: &Arc<State>,
    pool: &Arc<dyn Blocking>,
) -> Result<Answer, Later> {
    let public = is_public(req.uri().path());
    let (class, answered) = route(req, state, pool);
    match answered {
        Ok(mut response) => {
            finish(state, class, public, &mut response);
            Ok(response)
        }
        Err(later) => {
            let state = Arc::clone(state);
            Err(Box::pin(async move {
                let mut response = later.await;
                finish(&state, class, public, &mut response);
                response
            }))
        }
    }
}

/// Whether the answers at `path` are meant for any page's scripts too: the `/.well-known/`
/// documents (WebFinger, whose RFC 7033 §5 asks for `Access-Control-Allow-Origin: *`, and
/// NodeInfo), which are public by their nature and never carry anything private.
fn is_public(path: &str) -> bool {
    path.starts_with("/.well-known/")
}

/// What every response gets last: the CORS header of a public document, and its count.
fn finish(state: &State, class: Class, public: bool, response: &mut Answer) {
    if public {
        response.headers_mut().insert(
            hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN,
            hyper::header::HeaderValue::from_static("*"),
        );
    }
    count(state, class, response);
}

/// Counts a response: its class, status and body bytes (`HEAD` and `304` have none).
fn count(state: &State, class: Class, response: &Answer) {
    use hyper::body::Body as _;
    let bytes = response.body().size_hint().exact().unwrap_or(0);
    state
        .metrics
        .request(class, response.status().as_u16(), bytes);
}

/// [`answer`], and what the request was routed to.
fn route(
    req: Request<Incoming>,
    state: &Arc<State>,
    pool: &Arc<dyn Blocking>,
) -> (Class, Result<Answer, Later>) {
    // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request (HTTP/2 has `:authority`).
    if !handler::host_is_valid(req.version(), req.headers()) {
        let response = handler::handle_bad_host(&req, state).map(Body::from);
        return (Class::Other, Ok(response));
    }
    // Starting: the first build is not in yet (`/healthz` and `/metrics` answer all the same).
    if !state.ready.load(std::sync::atomic::Ordering::Acquire) && !state.ops.has(req.uri().path()) {
        return (Class::Other, Ok(super::ops::starting().map(Body::from)));
    }
    let state = Arc::clone(state);
    // The one request whose body is read: a subscription to the hub.
    if req.method() == hyper::Method::POST
        && state.hub.is_some()
        && req.uri().path() == crate::hub::HUB_ROUTE
    {
        let later: Later =
            Box::pin(async move { handler::handle_hub_post(req, &state).await.map(Body::from) });
        return (Class::Hub, Err(later));
    }
    let pool = Arc::clone(pool);
    // A POST to an ActivityPub inbox: its body is read, then checked where it may block.
    if req.method() == hyper::Method::POST {
        if let Some(federation) = state
            .federation
            .get()
            .filter(|f| handler::route_of(req.uri().path()).is_ok_and(|route| f.is_inbox(&route)))
        {
            let federation = Arc::clone(federation);
            let later: Later = Box::pin(async move {
                super::inbox::handle(req, state, federation)
                    .await
                    .map(Body::from)
            });
            return (Class::ActivityPub, Err(later));
        }
    }
    let (class, handled) = handler::handle_classed(&req, &state);
    let answered: Result<Answer, Later> = match handled {
        handler::Handled::Done(response) => Ok(response.map(Body::from)),
        handler::Handled::Archive(route, archives, coding) => {
            Err(fetched(req, state, pool, coding, move || {
                archives.get(&route)
            }))
        }
        handler::Handled::View(route, archives, coding) => {
            let kept = Arc::clone(&state);
            Err(fetched(req, state, pool, coding, move || {
                // No view (the feed's scope is gone meanwhile): the feed itself, if any.
                archives
                    .view(&route)
                    .or_else(|| kept.store.load().document(&route))
                    .or_else(|| archives.get(&route))
            }))
        }
        handler::Handled::Page(route, lazy, coding) => Err(Box::pin(async move {
            let started = std::time::Instant::now();
            let kept = Arc::clone(&state);
            let fallback = lazy.clone();
            let (doc, made) = blocking(&state, &*pool, move || {
                handler::render_page(&kept, &route, &lazy, coding)
            })
            .await
            .unwrap_or_else(|| (Arc::new(fallback.materialize()), None));
            handler::handle_fetched(&req, &state, Some(doc), made, started).map(Body::from)
        })),
        handler::Handled::Compress(doc, coding) => Err(Box::pin(async move {
            let started = std::time::Instant::now();
            let (kept, forms) = (Arc::clone(&doc), Arc::clone(&state));
            // Compressing failed to finish (the pool is shutting down, or it panicked): the
            // identity, rather than trying again here.
            let made = blocking(&state, &*pool, move || {
                forms.forms.representation(&kept, coding)
            })
            .await
            .flatten()
            .unwrap_or_else(|| (Coding::Identity, doc.identity.clone()));
            handler::handle_fetched(&req, &state, Some(doc), Some(made), started).map(Body::from)
        })),
        handler::Handled::Activity(ap, job, coding) => {
            Err(fetched(req, state, pool, coding, move || ap.render(&job)))
        }
        handler::Handled::File(plan) => Err(Box::pin(async move {
            file::serve(&req, &state, pool, plan).await
        })),
    };
    (class, answered)
}

/// The requests of one connection, answered from `state`, with blocking work on the
/// runtime's own pool.
#[derive(Clone)]
pub struct Service {
    state: Arc<State>,
    pool: Arc<dyn Blocking>,
    /// A request has arrived (shared with the connection's task, which times out a connection
    /// that sends none).
    asked: Arc<AtomicBool>,
}

impl Service {
    pub fn new(state: Arc<State>) -> Service {
        Service {
            state,
            pool: Arc::new(RuntimePool),
            asked: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether a request has arrived on the connection.
    pub fn asked(&self) -> bool {
        self.asked.load(Ordering::Relaxed)
    }
}

/// An answer: at once (most of them), or later, from work on a blocking thread. `Unpin`, as
/// the steering server needs to take hyper's connection back between requests.
pub enum Reply {
    Now(Option<Answer>),
    Later(Later),
}

impl Future for Reply {
    type Output = Result<Answer, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Reply::Now(response) => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
            Reply::Later(later) => later.as_mut().poll(cx).map(Ok),
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Answer;
    type Error = Infallible;
    type Future = Reply;

    fn call(&self, req: Request<Incoming>) -> Reply {
        self.asked.store(true, Ordering::Relaxed);
        match answer(req, &self.state, &self.pool) {
            Ok(response) => Reply::Now(Some(response)),
            Err(later) => Reply::Later(later),
        }
    }
}
