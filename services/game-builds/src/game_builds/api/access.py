"""Resource checks on top of the token (§7), from the developer.events projection: a studio's
admins and developers write its builds, its other members read them, platform admins do
everything and support reads; anyone else gets 404 (existence does not leak)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Row
from sqlalchemy.orm import Session

from game_builds.db import builds as repo
from game_builds.db import media as media_repo
from game_builds.db.tables import studio_projection as projection
from game_builds.domain.access import Action, platform_role_allows, team_role_allows
from game_builds.storage import StorageUnavailable
from gamekeys_platform.auth import current_principal
from gamekeys_platform.errors import ApiError
from gamekeys_platform.studios import GameOwner


def game_for(session: Session, game_id: uuid.UUID, action: Action, resource: str = "builds") -> GameOwner:
    principal = current_principal()
    owner = projection.game_owner(session, game_id)
    if owner is None or owner.deleted:
        raise ApiError("NOT_FOUND", "game not found", {"gameId": str(game_id)})
    if platform_role_allows(principal.roles, action):
        return owner
    role = projection.member_role(session, owner.developer_id, principal.subject)
    if role is None:
        if principal.has_role("admin", "support"):
            raise ApiError("FORBIDDEN", f"your role may not {_verb(action)} {resource}")
        raise ApiError("NOT_FOUND", "game not found", {"gameId": str(game_id)})
    if not team_role_allows(role, action):
        raise ApiError(
            "FORBIDDEN",
            f"the {role} team role may not {_verb(action)} {resource}",
            {"teamRole": role, "action": action.value},
        )
    return owner


def _verb(action: Action) -> str:
    return "read" if action is Action.READ else "write"


def media_for(session: Session, game_id: uuid.UUID, media_id: uuid.UUID, action: Action) -> Row:
    game_for(session, game_id, action, "media")
    asset = media_repo.get(session, media_id, game_id)
    if asset is None:
        raise ApiError("NOT_FOUND", "media not found", {"mediaId": str(media_id)})
    return asset


def build_for(session: Session, game_id: uuid.UUID, version_id: uuid.UUID, action: Action) -> Row:
    game_for(session, game_id, action)
    build = repo.get(session, version_id, game_id)
    if build is None:
        raise ApiError("NOT_FOUND", "version not found", {"versionId": str(version_id)})
    return build


@contextmanager
def storage() -> Iterator[None]:
    """S3 unreachable → 503 SERVICE_UNAVAILABLE (the transaction rolls back: nothing written)."""
    try:
        yield
    except StorageUnavailable:
        raise ApiError("SERVICE_UNAVAILABLE", "build storage is unavailable, try again shortly") from None
