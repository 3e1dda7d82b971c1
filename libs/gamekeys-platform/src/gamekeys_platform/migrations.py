"""Alembic glue shared by every service: each service's ``migrations/env.py`` is two lines.

Every service migrates only its own schema and keeps its ``alembic_version`` table there,
so seven services can share one PostgreSQL database (locally) or each have their own.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, text

from gamekeys_platform.db import NAMING_CONVENTION, _psycopg_url
from gamekeys_platform.tables import define_platform_tables


def run_migrations(metadata: MetaData) -> None:
    """Body of a service's env.py: online migrations of ``metadata.schema`` at DATABASE_URL."""
    schema = metadata.schema
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set: it names the PostgreSQL database to migrate")
    engine = create_engine(_psycopg_url(url))
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, _parent: type_ != "schema" or name == schema,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_platform_tables(schema: str) -> None:
    """For a service's first revision: the outbox, inbox and idempotency tables, version 1."""
    bind = context.get_bind()
    for table in vars(
        define_platform_tables(MetaData(schema=schema, naming_convention=NAMING_CONVENTION))
    ).values():
        table.create(bind, checkfirst=True)


def create_support_log(schema: str) -> None:
    """The support access log (``gamekeys_platform.support``), in the revision that adds it."""
    from gamekeys_platform.support import SupportLog

    SupportLog.define(MetaData(schema=schema, naming_convention=NAMING_CONVENTION)).table.create(
        context.get_bind(), checkfirst=True
    )


def drop_support_log(schema: str) -> None:
    context.get_bind().execute(text(f'DROP TABLE IF EXISTS "{schema}".support_access_log'))


def upgrade_to_head(alembic_ini: Path | str, database_url: str) -> None:
    """Apply a service's migrations programmatically (tests, tools); ``make migrate`` uses the CLI."""
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(Path(alembic_ini).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")
