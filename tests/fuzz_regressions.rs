//! Replays the fuzz corpus through the fuzz harness: every seed under `fuzz/seeds/<target>/`
//! (for the post target also every shipped sample post under `posts/`, which `fuzz/run.sh`
//! seeds it with too) and every input a fuzz run once crashed on, saved under
//! `tests/fixtures/fuzz/<target>/`.
//!
//! The harness (`fuzz/src/lib.rs`) is included as a module, so these tests run exactly the
//! checks `cargo fuzz` runs — without libFuzzer, on the stable toolchain, in `cargo test`.
//! See `fuzz/run.sh` for running the fuzzers themselves.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};

/// The files of one target's seed and regression directories (and their subdirectories,
/// as libFuzzer reads them), sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![
        root.join("fuzz/seeds").join(target),
        root.join("tests/fixtures/fuzz").join(target),
    ];
    if target == "post" {
        dirs.push(root.join("posts"));
    }
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.expect("readable directory entry").path();
            if path.is_file() {
                files.push(path);
            } else if path.is_dir() {
                dirs.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs `check` on every input of `target`, and fails naming each input that panicked.
fn replay(target: &str, min_inputs: usize, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        files.len() >= min_inputs,
        "expected at least {min_inputs} inputs for {target}, found {files:?}"
    );
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let bytes = std::fs::read(path).expect("readable input");
            std::panic::catch_unwind(|| check(&bytes)).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
}

#[test]
fn post_corpus() {
    replay("post", 25, harness::check_post);
}

#[test]
fn site_corpus() {
    replay("site", 5, harness::check_site);
}

#[test]
fn http_corpus() {
    replay("http", 10, harness::check_http);
}

/// The route checks on paths that the request builder would refuse, so the fuzzer cannot
/// reach them through `check_http`.
#[test]
fn route_of_on_raw_paths() {
    for raw in [
        "/",
        "/..",
        "/%2e%2E",
        "/a/%2e/b",
        "/a\0b",
        "/a%00b",
        "/a\\..\\b",
        "/a%5C..%5Cb",
        "//..//",
        "/tags/%E5%8E%A6%E9%97%A8/rss.xml",
        "/%",
        "/%zz",
        "/\u{FFFD}/..",
        "",
        "rss.xml",
    ] {
        harness::check_route_of(raw);
    }
}
