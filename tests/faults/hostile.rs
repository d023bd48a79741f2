//! Hostile input: huge and nested posts, non-UTF-8 names, header and markup injection.

use super::*;

// ---------------------------------------------------------------------------------------------
// Hostile input

/// A site with two good posts and one hostile file, checked and built by the real binary: the
/// hostile file is reported with `reason` (all of `needles`), quickly, and the rest is built.
fn hostile(rel: &str, contents: &[u8], needles: &[&str]) {
    let site = TempSite::new();
    site.write_post(
        "2024-01-01-good-one.md",
        &post("Good one", "2024-01-01 10:00:00 +0000", "news", "ok"),
    );
    site.write_post(
        "2024-01-02-good-two.md",
        &post("Good two", "2024-01-02 10:00:00 +0000", "news", "ok"),
    );
    site.write_post_bytes(rel, contents);
    let limit = Duration::from_secs(5);

    let (o, took) = run_within(site.root(), &check_args(&site), Duration::from_secs(60));
    assert!(took < limit, "check on {rel} took {took:?}");
    assert_eq!(o.status.code(), Some(1), "check on {rel}:\n{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains(rel))
        .unwrap_or_else(|| panic!("check does not name {rel}:\n{err}"));
    for n in needles {
        assert!(line.contains(n), "check on {rel}: {n:?} not in {line:?}");
    }
    assert!(
        stdout(&o).contains("2 posts ok, 1 bad"),
        "check on {rel}: {}",
        stdout(&o)
    );

    let (o, took) = run_within(
        site.root(),
        &build_args(&site, SITE_URL),
        Duration::from_secs(60),
    );
    assert!(took < limit, "build with {rel} took {took:?}");
    assert!(o.status.success(), "build with {rel}:\n{}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains(rel))
        .unwrap_or_else(|| panic!("build does not name {rel}:\n{err}"));
    for n in needles {
        assert!(line.contains(n), "build with {rel}: {n:?} not in {line:?}");
    }
    let mut titles = json_titles(site.read_out("feed.json").as_bytes()).unwrap();
    titles.sort();
    assert_eq!(titles, ["Good one", "Good two"], "build with {rel}");
    // Nothing of the hostile post was published: the only term feeds are the good ones'.
    let mut dirs: Vec<String> = fs::read_dir(site.out().join("tags"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["ok"], "build with {rel}");
}

#[test]
fn post_with_three_thousand_tags_is_refused() {
    let tags: Vec<String> = (0..3000).map(|i| format!("tag{i}")).collect();
    let text = format!(
        "---\ntitle: Tagged\ndate: 2024-02-01 10:00:00 +0000\ntags: [{}]\n---\nBody\n",
        tags.join(", ")
    );
    hostile("many-tags.md", text.as_bytes(), &["tags", "3000"]);
}

#[test]
fn post_over_ten_megabytes_is_refused_with_its_size() {
    let mut text = b"---\ntitle: Huge\ndate: 2024-02-01 10:00:00 +0000\ntags: huge\n---\n".to_vec();
    let line = b"All work and no play makes a very large post indeed.\n";
    while text.len() < 11 * 1024 * 1024 {
        text.extend_from_slice(line);
    }
    let size = text.len().to_string();
    hostile("huge.md", &text, &[&size, "bytes", "limit"]);
}

#[test]
fn deeply_nested_yaml_is_refused_quickly() {
    let depth = 1000;
    let text = format!(
        "---\ntitle: Deep\ndate: 2024-02-01 10:00:00 +0000\ntags: deep\nx: {}1{}\n---\nBody\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    hostile("deep-flow.md", text.as_bytes(), &["YAML"]);
    // Block style: a mapping nested 1,000 levels by indentation.
    let mut text = String::from("---\ntitle: Deeper\ndate: 2024-02-01 10:00:00 +0000\n");
    for i in 0..depth {
        text.push_str(&" ".repeat(i));
        text.push_str(&format!("k{i}:\n"));
    }
    text.push_str(&" ".repeat(depth));
    text.push_str("end\n---\nBody\n");
    // ~500 KB of indentation: refused for its size (limits.max_front_matter_bytes) before
    // YAML parses it; either way, the reason names the front matter.
    hostile("deep-block.md", text.as_bytes(), &["front matter"]);
}

#[test]
fn yaml_alias_bomb_is_refused_quickly() {
    let mut text = String::from("---\ntitle: Laughs\ndate: 2024-02-01 10:00:00 +0000\n");
    text.push_str(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{next}: &{next} [{refs}]\n"));
    }
    // Used where feedsmith reads values, too.
    text.push_str("tags: *i\n---\nBody\n");
    hostile("bomb.md", text.as_bytes(), &["YAML"]);
}

/// A file whose name is not UTF-8 is built or reported, never a crash, and the others are
/// built.
#[test]
fn file_name_that_is_not_utf8_is_no_crash() {
    use std::os::unix::ffi::OsStrExt;
    let site = TempSite::new();
    site.write_post(
        "2024-01-01-good.md",
        &post("Good", "2024-01-01 10:00:00 +0000", "news", "ok"),
    );
    let name = std::ffi::OsStr::from_bytes(b"2021-01-01-caf\xe9.md");
    fs::write(
        site.posts().join(name),
        "---\ntitle: Cafe\ntags: cafe\n---\nAu caf\u{e9}.\n",
    )
    .unwrap();
    fs::create_dir_all(site.posts().join(std::ffi::OsStr::from_bytes(b"d\xff"))).unwrap();
    fs::write(
        site.posts()
            .join(std::ffi::OsStr::from_bytes(b"d\xff"))
            .join("2021-02-02-inner.md"),
        "---\ntitle: Inner\n---\nInside a non-UTF-8 directory.\n",
    )
    .unwrap();

    let (o, _) = run_within(site.root(), &check_args(&site), Duration::from_secs(60));
    no_crash(o.status, "check", &o);
    let (o, _) = run_within(
        site.root(),
        &build_args(&site, SITE_URL),
        Duration::from_secs(60),
    );
    no_crash(o.status, "build", &o);
    assert!(o.status.success(), "build: {}", stderr(&o));
    let titles = json_titles(site.read_out("feed.json").as_bytes()).unwrap();
    assert!(titles.contains(&"Good".to_owned()), "{titles:?}");
    let err = stderr(&o);
    for (title, shown) in [("Cafe", "caf"), ("Inner", "inner")] {
        assert!(
            titles.contains(&title.to_owned()) || err.contains(shown),
            "{title}: neither built ({titles:?}) nor reported:\n{err}"
        );
    }
    for f in files_under(&site.out()) {
        complete_document(&f).unwrap();
    }

    // And the server starts, serves and stops on it.
    let mut server = serve(&site, "");
    let r = server.get("/feed.json");
    assert_eq!(r.status, 200);
    let t = json_titles(&r.body).unwrap();
    assert!(t.contains(&"Good".to_owned()), "{t:?}");
    for path in json_links(&r.body) {
        let p = path.strip_prefix(SITE_URL).unwrap_or(&path).to_owned();
        assert_eq!(server.get(&p).status, 200, "{p}");
    }
    let status = server.stop(Duration::from_secs(12));
    assert!(status.success(), "{status:?}\n{}", server.stderr());
}

// ---------------------------------------------------------------------------------------------
// Injection

/// The headers the server produces; anything else in a response head was injected.
const KNOWN_HEADERS: [&str; 14] = [
    "content-type",
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "cache-control",
    "vary",
    "link",
    "x-content-type-options",
    "content-security-policy",
    "date",
    "connection",
    "allow",
    "surrogate-key",
];

/// CR/LF in titles, terms and the permalink cannot reach a response head, and every document
/// stays well-formed.
#[test]
fn cr_lf_in_front_matter_cannot_inject_headers() {
    let site = TempSite::new();
    site.write_post(
        "2024-03-01-inject.md",
        concat!(
            "---\n",
            "title: \"a\\r\\nSet-Cookie: x=1\"\n",
            "date: 2024-03-01 10:00:00 +0000\n",
            "categories: [\"news\\r\\nSet-Cookie: c=1\"]\n",
            "tags: [\"t\\r\\nSet-Cookie: t=1\", \"x\\nX-Injected: 1\"]\n",
            "author: \"Eve\\r\\nSet-Cookie: a=1\"\n",
            "source_name: \"Src\\r\\nSet-Cookie: s=1\"\n",
            "permalink: \"/p/in\\r\\nSet-Cookie: p=1.html\"\n",
            "---\n",
            "Body with a header-looking line\r\nSet-Cookie: b=1\r\n\r\nand more.\n",
        ),
    );
    site.write_post(
        "2024-03-02-plain.md",
        &post("Plain", "2024-03-02 10:00:00 +0000", "news", "plain"),
    );
    let server = serve(&site, "");
    let feed = server.get("/feed.json");
    assert_eq!(feed.status, 200);
    let titles = json_titles(&feed.body).unwrap();
    assert!(
        titles.iter().any(|t| t.contains("Set-Cookie")),
        "the hostile post was not published, so nothing is tested: {titles:?}\n{}",
        server.stderr()
    );

    // Every document on disk (every feed and the OPML), every post page, the index.
    let mut targets: Vec<String> = files_under(&site.out())
        .iter()
        .filter(|p| !is_hidden(p))
        .map(|p| target_of(&site.out(), p))
        .collect();
    let links = json_links(&feed.body);
    assert_eq!(links.len(), 2);
    for link in &links {
        let path = link
            .strip_prefix(SITE_URL)
            .unwrap_or_else(|| panic!("{link} not on {SITE_URL}"));
        targets.push(path.to_owned());
    }
    targets.push("/".into());
    assert!(
        targets.iter().filter(|t| t.starts_with("/tags/")).count() >= 9,
        "{targets:?}"
    );
    for target in &targets {
        let r = raw::get(&server.addr, target);
        assert_eq!(r.status, 200, "{target}:\n{}", r.head);
        // The values may mention the words (a slug, a URL), but no line may start a header
        // the server did not produce.
        for line in r.head.split("\r\n").skip(1) {
            let lower = line.to_ascii_lowercase();
            assert!(
                !lower.starts_with("set-cookie") && !lower.starts_with("x-injected"),
                "{target}: injected header line {line:?}:\n{}",
                r.head
            );
        }
        for (name, _) in &r.headers {
            assert!(
                KNOWN_HEADERS.contains(&name.as_str()),
                "{target}: header line {name:?} not produced by the server:\n{}",
                r.head
            );
        }
        let ctype = r.header("content-type").unwrap_or_default().to_owned();
        let text = String::from_utf8(r.body.clone())
            .unwrap_or_else(|_| panic!("{target}: body is not UTF-8"));
        if ctype.contains("json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{target}: {e}"));
        } else if ctype.contains("xml") || ctype.contains("opml") {
            xmltree::parse(&text).unwrap_or_else(|e| panic!("{target}: {e}"));
        } else {
            assert!(ctype.starts_with("text/html"), "{target}: {ctype}");
            assert!(text.trim_end().ends_with("</html>"), "{target}");
        }
        if target.ends_with("rss.xml") || target.ends_with("atom.xml") {
            feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{target}: {e}"));
        }
    }
}

/// Markup in a title reaches HTML pages only escaped, and HTML is served with `nosniff` and a
/// CSP that allows no scripts.
#[test]
fn markup_in_titles_is_escaped_in_html_pages() {
    let site = TempSite::new();
    let title = "<script>alert(1)</script>";
    site.write_post(
        "2024-04-01-xss.md",
        &format!(
            "---\ntitle: {title:?}\ndate: 2024-04-01 10:00:00 +0000\ncategories: news\n\
             tags: [\"<img src=x onerror=alert(2)>\"]\n---\n<p>Hi</p><script>alert(3)</script>\n"
        ),
    );
    let server = serve(&site, "");
    let feed = server.get("/feed.json");
    let links = json_links(&feed.body);
    assert_eq!(links.len(), 1, "{}", server.stderr());
    let page = links[0].strip_prefix(SITE_URL).unwrap().to_owned();
    for path in ["/index.html", "/", page.as_str()] {
        let r: Resp = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        let lower = html.to_ascii_lowercase();
        assert!(
            !lower.contains("<script"),
            "{path}: unescaped script:\n{html}"
        );
        assert!(
            !lower.contains("<img src=x"),
            "{path}: unescaped tag markup:\n{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
                || html.contains("&lt;script>alert(1)&lt;/script>"),
            "{path}: the title is not shown escaped:\n{html}"
        );
        assert!(r.h("content-type").starts_with("text/html"), "{path}");
        assert_eq!(r.h("x-content-type-options"), "nosniff", "{path}");
        let csp = r.h("content-security-policy");
        assert!(
            csp.split(';').any(|d| d.trim() == "default-src 'none'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("script-src"),
            "{path}: CSP allows scripts: {csp}"
        );
    }
}
