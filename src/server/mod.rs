//! The HTTP server: hyper 1.x on tokio, serving the current store.
//!
//! HTTP/1.1 with keep-alive and HTTP/2 (prior knowledge) on one port; a header read timeout,
//! a request head size limit and a bound on open connections keep slow or greedy clients from
//! exhausting it; on shutdown it stops accepting and lets in-flight requests finish.

pub mod conditional;
pub mod connection;
pub mod handler;
pub mod listen;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use hyper::header::HeaderValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::hub::Hub;
use crate::store::Store;

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
    pub blocking_permits: Arc<Semaphore>,
    /// Where that work runs.
    pub off_loop: OffLoop,
    /// One permit per open connection, [`MAX_CONNECTIONS`] in all. Here rather than in
    /// [`serve`] so that every event loop serving this state draws on the same bound: one
    /// semaphore per loop would allow `MAX_CONNECTIONS` × loops.
    pub connections: Arc<Semaphore>,
    /// Post pages rendered for requests (see [`crate::store::RenderedPages`]).
    pub rendered: crate::store::RenderedPages,
    /// The event loops serving this state: their connections, and their inboxes for
    /// connections handed over (see [`serve`]).
    pub loops: Arc<Loops>,
}

/// Bytes of rendered post pages kept for the next request.
pub const RENDERED_PAGES_BUDGET: usize = 8 << 20;

/// Requests handed to blocking threads at once (see [`State::blocking_permits`]).
pub const BLOCKING_CONCURRENCY: usize = 4;

/// Runs `work` on a thread of [`State::off_loop`] once a [`State::blocking_permits`] permit
/// is free; `None` if it panicked. The permit is the work's, not the request's: a request
/// given up (a stream reset, the shutdown grace over) leaves its work running, and the
/// work still counts until it ends.
async fn off_loop<T: Send + 'static>(
    state: &State,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let permit = Arc::clone(&state.blocking_permits)
        .acquire_owned()
        .await
        .ok();
    state
        .off_loop
        .spawn(move || {
            let _permit = permit;
            work()
        })
        .await
        .ok()
}

/// The threads that do the work requests hand off the event loops (archive pages, post pages,
/// compression): one pool for every loop. Each loop's runtime has a blocking pool of its own,
/// and a connection moving between loops ([`connection`]) would start threads in each; every
/// thread that renders keeps a malloc arena of its own. After the scale benchmark's traffic at
/// 100,000 posts (one connection, moving between loops), the peak RSS was 1,182–1,225 MiB over
/// five runs with a pool per loop, 1,166–1,174 MiB over three with this one (1,160 MiB with
/// moves turned off).
pub struct OffLoop(Option<tokio::runtime::Runtime>);

/// The name of [`OffLoop`]'s threads.
pub const OFF_LOOP_THREADS: &str = "off-loop";

impl OffLoop {
    fn new() -> OffLoop {
        let pool = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(BLOCKING_CONCURRENCY)
            .thread_name(OFF_LOOP_THREADS)
            .build();
        if let Err(e) = &pool {
            tracing::warn!("no shared pool for work off the event loops, each uses its own: {e}");
        }
        OffLoop(pool.ok())
    }

    fn spawn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::task::JoinHandle<T> {
        match &self.0 {
            Some(pool) => pool.spawn_blocking(work),
            None => tokio::task::spawn_blocking(work),
        }
    }
}

impl Drop for OffLoop {
    fn drop(&mut self) {
        // The state may be dropped on an event loop, where a runtime cannot be dropped by
        // waiting for it; work still running finishes on its own.
        if let Some(pool) = self.0.take() {
            pool.shutdown_background();
        }
    }
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
            blocking_permits: Arc::new(Semaphore::new(BLOCKING_CONCURRENCY)),
            off_loop: OffLoop::new(),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            rendered: crate::store::RenderedPages::new(RENDERED_PAGES_BUDGET),
            loops: Arc::new(Loops::default()),
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
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let permits = Arc::clone(&state.connections);
    let (me, mut inbox) = state.loops.join(listen::fd_of(&listener));
    let at = connection::Loop {
        me,
        state: Arc::clone(&state),
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
                state.loops.runs_on(me, listen::current_cpu());
                let lighter = state.loops.lighter(me);
                let conn = connection::Conn::accepted(stream, permit, state.loops.open(me));
                match lighter {
                    // This loop has far more connections than another (its clients' packets
                    // all arrive on its CPU, or it woke first on a shared socket): the other
                    // one serves this connection.
                    Some(to) => match hand_over(&state.loops, me, to, conn) {
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

/// Hands `conn` from loop `me` to loop `to`: a new connection, or one moved between two
/// requests. Gives it back (re-registered here, counted by `me` again) if that loop has
/// stopped.
fn hand_over(
    loops: &Arc<Loops>,
    me: usize,
    to: usize,
    conn: connection::Conn,
) -> std::io::Result<Option<connection::Conn>> {
    tracing::debug!(
        "{} a connection to event loop {to}: {:?}",
        if conn.moved { "moving" } else { "handing over" },
        loops.counts()
    );
    let connection::Conn {
        stream,
        unread,
        moved,
        permit,
        load,
    } = conn;
    let handed = Handed {
        stream: stream.into_std()?,
        unread,
        moved,
        permit,
        load: loops.open(to),
    };
    drop(load);
    match loops.send(to, handed) {
        Ok(()) => Ok(None),
        Err(back) => {
            let mut back = back.registered()?;
            back.load = loops.open(me);
            Ok(Some(back))
        }
    }
}

/// A connection on its way to another loop, with its permit and its place in that loop's count.
pub struct Handed {
    stream: std::net::TcpStream,
    /// Bytes read from it and not yet used (a connection moved between requests).
    unread: Bytes,
    /// Moved after serving requests (HTTP/1), rather than handed over new.
    moved: bool,
    permit: OwnedSemaphorePermit,
    load: OwnedLoad,
}

impl Handed {
    /// The connection registered with the runtime of the calling loop.
    fn registered(self) -> std::io::Result<connection::Conn> {
        Ok(connection::Conn {
            stream: TcpStream::from_std(self.stream)?,
            unread: self.unread,
            moved: self.moved,
            permit: self.permit,
            load: self.load,
        })
    }

    /// The connection registered with the receiving loop; `None` (logged) if it cannot be.
    fn take(self) -> Option<connection::Conn> {
        self.registered()
            .map_err(|e| tracing::warn!("cannot take over a connection: {e}"))
            .ok()
    }
}

/// How many more connections than the least busy loop a loop keeps before it hands new ones
/// over. Above zero so that steering by CPU ([`listen`]) is not undone by a few connections
/// more on one side; small enough that no loop ends up with most of a burst.
pub const HANDOVER_GAP: usize = 8;

/// The event loops serving one state: the open connections of each, and each one's inbox for
/// connections the others hand over.
pub struct Loops {
    counts: [std::sync::atomic::AtomicUsize; MAX_LOOPS],
    /// The CPU each loop was last seen running on ([`Loops::runs_on`]; `u32::MAX`: unknown).
    ran_on: [std::sync::atomic::AtomicU32; MAX_LOOPS],
    inboxes: std::sync::Mutex<Vec<Option<Member>>>,
    /// Connections handed over since the start (for the debug log and the tests).
    handed: std::sync::atomic::AtomicUsize,
    /// Served connections moved to the loop on their client's CPU since the start (the same).
    moved: std::sync::atomic::AtomicUsize,
}

/// A running loop, as the others see it.
struct Member {
    inbox: tokio::sync::mpsc::UnboundedSender<Handed>,
    /// Its listening socket, only read under the [`Loops`] lock: the loop leaves under that
    /// lock ([`Inbox::leave`]) before its socket closes.
    listener: listen::Fd,
}

/// Event loops that take part in handing over (`serve` starts no more); further ones serve
/// their own connections only.
pub const MAX_LOOPS: usize = 64;

impl Default for Loops {
    fn default() -> Self {
        Loops {
            counts: std::array::from_fn(|_| std::sync::atomic::AtomicUsize::new(0)),
            ran_on: std::array::from_fn(|_| std::sync::atomic::AtomicU32::new(u32::MAX)),
            inboxes: std::sync::Mutex::new(Vec::new()),
            handed: std::sync::atomic::AtomicUsize::new(0),
            moved: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Loops {
    fn inboxes(&self) -> std::sync::MutexGuard<'_, Vec<Option<Member>>> {
        self.inboxes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new loop accepting on `listener`: its index and its inbox, open until
    /// [`Inbox::leave`] (which must come before `listener` closes). It runs on the calling
    /// thread.
    pub fn join(self: &Arc<Self>, listener: listen::Fd) -> (usize, Inbox) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let member = Some(Member {
            inbox: tx,
            listener,
        });
        let mut members = self.inboxes();
        // The slot of a loop that has left, else a new one; past MAX_LOOPS a loop shares the
        // last count and has no inbox: nothing is sent to it.
        let slot = match members.iter().position(Option::is_none) {
            Some(free) => {
                members[free] = member;
                Some(free)
            }
            None if members.len() < MAX_LOOPS => {
                members.push(member);
                Some(members.len() - 1)
            }
            None => None,
        };
        let me = slot.unwrap_or(MAX_LOOPS - 1);
        drop(members);
        self.runs_on(me, listen::current_cpu());
        (
            me,
            Inbox {
                rx,
                loops: Arc::clone(self),
                slot,
            },
        )
    }

    /// Counts a connection of loop `me` until the returned guard drops.
    pub fn open(self: &Arc<Self>, me: usize) -> OwnedLoad {
        self.counts[me].fetch_add(1, Ordering::Relaxed);
        OwnedLoad(Arc::clone(self), me)
    }

    /// Open connections of each loop that has joined.
    pub fn counts(&self) -> Vec<usize> {
        let joined = self.inboxes().len();
        self.counts[..joined]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// The least busy running loop, if loop `me` has at least [`HANDOVER_GAP`] connections
    /// more than it. A loop's connections are the ones it serves and the ones waiting in its
    /// accept queue: in a burst, a loop that has not yet taken its share is not idle.
    pub fn lighter(&self, me: usize) -> Option<usize> {
        if self.counts[me].load(Ordering::Relaxed) < HANDOVER_GAP {
            return None;
        }
        let inboxes = self.inboxes();
        let load = |i: usize, member: &Member| {
            self.counts[i].load(Ordering::Relaxed) + listen::waiting(member.listener)
        };
        let mine = load(me, inboxes.get(me)?.as_ref()?);
        inboxes
            .iter()
            .enumerate()
            // A loop whose open connections alone close the gap cannot be chosen: its accept
            // queue is not asked (in the usual, balanced case, no other queue is).
            .filter(|&(i, _)| {
                i != me && self.counts[i].load(Ordering::Relaxed) + HANDOVER_GAP <= mine
            })
            .filter_map(|(i, member)| Some((load(i, member.as_ref()?), i)))
            .min()
            .filter(|&(theirs, _)| theirs + HANDOVER_GAP <= mine)
            .map(|(_, i)| i)
    }

    /// Puts `handed` in loop `to`'s inbox; gives it back if that loop has stopped.
    fn send(&self, to: usize, handed: Handed) -> Result<(), Handed> {
        let inbox = self
            .inboxes()
            .get(to)
            .and_then(|m| m.as_ref().map(|m| m.inbox.clone()));
        let counter = if handed.moved {
            &self.moved
        } else {
            &self.handed
        };
        let sent = match inbox {
            Some(tx) => tx.send(handed).map_err(|e| e.0),
            None => Err(handed),
        };
        if sent.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// New connections handed from one loop to another since the start.
    pub fn handed_over(&self) -> usize {
        self.handed.load(Ordering::Relaxed)
    }

    /// Served connections moved to the loop of their client's CPU since the start.
    pub fn moved(&self) -> usize {
        self.moved.load(Ordering::Relaxed)
    }

    /// Loop `me` is running on `cpu` (where known): connections whose packets come from
    /// `cpu` belong with it ([`Loops::home_of`]). Loops are not pinned: each one says where
    /// it is whenever it accepts a connection, and whenever one of its connections asks
    /// where it belongs.
    pub fn runs_on(&self, me: usize, cpu: Option<u32>) {
        self.ran_on[me].store(cpu.unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Where a connection of loop `me` whose packets come from `cpu` belongs: the loop last
    /// seen running on `cpu`, if that is not `me` and it does not have [`HANDOVER_GAP`]
    /// connections more than `me` (it would hand the next new ones back). `None` when `me`
    /// runs there itself, or no loop was seen there.
    pub fn home_of(&self, me: usize, cpu: u32) -> Option<usize> {
        let on = |i: usize| self.ran_on[i].load(Ordering::Relaxed);
        if on(me) == cpu {
            return None;
        }
        let load = |i: usize| self.counts[i].load(Ordering::Relaxed);
        let inboxes = self.inboxes();
        let home = (0..inboxes.len()).find(|&i| i != me && inboxes[i].is_some() && on(i) == cpu)?;
        (load(home) < load(me) + HANDOVER_GAP).then_some(home)
    }
}

/// A loop's end of [`Loops`]: connections handed to it. Dropping it closes the inbox, so that
/// no more are sent; the ones still in it are closed.
pub struct Inbox {
    rx: tokio::sync::mpsc::UnboundedReceiver<Handed>,
    loops: Arc<Loops>,
    slot: Option<usize>,
}

impl Inbox {
    async fn recv(&mut self) -> Option<Handed> {
        self.rx.recv().await
    }

    /// Leaves the loops: no other loop sends to it or reads its socket any more. Returns the
    /// connections sent before it left, for it to serve.
    pub fn leave(&mut self) -> Vec<Handed> {
        if let Some(i) = self.slot.take() {
            if let Some(member) = self.loops.inboxes().get_mut(i) {
                *member = None;
            }
        }
        // A loop that took the sender before this one left gets its connection back (`send`
        // fails once the inbox is closed); everything sent before is here.
        self.rx.close();
        std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Connections still in it close with it (a loop that did not leave: a panic).
        self.leave();
    }
}

/// [`Loops::open`]'s guard.
pub struct OwnedLoad(Arc<Loops>, usize);

impl Drop for OwnedLoad {
    fn drop(&mut self) {
        self.0.counts[self.1].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves with one event loop per socket of `sockets` ([`listen::bind`]) — one
/// single-threaded runtime per core, the way nginx runs one worker per core — until SIGINT or
/// SIGTERM, then drains every loop. Small requests (a 304, a cached feed) cost less without a
/// work-stealing scheduler between the socket and the handler.
pub fn run(sockets: Vec<std::net::TcpListener>, state: Arc<State>) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::with_capacity(sockets.len());
    for (i, socket) in sockets.into_iter().enumerate() {
        socket.set_nonblocking(true)?;
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
mod loops_tests {
    use super::*;

    /// A single-threaded runtime, as each event loop has.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Waits up to 2 s for `check` (the last step of a loopback handshake can be left to
    /// the kernel's softirq thread on a busy machine).
    fn eventually(mut check: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !check() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    #[test]
    fn a_loop_hands_over_only_when_far_ahead_of_a_running_loop() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let sockets: Vec<_> = (0..2)
            .map(|_| {
                let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                socket.set_nonblocking(true).unwrap();
                TcpListener::from_std(socket).unwrap()
            })
            .collect();
        let loops = Arc::new(Loops::default());
        let (a, mut inbox_a) = loops.join(listen::fd_of(&sockets[0]));
        let (b, mut inbox_b) = loops.join(listen::fd_of(&sockets[1]));
        assert_eq!((a, b), (0, 1));
        let mut held: Vec<OwnedLoad> = (0..HANDOVER_GAP - 1).map(|_| loops.open(a)).collect();
        assert_eq!(
            loops.lighter(a),
            None,
            "{} ahead is within the gap",
            HANDOVER_GAP - 1
        );
        held.push(loops.open(a));
        assert_eq!(loops.lighter(a), Some(b));
        assert_eq!(loops.lighter(b), None, "the lighter loop keeps its own");
        #[cfg(target_os = "linux")]
        {
            // A connection waiting in b's accept queue is b's: the gap is no longer there.
            let _queued = std::net::TcpStream::connect(sockets[1].local_addr().unwrap()).unwrap();
            assert!(eventually(
                || listen::waiting(listen::fd_of(&sockets[1])) == 1
            ));
            assert_eq!(loops.lighter(a), None, "b has one waiting");
            assert!(eventually(|| rt.block_on(async {
                tokio::time::timeout(Duration::from_millis(1), sockets[1].accept())
                    .await
                    .is_ok()
            })));
            assert_eq!(
                loops.lighter(a),
                Some(b),
                "taken from the queue, not yet counted"
            );
        }
        held.push(loops.open(b));
        assert_eq!(
            loops.lighter(a),
            None,
            "one connection on b closes the gap again"
        );
        assert_eq!(loops.counts(), vec![HANDOVER_GAP, 1]);
        // Closed connections count no more.
        held.truncate(2);
        assert_eq!(loops.counts(), vec![2, 0]);
        // A loop that left is never chosen, and one alone never hands over.
        assert!(inbox_b.leave().is_empty());
        let _more: Vec<OwnedLoad> = (0..2 * HANDOVER_GAP).map(|_| loops.open(a)).collect();
        assert_eq!(loops.lighter(a), None);
        // Its slot goes to the next loop that joins.
        let (c, _inbox_c) = loops.join(listen::fd_of(&sockets[1]));
        assert_eq!(c, b);
        assert_eq!(loops.lighter(a), Some(c));
        drop(inbox_a.leave());
    }

    #[test]
    fn work_off_the_event_loops_runs_on_one_pool_for_every_loop() {
        let state = Arc::new(State::new(Store::default(), 300, false));
        // Two loops, one after the other: the second finds the first one's thread idle.
        let ran: Vec<_> = (0..2)
            .map(|_| {
                let state = Arc::clone(&state);
                std::thread::spawn(move || {
                    let rt = runtime();
                    rt.block_on(off_loop(&state, || {
                        let me = std::thread::current();
                        (me.id(), me.name().map(str::to_owned))
                    }))
                    .expect("the work ran")
                })
                .join()
                .unwrap()
            })
            .collect();
        // A loop's own pool names its threads tokio's way. (The same thread is likely but not
        // certain: a pool thread wakes the loop before it counts itself idle.)
        assert_eq!(ran[0].1.as_deref(), Some(OFF_LOOP_THREADS));
        assert_eq!(ran[1].1.as_deref(), Some(OFF_LOOP_THREADS));
    }

    #[test]
    fn work_given_up_by_its_request_holds_its_permit_until_it_ends() {
        let state = Arc::new(State::new(Store::default(), 300, false));
        let rt = runtime();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        // The request waits for its work, then is given up (as on a stream reset).
        let work = move || {
            let _ = started_tx.send(());
            let _ = finish_rx.recv();
        };
        let given_up = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), off_loop(&state, work)).await
        });
        assert!(given_up.is_err());
        started_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the work started");
        assert_eq!(
            state.blocking_permits.available_permits(),
            BLOCKING_CONCURRENCY - 1,
            "the work still runs"
        );
        finish_tx.send(()).unwrap();
        assert!(eventually(
            || state.blocking_permits.available_permits() == BLOCKING_CONCURRENCY
        ));
    }

    #[test]
    fn a_connection_belongs_with_the_loop_last_seen_on_its_clients_cpu() {
        let rt = runtime();
        let _in_runtime = rt.enter();
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let socket = TcpListener::from_std(socket).unwrap();
        let loops = Arc::new(Loops::default());
        let (a, _inbox_a) = loops.join(listen::fd_of(&socket));
        let (b, mut inbox_b) = loops.join(listen::fd_of(&socket));
        loops.runs_on(a, Some(0));
        loops.runs_on(b, Some(1));
        assert_eq!(loops.home_of(a, 1), Some(b), "packets from b's CPU");
        assert_eq!(loops.home_of(b, 0), Some(a));
        assert_eq!(loops.home_of(a, 0), None, "a runs there itself");
        assert_eq!(loops.home_of(a, 5), None, "no loop was seen on CPU 5");
        // Both on one CPU: a connection from it stays where it is.
        loops.runs_on(b, Some(0));
        assert_eq!(loops.home_of(a, 0), None);
        assert_eq!(loops.home_of(b, 0), None);
        loops.runs_on(b, None);
        assert_eq!(loops.home_of(a, 1), None, "b's CPU is not known");
        loops.runs_on(b, Some(1));
        // A home far busier than here would hand the next new connections back.
        let mut held: Vec<OwnedLoad> = (0..HANDOVER_GAP - 1).map(|_| loops.open(b)).collect();
        assert_eq!(loops.home_of(a, 1), Some(b), "within the gap");
        held.push(loops.open(b));
        assert_eq!(loops.home_of(a, 1), None, "{:?}", loops.counts());
        held.push(loops.open(a));
        assert_eq!(loops.home_of(a, 1), Some(b), "{:?}", loops.counts());
        // A loop that left is no one's home.
        assert!(inbox_b.leave().is_empty());
        assert_eq!(loops.home_of(a, 1), None);
    }

    #[test]
    fn a_handed_connection_is_served_by_its_loop_even_when_that_loop_leaves() {
        let rt = runtime();
        rt.block_on(async {
            let loops = Arc::new(Loops::default());
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (a, _inbox_a) = loops.join(listen::fd_of(&listener));
            let (b, mut inbox_b) = loops.join(listen::fd_of(&listener));
            let permits = Arc::new(Semaphore::new(3));
            // A connection accepted by a, with its permit and its count.
            let take = || async {
                let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (stream, _) = listener.accept().await.unwrap();
                let permit = Arc::clone(&permits).acquire_owned().await.unwrap();
                let conn = connection::Conn::accepted(stream, permit, loops.open(a));
                (conn, client)
            };
            // Running: the connection, its permit and its count go to b.
            let (conn, _c1) = take().await;
            assert_eq!(loops.counts(), vec![1, 0]);
            assert!(hand_over(&loops, a, b, conn).unwrap().is_none());
            assert_eq!(loops.counts(), vec![0, 1]);
            let handed = inbox_b.recv().await.expect("b got the connection");
            assert_eq!(permits.available_permits(), 2, "the permit travels with it");
            assert_eq!((loops.handed_over(), loops.moved()), (1, 0));
            drop(handed);
            assert_eq!(
                (loops.counts(), permits.available_permits()),
                (vec![0, 0], 3)
            );
            // Moved between two requests, just before b leaves: b still gets it, from
            // `leave`, with the bytes read from it.
            let (mut conn, _c2) = take().await;
            conn.moved = true;
            conn.unread = Bytes::from_static(b"GET /x");
            assert!(hand_over(&loops, a, b, conn).unwrap().is_none());
            assert_eq!((loops.handed_over(), loops.moved()), (1, 1));
            let mut last = inbox_b.leave();
            assert_eq!(
                last.len(),
                1,
                "what was sent before leaving is b's to serve"
            );
            assert_eq!(loops.counts(), vec![0, 1]);
            let moved = last.pop().unwrap().take().unwrap();
            assert!(moved.moved);
            assert_eq!(&moved.unread[..], b"GET /x");
            drop(moved);
            // After: it comes back to a, with its permit and bytes, and no count on b.
            let (mut conn, _c3) = take().await;
            conn.unread = Bytes::from_static(b"HEAD");
            let back = hand_over(&loops, a, b, conn).unwrap().expect("back");
            assert_eq!(&back.unread[..], b"HEAD");
            assert_eq!(
                (loops.counts(), permits.available_permits()),
                (vec![1, 0], 2)
            );
            assert_eq!((loops.handed_over(), loops.moved()), (1, 1));
        });
    }
}
