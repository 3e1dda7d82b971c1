"""Reads of the studio projection beyond the access checks ``StudioProjection`` answers: the
games a summary covers."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.db.tables import studio_projection as projection
from analytics.domain.reports import GameInScope


def studio_exists(session: Session, developer_id: uuid.UUID) -> bool:
    studios = projection.studios
    return (
        session.execute(select(studios.c.developer_id).where(studios.c.developer_id == developer_id)).first()
        is not None
    )


def games_of(session: Session, developer_ids: list[uuid.UUID] | None) -> list[GameInScope]:
    """The games (not deleted) of these studios, or of every studio when ``None``."""
    games = projection.games
    query = select(games.c.game_id, games.c.title).where(games.c.deleted.is_(False)).order_by(games.c.game_id)
    if developer_ids is not None:
        query = query.where(games.c.developer_id.in_(developer_ids))
    return [GameInScope(row.game_id, row.title) for row in session.execute(query)]


def game_title(session: Session, game_id: uuid.UUID) -> str | None:
    games = projection.games
    return session.execute(select(games.c.title).where(games.c.game_id == game_id)).scalar()
