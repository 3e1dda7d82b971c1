"""ClickHouse schema migrations of the analytics service: ``python -m analytics.migrate``
(``make migrate`` runs it; so does the chart's migration job).

Migrations are SQL files under ``db/clickhouse_migrations``, named ``<version>_<name>.sql``,
applied in version order, each once: the database gets a ``schema_migrations`` table of the
versions applied. ClickHouse DDL has no transactions, so a migration that fails half-way is
run again from its start next time: every statement must be safe to repeat (``IF NOT EXISTS``).
Statements are separated by a semicolon at the end of a line.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from analytics.db.clickhouse import ClickHouse, connect
from analytics.settings import ClickHouseSettings
from gamekeys_platform.logs import configure_logging
from gamekeys_platform.settings import ConfigError, load_settings

log = logging.getLogger("analytics.migrate")

MIGRATIONS_DIR = Path(__file__).parent / "db" / "clickhouse_migrations"
VERSION_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: a migration is named <4-digit version>_<name>.sql")
        version = int(match.group(1))
        if version in migrations:
            raise ValueError(f"two migrations with version {version}")
        migrations[version] = Migration(version, match.group(2), split_statements(path.read_text()))
    return [migrations[version] for version in sorted(migrations)]


def split_statements(sql: str) -> tuple[str, ...]:
    statements = []
    for chunk in _STATEMENT_END.split(sql):
        code = "\n".join(line for line in chunk.splitlines() if not line.lstrip().startswith("--"))
        if code.strip():
            statements.append(code.strip())
    return tuple(statements)


def migrate(url: str, database: str, *, timeout_seconds: float = 30.0) -> list[int]:
    """Create ``database`` if need be and apply the migrations it lacks; returns their versions."""
    server = connect(url, "default", timeout_seconds=timeout_seconds)
    try:
        server.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    finally:
        server.disconnect()
    store = ClickHouse(url, database, timeout_seconds=timeout_seconds)
    try:
        store.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
            "(version UInt32, name String, applied_at DateTime('UTC') DEFAULT now()) "
            "ENGINE = MergeTree ORDER BY version"
        )
        applied = set(applied_versions(store))
        done = []
        for migration in load_migrations():
            if migration.version in applied:
                continue
            for statement in migration.statements:
                store.execute(statement)
            store.insert(VERSION_TABLE, ("version", "name"), [(migration.version, migration.name)])
            log.info("applied ClickHouse migration %04d_%s", migration.version, migration.name)
            done.append(migration.version)
        return done
    finally:
        store.close()


def applied_versions(store: ClickHouse) -> list[int]:
    query = f"SELECT version FROM {VERSION_TABLE} ORDER BY version"  # noqa: S608 - a constant name
    return [version for (version,) in store.execute(query)]


def main() -> None:
    try:
        settings = load_settings(ClickHouseSettings)
    except ConfigError as exc:
        sys.exit(str(exc))
    configure_logging("analytics", "INFO")
    done = migrate(settings.clickhouse_url, settings.clickhouse_database)
    target = f"ClickHouse database {settings.clickhouse_database}"
    print(f"{target}: applied {', '.join(f'{v:04d}' for v in done)}" if done else f"{target}: up to date")


if __name__ == "__main__":
    main()
