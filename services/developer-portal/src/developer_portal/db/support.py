"""Queries of the Admin Service's support search: studios and games by name, id, member.
Functions take the caller's session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from developer_portal.db.tables import developers, games, team_members
from gamekeys_platform.pagination import Page, keyset_page


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_studios(
    session: Session,
    *,
    q: str | None,
    developer_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    email: str | None,
    verification_status: str | None,
    suspended: bool | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Page:
    """Studios matching every criterion given, newest first, with their member and game counts."""
    members = (
        select(func.count())
        .where(team_members.c.developer_id == developers.c.developer_id)
        .scalar_subquery()
        .label("members")
    )
    game_count = (
        select(func.count())
        .where(games.c.developer_id == developers.c.developer_id)
        .scalar_subquery()
        .label("games")
    )
    query = select(developers, members, game_count)
    if q is not None:
        query = query.where(developers.c.company_name.ilike(_contains(q), escape="\\"))
    if developer_id is not None:
        query = query.where(developers.c.developer_id == developer_id)
    if user_id is not None or email is not None:
        member = select(team_members.c.developer_id)
        if user_id is not None:
            member = member.where(team_members.c.user_id == user_id)
        if email is not None:
            member = member.where(func.lower(team_members.c.email) == email.lower())
        query = query.where(developers.c.developer_id.in_(member))
    if verification_status is not None:
        query = query.where(developers.c.verification_status == verification_status)
    if suspended is not None:
        query = query.where(
            developers.c.suspended_at.is_not(None) if suspended else developers.c.suspended_at.is_(None)
        )
    return keyset_page(
        session, query, [developers.c.created_at, developers.c.developer_id], after, limit, descending=True
    )


def search_games(
    session: Session,
    *,
    q: str | None,
    game_id: uuid.UUID | None,
    developer_id: uuid.UUID | None,
    status: str | None,
    after: Sequence[Any] | None,
    limit: int,
) -> Page:
    query = select(games)
    if q is not None:
        query = query.where(games.c.title.ilike(_contains(q), escape="\\"))
    if game_id is not None:
        query = query.where(games.c.game_id == game_id)
    if developer_id is not None:
        query = query.where(games.c.developer_id == developer_id)
    if status is not None:
        query = query.where(games.c.status == status)
    return keyset_page(session, query, [games.c.created_at, games.c.game_id], after, limit, descending=True)
