"""Shared by the long-run scripts (soak.py, slowloris.py): start `feedsmith serve` on a
temporary copy of a posts directory on a loopback port, stop it, and report checks."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_server(binary, posts, work, config, extra=()):
    """Copies `posts` into `work`, writes `config` as feedsmith.toml, starts the server on
    127.0.0.1:0 and returns (process, port); exits 2 if it does not start."""
    if not os.path.exists(binary):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    shutil.copytree(posts, os.path.join(work, "posts"))
    with open(os.path.join(work, "feedsmith.toml"), "w") as f:
        f.write(config)
    log = open(os.path.join(work, "serve.log"), "w")
    server = subprocess.Popen(
        [binary, "serve", "--config", "feedsmith.toml", "--posts", "posts", "--out", "feeds",
         "--listen", "127.0.0.1:0", *extra],
        cwd=work, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    first = server.stdout.readline().strip()
    if not first.startswith("listening on http://127.0.0.1:"):
        stop_server(server)
        print(f"FAIL server did not start: {first!r}")
        sys.exit(2)
    return server, int(first.rsplit(":", 1)[1].strip("/"))


def stop_server(server):
    """SIGTERM, then SIGKILL after 15 s."""
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def report(name, checks):
    """Prints one line per (ok, what) check and `name: N passed, M failed`; exits 0 only if
    every check passed."""
    passed = sum(1 for ok, _ in checks if ok)
    for ok, what in checks:
        print(("PASS " if ok else "FAIL ") + what)
    print(f"{name}: {passed} passed, {len(checks) - passed} failed")
    sys.exit(0 if passed == len(checks) else 1)
