//! A WebSub subscriber for the hub tests: a small HTTP/1.1 server on `127.0.0.1:0` (std only,
//! one thread per connection, `Connection: close`) that records every request it gets and
//! answers verifications of intent and deliveries as told.
//!
//! Every wait is bounded and panics with what was received so far.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a verification of intent (a `GET` with `hub.challenge`) is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// `200` with the challenge: the subscriber confirms.
    Echo,
    /// `200` with something else.
    WrongEcho,
    /// `404` (with the challenge in the body, so only the status is wrong).
    NotFound,
}

/// How a delivery (a `POST`) is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `204 No Content`.
    Ok,
    /// This status.
    Status(u16),
    /// Nothing: the request is read and the connection held open until the hub gives up.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, decoded.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A verification of intent (`hub.mode` subscribe/unsubscribe with a challenge).
    pub fn is_verification(&self) -> bool {
        self.method == "GET" && self.param("hub.challenge").is_some()
    }

    /// A denial notice.
    pub fn is_denial(&self) -> bool {
        self.method == "GET" && self.param("hub.mode") == Some("denied")
    }

    /// A content delivery.
    pub fn is_delivery(&self) -> bool {
        self.method == "POST"
    }
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    /// When the hub closed a connection that was left unanswered ([`Answer::Hang`]).
    hung_up: Vec<Instant>,
}

struct Shared {
    log: Mutex<Log>,
    changed: Condvar,
    verify: Mutex<Verify>,
    answer: Mutex<Answer>,
    /// Documents answered to a `GET` of their path (an ActivityPub actor): type and body.
    documents: Mutex<std::collections::HashMap<String, (String, Vec<u8>)>>,
    stop: AtomicBool,
}

/// The subscriber; stops on drop.
pub struct Subscriber {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// The longest a connection is read (a hung answer waits this long for the hub to hang up).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

impl Subscriber {
    pub fn new(verify: Verify, answer: Answer) -> Subscriber {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind subscriber");
        let addr = listener.local_addr().expect("subscriber address");
        let shared = Arc::new(Shared {
            log: Mutex::new(Log::default()),
            changed: Condvar::new(),
            verify: Mutex::new(verify),
            answer: Mutex::new(answer),
            documents: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Subscriber { addr, shared }
    }

    /// The callback URL of a path on this subscriber.
    pub fn callback(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers a `GET` of `path` with `body` as `content_type` from now on.
    pub fn serve_document(&self, path: &str, content_type: &str, body: Vec<u8>) {
        self.shared
            .documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), (content_type.to_owned(), body));
    }

    pub fn set_answer(&self, answer: Answer) {
        *self.shared.answer.lock().unwrap() = answer;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().received.clone()
    }

    /// When the hub hung up on unanswered requests.
    pub fn hung_up(&self) -> Vec<Instant> {
        self.shared.log.lock().unwrap().hung_up.clone()
    }

    /// The deliveries to `path`.
    pub fn deliveries(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.is_delivery() && r.path == path)
            .collect()
    }

    /// Waits (bounded) until `check` finds what it looks for in the requests received.
    pub fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[Received]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log.lock().unwrap();
        loop {
            if let Some(v) = check(&log.received) {
                return v;
            }
            let now = Instant::now();
            if now >= deadline {
                let seen: Vec<String> = log
                    .received
                    .iter()
                    .map(|r| format!("{} {} {:?}", r.method, r.path, r.query))
                    .collect();
                panic!(
                    "subscriber {}: timed out after {timeout:?} waiting for {what}; received:\n{}",
                    self.addr,
                    seen.join("\n")
                );
            }
            log = self
                .shared
                .changed
                .wait_timeout(log, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits for the `n`-th request to `path` that `pred` accepts, and returns it.
    pub fn wait_nth(
        &self,
        what: &str,
        path: &str,
        n: usize,
        timeout: Duration,
        pred: impl Fn(&Received) -> bool,
    ) -> Received {
        self.wait(what, timeout, |rs| {
            rs.iter()
                .filter(|r| r.path == path && pred(r))
                .nth(n - 1)
                .cloned()
        })
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Reads one request, records it, answers it (or not), closes.
fn serve(conn: TcpStream, s: &Shared) {
    let _ = conn.set_read_timeout(Some(READ_TIMEOUT));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return;
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(n) => head_bytes += n,
        }
        if head_bytes > 64 * 1024 {
            return;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(16 * 1024 * 1024)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (
            p.to_owned(),
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect(),
        ),
        None => (target.clone(), Vec::new()),
    };
    let req = Received {
        method,
        path,
        query,
        headers,
        body,
        at: Instant::now(),
    };
    let document = (req.method == "GET")
        .then(|| s.documents.lock().unwrap().get(&req.path).cloned())
        .flatten();
    if let Some((content_type, body)) = document {
        record(s, req);
        let mut out = conn;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body);
        let _ = out.flush();
        return;
    }
    let (status, reply): (u16, Vec<u8>) = if req.is_verification() {
        let challenge = req.param("hub.challenge").unwrap_or_default().as_bytes();
        match *s.verify.lock().unwrap() {
            Verify::Echo => (200, challenge.to_vec()),
            Verify::WrongEcho => (200, b"not the challenge".to_vec()),
            Verify::NotFound => (404, challenge.to_vec()),
        }
    } else if req.method == "POST" {
        match *s.answer.lock().unwrap() {
            Answer::Ok => (204, Vec::new()),
            Answer::Status(n) => (n, b"no\n".to_vec()),
            Answer::Hang => {
                record(s, req);
                // Hold the connection until the hub gives up on it.
                let mut sink = [0u8; 256];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                let mut log = s.log.lock().unwrap();
                log.hung_up.push(Instant::now());
                drop(log);
                s.changed.notify_all();
                return;
            }
        }
    } else {
        (200, b"ok\n".to_vec())
    };
    record(s, req);
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        404 => "Not Found",
        410 => "Gone",
        _ => "Whatever",
    };
    let mut out = conn;
    let head = if status == 204 {
        format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n\r\n")
    } else {
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reply.len()
        )
    };
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&reply);
    let _ = out.flush();
}

fn record(s: &Shared, req: Received) {
    s.log.lock().unwrap().received.push(req);
    s.changed.notify_all();
}
