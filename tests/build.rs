//! `feedsmith build` and `feedsmith check` end to end: the real binary on fixture sites in temp
//! directories (SPEC §1 input rules, §2 output files, §3 config, §4 CLI, §7 errors).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{feedsmith, news_post, stderr, stdout, tree, TempSite};

const FEED_FILES: [&str; 3] = ["rss.xml", "atom.xml", "feed.json"];

/// The sample post of SPEC §1.
const SAMPLE: &str = include_str!("fixtures/sample-post.md");

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

// ---------------------------------------------------------------- full build

#[test]
fn full_build_writes_every_expected_file() {
    let site = TempSite::new();
    site.write_post("2021-12-21-port.md", SAMPLE);
    site.write_post(
        "tech/2021-11-02-upper.md",
        &news_post(
            "Upper Rust",
            "2021-11-02 10:00:00 +0000",
            "[\"Tech News\"]",
            "[Rust, 厦门日报新闻]",
            "Upper.",
        ),
    );
    site.write_post(
        "2021-10-03-lower.md",
        &news_post("lower rust", "2021-10-03", "tech-news", "rust", "Lower."),
    );
    let o = site.build(&[]);
    assert_ok(&o);
    assert_eq!(stderr(&o), "", "no errors expected");

    let out = site.out();
    let mut expected: BTreeSet<String> = [
        "rss.xml",
        "atom.xml",
        "feed.json",
        "feeds.opml",
        "index.html",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for dir in [
        "categories/shamenribao",
        "categories/tech-news",
        "tags/厦门日报新闻",
        "tags/rust",
    ] {
        for f in FEED_FILES {
            expected.insert(format!("{dir}/{f}"));
        }
    }
    assert_eq!(files(&out), expected);

    // `Rust` and `rust` share one feed, holding both posts.
    let tags: BTreeSet<String> = fs::read_dir(out.join("tags"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        tags,
        BTreeSet::from(["rust".to_owned(), "厦门日报新闻".to_owned()])
    );
    assert_eq!(
        rss_titles(&site.read_out("tags/rust/rss.xml")),
        vec!["Upper Rust", "lower rust"]
    );
    assert_eq!(
        rss_titles(&site.read_out("tags/厦门日报新闻/rss.xml")),
        vec!["港口吞吐量创新高 外贸航线再扩容", "Upper Rust"]
    );
    assert_eq!(
        rss_titles(&site.read_out("categories/tech-news/rss.xml")),
        vec!["Upper Rust", "lower rust"]
    );

    // All posts, newest first, in every format.
    assert_eq!(
        rss_titles(&site.read_out("rss.xml")),
        vec![
            "港口吞吐量创新高 外贸航线再扩容",
            "Upper Rust",
            "lower rust"
        ]
    );
    for f in FEED_FILES {
        let bytes = fs::read(out.join(f)).unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(feed.entries.len(), 3, "{f}");
        let bytes = fs::read(out.join("tags/厦门日报新闻").join(f)).unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(feed.entries.len(), 2, "tags/厦门日报新闻/{f}");
    }
    let json: serde_json::Value = serde_json::from_str(&site.read_out("feed.json")).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(
        json["items"][0]["external_url"],
        "http://news.example.cn/html_News/NewsShare.html?infoCode=NW202112210001"
    );
    assert_eq!(
        json["items"][0]["date_published"],
        "2021-12-21T08:10:27+08:00"
    );

    // Protocol-relative links became absolute.
    let rss = site.read_out("rss.xml");
    assert!(
        rss.contains("https://news.example.com/category/shamenribao.html"),
        "{rss}"
    );
    assert!(!rss.contains("href=\"//"), "{rss}");

    // OPML lists every term as written, with the percent-encoded feed URL.
    let opml = site.read_out("feeds.opml");
    assert!(opml.contains("text=\"Categories\""), "{opml}");
    assert!(opml.contains("text=\"Tags\""), "{opml}");
    assert!(opml.contains("text=\"厦门日报新闻\""), "{opml}");
    assert!(
        opml.contains(
            "https://example.com/tags/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/rss.xml"
        ),
        "{opml}"
    );
    assert!(opml.contains("text=\"Tech News\""), "{opml}");
    // The index page has autodiscovery for the all-posts feeds.
    let index = site.read_out("index.html");
    assert!(index.contains("rel=\"alternate\""), "{index}");
    assert!(index.contains("https://example.com/rss.xml"), "{index}");

    // One summary line on stdout: posts, documents, time.
    let out_text = stdout(&o);
    assert_eq!(out_text.lines().count(), 1, "{out_text}");
    let docs = expected.len();
    assert!(
        out_text.starts_with(&format!("built 3 posts into {docs} documents in ")),
        "{out_text}"
    );
    assert!(out_text.contains(" ms "), "{out_text}");
    assert!(out_text.contains(&format!("{docs} written")), "{out_text}");
}

#[test]
fn build_goes_on_past_bad_posts_and_names_each() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-one.md",
        &simple_post("One", "2021-01-01", "tags: t"),
    );
    site.write_post(
        "sub/2021-01-02-two.md",
        &simple_post("Two", "2021-01-02", ""),
    );
    site.write_post_bytes("gbk.md", b"---\ntitle: \xd6\xd0\xce\xc4\n---\n");
    site.write_post("nofm.md", "Just text\n");
    site.write_post("sub/unterminated.md", "---\ntitle: x\ndate: 2021-01-01\n");
    site.write_post(
        "yaml.md",
        "---\ntitle: ok\ndate: 2021-01-01\nbad: : :\n---\n",
    );
    site.write_post("baddate.md", "---\ndate: the day after tomorrow\n---\n");
    site.write_post("empty.md", "");
    let o = site.build(&[]);
    assert_ok(&o);
    let err = stderr(&o);
    for (file, reason) in [
        ("gbk.md", "UTF-8"),
        ("nofm.md", "no front matter"),
        ("sub/unterminated.md", "unterminated front matter"),
        ("yaml.md", "YAML"),
        ("baddate.md", "`date`"),
        ("empty.md", "no front matter"),
    ] {
        let line = line_naming(&err, &format!("posts/{file}"));
        assert!(line.contains(reason), "{file}: {line}");
    }
    assert_eq!(err.lines().count(), 6, "{err}");
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Two", "One"]);
    assert_eq!(rss_titles(&site.read_out("tags/t/rss.xml")), vec!["One"]);
    assert!(
        stdout(&o).starts_with("built 2 posts into "),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("6 bad posts skipped"), "{}", stdout(&o));
}

// ---------------------------------------------------------------- check

#[test]
fn check_passes_a_clean_directory() {
    let site = TempSite::new();
    site.write_post("2021-01-01-a.md", SAMPLE);
    site.write_post("b/2021-01-02-b.html", &simple_post("B", "2021-01-02", ""));
    site.write_post("c.txt", &simple_post("C", "2021-01-03", ""));
    let o = site.check();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(stdout(&o).trim(), "3 posts ok, 0 bad");
    // check writes nothing.
    assert!(!site.out().exists());
}

#[test]
fn check_lists_every_bad_file_and_fails() {
    let site = TempSite::new();
    site.write_post("2021-01-01-a.md", &simple_post("A", "2021-01-01", ""));
    let bad = [
        "gbk.md",
        "nofm.md",
        "deep/er/unterminated.md",
        "yaml.markdown",
        "baddate.html",
        "empty.txt",
        "nodate.md",
    ];
    site.write_post_bytes(bad[0], b"---\ntitle: \xd6\xd0\xce\xc4\n---\n");
    site.write_post(bad[1], "no front matter\n");
    site.write_post(bad[2], "---\ntitle: x\n");
    site.write_post(bad[3], "---\ntags: [a, b\n---\n");
    site.write_post(bad[4], "---\ndate: 2021-02-30\n---\n");
    site.write_post(bad[5], "");
    site.write_post(bad[6], "---\ntitle: No date anywhere\n---\n");
    let o = site.check();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for f in bad {
        line_naming(&err, &format!("posts/{f}"));
    }
    assert_eq!(err.lines().count(), bad.len(), "{err}");
    assert_eq!(stdout(&o).trim(), format!("1 posts ok, {} bad", bad.len()));
}

// ---------------------------------------------------------------- each bad input

#[test]
fn not_utf8_names_file_and_line() {
    let line = bad_input_message("gbk.md", |site| {
        site.write_post_bytes("gbk.md", b"---\ntitle: \xd6\xd0\xce\xc4\n---\n");
    });
    assert!(line.contains("gbk.md:2:"), "{line}");
    assert!(line.contains("not valid UTF-8"), "{line}");
}

#[test]
fn no_front_matter_is_named() {
    let line = bad_input_message("plain.md", |site| {
        site.write_post("plain.md", "# Just Markdown\n\nNo front matter here.\n");
    });
    assert!(line.contains("no front matter"), "{line}");
}

#[test]
fn unterminated_front_matter_is_named() {
    let line = bad_input_message("open.md", |site| {
        site.write_post(
            "open.md",
            "---\ntitle: Open\ndate: 2021-01-01\n\nBody without end\n",
        );
    });
    assert!(line.contains("unterminated front matter"), "{line}");
}

#[test]
fn broken_yaml_names_the_line() {
    let line = bad_input_message("broken.md", |site| {
        site.write_post(
            "broken.md",
            "---\ntitle: ok\ndate: 2021-01-01\nbad: : :\nother: x\n---\nbody\n",
        );
    });
    assert!(line.contains("broken.md:4:"), "{line}");
    assert!(line.contains("YAML error"), "{line}");
}

#[test]
fn bad_date_names_the_key_and_value() {
    let line = bad_input_message("when.md", |site| {
        site.write_post("when.md", "---\ntitle: t\ndate: next Tuesday\n---\n");
    });
    assert!(line.contains("`date`"), "{line}");
    assert!(line.contains("next Tuesday"), "{line}");
}

#[test]
fn empty_file_is_named() {
    let line = bad_input_message("empty.md", |site| {
        site.write_post("empty.md", "");
    });
    assert!(line.contains("no front matter"), "{line}");
}

#[test]
fn dangling_symlink_is_unreadable() {
    let line = bad_input_message("x.md", |site| {
        std::os::unix::fs::symlink("missing", site.posts().join("x.md")).unwrap();
    });
    assert!(line.contains("cannot read"), "{line}");
    assert!(line.contains("broken symbolic link"), "{line}");
}

#[test]
fn permission_denied_is_unreadable() {
    use std::os::unix::fs::PermissionsExt;
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-good.md",
        &simple_post("Good post", "2021-01-01", ""),
    );
    let locked = site.write_post("locked.md", &simple_post("Locked", "2021-01-02", ""));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&locked).is_ok() {
        // Running as root (or with CAP_DAC_OVERRIDE): permissions cannot deny the read.
        eprintln!("skipping: this user can read a mode-000 file");
        return;
    }
    let o = site.build(&[]);
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).unwrap();
    assert_ok(&o);
    let err = stderr(&o);
    let line = line_naming(&err, "posts/locked.md");
    assert!(line.contains("cannot read file"), "{line}");
    assert!(line.contains("ermission denied"), "{line}");
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Good post"]);
}

/// A read that fails even for root: `/proc/self/mem` is a regular file whose first page is
/// unmapped, so reading it gives EIO. The mode-000 case above cannot fail as root.
#[cfg(target_os = "linux")]
#[test]
fn read_error_is_unreadable_even_as_root() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-good.md",
        &simple_post("Good post", "2021-01-01", ""),
    );
    std::os::unix::fs::symlink("/proc/self/mem", site.posts().join("mem.md")).unwrap();
    let o = site.build(&[]);
    assert_ok(&o);
    let err = stderr(&o);
    let line = line_naming(&err, "posts/mem.md");
    assert!(line.contains("cannot read file"), "{line}");
    assert!(line.contains("os error"), "{line}");
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Good post"]);
    let o = site.check();
    assert_eq!(o.status.code(), Some(1), "check must fail: {}", stderr(&o));
    assert!(stderr(&o).contains("mem.md"), "{}", stderr(&o));
}

#[test]
fn fifo_named_like_a_post_does_not_hang() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-good.md",
        &simple_post("Good post", "2021-01-01", ""),
    );
    let fifo = site.posts().join("x.md");
    match Command::new("mkfifo").arg(&fifo).status() {
        Ok(st) if st.success() => {}
        other => {
            eprintln!("skipping: mkfifo unavailable ({other:?})");
            return;
        }
    }
    let o = feedsmith_within(
        site.root(),
        &build_args(&site, &[]),
        Duration::from_secs(60),
    );
    assert_ok(&o);
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Good post"]);
    let c = feedsmith_within(
        site.root(),
        &s(&["check", "--posts", &site.posts().display().to_string()]),
        Duration::from_secs(60),
    );
    // A FIFO is not a regular file, so not a post; whatever is said about it, check finishes.
    assert!(c.status.code().is_some(), "{c:?}");
    assert!(stdout(&c).starts_with("1 posts ok"), "{}", stdout(&c));
}

#[test]
fn symlink_loop_does_not_hang() {
    let site = TempSite::new();
    site.write_post(
        "news/2021-01-01-good.md",
        &simple_post("Good post", "2021-01-01", "tags: t"),
    );
    site.write_post("2021-01-02-top.md", &simple_post("Top", "2021-01-02", ""));
    std::os::unix::fs::symlink("..", site.posts().join("news/loop")).unwrap();
    std::os::unix::fs::symlink(".", site.posts().join("self")).unwrap();
    let o = feedsmith_within(
        site.root(),
        &build_args(&site, &[]),
        Duration::from_secs(60),
    );
    assert_ok(&o);
    // Each post once: the loop is not walked round and round.
    assert_eq!(
        rss_titles(&site.read_out("rss.xml")),
        vec!["Top", "Good post"]
    );
    assert_eq!(
        rss_titles(&site.read_out("tags/t/rss.xml")),
        vec!["Good post"]
    );
    let c = feedsmith_within(
        site.root(),
        &s(&["check", "--posts", &site.posts().display().to_string()]),
        Duration::from_secs(60),
    );
    assert!(c.status.code().is_some(), "{c:?}");
    assert!(stdout(&c).starts_with("2 posts ok"), "{}", stdout(&c));
}

// ---------------------------------------------------------------- determinism and disk sync

#[test]
fn rebuild_is_byte_identical_and_leaves_mtimes_alone() {
    let site = TempSite::new();
    site.write_post("2021-12-21-port.md", SAMPLE);
    site.write_post(
        "2021-06-01-b.md",
        &news_post("B", "2021-06-01 12:00", "local", "[x, y]", "B body"),
    );
    site.write_post(
        "2020-06-01-c.md",
        &news_post(
            "C",
            "2020-06-01",
            "local",
            "y",
            "<img data-src=\"/lazy.jpg\">",
        ),
    );
    let first = site.build(&[]);
    assert_ok(&first);
    let before = snapshot(&site.out());
    // All posts, 2 categories and 3 tags: 6 scopes × 3 feeds, plus the OPML and the index.
    assert_eq!(before.len(), 6 * 3 + 2, "{:?}", before.keys());
    tick();
    let second = site.build(&[]);
    assert_ok(&second);
    let after = snapshot(&site.out());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (file, (bytes, time)) in &before {
        let (bytes2, time2) = &after[file];
        assert!(bytes == bytes2, "{file} changed between identical builds");
        assert_eq!(time, time2, "{file} was rewritten with the same bytes");
    }
    let text = stdout(&second);
    assert!(
        text.contains(&format!(
            "(0 written, {} unchanged, 0 removed",
            before.len()
        )),
        "{text}"
    );
}

#[test]
fn stale_term_feeds_are_removed() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-a.md",
        &simple_post("A", "2021-01-01", "tags: [solo, shared]"),
    );
    site.write_post(
        "2021-01-02-b.md",
        &simple_post("B", "2021-01-02", "tags: shared"),
    );
    site.write_post(
        "2021-01-03-c.md",
        &simple_post("C", "2021-01-03", "tags: other\ncategories: misc"),
    );
    assert_ok(&site.build(&[]));
    let out = site.out();
    for f in FEED_FILES {
        assert!(out.join("tags/solo").join(f).is_file(), "tags/solo/{f}");
    }
    let before = snapshot(&out);
    tick();
    site.write_post(
        "2021-01-01-a.md",
        &simple_post("A", "2021-01-01", "tags: [shared]"),
    );
    let o = site.build(&[]);
    assert_ok(&o);
    assert!(stdout(&o).contains(", 3 removed"), "{}", stdout(&o));
    assert!(!out.join("tags/solo").exists(), "tags/solo/ is gone");
    let after = snapshot(&out);
    let expected_files: BTreeSet<&String> = before
        .keys()
        .filter(|k| !k.starts_with("tags/solo/"))
        .collect();
    assert_eq!(after.keys().collect::<BTreeSet<_>>(), expected_files);
    // Feeds that do not contain post A are untouched.
    for dir in ["tags/other", "categories/misc"] {
        for f in FEED_FILES {
            let k = format!("{dir}/{f}");
            assert_eq!(before[&k], after[&k], "{k} was rewritten");
        }
    }
    // The lists no longer mention the tag.
    assert!(!site.read_out("feeds.opml").contains("solo"));
    assert!(!site.read_out("index.html").contains("tags/solo"));
    assert!(!site.read_out("rss.xml").contains("solo"));
}

#[test]
fn editing_a_post_rewrites_only_the_feeds_that_hold_it() {
    let site = TempSite::new();
    site.write_post(
        "2021-03-01-a.md",
        &simple_post("A", "2021-03-01", "tags: ta\ncategories: ca"),
    );
    site.write_post(
        "2021-02-01-b.md",
        &simple_post("B", "2021-02-01", "tags: tb\ncategories: cb"),
    );
    assert_ok(&site.build(&[]));
    let out = site.out();
    let before = snapshot(&out);
    tick();
    site.write_post(
        "2021-03-01-a.md",
        "---\ntitle: A\ndate: 2021-03-01\ntags: ta\ncategories: ca\n---\nA new body.\n",
    );
    let o = site.build(&[]);
    assert_ok(&o);
    let after = snapshot(&out);
    for dir in ["", "tags/ta/", "categories/ca/"] {
        for f in FEED_FILES {
            let k = format!("{dir}{f}");
            assert_ne!(before[&k].0, after[&k].0, "{k} should hold the new body");
            assert_ne!(before[&k].1, after[&k].1, "{k} should have been rewritten");
            assert!(
                String::from_utf8_lossy(&after[&k].0).contains("A new body."),
                "{k}"
            );
        }
    }
    for dir in ["tags/tb/", "categories/cb/"] {
        for f in FEED_FILES {
            let k = format!("{dir}{f}");
            assert_eq!(before[&k], after[&k], "{k} should not have been touched");
        }
    }
    // The lists did not change either.
    for k in ["feeds.opml", "index.html"] {
        assert_eq!(before[k], after[k], "{k} should not have been touched");
    }
    assert!(stdout(&o).contains("(9 written, "), "{}", stdout(&o));
}

// ---------------------------------------------------------------- what is listed

#[test]
fn drafts_and_future_posts_need_their_flags() {
    let site = TempSite::new();
    site.write_post(
        "2021-01-01-normal.md",
        &simple_post("Normal", "2021-01-01", ""),
    );
    site.write_post(
        "2021-01-02-flagged.md",
        &simple_post("Flagged draft", "2021-01-02", "draft: true"),
    );
    site.write_post(
        "_drafts/2021-01-03-folder.md",
        &simple_post("Folder draft", "2021-01-03", ""),
    );
    site.write_post(
        "news/_drafts/2021-01-04-nested.md",
        &simple_post("Nested draft", "2021-01-04", ""),
    );
    site.write_post(
        "2099-01-01-future.md",
        &simple_post("Future", "2099-01-01 00:00:00 +0000", ""),
    );
    site.write_post(
        "2021-01-05-unpublished.md",
        &simple_post("Unpublished", "2021-01-05", "published: false"),
    );

    let titles = |extra: &[&str]| {
        let o = site.build(extra);
        assert_ok(&o);
        assert_eq!(stderr(&o), "", "{extra:?}");
        rss_titles(&site.read_out("rss.xml"))
    };
    assert_eq!(titles(&[]), vec!["Normal"]);
    assert_eq!(
        titles(&["--drafts"]),
        vec!["Nested draft", "Folder draft", "Flagged draft", "Normal"]
    );
    assert_eq!(titles(&["--future"]), vec!["Future", "Normal"]);
    assert_eq!(
        titles(&["--drafts", "--future"]),
        vec![
            "Future",
            "Nested draft",
            "Folder draft",
            "Flagged draft",
            "Normal"
        ]
    );
    // And back: the held-back posts leave the feeds again.
    assert_eq!(titles(&[]), vec!["Normal"]);
}

#[test]
fn hidden_files_leftovers_and_drafts_are_skipped_silently() {
    let site = TempSite::new();
    site.write_post("2021-01-01-real.md", &simple_post("Real", "2021-01-01", ""));
    let junk = "not a post at all \u{1}\n";
    for rel in [
        ".hidden.md",
        ".git/config.md",
        ".obsidian/x/2021-01-01-y.md",
        "2021-01-01-real.md~",
        "2021-01-01-real.md.swp",
        ".2021-01-01-real.md.swp",
        "2021-01-01-real.md.swx",
        "2021-01-01-real.md.tmp",
        "#2021-01-01-real.md#",
        ".#draft.md",
        "notes.rst",
        "image.png",
        "_drafts/unfinished.md",
        "news/_drafts/unfinished.md",
    ] {
        site.write_post(rel, junk);
    }
    site.write_post_bytes("README", b"\xff\xfe binary");
    // Emacs lock files are dangling symlinks; so may be other non-post names.
    std::os::unix::fs::symlink("user@host.1234:1700000000", site.posts().join(".#real.md"))
        .unwrap();
    std::os::unix::fs::symlink("missing.png", site.posts().join("photo.jpg")).unwrap();
    std::os::unix::fs::symlink("nowhere", site.posts().join(".cache")).unwrap();

    let o = site.build(&[]);
    assert_ok(&o);
    assert_eq!(stderr(&o), "");
    assert!(
        stdout(&o).starts_with("built 1 posts into "),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("bad"), "{}", stdout(&o));
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["Real"]);

    let c = site.check();
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
    assert_eq!(stderr(&c), "");
    assert_eq!(stdout(&c).trim(), "1 posts ok, 0 bad");

    // With --drafts the `_drafts` files are read — and these are bad.
    let c = feedsmith(
        site.root(),
        &s(&[
            "check",
            "--drafts",
            "--posts",
            &site.posts().display().to_string(),
        ]),
    );
    assert_eq!(c.status.code(), Some(1), "{}", stderr(&c));
    let err = stderr(&c);
    line_naming(&err, "posts/_drafts/unfinished.md");
    line_naming(&err, "posts/news/_drafts/unfinished.md");
    assert_eq!(err.lines().count(), 2, "{err}");
}

// ---------------------------------------------------------------- configuration

fn four_posts(site: &TempSite) {
    for (i, day) in ["01", "02", "03", "04"].iter().enumerate() {
        site.write_post(
            &format!("2021-05-{day}-p{i}.md"),
            &simple_post(&format!("P{i}"), &format!("2021-05-{day}"), "tags: all"),
        );
    }
}

#[test]
fn limit_from_config_file() {
    let site = TempSite::new();
    four_posts(&site);
    // Without a config: the default limit (50) keeps all four.
    assert_ok(&site.build(&[]));
    assert_eq!(rss_titles(&site.read_out("rss.xml")).len(), 4);

    let config = site.write_config("site.toml", "[feeds]\nlimit = 2\n");
    let o = site.build(&["--config", &config]);
    assert_ok(&o);
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["P3", "P2"]);
    assert_eq!(
        rss_titles(&site.read_out("tags/all/rss.xml")),
        vec!["P3", "P2"]
    );
    let json: serde_json::Value = serde_json::from_str(&site.read_out("feed.json")).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 2);
    let atom = site.read_out("atom.xml");
    assert_eq!(
        count(&atom, "<entry>") + count(&atom, "<entry "),
        2,
        "{atom}"
    );

    // limit = 0 means all.
    fs::write(&config, "[feeds]\nlimit = 0\n").unwrap();
    assert_ok(&site.build(&["--config", &config]));
    assert_eq!(rss_titles(&site.read_out("rss.xml")).len(), 4);

    // `feedsmith.toml` in the working directory is read without `--config`.
    fs::write(site.root().join("feedsmith.toml"), "[feeds]\nlimit = 1\n").unwrap();
    assert_ok(&site.build(&[]));
    assert_eq!(rss_titles(&site.read_out("rss.xml")), vec!["P3"]);
}

#[test]
fn unknown_config_key_is_named() {
    let site = TempSite::new();
    four_posts(&site);
    let config = site.write_config("site.toml", "[feeds]\nlimt = 2\n");
    let o = site.build(&["--config", &config]);
    assert!(!o.status.success(), "an unknown key must fail the build");
    let err = stderr(&o);
    assert!(err.contains("limt"), "{err}");
    assert!(err.contains("site.toml"), "{err}");
    assert!(!site.out().exists(), "nothing is built from a bad config");

    fs::write(&config, "[sight]\ntitle = \"x\"\n").unwrap();
    let o = site.build(&["--config", &config]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("sight"), "{}", stderr(&o));

    // A bad value names its key too.
    fs::write(&config, "[site]\ntimezone = \"Mars/Olympus\"\n").unwrap();
    let o = site.build(&["--config", &config]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("site.timezone"), "{}", stderr(&o));

    // `check` is just as strict.
    fs::write(&config, "[paths]\npost = \"p\"\n").unwrap();
    let o = feedsmith(
        site.root(),
        &s(&[
            "check",
            "--config",
            &config,
            "--posts",
            &site.posts().display().to_string(),
        ]),
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("`post`"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

// ---------------------------------------------------------------- posts/ is read-only

#[test]
fn posts_are_never_modified() {
    let site = TempSite::new();
    site.write_post("2021-12-21-port.md", SAMPLE);
    site.write_post(
        "crlf/2021-01-01-crlf.md",
        "\u{feff}---\r\ntitle: CRLF\r\ndate: 2021-01-01\r\n---\r\nBody\r\n",
    );
    site.write_post_bytes("gbk.md", b"---\ntitle: \xd6\xd0\xce\xc4\n---\n");
    site.write_post("nofm.md", "x\n");
    site.write_post("_drafts/d.md", &simple_post("D", "2021-01-01", ""));
    site.write_post(".hidden.md", "x");
    site.write_post("x.md~", "x");
    std::os::unix::fs::symlink("missing", site.posts().join("dangling.md")).unwrap();
    let posts = site.posts();
    let before = tree(&posts);
    let times: BTreeMap<String, SystemTime> = snapshot(&posts)
        .into_iter()
        .map(|(k, (_, t))| (k, t))
        .collect();
    tick();
    assert_ok(&site.build(&[]));
    assert_ok(&site.build(&["--drafts", "--future"]));
    let _ = site.check();
    assert_eq!(tree(&posts), before, "posts/ changed");
    let times_after: BTreeMap<String, SystemTime> = snapshot(&posts)
        .into_iter()
        .map(|(k, (_, t))| (k, t))
        .collect();
    assert_eq!(times, times_after, "a post's mtime changed");
    // The output went where it was told, not into posts/.
    assert!(site.out().join("rss.xml").is_file());
}

// ---------------------------------------------------------------- command line

#[test]
fn help_on_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for (cmd, flags) in [
        (
            "build",
            &[
                "--config", "--posts", "--out", "--url", "--drafts", "--future",
            ][..],
        ),
        (
            "serve",
            &[
                "--config", "--posts", "--out", "--url", "--drafts", "--future", "--listen",
            ][..],
        ),
        ("check", &["--config", "--posts"][..]),
    ] {
        let o = feedsmith(dir.path(), &s(&[cmd, "--help"]));
        assert_eq!(o.status.code(), Some(0), "{cmd} --help: {}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains(&format!("Usage: feedsmith {cmd}")),
            "{cmd}: {text}"
        );
        for flag in flags {
            assert!(text.contains(flag), "{cmd} --help lacks {flag}: {text}");
        }
    }
    let o = feedsmith(dir.path(), &s(&["--help"]));
    assert_eq!(o.status.code(), Some(0));
    for cmd in ["build", "serve", "check"] {
        assert!(stdout(&o).contains(cmd), "{}", stdout(&o));
    }
    // Nothing was built by asking for help.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn missing_posts_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = feedsmith(
        dir.path(),
        &s(&["build", "--posts", &missing.display().to_string()]),
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
    let o = feedsmith(
        dir.path(),
        &s(&["check", "--posts", &missing.display().to_string()]),
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
}

#[test]
fn site_timezone_from_config_applies_to_dates_without_offset() {
    let site = TempSite::new();
    site.write_post("2021-05-01-a.md", &simple_post("A", "2021-05-01 09:30", ""));
    site.write_post(
        "2021-05-02-b.md",
        &simple_post("B", "2021-05-02 09:30 -0300", ""),
    );
    let config = site.write_config("site.toml", "[site]\ntimezone = \"+08:00\"\n");
    assert_ok(&site.build(&["--config", &config]));
    let json: serde_json::Value = serde_json::from_str(&site.read_out("feed.json")).unwrap();
    assert_eq!(
        json["items"][0]["date_published"],
        "2021-05-02T09:30:00-03:00"
    );
    assert_eq!(
        json["items"][1]["date_published"],
        "2021-05-01T09:30:00+08:00"
    );
    assert!(
        site.read_out("rss.xml")
            .contains("<pubDate>Sat, 01 May 2021 09:30:00 +0800</pubDate>"),
        "{}",
        site.read_out("rss.xml")
    );
    // Without the config: UTC.
    assert_ok(&site.build(&[]));
    let json: serde_json::Value = serde_json::from_str(&site.read_out("feed.json")).unwrap();
    let utc = json["items"][1]["date_published"].as_str().unwrap();
    assert!(
        ["2021-05-01T09:30:00Z", "2021-05-01T09:30:00+00:00"].contains(&utc),
        "{utc}"
    );
}

/// An output path that cannot be a directory: the build fails, names the path, and does not
/// claim documents it never made.
#[test]
fn an_output_that_cannot_be_created_fails_the_build_and_says_so() {
    let site = TempSite::new();
    site.write_post("a.md", &simple_post("A", "2021-06-01 12:00", ""));
    fs::write(site.out(), "not a directory\n").unwrap();
    let o = site.build(&[]);
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&site.out().display().to_string()) && err.contains("cannot create"),
        "{err}"
    );
    assert!(stdout(&o).contains("into 0 documents"), "{}", stdout(&o));
    assert_eq!(fs::read_to_string(site.out()).unwrap(), "not a directory\n");
}

/// A failing build whose stderr cannot be written (a log file on a full disk) still exits
/// with the error code, not a panic's 101.
#[cfg(target_os = "linux")]
#[test]
fn an_error_with_nowhere_to_print_it_still_exits_with_the_error_code() {
    let site = TempSite::new();
    let o = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
        .args(["build", "--posts", "does-not-exist"])
        .current_dir(site.root())
        .stdout(Stdio::null())
        .stderr(fs::File::create("/dev/full").expect("/dev/full"))
        .output()
        .expect("run feedsmith");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}
