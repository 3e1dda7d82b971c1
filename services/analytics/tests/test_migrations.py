"""Both schemas: Alembic creates exactly the PostgreSQL tables the code expects; the ClickHouse
runner applies each migration once and records it."""

from __future__ import annotations

import uuid

from analytics.db.clickhouse import ClickHouse, connect
from analytics.db.tables import metadata
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
