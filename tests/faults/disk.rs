//! Faults of the disk: unwritable output, leftovers, SIGKILL mid-build, a full disk.

use super::*;

// ---------------------------------------------------------------------------------------------
// The disk

/// `feeds` becomes a regular file: writes fail, the server keeps serving the new content from
/// memory and says which path it cannot write; once the file is gone, the publisher's retry
/// puts every document back on disk.
#[test]
fn unwritable_output_is_served_from_memory_and_written_once_possible() {
    let site = TempSite::new();
    write_three_posts(&site);
    let mut server = serve(&site, "");
    let served_titles = |route: &str| -> Result<Vec<String>, String> {
        let r = server.get(route);
        if r.status != 200 {
            return Err(format!("GET {route} → {}", r.status));
        }
        json_titles(&r.body)
    };
    assert_eq!(
        served_titles("/feed.json").unwrap().len(),
        3,
        "initial feed"
    );
    assert!(site.out().join("feed.json").is_file());

    // A regular file where the output directory must be.
    fs::remove_dir_all(site.out()).unwrap();
    fs::write(site.out(), "not a directory\n").unwrap();
    let mark = server.stderr().len();

    site.write_post(
        "a.md",
        &post("Alpha v2", "2024-03-01 10:00:00 +0000", "news", "t"),
    );
    wait_for(
        "the edit to be served while feeds/ cannot be written",
        DEADLINE,
        Some(&server),
        || {
            let t = served_titles("/feed.json")?;
            if t.contains(&"Alpha v2".to_owned()) && t.len() == 3 {
                Ok(())
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    let out = site.out().display().to_string();
    let line = wait_for(
        "the write error in the log",
        DEADLINE,
        Some(&server),
        || {
            let log = server.stderr();
            log[mark..]
                .lines()
                .find(|l| l.contains(&out) && l.contains("cannot write"))
                .map(str::to_owned)
                .ok_or_else(|| "no line naming the output path and the write error".into())
        },
    );
    assert!(
        line.contains(&format!("{out}/")),
        "the error should name the file it could not write: {line}"
    );
    // Still up: every kind of document is served, and the file is left alone.
    for route in [
        "/rss.xml",
        "/atom.xml",
        "/categories/news/feed.json",
        "/feeds.opml",
        "/index.html",
    ] {
        assert_eq!(server.get(route).status, 200, "{route}");
    }
    assert!(site.out().is_file());
    assert!(server.wait_exit(Duration::ZERO).is_none(), "server exited");

    // The obstacle goes: within a few retries, what is served is what is on disk — the edited
    // feeds, and every other document too.
    fs::remove_file(site.out()).unwrap();
    let routes = [
        "/feed.json",
        "/rss.xml",
        "/atom.xml",
        "/categories/news/rss.xml",
        "/categories/news/feed.json",
        "/tags/t/atom.xml",
        "/tags/u/rss.xml",
        "/categories/other/feed.json",
        "/tags/w/atom.xml",
        "/feeds.opml",
        "/index.html",
    ];
    for route in routes {
        wait_for(
            &format!("feeds{route} on disk to equal the served bytes"),
            DEADLINE,
            Some(&server),
            || {
                let served = http::get(&server.at(route), &[]);
                if served.status != 200 {
                    return Err(format!("GET {route} → {}", served.status));
                }
                let disk = fs::read(site.out().join(&route[1..]))
                    .map_err(|e| format!("feeds{route}: {e}"))?;
                if disk == served.body {
                    Ok(())
                } else {
                    Err(format!(
                        "disk {} bytes, served {} bytes",
                        disk.len(),
                        served.body.len()
                    ))
                }
            },
        );
    }
    let rss = site.read_out("rss.xml");
    assert!(rss.contains("Alpha v2"), "{rss}");
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
}

/// Temp files a killed writer left behind are removed by the next build; real feeds stay.
#[test]
fn leftover_temp_files_are_removed_by_the_next_build() {
    let site = TempSite::new();
    site.write_post(
        "a.md",
        &post("Alpha", "2024-03-01 10:00:00 +0000", "news", "x"),
    );
    let first = site.build(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let rss_before = fs::read(site.out().join("rss.xml")).unwrap();
    let atom_before = fs::read(site.out().join("tags/x/atom.xml")).unwrap();

    let leftovers = [
        site.out().join(".rss.xml.99999.tmp"),
        site.out().join("tags/x/.atom.xml.1.tmp"),
        site.out().join("categories/news/.feed.json.4242.tmp"),
    ];
    for l in &leftovers {
        fs::write(l, b"<?xml version=\"1.0\"?><rss><chan").unwrap();
    }
    let o = site.build(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for l in &leftovers {
        assert!(!l.exists(), "{} survived the build", l.display());
    }
    assert_eq!(fs::read(site.out().join("rss.xml")).unwrap(), rss_before);
    assert_eq!(
        fs::read(site.out().join("tags/x/atom.xml")).unwrap(),
        atom_before
    );
    let left: Vec<PathBuf> = files_under(&site.out())
        .into_iter()
        .filter(|p| is_tmp(p))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for f in files_under(&site.out()) {
        complete_document(&f).unwrap();
    }
}

/// SIGKILL at any moment of a build leaves only complete documents under their real names, and
/// the next build cleans up after it.
#[test]
fn sigkill_mid_build_never_leaves_a_partial_document() {
    let site = TempSite::new();
    // 3,000 posts, 30 categories, 1,500 tags (4 per post): thousands of files to write.
    for i in 0..3000 {
        let tags: Vec<String> = (0..4)
            .map(|k| format!("t{}", (i * 7 + k * 389) % 1500))
            .collect();
        let date = format!(
            "20{:02}-{:02}-{:02} {:02}:{:02}:00 +0000",
            10 + i % 14,
            1 + i % 12,
            1 + i % 28,
            i % 24,
            i % 60
        );
        site.write_post(
            &format!("d{}/p{i:04}.md", i % 10),
            &news_post(
                &format!("Post {i}"),
                &date,
                &format!("c{}", i % 30),
                &tags.join(" "),
                &format!("Short body {i}.\n"),
            ),
        );
    }
    let (o, _) = run_within(
        site.root(),
        &build_args(&site, "https://first.example"),
        Duration::from_secs(300),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let files = files_under(&site.out()).len();
    assert!(files > 4500, "only {files} files written");
    // When a rebuild starts writing and when it ends, to aim kills into its write phase: the
    // first file written is the first route in order (`/atom.xml`).
    let (write_start, end) = {
        let first = site.out().join("atom.xml");
        let before = fs::metadata(&first).unwrap().modified().unwrap();
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .args(build_args(&site, "https://calibrate.example"))
            .current_dir(site.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn build");
        let mut write_start = None;
        let status = loop {
            if write_start.is_none()
                && fs::metadata(&first).and_then(|m| m.modified()).ok() != Some(before)
            {
                write_start = Some(started.elapsed());
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(300), "build hangs");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(status.success());
        let end = started.elapsed();
        (write_start.unwrap_or(end / 2).min(end), end)
    };
    let ms = |d: Duration| d.as_millis() as u64;
    let mut delays: Vec<u64> = vec![20, 60, 120, 250, 500];
    // Spread over the write phase, where files are being renamed into place.
    let span = ms(end - write_start).max(5);
    delays.extend((0..6).map(|k| ms(write_start) + span * (2 * k + 1) / 12));
    let mut killed_running = 0;
    let mut saw_temp = 0;
    for (round, delay) in delays.iter().enumerate() {
        // A different site URL each round changes every document, so every file is rewritten.
        let url = format!("https://r{round}.example");
        let mut child = Command::new(env!("CARGO_BIN_EXE_feedsmith"))
            .args(build_args(&site, &url))
            .current_dir(site.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn build");
        std::thread::sleep(Duration::from_millis(*delay));
        if child.try_wait().unwrap().is_none() {
            killed_running += 1;
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        let files = files_under(&site.out());
        saw_temp += usize::from(files.iter().any(|p| is_tmp(p)));
        let bad: Vec<String> = files
            .iter()
            .filter(|p| !is_hidden(p))
            .filter_map(|p| complete_document(p).err())
            .collect();
        assert!(
            bad.is_empty(),
            "round {round} (killed after {delay} ms, {status:?}): {} incomplete documents, e.g.\n{}",
            bad.len(),
            bad.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
        );
        // A normal build recovers and leaves no temp file.
        let (o, _) = run_within(
            site.root(),
            &build_args(&site, &url),
            Duration::from_secs(300),
        );
        assert!(
            o.status.success(),
            "round {round}: build after the kill failed:\n{}",
            stderr(&o)
        );
        let files = files_under(&site.out());
        let tmp: Vec<&PathBuf> = files.iter().filter(|p| is_tmp(p)).collect();
        assert!(tmp.is_empty(), "round {round}: temp files left: {tmp:?}");
        assert!(files.len() > 4500, "round {round}: {} files", files.len());
        let rss = site.read_out("rss.xml");
        assert!(
            rss.contains(&url),
            "round {round}: rss.xml is not from the last build"
        );
    }
    assert!(
        killed_running >= delays.len() / 2,
        "most builds finished before their kill ({killed_running} of {} killed running): the \
         test did not exercise a kill",
        delays.len()
    );
    eprintln!(
        "build writes from {write_start:?} to {end:?}; kills at {delays:?} ms; \
         {killed_running}/{} builds killed while running; {saw_temp} rounds left temp files",
        delays.len()
    );
    // The last round's feeds parse as feeds, too.
    for route in ["rss.xml", "atom.xml", "feed.json", "tags/t0/rss.xml"] {
        let bytes = fs::read(site.out().join(route)).unwrap();
        feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{route}: {e}"));
    }
}

/// A tmpfs mounted for one test, unmounted on drop (lazily if something still holds it), so a
/// failing assertion never leaves a mount behind.
struct TmpfsMount {
    path: PathBuf,
}

impl TmpfsMount {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it) at `path`, creating the
    /// directory; `Err` with mount's own words when mounting is not permitted here.
    fn mount(path: &Path, size: &str) -> Result<TmpfsMount, String> {
        fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let o = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if o.status.success() {
            Ok(TmpfsMount {
                path: path.to_path_buf(),
            })
        } else {
            Err(format!("{}: {}", o.status, stderr(&o).trim()))
        }
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Fills the file system holding `path` with one file, then gives back `slack` bytes of it:
/// every later write larger than that fails with ENOSPC.
fn fill_leaving(path: &Path, slack: u64) -> fs::File {
    let mut f = fs::File::create(path).expect("create filler");
    let chunk = vec![0x5au8; 64 * 1024];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    let full = f.metadata().unwrap().len();
    f.set_len(full.saturating_sub(slack))
        .expect("shrink filler");
    f
}

/// The output directory is a small tmpfs that fills up: documents that no longer fit are
/// served from memory with an error naming their file, the files already there stay whole (a
/// failed write leaves neither a partial document nor a temp file), and once space is freed
/// the retry writes exactly what is served.
#[test]
fn disk_full_keeps_old_files_whole_and_writes_the_new_ones_once_space_is_freed() {
    let site = TempSite::new();
    let tmpfs = match TmpfsMount::mount(&site.out(), "2m") {
        Ok(m) => m,
        Err(e) => {
            eprintln!("skipped: cannot mount tmpfs ({e})");
            return;
        }
    };
    write_three_posts(&site);
    let mut server = serve(&site, "");
    let out = site.out();
    let documents = |dir: &Path| -> Vec<PathBuf> {
        files_under(dir)
            .into_iter()
            .filter(|p| !is_hidden(p))
            .collect()
    };
    // The site fits: every document is on the tmpfs.
    let before: std::collections::BTreeMap<PathBuf, Vec<u8>> = documents(&out)
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    assert!(
        before.len() >= 20 && before.contains_key(&out.join("feed.json")),
        "{:?}",
        before.keys()
    );
    for p in before.keys() {
        complete_document(p).unwrap();
    }

    // The disk fills up, but for 16 KiB; then two posts with ~24 KB bodies arrive: every feed
    // listing them (all posts, category `big`, tag `bulk`) is over 40 KB and cannot be written.
    let filler_path = out.join(".filler");
    let filler = fill_leaving(&filler_path, 16 * 1024);
    let mark = server.stderr().len();
    let para = "The harbour authority reported record container throughput for the eleventh \
                month in a row, and the new shipping lines are expected to add more next year. ";
    for (name, title, day) in [("big1.md", "Big one", 4), ("big2.md", "Big two", 5)] {
        site.write_post(
            name,
            &news_post(
                title,
                &format!("2024-03-0{day} 10:00:00 +0000"),
                "big",
                "bulk",
                &format!("{}\n", para.repeat(150)),
            ),
        );
    }
    let feed = wait_for(
        "the big posts to be served while the disk is full",
        DEADLINE,
        Some(&server),
        || {
            let r = server.get("/feed.json");
            let t = json_titles(&r.body)?;
            if t.len() == 5
                && t.contains(&"Big one".to_owned())
                && t.contains(&"Big two".to_owned())
            {
                Ok(r)
            } else {
                Err(format!("{t:?}"))
            }
        },
    );
    assert!(feed.body.len() > 40_000, "{} bytes", feed.body.len());
    let shown = out.display().to_string();
    let line = wait_for(
        "a disk-full error naming a file",
        DEADLINE,
        Some(&server),
        || {
            server.stderr()[mark..]
                .lines()
                .find(|l| {
                    l.contains(&format!("{shown}/"))
                        && l.contains("cannot write")
                        && l.contains("No space left on device")
                })
                .map(str::to_owned)
                .ok_or_else(|| "no line naming a file under feeds/ and ENOSPC".into())
        },
    );
    // Served from memory: the new scopes and the new posts' pages.
    for route in [
        "/categories/big/feed.json",
        "/categories/big/rss.xml",
        "/tags/bulk/atom.xml",
        "/rss.xml",
        "/feeds.opml",
        "/index.html",
    ] {
        assert_eq!(server.get(route).status, 200, "{route}");
    }
    for link in json_links(&feed.body) {
        let page = link.strip_prefix(SITE_URL).unwrap();
        assert_eq!(server.get(page).status, 200, "{page}");
    }
    let json = server.get("/categories/big/feed.json");
    assert_eq!(json_titles(&json.body).unwrap().len(), 2);
    // A temp file exists only while a write (or a retry) is in flight: none may stay.
    wait_for(
        "no temp file left on the full disk",
        DEADLINE,
        Some(&server),
        || {
            let tmp: Vec<PathBuf> = files_under(&out)
                .into_iter()
                .filter(|p| is_tmp(p))
                .collect();
            if tmp.is_empty() {
                Ok(())
            } else {
                Err(format!("{tmp:?}"))
            }
        },
    );
    // On disk: every old file is still there, and each file is either its old bytes or the
    // complete new document (a small one that fitted); the big feeds are their old bytes.
    for (path, old) in &before {
        let now = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if &now != old {
            let served = server.get(&target_of(&out, path));
            assert_eq!(
                now,
                served.body,
                "{} is neither its old version nor the served one",
                path.display()
            );
        }
    }
    for name in ["rss.xml", "atom.xml", "feed.json"] {
        assert_eq!(
            &fs::read(out.join(name)).unwrap(),
            &before[&out.join(name)],
            "{name} changed on a full disk"
        );
    }
    for p in documents(&out) {
        complete_document(&p).unwrap();
        if !before.contains_key(&p) {
            // Written whole (it fitted), so it is what is served.
            assert_eq!(
                fs::read(&p).unwrap(),
                server.get(&target_of(&out, &p)).body,
                "{}",
                p.display()
            );
        }
    }
    assert!(server.wait_exit(Duration::ZERO).is_none(), "server exited");

    // Space comes back: the retry writes what is served, and says so.
    let mark = server.stderr().len();
    drop(filler);
    fs::remove_file(&filler_path).unwrap();
    wait_for(
        "the log to say documents were written on retry",
        DEADLINE,
        Some(&server),
        || {
            server.stderr()[mark..]
                .lines()
                .find(|l| l.contains("documents written to disk on retry"))
                .map(|_| ())
                .ok_or_else(|| "no retry line yet".into())
        },
    );
    let mut expected: BTreeSet<PathBuf> = before.keys().cloned().collect();
    for scope in ["categories/big", "tags/bulk"] {
        for name in ["rss.xml", "atom.xml", "feed.json", "index.html"] {
            expected.insert(out.join(scope).join(name));
        }
    }
    wait_for(
        "every document on disk to equal the served bytes",
        DEADLINE,
        Some(&server),
        || {
            let on_disk: BTreeSet<PathBuf> = documents(&out).into_iter().collect();
            if on_disk != expected {
                return Err(format!(
                    "missing {:?}, unexpected {:?}",
                    expected.difference(&on_disk).collect::<Vec<_>>(),
                    on_disk.difference(&expected).collect::<Vec<_>>()
                ));
            }
            for p in &on_disk {
                let target = target_of(&out, p);
                let served = http::get(&server.at(&target), &[]);
                if served.status != 200 {
                    return Err(format!("GET {target} → {}", served.status));
                }
                let disk = fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
                if disk != served.body {
                    return Err(format!(
                        "{target}: disk {} bytes, served {} bytes",
                        disk.len(),
                        served.body.len()
                    ));
                }
            }
            Ok(())
        },
    );
    let tmp: Vec<PathBuf> = files_under(&out)
        .into_iter()
        .filter(|p| is_tmp(p))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    for p in documents(&out) {
        complete_document(&p).unwrap();
    }
    assert!(site.read_out("rss.xml").contains("Big two"));
    eprintln!("disk full: {line}");
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
    drop(tmpfs);
}
