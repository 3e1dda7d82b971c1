"""Running a service's background loops (outbox relay, consumers, housekeeping) as a process.

Every loop has ``run_forever()`` and ``stop()``; ``run_until_signalled`` runs them on threads
and stops them all on SIGTERM/SIGINT, so Kubernetes and ``make stop`` shut workers down
cleanly: the current batch finishes, offsets are committed, connections closed. With a
``metrics_port`` (``WORKER_METRICS_PORT``) the process serves its Prometheus metrics there: the
outbox relay's backlog, the consumers' counts and lag live in the worker, not in the API.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Protocol

from prometheus_client import start_http_server
from sqlalchemy import func
from sqlalchemy.orm import Session

from gamekeys_platform import tracing
from gamekeys_platform.consumer import EventConsumer, EventHandler
from gamekeys_platform.db import Database, delete_in_batches
from gamekeys_platform.idempotency import purge_expired
from gamekeys_platform.outbox import OutboxRelay, kafka_producer

log = logging.getLogger("gamekeys.workers")


class Loop(Protocol):
    def run_forever(self) -> None: ...

    def stop(self) -> None: ...


def run_until_signalled(*loops: Loop, metrics_port: int | None = None) -> None:
    stopping = threading.Event()

    def request_stop(signum, _frame) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if metrics_port:
        start_http_server(metrics_port)
        log.info("serving metrics", extra={"port": metrics_port})
    threads = [
        threading.Thread(target=loop.run_forever, name=type(loop).__name__, daemon=True) for loop in loops
    ]
    for thread in threads:
        thread.start()
    while not stopping.is_set() and all(thread.is_alive() for thread in threads):
        stopping.wait(1.0)
    for loop in loops:
        loop.stop()
    for thread in threads:
        thread.join(timeout=30)


class Deferred:
    """A loop built on first run, and rebuilt until it can be: a broker that is down when the
    worker starts (its Kafka clients connect when created) must not stop the other loops."""

    def __init__(self, name: str, build: Callable[[], Loop], retry_seconds: float = 5.0) -> None:
        self.name = name
        self.build = build
        self.retry_seconds = retry_seconds
        self.stop_event = threading.Event()
        self.loop: Loop | None = None

    def run_forever(self) -> None:
        while self.loop is None and not self.stop_event.is_set():
            try:
                self.loop = self.build()
            except Exception as exc:
                log.warning("%s cannot start yet: %s", self.name, type(exc).__name__)
                self.stop_event.wait(self.retry_seconds)
        if self.loop is not None and not self.stop_event.is_set():
            self.loop.run_forever()

    def stop(self) -> None:
        self.stop_event.set()
        if self.loop is not None:
            self.loop.stop()


class PeriodicTask:
    """Calls ``task`` every ``interval_seconds``; a failure is logged and retried next time."""

    def __init__(self, name: str, task: Callable[[], object], interval_seconds: float) -> None:
        self.name = name
        self.task = task
        self.interval_seconds = interval_seconds
        self.stop_event = threading.Event()

    def run_forever(self) -> None:
        while not self.stop_event.is_set():
            # Each run is a trace of its own: its logs and the events it emits share its id.
            with tracing.span(f"periodic {self.name}", parent=tracing.Context()):
                try:
                    result = self.task()
                    log.info("periodic task done", extra={"task": self.name, "result": result})
                except Exception:
                    log.exception("periodic task %s failed", self.name)
            self.stop_event.wait(self.interval_seconds)

    def stop(self) -> None:
        self.stop_event.set()


def outbox_relay(db: Database, servers: list[str], *, source: str) -> Deferred:
    """The service's outbox relay (``source`` names the service and its topic)."""
    return Deferred(
        "outbox relay",
        lambda: OutboxRelay(db, kafka_producer(servers, client_id=f"{source}-relay"), service_name=source),
    )


def event_consumer(
    label: str,
    db: Database,
    servers: list[str],
    *,
    group: str,
    topics: list[str],
    handler: EventHandler,
    event_types: Collection[str] | None = None,
) -> Deferred:
    """Consumer group ``group`` on ``topics``: each event handled once through the service's
    inbox, dead letters to ``<topic>.dlq`` (see ``consumer.EventConsumer``)."""
    return Deferred(
        label,
        lambda: EventConsumer.connect(
            db, servers, name=group, topics=topics, handler=handler, event_types=event_types
        ),
    )


def housekeeping(db: Database, *, keep_sent_events: timedelta = timedelta(days=7)) -> PeriodicTask:
    """Hourly: expired idempotency keys (24 h by default) and long-published outbox rows go."""

    def clean() -> dict[str, int]:
        with db.sessions() as session:
            keys = purge_expired(session, db.tables.idempotency_keys)
            events = purge_sent_events(session, db, older_than=keep_sent_events)
        return {"idempotencyKeys": keys, "outboxEvents": events}

    return PeriodicTask("housekeeping", clean, interval_seconds=3600)


def purge_sent_events(session: Session, db: Database, *, older_than: timedelta) -> int:
    outbox = db.tables.outbox
    return delete_in_batches(session, outbox, outbox.c.sent_at < func.now() - older_than)
