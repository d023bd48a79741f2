//! What is never served: files that are not assets (hidden, in `_` directories, editor
//! leftovers, posts' sources), files over the size limit, links out of `posts/`, and anything
//! a request path tries to reach outside the asset index.

use super::{ask, post, serve};
use crate::common::{raw, stderr, TempSite};

/// A site with an asset and, around it, every kind of file that must not be served.
fn site() -> TempSite {
    let site = TempSite::new();
    site.write_post("2024-02-10-a.md", &post("A", "![ok](ok.png)"));
    site.write_post_bytes("ok.png", b"fine");
    site.write_post_bytes(".secret.png", b"hidden file");
    site.write_post_bytes(".git/config", b"hidden directory");
    site.write_post_bytes("_drafts/d.png", b"draft asset");
    site.write_post_bytes("_includes/x.css", b"underscore directory");
    site.write_post_bytes("ok.png~", b"editor leftover");
    site.write_post_bytes("big.bin", &[7; 5000]);
    std::fs::write(site.root().join("secret.txt"), b"outside posts").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            site.root().join("secret.txt"),
            site.posts().join("leak.png"),
        )
        .unwrap();
        std::os::unix::fs::symlink(site.posts().join("ok.png"), site.posts().join("alias.png"))
            .unwrap();
    }
    site
}

#[test]
fn files_that_are_not_assets_are_neither_served_nor_copied() {
    let site = site();
    let server = serve(&site, "[assets]\nmax_bytes = 4096\n");
    assert_eq!(ask(&server, "GET", "/ok.png", &[]).body, b"fine");
    for path in [
        "/.secret.png",
        "/.git/config",
        "/_drafts/d.png",
        "/_includes/x.css",
        "/ok.png~",
        "/big.bin",
        "/2024-02-10-a.md",
        "/leak.png",
    ] {
        assert_eq!(ask(&server, "GET", path, &[]).status, 404, "{path}");
        let copy = site.out().join(&path[1..]);
        assert!(!copy.exists(), "{path} copied to {}", copy.display());
    }
    let log = server.stderr();
    assert!(
        log.contains("big.bin") && log.contains("assets.max_bytes"),
        "the oversize file is named with why: {log}"
    );
    #[cfg(unix)]
    {
        assert!(
            log.contains("leak.png") && log.contains("outside the posts directory"),
            "the link out of posts/ is named with why: {log}"
        );
        // A link that stays inside posts/ is an asset like any other.
        assert_eq!(ask(&server, "GET", "/alias.png", &[]).body, b"fine");
    }
    // build leaves them out the same way, and says so.
    drop(server);
    let config = site.write_config("limits.toml", "[assets]\nmax_bytes = 4096\n");
    let o = site.build(&["--config", &config]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("big.bin"), "{}", stderr(&o));
    assert!(!site.out().join("big.bin").exists());
    assert!(!site.out().join("leak.png").exists());
    assert!(site.out().join("ok.png").is_file());
}

#[test]
fn no_request_path_reaches_a_file_outside_the_assets() {
    let site = site();
    site.write_post_bytes("a b/c d.png", b"spaced");
    let server = serve(&site, "");
    assert_eq!(
        raw::get(&server.addr, "/a%20b/c%20d.png").body,
        b"spaced",
        "an encoded name is served"
    );
    for target in [
        "/../secret.txt",
        "/ok.png/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/secret.txt",
        "/a%20b/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/a%20b%2F..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/a%20b/..%5C..%5Csecret.txt",
        "//secret.txt",
        "/./secret.txt",
        "/secret.txt",
        "/posts/ok.png",
        "/leak.png",
        "/.%2e/secret.txt",
    ] {
        let r = raw::get(&server.addr, target);
        assert!(
            r.status == 404 || r.status == 400,
            "{target}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains("outside posts"),
            "{target} reached the file outside"
        );
    }
}
