//! Post assets (issue #16), end to end against the real binary: every file under `posts/` that
//! is not a post is served (bytes, content type, validators, `Range`, `HEAD`, `304`) and
//! copied by `build`; relative references in posts resolve to it in pages and every feed
//! format; it is followed while serving; and nothing that is not an asset is ever served.

mod refs;
mod safety;
mod watching;

use std::time::{Duration, SystemTime};

use crate::common::http::{self, Resp};
use crate::common::{Server, TempSite};

/// The configuration the tests serve with: a short debounce, no request log.
const CONFIG: &str = "[server]\ndebounce_ms = 20\naccess_log = false\n";

/// The site URL the tests serve and build with.
const SITE: &str = "https://example.com";

/// Starts `feedsmith serve` on `site` with [`CONFIG`] and `extra` configuration lines.
fn serve(site: &TempSite, extra: &str) -> Server {
    let config = site.write_config("assets-test.toml", &format!("{CONFIG}{extra}"));
    Server::start(site, &["--config", &config, "--url", SITE])
}

/// `GET` (or another method) of `path` with extra headers.
fn ask(server: &Server, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    http::request(method, &server.at(path), headers)
}

/// Bytes that do not compress and repeat nowhere: a stand-in for audio or video.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A post that shows `body` (Markdown), dated 2024-02-10.
fn post(title: &str, body: &str) -> String {
    format!("---\ntitle: {title}\ndate: 2024-02-10 09:00:00 +0000\n---\n{body}\n")
}

/// A 300 KB episode (more than two of the server's 128 KiB chunks) and a fixed mtime.
fn site_with_episode() -> (TempSite, Vec<u8>) {
    let site = TempSite::new();
    site.write_post("2024-02-10-show.md", &post("Show", "Listen."));
    let bytes = noise(300_000);
    let path = site.write_post_bytes("media/episode 1.mp3", &bytes);
    set_mtime(&path, 1_700_000_000);
    (site, bytes)
}

/// Sets a file's mtime to `secs` after the epoch.
fn set_mtime(path: &std::path::Path, secs: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open to set mtime");
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .expect("set mtime");
}

#[test]
fn served_bytes_equal_the_file_with_its_type_and_validators() {
    let (site, bytes) = site_with_episode();
    let server = serve(&site, "");
    let r = ask(&server, "GET", "/media/episode%201.mp3", &[]);
    assert_eq!(r.status, 200, "{}", server.stderr());
    assert!(r.body == bytes, "the bytes served are the file's");
    assert_eq!(r.h("content-type"), "audio/mpeg");
    assert_eq!(r.h("content-length"), bytes.len().to_string());
    assert_eq!(r.h("accept-ranges"), "bytes");
    assert_eq!(r.h("x-content-type-options"), "nosniff");
    assert_eq!(r.h("cache-control"), crate::common::cache_control(300));
    assert_eq!(
        r.h("last-modified"),
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    let etag = r.h("etag");
    assert!(
        etag.starts_with('"') && etag.len() > 2,
        "a strong ETag: {etag}"
    );
    assert_eq!(
        r.header("content-encoding"),
        None,
        "audio is not compressed"
    );
    // Compression is not offered for it either.
    let gz = ask(
        &server,
        "GET",
        "/media/episode%201.mp3",
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(gz.header("content-encoding"), None);
    assert!(gz.body == bytes);
    // The same ETag from a restarted server: it is the bytes'.
    drop(server);
    let again = serve(&site, "");
    let r2 = ask(&again, "GET", "/media/episode%201.mp3", &[]);
    assert_eq!(r2.h("etag"), r.h("etag"));
}

#[test]
fn range_requests_get_their_part_or_416() {
    let (site, bytes) = site_with_episode();
    let server = serve(&site, "");
    let len = bytes.len();
    let path = "/media/episode%201.mp3";
    let part = |range: &str| ask(&server, "GET", path, &[("Range", range)]);

    // A single range, one that runs past a chunk boundary.
    let r = part("bytes=100000-200000");
    assert_eq!(r.status, 206);
    assert_eq!(r.h("content-range"), format!("bytes 100000-200000/{len}"));
    assert_eq!(r.h("content-length"), "100001");
    assert!(r.body == bytes[100_000..=200_000]);
    assert!(!r.h("etag").is_empty() && !r.h("last-modified").is_empty());

    // Open-ended.
    let r = part(&format!("bytes={}-", len - 1000));
    assert_eq!(r.status, 206);
    assert_eq!(
        r.h("content-range"),
        format!("bytes {}-{}/{len}", len - 1000, len - 1)
    );
    assert!(r.body == bytes[len - 1000..]);

    // Suffix: the last n bytes.
    let r = part("bytes=-500");
    assert_eq!(r.status, 206);
    assert_eq!(
        r.h("content-range"),
        format!("bytes {}-{}/{len}", len - 500, len - 1)
    );
    assert!(r.body == bytes[len - 500..]);

    // Past the end: cut at the end.
    let r = part(&format!("bytes=10-{}", len * 2));
    assert_eq!(r.status, 206);
    assert!(r.body == bytes[10..]);

    // Unsatisfiable.
    for range in [format!("bytes={len}-"), "bytes=-0".to_owned()] {
        let r = part(&range);
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.h("content-range"), format!("bytes */{len}"), "{range}");
    }

    // Several ranges, or one that does not parse: the whole file.
    for range in ["bytes=0-1,5-6", "bytes=9-3", "lines=1-2"] {
        let r = part(range);
        assert_eq!(r.status, 200, "{range}");
        assert!(r.body == bytes, "{range}");
    }
}

#[test]
fn head_sends_the_headers_of_get_and_no_body() {
    let (site, bytes) = site_with_episode();
    let server = serve(&site, "");
    let get = crate::common::raw::request(&server.addr, "GET", "/media/episode%201.mp3");
    let head = crate::common::raw::request(&server.addr, "HEAD", "/media/episode%201.mp3");
    assert_eq!((get.status, head.status), (200, 200));
    assert!(get.body == bytes);
    assert!(head.body.is_empty(), "HEAD has no body");
    let without_date = |h: &[(String, String)]| -> Vec<(String, String)> {
        h.iter().filter(|(k, _)| k != "date").cloned().collect()
    };
    assert_eq!(without_date(&head.headers), without_date(&get.headers));
    // A Range on HEAD is ignored (RFC 9110 §14.2: ranges are for GET).
    let r = ask(
        &server,
        "HEAD",
        "/media/episode%201.mp3",
        &[("Range", "bytes=0-9")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-length"), bytes.len().to_string());
}

#[test]
fn conditional_requests_answer_304() {
    let (site, _) = site_with_episode();
    site.write_post("css/site.css", &"body { margin: 0 auto; }\n".repeat(50));
    let server = serve(&site, "");
    for path in ["/media/episode%201.mp3", "/css/site.css"] {
        let first = ask(&server, "GET", path, &[]);
        assert_eq!(first.status, 200, "{path}");
        let (etag, date) = (first.h("etag"), first.h("last-modified"));
        let r = ask(&server, "GET", path, &[("If-None-Match", etag)]);
        assert_eq!(r.status, 304, "{path}: If-None-Match");
        assert!(r.body.is_empty());
        assert_eq!(r.h("etag"), etag);
        assert_eq!(r.h("last-modified"), date);
        let r = ask(&server, "GET", path, &[("If-Modified-Since", date)]);
        assert_eq!(r.status, 304, "{path}: If-Modified-Since");
        let earlier = httpdate::fmt_http_date(
            httpdate::parse_http_date(date).unwrap() - Duration::from_secs(60),
        );
        let r = ask(&server, "GET", path, &[("If-Modified-Since", &earlier)]);
        assert_eq!(r.status, 200, "{path}: modified since a minute before");
        let r = ask(&server, "GET", path, &[("If-None-Match", "\"other\"")]);
        assert_eq!(r.status, 200, "{path}: another ETag");
        let r = ask(&server, "HEAD", path, &[("If-None-Match", etag)]);
        assert_eq!(r.status, 304, "{path}: HEAD");
    }
}

#[test]
fn if_range_applies_the_range_to_the_current_version_only() {
    let (site, bytes) = site_with_episode();
    let server = serve(&site, "");
    let path = "/media/episode%201.mp3";
    let first = ask(&server, "GET", path, &[]);
    let (etag, date) = (
        first.h("etag").to_owned(),
        first.h("last-modified").to_owned(),
    );
    let with = |if_range: &str| {
        ask(
            &server,
            "GET",
            path,
            &[("Range", "bytes=0-99"), ("If-Range", if_range)],
        )
    };
    let r = with(&etag);
    assert_eq!(r.status, 206, "the current ETag");
    assert!(r.body == bytes[..100]);
    assert_eq!(with(&date).status, 206, "the current date");
    for stale in [
        "\"0123456789abcdef0123456789abcdef\"".to_owned(),
        format!("W/{etag}"),
        "Mon, 01 Jan 2001 00:00:00 GMT".to_owned(),
    ] {
        let r = with(&stale);
        assert_eq!(r.status, 200, "If-Range {stale}: the whole file");
        assert!(r.body == bytes);
    }
}

#[test]
fn content_types_come_from_the_extension() {
    let site = TempSite::new();
    site.write_post("2024-02-10-a.md", &post("A", "a"));
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>";
    site.write_post("f/a.svg", svg);
    site.write_post_bytes("f/p.png", &noise(2000));
    site.write_post_bytes("f/d.pdf", b"%PDF-1.4 not really");
    site.write_post_bytes("f/v.mp4", &noise(100));
    site.write_post("f/data.json", "{\"a\": [1, 2, 3]}");
    site.write_post("f/app.js", &"console.log(1);\n".repeat(40));
    site.write_post_bytes("f/LICENSE", b"MIT");
    let server = serve(&site, "");
    for (path, want) in [
        ("/f/a.svg", "image/svg+xml"),
        ("/f/p.png", "image/png"),
        ("/f/d.pdf", "application/pdf"),
        ("/f/v.mp4", "video/mp4"),
        ("/f/data.json", "application/json"),
        ("/f/app.js", "text/javascript"),
        ("/f/LICENSE", "application/octet-stream"),
    ] {
        let r = ask(&server, "GET", path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.h("content-type"), want, "{path}");
        assert_eq!(r.h("x-content-type-options"), "nosniff", "{path}");
    }
    // An SVG opened as a page runs no script.
    let r = ask(&server, "GET", "/f/a.svg", &[]);
    assert!(r
        .h("content-security-policy")
        .contains("default-src 'none'"));
    // Text-like assets are compressed like documents, and ignore Range.
    let r = ask(&server, "GET", "/f/app.js", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.h("content-encoding"), "gzip");
    assert_eq!(r.h("vary"), "Accept-Encoding");
    let r = ask(&server, "GET", "/f/app.js", &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), "console.log(1);\n".len() * 40);
}
