//! The steering server: one single-threaded event loop per core, the way nginx runs one
//! worker per core, with each connection served by the loop on its client's CPU.
//!
//! Small requests (a 304, a cached feed) cost less without a work-stealing scheduler between
//! the socket and the handler, and less again when the loop and its client share a CPU: on
//! two cores, gzip GETs at about 210k req/s against nginx's 130k (`bench/results.md`). The
//! pieces:
//!
//! - `listen.rs`: one `SO_REUSEPORT` socket per loop, and a classic BPF program that picks the
//!   socket by the CPU a connection arrives on (the only `unsafe` code of the server).
//! - `loops.rs`: what the loops know of each other; a loop with far more connections than
//!   another hands new ones over.
//! - `connection.rs`: one connection, HTTP/1 or HTTP/2 by its first bytes; an HTTP/1
//!   connection whose client moved to another CPU moves, between two requests, to that
//!   CPU's loop.
//!
//! Requests are answered by the same [`super::service::answer`] as the stock server's; work that may
//! block runs on one pool for every loop (`OffLoop`).

mod connection;
mod listen;
mod loops;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use self::loops::{hand_over, Handed, Loops, MAX_LOOPS};
use super::service::{Blocking, Job};
use super::{shutdown_signal, State, SHUTDOWN_GRACE};

/// The listening sockets of the event loops, one per loop ([`bind`]).
pub struct Sockets(Vec<std::net::TcpListener>);

impl Sockets {
    /// The address they listen on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self.0.first() {
            Some(socket) => socket.local_addr(),
            None => Err(std::io::Error::other("no listening socket")),
        }
    }
}

/// Binds `addr` for one event loop per CPU this process may use (at most `MAX_LOOPS`).
pub fn bind(addr: SocketAddr) -> std::io::Result<Sockets> {
    let loops = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .min(MAX_LOOPS);
    listen::bind(addr, loops).map(Sockets)
}

/// Serves with one event loop per socket of `sockets` until SIGINT or SIGTERM, then drains
/// every loop.
pub fn run(sockets: Sockets, state: Arc<State>) -> std::io::Result<()> {
    let shared = Shared::new(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::with_capacity(sockets.0.len());
    for (i, socket) in sockets.0.into_iter().enumerate() {
        let shared = shared.clone();
        let mut stop = stop_rx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || {
                run_loop(socket, shared, async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
            })?;
        loops.push(handle);
    }
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

/// One event loop on the calling thread: a single-threaded runtime serving `socket` until
/// `shutdown` resolves.
fn run_loop(
    socket: std::net::TcpListener,
    shared: Shared,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    socket.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::from_std(socket)?;
        serve(listener, shared, shutdown).await
    })
}

/// What every event loop of one server shares.
#[derive(Clone)]
struct Shared {
    state: Arc<State>,
    loops: Arc<Loops>,
    pool: Arc<dyn Blocking>,
}

impl Shared {
    fn new(state: Arc<State>) -> Shared {
        Shared {
            state,
            loops: Arc::new(Loops::default()),
            pool: Arc::new(OffLoop::new()),
        }
    }
}

/// Serves one loop until `shutdown` resolves, then drains its in-flight requests (bounded by
/// [`SHUTDOWN_GRACE`]). Each connection holds a permit of `state.connections`, which every
/// loop shares.
async fn serve(
    listener: TcpListener,
    shared: Shared,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let Shared { state, loops, pool } = shared;
    let permits = Arc::clone(&state.connections);
    let (me, mut inbox) = loops.join(listen::fd_of(&listener));
    let at = connection::Loop {
        me,
        state,
        loops: Arc::clone(&loops),
        pool,
        protocols: Arc::new(connection::Protocols::new()),
        stop: stop_rx,
    };
    tokio::pin!(shutdown);
    loop {
        let conn = tokio::select! {
            () = &mut shutdown => break,
            Some(handed) = inbox.recv() => match handed.take() {
                Some(conn) => conn,
                None => continue,
            },
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Accepted first, then a permit: a loop whose queue is empty holds none that
                // a connection waiting on another loop's socket needs.
                let permit = tokio::select! {
                    () = &mut shutdown => break,
                    permit = Arc::clone(&permits).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        // The connection semaphore is closed: nothing more is served.
                        Err(_) => break,
                    },
                };
                loops.runs_on(me, listen::current_cpu());
                let lighter = loops.lighter(me);
                let conn = connection::Conn::accepted(stream, permit, loops.open(me));
                match lighter {
                    // This loop has far more connections than another (its clients' packets
                    // all arrive on its CPU, or it woke first on a shared socket): the other
                    // one serves this connection.
                    Some(to) => match hand_over(&loops, me, to, conn) {
                        Ok(None) => continue,
                        Ok(Some(back)) => back,
                        Err(e) => {
                            tracing::warn!("cannot hand a connection over: {e}");
                            continue;
                        }
                    },
                    None => conn,
                }
            },
        };
        tokio::spawn(connection::serve(conn, at.clone()));
    }
    // No more connections come to this loop: it leaves the others' choice, then serves what
    // was handed to it before it left; only then does its listening socket close.
    for conn in inbox.leave().into_iter().filter_map(Handed::take) {
        tokio::spawn(connection::serve(conn, at.clone()));
    }
    drop(listener);
    drop(at);
    finish(stop_tx).await
}

/// Stops the connections of a loop, and lets what is in flight finish, for at most
/// [`SHUTDOWN_GRACE`].
async fn finish(stop: tokio::sync::watch::Sender<bool>) -> std::io::Result<()> {
    let _ = stop.send(true);
    tokio::select! {
        () = stop.closed() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("shutdown: connections still open after {SHUTDOWN_GRACE:?}, closing");
        }
    }
    Ok(())
}

/// The threads that do the work requests hand off the event loops (archive pages, post pages,
/// compression): one pool for every loop. Each loop's runtime has a blocking pool of its own,
/// and a connection moving between loops ([`connection`]) would start threads in each; every
/// thread that renders keeps a malloc arena of its own. After the scale benchmark's traffic at
/// 100,000 posts (one connection, moving between loops), the peak RSS was 1,182–1,225 MiB over
/// five runs with a pool per loop, 1,166–1,174 MiB over three with this one (1,160 MiB with
/// moves turned off).
struct OffLoop(Option<tokio::runtime::Runtime>);

/// The name of [`OffLoop`]'s threads.
const OFF_LOOP_THREADS: &str = "off-loop";

impl OffLoop {
    fn new() -> OffLoop {
        let pool = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(super::BLOCKING_CONCURRENCY)
            .thread_name(OFF_LOOP_THREADS)
            .build();
        if let Err(e) = &pool {
            tracing::warn!("no shared pool for work off the event loops, each uses its own: {e}");
        }
        OffLoop(pool.ok())
    }
}

impl Blocking for OffLoop {
    fn spawn(&self, job: Job) {
        match &self.0 {
            Some(pool) => drop(pool.spawn_blocking(job)),
            None => drop(tokio::task::spawn_blocking(job)),
        }
    }
}

impl Drop for OffLoop {
    fn drop(&mut self) {
        // The pool may be dropped on an event loop, where a runtime cannot be dropped by
        // waiting for it; work still running finishes on its own.
        if let Some(pool) = self.0.take() {
            pool.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests;
