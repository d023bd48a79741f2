#!/usr/bin/env python3
"""The browser view and the readers, checked with the real programs against a running server.

    python3 tests/external/browser_check.py BASE_URL [SCREENSHOT_DIR]

- headless Chromium (`--dump-dom`) navigating to each feed address of the site gets the HTML
  view: a page (not a `<pre>` of escaped XML) with the address to subscribe to and a link to
  every item of the feed;
- Python feedparser and newsboat, given the same addresses, still subscribe: they read the
  feeds with their items;
- screenshots of the index, a post page and a feed's view (light and dark) are written to
  SCREENSHOT_DIR when given, to look at.

Exits non-zero with the reason on the first failure. Needs chromium, newsboat and feedparser
(`.ci/run` installs them).
"""

import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    fail("no chromium on PATH")


def run_chromium(args, timeout=90):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            fail(f"chromium {args}: exit {done.returncode}\n{done.stderr[-2000:]}")
        return done.stdout


class Page(html.parser.HTMLParser):
    """The links, the `code.url` text and whether a `<pre>` holds the document."""

    def __init__(self):
        super().__init__()
        self.links = set()
        self.codes = []
        self._in_code = False
        self.tags = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "a" and a.get("href"):
            self.links.add(a["href"])
        if tag == "code" and "url" in (a.get("class") or "").split():
            self._in_code = True
            self.codes.append("")

    def handle_endtag(self, tag):
        if tag == "code":
            self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.codes[-1] += data


def fetch(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers.get("Content-Type", ""), r.read()


def main():
    if len(sys.argv) < 2:
        fail(__doc__)
    base = sys.argv[1].rstrip("/")
    shots = sys.argv[2] if len(sys.argv) > 2 else None
    import feedparser

    # Every feed of the site, from the OPML list (what a reader imports).
    _, opml = fetch(base + "/feeds.opml")
    import xml.etree.ElementTree as ET

    feeds = [o.get("xmlUrl") for o in ET.fromstring(opml).iter("outline") if o.get("xmlUrl")]
    if len(feeds) < 3:
        fail(f"the OPML lists {len(feeds)} feeds")
    checked = 0
    for url in feeds:
        # A reader (feedparser sends its own Accept) subscribes.
        parsed = feedparser.parse(url)
        if parsed.bozo or not parsed.entries:
            fail(f"feedparser on {url}: bozo={parsed.bozo} {parsed.get('bozo_exception')}")
        links = {e.link for e in parsed.entries}
        # A browser navigating there sees the view.
        dom = run_chromium(["--dump-dom", url])
        page = Page()
        page.feed(dom)
        if "main" not in page.tags or "h1" not in page.tags:
            fail(f"chromium on {url} shows no HTML page:\n{dom[:600]}")
        if "&lt;?xml" in dom or "&lt;rss" in dom or '"version": "https://jsonfeed' in dom:
            fail(f"chromium on {url} shows the raw feed:\n{dom[:600]}")
        if url not in [c.strip() for c in page.codes]:
            fail(f"chromium on {url}: no subscribe address (found {page.codes})")
        missing = links - page.links
        if missing:
            fail(f"chromium on {url}: items not linked: {sorted(missing)[:5]}")
        checked += 1
    print(f"browser view: {checked} feeds seen by chromium as pages, read by feedparser")

    # newsboat subscribes to the site's feeds and reads their items.
    newsboat = shutil.which("newsboat")
    if not newsboat:
        fail("no newsboat on PATH")
    with tempfile.TemporaryDirectory() as d:
        urls = os.path.join(d, "urls")
        with open(urls, "w") as f:
            f.write("\n".join(feeds[:6]) + "\n")
        cfg = os.path.join(d, "config")
        open(cfg, "w").close()
        common = [newsboat, "-u", urls, "-c", os.path.join(d, "cache.db"), "-C", cfg]
        env = dict(os.environ, HOME=d)
        r = subprocess.run(common + ["-x", "reload"], capture_output=True, text=True,
                           timeout=120, env=env)
        if r.returncode != 0:
            fail(f"newsboat reload: {r.returncode} {r.stderr}")
        r = subprocess.run(common + ["-x", "print-unread"], capture_output=True, text=True,
                           timeout=60, env=env)
        unread = int((r.stdout.split() or ["0"])[0])
        if unread < 1:
            fail(f"newsboat read no items: {r.stdout!r} {r.stderr!r}")
        print(f"newsboat: {unread} unread items from {min(6, len(feeds))} feeds")

    if shots:
        os.makedirs(shots, exist_ok=True)
        _, feed = fetch(base + "/feed.json")
        post = json.loads(feed)["items"][0]["url"]
        for name, url in [("index", base + "/"), ("post", post), ("feed-view", base + "/rss.xml")]:
            for scheme, extra in [("light", []), ("dark", ["--force-dark-mode",
                                  "--blink-settings=preferredColorScheme=0"])]:
                out = os.path.join(shots, f"{name}-{scheme}.png")
                run_chromium([*extra, "--hide-scrollbars", "--window-size=1100,1400",
                              f"--screenshot={out}", url])
                if not os.path.exists(out) or os.path.getsize(out) < 5000:
                    fail(f"no screenshot of {url}")
            out = os.path.join(shots, f"{name}-mobile.png")
            run_chromium(["--hide-scrollbars", "--window-size=400,900", f"--screenshot={out}", url])
        print(f"screenshots in {shots}")
    print("browser check: OK")


if __name__ == "__main__":
    main()
