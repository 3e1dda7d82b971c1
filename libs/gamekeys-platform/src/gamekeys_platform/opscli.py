"""Operator commands of ``gamekeys`` (entry points of ``gamekeys.commands``, like ``cli``'s):

- ``gamekeys dlq list|show|replay --topic T [--id ID | --all]``: the dead letters of ``T.dlq``
  with the consumer that gave up and why; a replay publishes the event again on its original topic
  and key, after removing the failing consumer's ``dead_lettered`` inbox mark, so that consumer
  handles it and every other consumer skips it through its inbox (replaying twice has no second
  effect);
- ``gamekeys outbox status``: per schema with an outbox, the events not yet acknowledged by Kafka
  and the age of the oldest;
- ``gamekeys consumers lag [--group PREFIX]``: per consumer group and partition, the committed
  offset against the partition's end, as the broker sees it (a group whose worker is down too).

They read ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` (a service's own, in its pod) unless
given ``--bootstrap-servers`` / ``--database-url``. Exit status: 0 done, 1 a replay or look-up
failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from sqlalchemy import MetaData, create_engine, delete, func, select, text
from sqlalchemy.engine import Engine

from gamekeys_platform.cli import Command
from gamekeys_platform.db import _psycopg_url
from gamekeys_platform.outbox import kafka_producer
from gamekeys_platform.tables import define_platform_tables

DLQ_SUFFIX = ".dlq"
READ_TIMEOUT_MS = 10_000


class OpsError(Exception):
    """A failure worth one line on stderr (exit status 1)."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def position(self) -> str:
        return f"{self.partition}/{self.offset}"

    @property
    def event(self) -> dict | None:
        try:
            parsed = json.loads(self.value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    @property
    def event_id(self) -> str | None:
        event = self.event
        return str(event.get("id")) if event and event.get("id") else None

    def origin_topic(self, dlq_topic: str) -> str:
        """Where the event came from: the ``origin`` header (topic/partition/offset), else the
        dead-letter topic's name without ``.dlq``."""
        origin = self.headers.get("origin", "")
        return origin.rsplit("/", 2)[0] if origin.count("/") >= 2 else dlq_topic.removesuffix(DLQ_SUFFIX)

    def matches(self, wanted: str) -> bool:
        return wanted in (self.event_id, self.position)

    def summary(self) -> dict:
        event = self.event or {}
        return {
            "position": self.position,
            "time": datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat().replace("+00:00", "Z"),
            "eventId": self.event_id,
            "type": event.get("type"),
            "source": event.get("source"),
            "consumer": self.headers.get("consumer"),
            "error": self.headers.get("error"),
            "origin": self.headers.get("origin"),
        }


def dlq_name(topic: str) -> str:
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


def read_dead_letters(servers: list[str], topic: str) -> list[DeadLetter]:
    """Every record of ``topic``'s dead-letter topic, oldest first per partition (no consumer group:
    reading commits nothing)."""
    dlq = dlq_name(topic)
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(dlq)
        if not partitions:
            return []
        assigned = [TopicPartition(dlq, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        letters: list[DeadLetter] = []
        waiting = {tp for tp in assigned if consumer.position(tp) < ends[tp]}
        deadline = datetime.now(UTC).timestamp() + READ_TIMEOUT_MS / 1000
        while waiting:
            if datetime.now(UTC).timestamp() > deadline:
                raise OpsError(f"timed out reading {dlq}")
            for records in consumer.poll(timeout_ms=500).values():
                letters.extend(_dead_letter(record) for record in records)
            waiting = {tp for tp in waiting if consumer.position(tp) < ends[tp]}
        # Until a poll comes back empty: a broker may answer an end offset short of the last
        # record (the local Tansu answers its last batch's base offset + 1).
        while polled := consumer.poll(timeout_ms=500):
            for records in polled.values():
                letters.extend(_dead_letter(record) for record in records)
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        consumer.close(autocommit=False)


def _dead_letter(record) -> DeadLetter:
    headers = {name: (value or b"").decode(errors="replace") for name, value in record.headers or []}
    return DeadLetter(record.partition, record.offset, record.timestamp, record.key, record.value, headers)


def _inboxes(engine: Engine) -> list:
    """The inbox table of every schema that has one."""
    with engine.connect() as connection:
        schemas = connection.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'inbox' ORDER BY 1")
        ).scalars()
        return [define_platform_tables(MetaData(schema=schema)).inbox for schema in schemas]


def _outboxes(engine: Engine) -> list:
    with engine.connect() as connection:
        schemas = connection.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY 1")
        ).scalars()
        return [define_platform_tables(MetaData(schema=schema)).outbox for schema in schemas]


def clear_dead_letter_mark(engine: Engine, consumer: str, event_id: uuid.UUID) -> list[str]:
    """Remove ``consumer``'s ``dead_lettered`` inbox row for the event, in whichever schema holds
    it; the schemas where one was removed."""
    cleared = []
    with engine.begin() as connection:
        for inbox in _inboxes(engine):
            removed = connection.execute(
                delete(inbox).where(
                    inbox.c.consumer == consumer,
                    inbox.c.event_id == event_id,
                    inbox.c.outcome == "dead_lettered",
                )
            ).rowcount
            if removed:
                cleared.append(inbox.schema)
    return cleared


def replay(servers: list[str], engine: Engine, topic: str, letters: list[DeadLetter]) -> list[dict]:
    """Publish each dead letter again on its origin topic (same key and value, a ``replayed-from``
    header), its consumer's dead-letter mark removed first; what was done for each."""
    dlq = dlq_name(topic)
    producer = kafka_producer(servers, client_id="gamekeys-dlq-replay")
    done = []
    try:
        for letter in letters:
            consumer, event_id = letter.headers.get("consumer"), letter.event_id
            cleared: list[str] = []
            if consumer and event_id:
                try:
                    cleared = clear_dead_letter_mark(engine, consumer, uuid.UUID(event_id))
                except ValueError:
                    cleared = []
            origin = letter.origin_topic(dlq)
            headers = [
                (name, value.encode())
                for name, value in letter.headers.items()
                if name not in ("error", "origin", "consumer")
            ]
            headers.append(("replayed-from", f"{dlq}/{letter.position}".encode()))
            producer.send(origin, key=letter.key, value=letter.value, headers=headers).get(timeout=15)
            done.append({**letter.summary(), "replayedTo": origin, "inboxMarkCleared": cleared})
    finally:
        producer.close(timeout=5)
    return done


def outbox_status(engine: Engine) -> list[dict]:
    rows = []
    with engine.connect() as connection:
        for outbox in _outboxes(engine):
            pending = outbox.c.sent_at.is_(None)
            count, oldest, attempts = connection.execute(
                select(func.count(), func.min(outbox.c.created_at), func.max(outbox.c.attempts)).where(
                    pending
                )
            ).one()
            last_error = connection.execute(
                select(outbox.c.last_error).where(pending).order_by(outbox.c.seq).limit(1)
            ).scalar()
            now = connection.execute(select(func.now())).scalar_one()
            rows.append(
                {
                    "schema": outbox.schema,
                    "pending": count,
                    "oldestAgeSeconds": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
                    "maxAttempts": attempts or 0,
                    "oldestLastError": last_error,
                }
            )
    return rows


def consumer_lag(servers: list[str], group_prefix: str = "") -> list[dict]:
    admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=READ_TIMEOUT_MS)
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False, group_id=None)
    try:
        groups = sorted(
            group["group_id"] for group in admin.list_groups() if group["group_id"].startswith(group_prefix)
        )
        rows = []
        for group in groups:
            committed = admin.list_group_offsets({group: None}).get(group) or {}
            ends = consumer.end_offsets(list(committed)) if committed else {}
            for partition in sorted(committed, key=lambda tp: (tp.topic, tp.partition)):
                offset, end = committed[partition].offset, ends.get(partition)
                if offset < 0 or end is None:
                    continue  # nothing committed there yet
                rows.append(
                    {
                        "group": group,
                        "topic": partition.topic,
                        "partition": partition.partition,
                        "committed": offset,
                        "end": end,
                        "lag": max(end - offset, 0),
                    }
                )
        return rows
    finally:
        consumer.close(autocommit=False)
        admin.close()


# -- the commands ---------------------------------------------------------------------------------


def _connection_arguments(parser: argparse.ArgumentParser, *, kafka: bool, database: bool) -> None:
    if kafka:
        parser.add_argument(
            "--bootstrap-servers",
            default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""),
            help="comma-separated (default $KAFKA_BOOTSTRAP_SERVERS)",
        )
    if database:
        parser.add_argument(
            "--database-url", default=os.environ.get("DATABASE_URL", ""), help="default $DATABASE_URL"
        )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _servers(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    servers = [s.strip() for s in args.bootstrap_servers.split(",") if s.strip()]
    if not servers:
        parser.error("no Kafka: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap-servers")
    return servers


def _engine(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Engine:
    if not args.database_url:
        parser.error("no database: set DATABASE_URL or pass --database-url")
    return create_engine(_psycopg_url(args.database_url), pool_pre_ping=True)


def _print(rows: list[dict], as_json: bool, columns: list[str], empty: str) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        print(empty)
        return
    table = [columns] + [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _add_dlq_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    for name, help_text in (
        ("list", "the dead letters of a topic, with the consumer and the reason"),
        ("show", "one dead letter in full (event, headers)"),
        ("replay", "publish dead letters again on their original topic, once their cause is fixed"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--topic", required=True, help="the event topic (or its .dlq)")
        action.add_argument("--id", help="an event id, or a dead letter's partition/offset")
        if name == "replay":
            action.add_argument("--all", action="store_true", help="replay every dead letter of the topic")
        _connection_arguments(action, kafka=True, database=name == "replay")


def _run_dlq(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.dlq_action == "show" and not args.id:
        parser.error("show needs --id")
    if args.dlq_action == "replay" and not args.id and not args.all:
        parser.error("replay needs --id, or --all for every dead letter of the topic")
    servers = _servers(args, parser)
    try:
        letters = read_dead_letters(servers, args.topic)
        if args.id:
            letters = [letter for letter in letters if letter.matches(args.id)]
        if args.dlq_action == "list":
            _print(
                [letter.summary() for letter in letters],
                args.json,
                ["position", "time", "eventId", "type", "consumer", "error"],
                f"no dead letters on {dlq_name(args.topic)}",
            )
            return 0
        if not letters:
            raise OpsError(f"no dead letter {args.id or ''} on {dlq_name(args.topic)}".replace("  ", " "))
        if args.dlq_action == "show":
            for letter in letters:
                whole = {**letter.summary(), "headers": letter.headers, "event": letter.event}
                print(json.dumps(whole, indent=2))
            return 0
        done = replay(servers, _engine(args, parser), args.topic, letters)
        _print(
            done, args.json, ["position", "eventId", "type", "consumer", "replayedTo", "inboxMarkCleared"], ""
        )
        return 0
    except OpsError as exc:
        print(f"gamekeys dlq: {exc}", file=sys.stderr)
        return 1


def _add_outbox_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="outbox_action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="events not yet published, per schema, and the oldest's age")
    _connection_arguments(status, kafka=False, database=True)


def _run_outbox(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    engine = _engine(args, parser)
    try:
        rows = outbox_status(engine)
    finally:
        engine.dispose()
    columns = ["schema", "pending", "oldestAgeSeconds", "maxAttempts", "oldestLastError"]
    _print(rows, args.json, columns, "no outbox")
    return 0


def _add_consumers_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="consumers_action", required=True, metavar="ACTION")
    lag = actions.add_parser("lag", help="committed offset and lag per consumer group and partition")
    lag.add_argument("--group", default="", help="only groups whose name starts with this")
    lag.add_argument("--totals", action="store_true", help="one line per group and topic")
    _connection_arguments(lag, kafka=True, database=False)


def _run_consumers(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    rows = consumer_lag(_servers(args, parser), args.group)
    columns = ["group", "topic", "partition", "committed", "end", "lag"]
    if args.totals:
        totals: dict[tuple[str, str], int] = {}
        for row in rows:
            totals[(row["group"], row["topic"])] = totals.get((row["group"], row["topic"]), 0) + row["lag"]
        rows = [{"group": g, "topic": t, "lag": lag} for (g, t), lag in totals.items()]
        columns = ["group", "topic", "lag"]
    _print(rows, args.json, columns, "no consumer groups")
    return 0


DLQ = Command("dead letters: gamekeys dlq list|show|replay --topic ...", _add_dlq_arguments, _run_dlq)
OUTBOX = Command("the transactional outboxes: gamekeys outbox status", _add_outbox_arguments, _run_outbox)
CONSUMERS = Command("Kafka consumer groups: gamekeys consumers lag", _add_consumers_arguments, _run_consumers)
COMMANDS: dict[str, Command] = {"dlq": DLQ, "outbox": OUTBOX, "consumers": CONSUMERS}
