#!/usr/bin/env python3
"""Site scaffolding for the peers that bench/run.sh compares feedsmith with.

    peers.py hugo-site DIR BASEURL          write hugo.toml + layouts/_default/rss.xml into DIR
    peers.py hugo-convert SRC DST [--dates] copy posts, front matter made Hugo-readable
    peers.py hugo-check CORPUS PUBLIC       did Hugo read the *raw* front matter right?
    peers.py jekyll-site CORPUS DIR         a Jekyll 4 + jekyll-feed site with _posts = CORPUS
    peers.py count-feeds KIND DIR           number of feed documents a tool wrote

Standard library only. Every file written here is derived from the corpus and fixed
settings, so re-running gives identical sites.
"""

import json
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from datetime import datetime

HUGO_TOML = """\
# Written by bench/peers.py: RSS feeds only, as close to feedsmith's work as Hugo allows.
baseURL = "{base}"
title = "bench"
languageCode = "en"
disableKinds = ["404", "sitemap", "robotsTXT"]
[taxonomies]
category = "categories"
tag = "tags"
# RSS only for home, section, taxonomy and term; regular pages get no output at all.
[outputs]
home = ["RSS"]
section = ["RSS"]
taxonomy = ["RSS"]
term = ["RSS"]
page = []
[services.rss]
limit = 50
[markup.goldmark.renderer]
unsafe = true
# Posts are listed (and their content rendered for the feeds) but no page file is written.
[[cascade]]
[cascade._build]
render = "link"
list = "always"
[cascade._target]
kind = "page"
"""

# Full content, like feedsmith's <content:encoded>.
HUGO_RSS = """\
{{- $pages := .RegularPagesRecursive -}}
{{- if .IsHome }}{{ $pages = .Site.RegularPages }}{{ end -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 }}{{ $pages = $pages | first $limit }}{{ end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{{ .Title }} on {{ .Site.Title }}</title>
    <link>{{ .Permalink }}</link>
    <description>Recent content {{ with .Title }}in {{ . }} {{ end }}on {{ .Site.Title }}</description>
    {{ with .OutputFormats.Get "RSS" }}{{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}{{ end }}
    {{- range $pages }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ .Permalink }}</link>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      <guid>{{ .Permalink }}</guid>
      {{- range .GetTerms "categories" }}<category>{{ .LinkTitle }}</category>{{ end }}
      {{- range .GetTerms "tags" }}<category>{{ .LinkTitle }}</category>{{ end }}
      <description>{{ .Content | html }}</description>
    </item>
    {{- end }}
  </channel>
</rss>
"""

FM_RE = re.compile(r"\A---\n(.*?\n)---\n", re.S)
DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{2}):?(\d{2})$")


def split_front_matter(text):
    m = FM_RE.match(text)
    if not m:
        return None, text
    return m.group(1), text[m.end():]


def parse_date(value):
    """`2021-12-21 08:10:27 +0800` / `+08:00` → aware datetime (None if another shape)."""
    m = DATE_RE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, oh, om = m.groups()
    return datetime.fromisoformat(
        f"{y}-{mo}-{d}T{h}:{mi}:{s or '00'}{oh}:{om}")


def scalar(v):
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def terms_of(fm, key):
    """The terms of `key` in a front-matter block (string split on whitespace, or list)."""
    lines = fm.split("\n")
    for i, line in enumerate(lines):
        if not line.startswith(key + ":"):
            continue
        v = line[len(key) + 1:].strip()
        if v.startswith("["):
            return [scalar(x) for x in v.strip("[]").split(",") if x.strip()]
        if v:
            return scalar(v).split()
        out = []
        for nxt in lines[i + 1:]:
            if nxt.lstrip().startswith("- "):
                out.append(scalar(nxt.lstrip()[2:]))
            else:
                break
        return out
    return []


def post_info(path):
    """(date, [categories], [tags]) of one corpus post."""
    with open(path, encoding="utf-8") as f:
        fm, _ = split_front_matter(f.read())
    date = None
    for line in fm.split("\n"):
        if line.startswith("date:"):
            date = parse_date(line[5:])
    return date, terms_of(fm, "categories"), terms_of(fm, "tags")


def yaml_flow(items):
    return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in items) + "]"


def convert_front_matter(fm, dates):
    """Whitespace-string categories/tags → YAML flow lists; optionally dates → RFC 3339."""
    out, lines, i = [], fm.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        key = line.split(":", 1)[0]
        if key in ("categories", "tags"):
            v = line[len(key) + 1:].strip()
            if v and not v.startswith("["):
                line = f"{key}: {yaml_flow(scalar(v).split())}"
        elif key == "date" and dates:
            d = parse_date(line[5:])
            if d is not None:
                line = "date: " + d.isoformat()
        out.append(line)
        i += 1
    return "\n".join(out)


def cmd_hugo_site(site, base):
    os.makedirs(os.path.join(site, "layouts", "_default"), exist_ok=True)
    os.makedirs(os.path.join(site, "content", "posts"), exist_ok=True)
    with open(os.path.join(site, "hugo.toml"), "w", encoding="utf-8") as f:
        f.write(HUGO_TOML.format(base=base))
    with open(os.path.join(site, "layouts", "_default", "rss.xml"), "w", encoding="utf-8") as f:
        f.write(HUGO_RSS)


def cmd_hugo_convert(src, dst, dates):
    os.makedirs(dst, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith(".md"):
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            text = f.read()
        fm, body = split_front_matter(text)
        if fm is not None:
            text = "---\n" + convert_front_matter(fm, dates) + "---\n" + body
        with open(os.path.join(dst, name), "w", encoding="utf-8") as f:
            f.write(text)
        n += 1
    print(f"converted {n} posts (dates {'rewritten' if dates else 'kept'})")


def cmd_hugo_check(corpus, public):
    """Compares Hugo's home feed (built from raw posts) with the source front matter.

    Prints JSON: dates_ok (every listed item's pubDate equals the source date and offset),
    terms_split (a whitespace-string category became separate terms)."""
    root = ET.parse(os.path.join(public, "index.xml")).getroot()
    checked = bad = 0
    for item in root.iter("item"):
        link = item.findtext("link") or ""
        name = link.rstrip("/").rsplit("/", 1)[-1] + ".md"
        path = os.path.join(corpus, name)
        if not os.path.exists(path):
            continue
        date, _, _ = post_info(path)
        want = date.strftime("%a, %d %b %Y %H:%M:%S %z")
        checked += 1
        if (item.findtext("pubDate") or "").strip() != want:
            bad += 1
    multi = [c for name in sorted(os.listdir(corpus)) if name.endswith(".md")
             for c in [post_info(os.path.join(corpus, name))[1]] if len(c) > 1]
    cats_dir = os.path.join(public, "categories")
    split = None
    if multi:
        # Hugo urlizes a term "a b" to "a-b": such a directory means no split happened.
        joined = os.path.isdir(os.path.join(cats_dir, "-".join(multi[0]).lower()))
        split = not joined and os.path.isdir(os.path.join(cats_dir, multi[0][1].lower()))
    print(json.dumps({"dates_checked": checked, "dates_bad": bad,
                      "dates_ok": checked > 0 and bad == 0, "terms_split": split}))


def cmd_jekyll_site(corpus, site):
    posts = os.path.join(site, "_posts")
    if os.path.isdir(posts):
        shutil.rmtree(posts)
    shutil.copytree(corpus, posts)
    cats = set()
    for name in os.listdir(corpus):
        if name.endswith(".md"):
            cats.update(post_info(os.path.join(corpus, name))[1])
    with open(os.path.join(site, "_config.yml"), "w", encoding="utf-8") as f:
        f.write("# Written by bench/peers.py\n"
                "title: bench\nurl: http://127.0.0.1:4000\n"
                "plugins: [jekyll-feed]\n"
                "exclude: [run.log]\n"
                "feed:\n  posts_limit: 50\n"
                f"  categories: {yaml_flow(sorted(cats))}\n"
                "  tags: true\n")
    print(f"jekyll site: {len(os.listdir(posts))} posts, {len(cats)} categories")


def cmd_count_feeds(kind, out):
    n = 0
    for dirpath, _, files in os.walk(out):
        for f in files:
            if kind == "feedsmith" and f in ("rss.xml", "atom.xml", "feed.json"):
                n += 1
            elif kind == "hugo" and f == "index.xml":
                n += 1
            elif kind == "jekyll" and f.endswith(".xml") and (
                    f == "feed.xml" or os.path.relpath(dirpath, out).startswith("feed")):
                n += 1
    print(n)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "hugo-site":
        cmd_hugo_site(*args)
    elif cmd == "hugo-convert":
        cmd_hugo_convert(args[0], args[1], "--dates" in args[2:])
    elif cmd == "hugo-check":
        cmd_hugo_check(*args)
    elif cmd == "jekyll-site":
        cmd_jekyll_site(*args)
    elif cmd == "count-feeds":
        cmd_count_feeds(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
