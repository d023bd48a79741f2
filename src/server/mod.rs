//! The HTTP server: hyper 1.x on tokio, serving the current store.
//!
//! HTTP/1.1 with keep-alive and HTTP/2 (prior knowledge) on one port; a header read timeout,
//! a request head size limit and a bound on open connections keep slow or greedy clients from
//! exhausting it; on shutdown it stops accepting and lets in-flight requests finish.

pub mod conditional;
pub mod handler;

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::header::HeaderValue;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::hub::Hub;
use crate::store::{Coding, Store};

/// Time a client has to send a complete request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head buffered (request line + headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Connections served at once by the whole server (all event loops together); further ones
/// wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 4096;
/// How long in-flight requests get to finish on shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the handler reads: the current store and the cache policy.
pub struct State {
    pub store: ArcSwap<Store>,
    /// `public, max-age=N`, prebuilt.
    pub max_age_header: HeaderValue,
    pub access_log: bool,
    /// The WebSub hub at `/hub`, when enabled.
    pub hub: Option<Arc<Hub>>,
    /// Where RFC 5005 archive pages come from (rendered on request, not kept in the store).
    pub archives: std::sync::OnceLock<Arc<dyn Archives>>,
    /// Work done off the event loop at once — archive pages, post pages, compression (the rest
    /// wait here, on the event loop, not on blocking threads: a crawler walking every archive
    /// cannot pile up threads).
    pub blocking_permits: Semaphore,
    /// One permit per open connection, [`MAX_CONNECTIONS`] in all. Here rather than in
    /// [`serve`] so that every event loop serving this state draws on the same bound: one
    /// semaphore per loop would allow `MAX_CONNECTIONS` × loops.
    pub connections: Arc<Semaphore>,
    /// Post pages rendered for requests (see [`crate::store::RenderedPages`]).
    pub rendered: crate::store::RenderedPages,
    /// Connections per event loop (see [`serve`]).
    pub loads: Arc<Loads>,
}

/// Bytes of rendered post pages kept for the next request.
pub const RENDERED_PAGES_BUDGET: usize = 8 << 20;

/// Requests handed to blocking threads at once (see [`State::blocking_permits`]).
pub const BLOCKING_CONCURRENCY: usize = 4;

/// Runs `work` on a blocking thread once a [`State::blocking_permits`] permit is free; `None`
/// if it panicked.
async fn off_loop<T: Send + 'static>(
    state: &State,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let _permit = state.blocking_permits.acquire().await.ok();
    tokio::task::spawn_blocking(work).await.ok()
}

/// The source of archive pages: far more bytes than the subscription documents (every post,
/// in every scope, in every format), so they are rendered when asked for and cached.
pub trait Archives: Send + Sync {
    /// The archive page at `route`, if there is one. May block while it is rendered.
    fn get(&self, route: &str) -> Option<Arc<crate::store::Document>>;
}

impl State {
    pub fn new(store: Store, max_age: u32, access_log: bool) -> State {
        State {
            store: ArcSwap::from_pointee(store),
            max_age_header: HeaderValue::from_str(&format!("public, max-age={max_age}"))
                .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300")),
            access_log,
            hub: None,
            archives: std::sync::OnceLock::new(),
            blocking_permits: Semaphore::new(BLOCKING_CONCURRENCY),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            rendered: crate::store::RenderedPages::new(RENDERED_PAGES_BUDGET),
            loads: Arc::new(Loads::default()),
        }
    }

    /// The same state, with a hub answering at `/hub`.
    pub fn with_hub(mut self, hub: Option<Arc<Hub>>) -> State {
        self.hub = hub;
        self
    }

    /// Publishes a new store; requests already running keep the one they loaded.
    pub fn swap(&self, store: Store) {
        self.store.store(Arc::new(store));
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests (bounded by
/// [`SHUTDOWN_GRACE`]). Each connection holds a permit of `state.connections`, which every
/// loop serving the same state shares.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let permits = Arc::clone(&state.connections);
    let me = state.loads.join();
    tokio::pin!(shutdown);
    loop {
        // Every loop waits on the one listening socket, and whichever wakes first takes the
        // connection: a burst of connections (a poller, a benchmark) can end up 40/24 on two
        // loops, and the busier loop's clients then wait longer. A loop ahead of another by
        // more than one connection lets the others take the next ones — for a few
        // milliseconds at most, so a loop that cannot accept never stalls the rest.
        for _ in 0..5 {
            if !state.loads.ahead(me) {
                break;
            }
            tokio::select! {
                () = &mut shutdown => return finish(graceful).await,
                () = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, _peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let load = state.loads.open(me);
        let state = Arc::clone(&state);
        let served_one = Arc::new(AtomicBool::new(false));
        let svc = service_fn({
            let served_one = Arc::clone(&served_one);
            move |req: hyper::Request<hyper::body::Incoming>| {
                served_one.store(true, Ordering::Relaxed);
                let state = Arc::clone(&state);
                async move {
                    // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request (HTTP/2 has
                    // `:authority`).
                    if !handler::host_is_valid(req.version(), req.headers()) {
                        return Ok::<_, Infallible>(handler::handle_bad_host(&req, &state));
                    }
                    // The one request whose body is read: a subscription to the hub (boxed,
                    // so that the future of every other request stays small).
                    if req.method() == hyper::Method::POST
                        && state.hub.is_some()
                        && req.uri().path() == crate::hub::HUB_ROUTE
                    {
                        let reply = Box::pin(handler::handle_hub_post(req, &state)).await;
                        return Ok::<_, Infallible>(reply);
                    }
                    // Archive pages, post pages and compression: off the event loop.
                    match handler::handle(&req, &state) {
                        handler::Handled::Done(response) => Ok::<_, Infallible>(response),
                        handler::Handled::Archive(route, archives, coding) => {
                            let started = std::time::Instant::now();
                            let fetched = off_loop(&state, move || {
                                let doc = archives.get(&route)?;
                                let made = doc.representation(coding);
                                Some((doc, made))
                            })
                            .await
                            .flatten();
                            let (doc, made) = fetched.map_or((None, None), |(d, m)| (Some(d), m));
                            Ok(handler::handle_fetched(&req, &state, doc, made, started))
                        }
                        handler::Handled::Page(route, lazy, coding) => {
                            let started = std::time::Instant::now();
                            let kept = Arc::clone(&state);
                            let fallback = lazy.clone();
                            let (doc, made) = off_loop(&state, move || {
                                handler::render_page(&kept, &route, &lazy, coding)
                            })
                            .await
                            .unwrap_or_else(|| (Arc::new(fallback.materialize()), None));
                            Ok(handler::handle_fetched(
                                &req,
                                &state,
                                Some(doc),
                                made,
                                started,
                            ))
                        }
                        handler::Handled::Compress(doc, coding) => {
                            let started = std::time::Instant::now();
                            let kept = Arc::clone(&doc);
                            // Compressing failed to finish (the pool is shutting down, or it
                            // panicked): the identity, rather than trying again on the loop.
                            let made = off_loop(&state, move || kept.representation(coding))
                                .await
                                .flatten()
                                .unwrap_or_else(|| (Coding::Identity, doc.identity.clone()));
                            Ok(handler::handle_fetched(
                                &req,
                                &state,
                                Some(doc),
                                Some(made),
                                started,
                            ))
                        }
                    }
                }
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _load = load;
            tokio::pin!(conn);
            // hyper's header read timeout only starts once the protocol is known; a client that
            // sends nothing (or a few bytes) would otherwise hold its permit forever. The first
            // request head must arrive within HEADER_READ_TIMEOUT; later ones are hyper's.
            match tokio::time::timeout(HEADER_READ_TIMEOUT, &mut conn).await {
                Ok(_) => {}
                Err(_) if !served_one.load(Ordering::Relaxed) => {
                    tracing::debug!("closing a connection that sent no request in time");
                }
                Err(_) => {
                    let _ = conn.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    finish(graceful).await
}

/// Lets the connections in flight finish, for at most [`SHUTDOWN_GRACE`].
async fn finish(graceful: GracefulShutdown) -> std::io::Result<()> {
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("shutdown: connections still open after {SHUTDOWN_GRACE:?}, closing");
        }
    }
    Ok(())
}

/// Open connections per event loop, so that loops sharing one listening socket take turns.
pub struct Loads {
    counts: [std::sync::atomic::AtomicUsize; MAX_LOOPS],
    loops: std::sync::atomic::AtomicUsize,
}

/// Event loops that keep count of their connections (more share the last count).
const MAX_LOOPS: usize = 64;

impl Default for Loads {
    fn default() -> Self {
        Loads {
            counts: std::array::from_fn(|_| std::sync::atomic::AtomicUsize::new(0)),
            loops: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Loads {
    /// A new loop's index.
    pub fn join(&self) -> usize {
        self.loops
            .fetch_add(1, Ordering::Relaxed)
            .min(MAX_LOOPS - 1)
    }

    /// Counts a connection of loop `me` until the returned guard drops.
    pub fn open(self: &Arc<Self>, me: usize) -> OwnedLoad {
        self.counts[me].fetch_add(1, Ordering::Relaxed);
        OwnedLoad(Arc::clone(self), me)
    }

    /// Whether loop `me` has more than one connection more than some other loop.
    pub fn ahead(&self, me: usize) -> bool {
        let loops = self.loops.load(Ordering::Relaxed).min(MAX_LOOPS);
        let mine = self.counts[me].load(Ordering::Relaxed);
        (0..loops)
            .filter(|&i| i != me)
            .any(|i| self.counts[i].load(Ordering::Relaxed) + 1 < mine)
    }
}

/// [`Loads::open`]'s guard.
pub struct OwnedLoad(Arc<Loads>, usize);

impl Drop for OwnedLoad {
    fn drop(&mut self) {
        self.0.counts[self.1].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves on `threads` event loops — one single-threaded runtime per core sharing the
/// listening socket, the way nginx runs one worker per core — until SIGINT or SIGTERM, then
/// drains every loop. Small requests (a 304, a cached feed) cost less without a work-stealing
/// scheduler between the socket and the handler.
pub fn run(
    listener: std::net::TcpListener,
    state: Arc<State>,
    threads: usize,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::with_capacity(threads);
    for i in 0..threads.max(1) {
        let socket = listener.try_clone()?;
        let state = Arc::clone(&state);
        let mut stop = stop_rx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || -> std::io::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let listener = TcpListener::from_std(socket)?;
                    serve(listener, state, async move {
                        let _ = stop.wait_for(|stopped| *stopped).await;
                    })
                    .await
                })
            })?;
        loops.push(handle);
    }
    drop(listener);
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    signals.block_on(shutdown_signal());
    tracing::info!("shutting down: finishing requests in flight");
    let _ = stop_tx.send(true);
    for handle in loops {
        match handle.join() {
            Ok(result) => result?,
            Err(_) => tracing::error!("an HTTP event loop panicked"),
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod loads_tests {
    use super::*;

    #[test]
    fn a_loop_ahead_by_more_than_one_connection_lets_the_others_accept() {
        let loads = Arc::new(Loads::default());
        let (a, b) = (loads.join(), loads.join());
        assert!(!loads.ahead(a) && !loads.ahead(b));
        let first = loads.open(a);
        assert!(!loads.ahead(a), "one ahead is even enough");
        let second = loads.open(a);
        assert!(loads.ahead(a) && !loads.ahead(b));
        let other = loads.open(b);
        assert!(!loads.ahead(a));
        // Closed connections count no more.
        drop((first, second));
        assert!(!loads.ahead(b), "b has one, a none");
        let again = loads.open(b);
        assert!(loads.ahead(b));
        drop((other, again));
        // A single loop is never ahead of anyone.
        let alone = Arc::new(Loads::default());
        let only = alone.join();
        let _many: Vec<OwnedLoad> = (0..5).map(|_| alone.open(only)).collect();
        assert!(!alone.ahead(only));
    }
}
