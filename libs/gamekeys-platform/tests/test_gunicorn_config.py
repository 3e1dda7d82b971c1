"""The services' shared gunicorn settings, under a real gunicorn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from gamekeys_platform.testing import free_port, wait_until_answering

GUNICORN = Path(sys.executable).with_name("gunicorn")

# A WSGI app that reports what its worker's collector and gunicorn were set to.
PROBE_APP = """
import gc, json, threading

def app(environ, start_response):
    body = json.dumps({"frozen": gc.get_freeze_count(), "threads": threading.active_count()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""


def test_workers_freeze_the_heap_the_app_left_and_run_threads(tmp_path):
    (tmp_path / "probe_app.py").write_text(PROBE_APP)
    port = free_port()
    server = subprocess.Popen(
        [str(GUNICORN), "-c", "python:gamekeys_platform.gunicorn_config", "--bind", f"127.0.0.1:{port}",
         "--chdir", str(tmp_path), "probe_app:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/", server)
        report = requests.get(f"http://127.0.0.1:{port}/", timeout=2).json()
        # Every object the worker had once its app was loaded (the interpreter's own included).
        assert report["frozen"] > 10_000
        # A pool of request threads beside the main one (gunicorn's sync worker has none).
        assert report["threads"] >= 2
    finally:
        server.terminate()
        server.wait(timeout=15)
