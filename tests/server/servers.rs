//! The two servers: the atomic store swap in-process (stock server), and the `--steering` switch.

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

fn store_with(route: &str, bytes: &[u8], t: SystemTime) -> feedsmith::internals::store::Store {
    let doc = feedsmith::internals::render::Doc {
        content_type: RSS_TYPE,
        bytes: bytes.to_vec().into(),
        modified: t,
    };
    feedsmith::internals::store::Store::next(
        &feedsmith::internals::store::Store::default(),
        [(route.to_owned(), doc)],
        |_| None,
        t,
    )
}

#[test]
fn requests_see_whole_documents_while_the_store_is_swapped() {
    use feedsmith::internals::server::{serve, State};
    use feedsmith::internals::store::{content_hash, etag_for, Coding};

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
                let (bytes, t) = if swaps.is_multiple_of(2) {
                    (&b, t_b)
                } else {
                    (&a, t_a)
                };
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

/// The names of the threads of process `pid` (Linux: `/proc/PID/task/*/comm`).
#[cfg(target_os = "linux")]
fn thread_names(pid: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    names.sort();
    names
}

/// The switch picks the server: `--steering off` serves from the stock multi-thread runtime
/// (its workers are `http-worker`) and starts no event loop (`http-N`); `on` starts the event
/// loops and no stock runtime.
#[cfg(target_os = "linux")]
#[test]
fn the_steering_switch_picks_the_server() {
    let site = site();
    for (mode, stock) in [("off", true), ("on", false)] {
        let server = Server::start(&site, &["--steering", mode]);
        let r = get(&server.at("/rss.xml"), &[("Accept-Encoding", "gzip")]);
        assert_eq!(r.status, 200, "--steering {mode}");
        assert_eq!(
            r.header("content-encoding"),
            Some("gzip"),
            "--steering {mode}"
        );
        let names = thread_names(server.pid());
        let workers = names.iter().any(|n| n == "http-worker");
        let loops = names
            .iter()
            .any(|n| n.starts_with("http-") && n != "http-worker");
        assert_eq!(
            (workers, loops),
            (stock, !stock),
            "--steering {mode}: threads {names:?}"
        );
    }
}
