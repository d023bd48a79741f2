//! Never break, never lose: faults of the disk, of the process and of the input, against the
//! real binary (`feedsmith build`, `check` and `serve`).
//!
//! Every wait is bounded; every check can fail. Raw TCP is used where a client library would
//! hide what matters (header lines, truncated bodies).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http::{self, wait_for, Resp};
use common::{news_post, stderr, stdout, xmltree, Server, TempSite};

/// How long a change may take to show up over HTTP.
const DEADLINE: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(15);
const SITE_URL: &str = "https://example.com";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Starts `feedsmith serve` with a short debounce, no access log and `extra` config lines.
fn serve(site: &TempSite, extra_config: &str) -> Server {
    let config = site.write_config(
        "faults-test.toml",
        &format!("[server]\ndebounce_ms = 20\naccess_log = false\n\n{extra_config}"),
    );
    Server::start(site, &["--config", &config, "--url", SITE_URL])
}

fn post(title: &str, date: &str, category: &str, tags: &str) -> String {
    news_post(title, date, category, tags, &format!("Body of {title}.\n"))
}

/// Alpha and Bravo in category `news`, Charlie in `other`, each with its own tag.
fn write_three_posts(site: &TempSite) {
    for (file, title, date, category, tag) in [
        ("a.md", "Alpha", "2024-03-01 10:00:00 +0000", "news", "t"),
        ("b.md", "Bravo", "2024-03-02 10:00:00 +0000", "news", "u"),
        ("c.md", "Charlie", "2024-03-03 10:00:00 +0000", "other", "w"),
    ] {
        site.write_post(file, &post(title, date, category, tag));
    }
}

/// Every regular file under `dir`, recursively (symbolic links are not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn is_tmp(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".tmp"))
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Whether a published file is a complete document of its kind.
fn complete_document(path: &Path) -> Result<(), String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let fail = |why: String| Err(format!("{}: {why}", path.display()));
    if name.ends_with(".json") {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            return fail(format!("JSON does not parse ({} bytes): {e}", bytes.len()));
        }
        return Ok(());
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return fail("not UTF-8".into());
    };
    if name.ends_with(".xml") || name.ends_with(".opml") {
        if let Err(e) = xmltree::parse(text) {
            return fail(format!("XML does not parse ({} bytes): {e}", bytes.len()));
        }
        Ok(())
    } else if name.ends_with(".html") {
        if text.trim_end().ends_with("</html>") {
            Ok(())
        } else {
            fail(format!("HTML cut short ({} bytes)", bytes.len()))
        }
    } else {
        fail("not a file feedsmith writes".into())
    }
}

/// Runs the binary, failing the test when it has not finished within `limit`; returns the
/// output and how long it took.
fn run_within(cwd: &Path, args: &[String], limit: Duration) -> (Output, Duration) {
    let logs = tempfile::tempdir().expect("log dir");
    let (out_path, err_path) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run feedsmith");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "feedsmith {args:?} did not finish within {limit:?}; stderr:\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    (
        Output {
            status,
            stdout: fs::read(&out_path).unwrap(),
            stderr: fs::read(&err_path).unwrap(),
        },
        took,
    )
}

fn build_args(site: &TempSite, url: &str) -> Vec<String> {
    [
        "build",
        "--posts",
        &site.posts().display().to_string(),
        "--out",
        &site.out().display().to_string(),
        "--url",
        url,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn check_args(site: &TempSite) -> Vec<String> {
    ["check", "--posts", &site.posts().display().to_string()]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// Exited by itself with code 0 or 1: no panic (101), no signal, no abort.
fn no_crash(status: ExitStatus, what: &str, o: &Output) {
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "{what}: crashed or failed hard ({status:?})\nstdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert!(
        !err.contains("panicked"),
        "{what}: a thread panicked:\n{err}"
    );
}

/// The item titles of a JSON Feed.
fn json_titles(body: &[u8]) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("feed.json does not parse: {e}"))?;
    let items = v["items"]
        .as_array()
        .ok_or_else(|| "feed.json has no items array".to_owned())?;
    Ok(items
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// Percent-encodes one path segment (everything but unreserved characters).
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request target of a file under the output directory.
fn target_of(out: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(out).unwrap();
    rel.components()
        .map(|c| encode_segment(&c.as_os_str().to_string_lossy()))
        .fold(String::new(), |acc, s| acc + "/" + &s)
}

/// A response read off a raw socket: the head as sent, and the body as framed by
/// Content-Length.
struct RawResp {
    head: String,
    status: u16,
    /// (lowercased name, value) in order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How reading a response on a raw connection ended.
enum RawRead {
    Complete(RawResp),
    /// The connection closed (or was reset) before any byte of a response.
    ClosedBeforeResponse,
    /// A response began but did not complete.
    Truncated(String),
}

/// Reads one response (head, then exactly Content-Length bytes) from `s`.
fn read_response(s: &mut TcpStream, head_request: bool) -> RawRead {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
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
    let Ok(head) = std::str::from_utf8(&buf[..head_end]) else {
        return RawRead::Truncated("response head is not UTF-8".into());
    };
    let head = head.to_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    for l in lines {
        match l.split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned())),
            None => headers.push((l.to_owned(), String::new())),
        }
    }
    let mut body = buf[head_end + 4..].to_vec();
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

/// `GET target` on a fresh connection with `Connection: close`.
fn raw_get(addr: &str, target: &str) -> RawResp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("write request");
    match read_response(&mut s, false) {
        RawRead::Complete(r) => r,
        RawRead::ClosedBeforeResponse => panic!("GET {target}: closed without a response"),
        RawRead::Truncated(why) => panic!("GET {target}: {why}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The disk

/// `feeds` becomes a regular file: writes fail, the server keeps serving the new content from
/// memory and says which path it cannot write; once the file is gone, the publisher's retry
/// puts every document back on disk.
#[test]
fn unwritable_output_is_served_from_memory_and_written_once_possible() {
    let site = TempSite::new();
    write_three_posts(&site);
    let mut server = serve(&site, "");
    let served_titles = |route: &str| -> Result<Vec<String>, String> {
        let r = server.get(route);
        if r.status != 200 {
            return Err(format!("GET {route} → {}", r.status));
        }
        json_titles(&r.body)
    };
    assert_eq!(
        served_titles("/feed.json").unwrap().len(),
        3,
        "initial feed"
    );
    assert!(site.out().join("feed.json").is_file());

    // A regular file where the output directory must be.
    fs::remove_dir_all(site.out()).unwrap();
    fs::write(site.out(), "not a directory\n").unwrap();
    let mark = server.stderr().len();

    site.write_post(
        "a.md",
        &post("Alpha v2", "2024-03-01 10:00:00 +0000", "news", "t"),
    );
    wait_for(
        "the edit to be served while feeds/ cannot be written",
        DEADLINE,
        Some(&server),
        || {
            let t = served_titles("/feed.json")?;
            if t.contains(&"Alpha v2".to_owned()) && t.len() == 3 {
                Ok(())
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    let out = site.out().display().to_string();
    let line = wait_for(
        "the write error in the log",
        DEADLINE,
        Some(&server),
        || {
            let log = server.stderr();
            log[mark..]
                .lines()
                .find(|l| l.contains(&out) && l.contains("cannot write"))
                .map(str::to_owned)
                .ok_or_else(|| "no line naming the output path and the write error".into())
        },
    );
    assert!(
        line.contains(&format!("{out}/")),
        "the error should name the file it could not write: {line}"
    );
    // Still up: every kind of document is served, and the file is left alone.
    for route in [
        "/rss.xml",
        "/atom.xml",
        "/categories/news/feed.json",
        "/feeds.opml",
        "/index.html",
    ] {
        assert_eq!(server.get(route).status, 200, "{route}");
    }
    assert!(site.out().is_file());
    assert!(server.wait_exit(Duration::ZERO).is_none(), "server exited");

    // The obstacle goes: within a few retries, what is served is what is on disk — the edited
    // feeds, and every other document too.
    fs::remove_file(site.out()).unwrap();
    let routes = [
        "/feed.json",
        "/rss.xml",
        "/atom.xml",
        "/categories/news/rss.xml",
        "/categories/news/feed.json",
        "/tags/t/atom.xml",
        "/tags/u/rss.xml",
        "/categories/other/feed.json",
        "/tags/w/atom.xml",
        "/feeds.opml",
        "/index.html",
    ];
    for route in routes {
        wait_for(
            &format!("feeds{route} on disk to equal the served bytes"),
            DEADLINE,
            Some(&server),
            || {
                let served = http::get(&server.at(route), &[]);
                if served.status != 200 {
                    return Err(format!("GET {route} → {}", served.status));
                }
                let disk = fs::read(site.out().join(&route[1..]))
                    .map_err(|e| format!("feeds{route}: {e}"))?;
                if disk == served.body {
                    Ok(())
                } else {
                    Err(format!(
                        "disk {} bytes, served {} bytes",
                        disk.len(),
                        served.body.len()
                    ))
                }
            },
        );
    }
    let rss = site.read_out("rss.xml");
    assert!(rss.contains("Alpha v2"), "{rss}");
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
}

/// Temp files a killed writer left behind are removed by the next build; real feeds stay.
#[test]
fn leftover_temp_files_are_removed_by_the_next_build() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-03-01 10:00:00 +0000", "news", "x"),
    );
    let first = site.build(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let rss_before = fs::read(site.out().join("rss.xml")).unwrap();
    let atom_before = fs::read(site.out().join("tags/x/atom.xml")).unwrap();

    let leftovers = [
        site.out().join(".rss.xml.99999.tmp"),
        site.out().join("tags/x/.atom.xml.1.tmp"),
        site.out().join("categories/news/.feed.json.4242.tmp"),
    ];
    for l in &leftovers {
        fs::write(l, b"<?xml version=\"1.0\"?><rss><chan").unwrap();
    }
    let o = site.build(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for l in &leftovers {
        assert!(!l.exists(), "{} survived the build", l.display());
    }
    assert_eq!(fs::read(site.out().join("rss.xml")).unwrap(), rss_before);
    assert_eq!(
        fs::read(site.out().join("tags/x/atom.xml")).unwrap(),
        atom_before
    );
    let left: Vec<PathBuf> = files_under(&site.out())
        .into_iter()
        .filter(|p| is_tmp(p))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for f in files_under(&site.out()) {
        complete_document(&f).unwrap();
    }
}

/// SIGKILL at any moment of a build leaves only complete documents under their real names, and
/// the next build cleans up after it.
#[test]
fn sigkill_mid_build_never_leaves_a_partial_document() {
    let site = TempSite::new();
    // 3,000 posts, 30 categories, 1,500 tags (4 per post): thousands of files to write.
    for i in 0..3000 {
        let tags: Vec<String> = (0..4)
            .map(|k| format!("t{}", (i * 7 + k * 389) % 1500))
            .collect();
        let date = format!(
            "20{:02}-{:02}-{:02} {:02}:{:02}:00 +0000",
            10 + i % 14,
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60
        );
        site.write_post(
            &format!("d{}/p{i:04}.md", i % 10),
            &news_post(
                &format!("Post {i}"),
                &date,
                &format!("c{}", i % 30),
                &tags.join(" "),
                &format!("Short body {i}.\n"),
            ),
        );
    }
    let (o, _) = run_within(
        site.root(),
        &build_args(&site, "https://first.example"),
        Duration::from_secs(300),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let files = files_under(&site.out()).len();
    assert!(files > 4500, "only {files} files written");
    // When a rebuild starts writing and when it ends, to aim kills into its write phase: the
    // first file written is the first route in order (`/atom.xml`).
    let (write_start, end) = {
        let first = site.out().join("atom.xml");
        let before = fs::metadata(&first).unwrap().modified().unwrap();
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .args(build_args(&site, "https://calibrate.example"))
            .current_dir(site.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn build");
        let mut write_start = None;
        let status = loop {
            if write_start.is_none()
                && fs::metadata(&first).and_then(|m| m.modified()).ok() != Some(before)
            {
                write_start = Some(started.elapsed());
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "build hangs");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(status.success());
        let end = started.elapsed();
        (write_start.unwrap_or(end / 2).min(end), end)
    };
    let ms = |d: Duration| d.as_millis() as u64;
    let mut delays: Vec<u64> = vec![20, 60, 120, 250, 500];
    // Spread over the write phase, where files are being renamed into place.
    let span = ms(end - write_start).max(5);
    delays.extend((0..6).map(|k| ms(write_start) + span * (2 * k + 1) / 12));
    let mut killed_running = 0;
    let mut saw_temp = 0;
    for (round, delay) in delays.iter().enumerate() {
        // A different site URL each round changes every document, so every file is rewritten.
        let url = format!("https://r{round}.example");
        let mut child = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .args(build_args(&site, &url))
            .current_dir(site.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn build");
        std::thread::sleep(Duration::from_millis(*delay));
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        let files = files_under(&site.out());
        saw_temp += usize::from(files.iter().any(|p| is_tmp(p)));
        let bad: Vec<String> = files
            .iter()
            .filter(|p| !is_hidden(p))
            .filter_map(|p| complete_document(p).err())
            .collect();
        assert!(
            bad.is_empty(),
            "round {round} (killed after {delay} ms, {status:?}): {} incomplete documents, e.g.\n{}",
            bad.len(),
            bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
        // A normal build recovers and leaves no temp file.
        let (o, _) = run_within(
            site.root(),
            &build_args(&site, &url),
            Duration::from_secs(300),
        );
        assert!(
            o.status.success(),
            "round {round}: build after the kill failed:\n{}",
            stderr(&o)
        );
        let files = files_under(&site.out());
        let tmp: Vec<&PathBuf> = files.iter().filter(|p| is_tmp(p)).collect();
        assert!(tmp.is_empty(), "round {round}: temp files left: {tmp:?}");
        assert!(files.len() > 4500, "round {round}: {} files", files.len());
        let rss = site.read_out("rss.xml");
        assert!(
            rss.contains(&url),
            "round {round}: rss.xml is not from the last build"
        );
    }
    assert!(
        killed_running >= delays.len() / 2,
        "most builds finished before their kill ({killed_running} of {} killed running): the \
         test did not exercise a kill",
        delays.len()
    );
    eprintln!(
        "build writes from {write_start:?} to {end:?}; kills at {delays:?} ms; \
         {killed_running}/{} builds killed while running; {saw_temp} rounds left temp files",
        delays.len()
    );
    // The last round's feeds parse as feeds, too.
    for route in ["rss.xml", "atom.xml", "feed.json", "tags/t0/rss.xml"] {
        let bytes = fs::read(site.out().join(route)).unwrap();
        feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{route}: {e}"));
    }
}

/// A tmpfs mounted for one test, unmounted on drop (lazily if something still holds it), so a
/// failing assertion never leaves a mount behind.
struct TmpfsMount {
    path: PathBuf,
}

impl TmpfsMount {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) at `path`, creating the
    /// directory; `Err` with mount's own words when mounting is not permitted here.
    fn mount(path: &Path, size: &str) -> Result<TmpfsMount, String> {
        fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let o = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if o.status.success() {
            Ok(TmpfsMount {
                path: path.to_path_buf(),
            })
        } else {
            Err(format!("{}: {}", o.status, stderr(&o).trim()))
        }
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Fills the file system holding `path` with one file, then gives back `slack` bytes of it:
/// every later write larger than that fails with ENOSPC.
fn fill_leaving(path: &Path, slack: u64) -> fs::File {
    let mut f = fs::File::create(path).expect("create filler");
    let chunk = vec![0x5au8; 64 * 1024];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    let full = f.metadata().unwrap().len();
    f.set_len(full.saturating_sub(slack))
        .expect("shrink filler");
    f
}

/// The output directory is a small tmpfs that fills up: documents that no longer fit are
/// served from memory with an error naming their file, the files already there stay whole (a
/// failed write leaves neither a partial document nor a temp file), and once space is freed
/// the retry writes exactly what is served.
#[test]
fn disk_full_keeps_old_files_whole_and_writes_the_new_ones_once_space_is_freed() {
    let site = TempSite::new();
    let tmpfs = match TmpfsMount::mount(&site.out(), "2m") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot mount tmpfs ({e})");
            return;
        }
    };
    write_three_posts(&site);
    let mut server = serve(&site, "");
    let out = site.out();
    let documents = |dir: &Path| -> Vec<PathBuf> {
        files_under(dir)
            .into_iter()
            .filter(|p| !is_hidden(p))
            .collect()
    };
    // The site fits: every document is on the tmpfs.
    let before: std::collections::BTreeMap<PathBuf, Vec<u8>> = documents(&out)
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    assert!(
        before.len() >= 20 && before.contains_key(&out.join("feed.json")),
        "{:?}",
        before.keys()
    );
    for p in before.keys() {
        complete_document(p).unwrap();
    }

    // The disk fills up, but for 16 KiB; then two posts with ~24 KB bodies arrive: every feed
    // listing them (all posts, category `big`, tag `bulk`) is over 40 KB and cannot be written.
    let filler_path = out.join(".filler");
    let filler = fill_leaving(&filler_path, 16 * 1024);
    let mark = server.stderr().len();
    let para = "The harbour authority reported record container throughput for the eleventh \
                month in a row, and the new shipping lines are expected to add more next year. ";
    for (name, title, day) in [("big1.md", "Big one", 4), ("big2.md", "Big two", 5)] {
        site.write_post(
            name,
            &news_post(
                title,
                &format!("2024-03-0{day} 10:00:00 +0000"),
                "big",
                "bulk",
                &format!("{}\n", para.repeat(150)),
            ),
        );
    }
    let feed = wait_for(
        "the big posts to be served while the disk is full",
        DEADLINE,
        Some(&server),
        || {
            let r = server.get("/feed.json");
            let t = json_titles(&r.body)?;
            if t.len() == 5
                && t.contains(&"Big one".to_owned())
                && t.contains(&"Big two".to_owned())
            {
                Ok(r)
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    assert!(feed.body.len() > 40_000, "{} bytes", feed.body.len());
    let shown = out.display().to_string();
    let line = wait_for(
        "a disk-full error naming a file",
        DEADLINE,
        Some(&server),
        || {
            server.stderr()[mark..]
                .lines()
                .find(|l| {
                    l.contains(&format!("{shown}/"))
                        && l.contains("cannot write")
                        && l.contains("No space left on device")
                })
                .map(str::to_owned)
                .ok_or_else(|| "no line naming a file under feeds/ and ENOSPC".into())
        },
    );
    // Served from memory: the new scopes and the new posts' pages.
    for route in [
        "/categories/big/feed.json",
        "/categories/big/rss.xml",
        "/tags/bulk/atom.xml",
        "/rss.xml",
        "/feeds.opml",
        "/index.html",
    ] {
        assert_eq!(server.get(route).status, 200, "{route}");
    }
    for link in json_links(&feed.body) {
        let page = link.strip_prefix(SITE_URL).unwrap();
        assert_eq!(server.get(page).status, 200, "{page}");
    }
    let json = server.get("/categories/big/feed.json");
    assert_eq!(json_titles(&json.body).unwrap().len(), 2);
    // A temp file exists only while a write (or a retry) is in flight: none may stay.
    wait_for(
        "no temp file left on the full disk",
        DEADLINE,
        Some(&server),
        || {
            let tmp: Vec<PathBuf> = files_under(&out)
                .into_iter()
                .filter(|p| is_tmp(p))
                .collect();
            if tmp.is_empty() {
                Ok(())
            } else {
                Err(format!("{tmp:?}"))
            }
        },
    );
    // On disk: every old file is still there, and each file is either its old bytes or the
    // complete new document (a small one that fitted); the big feeds are their old bytes.
    for (path, old) in &before {
        let now = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if &now != old {
            let served = server.get(&target_of(&out, path));
            assert_eq!(
                now,
                served.body,
                "{} is neither its old version nor the served one",
                path.display()
            );
        }
    }
    for name in ["rss.xml", "atom.xml", "feed.json"] {
        assert_eq!(
            &fs::read(out.join(name)).unwrap(),
            &before[&out.join(name)],
            "{name} changed on a full disk"
        );
    }
    for p in documents(&out) {
        complete_document(&p).unwrap();
        if !before.contains_key(&p) {
            // Written whole (it fitted), so it is what is served.
            assert_eq!(
                fs::read(&p).unwrap(),
                server.get(&target_of(&out, &p)).body,
                "{}",
                p.display()
            );
        }
    }
    assert!(server.wait_exit(Duration::ZERO).is_none(), "server exited");

    // Space comes back: the retry writes what is served, and says so.
    let mark = server.stderr().len();
    drop(filler);
    fs::remove_file(&filler_path).unwrap();
    wait_for(
        "the log to say documents were written on retry",
        DEADLINE,
        Some(&server),
        || {
            server.stderr()[mark..]
                .lines()
                .find(|l| l.contains("documents written to disk on retry"))
                .map(|_| ())
                .ok_or_else(|| "no retry line yet".into())
        },
    );
    let mut expected: BTreeSet<PathBuf> = before.keys().cloned().collect();
    for scope in ["categories/big", "tags/bulk"] {
        for name in ["rss.xml", "atom.xml", "feed.json"] {
            expected.insert(out.join(scope).join(name));
        }
    }
    wait_for(
        "every document on disk to equal the served bytes",
        DEADLINE,
        Some(&server),
        || {
            let on_disk: BTreeSet<PathBuf> = documents(&out).into_iter().collect();
            if on_disk != expected {
                return Err(format!(
                    "missing {:?}, unexpected {:?}",
                    expected.difference(&on_disk).collect::<Vec<_>>(),
                    on_disk.difference(&expected).collect::<Vec<_>>()
                ));
            }
            for p in &on_disk {
                let target = target_of(&out, p);
                let served = http::get(&server.at(&target), &[]);
                if served.status != 200 {
                    return Err(format!("GET {target} → {}", served.status));
                }
                let disk = fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                if disk != served.body {
                    return Err(format!(
                        "{target}: disk {} bytes, served {} bytes",
                        disk.len(),
                        served.body.len()
                    ));
                }
            }
            Ok(())
        },
    );
    let tmp: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| is_tmp(p))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    for p in documents(&out) {
        complete_document(&p).unwrap();
    }
    assert!(site.read_out("rss.xml").contains("Big two"));
    eprintln!("disk full: {line}");
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
    drop(tmpfs);
}

// ---------------------------------------------------------------------------------------------
// The posts directory

/// `rm -rf posts` on a large tree: the feeds never shrink while it goes, nor after; a new
/// posts directory is then published as it is.
#[test]
fn removing_a_large_posts_tree_never_publishes_shrinking_feeds() {
    const N: usize = 2000;
    let site = TempSite::new();
    for i in 0..N {
        site.write_post(
            &format!("section-{:02}/post-{i:04}.md", i % 20),
            &post(
                &format!("Post {i}"),
                &format!(
                    "2023-{:02}-{:02} {:02}:{:02}:00 +0000",
                    1 + i % 12,
                    1 + i % 28,
                    i % 24,
                    i % 60
                ),
                &format!("sec{}", i % 20),
                "bulk",
            ),
        );
    }
    let server = serve(&site, "[feeds]\nlimit = 0\n");
    let count = || -> Result<usize, String> {
        let r = server.get("/feed.json");
        if r.status != 200 {
            return Err(format!("GET /feed.json → {}", r.status));
        }
        json_titles(&r.body).map(|t| t.len())
    };
    assert_eq!(count().unwrap(), N);

    let done = Arc::new(AtomicBool::new(false));
    let remover = std::thread::spawn({
        let posts = site.posts();
        let done = Arc::clone(&done);
        move || {
            fs::remove_dir_all(&posts).expect("rm -rf posts");
            done.store(true, Ordering::Release);
        }
    });
    let mut samples = 0;
    let mut after: Option<Instant> = None;
    // While deleting, and for 3 s after (past the settle time and the look-again interval).
    loop {
        let n = count().unwrap();
        samples += 1;
        assert!(
            n >= N,
            "feed.json shrank to {n} items while posts/ was being removed (sample {samples})\n\
             server log:\n{}",
            server.stderr()
        );
        if done.load(Ordering::Acquire) {
            let t = *after.get_or_insert_with(Instant::now);
            if t.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
    }
    remover.join().unwrap();
    assert!(!site.posts().exists());

    // A new posts directory with three posts arrives whole (renamed into place).
    let staged = site.root().join("posts.new");
    for (i, title) in ["New one", "New two", "New three"].iter().enumerate() {
        let p = staged.join(format!("n{i}.md"));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(
            &p,
            post(
                title,
                &format!("2024-09-0{} 10:00:00 +0000", i + 1),
                "news",
                "t",
            ),
        )
        .unwrap();
    }
    fs::rename(&staged, site.posts()).unwrap();
    let titles = wait_for(
        "the three new posts to be all that is served",
        DEADLINE,
        Some(&server),
        || {
            let r = server.get("/feed.json");
            let t = json_titles(&r.body)?;
            // Never anything between the old set and the new one.
            assert!(
                t.len() == N || t.len() == 3,
                "feed.json served {} items after posts/ was replaced",
                t.len()
            );
            if t.len() == 3 {
                Ok(t)
            } else {
                Err(format!("{} items", t.len()))
            }
        },
    );
    let got: BTreeSet<&str> = titles.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        BTreeSet::from(["New one", "New two", "New three"]),
        "{titles:?}"
    );
}

/// An unmounted volume leaves an empty mount point at the same path (here: `posts/` renamed
/// away and an empty directory made in its place): the last good feeds stay served and stay on
/// disk, and the first post that appears in the new directory is published as the new site.
#[test]
fn posts_replaced_by_an_empty_directory_keep_the_last_good_feeds() {
    let site = TempSite::new();
    for (i, tag) in ["alpha", "beta", "gamma"].iter().enumerate() {
        site.write_post(
            &format!("p{i}.md"),
            &post(
                &format!("Old {i}"),
                &format!("2024-01-0{} 10:00:00 +0000", i + 1),
                "news",
                tag,
            ),
        );
    }
    let server = serve(&site, "");
    let count = || json_titles(&server.get("/feed.json").body).map(|t| t.len());
    assert_eq!(count().unwrap(), 3);
    let tag_feed = site.out().join("tags/beta/rss.xml");
    assert!(tag_feed.is_file());

    fs::rename(site.posts(), site.root().join("posts.unmounted")).unwrap();
    fs::create_dir(site.posts()).unwrap();
    wait_for(
        "the server to see the empty replacement",
        DEADLINE,
        Some(&server),
        || {
            if server.stderr().contains("replaced by one with no posts") {
                Ok(())
            } else {
                Err("not yet".into())
            }
        },
    );
    // Past the debounce and the missing-directory poll: still the old set, on HTTP and disk.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count().unwrap(), 3, "log:\n{}", server.stderr());
    assert_eq!(server.get("/tags/beta/rss.xml").status, 200);
    assert!(
        tag_feed.is_file(),
        "tags/beta/rss.xml was removed from disk"
    );

    // A post arrives in the new directory: that directory is the site now.
    site.write_post(
        "fresh.md",
        &post("Fresh", "2024-05-01 10:00:00 +0000", "news", "delta"),
    );
    let titles = wait_for(
        "the new directory's post to be the site",
        DEADLINE,
        Some(&server),
        || {
            let t = json_titles(&server.get("/feed.json").body)?;
            if t == ["Fresh"] {
                Ok(t)
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    assert_eq!(titles, ["Fresh"]);
    wait_for(
        "tags/beta to be removed from disk",
        DEADLINE,
        Some(&server),
        || {
            if tag_feed.exists() {
                Err("still there".into())
            } else {
                Ok(())
            }
        },
    );
}

/// SPEC §7 "file vanished mid-read": posts created and deleted a few milliseconds later, while
/// the server republishes. What this proves: whichever moment a deletion lands — before the
/// watcher's batch is taken (the change is a removal), after the batch said the file exists but
/// before or while it is read (the read finds it gone: `NotFound`, which `Site::apply` must take
/// for a removal), or after it was published (an ordinary deletion) — the outcome is the same:
/// no error or warning names the vanished file as a bad post, nothing of it stays published
/// (item, page, term feeds on disk or over HTTP), the posts that stayed are all served, and the
/// server stays up. The test cannot see which path each deletion took; it sweeps the delay
/// before each deletion from 0 to 24 ms (the debounce window is 20 ms) over 300 files, and the
/// posts that stay carry ~60 KB bodies and sort before the vanishing ones, so a batch spends
/// milliseconds parsing them before it reaches the vanishing files: the window between the
/// existence check and the read is wide, and deletions fall into it. (Traced with `strace -f`,
/// one run, with the debouncer of the time: the server looked at 166 of the 300 files and for
/// 10 of them its checks found the file and the read's own `stat` then did not: the
/// `NotFound` path. The rest took the other paths.)
#[test]
fn posts_deleted_between_the_event_and_the_read_are_removals_not_errors() {
    const EPHEMERAL: usize = 300;
    let site = TempSite::new();
    let body = format!(
        "{}\n",
        "Harbour throughput reached a record as new shipping lines opened and the port \
         authority extended its hours; analysts expect more of the same next year.\n\n"
            .repeat(400)
    );
    let keeper = |k: usize| -> (String, String) {
        (
            format!("keep-{k:03}.md"),
            news_post(
                &format!("Kept {k}"),
                &format!("2024-05-{:02} 10:{:02}:00 +0000", 1 + k % 28, k % 60),
                "news",
                "kept",
                &body,
            ),
        )
    };
    // Written whole under a hidden name, then renamed into place (as editors save): no read can
    // see a half-written file, so any error could only be about a vanished one.
    let put = |name: &str, text: &str| {
        let tmp = site.posts().join(format!(".{name}.tmp"));
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, site.posts().join(name)).unwrap();
    };
    let mut kept: BTreeSet<String> = BTreeSet::new();
    for k in 0..3 {
        let (name, text) = keeper(k);
        site.write_post(&name, &text);
        kept.insert(format!("Kept {k}"));
    }
    let mut server = serve(&site, "[feeds]\nlimit = 0\ncontent = \"summary\"\n");
    let mark = server.stderr().len();

    let ephemeral_name = |i: usize| format!("zz-eph-{i:03}.md");
    let started = Instant::now();
    let mut next_keeper = 3;
    for i in 0..EPHEMERAL {
        if i % 10 == 0 {
            let (name, text) = keeper(next_keeper);
            put(&name, &text);
            kept.insert(format!("Kept {next_keeper}"));
            next_keeper += 1;
        }
        let name = ephemeral_name(i);
        put(
            &name,
            &news_post(
                &format!("Gone {i}"),
                "2024-06-01 10:00:00 +0000",
                "flash",
                &format!("e{i}"),
                "Here for a moment.\n",
            ),
        );
        std::thread::sleep(Duration::from_millis((i % 25) as u64));
        fs::remove_file(site.posts().join(&name)).unwrap();
    }
    let churn = started.elapsed();
    assert_eq!(kept.len(), 3 + EPHEMERAL / 10);

    // Settles on exactly the posts that stayed.
    let titles = wait_for(
        "only the posts that stayed to be served",
        Duration::from_secs(60),
        Some(&server),
        || {
            let r = server.get("/feed.json");
            let t: BTreeSet<String> = json_titles(&r.body)?.into_iter().collect();
            if t == kept {
                Ok(t)
            } else {
                Err(format!(
                    "{} items; missing {:?}; extra {:?}",
                    t.len(),
                    kept.difference(&t).collect::<Vec<_>>(),
                    t.difference(&kept).take(5).collect::<Vec<_>>()
                ))
            }
        },
    );
    // Past the debounce and a retry interval: still exactly that.
    std::thread::sleep(Duration::from_millis(1200));
    let again: BTreeSet<String> = json_titles(&server.get("/feed.json").body)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(again, titles, "the served set moved after settling");
    assert!(server.wait_exit(Duration::ZERO).is_none(), "server exited");

    // Every page of a post that stayed is served; nothing of a vanished one is, over HTTP or
    // on disk. Pages follow the default pattern `/:categories/:year/:month/:day/:title.html`,
    // checked here against the links of the posts that stayed.
    let links = json_links(&server.get("/feed.json").body);
    assert_eq!(links.len(), kept.len());
    for link in &links {
        let page = link.strip_prefix(SITE_URL).unwrap();
        assert!(
            page.starts_with("/news/2024/05/") && page.contains("/keep-"),
            "{page}"
        );
        assert_eq!(server.get(page).status, 200, "{page}");
    }
    assert_eq!(server.get("/categories/flash/feed.json").status, 404);
    for i in 0..EPHEMERAL {
        let page = format!("/flash/2024/06/01/zz-eph-{i:03}.html");
        assert_eq!(server.get(&page).status, 404, "{page}");
        let tag = format!("/tags/e{i}/feed.json");
        assert_eq!(server.get(&tag).status, 404, "{tag}");
    }
    wait_for(
        "the vanished posts' term feeds to be gone from disk",
        DEADLINE,
        Some(&server),
        || {
            let left: Vec<PathBuf> = files_under(&site.out())
                .into_iter()
                .filter(|p| {
                    let t = target_of(&site.out(), p);
                    t.starts_with("/categories/flash/") || t.starts_with("/tags/e")
                })
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{} files, e.g. {:?}", left.len(), &left[..1]))
            }
        },
    );

    // No warning or error names a vanished file: not as a bad post, not as unreadable. (The
    // info line of a republish names what changed, deletions included.)
    let log = server.stderr();
    let named: Vec<&str> = log[mark..]
        .lines()
        .filter(|l| !l.contains(" INFO "))
        .filter(|l| l.contains("zz-eph-") || l.contains("vanished"))
        .collect();
    assert!(
        named.is_empty(),
        "{} log lines name a file that was deleted (it was a removal, not an error):\n{}",
        named.len(),
        named
            .iter()
            .take(10)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!log.contains("panicked"), "{log}");
    let republished = log[mark..]
        .lines()
        .filter(|l| l.contains("republished"))
        .count();
    eprintln!(
        "{EPHEMERAL} posts created and deleted in {churn:?}, {} kept; {republished} republishes",
        kept.len()
    );
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/// A site with two good posts and one hostile file, checked and built by the real binary: the
/// hostile file is reported with `reason` (all of `needles`), quickly, and the rest is built.
fn hostile(rel: &str, contents: &[u8], needles: &[&str]) {
    let site = TempSite::new();
    site.write_post(
        "2024-01-01-good-one.md",
        &post("Good one", "2024-01-01 10:00:00 +0000", "news", "ok"),
    );
    site.write_post(
        "2024-01-02-good-two.md",
        &post("Good two", "2024-01-02 10:00:00 +0000", "news", "ok"),
    );
    site.write_post_bytes(rel, contents);
    let limit = Duration::from_secs(5);

    let (o, took) = run_within(site.root(), &check_args(&site), Duration::from_secs(60));
    assert!(took < limit, "check on {rel} took {took:?}");
    assert_eq!(o.status.code(), Some(1), "check on {rel}:\n{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains(rel))
        .unwrap_or_else(|| panic!("check does not name {rel}:\n{err}"));
    for n in needles {
        assert!(line.contains(n), "check on {rel}: {n:?} not in {line:?}");
    }
    assert!(
        stdout(&o).contains("2 posts ok, 1 bad"),
        "check on {rel}: {}",
        stdout(&o)
    );

    let (o, took) = run_within(
        site.root(),
        &build_args(&site, SITE_URL),
        Duration::from_secs(60),
    );
    assert!(took < limit, "build with {rel} took {took:?}");
    assert!(o.status.success(), "build with {rel}:\n{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains(rel))
        .unwrap_or_else(|| panic!("build does not name {rel}:\n{err}"));
    for n in needles {
        assert!(line.contains(n), "build with {rel}: {n:?} not in {line:?}");
    }
    let mut titles = json_titles(site.read_out("feed.json").as_bytes()).unwrap();
    titles.sort();
    assert_eq!(titles, ["Good one", "Good two"], "build with {rel}");
    // Nothing of the hostile post was published: the only term feeds are the good ones'.
    let mut dirs: Vec<String> = fs::read_dir(site.out().join("tags"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["ok"], "build with {rel}");
}

#[test]
fn post_with_three_thousand_tags_is_refused() {
    let tags: Vec<String> = (0..3000).map(|i| format!("tag{i}")).collect();
    let text = format!(
        "---\ntitle: Tagged\ndate: 2024-02-01 10:00:00 +0000\ntags: [{}]\n---\nBody\n",
        tags.join(", ")
    );
    hostile("many-tags.md", text.as_bytes(), &["tags", "3000"]);
}

#[test]
fn post_over_ten_megabytes_is_refused_with_its_size() {
    let mut text = b"---\ntitle: Huge\ndate: 2024-02-01 10:00:00 +0000\ntags: huge\n---\n".to_vec();
    let line = b"All work and no play makes a very large post indeed.\n";
    while text.len() < 11 * 1024 * 1024 {
        text.extend_from_slice(line);
    }
    let size = text.len().to_string();
    hostile("huge.md", &text, &[&size, "bytes", "limit"]);
}

#[test]
fn deeply_nested_yaml_is_refused_quickly() {
    let depth = 1000;
    let text = format!(
        "---\ntitle: Deep\ndate: 2024-02-01 10:00:00 +0000\ntags: deep\nx: {}1{}\n---\nBody\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    hostile("deep-flow.md", text.as_bytes(), &["YAML"]);
    // Block style: a mapping nested 1,000 levels by indentation.
    let mut text = String::from("---\ntitle: Deeper\ndate: 2024-02-01 10:00:00 +0000\n");
    for i in 0..depth {
        text.push_str(&" ".repeat(i));
        text.push_str(&format!("k{i}:\n"));
    }
    text.push_str(&" ".repeat(depth));
    text.push_str("end\n---\nBody\n");
    // ~500 KB of indentation: refused for its size (limits.max_front_matter_bytes) before
    // YAML parses it; either way, the reason names the front matter.
    hostile("deep-block.md", text.as_bytes(), &["front matter"]);
}

#[test]
fn yaml_alias_bomb_is_refused_quickly() {
    let mut text = String::from("---\ntitle: Laughs\ndate: 2024-02-01 10:00:00 +0000\n");
    text.push_str(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{next}: &{next} [{refs}]\n"));
    }
    // Used where feedsmith reads values, too.
    text.push_str("tags: *i\n---\nBody\n");
    hostile("bomb.md", text.as_bytes(), &["YAML"]);
}

/// A file whose name is not UTF-8 is built or reported, never a crash, and the others are
/// built.
#[test]
fn file_name_that_is_not_utf8_is_no_crash() {
    use std::os::unix::ffi::OsStrExt;
    let site = TempSite::new();
    site.write_post(
        "2024-01-01-good.md",
        &post("Good", "2024-01-01 10:00:00 +0000", "news", "ok"),
    );
    let name = std::ffi::OsStr::from_bytes(b"2021-01-01-caf\xe9.md");
    fs::write(
        site.posts().join(name),
        "---\ntitle: Cafe\ntags: cafe\n---\nAu caf\u{e9}.\n",
    )
    .unwrap();
    fs::create_dir_all(site.posts().join(std::ffi::OsStr::from_bytes(b"d\xff"))).unwrap();
    fs::write(
        site.posts()
            .join(std::ffi::OsStr::from_bytes(b"d\xff"))
            .join("2021-02-02-inner.md"),
        "---\ntitle: Inner\n---\nInside a non-UTF-8 directory.\n",
    )
    .unwrap();

    let (o, _) = run_within(site.root(), &check_args(&site), Duration::from_secs(60));
    no_crash(o.status, "check", &o);
    let (o, _) = run_within(
        site.root(),
        &build_args(&site, SITE_URL),
        Duration::from_secs(60),
    );
    no_crash(o.status, "build", &o);
    assert!(o.status.success(), "build: {}", stderr(&o));
    let titles = json_titles(site.read_out("feed.json").as_bytes()).unwrap();
    assert!(titles.contains(&"Good".to_owned()), "{titles:?}");
    let err = stderr(&o);
    for (title, shown) in [("Cafe", "caf"), ("Inner", "inner")] {
        assert!(
            titles.contains(&title.to_owned()) || err.contains(shown),
            "{title}: neither built ({titles:?}) nor reported:\n{err}"
        );
    }
    for f in files_under(&site.out()) {
        complete_document(&f).unwrap();
    }

    // And the server starts, serves and stops on it.
    let mut server = serve(&site, "");
    let r = server.get("/feed.json");
    assert_eq!(r.status, 200);
    let t = json_titles(&r.body).unwrap();
    assert!(t.contains(&"Good".to_owned()), "{t:?}");
    for path in json_links(&r.body) {
        let p = path.strip_prefix(SITE_URL).unwrap_or(&path).to_owned();
        assert_eq!(server.get(&p).status, 200, "{p}");
    }
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
}

fn json_links(body: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["url"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Injection

/// The headers the server produces; anything else in a response head was injected.
const KNOWN_HEADERS: [&str; 13] = [
    "content-type",
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
    "link",
    "x-content-type-options",
    "content-security-policy",
    "date",
    "connection",
    "allow",
];

/// CR/LF in titles, terms and the permalink cannot reach a response head, and every document
/// stays well-formed.
#[test]
fn cr_lf_in_front_matter_cannot_inject_headers() {
    let site = TempSite::new();
    site.write_post(
        "2024-03-01-inject.md",
        concat!(
            "---\n",
            "title: \"a\\r\\nSet-Cookie: x=1\"\n",
            "date: 2024-03-01 10:00:00 +0000\n",
            "categories: [\"news\\r\\nSet-Cookie: c=1\"]\n",
            "tags: [\"t\\r\\nSet-Cookie: t=1\", \"x\\nX-Injected: 1\"]\n",
            "author: \"Eve\\r\\nSet-Cookie: a=1\"\n",
            "source_name: \"Src\\r\\nSet-Cookie: s=1\"\n",
            "permalink: \"/p/in\\r\\nSet-Cookie: p=1.html\"\n",
            "---\n",
            "Body with a header-looking line\r\nSet-Cookie: b=1\r\n\r\nand more.\n",
        ),
    );
    site.write_post(
        "2024-03-02-plain.md",
        &post("Plain", "2024-03-02 10:00:00 +0000", "news", "plain"),
    );
    let server = serve(&site, "");
    let feed = server.get("/feed.json");
    assert_eq!(feed.status, 200);
    let titles = json_titles(&feed.body).unwrap();
    assert!(
        titles.iter().any(|t| t.contains("Set-Cookie")),
        "the hostile post was not published, so nothing is tested: {titles:?}\n{}",
        server.stderr()
    );

    // Every document on disk (every feed and the OPML), every post page, the index.
    let mut targets: Vec<String> = files_under(&site.out())
        .iter()
        .filter(|p| !is_hidden(p))
        .map(|p| target_of(&site.out(), p))
        .collect();
    let links = json_links(&feed.body);
    assert_eq!(links.len(), 2);
    for link in &links {
        let path = link
            .strip_prefix(SITE_URL)
            .unwrap_or_else(|| panic!("{link} not on {SITE_URL}"));
        targets.push(path.to_owned());
    }
    targets.push("/".into());
    assert!(
        targets.iter().filter(|t| t.starts_with("/tags/")).count() >= 9,
        "{targets:?}"
    );
    for target in &targets {
        let r = raw_get(&server.addr, target);
        assert_eq!(r.status, 200, "{target}:\n{}", r.head);
        // The values may mention the words (a slug, a URL), but no line may start a header
        // the server did not produce.
        for line in r.head.split("\r\n").skip(1) {
            let lower = line.to_ascii_lowercase();
            assert!(
                !lower.starts_with("set-cookie") && !lower.starts_with("x-injected"),
                "{target}: injected header line {line:?}:\n{}",
                r.head
            );
        }
        for (name, _) in &r.headers {
            assert!(
                KNOWN_HEADERS.contains(&name.as_str()),
                "{target}: header line {name:?} not produced by the server:\n{}",
                r.head
            );
        }
        let ctype = r.header("content-type").unwrap_or_default().to_owned();
        let text = String::from_utf8(r.body.clone())
            .unwrap_or_else(|_| panic!("{target}: body is not UTF-8"));
        if ctype.contains("json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{target}: {e}"));
        } else if ctype.contains("xml") || ctype.contains("opml") {
            xmltree::parse(&text).unwrap_or_else(|e| panic!("{target}: {e}"));
        } else {
            assert!(ctype.starts_with("text/html"), "{target}: {ctype}");
            assert!(text.trim_end().ends_with("</html>"), "{target}");
        }
        if target.ends_with("rss.xml") || target.ends_with("atom.xml") {
            feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{target}: {e}"));
        }
    }
}

/// Markup in a title reaches HTML pages only escaped, and HTML is served with `nosniff` and a
/// CSP that allows no scripts.
#[test]
fn markup_in_titles_is_escaped_in_html_pages() {
    let site = TempSite::new();
    let title = "<script>alert(1)</script>";
    site.write_post(
        "2024-04-01-xss.md",
        &format!(
            "---\ntitle: {title:?}\ndate: 2024-04-01 10:00:00 +0000\ncategories: news\n\
             tags: [\"<img src=x onerror=alert(2)>\"]\n---\n<p>Hi</p><script>alert(3)</script>\n"
        ),
    );
    let server = serve(&site, "");
    let feed = server.get("/feed.json");
    let links = json_links(&feed.body);
    assert_eq!(links.len(), 1, "{}", server.stderr());
    let page = links[0].strip_prefix(SITE_URL).unwrap().to_owned();
    for path in ["/index.html", "/", page.as_str()] {
        let r: Resp = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        let lower = html.to_ascii_lowercase();
        assert!(
            !lower.contains("<script"),
            "{path}: unescaped script:\n{html}"
        );
        assert!(
            !lower.contains("<img src=x"),
            "{path}: unescaped tag markup:\n{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                || html.contains("&lt;script>alert(1)&lt;/script>"),
            "{path}: the title is not shown escaped:\n{html}"
        );
        assert!(r.h("content-type").starts_with("text/html"), "{path}");
        assert_eq!(r.h("x-content-type-options"), "nosniff", "{path}");
        let csp = r.h("content-security-policy");
        assert!(
            csp.split(';').any(|d| d.trim() == "default-src 'none'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("script-src"),
            "{path}: CSP allows scripts: {csp}"
        );
    }
}

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
                    let Ok(mut s) = TcpStream::connect(&addr) else {
                        if stop_at.lock().unwrap().is_some() {
                            return Ok(mine);
                        }
                        return Err("connection refused before SIGTERM".into());
                    };
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
                    loop {
                        let conn = if keep_alive { "keep-alive" } else { "close" };
                        let req = format!(
                            "GET /rss.xml HTTP/1.1\r\nHost: {addr}\r\nConnection: {conn}\r\n\r\n"
                        );
                        if s.write_all(req.as_bytes()).is_err() {
                            continue 'connections;
                        }
                        match read_response(&mut s, false) {
                            RawRead::Complete(r) => {
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
                            RawRead::ClosedBeforeResponse => continue 'connections,
                            RawRead::Truncated(why) => {
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
