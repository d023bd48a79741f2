//! Watching and republishing (SPEC §1, §6, §7), end to end: each test runs the real
//! `feedsmith serve` on a temporary `posts/` directory, changes files the way people and
//! editors do, and checks what HTTP serves afterwards (and what lands in `feeds/`).
//!
//! Every wait for a state is a bounded poll (every ~10 ms up to a deadline), never a fixed
//! sleep: a missing feature fails the test with the last state seen and the server's log. The
//! few fixed sleeps here pace edits or observe time passing (a window, an idle server).

mod bad_posts;
mod dirs;
mod edits;
mod timing;

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant, SystemTime};

use crate::common::http::{self, wait_for};
use crate::common::{news_post, Server, TempSite};

/// How long a change may take to show up over HTTP.
const DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers

/// The configuration the tests serve with unless they say otherwise: a short debounce, no
/// request log (the rebuild lines are logged all the same), unlimited feeds.
const CONFIG: &str = "[server]\ndebounce_ms = 20\naccess_log = false\n\n[feeds]\nlimit = 0\n";

/// Starts `feedsmith serve` on `site` with [`CONFIG`].
fn serve(site: &TempSite) -> Server {
    serve_with(site, CONFIG)
}

/// Starts `feedsmith serve` on `site` with `toml` as its configuration file.
fn serve_with(site: &TempSite, toml: &str) -> Server {
    let config = site.write_config("watch-test.toml", toml);
    Server::start(site, &["--config", &config, "--url", "https://example.com"])
}

/// One feed item as served: title and link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    title: String,
    link: String,
}

/// Parses a feed document (any of the three formats) into its items.
fn items_of(body: &[u8]) -> Result<Vec<Item>, String> {
    let feed = feed_rs::parser::parse(body).map_err(|e| format!("unparsable feed: {e}"))?;
    Ok(feed
        .entries
        .into_iter()
        .map(|e| Item {
            title: e.title.map(|t| t.content).unwrap_or_default(),
            link: e.links.first().map(|l| l.href.clone()).unwrap_or_default(),
        })
        .collect())
}

/// The items a feed route serves now (`Err` when it is not 200 or does not parse).
fn items(server: &Server, route: &str) -> Result<Vec<Item>, String> {
    let r = server.get(route);
    if r.status != 200 {
        return Err(format!("GET {route} → {}", r.status));
    }
    items_of(&r.body)
}

fn titles(server: &Server, route: &str) -> Result<Vec<String>, String> {
    Ok(items(server, route)?.into_iter().map(|i| i.title).collect())
}

/// Waits until `route` serves exactly the titles `want` (in any order, no duplicates).
fn wait_titles(server: &Server, route: &str, want: &[&str]) {
    wait_titles_within(server, route, want, DEADLINE);
}

fn wait_titles_within(server: &Server, route: &str, want: &[&str], timeout: Duration) {
    let mut want_sorted: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want_sorted.sort();
    wait_for(
        &format!("{route} to list exactly {want:?}"),
        timeout,
        Some(server),
        || {
            let mut got = titles(server, route)?;
            got.sort();
            if got == want_sorted {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
}

/// Waits until the server's log mentions `needle` (after `from` bytes of it), so that the
/// test knows a change has been processed even when nothing served changes.
fn wait_log(server: &Server, what: &str, from: usize, needle: &str) -> String {
    wait_for(what, DEADLINE, Some(server), || {
        let log = server.stderr();
        let new = log.get(from..).unwrap_or("");
        if new.contains(needle) {
            Ok(new.to_owned())
        } else {
            Err(format!("log has no {needle:?} yet"))
        }
    })
}

/// Waits until a complete line of the server's log (after `from` bytes of it) satisfies
/// `wanted`, and returns that line.
fn wait_log_line(
    server: &Server,
    what: &str,
    from: usize,
    wanted: impl Fn(&str) -> bool,
) -> String {
    wait_for(what, DEADLINE, Some(server), || {
        complete_lines(&server.stderr(), from)
            .into_iter()
            .find(|l| wanted(l))
            .ok_or_else(|| "no such line yet".to_owned())
    })
}

/// The lines of `log` after its first `from` bytes that have been written whole (a line
/// still being written has no newline yet).
fn complete_lines(log: &str, from: usize) -> Vec<String> {
    let new = log.get(from..).unwrap_or("");
    let whole = new.rfind('\n').map_or("", |end| &new[..end]);
    whole.lines().map(str::to_owned).collect()
}

/// One rebuild line of the server's log, as `serve::log_report` writes it:
/// `{what}: {files} files changed, {rendered} documents rendered ({written} written,
/// {removed} removed), {posts} posts, {served} documents served, {ms} ms`.
#[derive(Debug)]
struct Rebuild {
    /// `initial build`, `republished`, …
    what: String,
    files_changed: usize,
    rendered: usize,
    posts: usize,
    served: usize,
    /// The time figure as written (one decimal).
    ms: String,
    line: String,
}

impl Rebuild {
    /// Reads a rebuild line; `None` for any other line.
    fn parse(line: &str) -> Option<Rebuild> {
        /// The figure (digits and dots) just before the last `label` in the line.
        fn figure<'a>(line: &'a str, label: &str) -> Option<&'a str> {
            let head = &line[..line.rfind(label)?];
            let start = head
                .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(0, |i| i + 1);
            Some(&head[start..]).filter(|f| !f.is_empty())
        }
        let (before, counts) = line.split_once(": ")?;
        // `N files changed, …` or `N files changed (a.md, b.md, 3 more), …`.
        counts.contains(" files changed").then_some(())?;
        let number = |label: &str| figure(counts, label)?.parse::<usize>().ok();
        Some(Rebuild {
            // After the log's time and level.
            what: before
                .rsplit_once(" INFO ")
                .map_or(before, |(_, what)| what)
                .trim()
                .to_owned(),
            files_changed: number(" files changed")?,
            rendered: number(" documents rendered")?,
            posts: number(" posts, ")?,
            served: number(" documents served")?,
            ms: counts
                .strip_suffix(" ms")
                .and(figure(counts, " ms"))?
                .to_owned(),
            line: line.to_owned(),
        })
    }
}

/// The `republished` lines of the log after its first `from` bytes.
fn republished_since(server: &Server, from: usize) -> Vec<Rebuild> {
    complete_lines(&server.stderr(), from)
        .iter()
        .filter_map(|l| Rebuild::parse(l))
        .filter(|r| r.what == "republished")
        .collect()
}

/// The initial build's line: logged before the server says where it listens, so it is there
/// as soon as [`Server::start`] returns — unless the log level hides it.
fn initial_build(server: &Server) -> Rebuild {
    let log = server.stderr();
    log.lines()
        .filter_map(Rebuild::parse)
        .find(|r| r.what == "initial build")
        .unwrap_or_else(|| {
            panic!(
                "no `initial build: …` line: the rebuild log is logged at level info; run the \
                 tests with RUST_LOG unset (or letting info through). Log:\n{log}"
            )
        })
}

/// Checks that each route's file under `feeds/` holds exactly the bytes served (identity
/// encoding). Retried until HTTP and disk agree, since a republish writes the file first and
/// swaps the store right after.
fn assert_disk_matches(server: &Server, site: &TempSite, routes: &[&str]) {
    for route in routes {
        wait_for(
            &format!("feeds{route} on disk to equal the served bytes"),
            DEADLINE,
            Some(server),
            || {
                let first = server.get(route);
                if first.status != 200 {
                    return Err(format!("GET {route} → {}", first.status));
                }
                let disk = fs::read(site.out().join(&route[1..]))
                    .map_err(|e| format!("feeds{route}: {e}"))?;
                let second = server.get(route);
                if first.body == disk && second.body == disk {
                    Ok(())
                } else {
                    Err(format!(
                        "disk has {} bytes, HTTP served {} then {} bytes",
                        disk.len(),
                        first.body.len(),
                        second.body.len()
                    ))
                }
            },
        );
    }
}

/// Waits until `feeds/<rel>` is gone. The publisher swaps the store before it syncs
/// `feeds/`, so an HTTP 404 can be seen a moment before the file is removed.
fn wait_removed(server: &Server, site: &TempSite, rel: &str) {
    let path = site.out().join(rel);
    wait_for(
        &format!("feeds/{rel} to be removed"),
        DEADLINE,
        Some(server),
        || {
            if path.exists() {
                Err(format!("{} still exists", path.display()))
            } else {
                Ok(())
            }
        },
    );
}

/// A post with the given title, date, category and tag.
fn post(title: &str, date: &str, category: &str, tag: &str) -> String {
    news_post(
        title,
        date,
        category,
        tag,
        &format!("Body of {title}.\n\nSecond paragraph."),
    )
}

/// An editor's atomic save (vim with `backupcopy=no`): a swap file `.{name}.swp` and a backup
/// `{name}~` that stay around while editing, and the new text written to `{name}.tmp` and
/// renamed over the post. The leftovers hold current posts with a "Ghost" title, which would
/// be published if not for their names (see also `ignored_names_are_never_published`).
fn atomic_save(site: &TempSite, rel: &str, text: &str) {
    let dest = site.posts().join(rel);
    let dir = dest.parent().expect("parent").to_path_buf();
    let name = dest
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let ghost = post(
        &format!("Ghost of {name}"),
        "2024-01-01 00:00:00 +0000",
        "ghosts",
        "ghosts",
    );
    fs::write(dir.join(format!(".{name}.swp")), &ghost).expect("swap file");
    fs::write(dir.join(format!("{name}~")), &ghost).expect("backup file");
    let tmp = dir.join(format!("{name}.tmp"));
    fs::write(&tmp, text).expect("temp file");
    fs::rename(&tmp, &dest).expect("rename temp over the post");
}

/// Replaces `posts/{rel}` in one step: the text is written to `{rel}.tmp` (an ignored name)
/// and renamed over the post, so the watcher sees one change of a complete file.
fn replace_post(site: &TempSite, rel: &str, text: &str) -> Instant {
    let dest = site.posts().join(rel);
    let tmp = site.posts().join(format!("{rel}.tmp"));
    fs::write(&tmp, text).expect("temp file");
    fs::rename(&tmp, &dest).expect("rename temp over the post");
    Instant::now()
}

fn http_time(value: &str) -> SystemTime {
    httpdate::parse_http_date(value).unwrap_or_else(|e| panic!("bad HTTP date {value:?}: {e}"))
}
