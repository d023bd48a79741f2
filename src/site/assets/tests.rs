//! The asset rules, one at a time, on real directories.

use super::*;

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn keys(a: &Assets) -> Vec<&str> {
    a.files.values().map(|a| a.key.as_str()).collect()
}

#[test]
fn names_that_can_be_assets() {
    for yes in [
        "images/p.png",
        "a.pdf",
        "README",
        "episode.mp3",
        "2024/trip/map.jpg",
        "a.md.bak",
    ] {
        assert!(is_asset_path(Path::new(yes)), "{yes}");
    }
    for no in [
        "post.md",
        "page.HTML",
        "notes.txt",
        ".hidden.png",
        ".git/objects/ab",
        "a/.cache/x.png",
        "_drafts/d.png",
        "_includes/x.css",
        "x.png~",
        "x.png.swp",
        "#x.png#",
        "",
    ] {
        assert!(!is_asset_path(Path::new(no)), "{no}");
    }
}

#[test]
fn content_types_and_what_is_compressed() {
    assert_eq!(content_type("a/p.png"), "image/png");
    assert_eq!(content_type("e.mp3"), "audio/mpeg");
    assert_eq!(content_type("d.PDF"), "application/pdf");
    assert_eq!(content_type("README"), "application/octet-stream");
    assert_eq!(content_type("s.svg"), "image/svg+xml");
    for yes in [
        "text/css",
        "image/svg+xml",
        "application/json",
        "text/javascript",
    ] {
        assert!(is_compressible(yes), "{yes}");
    }
    for no in ["image/png", "audio/mpeg", "application/pdf", "video/mp4"] {
        assert!(!is_compressible(no), "{no}");
    }
    assert!(is_compressible(content_type("app.js")));
    assert!(is_compressible(content_type("data.json")));
}

#[test]
fn loading_keeps_assets_and_reports_what_it_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("posts");
    write(&root, "images/p.png", b"png");
    write(&root, "post.md", b"---\ntitle: x\n---\n");
    write(&root, ".h.png", b"hidden");
    write(&root, "_drafts/d.png", b"draft");
    write(&root, "sub/.x/y.png", b"hidden dir");
    write(&root, "big.bin", &[0; 100]);
    write(&root, "docs/a.pdf", b"%PDF");
    let assets = Assets::load(&root, 64);
    assert_eq!(keys(&assets), ["docs/a.pdf", "images/p.png"]);
    let big = assets.errors.get(Path::new("big.bin")).unwrap();
    assert!(matches!(
        big,
        AssetError::TooLarge {
            len: 100,
            limit: 64,
            ..
        }
    ));
    let text = big.to_string();
    assert!(
        text.contains("big.bin") && text.contains("assets.max_bytes"),
        "{text}"
    );
    assert_eq!(assets.errors.len(), 1);
    let p = &assets.files[Path::new("images/p.png")];
    assert_eq!((p.len, p.route().as_str()), (3, "/images/p.png"));
    assert!(assets.names().contains("images/p.png"));
}

#[cfg(unix)]
#[test]
fn symbolic_links_must_stay_inside_posts() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("posts");
    write(&root, "images/p.png", b"png");
    write(dir.path(), "secret/key.pem", b"secret");
    symlink(root.join("images/p.png"), root.join("alias.png")).unwrap();
    symlink(dir.path().join("secret/key.pem"), root.join("key.png")).unwrap();
    symlink(dir.path().join("secret"), root.join("ext")).unwrap();
    symlink(root.join("images"), root.join("pictures")).unwrap();
    symlink(dir.path().join("nowhere.png"), root.join("dangling.png")).unwrap();
    let assets = Assets::load(&root, 1 << 20);
    assert_eq!(
        keys(&assets),
        ["alias.png", "images/p.png", "pictures/p.png"]
    );
    for rel in ["key.png", "ext"] {
        match assets.errors.get(Path::new(rel)) {
            Some(AssetError::Outside { path, .. }) => assert!(path.ends_with(rel)),
            other => panic!("{rel}: {other:?}"),
        }
    }
    assert_eq!(assets.errors.len(), 2, "{:?}", assets.errors);
    // The same, one change at a time (a link made while serving).
    let mut later = Assets::load(&root, 1 << 20);
    symlink(
        dir.path().join("secret/key.pem"),
        root.join("images/k2.png"),
    )
    .unwrap();
    let delta = later.apply(&root, &[Change::Upsert("images/k2.png".into())]);
    assert!(
        delta.upserted.is_empty() && delta.flipped.is_empty(),
        "{delta:?}"
    );
    assert!(matches!(&delta.errors[..], [AssetError::Outside { .. }]));
    let delta = later.apply(&root, &[Change::Upsert("ext/key.pem".into())]);
    assert!(delta.upserted.is_empty(), "{delta:?}");
}

#[test]
fn changes_say_what_came_changed_and_went() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("posts");
    write(&root, "images/p.png", b"png");
    let mut assets = Assets::load(&root, 1 << 10);

    write(&root, "images/q.png", b"new");
    let d = assets.apply(&root, &[Change::Upsert("images/q.png".into())]);
    assert_eq!(d.upserted, [PathBuf::from("images/q.png")]);
    assert_eq!(d.flipped, ["images/q.png"]);

    write(&root, "images/q.png", b"changed, longer");
    let d = assets.apply(&root, &[Change::Upsert("images/q.png".into())]);
    assert_eq!(d.upserted, [PathBuf::from("images/q.png")]);
    assert!(d.flipped.is_empty(), "same key, still there: {d:?}");

    // Nothing changed: nothing to do.
    let d = assets.apply(&root, &[Change::Upsert("images".into())]);
    assert!(d.is_empty() && d.flipped.is_empty(), "{d:?}");

    // Over the limit now: gone, and reported once.
    write(&root, "images/q.png", &[1; 2000]);
    let d = assets.apply(&root, &[Change::Upsert("images/q.png".into())]);
    assert_eq!(d.removed.len(), 1);
    assert_eq!(d.flipped, ["images/q.png"]);
    assert_eq!(d.errors.len(), 1);
    let again = assets.apply(&root, &[Change::Upsert("images/q.png".into())]);
    assert!(again.errors.is_empty() && again.is_empty(), "{again:?}");

    // A directory moved away, then into a `_` directory: its assets go.
    std::fs::rename(root.join("images"), root.join("_old")).unwrap();
    let d = assets.apply(
        &root,
        &[
            Change::Remove("images".into()),
            Change::Upsert("_old".into()),
        ],
    );
    assert_eq!(d.flipped, ["images/p.png"]);
    assert!(
        assets.files.is_empty() && assets.errors.is_empty(),
        "{assets:?}"
    );

    // Moved back: its assets come again.
    std::fs::rename(root.join("_old"), root.join("img")).unwrap();
    let d = assets.apply(&root, &[Change::Upsert("img".into())]);
    assert_eq!(d.flipped, ["img/p.png"]);
    assert_eq!(keys(&assets), ["img/p.png"]);
}
