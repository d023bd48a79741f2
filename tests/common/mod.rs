//! Helpers shared by the integration tests: temp sites, posts, and the real binary.
#![allow(dead_code)]

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
            &["check".to_owned(), "--posts".to_owned(), self.posts().display().to_string()],
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
