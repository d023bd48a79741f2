//! One connection, from its first bytes to its close: HTTP/1.1 or HTTP/2 (prior knowledge),
//! told apart by the first bytes, and served by hyper.
//!
//! An HTTP/1 connection moves to another event loop when its client runs on another CPU.
//! [`super::listen`] steers each new connection to a loop by its client's CPU, but a client
//! can open every connection from one CPU and then spread its threads over the others (wrk's
//! two threads often do), and the scheduler moves client threads and loops alike. A loop that
//! serves clients on several CPUs runs a whole time slice while a client on the other CPU
//! waits for it, and the tail latency is the scheduler's. So every [`CHECK_EVERY`] requests a
//! connection notes the CPU its next request arrives from (`SO_INCOMING_CPU`, read as the
//! request is read: an acknowledgement of an answer can come from the CPU that sent the
//! answer). When that is, twice in a row, the CPU another loop was last seen running on
//! ([`Loops::home_of`]), and not the one its own loop runs on, it leaves at the next
//! request boundary: hyper's connection is closed without closing the socket, which goes,
//! with any bytes hyper had read but not used, to that loop's inbox, where a new hyper
//! connection takes it up. Each client thread's connections so end up on one loop, whichever
//! CPUs the scheduler picks; on two cores, with `wrk -t2 -c64`, gzip answers went from a p99
//! of 2–6 ms in about half the rounds to 0.5–1.4 ms in nearly all (`bench/results.md`).
//!
//! A request boundary is when hyper, having nothing more to do, waits to read: every request
//! answered, the last write taken in full (hyper then has nothing left to write), and no
//! request with a body (hyper may still be reading what is left of one). Then hyper's
//! keep-alive state is idle, and shutting it down closes it at once without writing anything,
//! not even `Connection: close`; the bytes of the next request it has read so far come back
//! from it. At any other time shutting it down would turn keep-alive off, and the connection
//! would close after its answer: it stays where it is.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Body, Incoming};
use hyper::server::conn::{http1, http2};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::listen;
use super::loops::{hand_over, Loops, OwnedLoad};
use crate::server::service::{self, Answer, Blocking, Reply};
use crate::server::{State, HEADER_READ_TIMEOUT, MAX_CONCURRENT_STREAMS, MAX_HEAD_BYTES};

/// Requests between two questions of where a connection's packets come from (one
/// `getsockopt` each).
pub const CHECK_EVERY: u32 = 16;

/// What starts every HTTP/2 connection with prior knowledge (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a loop serves connections: hyper's settings for each protocol.
pub struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

impl Protocols {
    pub fn new() -> Protocols {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES)
            .keep_alive(true);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .max_header_list_size(MAX_HEAD_BYTES as u32);
        Protocols { http1, http2 }
    }
}

impl Default for Protocols {
    fn default() -> Self {
        Protocols::new()
    }
}

/// A connection as a loop holds it: its socket, the bytes read from it that hyper has not
/// seen yet, its permit and its place in the loop's count.
pub struct Conn {
    pub stream: TcpStream,
    pub unread: Bytes,
    /// Moved from another loop after serving requests there (HTTP/1), rather than new.
    pub moved: bool,
    pub permit: OwnedSemaphorePermit,
    pub load: OwnedLoad,
}

impl Conn {
    /// A connection just accepted.
    pub fn accepted(stream: TcpStream, permit: OwnedSemaphorePermit, load: OwnedLoad) -> Conn {
        Conn {
            stream,
            unread: Bytes::new(),
            moved: false,
            permit,
            load,
        }
    }
}

/// Where a loop's connections report to it.
#[derive(Clone)]
pub struct Loop {
    pub me: usize,
    pub state: Arc<State>,
    pub loops: Arc<Loops>,
    /// Where work that may block runs (the loops' [`super::OffLoop`]).
    pub pool: Arc<dyn Blocking>,
    pub protocols: Arc<Protocols>,
    /// Turns `true` when the loop stops: connections finish what is in flight and close.
    pub stop: watch::Receiver<bool>,
}

/// Serves `conn` on this loop until it closes or moves to another loop. A new connection's
/// first request head must arrive within [`HEADER_READ_TIMEOUT`] (hyper's own timeout only
/// starts once the protocol is known, and HTTP/2 has none), else it is closed.
pub async fn serve(conn: Conn, at: Loop) {
    let traffic = Arc::new(Traffic::default());
    if conn.moved {
        return serve_h1(conn, at, traffic).await;
    }
    let served = serve_new(conn, at, Arc::clone(&traffic));
    tokio::pin!(served);
    match tokio::time::timeout(HEADER_READ_TIMEOUT, &mut served).await {
        Ok(()) => {}
        Err(_) if traffic.called.load(Ordering::Relaxed) == 0 => {
            tracing::debug!("closing a connection that sent no request in time");
        }
        Err(_) => served.await,
    }
}

/// Serves a connection just accepted, in the protocol its first bytes name.
async fn serve_new(mut conn: Conn, at: Loop, traffic: Arc<Traffic>) {
    let _ = conn.stream.set_nodelay(true);
    let mut stop = at.stop.clone();
    let sniffed = tokio::select! {
        // Bytes that arrived are read, even if the loop stops meanwhile.
        biased;
        sniffed = sniff(&mut conn.stream) => sniffed,
        // Nothing was asked yet: nothing to finish.
        _ = stop.wait_for(|stop| *stop) => return,
    };
    match sniffed {
        Ok((true, read)) => {
            conn.unread = read;
            serve_h2(conn, at, traffic).await;
        }
        Ok((false, read)) => {
            conn.unread = read;
            serve_h1(conn, at, traffic).await;
        }
        Err(e) => tracing::debug!("connection closed before a request: {e}"),
    }
}

/// Reads until the first bytes tell HTTP/2's preface from anything else: `true` for
/// HTTP/2, with the bytes read.
async fn sniff(stream: &mut TcpStream) -> io::Result<(bool, Bytes)> {
    let mut read = BytesMut::with_capacity(1024);
    loop {
        if stream.read_buf(&mut read).await? == 0 {
            // Closed before the preface was complete: hyper's HTTP/1 sees the end.
            return Ok((false, read.freeze()));
        }
        let seen = read.len().min(H2_PREFACE.len());
        if read[..seen] != H2_PREFACE[..seen] {
            return Ok((false, read.freeze()));
        }
        if seen == H2_PREFACE.len() {
            return Ok((true, read.freeze()));
        }
    }
}

async fn serve_h2(conn: Conn, mut at: Loop, traffic: Arc<Traffic>) {
    let Conn {
        stream,
        unread,
        permit,
        load,
        ..
    } = conn;
    let io = TokioIo::new(Io::new(stream, unread, Arc::clone(&traffic)));
    let service = Service {
        state: Arc::clone(&at.state),
        pool: Arc::clone(&at.pool),
        traffic,
    };
    let served = at.protocols.http2.serve_connection(io, service);
    tokio::pin!(served);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = &mut served => break,
            _ = at.stop.wait_for(|stop| *stop), if !stopping => {
                served.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
    drop((permit, load));
}

/// Serves an HTTP/1 connection here, until it closes or has gone to another loop.
async fn serve_h1(mut conn: Conn, mut at: Loop, traffic: Arc<Traffic>) {
    let loops = Arc::clone(&at.loops);
    loop {
        let io = TokioIo::new(Io::new(conn.stream, conn.unread, Arc::clone(&traffic)));
        let service = Service {
            state: Arc::clone(&at.state),
            pool: Arc::clone(&at.pool),
            traffic: Arc::clone(&traffic),
        };
        let mut http = at.protocols.http1.serve_connection(io, service);
        let mut moves = Moves::default();
        let mut stopping = false;
        let mut to = None;
        let stopped = at.stop.wait_for(|stop| *stop);
        tokio::pin!(stopped);
        let moving = std::future::poll_fn(|cx| {
            // hyper's own end of a connection: everything written, then the socket shut down.
            // Polled before the loop's stop is heeded, so that the bytes a moved connection
            // brings are read (and answered) first.
            let mut polled = Pin::new(&mut http).poll(cx);
            if polled.is_pending() && !stopping && stopped.as_mut().poll(cx).is_ready() {
                // The loop stops: what is in flight finishes, then hyper closes.
                Pin::new(&mut http).graceful_shutdown();
                stopping = true;
                polled = Pin::new(&mut http).poll(cx);
            }
            if polled.is_ready() {
                return Poll::Ready(false);
            }
            if stopping || !traffic.at_boundary() {
                return Poll::Pending;
            }
            to = moves.check(&loops, at.me, &traffic);
            if to.is_none() {
                return Poll::Pending;
            }
            // Idle, with every byte written: hyper closes at once and leaves the socket open.
            Pin::new(&mut http).graceful_shutdown();
            match http.poll_without_shutdown(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(true),
                Poll::Ready(Err(_)) => Poll::Ready(false),
                Poll::Pending => {
                    // Not idle after all: hyper closes the connection after this request.
                    tracing::debug!("a connection meant to move was busy");
                    to = None;
                    Poll::Pending
                }
            }
        })
        .await;
        let Some(to) = to.filter(|_| moving) else {
            return;
        };
        let parts = http.into_parts();
        let io = parts.io.into_inner();
        // What hyper read and did not use comes first, then what it never read.
        let unread = if io.unread.is_empty() {
            parts.read_buf
        } else {
            let mut both = BytesMut::from(&parts.read_buf[..]);
            both.extend_from_slice(&io.unread);
            both.freeze()
        };
        conn = Conn {
            stream: io.stream,
            unread,
            moved: true,
            ..conn
        };
        match hand_over(&loops, at.me, to, conn) {
            Ok(None) => return,
            // That loop has stopped: this one goes on serving it.
            Ok(Some(back)) => conn = back,
            Err(e) => {
                tracing::warn!("cannot move a connection to event loop {to}: {e}");
                return;
            }
        }
    }
}

/// When a connection asks where its packets come from, and what it heard last.
#[derive(Default)]
struct Moves {
    /// Requests when it last asked.
    asked_at: u32,
    last: Option<usize>,
}

impl Moves {
    /// The loop this connection should move to, if it is time to ask and the answer is
    /// another loop's CPU for the second time in a row.
    fn check(&mut self, loops: &Loops, me: usize, traffic: &Traffic) -> Option<usize> {
        let called = traffic.called.load(Ordering::Relaxed);
        if called.wrapping_sub(self.asked_at) < CHECK_EVERY {
            return None;
        }
        self.asked_at = called;
        loops.runs_on(me, listen::current_cpu());
        // Asked as the next request is read (a request's packets come from the client's
        // CPU; an acknowledgement of an answer can come from the CPU that sent the answer).
        traffic.ask_cpu.store(true, Ordering::Relaxed);
        let cpu = traffic.seen_cpu.swap(u32::MAX, Ordering::Relaxed);
        let home = (cpu != u32::MAX).then(|| loops.home_of(me, cpu)).flatten();
        let go = home.is_some() && home == self.last;
        self.last = home;
        if go {
            self.last = None;
            tracing::debug!("requests of a connection of event loop {me} come from CPU {cpu}");
            home
        } else {
            None
        }
    }
}

/// What a connection has done, as its task sees it between polls of hyper's connection.
pub struct Traffic {
    /// Requests the service was called for.
    called: AtomicU32,
    /// Requests it has answered.
    answered: AtomicU32,
    /// A request came with a body: hyper may still be reading it, so the connection stays
    /// on this loop for the rest of its life (only the hub's subscribers send bodies).
    bodied: AtomicBool,
    /// The last write did not take everything it was given.
    write_short: AtomicBool,
    /// Wanted: the CPU the next request comes from.
    ask_cpu: AtomicBool,
    /// The CPU a request came from, when asked (`u32::MAX`: none yet).
    seen_cpu: AtomicU32,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            called: AtomicU32::new(0),
            answered: AtomicU32::new(0),
            bodied: AtomicBool::new(false),
            write_short: AtomicBool::new(false),
            ask_cpu: AtomicBool::new(false),
            seen_cpu: AtomicU32::new(u32::MAX),
        }
    }
}

impl Traffic {
    /// Nothing in flight: see the module documentation.
    fn at_boundary(&self) -> bool {
        !self.write_short.load(Ordering::Relaxed)
            && !self.bodied.load(Ordering::Relaxed)
            && self.answered.load(Ordering::Relaxed) == self.called.load(Ordering::Relaxed)
    }
}

/// The socket as hyper sees it: the bytes read before hyper came first; whether the last write
/// was taken in full, for [`Traffic::at_boundary`]; the CPU of a request, when asked.
pub struct Io {
    stream: TcpStream,
    unread: Bytes,
    traffic: Arc<Traffic>,
}

impl Io {
    fn new(stream: TcpStream, unread: Bytes, traffic: Arc<Traffic>) -> Io {
        Io {
            stream,
            unread,
            traffic,
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.unread.is_empty() {
            let n = this.unread.len().min(buf.remaining());
            buf.put_slice(&this.unread[..n]);
            this.unread.advance(n);
            if this.unread.is_empty() {
                // An empty slice still holds its buffer (the sniff's 1 KiB) alive.
                this.unread = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        let filled = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let traffic = &this.traffic;
        if buf.filled().len() > filled && traffic.ask_cpu.load(Ordering::Relaxed) {
            traffic.ask_cpu.store(false, Ordering::Relaxed);
            let fd = listen::fd_of(&this.stream);
            if let Some(cpu) = listen::incoming_cpu(fd) {
                traffic.seen_cpu.store(cpu, Ordering::Relaxed);
            }
        }
        polled
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.wrote(&polled, buf.len());
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.wrote(&polled, bufs.iter().map(|b| b.len()).sum());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Io {
    fn wrote(&self, polled: &Poll<io::Result<usize>>, given: usize) {
        let all = matches!(polled, Poll::Ready(Ok(n)) if *n == given);
        self.traffic.write_short.store(!all, Ordering::Relaxed);
    }
}

/// The requests of one connection, answered from the loop's state.
pub struct Service {
    state: Arc<State>,
    pool: Arc<dyn Blocking>,
    traffic: Arc<Traffic>,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Answer;
    type Error = Infallible;
    type Future = Reply;

    /// The stock server's [`Reply`], counted: an answer made later counts once it is made.
    fn call(&self, req: Request<Incoming>) -> Reply {
        let traffic = &self.traffic;
        traffic.called.fetch_add(1, Ordering::Relaxed);
        if !req.body().is_end_stream() {
            traffic.bodied.store(true, Ordering::Relaxed);
        }
        match service::answer(req, &self.state, &self.pool) {
            Ok(response) => {
                traffic.answered.fetch_add(1, Ordering::Relaxed);
                Reply::Now(Some(response))
            }
            Err(later) => {
                let traffic = Arc::clone(traffic);
                Reply::Later(Box::pin(async move {
                    let response = later.await;
                    traffic.answered.fetch_add(1, Ordering::Relaxed);
                    response
                }))
            }
        }
    }
}
