"""Event consumer runner (§4): at-least-once delivery, exactly-once effect.

Each record is handled in a database transaction that also writes the event id into the
service's inbox; a redelivered event finds its id there and has no second effect. Offsets
are committed to Kafka only after that transaction commits. A handler that keeps failing
on the same event sends it to ``<topic>.dlq`` after ``max_attempts``; an unavailable
database or dependency is retried for as long as it takes, since dead-lettering would
lose work that will succeed later; an event whose data breaks its contract (the handler,
an ``EventHandlers``, raises ``ContractViolation``) is dead-lettered at once with the reason.
A consumer given ``event_types`` (or an ``EventHandlers``, which names them) settles the other types
of its topics at once, without a transaction: ignoring an event has no effect to make
exactly-once, and a topic mostly carries events a given consumer does not need.

The records one poll returns for a partition are first settled together, in one transaction
(one multi-row inbox insert claims them all, the handler runs for each claimed event in order,
one commit): a transaction and a commit per event were most of a consumer's CPU (a handler of
one insert, draining a backlog: 0.8 ms per event, now 0.2). If anything in the batch fails, it
is rolled back and its records are settled one at a time as above, which retries or
dead-letters the failing one alone. A handler may therefore run for an event whose transaction
is then rolled back, and run again: its effects outside the database must be idempotent, as
they are (antifraud's Redis counters by event or activation id, activation-gateway's
key-manager calls by activation or hold id).

Each event is handled in a CONSUMER span continuing its record's ``traceparent`` header (or the
envelope's ``traceId``, see ``tracing.context_from_event``), with the request id set to the
envelope's ``traceId``: the handler's logs, calls and events stay in the producer's trace.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy.exc
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gamekeys_platform import tracing
from gamekeys_platform.db import Database
from gamekeys_platform.errors import ApiError
from gamekeys_platform.events import Event, MalformedEvent
from gamekeys_platform.outbox import kafka_producer
from gamekeys_platform.request_context import reset_request_id, set_request_id

log = logging.getLogger("gamekeys.consumer")

EventHandler = Callable[[Session, Event], None]

CONSUMED = Counter("events_consumed_total", "Events handled", ["consumer", "outcome"])
OUTCOMES = ("processed", "duplicate", "ignored", "dead_lettered")
# Records between this member's position and the partition's end, as of its last fetch: the
# consumer-lag alert and dashboard read it (`gamekeys consumers lag` asks the broker instead).
LAG = Gauge("events_consumer_lag", "Records not yet consumed", ["consumer", "topic", "partition"])
LAG_REFRESH_SECONDS = 5.0

_TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)


def _is_transient(exc: Exception) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    return isinstance(exc, ApiError) and exc.code in ("SERVICE_UNAVAILABLE", "DATABASE_ERROR")


def kafka_consumer(
    bootstrap_servers: list[str], *, group_id: str, topics: list[str], **options: Any
) -> KafkaConsumer:
    """The platform's consumer settings; ``options`` override them (a bulk reader's larger polls
    and fetches, say)."""
    return KafkaConsumer(
        *topics,
        **{
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "client_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            # Short session: a restarted consumer rejoins in seconds, not the ~20 s default.
            "session_timeout_ms": 6_000,
            "heartbeat_interval_ms": 2_000,
            "max_poll_records": 200,
            **options,
        },
    )


class EventConsumer:
    def __init__(
        self,
        db: Database,
        consumer: KafkaConsumer,
        dead_letter_producer: KafkaProducer,
        *,
        name: str,
        handler: EventHandler,
        event_types: Collection[str] | None = None,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 0.5,
    ) -> None:
        self.db = db
        # An EventHandlers names the types it handles; a plain handler may be given them.
        event_types = getattr(handler, "event_types", None) if event_types is None else event_types
        self.event_types = None if event_types is None else frozenset(event_types)
        self.inbox = db.tables.inbox
        self.consumer = consumer
        self.dead_letter_producer = dead_letter_producer
        self.name = name
        self.handler = handler
        self.max_attempts = max_attempts
        self.retry_backoff_seconds = retry_backoff_seconds
        self.failures: dict[uuid.UUID, int] = {}
        self._claim = insert(self.inbox).on_conflict_do_nothing().returning(self.inbox.c.event_id)
        self.stop_event = threading.Event()
        self._lag_partitions: set[TopicPartition] = set()
        self._lag_refreshed = 0.0
        # Every outcome's series exists from the start at 0, so increase() sees a first dead letter.
        for outcome in OUTCOMES:
            CONSUMED.labels(name, outcome)

    @classmethod
    def connect(
        cls,
        db: Database,
        servers: list[str],
        *,
        name: str,
        topics: list[str],
        handler: EventHandler,
        group: str | None = None,
        **options: Any,
    ) -> EventConsumer:
        """The consumer ``name`` (its inbox rows carry that name) on ``topics``, in the Kafka
        consumer group ``group`` (``name`` by default), dead letters to ``<topic>.dlq``;
        ``options`` as ``__init__`` takes them (``event_types``, ...)."""
        group = group or name
        return cls(
            db,
            kafka_consumer(servers, group_id=group, topics=topics),
            kafka_producer(servers, client_id=f"{group}-dlq"),
            name=name,
            handler=handler,
            **options,
        )

    def _wants(self, event: Event) -> bool:
        """Whether the handler is for this event's type (the others are settled at once)."""
        return self.event_types is None or event.type in self.event_types

    def run_forever(self) -> None:
        log.info("consumer started", extra={"consumer": self.name})
        try:
            while not self.stop_event.is_set():
                self.poll_once()
        finally:
            self._finish_joining()
            self.consumer.close(autocommit=False)
            self.dead_letter_producer.close(timeout=5)
            log.info("consumer stopped", extra={"consumer": self.name})

    def _finish_joining(self, timeout_seconds: float = 10.0) -> None:
        """Let a group join in flight complete before leaving. A member that goes away in the
        middle of its first join is never forgotten by the local broker (Tansu 0.6): the group
        waits for it and never rebalances again, so every later consumer of that group hangs.
        What these polls fetch is neither handled nor committed: it is delivered again."""
        deadline = time.monotonic() + timeout_seconds
        while not self.consumer.assignment() and time.monotonic() < deadline:
            self.consumer.poll(timeout_ms=200)

    def stop(self) -> None:
        self.stop_event.set()

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Handle what one poll returns; returns how many records were settled."""
        settled = 0
        for partition, records in self.consumer.poll(timeout_ms=timeout_ms).items():
            if self.stop_event.is_set():
                break
            if self._settle_together(records):
                self._commit(partition, records[-1].offset + 1)
                settled += len(records)
            else:
                settled += self._settle_one_by_one(partition, records)
        self._refresh_lag()
        return settled

    def _refresh_lag(self) -> None:
        """Set the lag gauge from what the fetches already told (no request of its own), every
        few seconds; partitions this member no longer has are dropped from it."""
        now = time.monotonic()
        if now - self._lag_refreshed < LAG_REFRESH_SECONDS:
            return
        self._lag_refreshed = now
        assigned = set(self.consumer.assignment())
        for gone in self._lag_partitions - assigned:
            LAG.remove(self.name, gone.topic, str(gone.partition))
        self._lag_partitions &= assigned
        for partition in assigned:
            end = self.consumer.highwater(partition)
            if end is None:
                continue  # nothing fetched from it yet
            try:
                position = self.consumer.position(partition)
            except Exception as exc:  # a rebalance in flight: next time
                log.debug("no position for %s: %s", partition, type(exc).__name__)
                continue
            LAG.labels(self.name, partition.topic, str(partition.partition)).set(max(end - position, 0))
            self._lag_partitions.add(partition)

    def _settle_one_by_one(self, partition: TopicPartition, records) -> int:
        settled, next_offset = 0, None
        for record in records:
            if self.stop_event.is_set():
                break
            if not self._settle(record):
                # Not settled: rewind so the next poll delivers it again, after a pause.
                self.consumer.seek(partition, record.offset)
                self.stop_event.wait(self.retry_backoff_seconds)
                break
            next_offset = record.offset + 1
            settled += 1
        if next_offset is not None:
            self._commit(partition, next_offset)
        return settled

    def _commit(self, partition: TopicPartition, offset: int) -> None:
        try:
            self.consumer.commit({partition: OffsetAndMetadata(offset, "", -1)})
        except Exception as exc:  # a rebalance or broker outage: the inbox absorbs the redelivery
            log.warning("offset commit failed: %s", type(exc).__name__)

    def _settle_together(self, records) -> bool:
        """Settle every record in one transaction; False, with nothing done, when one of them
        cannot be: they are then settled one at a time."""
        try:
            events = [(record, Event.from_json(record.value)) for record in records]
        except MalformedEvent:
            return False  # dead-lettered on its own, where a failed send is retried
        handled = [(record, event) for record, event in events if self._wants(event)]
        processed = 0
        if handled:
            try:
                with self.db.transaction() as session:
                    processed = self._claim_and_handle(session, handled)
            except Exception as exc:
                log.info(
                    "batch of %d rolled back (%s), settling one by one", len(records), type(exc).__name__
                )
                return False
        for _record, event in handled:
            self.failures.pop(event.id, None)
        for outcome, count in (
            ("processed", processed),
            ("duplicate", len(handled) - processed),
            ("ignored", len(events) - len(handled)),
        ):
            if count:
                CONSUMED.labels(self.name, outcome).inc(count)
        return True

    def _claim_and_handle(self, session: Session, events: list[tuple[Any, Event]]) -> int:
        """Insert the events' inbox rows and run the handler, in order, for each event newly
        claimed (neither in the inbox already nor earlier in the batch); returns how many."""
        rows = [
            {"consumer": self.name, "event_id": e.id, "event_type": e.type, "outcome": "processed"}
            for _record, e in events
        ]
        # A list of parameter sets goes out as one multi-row INSERT ... RETURNING.
        claimed = set(session.execute(self._claim, rows).scalars())
        fresh = []
        for record, event in events:
            if event.id in claimed:
                claimed.remove(event.id)  # a second copy later in the batch is a duplicate
                fresh.append((record, event))
        handle_all = getattr(self.handler, "handle_all", None)
        if handle_all is not None:  # an EventHandlers: runs of one type may go together
            record_of = {event.id: record for record, event in fresh}
            handle_all(
                session,
                [event for _record, event in fresh],
                context=lambda event: self._handling(record_of[event.id], event),
            )
        else:
            for record, event in fresh:
                with self._handling(record, event):
                    self.handler(session, event)
        return len(fresh)

    @contextmanager
    def _handling(self, record, event: Event) -> Iterator[None]:
        """The event's trace and request id, current while it is handled."""
        token = set_request_id(event.trace_id)
        try:
            with tracing.span(
                f"{event.type} process",
                kind=tracing.SpanKind.CONSUMER,
                parent=tracing.context_from_event(record.headers, event.trace_id, event.id),
                attributes={
                    "messaging.consumer.group.name": self.name,
                    "messaging.destination.name": record.topic,
                    "messaging.message.id": str(event.id),
                },
            ):
                yield
        finally:
            reset_request_id(token)

    def _settle(self, record) -> bool:
        """True when the record needs no further delivery (handled, duplicate, or dead-lettered)."""
        try:
            event = Event.from_json(record.value)
        except MalformedEvent as exc:
            return self._dead_letter(record, None, str(exc))
        if not self._wants(event):
            CONSUMED.labels(self.name, "ignored").inc()
            return True
        with self._handling(record, event):
            return self._settle_event(record, event)

    def _settle_event(self, record, event: Event) -> bool:
        try:
            with self.db.transaction() as session:
                claimed = session.execute(
                    insert(self.inbox)
                    .values(consumer=self.name, event_id=event.id, event_type=event.type, outcome="processed")
                    .on_conflict_do_nothing()
                    .returning(self.inbox.c.event_id)
                ).first()
                if claimed is None:
                    CONSUMED.labels(self.name, "duplicate").inc()
                    return True
                self.handler(session, event)
            self.failures.pop(event.id, None)
            CONSUMED.labels(self.name, "processed").inc()
            return True
        except MalformedEvent as exc:  # its data breaks its contract: no retry can mend that
            return self._dead_letter(record, event, str(exc))
        except Exception as exc:
            if _is_transient(exc):
                log.warning("event %s waits for a dependency: %s", event.id, type(exc).__name__)
                return False
            attempts = self.failures.get(event.id, 0) + 1
            self.failures[event.id] = attempts
            log.exception("handler failed on event %s (attempt %d)", event.id, attempts)
            if attempts < self.max_attempts:
                return False
            return self._dead_letter(record, event, f"{type(exc).__name__}: {exc}")

    def _dead_letter(self, record, event: Event | None, reason: str) -> bool:
        try:
            send_to_dead_letter(self.dead_letter_producer, record, consumer=self.name, reason=reason)
            if event is not None:
                with self.db.transaction() as session:
                    session.execute(
                        insert(self.inbox)
                        .values(
                            consumer=self.name,
                            event_id=event.id,
                            event_type=event.type,
                            outcome="dead_lettered",
                        )
                        .on_conflict_do_nothing()
                    )
                self.failures.pop(event.id, None)
        except Exception as exc:
            log.warning("dead-lettering failed, will retry: %s", type(exc).__name__)
            return False
        CONSUMED.labels(self.name, "dead_lettered").inc()
        return True


def send_to_dead_letter(producer: KafkaProducer, record, *, consumer: str, reason: str) -> None:
    """Publish ``record`` as it came to ``<topic>.dlq``, with headers naming the consumer, the
    reason and where it came from; raises when the broker does not acknowledge it (the caller
    retries rather than settle a record nobody kept)."""
    origin = f"{record.topic}/{record.partition}/{record.offset}"
    headers = [
        ("consumer", consumer.encode()),
        ("error", reason[:500].encode()),
        ("origin", origin.encode()),
    ]
    traceparent = tracing.traceparent_of(record.headers)
    if traceparent is not None:  # a replay (gamekeys dlq replay) continues the event's trace
        headers.append((tracing.TRACEPARENT, traceparent))
    producer.send(f"{record.topic}.dlq", key=record.key, value=record.value, headers=headers).get(timeout=10)
    log.error("event dead-lettered", extra={"origin": origin, "reason": reason[:200]})
