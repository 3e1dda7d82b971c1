"""Ingestion: every topic of ARCHITECTURE.md §4 into ClickHouse's ``events`` table, in batches.

One consumer group reads all the topics; each record goes through the pure processor
(``domain.events.event_row``) and joins the current batch. A batch is due when it holds
``batch_size`` events or its first event is ``batch_seconds`` old; it is then handed to a
writer thread, which inserts it while the consumer reads and processes the next batch (the
insert is mostly waiting for ClickHouse to write its parts). At most one batch is in flight:
the next due batch waits for it. The Kafka offsets of a batch's records are committed only
once ClickHouse has acknowledged its insert, by the consumer's thread (a KafkaConsumer is not
thread-safe), and in order, so no offset is committed past an event that is not written
(getsentry/snuba's consumer). A crash before the commit redelivers the batch, and a rebalance
may too: the table collapses a redelivered event with its first copy (ReplacingMergeTree on
the event id, see the migration), and the reports read it exactly, so nothing is counted twice
and nothing is lost.

An insert that fails is retried after a backoff with the batch kept and the partitions paused
(the consumer keeps polling, so it stays in its group). Before a rebalance takes partitions
away, and before stopping, the batch in flight and the batch being read are written and
committed (one try), or else rewound. An event that is not a valid envelope, or breaks its
contract, or has no contract goes to ``<topic>.dlq`` with the reason (the platform's
dead-letter shape, ``gamekeys_platform.consumer.send_to_dead_letter``) and ingestion goes on;
its offset is committed with the batch it came in.

The consumer is confluent-kafka's (librdkafka), not kafka-python's as elsewhere in the platform:
ingestion takes every event of every topic with little work per event, and kafka-python's record
decoding was the largest part of it (about 10 µs of CPU per record against 1.5 in librdkafka,
which decodes in C on its own threads). The dead letters, a few, still go through the platform's
kafka-python producer.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from kafka import KafkaProducer
from prometheus_client import Counter, Histogram

from analytics.db.clickhouse import ClickHouse
from analytics.domain.events import COLUMNS, EventRow, event_row
from gamekeys_platform.consumer import send_to_dead_letter
from gamekeys_platform.events import MalformedEvent
from gamekeys_platform.outbox import kafka_producer

log = logging.getLogger("analytics.ingest")

INGESTED = Counter(
    "analytics_events_ingested_total", "Events inserted into ClickHouse (redeliveries included)"
)
DEAD_LETTERED = Counter("analytics_events_dead_lettered_total", "Events sent to <topic>.dlq")
INSERT_FAILURES = Counter("analytics_insert_failures_total", "Batch inserts that failed and were retried")
BATCH_SECONDS = Histogram("analytics_batch_insert_seconds", "Time to insert one batch into ClickHouse")

EVENTS_TABLE = "events"

# A partition as the batches track it: (topic, partition number).
Partition = tuple[str, int]


def consumer_settings(servers: list[str], group: str) -> dict[str, Any]:
    """librdkafka's settings for the ingestion consumer: the platform's (``kafka_consumer`` in
    gamekeys_platform.consumer) under their librdkafka names, with large fetches (records cost
    little here: no transaction each, so the consumer should rarely wait on the broker)."""
    return {
        "bootstrap.servers": ",".join(servers),
        "group.id": group,
        "client.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6_000,
        "heartbeat.interval.ms": 2_000,
        "max.partition.fetch.bytes": 8 * 1024 * 1024,
        "on_commit": _log_commit_failure,
        "logger": logging.getLogger("analytics.ingest.librdkafka"),
    }


def tune_garbage_collection() -> None:
    """For the process that runs the ingestion. A batch holds about a million objects (rows,
    their UUIDs and lists), made over a second and dropped together, which the cyclic
    collector's default thresholds scan again and again (reading a record into a batch took
    28-34 µs with them, 18 µs with the collector off). Nothing the ingestion makes has cycles;
    what is loaded by now is frozen out of the scans, and a young collection runs every 100,000
    allocations instead of 700."""
    gc.freeze()
    gc.set_threshold(100_000, 20, 10)


class EventSink(Protocol):
    def insert_events(self, rows: list[EventRow]) -> None: ...


class ClickHouseSink:
    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse

    def insert_events(self, rows: list[EventRow]) -> None:
        self.clickhouse.insert(EVENTS_TABLE, COLUMNS, rows)


class _Stopping(Exception):
    """Asked to stop while a record could not be settled: take nothing more from this poll."""


@dataclass
class Batch:
    rows: list[EventRow] = field(default_factory=list)
    # Per partition: the first offset the batch holds (where to rewind when it is dropped) and
    # the offset to commit once it is written.
    first_offsets: dict[Partition, int] = field(default_factory=dict)
    next_offsets: dict[Partition, int] = field(default_factory=dict)
    started_at: float | None = None

    def track(self, partition: Partition, offset: int, now: float) -> None:
        self.first_offsets.setdefault(partition, offset)
        self.next_offsets[partition] = offset + 1
        if self.started_at is None:
            self.started_at = now

    @property
    def empty(self) -> bool:
        return not self.next_offsets


class Ingestor:
    def __init__(
        self,
        consumer: Consumer,
        dead_letter_producer: KafkaProducer,
        sink: EventSink,
        *,
        topics: list[str],
        name: str = "analytics.ingest",
        batch_size: int = 5_000,
        batch_seconds: float = 1.0,
        retry_backoff_seconds: float = 2.0,
        clock=time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.dead_letter_producer = dead_letter_producer
        self.sink = sink
        self.name = name
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.retry_backoff_seconds = retry_backoff_seconds
        self.clock = clock
        self.batch = Batch()
        # The batch handed to the writer, until its offsets are committed; its insert (None
        # while waiting to retry it); when to retry it, from its first failure until it is written.
        self.in_flight: Batch | None = None
        self._insert: Future | None = None
        self._retry_at: float | None = None
        self.paused = False  # librdkafka does not say which partitions are paused
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-insert")
        self.stop_event = threading.Event()
        self.consumer.subscribe(topics, on_revoke=self._on_revoke)

    @classmethod
    def connect(
        cls, sink: EventSink, servers: list[str], *, group: str, topics: list[str], **options: Any
    ) -> Ingestor:
        return cls(
            Consumer(consumer_settings(servers, group)),
            kafka_producer(servers, client_id=f"{group}-dlq"),
            sink,
            topics=topics,
            name=group,
            **options,
        )

    # --- the loop -------------------------------------------------------------------------------

    def run_forever(self) -> None:
        log.info("ingestion started", extra={"consumer": self.name})
        try:
            while not self.stop_event.is_set():
                self.poll_once()
            self._write_all_once()  # one last try; what is not written is redelivered
        finally:
            self.close()
            log.info("ingestion stopped", extra={"consumer": self.name})

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        """Close the clients, committing nothing more: what is not committed yet is delivered
        again (an insert in flight is waited for; it ends within ClickHouse's timeout)."""
        self.writer.shutdown(wait=True)
        self._forget()  # leaving the group revokes the partitions: nothing to write then
        self.consumer.close()  # commits nothing: auto-commit is off
        self.dead_letter_producer.close(timeout=5)

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Commit the batch in flight if its insert has finished (or retry it when due), take
        what one poll returns into the batch, and hand the batch to the writer when it is due;
        returns how many records were taken."""
        self._settle()
        if self._retry_at is not None:
            self._pause()  # a partition assigned meanwhile too
        taken = self._take_all(self._consume(self._poll_timeout_ms(timeout_ms)))
        if self._due():
            self._hand_over()
        return taken

    def _poll_timeout_ms(self, timeout_ms: int) -> int:
        """Until the retry of a failed insert, or else until the batch is due."""
        if self.in_flight is not None and self._insert is None:
            deadline = self._retry_at
        elif self.batch.started_at is not None:
            deadline = self.batch.started_at + self.batch_seconds
        else:
            return timeout_ms
        return max(0, min(timeout_ms, int((deadline - self.clock()) * 1000)))

    def _consume(self, timeout_ms: int) -> list[Message]:
        """What one poll returns: up to a batch's worth of records; a callback for a rebalance
        (``_on_revoke``) or a commit runs inside it."""
        return self.consumer.consume(self.batch_size, timeout_ms / 1000)

    def _due(self) -> bool:
        batch = self.batch
        if batch.empty:
            return False
        return len(batch.rows) >= self.batch_size or self.clock() - batch.started_at >= self.batch_seconds

    def _take_all(self, messages: list[Message]) -> int:
        taken, polled_at = 0, self.clock()  # a batch starts when its first poll returned
        try:
            for message in messages:
                if message.error() is not None:
                    _raise_if_fatal(message)
                    continue
                self._take(message, polled_at)
                taken += 1
        except _Stopping:
            pass
        return taken

    def _take(self, message: Message, polled_at: float) -> None:
        topic = message.topic()
        try:
            row = event_row(message.value(), topic)
        except MalformedEvent as exc:  # ContractViolation included: no retry can mend it
            self._dead_letter(DeadRecord.of(message), str(exc))
        else:
            self.batch.rows.append(row)
        self.batch.track((topic, message.partition()), message.offset(), polled_at)

    def _dead_letter(self, record: DeadRecord, reason: str) -> None:
        while True:
            try:
                send_to_dead_letter(self.dead_letter_producer, record, consumer=self.name, reason=reason)
                DEAD_LETTERED.inc()
                return
            except Exception as exc:
                log.warning("dead-lettering failed, will retry: %s", type(exc).__name__)
            if self.stop_event.wait(self.retry_backoff_seconds):
                raise _Stopping

    # --- writing --------------------------------------------------------------------------------

    def flush(self) -> bool:
        """Write every batch read so far and commit its offsets, retrying a failed insert after
        the backoff until it succeeds or the ingestor is stopped (then nothing more is
        committed and Kafka delivers the rest again)."""
        while not self.stop_event.is_set():
            if self.in_flight is None:
                if self.batch.empty:
                    return True
                self._hand_over()
            if not self._settle(wait=True):
                self._wait_keeping_membership()
        return False

    def _hand_over(self) -> None:
        """Give the batch to the writer once the one before it is written and committed (waited
        for: at most one insert in flight); not while that one waits for its retry."""
        if self._settle(wait=True):
            self.in_flight, self.batch = self.batch, Batch()
            self._start_insert()

    def _start_insert(self) -> None:
        self._insert = self.writer.submit(self._write, self.in_flight.rows)

    def _write(self, rows: list[EventRow]) -> None:
        """The writer thread's work: one insert (none for a batch of dead letters only)."""
        if not rows:
            return
        started = time.perf_counter()
        self.sink.insert_events(rows)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        INGESTED.inc(len(rows))

    def _settle(self, *, wait: bool = False, commit_wait: bool = False) -> bool:
        """Commit the batch in flight once its insert has succeeded (waiting for the insert
        with ``wait``, and for the broker's answer to the commit with ``commit_wait``), start
        its retry when due, or note its failure (partitions paused, retry after the backoff).
        True when no batch is in flight any more.

        Offsets are committed without waiting for the broker's answer while ingesting (a lost
        commit only redelivers events that collapse; waiting on each took a tenth of the time),
        and with it before stopping or handing partitions over."""
        if self.in_flight is None:
            return True
        if self._insert is None:
            if self.clock() < self._retry_at:
                return False
            self._start_insert()
        if not (wait or self._insert.done()):
            return False
        try:
            self._insert.result()  # a BaseException (the process dying) goes on up
        except Exception as exc:
            INSERT_FAILURES.inc()
            log.warning(
                "insert of %d events failed: %s: %s", len(self.in_flight.rows), type(exc).__name__, exc
            )
            self._insert, self._retry_at = None, self.clock() + self.retry_backoff_seconds
            self._pause()
            return False
        self._commit(self.in_flight.next_offsets, wait=commit_wait)
        self.in_flight = self._insert = self._retry_at = None
        self._resume()
        return True

    def _write_all_once(self) -> bool:
        """Write what was read and commit it, waiting for the broker's answer: the batch in
        flight (retried at once if it had failed), then the batch being read; one try each.
        Before stopping and before a rebalance. False when an insert failed (nothing after it
        is committed)."""
        if self.in_flight is not None:
            if self._insert is None:
                self._start_insert()
            if not self._settle(wait=True, commit_wait=True):
                return False
        if self.batch.empty:
            return True
        self.in_flight, self.batch = self.batch, Batch()
        self._start_insert()
        return self._settle(wait=True, commit_wait=True)

    def _commit(self, offsets: dict[Partition, int], *, wait: bool) -> None:
        positions = [TopicPartition(topic, number, offset) for (topic, number), offset in offsets.items()]
        try:
            self.consumer.commit(offsets=positions, asynchronous=not wait)
        except Exception as exc:  # a rebalance or an outage: the events are redelivered, and collapse
            log.warning("offset commit failed: %s", type(exc).__name__)

    def _wait_keeping_membership(self) -> None:
        """Wait out the backoff while polling paused partitions, so the group does not drop this
        consumer; a partition assigned by a rebalance meanwhile is paused too, but a record it
        yielded before the pause joins the batch rather than being dropped."""
        while self._insert is None and self._retry_at is not None and self.clock() < self._retry_at:
            if self.stop_event.is_set():
                return
            self._pause()
            self._take_all(self._consume(max(1, self._poll_timeout_ms(500))))

    def _pause(self) -> None:
        self.consumer.pause(self.consumer.assignment())
        self.paused = True

    def _resume(self) -> None:
        if self.paused:
            self.consumer.resume(self.consumer.assignment())
            self.paused = False

    def _drop_batch(self) -> None:
        """Forget what is not written (the batch in flight whose insert failed, the batch being
        read): rewind their partitions to their first records, so the partitions this consumer
        keeps deliver them again (the others go to their new owner from the committed offsets)."""
        rewind = dict(self.batch.first_offsets)
        if self.in_flight is not None:
            rewind.update(self.in_flight.first_offsets)  # read before the batch
        for (topic, partition), offset in rewind.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # already unassigned: its new owner starts from the commit
                log.info("no rewind of %s: %s", partition, type(exc).__name__)
        self._forget()
        self._resume()

    def _forget(self) -> None:
        self.batch, self.in_flight, self._insert, self._retry_at = Batch(), None, None, None

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition]) -> None:
        """Before partitions move to another consumer, write what was read from them (one try,
        inside the poll that rebalances) or else rewind, so no batch straddles two owners."""
        if not self._write_all_once():
            self._drop_batch()


@dataclass(frozen=True)
class DeadRecord:
    """A message in the shape the platform's dead-letter helper reads (kafka-python's record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, message: Message) -> DeadRecord:
        return cls(
            message.topic(),
            message.partition(),
            message.offset(),
            message.key(),
            message.value(),
            message.headers() or [],
        )


def _raise_if_fatal(message: Message) -> None:
    """A fatal client error stops ingestion (the worker restarts it); any other error librdkafka
    reports in place of a record (a broker away, a topic not created yet) it recovers from."""
    error = message.error()
    if error.fatal():
        raise KafkaException(error)
    log.warning("consumer error: %s", error)


def _log_commit_failure(error, partitions) -> None:
    if error is not None:  # the events are redelivered, and collapse
        log.warning("offset commit failed: %s", error)
