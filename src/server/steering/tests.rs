use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::loops::{hand_over, Loops, OwnedLoad, HANDOVER_GAP};
use super::{connection, listen, run_loop, Shared, OFF_LOOP_THREADS};
use crate::server::{State, BLOCKING_CONCURRENCY};
use crate::store::Store;

/// Runs `work` on `shared`'s pool (see [`crate::server::service::blocking`]).
async fn off_loop<T: Send + 'static>(
    shared: &Shared,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    crate::server::service::blocking(&shared.state, &*shared.pool, work).await
}

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
    let shared = Shared::new(Arc::new(State::new(Store::default(), 300, false)));
    // Two loops, one after the other: the second finds the first one's thread idle.
    let ran: Vec<_> = (0..2)
        .map(|_| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let rt = runtime();
                rt.block_on(off_loop(&shared, || {
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
    let shared = Shared::new(Arc::new(State::new(Store::default(), 300, false)));
    let state = Arc::clone(&shared.state);
    let rt = runtime();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
    // The request waits for its work, then is given up (as on a stream reset).
    let work = move || {
        let _ = started_tx.send(());
        let _ = finish_rx.recv();
    };
    let given_up = rt.block_on(async {
        tokio::time::timeout(Duration::from_millis(200), off_loop(&shared, work)).await
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

// ---------------------------------------------------------------------------------------------
// Event loops serving over real sockets

/// How long a test client waits for a read.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";

/// An RSS-like document of `items` items whose bytes say which version it is.
fn big_rss(version: &str, items: usize) -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>\n");
    for i in 0..items {
        s.push_str(&format!(
            "<item><title>{version} item {i}</title><link>https://example.com/{version}/{i}.html</link>\
             <guid>https://example.com/{version}/{i}.html</guid>\
             <description>版本 {version} 第 {i} 条 — the quick brown fox {i}</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s.into_bytes()
}

/// A store holding `docs` (route, bytes).
fn store_of(docs: &[(&str, &[u8])]) -> Store {
    let t = SystemTime::now();
    let docs = docs.iter().map(|(route, bytes)| {
        let doc = crate::render::Doc {
            content_type: RSS_TYPE,
            bytes: Bytes::copy_from_slice(bytes),
            modified: t,
        };
        ((*route).to_owned(), doc)
    });
    Store::next(&Store::default(), docs, |_| None, t)
}

type EventLoops = Vec<std::thread::JoinHandle<std::io::Result<()>>>;

/// One event loop per socket serving `shared`, as `run` starts them, until `true` is sent.
/// Loop `i` serves socket `i`, is `shared.loops`' loop `i`, and runs on CPU `pins[i]` only,
/// where given.
fn event_loops(
    shared: &Shared,
    sockets: Vec<std::net::TcpListener>,
    pins: &[u32],
) -> (tokio::sync::watch::Sender<bool>, EventLoops) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let here = shared.clone();
        let mut stop = stop_rx.clone();
        let pin = pins.get(i).copied();
        loops.push(std::thread::spawn(move || {
            #[cfg(target_os = "linux")]
            if let Some(cpu) = pin {
                listen::tests::pin(&[cpu]);
            }
            #[cfg(not(target_os = "linux"))]
            let _ = pin;
            run_loop(socket, here, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
        }));
        // Joined (and can be handed connections) before the next one starts, and before a
        // client connects.
        assert!(
            eventually(|| shared.loops.counts().len() == i + 1),
            "event loop {i} did not join: {:?}",
            shared.loops.counts()
        );
    }
    (stop_tx, loops)
}

/// Stops the loops and checks each one ended well.
fn stop(stop_tx: tokio::sync::watch::Sender<bool>, loops: EventLoops) {
    stop_tx.send(true).unwrap();
    for l in loops {
        l.join().expect("event loop").expect("serve");
    }
}

/// The bound on open connections is one for the whole server, not one per event loop: with two
/// loops serving one state whose bound is a single connection, a second client waits for the
/// first to leave even though the other loop is idle.
#[test]
fn the_connection_bound_is_shared_by_every_event_loop() {
    let mut state = State::new(store_of(&[("/x.xml", &big_rss("A", 3))]), 300, false);
    state.connections = Arc::new(Semaphore::new(1));
    let shared = Shared::new(Arc::new(state));
    let sockets = listen::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap().to_string();
    let (stop_tx, loops) = event_loops(&shared, sockets, &[]);

    let request = format!("GET /x.xml HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let first_status = |s: &mut TcpStream| {
        let mut head = [0u8; 12];
        s.read_exact(&mut head).map(|()| head)
    };
    // The first client is answered and keeps its connection open.
    let mut first = TcpStream::connect(&addr).unwrap();
    first.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    first.write_all(request.as_bytes()).unwrap();
    assert_eq!(&first_status(&mut first).unwrap(), b"HTTP/1.1 200");
    // The second waits in the accept queue while the first is open…
    let mut second = TcpStream::connect(&addr).unwrap();
    second.write_all(request.as_bytes()).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let early = first_status(&mut second);
    assert!(
        early.is_err(),
        "a second connection was served past a bound of one: {early:?}"
    );
    // …and is served once it closes.
    drop(first);
    second.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert_eq!(&first_status(&mut second).unwrap(), b"HTTP/1.1 200");
    drop(second);
    stop(stop_tx, loops);
}

/// Connections steered by CPU ([`listen`]) all land on one loop when they all come from one
/// CPU — one client thread opening many. That loop hands the surplus over, so every loop
/// serves and none carries more than `HANDOVER_GAP` connections beyond another.
#[cfg(target_os = "linux")]
#[test]
fn connections_that_all_come_from_one_cpu_are_shared_by_the_event_loops() {
    let cpus = listen::allowed_cpus();
    if cpus.len() < 2 {
        // One CPU: nothing is steered, the kernel's hash spreads the connections, and this
        // test would pass without any handing over.
        eprintln!("skipped: steering by CPU needs two CPUs, this process has {cpus:?}");
        return;
    }
    let state = State::new(store_of(&[("/x.xml", &big_rss("A", 3))]), 300, false);
    let shared = Shared::new(Arc::new(state));
    let sockets = listen::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap().to_string();
    let (stop_tx, loops) = event_loops(&shared, sockets, &[]);

    // Every connection from this thread, on one CPU.
    let first = cpus[0];
    listen::tests::pin(&[first]);
    let request = format!("GET /x.xml HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let clients: Vec<TcpStream> = (0..3 * HANDOVER_GAP)
        .map(|i| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            c.write_all(request.as_bytes()).unwrap();
            let mut head = [0u8; 12];
            c.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200", "connection {i}");
            c
        })
        .collect();
    listen::tests::pin(&cpus);

    // Every connection has been answered, so every one is counted by the loop serving it.
    let loops_of = &shared.loops;
    let counts = loops_of.counts();
    assert_eq!(counts.len(), 2, "both loops joined: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), clients.len(), "{counts:?}");
    let (least, most) = (*counts.iter().min().unwrap(), *counts.iter().max().unwrap());
    // Spread by handing over, not by the kernel's hash: steered by CPU, every one arrived on
    // one loop, so the other one's share came by hand.
    assert!(
        loops_of.handed_over() >= least && least > 0,
        "{counts:?}, {} handed over",
        loops_of.handed_over()
    );
    assert!(
        most - least <= HANDOVER_GAP,
        "{} connections from CPU {first} over two loops: {counts:?}",
        clients.len()
    );
    drop(clients);
    stop(stop_tx, loops);
}

/// The status and `Content-Length` of a response head (the bytes before the blank line).
fn status_and_length(head: &[u8]) -> (u16, usize) {
    let text = String::from_utf8_lossy(head);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = text
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (status, length)
}

/// A client that moves to another CPU after connecting is followed by its connection: the
/// loop serving it hands it, between two requests, to the loop running on the client's new
/// CPU — with the part of the next request head already read, which that loop then answers.
/// When the client moves back while taking large answers slowly, the connection moves back
/// only between answers: every answer on the way is whole and right.
#[cfg(target_os = "linux")]
#[test]
fn a_connection_moves_to_the_event_loop_on_its_clients_cpu() {
    use super::connection::CHECK_EVERY;

    let cpus = listen::allowed_cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: moving by CPU needs two CPUs, this process has {cpus:?}");
        return;
    }
    let small = big_rss("A", 20);
    // Larger than the socket's buffers: hyper's writes of it wait for the client.
    let large = big_rss("B", 24_000);
    assert!(large.len() > 4 << 20, "{}", large.len());
    let store = store_of(&[("/small.xml", &small), ("/large.xml", &large)]);
    let shared = Shared::new(Arc::new(State::new(store, 300, false)));
    let sockets = listen::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap().to_string();
    // Each loop on its own CPU, so that "the loop on the client's CPU" is one loop.
    let (stop_tx, loops) = event_loops(&shared, sockets, &cpus[..2]);
    let loops_of = Arc::clone(&shared.loops);

    let get = |route: &str| format!("GET {route} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    // Each write leaves at once, from this thread's CPU: with Nagle's algorithm a small
    // write would wait for the server's answer and leave from its CPU instead.
    c.set_nodelay(true).unwrap();
    // Reads one whole response and checks it against `body`.
    let mut pending = Vec::new();
    let mut answer = |c: &mut TcpStream, n: usize, body: &[u8]| {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let (status, length) = status_and_length(&pending[..end]);
                if pending.len() >= end + 4 + length {
                    assert_eq!(status, 200, "request {n}");
                    assert!(
                        pending[end + 4..end + 4 + length] == *body,
                        "request {n}: the body differs"
                    );
                    pending.drain(..end + 4 + length);
                    return;
                }
            }
            let read = c
                .read(&mut chunk)
                .unwrap_or_else(|e| panic!("request {n}: {e}"));
            assert!(read > 0, "request {n}: closed");
            pending.extend_from_slice(&chunk[..read]);
        }
    };
    let request = get("/small.xml");
    c.write_all(request.as_bytes()).unwrap();
    answer(&mut c, 0, &small);
    let counts = loops_of.counts();
    let here = counts
        .iter()
        .position(|&n| n == 1)
        .expect("one loop serves it");
    let there = 1 - here;
    let requests = 8 * CHECK_EVERY as usize;

    // From the other loop's CPU, each request is sent with the first bytes of the next, so
    // that a move always carries part of a request head.
    listen::tests::pin(&[cpus[there]]);
    let (head, tail) = request.as_bytes().split_at(9);
    c.write_all(head).unwrap();
    let next = [tail, head].concat();
    for n in 1..=requests {
        c.write_all(if n < requests { &next } else { tail })
            .unwrap();
        answer(&mut c, n, &small);
    }
    assert_eq!(
        (loops_of.moved(), loops_of.counts()[there]),
        (1, 1),
        "{requests} requests from CPU {} did not move the connection: {:?}",
        cpus[there],
        loops_of.counts()
    );

    // Back on the first CPU, every fourth answer large and read after a pause.
    listen::tests::pin(&[cpus[here]]);
    for n in 1..=requests {
        if n % 4 == 0 {
            c.write_all(get("/large.xml").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(2));
            answer(&mut c, requests + n, &large);
        } else {
            c.write_all(request.as_bytes()).unwrap();
            answer(&mut c, requests + n, &small);
        }
    }
    listen::tests::pin(&cpus);
    assert_eq!(
        (loops_of.moved(), loops_of.counts()[here]),
        (2, 1),
        "the client's return to CPU {} did not move the connection back: {:?}",
        cpus[here],
        loops_of.counts()
    );
    drop(c);
    stop(stop_tx, loops);
}
