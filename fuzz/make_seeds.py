#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/seeds/ (re-run after changing the harness's
input layout; see src/lib.rs for what each target reads).

- seeds/post/: hand-written edge cases (fuzz/run.sh and tests/fuzz_regressions.rs add the
  sample posts under posts/ themselves, so they are not copied here).
- seeds/site/: a config byte, then posts separated by 0xFF bytes.
- seeds/http/: a method byte, the request target, then header lines (first byte = header).
"""
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SEEDS = HERE / "seeds"

EDGE_POSTS = {
    "bom-crlf.md": "\ufeff---\r\ntitle: \"CRLF \\x01 title\"\r\ndate: 2021-12-21 08:10:27 +0800\r\n---\r\nbody\r\n",
    "nasty-title.md": "---\ntitle: \"<b>&amp;</b> ]]> \\uFFFE \\x0B 😀 \u202e\"\ndate: 2022-01-01T00:00:00Z\n"
    "tags: [a, \"b c\", 厦门日报新闻]\ncategories: Rust rust RUST\n---\n"
    "<script>alert(1)</script><p>x ]]> </item></channel></feed> ]}\"</p>\n\n<http://n.example.cn/1>\n",
    "author-map.md": "---\ntitle: A\ndate: 2022-02-02 10:00\nauthor: {name: Ann, email: ann@example.com, uri: /about}\n"
    "image: //img.example.com/a.png\nsource_url: /orig\nsource_name: 厦门日报\nlang: zh\nid: urn:x:1\n"
    "updated: 2023-01-01 00:00:00 -0500\npermalink: /a/../b/./c/\n---\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~s~~ [^1]\n\n[^1]: note\n\n<img data-src=\"/lazy.jpg\" src=\"data:,\"> <a href=\"//h/x\">x</a>\n",
    "lazy.html": "---\ndate: 2021-01-01\nexcerpt: \"  spaced   summary \"\n---\n<p><img data-src=\"/a.jpg\" srcset=\"/a.jpg 1x, b.jpg 2x\"><video poster=\"p.jpg\" src=\"v.mp4\"></video></p>",
    "bad-yaml.md": "---\ntitle: [unclosed\n---\n",
    "no-front.md": "just text\n",
    "unterminated.md": "---\ntitle: x\n",
    "yaml-tags.md": "---\ntitle: !!str 12\ndate: !custom 2021-12-21\ntags: !!seq [1, 2.5, true, null]\ndraft: \"yes\"\npublished: false\n---\nx",
    "dates.md": "---\ndate: 2021-12-21T08:10:27.123456789+14:00\nlastmod: 1999-12-31\n---\n",
    "dots.md": "---\ndocument: 1\n...\nbody after dots\n",
}

def write(dir, name, data):
    d = SEEDS / dir
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)

def main():
    samples = []
    for p in sorted((ROOT / "posts").rglob("*")):
        if p.is_file():
            samples.append(p.read_bytes())
    for name, text in EDGE_POSTS.items():
        write("post", name, text.encode())
    edge = [t.encode() for t in EDGE_POSTS.values()]

    sep = b"\xff"
    write("site", "samples-default", b"\x00" + sep.join(samples[:8]))
    write("site", "samples-rest-prefix-site", b"\x80" + sep.join(samples[8:16]))
    write("site", "edge-limit1-summary", b"\x05" + sep.join(edge[:8]))
    write("site", "edge-all-drafts-future", b"\x1a" + sep.join(edge[2:] + samples[:2]))
    write("site", "mixed-pretty", b"\x3b" + sep.join([samples[0], edge[1], samples[-1], edge[0]]))
    write("site", "same-terms-different-case", b"\x60" + sep.join([
        b"---\ntitle: one\ndate: 2021-01-01\ntags: Rust\n---\nx",
        b"---\ntitle: two\ndate: 2021-01-01\ntags: rust\n---\ny",
        b"---\ntitle: three\ndate: 2021-01-01\ntags: [RUST, rust]\n---\nz",
    ]))

    http = {
        "get-rss": b"\x00/rss.xml",
        "head-atom": b"\x01/atom.xml\n\x04gzip, br;q=0.5",
        "inm-match": b"\x00/feed.json\n\x00W/\"x\", @E\n\x04br",
        "ims": b"\x00/rss.xml\n\x01@L",
        "if-match-fail": b"\x00/feeds.opml\n\x02\"nope\"",
        "if-match-gz": b"\x00/atom.xml\n\x02@G\n\x04gzip;q=1, identity;q=0",
        "ius": b"\x00/atom.xml\n\x03Thu, 01 Jan 1970 00:00:00 GMT",
        "cjk-route": b"\x00/tags/%E5%8E%A6%E9%97%A8%E6%97%A5%E6%8A%A5%E6%96%B0%E9%97%BB/rss.xml\n\x04zstd",
        "random-route": b"\x00@R\x05\n\x04*;q=0.3, identity;q=0\n\x05bytes=0-10",
        "index-slash": b"\x01/\n\x04x-gzip",
        "post": b"\x02/rss.xml\n\x09 5",
        "custom-method": b"\xf0BREW /rss.xml\n\x07*/*",
        "dotdot": b"\x00/tags/%2e%2e/%2E%2E/etc/passwd",
        "nul": b"\x00/a%00b",
        "bad-utf8": b"\x00/%FF%FE/rss.xml",
        "absolute-form": b"\x00http://example.com/rss.xml?x=1#f",
        "star": b"\x05*",
        "backslash": b"\x00/tags/a%5Cb/rss.xml",
    }
    for name, data in http.items():
        write("http", name, data)

if __name__ == "__main__":
    main()
