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


def readable_game(session: Session, game_id: uuid.UUID, not_found: ApiError | None = None) -> None:
    """Members of the game's studio and platform admins read its figures (and those of its
    batches: ``not_found`` is what a stranger is told)."""
    not_found = not_found or game_not_found(game_id)
    principal = current_principal()
    owner = projection.game_owner(session, game_id)
    if owner is None or owner.deleted:
        raise not_found
    verdict = game_access(principal.roles, _team_role(session, principal, owner.developer_id))
    if verdict is Verdict.FORBIDDEN:
        raise ApiError("FORBIDDEN", NO_ANALYTICS)
    if verdict is Verdict.HIDDEN:
        raise not_found


def retailer_games(session: Session) -> set[uuid.UUID] | None:
    """The games whose figures at a retailer the caller may read: every game (None) for a platform
    admin, else the games of the caller's studios (a retailer that sold none of them is then
    answered as unknown)."""
    principal = current_principal()
    if principal.has_role("admin"):
        return None
    studios = projection.member_studios(session, principal.subject)
    if not studios and principal.has_role("support"):
        raise ApiError("FORBIDDEN", NO_ANALYTICS)
    return {game.game_id for game in reads.games_of(session, studios)} if studios else set()


def key_reader(session: Session, key_id: uuid.UUID, game_id: uuid.UUID | None) -> bool:
    """Whether the caller reads a key's timeline with its details (platform staff: support and
    admins), or without them (a member of the studio that owns the key's game); a stranger is
    told the key does not exist."""
    principal = current_principal()
    if principal.has_role("admin", "support"):
        return True
    owner = projection.game_owner(session, game_id) if game_id is not None else None
    if owner is None or _team_role(session, principal, owner.developer_id) is None:
        raise key_not_found(key_id)
    return False


def platform_staff() -> None:
    if not current_principal().has_role("admin", "support"):
        raise ApiError("FORBIDDEN", "fraud statistics are for platform staff")


def key_not_found(key_id: uuid.UUID) -> ApiError:
    return ApiError("KEY_NOT_FOUND", "no event names this key", {"keyId": str(key_id)})


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
