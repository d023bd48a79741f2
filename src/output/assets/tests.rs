//! Asset copies on real directories.

use super::*;
use crate::site::assets::Assets;

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn sync(copies: &mut Copies, posts: &Path) -> AssetSync {
    let assets = Assets::load(posts, 1 << 20);
    copies.sync(posts, &assets.files, reserved, 1 << 20)
}

#[test]
fn the_sites_own_routes_are_reserved() {
    for yes in [
        "/rss.xml",
        "/feed.json",
        "/tags/rust/atom.xml",
        "/categories/新闻/rss.xml",
        "/archive/3/rss.xml",
        "/tags/rust/archive/1/feed.json",
        "/feeds.opml",
        "/index.html",
    ] {
        assert!(reserved(yes), "{yes}");
    }
    for no in [
        "/images/rss.xml",
        "/tags/rss.xml",
        "/a/tags/rust/rss.xml",
        "/archive/2019/photo.jpg",
        "/images/p.png",
        "/feeds.opml.bak",
    ] {
        assert!(!reserved(no), "{no}");
    }
}

#[test]
fn the_hash_of_a_copy_is_the_hash_of_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..3 * COPY_CHUNK + 17)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let (src, dest) = (dir.path().join("a.bin"), dir.path().join("out/a.bin"));
    fs::write(&src, &bytes).unwrap();
    let (hash, len, modified, kept) = copy_file(&src, &dest, 1 << 30, true).unwrap();
    assert_eq!(hash, hash_of(&bytes));
    assert_eq!(len, bytes.len() as u64);
    assert_eq!(kept.unwrap(), bytes);
    assert_eq!(fs::read(&dest).unwrap(), bytes);
    assert_eq!(fs::metadata(&dest).unwrap().modified().unwrap(), modified);
    assert_eq!(fs::metadata(&src).unwrap().modified().unwrap(), modified);
    // Over the limit while copying: no copy, no temporary file left.
    let err = copy_file(&src, &dir.path().join("out/b.bin"), 100, false).unwrap_err();
    assert!(
        matches!(err, CopyError::TooLarge { limit: 100, .. }),
        "{err}"
    );
    let names: Vec<_> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.bin"]);
}

#[test]
fn copies_only_what_changed_and_removes_only_its_own_stale_copies() {
    let dir = tempfile::tempdir().unwrap();
    let (posts, out) = (dir.path().join("posts"), dir.path().join("feeds"));
    write(&posts, "images/p.png", b"png bytes");
    write(&posts, "css/site.css", b"body { color: red }");
    write(&posts, "rss.xml", b"an asset at a document's route");
    write(&out, "rss.xml", b"<rss/>");
    write(&out, "mine.txt", b"a file feedsmith did not write");

    let mut copies = Copies::open(&out);
    let r = sync(&mut copies, &posts);
    assert_eq!((r.written, r.unchanged, r.removed), (2, 0, 0), "{r:?}");
    assert!(r.failed.is_empty() && r.errors.is_empty(), "{r:?}");
    assert_eq!(fs::read(out.join("images/p.png")).unwrap(), b"png bytes");
    assert_eq!(
        fs::read(out.join("rss.xml")).unwrap(),
        b"<rss/>",
        "documents win"
    );
    let css = r
        .copied
        .iter()
        .find(|c| c.route == "/css/site.css")
        .unwrap();
    assert_eq!(css.bytes.as_deref(), Some(&b"body { color: red }"[..]));
    let png = r
        .copied
        .iter()
        .find(|c| c.route == "/images/p.png")
        .unwrap();
    assert!(png.bytes.is_none(), "served from its file");
    assert_eq!(png.hash, hash_of(b"png bytes"));
    assert!(out.join(MANIFEST).is_file());

    // Again, from a fresh start: nothing is copied, the hashes come from the manifest.
    let mut copies = Copies::open(&out);
    let r = sync(&mut copies, &posts);
    assert_eq!((r.written, r.unchanged, r.removed), (0, 2, 0), "{r:?}");
    let again = r
        .copied
        .iter()
        .find(|c| c.route == "/images/p.png")
        .unwrap();
    assert_eq!(again.hash, png.hash);
    let css = r
        .copied
        .iter()
        .find(|c| c.route == "/css/site.css")
        .unwrap();
    assert_eq!(css.bytes.as_deref(), Some(&b"body { color: red }"[..]));

    // A changed source is copied again; a removed one's copy goes, with its empty directory.
    write(&posts, "images/p.png", b"new png bytes");
    fs::remove_file(posts.join("css/site.css")).unwrap();
    let r = sync(&mut copies, &posts);
    assert_eq!((r.written, r.unchanged, r.removed), (1, 0, 1), "{r:?}");
    assert_eq!(
        fs::read(out.join("images/p.png")).unwrap(),
        b"new png bytes"
    );
    assert!(!out.join("css").exists());

    // No asset left: no copy and no manifest; files feedsmith did not write stay.
    fs::remove_dir_all(posts.join("images")).unwrap();
    let r = sync(&mut copies, &posts);
    assert_eq!(r.removed, 1, "{r:?}");
    assert!(!out.join(MANIFEST).exists() && !out.join("images").exists());
    assert!(out.join("mine.txt").is_file() && out.join("rss.xml").is_file());
}

#[test]
fn a_copy_changed_behind_its_back_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let (posts, out) = (dir.path().join("posts"), dir.path().join("feeds"));
    write(&posts, "a.png", b"original");
    let mut copies = Copies::open(&out);
    sync(&mut copies, &posts);
    fs::write(out.join("a.png"), b"tampered").unwrap();
    let r = sync(&mut copies, &posts);
    assert_eq!(r.written, 1, "{r:?}");
    assert_eq!(fs::read(out.join("a.png")).unwrap(), b"original");
}
