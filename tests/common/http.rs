//! HTTP helpers shared by the integration tests: one response type, requests through `ureq`
//! (no automatic decompression and no redirects, so the raw bytes and statuses are seen), and
//! a bounded poll that fails with the last state seen.

use std::time::{Duration, Instant};

use super::Server;

/// Bound on any one request (connect, send, read the whole body).
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// How often [`wait_for`] looks again.
pub const POLL: Duration = Duration::from_millis(10);
/// Largest body read.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;

/// A response: status, headers and the whole body (as sent, never decoded).
pub struct Resp {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    /// The single value of a header (panics when it appears more than once or is not ASCII).
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut all = self.headers.get_all(name).iter();
        let first = all.next()?;
        assert!(
            all.next().is_none(),
            "header {name} appears more than once: {:?}",
            self.headers
        );
        Some(first.to_str().expect("ASCII header value"))
    }

    /// A header that must be present.
    pub fn h(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("missing header {name}; got {:?}", self.headers))
    }

    /// The body as UTF-8 text (panics when it is not).
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// An agent that reports every status as a response, follows no redirect and gives up after
/// [`IO_TIMEOUT`].
pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(IO_TIMEOUT))
            .build(),
    )
}

/// Sends one request with `agent` (reusing its connections); `Err` on a transport failure.
pub fn try_request_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Resp, String> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(())
        .map_err(|e| format!("{method} {url}: bad request: {e}"))?;
    let mut resp = agent.run(req).map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(|e| format!("{method} {url}: reading body: {e}"))?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Sends one request with `agent`; panics on a transport failure.
pub fn request_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Resp {
    try_request_with(agent, method, url, headers).unwrap_or_else(|e| panic!("{e}"))
}

/// Sends one request on a fresh agent; panics on a transport failure.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    request_with(&agent(), method, url, headers)
}

/// `GET url` with extra headers; panics on a transport failure.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    request("GET", url, headers)
}

impl Server {
    /// `GET` a path on this server; a transport failure panics with the server's log.
    pub fn get(&self, path: &str) -> Resp {
        try_request_with(&agent(), "GET", &self.at(path), &[])
            .unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", self.stderr()))
    }
}

/// Polls `check` every [`POLL`] until it returns `Ok`, or panics after `timeout` with what it
/// last reported (and the server's log, when given).
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    log: Option<&Server>,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) => {
                if Instant::now() >= deadline {
                    let log = log
                        .map(|s| format!("\nserver log:\n{}", s.stderr()))
                        .unwrap_or_default();
                    panic!(
                        "timed out after {timeout:?} waiting for {what}\nlast seen: {last}{log}"
                    );
                }
            }
        }
        std::thread::sleep(POLL);
    }
}

/// Every sample of a Prometheus text: `name{labels}` → value.
pub fn metric_samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

impl Server {
    /// Waits (bounded) until the sample `key` (`name{labels}`) of the server's
    /// `/.feedsmith/metrics` equals `want`: outcomes are counted once an answer is read, just
    /// after the peer saw the request.
    pub fn wait_metric(&self, key: &str, want: f64) {
        wait_for(
            &format!("{key} = {want}"),
            Duration::from_secs(10),
            Some(self),
            || {
                let text = self.get("/.feedsmith/metrics").text();
                match metric_samples(&text).get(key) {
                    Some(v) if *v == want => Ok(()),
                    got => Err(format!("{got:?}")),
                }
            },
        );
    }
}
