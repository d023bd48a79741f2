//! Shutdown with requests in flight, hostile and slow connections.

use super::*;

// ---------------------------------------------------------------------------------------------
// Shutdown

#[test]
fn sigterm_and_sigint_exit_cleanly() {
    let site = site();
    for sig in ["TERM", "INT"] {
        let mut server = Server::start(&site, &[]);
        assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
        // An idle keep-alive connection must not hold the shutdown up.
        let mut idle = raw::connect(&server.addr);
        write!(idle, "GET /atom.xml HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut first = [0u8; 12];
        idle.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        // And a connection that has sent nothing yet.
        let _silent = raw::connect(&server.addr);

        let started = Instant::now();
        server.signal(sig);
        let status = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "SIG{sig}: no exit within {EXIT_TIMEOUT:?}; stderr:\n{}",
                server.stderr()
            )
        });
        assert!(status.success(), "SIG{sig}: exit status {status}");
        assert!(started.elapsed() < EXIT_TIMEOUT);
    }
}

/// A response still being sent when SIGTERM arrives is sent whole, and the process then exits
/// 0 within [`feedsmith::internals::server::SHUTDOWN_GRACE`] (plus a margin), accepting nothing new.
#[test]
fn sigterm_lets_a_large_response_in_flight_finish() {
    let site = TempSite::new();
    // A post of about 8 MB: /rss.xml carries it whole, more than the socket buffers between
    // the server and a client that is not reading hold.
    let mut body = String::with_capacity(8 << 20);
    let mut i = 0;
    while body.len() < 8 << 20 {
        body.push_str(&format!(
            "Paragraph {i} of a very long read, written so that the feed is several megabytes \
             and its transfer takes a while.\n\n"
        ));
        i += 1;
    }
    body.push_str("The last paragraph.\n");
    site.write_post(
        "2024-05-01-long-read.md",
        &format!("---\ntitle: A long read\ndate: 2024-05-01 10:00:00 +0000\n---\n{body}"),
    );
    let mut server = Server::start(&site, &[]);
    let mut s = raw::connect(&server.addr);
    write!(
        s,
        "GET /rss.xml HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    )
    .unwrap();
    // The head and the first bytes of the body, read slowly.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).expect("reading the response");
        assert!(
            n > 0,
            "closed before the head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = raw::head_end(&buf) {
            if buf.len() >= end + 4 + 64 * 1024 {
                break end + 4;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let head = raw::parse(&buf[..head_end]);
    assert_eq!(head.status, 200);
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(length > 8 << 20, "/rss.xml is only {length} bytes");

    server.signal("TERM");
    let signalled = Instant::now();
    // Draining: no new connections, but the process waits for this one.
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "a connection was accepted after SIGTERM"
    );
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "exited with a response in flight; stderr:\n{}",
        server.stderr()
    );

    // The rest, still slowly, to the end.
    let mut body = buf[head_end..].to_vec();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("after {} of {length} body bytes: {e}", body.len()),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(body.len(), length, "body cut short");
    let text = String::from_utf8(body).expect("UTF-8 feed");
    assert!(text.trim_end().ends_with("</rss>"), "not the whole feed");
    assert!(text.contains("The last paragraph."));

    let limit = feedsmith::internals::server::SHUTDOWN_GRACE + Duration::from_secs(5);
    let status = server
        .wait_exit(limit.saturating_sub(signalled.elapsed()))
        .unwrap_or_else(|| {
            panic!(
                "no exit within {limit:?} of SIGTERM; stderr:\n{}",
                server.stderr()
            )
        });
    assert!(status.success(), "exit status {status}");
}

// ---------------------------------------------------------------------------------------------
// Robustness

#[test]
fn hostile_connections_do_not_take_the_server_down() {
    let site = site();
    let server = Server::start(&site, &[]);

    // A request head far over the limit: refused (431/400) or the connection closed.
    let big = format!(
        "GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    let buf = raw::send(&server.addr, big.as_bytes());
    // The server may reset the connection before the answer is read; a complete answer must
    // be a refusal.
    if raw::head_end(&buf).is_some() {
        let r = raw::parse(&buf);
        assert!(
            r.status == 431 || r.status == 400 || r.status == 414,
            "oversized head: status {}",
            r.status
        );
    }

    // Garbage that is not HTTP.
    for junk in [
        &b"\x00\x01\x02\xff\xfe\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /rss.xml HTTP/1.1\r\nHo st: x\r\n\r\n",
        "GET /厦门 HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes(),
    ] {
        let buf = raw::send(&server.addr, junk);
        assert!(
            !String::from_utf8_lossy(&buf).contains("<rss"),
            "junk {junk:?} got a feed"
        );
    }

    // Many connections at once, all answered.
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let url = server.at("/feed.json");
            std::thread::spawn(move || get(&url, &[]).status)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200, "server died");
}

/// A client that opens a connection and never completes its request head is dropped after the
/// header read timeout (SPEC §5), whether it sent part of a head or nothing at all.
#[test]
fn slow_clients_are_timed_out() {
    let site = site();
    let server = Server::start(&site, &[]);
    let limit = feedsmith::internals::server::HEADER_READ_TIMEOUT + Duration::from_secs(10);
    let partial = std::thread::spawn({
        let addr = server.addr.clone();
        move || closed_within(&addr, b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n", limit)
    });
    let silent = std::thread::spawn({
        let addr = server.addr.clone();
        move || closed_within(&addr, b"", limit)
    });
    assert!(
        partial.join().unwrap(),
        "a partial request head was kept open past {limit:?}"
    );
    assert!(
        silent.join().unwrap(),
        "a connection that sent nothing was kept open past {limit:?}"
    );
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
}

/// Sends `prefix` and reports whether the server closed the connection within `limit`.
fn closed_within(addr: &str, prefix: &[u8], limit: Duration) -> bool {
    let mut s = raw::connect(addr);
    s.write_all(prefix).unwrap();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {} // e.g. a 408; keep reading until the close
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true, // reset
        }
    }
}
