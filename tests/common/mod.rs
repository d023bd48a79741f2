//! Helpers shared by the integration tests: temp sites, posts, and the real binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary site: `posts/` and `feeds/` under one temp dir, removed on drop.
pub struct TempSite {
    pub dir: tempfile::TempDir,
}

impl TempSite {
    pub fn new() -> TempSite {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("posts")).expect("posts dir");
        TempSite { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn posts(&self) -> PathBuf {
        self.dir.path().join("posts")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("feeds")
    }

    /// Writes `posts/{rel}` (creating directories) with the given text.
    pub fn write_post(&self, rel: &str, text: &str) -> PathBuf {
        self.write_post_bytes(rel, text.as_bytes())
    }

    pub fn write_post_bytes(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let path = self.posts().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("post parent dir");
        }
        std::fs::write(&path, bytes).expect("write post");
        path
    }

    /// Writes a config file `{name}` beside `posts/` and returns its path, for `--config`.
    pub fn write_config(&self, name: &str, text: &str) -> String {
        let path = self.root().join(name);
        std::fs::write(&path, text).expect("write config");
        path.display().to_string()
    }

    /// Reads `feeds/{rel}` as text.
    pub fn read_out(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out().join(rel))
            .unwrap_or_else(|e| panic!("read feeds/{rel}: {e}"))
    }

    /// Runs `feedsmith build` on this site with extra arguments.
    pub fn build(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "build".to_owned(),
            "--posts".to_owned(),
            self.posts().display().to_string(),
            "--out".to_owned(),
            self.out().display().to_string(),
            "--url".to_owned(),
            "https://example.com".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        feedsmith(self.root(), &args)
    }

    /// Runs `feedsmith check` on this site.
    pub fn check(&self) -> Output {
        feedsmith(
            self.root(),
            &[
                "check".to_owned(),
                "--posts".to_owned(),
                self.posts().display().to_string(),
            ],
        )
    }
}

/// Runs the real binary in `cwd` (so no stray `feedsmith.toml` is picked up).
pub fn feedsmith(cwd: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run feedsmith")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A post in the SPEC §1 shape.
pub fn news_post(title: &str, date: &str, category: &str, tags: &str, body: &str) -> String {
    format!(
        "---\nlayout: post\ntitle: {title:?}\ndate: {date}\ncategories: {category}\ntags: {tags}\n---\n{body}\n"
    )
}

/// `Vary` on a feed's address (a feed and its browser view) and on every other document.
pub const FEED_VARY: &str = "Accept, Sec-Fetch-Dest, Sec-Fetch-Mode, Accept-Encoding";

/// `Vary` on a post's page: its HTML or, asked by a Fediverse server, its ActivityPub
/// `Article` (`serve` has ActivityPub on by default).
pub const PAGE_VARY: &str = "Accept, Accept-Encoding";

/// The `Vary` a response for `path` carries: feeds (subscription documents and archive pages,
/// which have browser views) vary on what tells a browser from a reader too, and post pages
/// on what tells a browser from a Fediverse server.
pub fn vary_of(path: &str) -> &'static str {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let site_page = path == "/"
        || path == "/index.html"
        || path.starts_with("/tags/")
        || path.starts_with("/categories/");
    if ["/rss.xml", "/atom.xml", "/feed.json"]
        .iter()
        .any(|f| path.ends_with(f))
    {
        FEED_VARY
    } else if !site_page && (path.ends_with(".html") || path.ends_with('/')) {
        PAGE_VARY
    } else {
        "Accept-Encoding"
    }
}

/// `Cache-Control` of a document readers may keep `max_age` seconds, with the default `[cache]`
/// directives for shared caches.
pub fn cache_control(max_age: u32) -> String {
    format!("public, max-age={max_age}, stale-while-revalidate=30, stale-if-error=86400")
}

/// A strict XML tree reader for checking documents independently of the writers.
pub mod xmltree;

/// A running `feedsmith serve` on an ephemeral loopback port. Stopped (SIGTERM, then SIGKILL
/// after a deadline) on drop.
pub struct Server {
    child: Option<std::process::Child>,
    /// `http://127.0.0.1:PORT/` as printed on the first stdout line.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Where the server's stderr (logs) goes.
    pub log: PathBuf,
}

/// How long a server gets to print its address (the initial build runs first).
pub const SERVER_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Server {
    /// Starts `feedsmith serve --posts … --out … --listen 127.0.0.1:0 {extra}` in the site's
    /// root and waits (bounded) for its `listening on …` line. With `FEEDSMITH_TEST_STEERING`
    /// set (`on`/`off`), `--steering {value}` is passed too.
    pub fn start(site: &TempSite, extra: &[&str]) -> Server {
        Server::start_with_env(site, extra, &[])
    }

    /// [`Server::start`] with environment changes for the server process: `(name, Some(v))`
    /// sets a variable, `(name, None)` removes it (e.g. `RUST_LOG`, `NO_COLOR`).
    pub fn start_with_env(site: &TempSite, extra: &[&str], env: &[(&str, Option<&str>)]) -> Server {
        Server::start_full(site, &site.out(), "127.0.0.1:0", extra, env)
    }

    /// [`Server::start_with_env`] writing to `out` instead of the site's `feeds/`: a second
    /// process (a replica) on the same posts.
    pub fn start_into(
        site: &TempSite,
        out: &Path,
        extra: &[&str],
        env: &[(&str, Option<&str>)],
    ) -> Server {
        Server::start_full(site, out, "127.0.0.1:0", extra, env)
    }

    /// [`Server::start_with_env`] listening on `listen` (a port a server used before, so that
    /// the site keeps its URL across a restart).
    pub fn start_on(
        site: &TempSite,
        listen: &str,
        extra: &[&str],
        env: &[(&str, Option<&str>)],
    ) -> Server {
        Server::start_full(site, &site.out(), listen, extra, env)
    }

    /// The server of `site`'s posts, writing to `out`, listening on `listen`.
    pub fn start_full(
        site: &TempSite,
        out: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, Option<&str>)],
    ) -> Server {
        use std::io::BufRead;
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let log = site.root().join(format!(
            "server-{}-{}.log",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let log_file = std::fs::File::create(&log).expect("create server log");
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--posts".into(),
            site.posts().display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--listen".into(),
            listen.into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        // FEEDSMITH_TEST_STEERING=on|off: every server in that mode (CI runs the suite in both).
        match std::env::var("FEEDSMITH_TEST_STEERING") {
            Ok(mode) if !extra.contains(&"--steering") => args.extend(["--steering".into(), mode]),
            _ => {}
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_feedsmith"));
        for (name, value) in env {
            match value {
                Some(v) => command.env(name, v),
                None => command.env_remove(name),
            };
        }
        let mut child = command
            .args(&args)
            .current_dir(site.root())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            // A file, not a pipe: an undrained pipe would block the server's logging.
            .stderr(std::process::Stdio::from(log_file))
            .spawn()
            .expect("spawn feedsmith serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Nobody may listen any more; keep draining so the server never blocks.
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child: Some(child),
            url: String::new(),
            addr: String::new(),
            log,
        };
        let first = match rx.recv_timeout(SERVER_START_TIMEOUT) {
            Ok(line) => line,
            Err(e) => panic!(
                "feedsmith serve printed no first line ({e}); stderr:\n{}",
                server.stderr()
            ),
        };
        let url = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first stdout line {first:?}"))
            .trim()
            .to_owned();
        let addr = url
            .strip_prefix("http://")
            .and_then(|r| r.strip_suffix('/'))
            .unwrap_or_else(|| panic!("unexpected listen URL {url:?}"))
            .to_owned();
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "not an ephemeral loopback address: {addr}"
        );
        server.url = url;
        server.addr = addr;
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Sends a signal by name (`TERM`, `INT`) with `kill(1)`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Polls until the process exits or `timeout` passes.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn stop(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        self.signal("TERM");
        match self.wait_exit(timeout) {
            Some(status) => status,
            None => panic!(
                "feedsmith serve did not exit within {timeout:?} of SIGTERM; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Everything the server logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The absolute URL of a path (`/rss.xml`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url.trim_end_matches('/'), path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            if self.wait_exit(std::time::Duration::from_secs(15)).is_none() {
                if let Some(child) = self.child.as_mut() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }
}

/// Every file under `dir` (not following symlinks), relative path → bytes; symlinks map to
/// their target.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let ft = std::fs::symlink_metadata(&path).unwrap().file_type();
            if ft.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(
                    format!("{rel} -> symlink"),
                    target.to_string_lossy().into_owned().into_bytes(),
                );
            } else if ft.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &path, out);
            } else if ft.is_file() {
                out.insert(rel, std::fs::read(&path).unwrap());
            } else {
                out.insert(format!("{rel} (special)"), Vec::new());
            }
        }
    }
    let mut out = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out
}

/// The regular files of [`tree`]: relative path → bytes.
pub fn regular_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(k, _)| {
            !k.ends_with('/') && !k.ends_with(" -> symlink") && !k.ends_with(" (special)")
        })
        .collect()
}

/// HTTP requests and bounded polling shared by the server, watch and fault tests.
pub mod http;
pub use http::metric_samples;
pub mod nginx;

/// The one raw-socket HTTP client, for bytes on the wire as written and as sent.
pub mod raw;

/// A WebSub subscriber (a small HTTP server that records requests) for the hub tests.
pub mod subscriber;
