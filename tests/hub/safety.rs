//! Callbacks and requests the hub refuses.

use super::*;

// ---------------------------------------------------------------------------------------------
// Safety

#[test]
fn private_and_link_local_callbacks_are_refused() {
    let site = site();
    let server = Server::start(&site, &[]);
    let topic = server.at("/rss.xml");
    for cb in [
        "http://10.0.0.1/cb",
        "http://10.255.1.2:8080/cb",
        "http://172.16.5.4/cb",
        "http://192.168.1.1/cb",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/cb",
        "http://[fc00::1]/cb",
        "http://[::ffff:192.168.0.1]/cb",
        "http://167772161/cb",
        "http://0.0.0.0:80/cb",
    ] {
        let r = post_hub(
            &server,
            FORM,
            &form(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", &topic),
                ("hub.callback", cb),
            ]),
        );
        assert_eq!(r.status, 403, "{cb}: {}", r.text());
    }
    // Loopback is allowed, by name too (resolved when connecting, through the same policy).
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let by_name = format!("http://localhost:{}/named", sub.addr.port());
    hub_request(&server, "subscribe", &topic, &by_name, &[]);
    verification_to(&sub, "/named");
    wait_saved(&site, &server, &[&by_name]);
}

#[test]
fn malformed_requests_are_refused() {
    let site = site();
    let server = Server::start(&site, &[]);
    let topic = server.at("/rss.xml");
    let sub = Subscriber::new(Verify::Echo, Answer::Ok);
    let cb = sub.callback("/cb");
    let long_secret = "x".repeat(200);
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"garbage".to_vec(),
        b"%%%%".to_vec(),
        b"hub.mode=subscribe&hub.callback=%FF%FE&hub.topic=x".to_vec(),
        form(&[("hub.topic", &topic), ("hub.callback", &cb)]),
        form(&[
            ("hub.mode", "publish"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
        ]),
        form(&[("hub.mode", "subscribe"), ("hub.callback", &cb)]),
        form(&[("hub.mode", "subscribe"), ("hub.topic", &topic)]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", "not a url"),
            ("hub.callback", &cb),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", "/relative"),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", "ftp://x/"),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &format!("http://user:pw@{}/cb", sub.addr)),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
            ("hub.lease_seconds", "soon"),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
            ("hub.secret", &long_secret),
        ]),
        form(&[
            ("hub.mode", "subscribe"),
            ("hub.mode", "unsubscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &cb),
        ]),
    ];
    for body in &cases {
        let r = post_hub(&server, FORM, body);
        assert_eq!(
            r.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert!(!r.text().trim().is_empty(), "a 400 says why");
    }
    let ok = form(&[
        ("hub.mode", "subscribe"),
        ("hub.topic", &topic),
        ("hub.callback", &cb),
    ]);
    // Wrong media type.
    assert_eq!(post_hub(&server, "application/json", &ok).status, 415);
    assert_eq!(post_hub(&server, "text/plain", &ok).status, 415);
    // Too large, declared (answered before the body is sent)…
    let r = raw_post(&server.addr, "Content-Length: 17000\r\n", b"");
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // …or streamed without a length (answered once the limit is passed).
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(b"1000\r\n");
        chunked.extend(std::iter::repeat_n(b'a', 4096));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"200\r\n");
    chunked.extend(std::iter::repeat_n(b'a', 512));
    chunked.extend_from_slice(b"\r\n");
    let r = raw_post(&server.addr, "Transfer-Encoding: chunked\r\n", &chunked);
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // Other methods.
    for method in ["PUT", "DELETE", "PATCH"] {
        let r = request(method, &server.at("/hub"), &[]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.h("allow"), "GET, HEAD, POST", "{method}");
    }
    // POST elsewhere is still 405.
    let r = request("POST", &server.at("/rss.xml"), &[]);
    assert_eq!(r.status, 405);
    // Nothing was contacted, and the server is fine.
    std::thread::sleep(Duration::from_millis(300));
    assert!(sub.received().is_empty(), "{:?}", sub.received());
    assert_eq!(get(&server.at("/rss.xml"), &[]).status, 200);
    assert!(saved_callbacks(&site).is_empty());
}

/// Sends a `POST /hub` head with `extra` headers and then `body` as is over a raw socket, and
/// returns everything the server answers.
fn raw_post(addr: &str, extra: &str, body: &[u8]) -> String {
    let mut req = format!(
        "POST /hub HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {FORM}\r\n{extra}Connection: close\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(body);
    String::from_utf8_lossy(&raw::send(addr, &req)).into_owned()
}
