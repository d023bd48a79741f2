//! `check`, each bad input named, and posts/ never modified.

use super::*;

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
