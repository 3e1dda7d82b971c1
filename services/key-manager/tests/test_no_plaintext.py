"""No plaintext key in the database (a pg_dump of it), the logs, or the Kafka topic, after
generating, exporting, activating and revoking keys, and after failing requests that carried keys."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
import subprocess
import time
import uuid

import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from pythonjsonlogger.json import JsonFormatter

from gamekeys_platform.outbox import OutboxRelay, kafka_producer
from key_manager.domain import codec
from key_manager.generator import BatchGenerator


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture()
def recorded_logs():
    recorder, root = Recorder(), logging.getLogger()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    yield recorder
    root.removeHandler(recorder)
    root.setLevel(level)


_RUN = re.compile(f"[{codec.ALPHABET}]{{16,}}")
_HEX_RUN = re.compile("[0-9A-F]{32,}")
_DASHED = re.compile(f"[{codec.ALPHABET}]{{4}}(?:[-_ ][{codec.ALPHABET}]{{4}}){{3}}")


def leaked(text: str, plaintexts: list[str]) -> set[str]:
    """Which of the keys appear in ``text`` in any form: dashed or not, any case, or as the hex of
    their bytes (how a bytea column would show them). Scans runs of alphabet characters with a
    16-character window, and hex runs with a byte-aligned 32-character one, instead of one
    substring search per key."""
    canonical = {p.replace("-", "") for p in plaintexts}
    as_hex = {c.encode().hex().upper(): c for c in canonical}
    upper = text.upper()
    found = {re.sub("[-_ ]", "", m) for m in _DASHED.findall(upper)} & canonical
    for run in _RUN.findall(upper):
        found.update(run[i : i + 16] for i in range(len(run) - 15) if run[i : i + 16] in canonical)
    for run in _HEX_RUN.findall(upper):  # bytea as hex: byte-aligned windows
        found.update(as_hex[run[i : i + 32]] for i in range(0, len(run) - 31, 2) if run[i : i + 32] in as_hex)
    return found


def test_no_plaintext_key_in_database_logs_or_kafka(
    client, gen, studio, km, settings, kafka_servers, postgres_url, service_auth, recorded_logs
):
    # Keys: a synchronous batch and an asynchronous one, exported.
    shown = [k["key"] for k in gen(studio, 200).get_json()["keys"]]
    batch = client.post(
        "/api/v1/keys/batches",
        json={"gameId": str(studio.game_id), "keyType": "retail", "quantity": 2_000},
        headers=studio.auth(),
    ).get_json()
    generator = BatchGenerator(km)
    while generator.run_once() is not None:
        pass
    exported = client.get(
        f"/api/v1/keys/batches/{batch['batchId']}/keys", headers={**studio.auth(), "Accept": "text/csv"}
    )
    shown += [row["key"] for row in csv.DictReader(io.StringIO(exported.get_data(as_text=True)))]
    assert len(set(shown)) == 2_200
    # Use some of them, including requests that fail.
    activate = service_auth("keys:activate")
    for n, key in enumerate(shown[:5]):
        body = {"key": key, "userId": "p", "activationId": f"a-{n}", "userRegion": "DE"}
        assert client.post("/internal/v1/keys/activate", json=body, headers=activate).status_code == 200
        assert (
            client.post(
                "/internal/v1/keys/activate", json=body | {"activationId": "x"}, headers=activate
            ).status_code
            == 409
        )
        client.post("/api/v1/keys/validate", json={"key": key[:-1] + "Z"}, headers=studio.auth())
        client.post(
            "/api/v1/keys/check-duplicate", json={"key": key + "X"}, headers=service_auth("keys:read")
        )
        client.post("/internal/v1/keys/activate", json={**body, "userRegion": "Germany"}, headers=activate)
    client.post(
        f"/api/v1/keys/batches/{batch['batchId']}/revoke", json={"reason": "test"}, headers=studio.auth()
    )

    # Kafka: relay everything in the outbox to this run's keys topic, read it back.
    topic = settings.keys_events_topic
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    with contextlib.suppress(Exception):  # exists already (or auto-created by the broker)
        admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    relay = OutboxRelay(km.db, kafka_producer(kafka_servers, client_id="km-test"), service_name="key-manager")
    while relay.relay_once():
        pass
    relay.producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_servers,
        group_id=f"km-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=6_000,
        heartbeat_interval_ms=2_000,
        consumer_timeout_ms=3_000,
    )
    records, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline:
        batch_records = [r.value.decode() for r in consumer]
        records += batch_records
        if records and not batch_records:
            break
    consumer.close()
    assert any('"batch.generated"' in r for r in records) and any('"key.activated"' in r for r in records)

    # The database, as pg_dump sees it.
    dump = subprocess.run(
        ["pg_dump", "--no-owner", postgres_url], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "key_manager" in dump and len(dump) > 100_000

    logs = "\n".join(recorded_logs.lines)
    assert "request" in logs
    assert leaked("\n".join(records), shown) == set(), "plaintext key in a Kafka record"
    assert leaked(logs, shown) == set(), "plaintext key in a log line"
    assert leaked(dump, shown) == set(), "plaintext key in the database"
    # The scan does find keys where they are (the export response; a hex dump of their bytes).
    assert leaked("\\x" + shown[0].replace("-", "").encode().hex(), shown[:1]) == {shown[0].replace("-", "")}
    assert leaked(exported.get_data(as_text=True), shown[200:210]) == {
        k.replace("-", "") for k in shown[200:210]
    }
    assert codec.normalize(shown[0])  # the check above looked for real keys
