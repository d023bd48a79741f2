//! In-process: the atomic store swap, and connections spread over and moved between event loops.

use super::*;

// ---------------------------------------------------------------------------------------------
// Atomic swap, in-process

/// A valid RSS document of roughly `items` items whose bytes say which version it is.
fn big_rss(version: &str, items: usize) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>swap</title><link>https://example.com/</link><description>d</description>\n",
    );
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

fn store_with(route: &str, bytes: &[u8], t: SystemTime) -> feedsmith::store::Store {
    let doc = feedsmith::render::Doc {
        content_type: RSS_TYPE,
        bytes: bytes.to_vec().into(),
    };
    feedsmith::store::Store::next(
        &feedsmith::store::Store::default(),
        [(route.to_owned(), doc, Some(t))],
        |_| None,
        t,
    )
}

#[test]
fn requests_see_whole_documents_while_the_store_is_swapped() {
    use feedsmith::server::{serve, State};
    use feedsmith::store::{content_hash, etag_for, Coding};

    const ROUTE: &str = "/big/rss.xml";
    let a = Arc::new(big_rss("A", 1500));
    let b = Arc::new(big_rss("B", 2000));
    assert_ne!(a.len(), b.len());
    for v in [&a, &b] {
        feed_rs::parser::parse(&v[..]).expect("fixture is a valid feed");
    }
    let t_a = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let t_b = UNIX_EPOCH + Duration::from_secs(1_700_000_600);
    let etag_a = etag_for(content_hash(&a), Coding::Identity);
    let etag_b = etag_for(content_hash(&b), Coding::Identity);
    let gz_a = etag_for(content_hash(&a), Coding::Gzip);
    let gz_b = etag_for(content_hash(&b), Coding::Gzip);
    assert_ne!(etag_a, etag_b);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = Arc::new(State::new(store_with(ROUTE, &a, t_a), 300, false));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(serve(listener, Arc::clone(&state), async {
        let _ = stop_rx.await;
    }));

    let url = format!("http://{addr}{ROUTE}");
    let clients_done = Arc::new(AtomicBool::new(false));
    let swapper = std::thread::spawn({
        let state = Arc::clone(&state);
        let (a, b) = (Arc::clone(&a), Arc::clone(&b));
        let done = Arc::clone(&clients_done);
        move || {
            let mut swaps = 0usize;
            while swaps < 300 || !done.load(Ordering::Acquire) {
                let (bytes, t) = if swaps % 2 == 0 { (&b, t_b) } else { (&a, t_a) };
                state.swap(store_with(ROUTE, bytes, t));
                swaps += 1;
                // Leave the two cores to the server and the clients between swaps.
                std::thread::sleep(Duration::from_micros(300));
                if swaps > 1_000_000 {
                    break;
                }
            }
            swaps
        }
    });

    let seen = Arc::new(Mutex::new([0usize; 2]));
    let failures = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            let (etag_a, etag_b, gz_a, gz_b) =
                (etag_a.clone(), etag_b.clone(), gz_a.clone(), gz_b.clone());
            let url = url.clone();
            let seen = Arc::clone(&seen);
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || {
                // One agent per thread: requests reuse keep-alive connections across swaps.
                let agent = agent();
                for i in 0..120 {
                    let gzip = c == 3 && i % 4 == 0;
                    let headers: &[(&str, &str)] = if gzip {
                        &[("Accept-Encoding", "gzip")]
                    } else {
                        &[]
                    };
                    let r = request_with(&agent, "GET", &url, headers);
                    assert_eq!(r.status, 200);
                    let body = if gzip {
                        assert_eq!(r.header("content-encoding"), Some("gzip"));
                        gunzip(&r.body)
                    } else {
                        r.body.clone()
                    };
                    assert_eq!(
                        r.h("content-length").parse::<usize>().unwrap(),
                        r.body.len()
                    );
                    let etag = r.h("etag");
                    let lm = r.h("last-modified");
                    let version = if body == *a {
                        assert_eq!(etag, if gzip { &gz_a } else { &etag_a });
                        assert_eq!(lm, fmt_date(t_a));
                        0
                    } else if body == *b {
                        assert_eq!(etag, if gzip { &gz_b } else { &etag_b });
                        assert_eq!(lm, fmt_date(t_b));
                        1
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                        panic!(
                            "body of {} bytes is neither version A ({}) nor B ({})",
                            body.len(),
                            a.len(),
                            b.len()
                        );
                    };
                    seen.lock().unwrap()[version] += 1;
                }
            })
        })
        .collect();
    let mut client_panics = Vec::new();
    for c in clients {
        if let Err(e) = c.join() {
            client_panics.push(e);
        }
    }
    clients_done.store(true, Ordering::Release);
    let swaps = swapper.join().unwrap();

    let _ = stop_tx.send(());
    let served = rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), server).await });
    assert!(
        matches!(served, Ok(Ok(Ok(())))),
        "server did not shut down cleanly: {served:?}"
    );
    rt.shutdown_timeout(Duration::from_secs(5));

    if let Some(p) = client_panics.into_iter().next() {
        std::panic::resume_unwind(p);
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    let seen = *seen.lock().unwrap();
    assert_eq!(seen[0] + seen[1], 4 * 120);
    assert!(swaps >= 300, "only {swaps} swaps");
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "the swap was never observed: A {} times, B {} times",
        seen[0],
        seen[1]
    );
}

/// The bound on open connections is one for the whole server, not one per event loop: with two
/// loops serving one state whose bound is a single connection, a second client waits for the
/// first to leave even though the other loop is idle.
#[test]
fn the_connection_bound_is_shared_by_every_event_loop() {
    use feedsmith::server::State;

    let mut state = State::new(
        store_with("/x.xml", &big_rss("A", 3), SystemTime::now()),
        300,
        false,
    );
    state.connections = Arc::new(tokio::sync::Semaphore::new(1));
    let state = Arc::new(state);
    // The sockets `serve` listens on: one per loop.
    let sockets = feedsmith::server::listen::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap().to_string();
    let (stop_tx, loops) = event_loops(&state, sockets, &[]);

    let request = format!("GET /x.xml HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let first_status = |s: &mut TcpStream| {
        let mut head = [0u8; 12];
        s.read_exact(&mut head).map(|()| head)
    };
    // The first client is answered and keeps its connection open.
    let mut first = raw::connect(&addr);
    first.write_all(request.as_bytes()).unwrap();
    assert_eq!(&first_status(&mut first).unwrap(), b"HTTP/1.1 200");
    // The second waits in the accept queue while the first is open…
    let mut second = raw::connect(&addr);
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

    stop_tx.send(true).unwrap();
    for l in loops {
        l.join().expect("event loop").expect("serve");
    }
}

type EventLoops = Vec<std::thread::JoinHandle<std::io::Result<()>>>;

/// One single-threaded runtime per socket serving `state`, as `feedsmith serve` runs them,
/// until `true` is sent. Loop `i` serves socket `i`, is `state.loops`' loop `i`, and runs on
/// CPU `pins[i]` only, where given.
fn event_loops(
    state: &Arc<feedsmith::server::State>,
    sockets: Vec<std::net::TcpListener>,
    pins: &[u32],
) -> (tokio::sync::watch::Sender<bool>, EventLoops) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut loops = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        socket.set_nonblocking(true).unwrap();
        let state_here = Arc::clone(state);
        let mut stop = stop_rx.clone();
        let pin = pins.get(i).copied();
        loops.push(std::thread::spawn(move || {
            #[cfg(target_os = "linux")]
            if let Some(cpu) = pin {
                pin_to(&[cpu]);
            }
            #[cfg(not(target_os = "linux"))]
            let _ = pin;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(socket).unwrap();
                feedsmith::server::serve(listener, state_here, async move {
                    let _ = stop.wait_for(|stopped| *stopped).await;
                })
                .await
            })
        }));
        // Joined (and can be handed connections) before the next one starts, and before a
        // client connects.
        common::http::wait_for(
            "the event loop to join",
            Duration::from_secs(10),
            None,
            || {
                let counts = state.loops.counts();
                (counts.len() == i + 1)
                    .then_some(())
                    .ok_or(format!("{counts:?}"))
            },
        );
    }
    (stop_tx, loops)
}

/// Connections steered by CPU ([`feedsmith::server::listen`]) all land on one loop when they
/// all come from one CPU — one client thread opening many. That loop hands the surplus over,
/// so every loop serves and none carries more than `HANDOVER_GAP` connections beyond another.
#[cfg(target_os = "linux")]
#[test]
fn connections_that_all_come_from_one_cpu_are_shared_by_the_event_loops() {
    use feedsmith::server::{listen, State, HANDOVER_GAP};

    let state = Arc::new(State::new(
        store_with("/x.xml", &big_rss("A", 3), SystemTime::now()),
        300,
        false,
    ));
    let sockets = listen::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap().to_string();
    let (stop_tx, loops) = event_loops(&state, sockets, &[]);

    // Every connection from this thread, on one CPU.
    let cpus = listen::allowed_cpus();
    if cpus.len() < 2 {
        // One CPU: nothing is steered, the kernel's hash spreads the connections, and this
        // test would pass without any handing over.
        eprintln!("skipped: steering by CPU needs two CPUs, this process has {cpus:?}");
        return;
    }
    let first = cpus[0];
    pin_to(&[first]);
    let request = format!("GET /x.xml HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let clients: Vec<TcpStream> = (0..3 * HANDOVER_GAP)
        .map(|i| {
            let mut c = raw::connect(&addr);
            c.write_all(request.as_bytes()).unwrap();
            let mut head = [0u8; 12];
            c.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200", "connection {i}");
            c
        })
        .collect();
    pin_to(&cpus);

    // Every connection has been answered, so every one is counted by the loop serving it.
    let counts = state.loops.counts();
    assert_eq!(counts.len(), 2, "both loops joined: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), clients.len(), "{counts:?}");
    // Spread by handing over, not by the kernel's hash: steered by CPU, every one arrived on
    // one loop, so the other one's share came by hand.
    assert!(
        state.loops.handed_over() >= *counts.iter().min().unwrap()
            && *counts.iter().min().unwrap() > 0,
        "{counts:?}, {} handed over",
        state.loops.handed_over()
    );
    let (least, most) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(
        *least > 0 && most - least <= HANDOVER_GAP,
        "{} connections from CPU {first} over two loops: {counts:?}",
        clients.len()
    );

    drop(clients);
    stop_tx.send(true).unwrap();
    for l in loops {
        l.join().expect("event loop").expect("serve");
    }
}

/// Runs the calling thread on `cpus` only.
#[cfg(target_os = "linux")]
fn pin_to(cpus: &[u32]) {
    // SAFETY: a zeroed cpu_set_t is empty; the CPUs come from `listen::allowed_cpus`, below
    // CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    }
    let size = std::mem::size_of::<libc::cpu_set_t>();
    assert_eq!(unsafe { libc::sched_setaffinity(0, size, &set) }, 0);
}

/// A client that moves to another CPU after connecting is followed by its connection: the
/// loop serving it hands it, between two requests, to the loop running on the client's new
/// CPU — with the part of the next request head already read, which that loop then answers.
/// When the client moves back while taking large answers slowly, the connection moves back
/// only between answers: every answer on the way is whole and right.
#[cfg(target_os = "linux")]
#[test]
fn a_connection_moves_to_the_event_loop_on_its_clients_cpu() {
    use feedsmith::server::{connection::CHECK_EVERY, listen, State};

    let cpus = listen::allowed_cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: moving by CPU needs two CPUs, this process has {cpus:?}");
        return;
    }
    let small = big_rss("A", 20);
    // Larger than the socket's buffers: hyper's writes of it wait for the client.
    let large = big_rss("B", 24_000);
    assert!(large.len() > 4 << 20, "{}", large.len());
    let t = SystemTime::now();
    let doc = |bytes: &[u8]| feedsmith::render::Doc {
        content_type: RSS_TYPE,
        bytes: bytes.to_vec().into(),
    };
    let store = feedsmith::store::Store::next(
        &feedsmith::store::Store::default(),
        [
            ("/small.xml".to_owned(), doc(&small), Some(t)),
            ("/large.xml".to_owned(), doc(&large), Some(t)),
        ],
        |_| None,
        t,
    );
    let state = Arc::new(State::new(store, 300, false));
    let sockets = listen::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = sockets[0].local_addr().unwrap().to_string();
    // Each loop on its own CPU, so that "the loop on the client's CPU" is one loop.
    let (stop_tx, loops) = event_loops(&state, sockets, &cpus[..2]);

    let get = |route: &str| format!("GET {route} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut c = raw::connect(&addr);
    // Each write leaves at once, from this thread's CPU: with Nagle's algorithm a small
    // write would wait for the server's answer and leave from its CPU instead.
    c.set_nodelay(true).unwrap();
    // Reads one whole response and checks it against `body`.
    let mut pending = Vec::new();
    let mut answer = |c: &mut TcpStream, n: usize, body: &[u8]| {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(end) = raw::head_end(&pending) {
                let parsed = raw::parse(&pending[..end + 4]);
                let length: usize = parsed.header("content-length").unwrap().parse().unwrap();
                if pending.len() >= end + 4 + length {
                    assert_eq!(parsed.status, 200, "request {n}");
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
    let counts = state.loops.counts();
    let here = counts
        .iter()
        .position(|&n| n == 1)
        .expect("one loop serves it");
    let there = 1 - here;
    let requests = 8 * CHECK_EVERY as usize;

    // From the other loop's CPU, each request is sent with the first bytes of the next, so
    // that a move always carries part of a request head.
    pin_to(&[cpus[there]]);
    let (head, tail) = request.as_bytes().split_at(9);
    c.write_all(head).unwrap();
    let next = [tail, head].concat();
    for n in 1..=requests {
        c.write_all(if n < requests { &next } else { tail })
            .unwrap();
        answer(&mut c, n, &small);
    }
    assert_eq!(
        (state.loops.moved(), state.loops.counts()[there]),
        (1, 1),
        "{requests} requests from CPU {} did not move the connection: {:?}",
        cpus[there],
        state.loops.counts()
    );

    // Back on the first CPU, every fourth answer large and read after a pause.
    pin_to(&[cpus[here]]);
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
    pin_to(&cpus);
    assert_eq!(
        (state.loops.moved(), state.loops.counts()[here]),
        (2, 1),
        "the client's return to CPU {} did not move the connection back: {:?}",
        cpus[here],
        state.loops.counts()
    );

    drop(c);
    stop_tx.send(true).unwrap();
    for l in loops {
        l.join().expect("event loop").expect("serve");
    }
}
