"""PostgreSQL access: one engine per service, one session per request or unit of work.

Each service owns one schema; its models declare it through ``service_metadata(schema)``
so every table, including the platform's outbox, inbox and idempotency tables, lands
there, and Alembic keeps the service's own version table in it too.

Views do not commit: a view's database work is one transaction, committed by the
``transactional`` or ``idempotency`` decorators when the view succeeds and rolled back
when it raises, so an error response never leaves anything half-written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import MetaData, Table, create_engine, delete, select, text, tuple_
from sqlalchemy.orm import Session, sessionmaker

from gamekeys_platform.tables import define_platform_tables, platform_tables

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """The MetaData of one service's schema, holding the platform tables already."""
    metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    define_platform_tables(metadata)
    return metadata


class Database:
    def __init__(
        self,
        url: str,
        *,
        metadata: MetaData,
        pool_size: int = 5,
        pool_timeout_seconds: float = 5,
        statement_timeout_ms: int = 15_000,
    ) -> None:
        schema = metadata.schema
        self.schema = schema
        self.metadata = metadata
        self.tables = platform_tables(metadata)
        self.engine = create_engine(
            _psycopg_url(url),
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=pool_timeout_seconds,
            # A connection killed by a database restart is noticed before use, not by a request.
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": 5,
                "options": f"-c statement_timeout={statement_timeout_ms} -c search_path={schema},public",
                "application_name": schema,
            },
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings, *, metadata: MetaData) -> Database:
        return cls(
            settings.database_url,
            metadata=metadata,
            pool_size=settings.database_pool_size,
            statement_timeout_ms=settings.database_statement_timeout_ms,
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any exception."""
        with self.sessions.begin() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def init_app(self, app: Flask) -> None:
        app.extensions["gamekeys_db"] = self

        @app.teardown_appcontext
        def close_request_session(_exc: BaseException | None) -> None:
            session = g.pop("db_session", None)
            if session is not None:
                session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def request_session() -> Session:
    """The session of the current request, opened on first use and closed when the request ends."""
    session = g.get("db_session")
    if session is None:
        session = current_app.extensions["gamekeys_db"].sessions()
        g.db_session = session
    return session


def transactional(view: Callable) -> Callable:
    """Commit the request session when the view returns, roll it back when it raises."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        session = request_session()
        try:
            result = view(*args, **kwargs)
            if session.in_transaction():  # a view that refused before touching the database
                session.commit()
            return result
        except BaseException:
            session.rollback()
            raise

    return wrapper


def delete_in_batches(session: Session, table: Table, condition, *, batch_size: int = 5_000) -> int:
    """Delete the rows matching ``condition`` a batch per transaction, so locks stay short;
    returns how many went."""
    key = tuple_(*table.primary_key.columns)
    removed = 0
    while True:
        batch = select(*table.primary_key.columns).where(condition).limit(batch_size)
        deleted = session.execute(delete(table).where(key.in_(batch))).rowcount
        session.commit()
        removed += deleted
        if deleted < batch_size:
            return removed


def _psycopg_url(url: str) -> str:
    # Accept the plain libpq form operators know; SQLAlchemy needs the driver named.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url
