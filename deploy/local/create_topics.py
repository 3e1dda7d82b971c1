"""Create the platform's Kafka topics (ARCHITECTURE.md section 4) on the local broker.

Idempotent: topics that already exist are left alone. Called by infra.sh after the
broker answers; usable by hand: .venv/bin/python deploy/local/create_topics.py
"""

from __future__ import annotations

import argparse
import sys
import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

EVENT_TOPICS = [
    "developer.events",
    "builds.events",
    "keys.events",
    "activations.events",
    "antifraud.events",
    "distribution.events",
    "payments.events",
]
# One dead-letter topic per event topic, for consumers that give up on a record.
TOPICS = EVENT_TOPICS + [f"{t}.dlq" for t in EVENT_TOPICS]


def connect(bootstrap: str, deadline: float) -> KafkaAdminClient:
    while True:
        try:
            return KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="gamekeys-create-topics",
                request_timeout_ms=10000,
            )
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"create_topics: broker {bootstrap} not reachable: {exc!r}") from exc
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the broker")
    args = parser.parse_args()

    admin = connect(args.bootstrap_servers, time.monotonic() + args.timeout)
    try:
        existing = set(admin.list_topics())
        created = []
        for name in TOPICS:
            if name in existing:
                continue
            try:
                admin.create_topics(
                    [NewTopic(name, num_partitions=args.partitions, replication_factor=1)],
                    timeout_ms=10000,
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # created concurrently (or auto-created by a producer) in the meantime

        # Tansu auto-creates unknown topics on produce with its own partition count; say so.
        odd = []
        for desc in admin.describe_topics(TOPICS):
            count = len(desc.get("partitions") or [])
            if count != args.partitions:
                odd.append(f"{desc['name']}={count}")
    finally:
        admin.close()

    msg = f"{len(TOPICS)} topics present, {len(created)} created"
    if odd:
        msg += f"; WARNING partition count differs from {args.partitions}: {', '.join(odd)}"
    print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
