"""Where the aggregator's passes have got to (PostgreSQL, ``aggregate_positions``), and the
versions of the rows they write (``aggregate_versions``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from analytics.db.tables import aggregate_positions, aggregate_versions

# A new aggregate reads its change log from the start.
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def claim(session: Session, name: str) -> datetime | None:
    """Lock the aggregate's position for this transaction and return it; None while another
    transaction (another worker's pass) holds it."""
    session.execute(
        insert(aggregate_positions).values(name=name, changes_since=_BEGINNING).on_conflict_do_nothing()
    )
    row = session.execute(
        select(aggregate_positions.c.changes_since)
        .where(aggregate_positions.c.name == name)
        .with_for_update(skip_locked=True)
    ).first()
    return None if row is None else row.changes_since


def advance(session: Session, name: str, changes_since: datetime) -> None:
    session.execute(
        update(aggregate_positions)
        .where(aggregate_positions.c.name == name)
        .values(changes_since=changes_since, updated_at=func.now())
    )


def next_version(session: Session) -> int:
    return session.execute(select(aggregate_versions.next_value())).scalar_one()
