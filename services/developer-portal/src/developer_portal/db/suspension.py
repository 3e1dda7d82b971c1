"""Queries of a studio's suspension: its games by status, and those the suspension took off the
store. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from developer_portal.db.tables import games
from developer_portal.domain.games import GameStatus


def games_of(session: Session, developer_id: uuid.UUID, *, status: str, lock: bool = False) -> list[Row]:
    query = select(games).where(games.c.developer_id == developer_id, games.c.status == status)
    if lock:
        query = query.with_for_update()
    return list(session.execute(query.order_by(games.c.game_id)))


def games_taken_off_by_suspension(session: Session, developer_id: uuid.UUID) -> list[Row]:
    """Removed games the suspension took off the store, locked, in id order."""
    query = select(games).where(
        games.c.developer_id == developer_id,
        games.c.status == GameStatus.REMOVED.value,
        games.c.unpublished_by_suspension,
    )
    return list(session.execute(query.order_by(games.c.game_id).with_for_update()))
