"""JSON-lines logging: one object per line, carrying the request id and the trace of the work in
hand (``traceId``, ``spanId``: W3C ids, the same in every service the work passes through, and
the ``traceId`` of the events it emits)."""

from __future__ import annotations

import logging
import sys
import time

from pythonjsonlogger.json import JsonFormatter

from gamekeys_platform.request_context import current_request_id
from gamekeys_platform.tracing import current_ids


class _ContextFilter(logging.Filter):
    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service_name
        record.requestId = current_request_id()
        record.traceId, record.spanId = current_ids()
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """Route every logger to stdout as JSON; safe to call more than once (tests build many apps)."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(requestId)s %(traceId)s %(spanId)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%SZ",
    )
    formatter.converter = time.gmtime  # UTC with Z, like every timestamp of the platform
    handler.setFormatter(formatter)
    handler.addFilter(_ContextFilter(service_name))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "_gamekeys", False)]:
        root.removeHandler(existing)
    handler._gamekeys = True
    root.addHandler(handler)
    root.setLevel(level)
    # Werkzeug's own access log would duplicate ours, in plain text.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.WARNING)
