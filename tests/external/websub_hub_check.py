#!/usr/bin/env python3
"""A real external WebSub hub in front of `feedsmith serve`, all on loopback.

Starts flask-websub's hub (Celery in eager mode: each task runs inside the request that
queues it, no broker or worker needed), a subscriber (a small HTTP server that confirms
verifications of intent and records deliveries), and `feedsmith serve` with
`hub.external = [that hub]`. The subscriber subscribes to a feed at the external hub; a post
is then edited under posts/, and the subscriber must receive the new feed, through that hub,
within a bounded time.

    python3 tests/external/websub_hub_check.py target/debug/feedsmith

Exits 0 on success, 1 with what happened otherwise. Needs `pip install flask-websub celery`.
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Loopback only: never through a proxy from the environment.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

WAIT = 30.0


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def start_hub(db_path):
    """flask-websub's hub at http://127.0.0.1:PORT/hub; returns (url, server)."""
    from celery import Celery
    from flask import Flask
    from flask_websub.hub import Hub, SQLite3HubStorage
    from werkzeug.serving import make_server

    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = Flask("websub-hub")
    # The publish ping (hub.mode=publish with hub.topic) is what feedsmith sends.
    app.config["PUBLISH_SUPPORTED"] = True
    celery = Celery("websub-hub", broker="memory://", backend="cache+memory://")
    celery.conf.task_always_eager = True
    celery.conf.task_eager_propagates = False
    hub = Hub(SQLite3HubStorage(db_path), celery, REQUEST_TIMEOUT=5)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/hub", server


class Subscriber(BaseHTTPRequestHandler):
    verified = []
    deliveries = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        challenge = query.get("hub.challenge", "").encode()
        with self.lock:
            self.verified.append(query)
        self.send_response(200)
        self.send_header("Content-Length", str(len(challenge)))
        self.end_headers()
        self.wfile.write(challenge)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.deliveries.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()


def post_form(url, fields):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=WAIT) as resp:
        return resp.status, resp.read().decode()


def wait_until(what, check):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    fail(f"timed out after {WAIT} s waiting for {what}")


POST = """---
layout: post
title: "Through the hub"
date: 2024-03-01 10:00:00 +0000
categories: news
tags: websub
---
<p>{body}</p>
"""


def main():
    if len(sys.argv) != 2:
        fail("usage: websub_hub_check.py PATH/TO/feedsmith")
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="websub-hub-check-")
    posts = os.path.join(work, "posts")
    os.makedirs(posts)
    post = os.path.join(posts, "2024-03-01-through.md")
    with open(post, "w") as f:
        f.write(POST.format(body="first version"))

    hub_url, hub_server = start_hub(os.path.join(work, "hub.sqlite3"))
    sub_server = ThreadingHTTPServer(("127.0.0.1", 0), Subscriber)
    threading.Thread(target=sub_server.serve_forever, daemon=True).start()
    callback = f"http://127.0.0.1:{sub_server.server_port}/callback"

    config = os.path.join(work, "feedsmith.toml")
    with open(config, "w") as f:
        f.write(f'[hub]\nexternal = ["{hub_url}"]\ntimeout_ms = 10000\nretry_base_ms = 200\n')
    log = open(os.path.join(work, "serve.log"), "w")
    proc = subprocess.Popen(
        [binary, "serve", "--config", config, "--posts", posts,
         "--out", os.path.join(work, "feeds"), "--listen", "127.0.0.1:0"],
        cwd=work, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        first = proc.stdout.readline()
        m = re.match(r"listening on (http://127\.0\.0\.1:\d+/)", first)
        if not m:
            fail(f"feedsmith printed {first!r}")
        site = m.group(1)
        topic = f"{site}categories/news/atom.xml"

        # The feed names the external hub: a WebSub subscriber finds it there.
        with urllib.request.urlopen(topic, timeout=WAIT) as resp:
            link = resp.headers.get("Link", "")
        if f"<{hub_url}>; rel=\"hub\"" not in link:
            fail(f"{topic} does not advertise {hub_url}: Link: {link}")

        status, text = post_form(hub_url, {
            "hub.mode": "subscribe", "hub.topic": topic, "hub.callback": callback})
        if status != 202:
            fail(f"subscribe answered {status}: {text}")
        wait_until("the hub's verification of intent",
                   lambda: any(q.get("hub.topic") == topic for q in Subscriber.verified))

        with open(post, "w") as f:
            f.write(POST.format(body="second version, pushed through flask-websub"))
        started = time.monotonic()
        headers, body = wait_until(
            "the new feed delivered by the external hub",
            lambda: next(((h, b) for h, b in list(Subscriber.deliveries)
                          if b"second version, pushed through flask-websub" in b), None))
        took = time.monotonic() - started
        if b"<feed" not in body:
            fail(f"the delivery is not the Atom feed: {body[:200]!r}")
        links = next((v for k, v in headers.items() if k.lower() == "link"), "")
        if 'rel="self"' not in links or topic not in links:
            fail(f"the delivery's Link header does not name the topic: {headers}")
        print(f"ok: {topic} delivered through {hub_url} {took * 1000:.0f} ms after the edit")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        hub_server.shutdown()
        sub_server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
