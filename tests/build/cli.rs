//! Configuration and the command line.

use super::*;

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
