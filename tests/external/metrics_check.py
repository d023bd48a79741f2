#!/usr/bin/env python3
"""`/metrics` of a running `feedsmith serve`, read by Prometheus' own tools.

Makes a few requests (a feed, a conditional request answered 304, a missing page), then
fetches the metrics and
  * parses them with the official Python client's parser
    (`prometheus_client.parser.text_string_to_metric_families`) and checks the families,
    their types and the counts of the requests just made;
  * runs `promtool check metrics` (Debian `prometheus`) on them: the exposition format and
    Prometheus' naming rules. Without promtool this part is skipped, unless CI=true.

    python3 tests/external/metrics_check.py http://127.0.0.1:8080 [/.feedsmith/metrics]

Exits 0 on success, 1 with the problems otherwise. Needs `pip install prometheus-client`.
"""

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    base = sys.argv[1].rstrip("/")
    path = sys.argv[2] if len(sys.argv) == 3 else "/.feedsmith/metrics"
    problems = []

    before = scrape(base, path, problems)
    status, headers, _ = get(f"{base}/rss.xml")
    etag = headers.get("ETag") or headers.get("etag")
    get(f"{base}/rss.xml", {"If-None-Match": etag})
    get(f"{base}/no-such-page-{os.getpid()}")
    after = scrape(base, path, problems)
    if after is None:
        return report(problems)

    want = {
        "feedsmith_http_requests": "counter",
        "feedsmith_http_response_bytes": "counter",
        "feedsmith_republish_duration_seconds": "histogram",
        "feedsmith_store_documents": "gauge",
        "feedsmith_store_bytes": "gauge",
        "feedsmith_build_info": "gauge",
    }
    for name, kind in want.items():
        got = after["types"].get(name)
        if got != kind:
            problems.append(f"{name}: type {got!r}, expected {kind!r}")

    def count(samples, cls, code):
        return samples.get(("feedsmith_http_requests_total", (("class", cls), ("code", code))), 0)

    for cls, code, n in [("feed", "200", 1), ("feed", "304", 1), ("other", "404", 1)]:
        delta = count(after["samples"], cls, code) - count(before["samples"], cls, code)
        if delta != n:
            problems.append(f"requests {{class={cls}, code={code}}} went up by {delta}, not {n}")
    if after["samples"].get(("feedsmith_store_documents", ()), 0) < 1:
        problems.append("feedsmith_store_documents is not positive")

    promtool = shutil.which("promtool")
    if promtool:
        run = subprocess.run([promtool, "check", "metrics"], input=after["text"],
                             capture_output=True, timeout=60)
        if run.returncode != 0:
            problems.append("promtool check metrics: "
                            + (run.stdout + run.stderr).decode(errors="replace"))
        else:
            print("promtool check metrics: ok")
    elif os.environ.get("CI") == "true":
        problems.append("promtool is not installed (Debian package prometheus)")
    else:
        print("skipped promtool check metrics: promtool is not installed")
    return report(problems, after)


def scrape(base, path, problems):
    status, headers, body = get(f"{base}{path}")
    lower = {k.lower(): v for k, v in headers.items()}
    if status != 200:
        problems.append(f"GET {path}: {status}")
        return None
    if not lower.get("content-type", "").startswith("text/plain; version=0.0.4"):
        problems.append(f"GET {path}: Content-Type {lower.get('content-type')}")
    if lower.get("cache-control") != "no-store":
        problems.append(f"GET {path}: Cache-Control {lower.get('cache-control')}")
    text = body.decode("utf-8")
    types, samples = {}, {}
    try:
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    except ValueError as e:
        problems.append(f"prometheus_client cannot parse {path}: {e}")
    return {"text": body, "types": types, "samples": samples}


def report(problems, after=None):
    if problems:
        for p in problems:
            print(f"FAIL: {p}", file=sys.stderr)
        return 1
    print(f"ok: {len(after['types'])} metric families parsed, request counts as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
