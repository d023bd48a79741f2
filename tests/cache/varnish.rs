//! Real Varnish (`varnishd`, Debian's `varnish`) with the shipped `deploy/varnish.vcl` in front
//! of `serve`, both on loopback ports of their own. Skipped, with the reason printed, where
//! `varnishd` is missing — except under CI (`CI` set), where that fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{serve, site, BROWSER};
use crate::common::http::{self, wait_for, Resp};
use crate::common::{news_post, Server};

/// A port free on loopback now (the listener is closed before it is returned).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The `varnishd` to run, or `None` (after saying why) where it is missing and not under CI.
fn varnishd() -> Option<PathBuf> {
    let found = [
        "/usr/sbin/varnishd",
        "/usr/bin/varnishd",
        "/usr/local/sbin/varnishd",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .or_else(|| {
        let out = Command::new("sh")
            .args(["-c", "command -v varnishd"])
            .output()
            .ok()?;
        let path = String::from_utf8(out.stdout).ok()?;
        let path = PathBuf::from(path.trim());
        path.is_file().then_some(path)
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "varnishd is missing under CI: install Debian's `varnish` (.ci/run does)"
        );
        eprintln!("skipped: varnishd is not installed (Debian package `varnish`)");
    }
    found
}

/// A `varnishd -F` running `deploy/varnish.vcl` with its backend at `backend_port`; stopped
/// (SIGTERM, then SIGKILL) on drop.
pub struct Varnish {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Varnish {
    /// Starts Varnish on `port` in front of feedsmith on `backend_port`, and waits (bounded)
    /// until it answers.
    pub fn start(bin: &Path, port: u16, backend_port: u16) -> Varnish {
        let dir = tempfile::tempdir().expect("temp dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/varnish.vcl");
        let vcl = std::fs::read_to_string(&shipped).expect("deploy/varnish.vcl");
        assert!(
            vcl.contains(".port = \"8080\";"),
            "the VCL's backend port moved"
        );
        let vcl = vcl.replace(".port = \"8080\";", &format!(".port = \"{backend_port}\";"));
        let vcl_path = dir.path().join("feedsmith.vcl");
        std::fs::write(&vcl_path, vcl).expect("write VCL");
        let log = std::fs::File::create(dir.path().join("varnishd.log")).expect("varnish log");
        let child = Command::new(bin)
            .arg("-F")
            .args(["-j", "none"])
            .arg("-n")
            .arg(dir.path().join("work"))
            .args(["-a", &format!("127.0.0.1:{port}")])
            .arg("-f")
            .arg(&vcl_path)
            .args(["-s", "malloc,64m"])
            // Bans are checked against the cached objects at once, not every few seconds.
            .args(["-p", "ban_lurker_sleep=0.01"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn varnishd");
        let mut varnish = Varnish {
            child: Some(child),
            port,
            dir,
        };
        let url = varnish.at("/");
        wait_for("varnishd answering", Duration::from_secs(30), None, || {
            if let Some(Ok(Some(status))) = varnish.child.as_mut().map(Child::try_wait) {
                panic!("varnishd exited ({status}):\n{}", varnish.log());
            }
            http::try_request_with(&http::agent(), "GET", &url, &[]).map(|_| ())
        });
        varnish
    }

    /// The URL of `path` through the cache.
    pub fn at(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET path` through the cache with `headers`.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        http::get(&self.at(path), headers)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("varnishd.log")).unwrap_or_default()
    }
}

impl Drop for Varnish {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..500 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The port of a started feedsmith.
fn port_of(server: &Server) -> u16 {
    server
        .addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("server port")
}

/// feedsmith (with `extra` config, `{varnish}` replaced by the cache's URL) and Varnish in
/// front of it; `None` where varnishd is missing.
fn stack(extra: &str) -> Option<(crate::common::TempSite, Server, Varnish)> {
    let bin = varnishd()?;
    let site = site();
    let port = free_port();
    let server = serve(
        &site,
        &extra.replace("{varnish}", &format!("http://127.0.0.1:{port}")),
    );
    let varnish = Varnish::start(&bin, port, port_of(&server));
    Some((site, server, varnish))
}

/// Whether a response came from the cache (our VCL says so; Varnish's own `X-Varnish` then
/// names two transactions, this one and the one that fetched the copy).
fn is_hit(r: &Resp) -> bool {
    r.header("x-cache") == Some("hit") && r.h("x-varnish").split(' ').count() == 2
}

const READER: &[(&str, &str)] = &[("Accept", "application/atom+xml")];

/// `max_age = 300`: the second poll is a hit, and an edit is served through the cache right
/// after its purge, long before the copy would expire.
#[test]
fn polls_are_hits_and_an_edit_is_served_after_its_purge() {
    let Some((site, server, varnish)) =
        stack("max_age = 300\n\n[cache]\npurge = [\"{varnish}\"]\n")
    else {
        return;
    };
    for path in ["/rss.xml", "/tags/rust/atom.xml", "/2024/01/05/post-5/"] {
        let first = varnish.get(path, &[]);
        assert_eq!(first.status, 200, "{path}");
        let second = varnish.get(path, &[]);
        assert!(
            is_hit(&second),
            "{path}: second poll not a hit: {:?}",
            second.headers
        );
        assert_eq!(second.body, first.body, "{path}");
        // The purged cache's long s-maxage stays with it; the surrogate key too.
        assert_eq!(
            second.h("cache-control"),
            crate::common::cache_control(300),
            "{path}"
        );
        assert_eq!(second.header("surrogate-key"), None, "{path}");
    }
    site.write_post(
        "2024-01-05-post-5.md",
        &news_post(
            "Edited through the cache",
            "2024-01-05 09:00:00 +0000",
            "news",
            "rust",
            "New body.",
        ),
    );
    for path in ["/rss.xml", "/tags/rust/atom.xml", "/2024/01/05/post-5/"] {
        wait_for(
            &format!("{path}: the edit through Varnish"),
            Duration::from_secs(5),
            Some(&server),
            || {
                let r = varnish.get(path, &[]);
                if r.status == 200 && r.text().contains("Edited through the cache") {
                    Ok(())
                } else {
                    Err(format!("{} {:?}", r.status, r.headers))
                }
            },
        );
    }
    // And cached again.
    assert!(is_hit(&varnish.get("/rss.xml", &[])));
}

/// Varnish answers conditional requests itself, for each coding, with the origin's strong
/// ETags.
#[test]
fn conditional_requests_through_varnish_get_304() {
    let Some((_site, server, varnish)) = stack("[cache]\npurge = [\"{varnish}\"]\n") else {
        return;
    };
    for coding in [None, Some("gzip"), Some("br"), Some("zstd")] {
        let headers: Vec<(&str, &str)> =
            coding.map(|c| ("Accept-Encoding", c)).into_iter().collect();
        let r = varnish.get("/atom.xml", &headers);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), coding, "{coding:?}");
        let etag = r.h("etag").to_owned();
        assert!(etag.starts_with('"'), "strong ETag: {etag}");
        // The ETag is the origin's for this representation.
        let direct = http::get(&server.at("/atom.xml"), &headers);
        assert_eq!(direct.h("etag"), etag, "{coding:?}");
        let mut conditional = headers.clone();
        conditional.push(("If-None-Match", &etag));
        let nm = varnish.get("/atom.xml", &conditional);
        assert_eq!(nm.status, 304, "{coding:?}: {:?}", nm.headers);
        assert!(nm.body.is_empty());
        assert_eq!(nm.h("etag"), etag);
        let stale = varnish.get("/atom.xml", &[("If-None-Match", "\"0000\"")]);
        assert_eq!(stale.status, 200);
    }
}

/// A browser and a reader get their own representation through the cache, whichever asks
/// first, and both are then cached.
#[test]
fn a_browser_and_a_reader_each_get_their_own_representation() {
    let Some((_site, _server, varnish)) = stack("[cache]\npurge = [\"{varnish}\"]\n") else {
        return;
    };
    let firefox: &[(&str, &str)] = &[
        (
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("Sec-Fetch-Dest", "document"),
        ("Sec-Fetch-Mode", "navigate"),
    ];
    let is_view = |r: &Resp| r.h("content-type").starts_with("text/html");
    // Browser first on one feed, reader first on another.
    for (path, browser_first) in [("/atom.xml", true), ("/tags/rust/atom.xml", false)] {
        for round in 0..2 {
            let order: [(&[(&str, &str)], bool); 2] = if browser_first {
                [(BROWSER, true), (READER, false)]
            } else {
                [(READER, false), (BROWSER, true)]
            };
            for (headers, view) in order {
                let r = varnish.get(path, headers);
                assert_eq!(r.status, 200, "{path}");
                assert_eq!(
                    is_view(&r),
                    view,
                    "{path} round {round}: {headers:?} got {}",
                    r.h("content-type")
                );
                if round == 1 {
                    assert!(
                        is_hit(&r),
                        "{path}: {headers:?} not cached: {:?}",
                        r.headers
                    );
                }
            }
        }
        // Other browsers and readers share those copies, never the other one.
        for (headers, view) in [
            (firefox, true),
            (&[("Accept", "*/*")][..], false),
            (&[][..], false),
            (&[("Accept", "application/atom+xml, text/html")][..], false),
            (
                &[
                    ("Accept", "text/html"),
                    ("Sec-Fetch-Dest", "empty"),
                    ("Sec-Fetch-Mode", "cors"),
                ][..],
                false,
            ),
        ] {
            let r = varnish.get(path, headers);
            assert_eq!(is_view(&r), view, "{path}: {headers:?}");
        }
    }
}

/// With feedsmith stopped, Varnish answers with its expired copy (stale-if-error), the same
/// bytes.
#[test]
fn varnish_serves_stale_copies_while_feedsmith_is_down() {
    // Copies expire after a second; no purge targets, so no s-maxage either.
    let Some((_site, mut server, varnish)) =
        stack("max_age = 1\n\n[cache]\nstale_while_revalidate = 1\n")
    else {
        return;
    };
    let before = varnish.get("/rss.xml", &[]);
    assert_eq!(before.status, 200);
    server.stop(Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(3));
    // Until the probe has seen it down, a copy past stale-while-revalidate may be refetched
    // (and fail); after, the stale copy is served.
    let stale = wait_for("a stale copy", Duration::from_secs(20), None, || {
        let r = varnish.get("/rss.xml", &[]);
        if r.status == 200 {
            Ok(r)
        } else {
            Err(format!("{} {:?}", r.status, r.headers))
        }
    });
    assert_eq!(stale.body, before.body);
    let age: u64 = stale.h("age").parse().expect("Age");
    assert!(
        age >= 2,
        "served a copy {age} s old: not past its max-age of 1 s"
    );
}
