"""Resource checks on top of the token (§7), from the developer.events projection: a studio's
admins and developers write its builds, its other members read them, platform admins do
everything and support reads; anyone else gets 404 (existence does not leak). A CI credential
(``Bearer gkp_…``/``gkpt_…``, see ``game_builds.introspection``) reaches only the games it names,
with its scopes: another game is 404 as for a stranger, a missing scope 403 naming it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Row
from sqlalchemy.orm import Session

from game_builds.db import builds as repo
from game_builds.db import media as media_repo
from game_builds.db.tables import studio_projection as projection
from game_builds.domain.access import (
    Action,
    key_covers_game,
    key_scope_for,
    key_scopes_allow,
    platform_role_allows,
    platform_roles_for,
    team_role_allows,
)
from game_builds.storage import StorageUnavailable
from gamekeys_platform.auth import Principal, current_principal
from gamekeys_platform.errors import ApiError
from gamekeys_platform.openapi import declare
from gamekeys_platform.studios import GameOwner

F = TypeVar("F", bound=Callable[..., Any])

API_KEY_SCHEME = "ciKeyAuth"
API_KEY_SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "gkp_… / gkpt_…",
    "description": "A CI API key of developer-portal (`gkp_…`) or an upload token from trusted "
    "publishing (`gkpt_…`): the games it names only; `builds:write` to create, upload, edit, "
    "delete and write media (and read), `builds:read` to read and download.",
}


def require(action: Action) -> Callable[[F], F]:
    """A platform JWT with a role that may ``action`` at all, or a CI credential (its games and
    scopes are checked in ``game_for``, after the game: a key of another game gets 404 there,
    whatever its scopes). 401 without a valid token, 403 for a JWT without the role."""
    roles = platform_roles_for(action)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if not principal.is_opaque and not principal.has_role(*roles):
                raise ApiError(
                    "FORBIDDEN",
                    "the token lacks the role or scope this operation needs",
                    {"requiredRoles": sorted(roles), "requiredScopes": [key_scope_for(action)]},
                )
            return view(*args, **kwargs)

        declare(wrapper, authenticated=True, security=[{"bearerAuth": []}, {API_KEY_SCHEME: []}])
        return wrapper  # type: ignore[return-value]

    return decorator


def game_for(session: Session, game_id: uuid.UUID, action: Action, resource: str = "builds") -> GameOwner:
    principal = current_principal()
    owner = projection.game_owner(session, game_id)
    if owner is None or owner.deleted:
        raise ApiError("NOT_FOUND", "game not found", {"gameId": str(game_id)})
    if principal.is_opaque:
        return _key_may(principal, owner, game_id, action, resource)
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


def _key_may(
    principal: Principal, owner: GameOwner, game_id: uuid.UUID, action: Action, resource: str
) -> GameOwner:
    claims = principal.claims
    if not key_covers_game(
        claims["developerId"], claims["gameIds"], game_id=game_id, developer_id=owner.developer_id
    ):
        raise ApiError("NOT_FOUND", "game not found", {"gameId": str(game_id)})
    if not key_scopes_allow(principal.scopes, action):
        scope = key_scope_for(action)
        raise ApiError(
            "FORBIDDEN",
            f"this key may not {_verb(action)} {resource}: it needs the {scope} scope",
            {"requiredScopes": [scope], "scopes": sorted(principal.scopes)},
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
