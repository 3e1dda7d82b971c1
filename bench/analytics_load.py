"""Analytics benchmark (issue 18), on the local ClickHouse and broker, in a database and a topic
of its own (dropped at the end), with the worker's and the API's code (without HTTP):

1. ingestion: a backlog of activation events (``--ingest-events``, 1,000,000 by default, their
   business times spread over 11 months) on a topic of 3 partitions, read from the start by
   ``--consumers`` processes (1 by default) in one consumer group, each running the worker's
   ``Ingestor`` (each event through its contract, batches of ``--batch-size`` events, by default
   the service's ``INGEST_BATCH_SIZE``, or 1 s, each inserted by a writer thread while the next
   is read, offsets committed after its insert) into ``events``; timed from the first record
   polled to the last event inserted, with the consumers' CPU per event (their own, both threads)
   and the ClickHouse server's over the same time. Beside it, in the same run, ``clickhouse-client``
   inserting the same rows from a TabSeparated file (the floor: no Kafka, no parsing in Python);
2. reports: ``--query-events`` events (10,000,000 by default) of ``--games`` games (1,000) over a
   year, generated inside ClickHouse, and one pass of the aggregator over them (the worker's,
   in one go); then one game's 90-day daily activation series and its regions report, each
   through the use case the API calls (query and shaping), ``--reads`` times on random games, in
   UTC (read from the hourly aggregate) and in Asia/Kolkata (a half-hour zone: from the raw
   events): p50 / p99.

Prints rates and latencies; asserts nothing. Targets: ingestion >= 20,000 events/s, report
p99 <= 300 ms.

    .venv/bin/python bench/analytics_load.py [--ingest-events N] [--query-events N] [--games N] [--reads N]
                                             [--consumers N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from measure import cpu_seconds, percentile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "services" / "analytics" / "tests"))

from analytics_testkit import activation  # noqa: E402

from analytics.db import hourly  # noqa: E402
from analytics.db.clickhouse import ClickHouse, connect  # noqa: E402
from analytics.domain.reports import Period  # noqa: E402
from analytics.domain.series import Granularity  # noqa: E402
from analytics.ingest import ClickHouseSink, Ingestor, tune_garbage_collection  # noqa: E402
from analytics.migrate import migrate  # noqa: E402
from analytics.settings import Settings  # noqa: E402
from analytics.usecases import series  # noqa: E402

CLICKHOUSE = os.environ.get("BENCH_CLICKHOUSE", "clickhouse://127.0.0.1:9000")
CLICKHOUSE_PORT = CLICKHOUSE.rsplit(":", 1)[-1]
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")
AS_OF = date(2026, 11, 30)  # the query data's last day


def backlog(topic: str, count: int, games: list[uuid.UUID]) -> float:
    """Publish ``count`` activation events (each a unique attempt of one of ``games``); returns
    the seconds it took."""
    template = json.loads(activation(games[0], "activated", datetime(2026, 3, 1, tzinfo=UTC)).to_json())
    producer = KafkaProducer(
        bootstrap_servers=KAFKA,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    started = time.perf_counter()
    for n in range(count):
        attempt = str(uuid.uuid4())
        moment = f"2026-{1 + n % 11:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"
        event = {**template, "id": str(uuid.uuid4()), "subject": attempt, "time": moment}
        event["data"] = {
            **template["data"],
            "activationId": attempt,
            "transactionId": attempt,
            "keyId": str(uuid.uuid4()),
            "gameId": str(games[n % len(games)]),
            "occurredAt": moment,
            "activatedAt": moment,
            "region": ("DE", "FR", "US", "BR", "JP")[n % 5],
        }
        producer.send(topic, key=attempt.encode(), value=json.dumps(event, separators=(",", ":")).encode())
    producer.flush(timeout=600)
    producer.close()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Ingestion:
    seconds: float  # from the first record any consumer polled to the last event inserted
    consumer_cpu_seconds: float
    consumer_peak_rss_mb: float  # the largest of the consumer processes'
    clickhouse_cpu_seconds: float | None  # None: the server's process is not visible from here


def ingest(database: str, topic: str, count: int, consumers: int, batch_size: int) -> Ingestion:
    """``count`` events ingested by ``consumers`` processes in one group, each running the
    worker's ``Ingestor``."""
    spawn = multiprocessing.get_context("spawn")
    progress = Progress(*(spawn.Value("q", 0) if n == 0 else spawn.Value("d", 0.0) for n in range(5)))
    server = clickhouse_server_pids()
    server_cpu = cpu_seconds(server)
    group = f"bench.analytics.{uuid.uuid4().hex[:8]}"
    processes = [
        spawn.Process(target=consume, args=(database, topic, group, count, batch_size, progress))
        for _ in range(consumers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if progress.inserted.value < count:
        raise SystemExit(f"ingestion stopped at {progress.inserted.value:,} of {count:,} events")
    return Ingestion(
        progress.finished.value - progress.started.value,
        progress.cpu_seconds.value,
        progress.peak_rss_mb.value,
        cpu_seconds(server) - server_cpu if server else None,
    )


def per_row(cpu: float | None, rows: int) -> str:
    return "not visible" if cpu is None else f"{cpu / rows * 1e6:.1f} µs"


def clickhouse_server_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-x", "clickhouse-serv"], capture_output=True, text=True)  # noqa: S607
    return [int(pid) for pid in found.stdout.split()]


@dataclass
class Progress:
    """Shared by the consumer processes: events inserted, when the first record was polled and
    when the last event was inserted (seconds since the epoch), their CPU seconds (summed) and
    peak memory (the largest)."""

    inserted: Any
    started: Any
    finished: Any
    cpu_seconds: Any
    peak_rss_mb: Any


class CountingSink:
    def __init__(self, sink: ClickHouseSink, count: int, progress: Progress) -> None:
        self.sink, self.count, self.progress = sink, count, progress

    def insert_events(self, rows) -> None:
        self.sink.insert_events(rows)
        with self.progress.inserted.get_lock():
            self.progress.inserted.value += len(rows)
            if self.progress.inserted.value >= self.count and not self.progress.finished.value:
                self.progress.finished.value = time.time()


def consume(database: str, topic: str, group: str, count: int, batch_size: int, progress: Progress) -> None:
    """One consumer process: ingests until the group has inserted ``count`` events, then commits
    what it wrote and leaves."""
    clickhouse = ClickHouse(CLICKHOUSE, database, timeout_seconds=120)
    sink = CountingSink(ClickHouseSink(clickhouse), count, progress)
    ingestor = Ingestor.connect(sink, KAFKA, group=group, topics=[topic], batch_size=batch_size)
    tune_garbage_collection()  # as the worker does
    consume = ingestor._consume

    def noting_the_first_record(timeout_ms: int):
        messages = consume(timeout_ms)
        if messages and not progress.started.value:
            with progress.started.get_lock():
                progress.started.value = progress.started.value or time.time()
        return messages

    ingestor._consume = noting_the_first_record
    try:
        deadline = time.monotonic() + 3_600
        while progress.inserted.value < count and time.monotonic() < deadline:
            ingestor.poll_once(timeout_ms=500)
        ingestor.flush()
    finally:
        ingestor.close()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with progress.cpu_seconds.get_lock():
            progress.cpu_seconds.value += usage.ru_utime + usage.ru_stime
            progress.peak_rss_mb.value = max(progress.peak_rss_mb.value, usage.ru_maxrss / 1024)


def client(query: str, *, stdin=None, stdout=None) -> None:
    subprocess.run(  # noqa: S603 - the Debian client, fixed arguments
        [
            shutil.which("clickhouse-client") or "clickhouse-client",
            "--port",
            CLICKHOUSE_PORT,
            # Blocks of 100,000 rows: the default (about a million) of rows carrying their JSON
            # payload outgrows the local server's 4 GB per query.
            "--max_insert_block_size=100000",
            "--query",
            query,
        ],
        stdin=stdin,
        stdout=stdout,
        check=True,
    )


def client_insert(database: str) -> tuple[int, float, float | None]:
    """The ingested rows exported to a file and inserted again by clickhouse-client into a copy of
    the table: (rows, seconds of the insert, the server's CPU seconds meanwhile or None)."""
    with tempfile.NamedTemporaryFile(suffix=".tsv") as rows_file:
        with open(rows_file.name, "wb") as out:
            client(f"SELECT * FROM {database}.events FORMAT TabSeparated", stdout=out)  # noqa: S608 - a database name of ours
        client(f"CREATE TABLE {database}.events_copy AS {database}.events")
        with open(rows_file.name, "rb") as source:
            server = clickhouse_server_pids()
            server_cpu, started = cpu_seconds(server), time.perf_counter()
            client(f"INSERT INTO {database}.events_copy FORMAT TabSeparated", stdin=source)
            elapsed, server_cpu = time.perf_counter() - started, cpu_seconds(server) - server_cpu
    (rows,) = connect(CLICKHOUSE, database, timeout_seconds=60).execute("SELECT count() FROM events_copy")[0]
    return rows, elapsed, server_cpu if server else None


# One attempt per event, of a random game, at a random second of the year, with a random outcome.
_GENERATE = """
    INSERT INTO events (event_id, type, source, topic, subject, schema_version, time, occurred_at,
                        occurred_at_us, ingested_at, game_id, key_id, key_type, country, outcome)
    SELECT generateUUIDv4(), type, 'activation-gateway', 'activations.events',
           toString(generateUUIDv4()), 1, at, at, toInt64(toUInt32(at)) * 1000000, now(),
           toUUID(concat('00000000-0000-4000-8000-',
                         substring(hex(toUInt64(281474976710656 + game)), 3, 12))),
           generateUUIDv4(), if(rand(3) % 10 = 0, 'press', 'retail'),
           arrayElement(['DE', 'FR', 'US', 'BR', 'JP', 'GB', 'PL', 'RU', 'CN', 'KR'], 1 + rand(4) % 10),
           'activated'
    FROM (
        SELECT rand(1) % {games} AS game,
               toDateTime({first} + rand(2) % (365 * 86400), 'UTC') AS at,
               multiIf(rand(5) % 100 < 80, 'activation.succeeded',
                       rand(5) % 100 < 90, 'activation.failed',
                       rand(5) % 100 < 95, 'activation.blocked',
                       'activation.pending_review') AS type
        FROM numbers({size})
    )
"""


def generate(database: str, count: int, games: int) -> float:
    """``count`` activation events of ``games`` games over the year to AS_OF, made by ClickHouse."""
    ch = connect(CLICKHOUSE, database, timeout_seconds=600)
    first = int(datetime.combine(AS_OF - timedelta(days=364), datetime.min.time(), UTC).timestamp())
    started = time.perf_counter()
    chunk = 1_000_000
    for offset in range(0, count, chunk):
        size = min(chunk, count - offset)
        ch.execute(_GENERATE.format(games=games, first=first, size=size))
    return time.perf_counter() - started


def game_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012x}")


@dataclass(frozen=True)
class Pass:
    marking_seconds: float
    hours: int
    rewriting_seconds: float


def aggregate(database: str) -> Pass:
    """One aggregator pass over everything generated (the worker's steps, in one go)."""
    ch = ClickHouse(CLICKHOUSE, database, timeout_seconds=3_600)
    started = time.perf_counter()
    hours = hourly.mark_changed_hours(ch, 0)
    marked = time.perf_counter()
    hourly.recompute_marked_hours(ch, 1, hours)
    return Pass(marked - started, hours, time.perf_counter() - marked)


def reads(ch: ClickHouse, games: int, count: int, zone: str) -> dict[str, list[float]]:
    """Reads of random games' series and regions in ``zone``: from the hourly aggregate in a
    whole-hour zone, from the raw events in another (``usecases.series`` chooses)."""
    period = Period.of(AS_OF - timedelta(days=89), AS_OF, zone, now=datetime.now(UTC))
    timings: dict[str, list[float]] = {"activations": [], "regions": []}
    chosen = random.Random(18)
    # The first read loads the tables' marks: unmeasured.
    series.activations(ch, game_id(0), period, Granularity.DAY, None)
    for _ in range(count):
        game = game_id(chosen.randrange(games))
        started = time.perf_counter()
        series.activations(ch, game, period, Granularity.DAY, None)
        timings["activations"].append(time.perf_counter() - started)
        started = time.perf_counter()
        series.breakdown(ch, game, period, "country", None)
        timings["regions"].append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument(
        "--ingest-events", type=int, default=int(env("ANALYTICS_BENCH_INGEST_EVENTS", "1000000"))
    )
    parser.add_argument(
        "--query-events", type=int, default=int(env("ANALYTICS_BENCH_QUERY_EVENTS", "10000000"))
    )
    parser.add_argument("--games", type=int, default=int(env("ANALYTICS_BENCH_GAMES", "1000")))
    parser.add_argument("--reads", type=int, default=int(env("ANALYTICS_BENCH_READS", "200")))
    parser.add_argument("--consumers", type=int, default=int(env("ANALYTICS_BENCH_CONSUMERS", "1")))
    service_batch_size = Settings.model_fields["ingest_batch_size"].default
    parser.add_argument(
        "--batch-size", type=int, default=int(env("ANALYTICS_BENCH_BATCH_SIZE", str(service_batch_size)))
    )
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    ingest_db, query_db, topic = (
        f"analytics_bench_{run}",
        f"analytics_bench_q_{run}",
        f"bench.analytics.{run}",
    )
    admin = KafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=30_000)
    admin.create_topics([NewTopic(topic, 3, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    try:
        migrate(CLICKHOUSE, ingest_db)
        games = [uuid.uuid4() for _ in range(args.games)]
        published = backlog(topic, args.ingest_events, games)
        print(f"backlog: {args.ingest_events:,} events published in {published:.1f} s")
        ingestion = ingest(ingest_db, topic, args.ingest_events, args.consumers, args.batch_size)
        count = args.ingest_events
        rate = count / ingestion.seconds
        print(
            f"ingestion, {args.consumers} consumer process(es), batches of {args.batch_size:,}: "
            f"{count:,} events in {ingestion.seconds:.1f} s = {rate:,.0f} events/s (target >= 20,000)"
        )
        print(
            f"ingestion CPU per event: consumers {ingestion.consumer_cpu_seconds / count * 1e6:.1f} µs "
            f"(their start included), ClickHouse server {per_row(ingestion.clickhouse_cpu_seconds, count)}; "
            f"consumer peak RSS {ingestion.consumer_peak_rss_mb:,.0f} MB"
        )
        rows, client_seconds, client_server_cpu = client_insert(ingest_db)
        print(
            f"clickhouse-client, the same {rows:,} rows from a TabSeparated file: {client_seconds:.2f} s = "
            f"{rows / client_seconds:,.0f} rows/s (ingestion at {rate / (rows / client_seconds):.3f} of it); "
            f"ClickHouse server CPU per row {per_row(client_server_cpu, rows)}"
        )

        migrate(CLICKHOUSE, query_db)
        made = generate(query_db, args.query_events, args.games)
        print(f"reports: {args.query_events:,} events of {args.games:,} games generated in {made:.1f} s")
        first = aggregate(query_db)
        print(
            f"reports: one aggregator pass over them: {first.marking_seconds:.1f} s marking "
            f"(slices of {hourly.ATTEMPTS_PER_MARK:,} changed attempts), {first.hours:,} hours rewritten "
            f"in {first.rewriting_seconds:.1f} s (slices of {hourly.HOURS_PER_SLICE:,})"
        )
        query_ch = ClickHouse(CLICKHOUSE, query_db, timeout_seconds=60)
        for zone, source in (("UTC", "the hourly aggregate"), ("Asia/Kolkata", "the raw events")):
            for name, samples in reads(query_ch, args.games, args.reads, zone).items():
                label = (
                    "90-day daily activation series" if name == "activations" else "regions report (90 days)"
                )
                print(
                    f"{label}, one game, {zone} (from {source}), {len(samples)} reads: "
                    f"p50 {percentile(samples, 0.5) * 1000:.1f} ms, "
                    f"p99 {percentile(samples, 0.99) * 1000:.1f} ms (target p99 <= 300 ms)"
                )
    finally:
        server = connect(CLICKHOUSE, "default", timeout_seconds=120)
        for database in (ingest_db, query_db):
            server.execute(f"DROP DATABASE IF EXISTS {database}")
        server.disconnect()
        admin.delete_topics([topic, f"{topic}.dlq"])
        admin.close()


if __name__ == "__main__":
    main()
