"""Queries of a studio's suspension: its games, and those the suspension took off the
store. Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from developer_portal.db.tables import games
from developer_portal.domain.games import GameStatus


def games_of(session: Session, developer_id: uuid.UUID) -> list[Row]:
    """Every game of the studio, locked in id order. All of them, whatever their status: a game
    being published right now is waited for and then seen as published (a status filter in the
    query would judge it by the version from before the wait and miss it)."""
    query = select(games).where(games.c.developer_id == developer_id)
    return list(session.execute(query.order_by(games.c.game_id).with_for_update()))


def games_taken_off_by_suspension(session: Session, developer_id: uuid.UUID) -> list[Row]:
    """Removed games the suspension took off the store, locked, in id order."""
    query = select(games).where(
        games.c.developer_id == developer_id,
        games.c.status == GameStatus.REMOVED.value,
        games.c.unpublished_by_suspension,
    )
    return list(session.execute(query.order_by(games.c.game_id).with_for_update()))
