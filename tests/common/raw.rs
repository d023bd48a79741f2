//! The one raw HTTP client of the tests: requests written byte for byte on a plain
//! `TcpStream`, responses read off it as sent. For what a client library would normalize or
//! hide — hostile request lines, HEAD framing, pipelining, header lines as written, bodies cut
//! short, HTTP/2 frames. Ordinary requests go through [`super::http`].
//!
//! Every read is bounded by [`IO_TIMEOUT`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use super::http::IO_TIMEOUT;

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawResp {
    /// The head as sent: the status line and the header lines, without the blank line.
    pub head: String,
    pub status: u16,
    /// `(lowercased name, value)` in order.
    pub headers: Vec<(String, String)>,
    /// What followed the head: the body, as framed by `Content-Length` when read with
    /// [`read_response`], else everything up to the close.
    pub body: Vec<u8>,
}

impl RawResp {
    /// The first value of a header (`name` lowercased).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How reading one response on a raw connection ended.
pub enum RawRead {
    Complete(RawResp),
    /// The connection closed (or was reset) before any byte of a response.
    ClosedBeforeResponse,
    /// A response began but did not complete, or is not an HTTP/1.x response.
    Truncated(String),
}

/// A connection to `addr` with read and write timeouts of [`IO_TIMEOUT`].
pub fn try_connect(addr: &str) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// [`try_connect`], panicking when the connection fails.
pub fn connect(addr: &str) -> TcpStream {
    try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// Where the head in `buf` ends (the index of its blank line's `\r\n\r\n`).
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The status and headers of a response head (`HTTP/1.x NNN …` and `name: value` lines).
fn parse_head(head: &str) -> Result<(u16, Vec<(String, String)>), String> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?} in:\n{head}"))?;
    let headers = lines
        .map(|l| match l.split_once(':') {
            Some((k, v)) => Ok((k.trim().to_ascii_lowercase(), v.trim().to_owned())),
            None => Err(format!("header line without a colon {l:?} in:\n{head}")),
        })
        .collect::<Result<_, _>>()?;
    Ok((status, headers))
}

/// `buf` as one HTTP/1.1 response: its head, and everything after the head as the body.
/// Panics when `buf` holds no complete, well-formed head.
pub fn parse(buf: &[u8]) -> RawResp {
    let end = head_end(buf).unwrap_or_else(|| {
        panic!(
            "no complete response head in {:?}",
            String::from_utf8_lossy(buf)
        )
    });
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    let (status, headers) = parse_head(head).unwrap_or_else(|e| panic!("{e}"));
    RawResp {
        head: head.to_owned(),
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    }
}

/// Writes `req` as is on a fresh connection and returns whatever the server sends until it
/// closes (or resets) the connection or [`IO_TIMEOUT`] passes. A failed write is no error: a
/// server may answer and close before it has read a request it refuses.
pub fn send(addr: &str, req: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    let _ = s.write_all(req);
    let mut buf = Vec::new();
    // On an error (a reset, the timeout) what was read so far is kept.
    let _ = s.read_to_end(&mut buf);
    buf
}

/// Writes `req` as is on a fresh connection, reads until the server closes it — which it must
/// within [`IO_TIMEOUT`] — and [`parse`]s that. The request should carry `Connection: close`.
pub fn exchange(addr: &str, req: &[u8]) -> RawResp {
    let mut s = connect(addr);
    s.write_all(req).expect("write request");
    let mut buf = Vec::new();
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        assert!(
            Instant::now() < deadline,
            "server did not close the connection"
        );
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading raw response: {e} (got {} bytes)", buf.len()),
        }
    }
    parse(&buf)
}

/// `{method} {target} HTTP/1.1` with `Host` and `Connection: close` on a fresh connection
/// ([`exchange`]); the body must be exactly what `Content-Length` (when sent) says.
pub fn request(addr: &str, method: &str, target: &str) -> RawResp {
    let r = exchange(
        addr,
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    if let Some(len) = r.header("content-length") {
        let len: usize = len.parse().unwrap_or_else(|_| panic!("{}", r.head));
        let bodiless = method == "HEAD" || r.status == 304 || r.status == 204 || r.status < 200;
        let want = if bodiless { 0 } else { len };
        assert_eq!(
            r.body.len(),
            want,
            "{method} {target}: body of {} bytes framed as {want}:\n{}",
            r.body.len(),
            r.head
        );
    }
    r
}

/// [`request`] with `GET`.
pub fn get(addr: &str, target: &str) -> RawResp {
    request(addr, "GET", target)
}

/// The status of the first response to `req` on a fresh connection ([`send`]), any HTTP/1.x
/// version; panics when there is none.
pub fn status(addr: &str, req: &[u8]) -> u16 {
    let buf = send(addr, req);
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse().ok());
    status.unwrap_or_else(|| {
        panic!(
            "no HTTP/1.x response to {:?}: {text:?}",
            String::from_utf8_lossy(req)
        )
    })
}

/// Reads one response from `s`: the head, then exactly `Content-Length` bytes (none after a
/// `HEAD` request or for a 304); anything more already read is an error.
pub fn read_response(s: &mut TcpStream, head_request: bool) -> RawRead {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(i) = head_end(&buf) {
            break i;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) if buf.is_empty() => return RawRead::ClosedBeforeResponse,
            Ok(0) => {
                return RawRead::Truncated(format!(
                    "connection closed inside the head after {} bytes",
                    buf.len()
                ))
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return RawRead::Truncated(format!("{e} inside the head after {} bytes", buf.len()))
            }
        }
    };
    let Ok(head) = std::str::from_utf8(&buf[..end]) else {
        return RawRead::Truncated("response head is not UTF-8".into());
    };
    let head = head.to_owned();
    let (status, headers) = match parse_head(&head) {
        Ok(parsed) => parsed,
        Err(e) => return RawRead::Truncated(e),
    };
    let mut body = buf[end + 4..].to_vec();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let want = if head_request || status == 304 {
        0
    } else {
        len
    };
    while body.len() < want {
        match s.read(&mut chunk) {
            Ok(0) => {
                return RawRead::Truncated(format!(
                    "body cut at {} of {want} bytes (status {status})",
                    body.len()
                ))
            }
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) => {
                return RawRead::Truncated(format!(
                    "{e} after {} of {want} body bytes (status {status})",
                    body.len()
                ))
            }
        }
    }
    if body.len() > want {
        return RawRead::Truncated(format!(
            "{} bytes after a body of {want} (status {status})",
            body.len() - want
        ));
    }
    RawRead::Complete(RawResp {
        head,
        status,
        headers,
        body,
    })
}

/// One HTTP/2 (prior knowledge) GET of `path` with no authority, written frame by frame;
/// returns the response's `:status`.
pub fn h2_get_status(addr: &str, path: &str) -> u16 {
    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend_from_slice(&[kind, flags]);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }
    const HEADERS: u8 = 0x1;
    const RST_STREAM: u8 = 0x3;
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    let mut s = connect(addr);
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    // HPACK: `:method GET` and `:scheme http` from the static table, `:path` a literal
    // without indexing (name index 4, no Huffman coding).
    assert!(path.len() < 127);
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    out.extend(frame(HEADERS, 0x1 | 0x4, 1, &block)); // END_STREAM | END_HEADERS
    s.write_all(&out).unwrap();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head).expect("an HTTP/2 frame");
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).expect("an HTTP/2 frame payload");
        match kind {
            SETTINGS if flags & 0x1 == 0 => s.write_all(&frame(SETTINGS, 0x1, 0, &[])).unwrap(),
            HEADERS if stream == 1 => {
                // The first field is `:status`: an indexed entry of the static table (8–14) or
                // a literal with that name and a plain string.
                let first = payload[0];
                if first & 0x80 != 0 {
                    let statuses = [200, 204, 206, 304, 400, 404, 500];
                    let index = usize::from(first & 0x7f);
                    return *statuses
                        .get(index.wrapping_sub(8))
                        .unwrap_or_else(|| panic!("first field is static entry {index}"));
                }
                assert!(
                    matches!(first, 0x48 | 0x08 | 0x18) && payload[1] == 3,
                    "unexpected header block {payload:x?}"
                );
                return std::str::from_utf8(&payload[2..5])
                    .unwrap()
                    .parse()
                    .unwrap();
            }
            RST_STREAM | GOAWAY => panic!("HTTP/2 request refused: frame {kind} {payload:x?}"),
            _ => {}
        }
    }
}
