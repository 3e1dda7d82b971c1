"""ClickHouse really stopped mid-ingestion: a private clickhouse-server of this test's own (the
binary and configuration deploy/local/infra.sh starts, with a temporary directory and free
ports; the shared server is never touched) serves the consumer, is stopped while events keep
arriving, and started again. Nothing is committed while it is down; afterwards every event is
in, once."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from datetime import date
from pathlib import Path

import pytest
from analytics_testkit import (
    CommittedOffsets,
    activation,
    aggregate,
    at,
    ingestor_for,
    new_group,
    publish,
    wait_for,
)

from analytics.db.clickhouse import ClickHouse, ClickHouseUnavailable
from analytics.domain.reports import Period
from analytics.ingest import ClickHouseSink
from analytics.migrate import migrate
from analytics.usecases import reports

LOCAL = Path(__file__).resolve().parents[3] / "deploy" / "local" / "clickhouse"
DATABASE = "analytics_outage"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateClickHouse:
    """One clickhouse-server process on a directory and ports of its own."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("clickhouse-server") or "/usr/sbin/clickhouse-server"
        if not Path(binary).exists():
            pytest.skip("no clickhouse-server binary (deploy/local/infra.sh installs Debian's)")
        self.binary, self.root = binary, root
        self.tcp_port, self.http_port = _free_port(), _free_port()
        (root / "data").mkdir(parents=True)
        (root / "log").mkdir()
        config = (LOCAL / "config.xml.template").read_text()
        for name, value in {
            "LOG_DIR": str(root / "log"),
            "DATA_DIR": str(root / "data"),
            "HTTP_PORT": str(self.http_port),
            "TCP_PORT": str(self.tcp_port),
        }.items():
            config = config.replace(f"@{name}@", value)
        (root / "config.xml").write_text(config)
        shutil.copy(LOCAL / "users.xml", root / "users.xml")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.tcp_port}"

    def start(self, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [self.binary, f"--config-file={self.root / 'config.xml'}"],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = ClickHouse(self.url, "default", timeout_seconds=2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"clickhouse-server exited: see {self.root / 'log'}")
            try:
                probe.ping()
                probe.close()
                return
            except (ClickHouseUnavailable, Exception):
                time.sleep(0.3)
        raise AssertionError("the private clickhouse-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@pytest.fixture()
def private_clickhouse(tmp_path):
    server = PrivateClickHouse(tmp_path / "clickhouse")
    server.start()
    try:
        migrate(server.url, DATABASE)
        yield server
    finally:
        server.stop()


def test_clickhouse_stopped_and_started_again_loses_nothing_and_counts_nothing_twice(
    ctx, private_clickhouse, kafka_servers, own_topics
):
    topic = own_topics["activations_events_topic"]
    game = uuid.uuid4()
    outcomes = ("activated", "failed", "blocked")
    events = [activation(game, outcomes[n % 3], at(f"2026-03-{1 + n % 28:02d}T12:00:00")) for n in range(600)]
    group = new_group()
    store = ClickHouse(private_clickhouse.url, DATABASE, timeout_seconds=3)
    ingestor = ingestor_for(
        ctx, kafka_servers, own_topics, sink=ClickHouseSink(store), group=group, batch_size=100
    )
    committed = CommittedOffsets(kafka_servers, group, topic)
    worker = threading.Thread(target=ingestor.run_forever, daemon=True)
    worker.start()
    try:
        publish(kafka_servers, [(topic, e) for e in events[:300]])
        wait_for(lambda: committed() == 300, 60, "the first 300 events")

        private_clickhouse.stop()
        publish(kafka_servers, [(topic, e) for e in events[300:]])
        # The consumer reads on, cannot insert, keeps its batch and retries; nothing is committed.
        time.sleep(8)
        assert committed() == 300
        assert ingestor.stop_event.is_set() is False and worker.is_alive()

        private_clickhouse.start()
        wait_for(lambda: committed() == 600, 90, "the 300 events published while ClickHouse was down")
    finally:
        ingestor.stop()
        worker.join(timeout=30)
        committed.close()

    (row,) = store.execute(
        "SELECT count(), uniqExact(event_id) FROM events FINAL WHERE game_id = %(g)s", {"g": game}
    )
    assert row == (600, 600)
    (stored,) = store.execute("SELECT count() FROM events WHERE game_id = %(g)s", {"g": game})
    assert stored[0] >= 600  # copies of a batch retried after a half-done insert collapse, above
    aggregate(ctx.db, store)
    period = Period.of(date(2026, 3, 1), date(2026, 3, 31), None, now=at("2026-04-01T00:00:00"))
    totals = reports.activation_report(store, game, period).to_dict()["totals"]
    assert (totals["attempts"], totals["activations"], totals["failed"], totals["blocked"]) == (
        600,
        200,
        200,
        200,
    )
    store.close()
