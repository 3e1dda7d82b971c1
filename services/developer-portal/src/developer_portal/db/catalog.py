"""Queries of the Catalog's listings: the games that are or were on the store, by when their
listing last changed. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from developer_portal.db.tables import games
from gamekeys_platform.pagination import Page, keyset_page


def touch_listing(session: Session, game_id: uuid.UUID) -> None:
    """The game's listing changed (its metadata or prices) in this transaction."""
    session.execute(update(games).where(games.c.game_id == game_id).values(listing_updated_at=func.now()))


def set_next_price_change(session: Session, game_id: uuid.UUID, at: datetime | None) -> None:
    session.execute(update(games).where(games.c.game_id == game_id).values(next_price_change_at=at))


def claim_price_changes(session: Session, *, now: datetime, limit: int) -> list[Row]:
    """Games whose next discount boundary has come, locked; one another worker holds is skipped."""
    return list(
        session.execute(
            select(games)
            .where(games.c.next_price_change_at <= now)
            .order_by(games.c.next_price_change_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def listed_games(
    session: Session,
    *,
    statuses: Sequence[str],
    updated_since: datetime | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Page:
    """Games in ``statuses``, oldest listing change first (the sync's order)."""
    query = select(games).where(games.c.status.in_(statuses))
    if updated_since is not None:
        query = query.where(games.c.listing_updated_at >= updated_since)
    return keyset_page(session, query, [games.c.listing_updated_at, games.c.game_id], after, limit)
