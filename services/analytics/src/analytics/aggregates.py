"""The aggregator: keeps the hourly activation aggregate (``activation_hourly``) exact, a loop
of the worker.

Materialized views count an insert, and a redelivered event is inserted again, so no count is
kept by one. Instead, two views copy each activation event as it is inserted: into
``activation_attempt_events`` (ordered by attempt, copies collapse) and into
``activation_changes`` (which attempt changed, stamped with the server's clock). Every
``interval_seconds`` a pass reads the attempts logged since its last position (less
``margin_seconds``: an insert is stamped when it runs and seen once it has finished), marks every
hour holding one of their events (the hour an attempt begins in now and the one it was counted in
before), and writes each marked hour of each game again, wholly, from the de-duplicated
attempts, with a higher version. Nothing is ever incremented, so a replayed backlog or a pass run
twice writes the same figures again; a late event, an earlier one arriving last or a review
decided days later moves its attempt and both hours are rewritten.

Passes take turns through a PostgreSQL row lock on the aggregate's position, taken with
SKIP LOCKED: with several workers, one runs a pass and the others wait for the next turn.
Versions come from a PostgreSQL sequence, so a pass that failed after writing leaves rows that
the next one's outrank.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge, Histogram

from analytics.db import hourly, positions
from analytics.db.clickhouse import ClickHouse
from gamekeys_platform.db import Database

log = logging.getLogger("analytics.aggregates")

# The change log's days are dropped once a pass has got this far past them.
KEEP_CHANGES = timedelta(days=1)

PASS_SECONDS = Histogram("analytics_aggregate_pass_seconds", "Time one aggregator pass takes")
HOURS_RECOMPUTED = Histogram(
    "analytics_aggregate_hours_recomputed",
    "Hours of a game one aggregator pass wrote again",
    buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000),
)
LAG_SECONDS = Gauge(
    "analytics_aggregate_lag_seconds", "How far behind the server's clock the last pass started reading"
)


class Aggregator:
    def __init__(
        self, db: Database, clickhouse: ClickHouse, *, interval_seconds: float, margin_seconds: float
    ) -> None:
        self.db = db
        self.clickhouse = clickhouse
        self.interval_seconds = interval_seconds
        self.margin_seconds = margin_seconds
        self.stop_event = threading.Event()
        # A position in one ClickHouse database's change log.
        self.position = f"{clickhouse.database}.activation_hourly"
        self.changes_kept_from: int | None = None

    @classmethod
    def from_settings(cls, db: Database, clickhouse: ClickHouse, settings) -> Aggregator:
        return cls(
            db,
            clickhouse,
            interval_seconds=settings.aggregate_interval_seconds,
            margin_seconds=settings.aggregate_margin_seconds,
        )

    def run_once(self) -> int | None:
        """One pass; returns how many hours it wrote, None when another worker's pass has the turn."""
        started = time.perf_counter()
        ch = self.clickhouse
        with self.db.transaction() as session:
            since = positions.claim(session, self.position)
            if since is None:
                return None
            now = hourly.server_time(ch)
            read_from = max(0, int(since.timestamp() - self.margin_seconds))
            LAG_SECONDS.set(max(0, now - read_from))
            hours = hourly.mark_changed_hours(ch, read_from)
            if hours:
                hourly.recompute_marked_hours(ch, positions.next_version(session))
            self._drop_read_changes(read_from)
            positions.advance(session, self.position, datetime.fromtimestamp(now, UTC))
        PASS_SECONDS.observe(time.perf_counter() - started)
        HOURS_RECOMPUTED.observe(hours)
        return hours

    def _drop_read_changes(self, read_from: int) -> None:
        kept_from = int((datetime.fromtimestamp(read_from, UTC) - KEEP_CHANGES).strftime("%Y%m%d"))
        if kept_from == self.changes_kept_from:  # looked once a day
            return
        self.changes_kept_from = kept_from
        for day in hourly.changes_partitions(self.clickhouse):
            if day < kept_from:
                hourly.drop_changes_partition(self.clickhouse, day)

    def run_forever(self) -> None:
        log.info("aggregator started")
        while not self.stop_event.is_set():
            try:
                hours = self.run_once()
                if hours:
                    log.debug("aggregator pass wrote %d hours", hours)
            except Exception as exc:  # a store away: the next pass reads from the same position
                log.warning("aggregator pass failed: %s: %s", type(exc).__name__, exc)
            self.stop_event.wait(self.interval_seconds)
        log.info("aggregator stopped")

    def stop(self) -> None:
        self.stop_event.set()
