#!/usr/bin/env python3
"""Walks the RFC 5005 archive chain of every feed a running server lists and checks every
archive page with the same outside tools as the shared validators: Atom against the RFC 4287
RELAX NG schema (jing), RSS with feedparser, JSON Feed against the JSON Feed 1.1 schema.

    check_archives.py BASE_URL SCHEMAS_DIR

Exits 1 if any page fails, or if no feed has archives at all (the site is meant to have them).
"""
import json
import subprocess
import sys
import tempfile
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import jsonschema

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read()


def older(fmt, body):
    """The next older archive page's URL, and whether the document is marked fh:archive."""
    if fmt == "json":
        return json.loads(body).get("next_url"), None
    root = ET.fromstring(body)
    scope = root.find("channel") if fmt == "rss" else root
    links = scope.findall(ATOM + "link")
    prev = [l.get("href") for l in links if l.get("rel") == "prev-archive"]
    return (prev[0] if prev else None), scope.find(FH + "archive") is not None


def main():
    base, schemas = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    work = Path(tempfile.mkdtemp())
    rng = work / "atom.rng"
    subprocess.run(["trang", str(schemas / "atom.rnc"), str(rng)], check=True)
    schema = json.loads((schemas / "jsonfeed-1.1.schema.json").read_text())
    _, opml = get(base + "/feeds.opml")
    feeds = [o.get("xmlUrl") for o in ET.fromstring(opml).iter("outline") if o.get("xmlUrl")]
    failures, pages = [], 0
    for rss in feeds:
        for fmt, name in (("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json")):
            url, _ = older(fmt, get(rss[: -len("rss.xml")] + name)[1])
            while url:
                status, body = get(url)
                pages += 1
                problem = None
                if status != 200:
                    problem = f"HTTP {status}"
                elif fmt == "json":
                    try:
                        jsonschema.validate(json.loads(body), schema)
                    except jsonschema.ValidationError as e:
                        problem = e.message
                else:
                    if not older(fmt, body)[1]:
                        problem = "no fh:archive"
                    elif fmt == "atom":
                        f = work / "page.atom"
                        f.write_bytes(body)
                        r = subprocess.run(["jing", str(rng), str(f)], capture_output=True, text=True)
                        problem = r.stdout.strip() or None
                    elif feedparser.parse(body).bozo:
                        problem = str(feedparser.parse(body).bozo_exception)
                if problem:
                    failures.append(f"{url}: {problem}")
                url = older(fmt, body)[0] if status == 200 else None
    for f in failures:
        print("FAIL", f)
    print(f"archive pages checked: {pages}, failed: {len(failures)}")
    sys.exit(1 if failures or pages == 0 else 0)


if __name__ == "__main__":
    main()
