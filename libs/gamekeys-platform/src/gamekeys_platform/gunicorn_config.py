"""The gunicorn settings every service's API runs with:
``gunicorn -c python:gamekeys_platform.gunicorn_config --bind HOST:PORT '<package>.app:create_app()'``
(options given on the command line win).

Threads, so that a request waiting on another service, PostgreSQL or Redis does not hold a
whole worker. Each worker then freezes what loading the app left on its heap (Flask,
SQLAlchemy, marshmallow, compiled rules: some 150,000 objects that live as long as the
worker): left to the collector, every full collection walks them all with the GIL held,
80-100 ms in which none of the worker's threads answers, every few seconds under load.
"""

from __future__ import annotations

import gc
import os

from prometheus_client import multiprocess

from gamekeys_platform import tracing

workers = 2
threads = 8
graceful_timeout = 10


def post_worker_init(worker) -> None:
    gc.collect()  # what loading left as garbage is freed, not frozen
    gc.freeze()


def child_exit(_server, worker) -> None:
    # A dead worker's live gauges (geoip_data_*) must not linger in the multiprocess directory.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def worker_exit(_server, _worker) -> None:
    # Spans still batched for export leave before the worker does.
    tracing.shutdown()
