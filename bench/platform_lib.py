"""Benchmarks of the shared library's hot paths, against the local infrastructure.

Prints: outbox write and relay throughput (events/s through Kafka with acks=all), rate-limiter
latency (p50/p99) and throughput, and the process's peak memory. Run with `make bench`.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
import uuid
from datetime import UTC, datetime

import psycopg
import redis
from kafka.admin import KafkaAdminClient, NewTopic
from measure import percentile

from gamekeys_platform.contracts import keys
from gamekeys_platform.db import Database, service_metadata
from gamekeys_platform.outbox import Outbox, OutboxRelay, kafka_producer
from gamekeys_platform.ratelimit import RateLimiter

ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092").split(",")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
EVENTS = 20_000
RATE_LIMIT_CALLS = 5_000


def bench_outbox(url: str) -> None:
    metadata = service_metadata("bench")
    db = Database(url, metadata=metadata)
    with db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS bench")
    metadata.create_all(db.engine)
    topic = f"bench.{uuid.uuid4().hex[:8]}.events"
    admin = KafkaAdminClient(bootstrap_servers=KAFKA)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    outbox = Outbox(db, source="key-manager", topic=topic)
    key_ids = [uuid.uuid4() for _ in range(500)]
    batch_id, game_id, developer_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    started = time.perf_counter()
    for start in range(0, EVENTS, 100):
        with db.transaction() as session:
            for n in range(start, start + 100):
                # Built and validated as its contract each time, as a service does.
                activated = keys.KeyActivated(
                    key_id=key_ids[n % 500],
                    batch_id=batch_id,
                    game_id=game_id,
                    developer_id=developer_id,
                    key_type="retail",
                    previous_status="sold",
                    user_id=f"player-{n}",
                    activation_id=str(uuid.uuid4()),
                    region="DE",
                    retailer_id=None,
                    allocation_id=None,
                    activated_at=datetime.now(UTC),
                )
                outbox.add(session, activated)
    written = time.perf_counter() - started
    print(f"outbox write:  {EVENTS} events in 100-event transactions: {EVENTS / written:,.0f} events/s")

    relay = OutboxRelay(db, kafka_producer(KAFKA, client_id="bench"), service_name="bench", batch_size=500)
    started = time.perf_counter()
    relayed = 0
    while relayed < EVENTS:
        relayed += relay.relay_once()
    elapsed = time.perf_counter() - started
    print(f"outbox relay:  {relayed} events to Kafka (acks=all), {relayed / elapsed:,.0f} events/s")
    relay.producer.close()
    db.dispose()


def bench_rate_limiter() -> None:
    limiter = RateLimiter(
        redis.Redis.from_url(REDIS_URL), fail_open=False, key_prefix=f"bench-{uuid.uuid4().hex[:6]}"
    )
    latencies = []
    started = time.perf_counter()
    for n in range(RATE_LIMIT_CALLS):
        t0 = time.perf_counter()
        limiter.hit("redeem", f"user-{n % 100}", limit=10, window_seconds=3600)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    print(
        f"rate limiter:  {RATE_LIMIT_CALLS} hits, {RATE_LIMIT_CALLS / elapsed:,.0f} hits/s (one connection), "
        f"p50 {statistics.median(latencies):.3f} ms, p99 {percentile(latencies, 0.99):.3f} ms"
    )


def main() -> None:
    name = f"gk_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        bench_outbox(ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    bench_rate_limiter()
    print(f"peak memory:   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
