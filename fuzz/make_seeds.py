#!/usr/bin/env python3
"""Writes the committed seed corpus under fuzz/seeds/ (re-run after changing the harness's
input layout; see src/lib.rs for what each target reads).

- seeds/post/: hand-written edge cases (fuzz/run.sh and tests/fuzz_regressions.rs add the
  sample posts under posts/ themselves, so they are not copied here).
- seeds/site/: a config byte, then posts separated by 0xFF bytes.
- seeds/http/: a method byte, the request target, then header lines (first byte = header).
  The fixed site it is sent to (HTTP_POSTS in src/lib.rs) has archive pages (limit 3, pages
  of 2: /archive/1..3/, /categories/x/archive/1..2/, /categories/news/archive/1/, and the CJK
  tag's /archive/1/) and post pages at their permalinks.
"""
from urllib.parse import quote
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
    # Enough posts in shared terms that limits 1 and 2 make archive pages in every kind of
    # scope (site_name in src/lib.rs: posts 2 and 6 are drafts, 3 and 7 future-dated; the
    # 0x18 bits list them too).
    archived = [
        b"---\ntitle: a%d\ndate: 2021-0%d-01\ncategories: [news, x]\ntags: [Rust, \xe5\x8e\xa6\xe9\x97\xa8]\n---\nbody %d\n" % (i, i + 1, i)
        for i in range(8)
    ]
    write("site", "archives-limit1-all", b"\x1a" + sep.join(archived))
    write("site", "archives-limit2-pretty-prefix", b"\xbb" + sep.join(archived))
    write("site", "archives-limit2-summary-samples", b"\x07" + sep.join(samples[:4] + archived[:4]))

    tag = quote("厦门日报新闻")
    cjk_cat = quote("厦门-港口")
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
        # RFC 5005 archive pages (rendered on request).
        "archive-all-rss": b"\x00/archive/1/rss.xml",
        "archive-category-atom-gz": b"\x00/categories/x/archive/2/atom.xml\n\x04gzip",
        "archive-tag-json-head": f"\x01/tags/{tag}/archive/1/feed.json\n\x04br".encode(),
        "archive-inm": b"\x00/archive/3/atom.xml\n\x00@E",
        "archive-ims": b"\x00/categories/news/archive/1/rss.xml\n\x01@L",
        "archive-if-match-gz": b"\x00/archive/2/feed.json\n\x02@G\n\x04gzip",
        "archive-past-last": b"\x00/archive/4/rss.xml",
        "archive-zero": b"\x01/categories/x/archive/0/atom.xml",
        "archive-leading-zero": b"\x00/archive/01/rss.xml",
        "archive-unknown-scope": b"\x00/places/x/archive/1/rss.xml",
        "archive-encoded": b"\x00/%61rchive/%31/rss.xml\n\x04zstd",
        # Post pages (lazy: rendered per request).
        "page-gz": b"\x00/x/news/2020/03/01/first.html\n\x04gzip",
        "page-cjk-head-br": f"\x01/news/{cjk_cat}/x/2022/01/05/liangan.html\n\x04br".encode(),
        "page-index-inm": b"\x00/guides/start/\n\x00@E",
        "page-zstd-head": b"\x01/shamenribao/2021/12/21/gangkou.html\n\x04zstd;q=1, gzip;q=0.5",
        "page-if-range": b"\x00/x/2020/04/01/second.html\n\x05bytes=0-5\n\x06@E\n\x02@G\n\x04gzip",
        "page-ius": b"\x00/x/2024/02/01/conditional-get.html\n\x03Sun, 06 Nov 1994 08:49:37 GMT",
        "random-route-page": b"\x01@R\x10\n\x00@E\n\x04br",
    }
    for name, data in http.items():
        write("http", name, data)

if __name__ == "__main__":
    main()
