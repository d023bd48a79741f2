//! `feedsmith build` and `feedsmith check` end to end: the real binary on fixture sites in temp
//! directories (SPEC §1 input rules, §2 output files, §3 config, §4 CLI, §7 errors).

mod cli;
mod inputs;
mod outputs;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common;
use crate::common::{feedsmith, news_post, stderr, stdout, tree, TempSite};

const FEED_FILES: [&str; 3] = ["rss.xml", "atom.xml", "feed.json"];

/// The sample post of SPEC §1.
const SAMPLE: &str = include_str!("../fixtures/sample-post.md");

// ---------------------------------------------------------------- helpers

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// The arguments `TempSite::build` uses, plus `extra`.
fn build_args(site: &TempSite, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "build".to_owned(),
        "--posts".to_owned(),
        site.posts().display().to_string(),
        "--out".to_owned(),
        site.out().display().to_string(),
        "--url".to_owned(),
        "https://example.com".to_owned(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// Runs the binary like `common::feedsmith`, but kills it and fails the test if it has not
/// finished within `limit` (for inputs that could make it hang: FIFOs, symlink loops).
fn feedsmith_within(cwd: &Path, args: &[String], limit: Duration) -> Output {
    let logs = tempfile::tempdir().expect("log dir");
    let out_path = logs.path().join("stdout");
    let err_path = logs.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run feedsmith");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "feedsmith {args:?} did not finish within {limit:?}; stderr so far:\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: fs::read(&out_path).unwrap(),
        stderr: fs::read(&err_path).unwrap(),
    }
}

/// Regular files under `dir`, relative path → (bytes, mtime).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    common::regular_files(dir)
        .into_iter()
        .map(|(k, v)| {
            let mtime = fs::metadata(dir.join(&k)).unwrap().modified().unwrap();
            (k, (v, mtime))
        })
        .collect()
}

/// Regular file paths under `dir`.
fn files(dir: &Path) -> BTreeSet<String> {
    snapshot(dir).into_keys().collect()
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Enough time for any file system's mtime granularity to show a rewrite.
fn tick() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// The `<item>` titles of an RSS document, in order.
fn rss_titles(rss: &str) -> Vec<String> {
    rss.split("<item>")
        .skip(1)
        .map(|item| {
            let start = item.find("<title>").expect("item title") + "<title>".len();
            let end = item.find("</title>").expect("item title end");
            item[start..end].to_owned()
        })
        .collect()
}

/// A plain post with a fixed past date.
fn simple_post(title: &str, date: &str, extra: &str) -> String {
    format!("---\ntitle: {title}\ndate: {date}\n{extra}\n---\nBody of {title}.\n")
}

/// The one stderr line that names `file`, or a panic showing all of stderr.
fn line_naming<'a>(err: &'a str, file: &str) -> &'a str {
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(file)).collect();
    assert_eq!(lines.len(), 1, "expected one line naming {file} in:\n{err}");
    lines[0]
}

/// Builds a site with one good post and the bad file `rel` (written by `make`), checks the
/// build still succeeds and publishes the good post, and returns the line naming the bad file.
fn bad_input_message(rel: &str, make: impl FnOnce(&TempSite)) -> String {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-good.md",
        &simple_post("Good post", "2021-01-01", ""),
    );
    make(&site);
    let o = feedsmith_within(
        site.root(),
        &build_args(&site, &[]),
        Duration::from_secs(60),
    );
    assert_ok(&o);
    assert_eq!(
        rss_titles(&site.read_out("rss.xml")),
        vec!["Good post"],
        "the good post is built"
    );
    let err = stderr(&o);
    let line = line_naming(&err, rel).to_owned();
    assert!(
        line.contains(&site.posts().join(rel).display().to_string()),
        "names the file by its path: {line}"
    );
    assert!(
        stdout(&o).contains("1 bad post skipped"),
        "summary counts the bad post: {}",
        stdout(&o)
    );
    // `check` reports the same file and fails.
    let c = site.check();
    assert_eq!(c.status.code(), Some(1), "check: {}", stderr(&c));
    assert!(
        stderr(&c).contains(rel),
        "check names {rel}: {}",
        stderr(&c)
    );
    line
}
