"""Both schemas: Alembic creates exactly the PostgreSQL tables the code expects; the ClickHouse
runner applies each migration once and records it, and the aggregates' migrations take in the
events stored before them."""

from __future__ import annotations

import uuid
from datetime import date

from analytics_testkit import activation, assessed, at, key_sold

from analytics.aggregates import AGGREGATES
from analytics.db import fraud_hourly, hourly, key_facts, timeline
from analytics.db.clickhouse import ClickHouse, connect
from analytics.db.tables import metadata
from analytics.domain.events import COLUMNS, event_row
from analytics.domain.reports import Period
from analytics.migrate import applied_versions, load_migrations, migrate, split_statements
from gamekeys_platform.testing import migration_drift

CLICKHOUSE_URL = "clickhouse://127.0.0.1:9000"


def test_alembic_migrations_match_the_tables(ctx):
    assert migration_drift(ctx.db.engine.url, metadata) == []


def test_clickhouse_migrations_apply_once_and_are_recorded():
    database = f"analytics_migrate_{uuid.uuid4().hex[:8]}"
    versions = [migration.version for migration in load_migrations()]
    try:
        assert migrate(CLICKHOUSE_URL, database) == versions
        assert migrate(CLICKHOUSE_URL, database) == []  # nothing twice
        store = ClickHouse(CLICKHOUSE_URL, database)
        assert applied_versions(store) == versions
        assert ("events",) in store.execute("SHOW TABLES")
        store.close()
    finally:
        server = connect(CLICKHOUSE_URL, "default", timeout_seconds=30)
        server.execute(f"DROP DATABASE IF EXISTS {database}")
        server.disconnect()


def test_statements_split_at_semicolons_ending_a_line_comments_dropped():
    sql = (
        "-- a comment\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Log;\n\n-- only a comment;\nSELECT 1;\n"
    )
    assert split_statements(sql) == ("CREATE TABLE a (x String DEFAULT ';') ENGINE = Log", "SELECT 1")


def test_the_aggregates_and_key_events_take_in_the_events_stored_before_them():
    """Applied to a database that already holds events, migrations 0002 to 0004 and 0006 fill the
    key look-up from them and hand them to the aggregator's first pass, which counts each once
    (each stored twice); 0005 gives them no batches."""
    database = f"analytics_migrate_{uuid.uuid4().hex[:8]}"
    game_id, key_id, retailer_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    held = uuid.uuid4()
    events = [
        activation(game_id, "pending_review", at("2026-03-01T23:30:00"), activation_id=held, key_id=key_id),
        activation(game_id, "activated", at("2026-03-02T09:00:00"), activation_id=held, key_id=key_id),
        activation(game_id, "failed", at("2026-03-02T10:00:00"), reason="KEY_REVOKED"),
        key_sold(retailer_id, "order-7", [uuid.uuid4(), key_id], at("2026-02-27T12:00:00")),
        assessed("BLOCK", ["vpn"], at("2026-03-01T05:00:00"), shadow=["burst"]),
    ]
    first, *later = load_migrations()
    try:
        server = connect(CLICKHOUSE_URL, "default", timeout_seconds=30)
        server.execute(f"CREATE DATABASE {database}")
        server.disconnect()
        store = ClickHouse(CLICKHOUSE_URL, database)
        for statement in first.statements:
            store.execute(statement)
        # The columns the first migration made (0005 added key_batch_ids).
        columns = [column for column in COLUMNS if column != "key_batch_ids"]
        rows = [event_row(event.to_json(), "test") for event in events]
        for _copy in range(2):
            store.insert("events", columns, [[getattr(row, column) for column in columns] for row in rows])
        store.execute(
            "CREATE TABLE schema_migrations (version UInt32, name String, applied_at DateTime('UTC') "
            "DEFAULT now()) ENGINE = MergeTree ORDER BY version"
        )
        store.insert("schema_migrations", ("version", "name"), [(first.version, first.name)])

        assert migrate(CLICKHOUSE_URL, database) == [migration.version for migration in later]
        for aggregate in AGGREGATES:  # the aggregator's first pass, as the worker runs it
            aggregate.recompute_marked(store, 1, aggregate.mark_changed(store, 0))
        period = Period.of(date(2026, 3, 1), date(2026, 3, 2), "UTC", now=at("2026-03-03T00:00:00"))
        counts = hourly.activations_by_day_and_country(store, game_id, period)
        assert sorted((row.day.day, row.event_type, row.count) for row in counts) == [
            (1, "activation.succeeded", 1),
            (2, "activation.failed", 1),
        ]
        verdicts = fraud_hourly.assessment_verdicts(store, period)
        assert sorted((v.rule, v.mode, v.action, v.count) for v in verdicts) == [
            ("", "", "BLOCK", 1),
            ("burst", "shadow", "BLOCK", 1),
            ("vpn", "active", "BLOCK", 1),
        ]
        assert store.execute("SELECT DISTINCT key_batch_ids FROM events") == [([],)]
        sold = key_facts.retailer_totals(store, retailer_id, None)  # 0006: the keys' facts
        assert (sold.keys, sold.sold, sold.activated) == (2, 2, 0)
        assert [event.type for event in timeline.key_events(store, key_id)] == [
            "key.sold",
            "activation.pending_review",
            "activation.succeeded",
        ]
        store.close()
    finally:
        server = connect(CLICKHOUSE_URL, "default", timeout_seconds=30)
        server.execute(f"DROP DATABASE IF EXISTS {database}")
        server.disconnect()
