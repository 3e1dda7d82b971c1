"""The aggregator: keeps the aggregates exact, loops of the worker: activation attempts per hour
(``activation_hourly``), fraud assessments per hour (``fraud_hourly``, the same way with a change
log of hours) and what the events say about each key, per batch and per retailer, for the
funnels (``key_batch_facts`` and ``key_retailer_facts``, with a change log of keys, each
changed key written again wholly).

Materialized views count an insert, and a redelivered event is inserted again, so no count is
kept by one. Instead, two views copy each activation event as it is inserted: into
``activation_attempt_events`` (ordered by game and attempt, copies collapse) and into
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Gauge, Histogram

from analytics.db import change_logs, fraud_hourly, hourly, key_facts, positions
from analytics.db.clickhouse import ClickHouse
from gamekeys_platform.db import Database

log = logging.getLogger("analytics.aggregates")

# The change log's days are dropped once a pass has got this far past them.
KEEP_CHANGES = timedelta(days=1)

PASS_SECONDS = Histogram("analytics_aggregate_pass_seconds", "Time one aggregator pass takes", ["aggregate"])
CELLS_RECOMPUTED = Histogram(
    "analytics_aggregate_cells_recomputed",
    "Cells one aggregator pass wrote again: hours (of a game, for activations), keys for the key facts",
    ["aggregate"],
    buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000),
)
LAG_SECONDS = Gauge(
    "analytics_aggregate_lag_seconds",
    "How far behind the server's clock the last pass started reading",
    ["aggregate"],
)


@dataclass(frozen=True)
class Aggregate:
    """An aggregate the passes keep: its name (its position's and its metrics'), its change log,
    and the pass's two ClickHouse steps (mark the cells, hours or keys, changed since an epoch
    second; write that many cells again at a version)."""

    name: str
    changes: str
    mark_changed: Callable[[ClickHouse, int], int]
    recompute_marked: Callable[[ClickHouse, int, int], None]


ACTIVATION_HOURLY = Aggregate(
    "activation_hourly", hourly.CHANGES, hourly.mark_changed_hours, hourly.recompute_marked_hours
)
FRAUD_HOURLY = Aggregate(
    "fraud_hourly", fraud_hourly.CHANGES, fraud_hourly.mark_changed_hours, fraud_hourly.recompute_marked_hours
)
KEY_FACTS = Aggregate(
    "key_facts", key_facts.CHANGES, key_facts.mark_changed_keys, key_facts.recompute_marked_keys
)
HOURLY_AGGREGATES = (ACTIVATION_HOURLY, FRAUD_HOURLY)
AGGREGATES = (*HOURLY_AGGREGATES, KEY_FACTS)


class Aggregator:
    """A loop of passes over ``aggregates`` (every aggregate by default). The worker runs two: the
    hourly aggregates' and the key facts', whose passes over every key an event named in the last
    seconds take longer and would otherwise delay the activation reports' freshness."""

    def __init__(
        self,
        db: Database,
        clickhouse: ClickHouse,
        *,
        interval_seconds: float,
        margin_seconds: float,
        aggregates: tuple[Aggregate, ...] = AGGREGATES,
    ) -> None:
        self.db = db
        self.clickhouse = clickhouse
        self.aggregates = aggregates
        self.interval_seconds = interval_seconds
        self.margin_seconds = margin_seconds
        self.stop_event = threading.Event()
        self.changes_kept_from: dict[str, int] = {}

    @classmethod
    def from_settings(
        cls, db: Database, clickhouse: ClickHouse, settings, aggregates: tuple[Aggregate, ...] = AGGREGATES
    ) -> Aggregator:
        return cls(
            db,
            clickhouse,
            interval_seconds=settings.aggregate_interval_seconds,
            margin_seconds=settings.aggregate_margin_seconds,
            aggregates=aggregates,
        )

    def position(self, aggregate: Aggregate) -> str:
        """The aggregate's position: in one ClickHouse database's change log."""
        return f"{self.clickhouse.database}.{aggregate.name}"

    def run_once(self) -> int | None:
        """A pass of each aggregate; returns how many cells they wrote, None when another
        worker's passes had the turn."""
        written = [cells for cells in map(self._pass, self.aggregates) if cells is not None]
        return sum(written) if written else None

    def _pass(self, aggregate: Aggregate) -> int | None:
        started = time.perf_counter()
        ch = self.clickhouse
        with self.db.transaction() as session:
            since = positions.claim(session, self.position(aggregate))
            if since is None:
                return None
            now = change_logs.server_time(ch)
            read_from = max(0, int(since.timestamp() - self.margin_seconds))
            LAG_SECONDS.labels(aggregate.name).set(max(0, now - read_from))
            cells = aggregate.mark_changed(ch, read_from)
            if cells:
                aggregate.recompute_marked(ch, positions.next_version(session), cells)
            self._drop_read_changes(aggregate.changes, read_from)
            positions.advance(session, self.position(aggregate), datetime.fromtimestamp(now, UTC))
        PASS_SECONDS.labels(aggregate.name).observe(time.perf_counter() - started)
        CELLS_RECOMPUTED.labels(aggregate.name).observe(cells)
        return cells

    def _drop_read_changes(self, changes: str, read_from: int) -> None:
        kept_from = int((datetime.fromtimestamp(read_from, UTC) - KEEP_CHANGES).strftime("%Y%m%d"))
        if kept_from == self.changes_kept_from.get(changes):  # looked once a day
            return
        self.changes_kept_from[changes] = kept_from
        for day in change_logs.partitions(self.clickhouse, changes):
            if day < kept_from:
                change_logs.drop_partition(self.clickhouse, changes, day)

    def run_forever(self) -> None:
        log.info("aggregator started: %s", ", ".join(aggregate.name for aggregate in self.aggregates))
        while not self.stop_event.is_set():
            try:
                cells = self.run_once()
                if cells:
                    log.debug("aggregator pass wrote %d cells", cells)
            except Exception as exc:  # a store away: the next pass reads from the same position
                log.warning("aggregator pass failed: %s: %s", type(exc).__name__, exc)
            self.stop_event.wait(self.interval_seconds)
        log.info("aggregator stopped")

    def stop(self) -> None:
        self.stop_event.set()
