//! The whole story against Fedify (npm `@fedify/fedify`, an ActivityPub implementation no one
//! here wrote), run under Node: `tests/external/fedify/peer.mjs` looks the site, a tag and a
//! category up by WebFinger, follows them (its signatures checked by our inbox), gets our
//! signed Accepts (checked by Fedify's), then the Create/Announce, Update and Delete of a post
//! written, edited and removed under `posts/`, unfollows, and gets nothing more.
//!
//! Needs `node` and `npm ci` in `tests/external/fedify` (`.ci/run` does it). Without them the
//! test says so and passes — except under CI (`CI=true`), where it fails.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::*;

/// The peer's own steps are bounded (30 s each); this bounds the whole run.
const PEER_TIMEOUT: Duration = Duration::from_secs(300);

fn harness() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/external/fedify");
    let installed = dir
        .join("node_modules/@fedify/fedify/package.json")
        .is_file();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed && node {
        return Some(dir);
    }
    let why = if node {
        "run `npm ci` in tests/external/fedify"
    } else {
        "no `node` on PATH"
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the Fedify test cannot run under CI: {why}"
    );
    eprintln!("skipped: the Fedify test needs Node and the harness ({why})");
    None
}

#[test]
fn fedify_follows_receives_and_unfollows() {
    let Some(dir) = harness() else { return };
    let site = site();
    let server = serve(&site);
    let mut child = Command::new("node")
        .arg(dir.join("peer.mjs"))
        .args([
            server.url.as_str(),
            &site.posts().display().to_string(),
            "news",
            "rust",
            "notes",
        ])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > PEER_TIMEOUT {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("node's output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let report = format!(
        "peer stdout:\n{stdout}\npeer stderr:\n{stderr}\nserver log:\n{}",
        server.stderr()
    );
    assert!(
        status.is_some(),
        "the peer ran past {PEER_TIMEOUT:?}\n{report}"
    );
    assert!(out.status.success() && stdout.contains("PASS"), "{report}");
    // Fedify's signatures were checked, not waved through: its first knock (RFC 9421) was
    // refused, and the draft-cavage one it sent next accepted.
    let log = server.stderr();
    assert!(log.contains("RFC 9421 signatures"), "{log}");
    assert!(log.contains("now follows http://127.0.0.1:"), "{log}");
    assert!(log.contains("no longer follows"), "{log}");
}
