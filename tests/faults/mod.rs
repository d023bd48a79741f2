//! Never break, never lose: faults of the disk, of the process and of the input, against the
//! real binary (`feedsmith build`, `check` and `serve`).
//!
//! Every wait is bounded; every check can fail. Raw TCP is used where a client library would
//! hide what matters (header lines, truncated bodies).

mod disk;
mod hostile;
mod posts_dir;
mod shutdown;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::http::{self, wait_for, Resp};
use crate::common::raw;
use crate::common::{news_post, stderr, stdout, xmltree, Server, TempSite};

/// How long a change may take to show up over HTTP.
const DEADLINE: Duration = Duration::from_secs(10);
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

fn json_links(body: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["url"].as_str().unwrap().to_owned())
        .collect()
}
