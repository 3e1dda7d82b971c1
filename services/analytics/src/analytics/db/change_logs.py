"""The aggregates' change logs (``activation_changes``, ``fraud_changes``, ``key_changes``): what
changed, stamped by the server's clock when the insert ran, in daily partitions the aggregator
drops once its passes are past them."""

from __future__ import annotations

from analytics.db.clickhouse import ClickHouse


def server_time(ch: ClickHouse) -> int:
    """The server's clock (epoch seconds): the one that stamps the change logs."""
    return ch.execute("SELECT toUInt32(now())")[0][0]


def partitions(ch: ClickHouse, table: str) -> list[int]:
    """The days (``YYYYMMDD``) a change log holds."""
    rows = ch.execute(
        "SELECT DISTINCT partition FROM system.parts "
        "WHERE database = currentDatabase() AND table = %(table)s AND active",
        {"table": table},
    )
    return sorted(int(partition) for (partition,) in rows)


def drop_partition(ch: ClickHouse, table: str, day: int) -> None:
    ch.execute(f"ALTER TABLE {table} DROP PARTITION {int(day)}")
