"""The services' shared gunicorn settings, under a real gunicorn."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

GUNICORN = Path(sys.executable).with_name("gunicorn")

# A WSGI app that reports what its worker's collector and gunicorn were set to.
PROBE_APP = """
import gc, json, threading

def app(environ, start_response):
    body = json.dumps({"frozen": gc.get_freeze_count(), "threads": threading.active_count()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_workers_freeze_the_heap_the_app_left_and_run_threads(tmp_path):
    (tmp_path / "probe_app.py").write_text(PROBE_APP)
    port = _free_port()
    server = subprocess.Popen(
        [str(GUNICORN), "-c", "python:gamekeys_platform.gunicorn_config", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(tmp_path), "probe_app:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        report = json.loads(answer.content)
        # Every object the worker had once its app was loaded (the interpreter's own included).
        assert report["frozen"] > 10_000
        # A pool of request threads beside the main one (gunicorn's sync worker has none).
        assert report["threads"] >= 2
    finally:
        server.terminate()
        server.wait(timeout=15)
