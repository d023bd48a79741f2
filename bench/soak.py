#!/usr/bin/env python3
"""Soak test: many keep-alive clients for a fixed time while posts are edited.

Starts `feedsmith serve` (release build) on a temporary copy of a posts directory, on a
loopback port, then for --seconds runs --connections asyncio HTTP/1.1 keep-alive clients that
GET random feed documents and post pages, while an editor rewrites posts atomically (temp file
+ rename) several times a second.

- Post pages (--page-share of the requests) are the `url` of the items of /feed.json and of
  every category's feed.json, requested by their path on the server's own loopback address
  (the items carry the configured site URL, https://example.com).
- --encoded-share of the requests send `Accept-Encoding: gzip` or `Accept-Encoding: br` (half
  each; br needs the Python `brotli` module, `pip install brotli`, else gzip only). The body is
  decoded by its `Content-Encoding` (identity is allowed: the server sends the raw bytes when
  compressing does not pay); any other coding than the one asked for is an error.

Every response must be a 200 with `Vary: Accept-Encoding` whose body is complete (length ==
Content-Length), decodes, and parses (feeds: XML well-formed, JSON valid; pages: UTF-8 HTML
from `<!DOCTYPE html>` to `</html>`). The server's RSS memory is sampled every second; it must
stay flat (the last samples within 25 % of the post-warm-up level).

Prints one line per check and `soak: N passed, M failed`; exits 0 only when all passed.
Only loopback is ever contacted.
"""

import argparse
import asyncio
import gzip
import json
import os
import random
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from longrun import ROOT, report, start_server, stop_server

try:
    import brotli
except ImportError:  # br requests are skipped (said in the summary)
    brotli = None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


def parses(kind, path, body):
    if kind == "page":
        text = body.decode("utf-8")
        if not text.lstrip().lower().startswith("<!doctype html") or not text.rstrip().endswith("</html>"):
            raise ValueError(f"not a whole HTML page ({len(body)} bytes)")
    elif path.endswith(".json"):
        json.loads(body)
    else:
        ET.fromstring(body)


def decode(coding, body):
    """The body's bytes as sent before `coding` was applied."""
    if coding == "identity":
        return body
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return brotli.decompress(body)
    raise ValueError(f"unexpected Content-Encoding {coding!r}")


def pick(feeds, pages, page_share, encodings, encoded_share):
    """One request: (kind, path, coding asked for)."""
    if pages and random.random() < page_share:
        kind, path = "page", random.choice(pages)
    else:
        kind, path = "feed", random.choice(feeds)
    coding = random.choice(encodings) if encodings and random.random() < encoded_share else "identity"
    return kind, path, coding


async def client(host, port, targets, deadline, stats):
    reader = writer = None
    while time.monotonic() < deadline:
        kind, path, asked = pick(*targets)
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            accept = "" if asked == "identity" else f"Accept-Encoding: {asked}\r\n"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{accept}\r\n".encode())
            await writer.drain()
            status, headers, body = await asyncio.wait_for(read_response(reader), 15)
            if status != 200:
                stats["errors"].append(f"{path}: status {status}")
                continue
            if len(body) != int(headers.get("content-length", "-1")):
                stats["errors"].append(f"{path}: incomplete body")
                continue
            if "accept-encoding" not in headers.get("vary", "").lower():
                stats["errors"].append(f"{path}: no Vary: Accept-Encoding")
                continue
            got = headers.get("content-encoding", "identity").strip().lower()
            if got not in (asked, "identity"):
                stats["errors"].append(f"{path}: asked for {asked}, got Content-Encoding {got}")
                continue
            try:
                parses(kind, path, decode(got, body))
            except Exception as e:  # noqa: BLE001 - any decode or parse failure counts
                stats["errors"].append(f"{path} ({got}): does not decode or parse: {type(e).__name__}: {e}")
                continue
            stats["ok"] += 1
            key = f"{kind} {asked}" + ("" if got == asked else f"->{got}")
            stats["by"][key] = stats["by"].get(key, 0) + 1
        except Exception as e:  # noqa: BLE001
            stats["errors"].append(f"connection: {type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def page_paths(port, feed_paths):
    """The paths of the post pages: item `url`s of the all-posts and category JSON feeds,
    moved onto the server's own address (only the path and query are kept)."""
    sources = ["/feed.json"] + sorted(p for p in feed_paths if p.startswith("/categories/") and p.endswith("/feed.json"))
    pages = []
    for src in sources:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{src}", timeout=15) as r:
            items = json.load(r).get("items", [])
        for item in items:
            url = urllib.parse.urlsplit(item["url"])
            pages.append(url.path + (f"?{url.query}" if url.query else ""))
    return sorted(set(pages))


async def editor(posts_dir, deadline, rate, stats):
    files = sorted(
        os.path.join(d, f)
        for d, _, fs in os.walk(posts_dir)
        for f in fs
        if f.endswith(".md") and "_drafts" not in d
    )
    n = 0
    while time.monotonic() < deadline:
        path = random.choice(files)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        for i, line in enumerate(lines[1:], 1):
            if line.startswith("title:"):
                lines[i] = f'title: "soak edit {n}"'
                break
            if line.strip() == "---":
                break
        tmp = os.path.join(os.path.dirname(path), f".soak-{n}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.replace(tmp, path)
        n += 1
        stats["edits"] = n
        await asyncio.sleep(1 / rate)


async def sampler(pid, deadline, samples):
    while time.monotonic() < deadline:
        samples.append(rss_kib(pid))
        await asyncio.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", default=os.path.join(ROOT, "posts"), help="posts directory to copy")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "feedsmith"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--edits-per-second", type=float, default=5)
    ap.add_argument("--page-share", type=float, default=0.3, help="share of requests for post pages")
    ap.add_argument("--encoded-share", type=float, default=0.5,
                    help="share of requests with Accept-Encoding (gzip or br, half each)")
    args = ap.parse_args()
    encodings = ["gzip", "br"] if brotli is not None else ["gzip"]

    work = tempfile.mkdtemp(prefix="feedsmith-soak-")
    checks = []
    server = None
    try:
        server, port = start_server(args.binary, args.posts, work,
                                    "[server]\naccess_log = false\ndebounce_ms = 20\n",
                                    ["--url", "https://example.com"])
        paths = []
        for d, _, fs in os.walk(os.path.join(work, "feeds")):
            for f in fs:
                if f in ("rss.xml", "atom.xml", "feed.json"):
                    paths.append("/" + os.path.relpath(os.path.join(d, f), os.path.join(work, "feeds")))
        paths = [p.replace(os.sep, "/") for p in paths][:500]
        pages = page_paths(port, paths)
        checks.append((bool(pages) or args.page_share == 0,
                       f"{len(pages)} post pages (from the feeds' item urls), {len(paths)} feeds"))
        targets = (paths, pages, args.page_share, encodings, args.encoded_share)
        stats = {"ok": 0, "errors": [], "edits": 0, "by": {}}
        samples = []
        deadline = time.monotonic() + args.seconds

        async def run():
            tasks = [client("127.0.0.1", port, targets, deadline, stats) for _ in range(args.connections)]
            tasks.append(editor(os.path.join(work, "posts"), deadline, args.edits_per_second, stats))
            tasks.append(sampler(server.pid, deadline, samples))
            await asyncio.gather(*tasks)

        started = time.monotonic()
        asyncio.run(run())
        took = time.monotonic() - started
        errors = stats["errors"]
        checks.append((not errors, f"{stats['ok']} complete, parseable responses, {len(errors)} errors "
                       f"({args.connections} connections, {took:.0f} s, {stats['edits']} edits, "
                       f"{stats['ok'] / took:.0f} req/s)" + (f"; first: {errors[0]}" if errors else "")))
        by = ", ".join(f"{k}: {v}" for k, v in sorted(stats["by"].items()))
        # Answers in the very coding asked for (keys `kind coding`; a fallback is `kind a->b`).
        asked_encoded = sum(v for k, v in stats["by"].items()
                            if "->" not in k and not k.endswith(" identity"))
        checks.append((asked_encoded > 0 or args.encoded_share == 0,
                       f"by kind and coding: {by}" + ("" if brotli else " (br skipped: no brotli module)")))
        alive = server.poll() is None
        checks.append((alive, "server still running after the soak"))
        rss = [s for s in samples if s]
        if len(rss) >= 6:
            warm = rss[len(rss) // 3]
            tail = max(rss[-3:])
            flat = tail <= warm * 1.25
            checks.append((flat, f"memory flat: {rss[0]} KiB at start, {warm} KiB after warm-up, "
                                 f"{tail} KiB at the end, max {max(rss)} KiB"))
        else:
            checks.append((False, "too few memory samples"))
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    report("soak", checks)

if __name__ == "__main__":
    main()
