#!/usr/bin/env python3
"""Checks a running feedsmith's HTML pages with mf2py, as an IndieWeb reader would read them.

    python3 tests/external/mf2_check.py http://127.0.0.1:PORT/

Needs `mf2py` (PyPI; it brings BeautifulSoup). Fetches, from the server at BASE_URL:

- the index page: one h-feed with a name whose children are h-entries, each with a name, a
  url and an RFC 3339 `published`, newest first; they are the newest posts of the all-posts
  feed, in its order (when the site has a JSON Feed or an RSS feed to compare with);
- the newest post's page: an h-entry with name, url (the same as in the list), published
  (the same instant) and content;
- the page of that post's first category or tag: an h-feed whose children are the term's
  posts (the post above among them), each with name/url/published, newest first.

Exits 0 when all holds; otherwise prints what is wrong, one line each, and exits 1 (2 when
the server cannot be reached or mf2py is missing).
"""

import json
import sys
import urllib.parse
import urllib.request
from datetime import datetime
from xml.etree import ElementTree

try:
    import mf2py
    from bs4 import BeautifulSoup
except ImportError as e:  # pragma: no cover - environment
    print(f"mf2_check: {e}: pip install mf2py", file=sys.stderr)
    sys.exit(2)

PROBLEMS = []


def problem(msg):
    PROBLEMS.append(msg)
    print(f"FAIL: {msg}", file=sys.stderr)


def fetch(url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"):
    """GETs `url` as an IndieWeb reader does (HTML first); a feed is asked for as a feed reader
    asks (a browser-like Accept would get the feed's HTML view)."""
    req = urllib.request.Request(
        url,
        headers={
            "Accept": accept,
            "User-Agent": "feedsmith-mf2-check/1 (mf2py)",
        },
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


class Site:
    """Maps the site's own URLs (from `site.url`) onto the server being checked."""

    def __init__(self, base, site_base):
        self.base = base.rstrip("/")
        self.site_base = site_base.rstrip("/") if site_base else self.base

    def local(self, url):
        if url.startswith(self.site_base):
            return self.base + url[len(self.site_base):]
        return url

    def get_html(self, url, what):
        status, ctype, body = fetch(self.local(url))
        if status != 200 or not ctype.startswith("text/html"):
            problem(f"{what}: {url} answered {status} {ctype}")
        return body.decode("utf-8", "replace")


def first(item, prop):
    values = item.get("properties", {}).get(prop, [])
    if not values:
        return None
    v = values[0]
    if isinstance(v, dict):
        return v.get("value") or v.get("html")
    return v


def instant(text, what):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        problem(f"{what}: published {text!r} is not an RFC 3339 date-time")
        return None


def top(parsed, kind, what):
    items = [i for i in parsed.get("items", []) if kind in i.get("type", [])]
    if len(items) != 1:
        problem(f"{what}: expected one top-level {kind}, found {len(items)} "
                f"(types: {[i.get('type') for i in parsed.get('items', [])]})")
        return None
    return items[0]


def check_entries(feed, what):
    """The h-feed's children: h-entries with name, url, published, newest first."""
    children = [c for c in feed.get("children", []) if "h-entry" in c.get("type", [])]
    if not children:
        problem(f"{what}: the h-feed has no h-entry children")
    last = None
    out = []
    for n, c in enumerate(children):
        label = f"{what}: entry {n + 1}"
        name, url, published = first(c, "name"), first(c, "url"), first(c, "published")
        if not name or not name.strip():
            problem(f"{label}: no name")
        if not url or not url.startswith(("http://", "https://")):
            problem(f"{label}: no absolute url ({url!r})")
        when = instant(published, label) if published else None
        if published is None:
            problem(f"{label}: no published")
        if when and last and when > last:
            problem(f"{label}: published {published} is newer than the entry before it")
        last = when or last
        out.append((name, url, when, c))
    return out


def expected_order(site, index_html):
    """The all-posts feed's item URLs in order, from its autodiscovery link (JSON or RSS)."""
    soup = BeautifulSoup(index_html, "html.parser")
    links = {l.get("type"): l.get("href") for l in soup.find_all("link", rel="alternate")}
    for kind in ("application/feed+json", "application/rss+xml"):
        href = links.get(kind)
        if not href:
            continue
        status, _, body = fetch(site.local(href), accept=f"{kind}, */*;q=0.1")
        if status != 200:
            problem(f"index: its {kind} link {href} answered {status}")
            return None
        if kind == "application/feed+json":
            return [i.get("url") for i in json.loads(body).get("items", [])]
        root = ElementTree.fromstring(body)
        return [i.findtext("link") for i in root.iter("item")]
    return None


def site_base_of(index_html):
    """The site URL, read off the index's autodiscovery link to the all-posts feed."""
    soup = BeautifulSoup(index_html, "html.parser")
    for l in soup.find_all("link", rel="alternate"):
        href = l.get("href", "")
        for name in ("/rss.xml", "/atom.xml", "/feed.json"):
            if href.endswith(name):
                return href[: -len(name)]
    return None


def main(base):
    index_url = base.rstrip("/") + "/"
    try:
        status, ctype, body = fetch(index_url)
    except OSError as e:
        print(f"mf2_check: cannot fetch {index_url}: {e}", file=sys.stderr)
        return 2
    index_html = body.decode("utf-8", "replace")
    if status != 200 or not ctype.startswith("text/html"):
        problem(f"index: {index_url} answered {status} {ctype}")
    site = Site(base, site_base_of(index_html))

    # The index: an h-feed of the newest posts, in the all-posts feed's order.
    parsed = mf2py.parse(doc=index_html, url=index_url)
    feed = top(parsed, "h-feed", "index")
    if feed is None:
        return report()
    if not first(feed, "name"):
        problem("index: the h-feed has no name")
    entries = check_entries(feed, "index")
    order = expected_order(site, index_html)
    if order is not None:
        got = [u for _, u, _, _ in entries]
        if got != order[: len(got)]:
            problem(f"index: entries {got[:5]}… are not the newest posts of the feed "
                    f"{order[:5]}…")
        if len(got) < min(len(order), 1):
            problem("index: no entries though the feed has items")
    if not entries:
        return report()

    # The newest post's page: an h-entry of the same post.
    name, url, when, listed = entries[0]
    post_html = site.get_html(url, "post page")
    post = top(mf2py.parse(doc=post_html, url=site.local(url)), "h-entry", f"post page {url}")
    if post is not None:
        if (first(post, "name") or "").strip() != (name or "").strip():
            problem(f"post page {url}: name {first(post, 'name')!r}, the index says {name!r}")
        post_url = first(post, "url")
        if post_url != url:
            problem(f"post page {url}: url {post_url!r}")
        published = first(post, "published")
        if not published or instant(published, f"post page {url}") != when:
            problem(f"post page {url}: published {published!r}, the index says {when}")
        if not post.get("properties", {}).get("content"):
            problem(f"post page {url}: no e-content")

    # Its first term's page: an h-feed of the term's posts, this one among them.
    soup = BeautifulSoup(post_html, "html.parser")
    term_links = [a.get("href") for a in soup.select("a.p-category") if a.get("href")]
    if not term_links:
        print(f"note: {url} has no categories or tags; no term page checked")
        return report()
    term_url = term_links[0]
    term_html = site.get_html(term_url, "term page")
    term = top(mf2py.parse(doc=term_html, url=site.local(term_url)), "h-feed",
               f"term page {term_url}")
    if term is not None:
        if not first(term, "name"):
            problem(f"term page {term_url}: the h-feed has no name")
        listed_urls = [u for _, u, _, _ in check_entries(term, f"term page {term_url}")]
        if url not in listed_urls:
            problem(f"term page {term_url}: does not list {url}")
    return report(checked=(index_url, url, term_url))


def report(checked=()):
    if PROBLEMS:
        print(f"mf2_check: {len(PROBLEMS)} problem(s)", file=sys.stderr)
        return 1
    print("mf2_check: ok: " + ", ".join(checked))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
