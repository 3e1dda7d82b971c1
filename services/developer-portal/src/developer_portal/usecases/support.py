"""The Admin Service's support search of studios and games: every look-up names the platform
admin it is made for and why, and is recorded in the support access log with what was asked
and how many results were shown, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from developer_portal import serializers
from developer_portal.db import support as repo
from developer_portal.db.tables import support_log
from gamekeys_platform.pagination import page_body


def _criteria(query: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: str(query[name]) for name in names if query.get(name) is not None}


def search_studios(
    session: Session, *, caller: str, request_id: str | None, query: dict[str, Any], after
) -> dict:
    page = repo.search_studios(
        session,
        q=query["q"],
        developer_id=query["developerId"],
        user_id=query["userId"],
        email=query["email"],
        verification_status=query["verificationStatus"],
        suspended=query["suspended"],
        after=after,
        limit=query["limit"],
    )
    support_log.record(
        session,
        admin_id=query["adminId"],
        reason=query["reason"],
        caller=caller,
        action="support.studios",
        query=_criteria(
            query, ("q", "developerId", "userId", "email", "verificationStatus", "suspended", "cursor")
        ),
        result_count=len(page.rows),
        request_id=request_id,
    )
    return page_body(
        page,
        lambda row: {**serializers.developer(row), "members": row.members, "games": row.games},
        lambda row: (row.created_at, row.developer_id),
    )


def search_games(
    session: Session, *, caller: str, request_id: str | None, query: dict[str, Any], after
) -> dict:
    page = repo.search_games(
        session,
        q=query["q"],
        game_id=query["gameId"],
        developer_id=query["developerId"],
        status=query["status"],
        after=after,
        limit=query["limit"],
    )
    support_log.record(
        session,
        admin_id=query["adminId"],
        reason=query["reason"],
        caller=caller,
        action="support.games",
        query=_criteria(query, ("q", "gameId", "developerId", "status", "cursor")),
        result_count=len(page.rows),
        request_id=request_id,
    )
    return page_body(page, serializers.game, lambda row: (row.created_at, row.game_id))
