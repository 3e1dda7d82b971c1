"""Resource checks on top of the token (§7), from the developer.events projection: whose
figures the caller may read (``domain.access``)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from analytics.api.common import game_not_found
from analytics.db import projection as reads
from analytics.db.tables import studio_projection as projection
from analytics.domain.access import Verdict, game_access
from gamekeys_platform.auth import Principal, current_principal
from gamekeys_platform.errors import ApiError

NO_ANALYTICS = "your platform role has no analytics"


def readable_game(session: Session, game_id: uuid.UUID) -> None:
    principal = current_principal()
    owner = projection.game_owner(session, game_id)
    if owner is None or owner.deleted:
        raise game_not_found(game_id)
    verdict = game_access(principal.roles, _team_role(session, principal, owner.developer_id))
    if verdict is Verdict.FORBIDDEN:
        raise ApiError("FORBIDDEN", NO_ANALYTICS)
    if verdict is Verdict.HIDDEN:
        raise game_not_found(game_id)


def summary_scope(session: Session, developer_id: uuid.UUID | None) -> list[uuid.UUID] | None:
    """The studios whose games a summary covers: the one asked for, if the caller may read it;
    else every studio the caller belongs to, or None (every game) for a platform admin."""
    principal = current_principal()
    if developer_id is None:
        if principal.has_role("admin"):
            return None
        studios = projection.member_studios(session, principal.subject)
        if not studios and principal.has_role("support"):
            raise ApiError("FORBIDDEN", NO_ANALYTICS)
        return studios
    if not reads.studio_exists(session, developer_id):
        raise studio_not_found(developer_id)
    verdict = game_access(principal.roles, _team_role(session, principal, developer_id))
    if verdict is Verdict.FORBIDDEN:
        raise ApiError("FORBIDDEN", NO_ANALYTICS)
    if verdict is Verdict.HIDDEN:
        raise studio_not_found(developer_id)
    return [developer_id]


def studio_not_found(developer_id: uuid.UUID) -> ApiError:
    return ApiError("NOT_FOUND", "studio not found", {"developerId": str(developer_id)})


def _team_role(session: Session, principal: Principal, developer_id: uuid.UUID) -> str | None:
    return projection.member_role(session, developer_id, principal.subject)
