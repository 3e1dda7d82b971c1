"""Transactional outbox (§4): events are rows written with the state change, then relayed.

``Outbox.add`` writes the event in the caller's transaction, so it exists exactly when the
change does; its data is the event type's contract (``gamekeys_platform.contracts``), so a
service can only emit what the contract says. ``OutboxRelay`` claims pending rows with
``FOR UPDATE SKIP LOCKED`` (several relays can run), publishes them with acks=all, and marks
them sent only once the broker has acknowledged them; failures are retried with backoff.
Publishing may repeat an event after a lost ack, never lose one: consumers deduplicate by
event id (see ``consumer``).

Trace context (``gamekeys_platform.tracing``): the event's envelope carries the writer's trace
id (``traceId``), and its row keeps the writer's ``traceparent`` beside the envelope in
``payload`` (a key the relay never publishes as part of the event). The relay sends each event
from a PRODUCER span, child of that writer, with its ``traceparent`` as a Kafka header, so the
consumer continues the same trace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from kafka import KafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gamekeys_platform import tracing
from gamekeys_platform.contracts import EventData
from gamekeys_platform.db import Database
from gamekeys_platform.events import TOPIC_BY_SOURCE, Event

log = logging.getLogger("gamekeys.outbox")

OUTBOX_PENDING = Gauge(
    "outbox_pending_events", "Events written but not yet acknowledged by Kafka", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge("outbox_oldest_pending_age_seconds", "Age of the oldest pending event", ["service"])
LAG_REFRESH_SECONDS = 5.0
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Events acknowledged by Kafka", ["service"])
OUTBOX_FAILURES = Counter("outbox_publish_failures_total", "Failed publish attempts", ["service"])


class Outbox:
    """A service's way to emit events: ``outbox.add(session, keys.KeyActivated(...))``."""

    def __init__(self, db: Database, source: str, *, topic: str | None = None) -> None:
        self.table = db.tables.outbox
        self.source = source
        self.topic = topic or TOPIC_BY_SOURCE[source]
        # Built once and executed with parameters on the session's connection (its transaction):
        # SQLAlchemy's compiled cache is hit without walking a new statement on every event, and
        # a Core insert gains nothing from Session.execute's ORM layer (~70 µs a statement).
        self._insert = insert(self.table)

    def add(self, session: Session, data: EventData) -> Event:
        return self.add_all(session, [data])[0]

    def add_all(self, session: Session, datas: Sequence[EventData]) -> list[Event]:
        """Emit every event of ``datas``, in order, with one statement (a consumer handling a
        whole poll at once emits its events together)."""
        for data in datas:
            if self.source != data.SOURCE:
                raise ValueError(f"{data.TYPE} is {data.SOURCE}'s event, not {self.source}'s")
        events = [data.to_event() for data in datas]
        if not events:
            return events
        traceparent = tracing.current_traceparent()
        rows = []
        for event in events:
            payload = event.to_dict()
            if traceparent is not None:
                payload[tracing.TRACEPARENT] = traceparent
            rows.append(
                {
                    "event_id": event.id,
                    "topic": self.topic,
                    "message_key": event.subject,
                    "event_type": event.type,
                    "payload": payload,
                }
            )
        # A list of parameter sets goes out as one multi-row INSERT.
        session.connection().execute(self._insert, rows)
        return events


def kafka_producer(
    bootstrap_servers: list[str], *, client_id: str, delivery_timeout_ms: int = 15_000
) -> KafkaProducer:
    """acks=all with bounded waits, so a broker that stops answering turns into failed sends the
    relay retries, not a hang.

    The idempotent producer is off: once a batch expires during an outage, kafka-python's
    idempotent producer kept failing every later send against the local broker. Duplicates
    it would have prevented are absorbed by the consumers' inbox, and one request in flight
    per connection keeps each aggregate's events in order.
    """
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        retries=3,
        max_in_flight_requests_per_connection=1,
        request_timeout_ms=5_000,
        delivery_timeout_ms=delivery_timeout_ms,
        max_block_ms=5_000,
        linger_ms=5,
    )


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        producer: KafkaProducer,
        *,
        service_name: str,
        batch_size: int = 500,
        idle_sleep_seconds: float = 0.2,
        send_timeout_seconds: float = 15.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.table = db.tables.outbox
        self.producer = producer
        self.service_name = service_name
        self.batch_size = batch_size
        self.idle_sleep_seconds = idle_sleep_seconds
        self.send_timeout_seconds = send_timeout_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.stop_event = threading.Event()
        self._lag_refresh_due = 0.0

    def run_forever(self) -> None:
        log.info("outbox relay started", extra={"service": self.service_name})
        while not self.stop_event.is_set():
            try:
                published = self.relay_once()
            except Exception:  # the database or broker went away: keep the loop alive, try again
                log.exception("outbox relay cycle failed")
                published = 0
            if published == 0:
                self.stop_event.wait(self.idle_sleep_seconds)
        self.producer.close(timeout=5)
        log.info("outbox relay stopped")

    def stop(self) -> None:
        self.stop_event.set()

    def relay_once(self) -> int:
        """Publish one batch of due events; returns how many were acknowledged."""
        t = self.table
        with self.db.transaction() as session:
            rows = session.execute(
                select(t.c.seq, t.c.topic, t.c.message_key, t.c.payload, t.c.attempts)
                .where(t.c.sent_at.is_(None), t.c.available_at <= func.now())
                .order_by(t.c.seq)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                if time.monotonic() >= self._lag_refresh_due:
                    self._update_lag_metrics(session)
                return 0
            sent, failed = self._publish(rows)
            if sent:
                session.execute(update(t).where(t.c.seq.in_(sent)).values(sent_at=func.now()))
            for row, error in failed:
                backoff = min(self.max_backoff_seconds, 0.5 * 2 ** min(row.attempts, 10))
                session.execute(
                    update(t)
                    .where(t.c.seq == row.seq)
                    .values(
                        attempts=t.c.attempts + 1,
                        last_error=error[:500],
                        available_at=func.now() + timedelta(seconds=backoff),
                    )
                )
        OUTBOX_PUBLISHED.labels(self.service_name).inc(len(sent))
        if failed:
            OUTBOX_FAILURES.labels(self.service_name).inc(len(failed))
            log.warning("outbox publish failed", extra={"failed": len(failed), "error": failed[0][1][:200]})
        return len(sent)

    def _publish(self, rows) -> tuple[list[int], list[tuple[Any, str]]]:
        futures = []
        for row in rows:
            try:
                future = self._send(row)
            except Exception as exc:  # buffer full or metadata unavailable: this row waits
                futures.append((row, None, f"{type(exc).__name__}: {exc}"))
                continue
            futures.append((row, future, None))
        deadline = time.monotonic() + self.send_timeout_seconds
        sent: list[int] = []
        failed: list[tuple[Any, str]] = []
        for row, future, error in futures:
            if future is None:
                failed.append((row, error))
                continue
            try:
                future.get(timeout=max(0.1, deadline - time.monotonic()))
                sent.append(row.seq)
            except Exception as exc:
                failed.append((row, f"{type(exc).__name__}: {exc}"))
        return sent, failed

    def _send(self, row):
        """Send one row's event from a PRODUCER span in its writer's trace; the future of its ack."""
        event = Event.from_dict(row.payload)
        stored = row.payload.get(tracing.TRACEPARENT)
        writer = tracing.context_from_event(
            {tracing.TRACEPARENT: stored} if stored else None, event.trace_id, event.id
        )
        with tracing.span(
            f"{row.topic} publish",
            kind=tracing.SpanKind.PRODUCER,
            parent=writer,
            attributes={"messaging.destination.name": row.topic, "messaging.message.id": str(event.id)},
        ):
            headers = tracing.kafka_headers(tracing.current_traceparent())
            return self.producer.send(
                row.topic, key=row.message_key.encode(), value=event.to_json(), headers=headers
            )

    def _update_lag_metrics(self, session: Session) -> None:
        # Counting the backlog was half of an idle relay's CPU when done at every idle poll
        # (five a second); a gauge scraped every 15 s or so needs it every few seconds.
        self._lag_refresh_due = time.monotonic() + LAG_REFRESH_SECONDS
        t = self.table
        count, oldest = session.execute(
            select(func.count(), func.extract("epoch", func.now() - func.min(t.c.created_at))).where(
                t.c.sent_at.is_(None)
            )
        ).one()
        OUTBOX_PENDING.labels(self.service_name).set(count)
        OUTBOX_OLDEST_AGE.labels(self.service_name).set(float(oldest or 0))
