//! The HTTP server: hyper 1.x on tokio, serving the current store.
//!
//! A request goes one way: [`handler`] routes it and looks it up in the store,
//! [`conditional`] evaluates its preconditions and picks the representation, and
//! [`service`] is the hyper service that calls them (handing work that may block to a
//! thread that can). None of that knows how connections are accepted or where they run.
//!
//! Two servers carry that service, picked by `server.steering` (`serve --steering on|off`):
//!
//! - [`stock`]: one multi-thread tokio runtime, hyper-util's HTTP/1-or-2 builder and its
//!   graceful shutdown. Read it first.
//! - [`steering`]: one single-threaded event loop per core, connections steered to the loop
//!   on their client's CPU; faster for many small answers on Linux (`bench/results.md`).
//!
//! Both protect the server alike: a header read timeout ([`HEADER_READ_TIMEOUT`]), a request
//! head size limit ([`MAX_HEAD_BYTES`]), a bound on open connections ([`MAX_CONNECTIONS`],
//! [`State::connections`]), a bound on blocking work ([`BLOCKING_CONCURRENCY`]), and on
//! SIGINT or SIGTERM they stop accepting and let in-flight requests finish
//! ([`SHUTDOWN_GRACE`]).

pub mod body;
pub mod conditional;
pub mod file;
pub mod handler;
pub mod inbox;
pub(crate) mod navigation;
pub mod ops;
pub mod range;
pub mod service;
pub mod steering;
pub mod stock;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::header::HeaderValue;
use tokio::sync::Semaphore;

use crate::hub::Hub;
use crate::store::Store;

pub use stock::serve;

/// Time a client has to send a complete request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head buffered (request line + headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// HTTP/2 streams a client may have open at once on one connection.
pub const MAX_CONCURRENT_STREAMS: u32 = 128;
/// Connections served at once by the whole server; further ones wait in the kernel's accept
/// queue.
pub const MAX_CONNECTIONS: usize = 4096;
/// How long in-flight requests get to finish on shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Bytes of rendered post pages kept for the next request.
pub const RENDERED_PAGES_BUDGET: usize = 8 << 20;
/// Requests handed to blocking threads at once (see [`State::blocking_permits`]).
pub const BLOCKING_CONCURRENCY: usize = 4;

/// What the handler reads: the current store and the cache policy.
pub struct State {
    pub store: ArcSwap<Store>,
    /// `Cache-Control` of every document without its own (`public, max-age=N` and the shared
    /// caches' directives: [`crate::cache::Policy`]), prebuilt.
    pub max_age_header: HeaderValue,
    pub access_log: bool,
    /// The WebSub hub at `/hub`, when enabled.
    pub hub: Option<Arc<Hub>>,
    /// Where RFC 5005 archive pages come from (rendered on request, not kept in the store).
    pub archives: std::sync::OnceLock<Arc<dyn Archives>>,
    /// Work done on blocking threads at once — archive pages, post pages, compression (the
    /// rest wait here, without a thread: a crawler walking every archive cannot pile up
    /// threads).
    pub blocking_permits: Arc<Semaphore>,
    /// One permit per open connection, [`MAX_CONNECTIONS`] in all, for the whole server
    /// (however many runtimes accept for it).
    pub connections: Arc<Semaphore>,
    /// Post pages rendered for requests (see [`crate::store::RenderedPages`]).
    pub rendered: crate::store::RenderedPages,
    /// Compressed forms of the documents, within the budget `server.compressed_cache_mb`
    /// gives (see [`crate::store::Forms`]).
    pub forms: crate::store::Forms,
    /// Answer browsers navigating to a feed with its browser view (`server.browser_view`).
    pub browser_view: bool,
    /// What the server counts (served at `ops.metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where the metrics and the health check are answered.
    pub ops: ops::Paths,
    /// The first build is published (with what requests need of the publisher): requests are
    /// answered, and the health check with 200. Before, every request but the operator's
    /// endpoints gets a 503. `true` for a state made with its store ([`State::new`]); `serve`
    /// starts answering before its first build and sets it when that is in.
    pub ready: std::sync::atomic::AtomicBool,
    /// The ActivityPub actors, WebFinger, NodeInfo and `Article`s (`activitypub.enabled`),
    /// set once the first publish is done.
    pub activitypub: std::sync::OnceLock<Arc<crate::activitypub::ActivityPub>>,
    /// The actors' inboxes and deliveries, set with `activitypub`.
    pub federation: std::sync::OnceLock<Arc<crate::activitypub::Federation>>,
}

pub use crate::store::archive::Archives;

impl State {
    pub fn new(store: Store, max_age: u32, access_log: bool) -> State {
        State {
            store: ArcSwap::from_pointee(store),
            max_age_header: HeaderValue::from_str(&format!("public, max-age={max_age}"))
                .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300")),
            access_log,
            hub: None,
            archives: std::sync::OnceLock::new(),
            blocking_permits: Arc::new(Semaphore::new(BLOCKING_CONCURRENCY)),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            rendered: crate::store::RenderedPages::new(RENDERED_PAGES_BUDGET),
            forms: crate::store::Forms::new(crate::config::DEFAULT_COMPRESSED_BUDGET),
            browser_view: true,
            metrics: Arc::default(),
            ops: ops::Paths::default(),
            ready: std::sync::atomic::AtomicBool::new(true),
            activitypub: std::sync::OnceLock::new(),
            federation: std::sync::OnceLock::new(),
        }
    }

    /// The same state, with `bytes` for the compressed forms of its documents.
    pub fn with_compressed_budget(mut self, bytes: usize) -> State {
        self.forms = crate::store::Forms::new(bytes);
        self
    }

    /// The same state, with `Cache-Control` telling shared caches what `policy` says, beside the
    /// readers' `max_age`.
    pub fn with_cache_policy(mut self, policy: crate::cache::Policy, max_age: u32) -> State {
        self.max_age_header = policy.header(max_age);
        self
    }

    /// The same state, with a hub answering at `/hub`.
    pub fn with_hub(mut self, hub: Option<Arc<Hub>>) -> State {
        self.hub = hub;
        self
    }

    /// Publishes a new store; requests already running keep the one they loaded.
    pub fn swap(&self, store: impl Into<Arc<Store>>) {
        self.store.store(store.into());
    }
}

/// A server bound to its address, not yet serving: [`bind`] it, read its
/// [`local_addr`](Bound::local_addr), then [`run`](Bound::run) it.
pub enum Bound {
    /// One socket, for [`stock`].
    Stock(std::net::TcpListener),
    /// One socket per event loop, for [`steering`].
    Steering(steering::Sockets),
}

/// Binds `addr` for the stock server, or for the steering one when `steering` is true.
pub fn bind(addr: SocketAddr, steering: bool) -> std::io::Result<Bound> {
    if steering {
        steering::bind(addr).map(Bound::Steering)
    } else {
        std::net::TcpListener::bind(addr).map(Bound::Stock)
    }
}

impl Bound {
    /// The address it listens on (the port the system picked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Bound::Stock(socket) => socket.local_addr(),
            Bound::Steering(sockets) => sockets.local_addr(),
        }
    }

    /// Serves `state` until SIGINT or SIGTERM, then lets in-flight requests finish.
    pub fn run(self, state: Arc<State>) -> std::io::Result<()> {
        match self {
            Bound::Stock(socket) => stock::run(socket, state),
            Bound::Steering(sockets) => steering::run(sockets, state),
        }
    }
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
