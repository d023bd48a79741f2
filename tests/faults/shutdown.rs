//! SIGTERM under load: every response that began completes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Shutdown

/// SIGTERM while eight clients hammer a ~100 KB feed: every response that began is complete,
/// and the process exits 0 promptly.
#[test]
fn sigterm_under_load_completes_every_response_and_exits_zero() {
    let site = TempSite::new();
    let para = "Harbour throughput reached a record as new shipping lines opened and the \
                port authority extended its hours; analysts expect more of the same next year. ";
    for i in 0..50 {
        site.write_post(
            &format!("p{i:02}.md"),
            &news_post(
                &format!("Load {i}"),
                &format!("2024-05-{:02} 10:00:00 +0000", 1 + i % 28),
                "news",
                "load",
                &format!("{}\n", para.repeat(6)),
            ),
        );
    }
    let mut server = serve(&site, "");
    let size = server.get("/rss.xml").body.len();
    assert!(
        (80_000..400_000).contains(&size),
        "rss.xml is {size} bytes, not ~100 KB"
    );

    let stop_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let completed = Arc::new(AtomicUsize::new(0));
    let addr = server.addr.clone();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (addr, completed, stop_at) =
                (addr.clone(), Arc::clone(&completed), Arc::clone(&stop_at));
            std::thread::spawn(move || -> Result<usize, String> {
                let keep_alive = c % 2 == 0;
                let mut mine = 0;
                'connections: loop {
                    // After the signal, keep going until the server stops accepting (bounded).
                    if let Some(t) = *stop_at.lock().unwrap() {
                        if t.elapsed() > Duration::from_secs(15) {
                            return Err("server still accepting 15 s after SIGTERM".into());
                        }
                    }
                    let Ok(mut s) = raw::try_connect(&addr) else {
                        if stop_at.lock().unwrap().is_some() {
                            return Ok(mine);
                        }
                        return Err("connection refused before SIGTERM".into());
                    };
                    loop {
                        let conn = if keep_alive { "keep-alive" } else { "close" };
                        let req = format!(
                            "GET /rss.xml HTTP/1.1\r\nHost: {addr}\r\nConnection: {conn}\r\n\r\n"
                        );
                        if s.write_all(req.as_bytes()).is_err() {
                            continue 'connections;
                        }
                        match raw::read_response(&mut s, false) {
                            raw::RawRead::Complete(r) => {
                                if r.status != 200 || r.body.len() != size {
                                    return Err(format!(
                                        "status {} with {} bytes:\n{}",
                                        r.status,
                                        r.body.len(),
                                        r.head
                                    ));
                                }
                                mine += 1;
                                completed.fetch_add(1, Ordering::Relaxed);
                            }
                            raw::RawRead::ClosedBeforeResponse => continue 'connections,
                            raw::RawRead::Truncated(why) => {
                                return Err(format!("a response that began was cut: {why}"))
                            }
                        }
                        if !keep_alive {
                            continue 'connections;
                        }
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(1));
    let before = completed.load(Ordering::Relaxed);
    *stop_at.lock().unwrap() = Some(Instant::now());
    server.signal("TERM");
    let exited = server.wait_exit(Duration::from_secs(12));
    let results: Vec<Result<usize, String>> =
        clients.into_iter().map(|c| c.join().unwrap()).collect();
    let status = exited.unwrap_or_else(|| {
        panic!(
            "not exited within 12 s of SIGTERM; log:\n{}",
            server.stderr()
        )
    });
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        server.stderr()
    );
    for (i, r) in results.iter().enumerate() {
        if let Err(e) = r {
            panic!("client {i}: {e}\nserver log:\n{}", server.stderr());
        }
    }
    assert!(
        before >= 40,
        "only {before} responses in the second before SIGTERM: no load"
    );
    let log = server.stderr();
    assert!(!log.contains("panicked"), "{log}");
}
