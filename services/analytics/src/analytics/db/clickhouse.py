"""The ClickHouse connection: clickhouse-driver's native-protocol client, one per thread
(a client holds one connection and is not safe to share), for the service's database."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

# What an unreachable, restarting or overloaded server raises: worth a retry, unlike a
# ServerException about the query itself.
UNAVAILABLE = (ch_errors.NetworkError, ch_errors.SocketTimeoutError, EOFError, OSError)


class ClickHouseUnavailable(RuntimeError):
    """ClickHouse could not be reached or did not answer in time."""


def connect(url: str, database: str, *, timeout_seconds: float) -> Client:
    """A client for ``database`` on the server ``url`` names (``clickhouse[s]://user:pw@host:port``)."""
    parts = urlsplit(url)
    secure = parts.scheme == "clickhouses"
    return Client(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (9440 if secure else 9000),
        user=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=database,
        secure=secure,
        connect_timeout=min(timeout_seconds, 5.0),
        send_receive_timeout=timeout_seconds,
        sync_request_timeout=timeout_seconds,
        client_name="gamekeys-analytics",
    )


def slices(count: int, per_slice: int) -> int:
    """How many slices a statement over ``count`` rows goes in, ``per_slice`` at most each (a
    query's memory is capped: 3.7 GiB locally); each slice takes the rows whose hash modulo
    that many is its number."""
    return -(-count // per_slice)


class ClickHouse:
    def __init__(self, url: str, database: str, *, timeout_seconds: float = 10.0) -> None:
        self.url = url
        self.database = database
        self.timeout_seconds = timeout_seconds
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings) -> ClickHouse:
        return cls(
            settings.clickhouse_url,
            settings.clickhouse_database,
            timeout_seconds=settings.clickhouse_timeout_seconds,
        )

    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = connect(
                self.url, self.database, timeout_seconds=self.timeout_seconds
            )
        return client

    def execute(self, query: str, params: dict[str, Any] | None = None) -> list[tuple]:
        try:
            return self.client().execute(query, params)
        except UNAVAILABLE as exc:
            self._reset()
            raise ClickHouseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Insert ``rows`` (each the values of ``columns``, in their order) as one block; returns
        how many. Sent by column (the native protocol's own layout), several times faster than
        row by row; the driver converts a column's values in place, so each is a list of its own
        and the rows stay as they were (a retried insert sends them again)."""
        if not rows:
            return 0
        data = [list(column) for column in zip(*rows, strict=True)]
        try:
            return self.client().execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES", data, columnar=True
            )
        except UNAVAILABLE as exc:
            self._reset()
            raise ClickHouseUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        self.execute("SELECT 1")

    def _reset(self) -> None:
        # The connection may be half-way through a packet: the next call starts a fresh one.
        client = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            client.disconnect()

    def close(self) -> None:
        self._reset()
