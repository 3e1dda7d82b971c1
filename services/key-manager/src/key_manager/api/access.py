"""Resource checks on top of the token (§7): which studio's games, batches and keys the caller
may touch, from the developer.events projection. Another studio's resources are a 404."""

from __future__ import annotations

import uuid

from sqlalchemy import Row
from sqlalchemy.orm import Session

from gamekeys_platform.auth import Principal, current_principal
from gamekeys_platform.errors import ApiError
from gamekeys_platform.studios import GameOwner
from key_manager.db import batches as batches_repo
from key_manager.db import keys as keys_repo
from key_manager.db.tables import studio_projection as projection
from key_manager.domain.access import Action, platform_role_allows, team_role_allows


def _not_found(what: str) -> ApiError:
    return ApiError("NOT_FOUND", f"{what} not found")


def _team_check(
    session: Session,
    principal: Principal,
    developer_id: uuid.UUID,
    action: Action,
    key_type: str | None,
    what: str,
) -> None:
    if platform_role_allows(principal.roles, action):
        return
    role = projection.member_role(session, developer_id, principal.subject) if principal.roles else None
    if role is None:
        # Platform staff with too little access may know the resource exists; others may not.
        if principal.has_role("admin", "support"):
            raise ApiError("FORBIDDEN", f"your role may not {action.value} this {what}")
        raise _not_found(what)
    if not team_role_allows(role, action, key_type):
        raise ApiError(
            "FORBIDDEN",
            f"the {role} team role may not {action.value} {key_type or ''} keys".replace("  ", " "),
            {"teamRole": role, "action": action.value},
        )


def game_for(session: Session, game_id: uuid.UUID, action: Action, key_type: str | None) -> GameOwner:
    principal = current_principal()
    owner = projection.game_owner(session, game_id)
    if owner is None or owner.deleted:
        raise ApiError("NOT_FOUND", "game not found", {"gameId": str(game_id)})
    _team_check(session, principal, owner.developer_id, action, key_type, "game")
    if action is Action.GENERATE and owner.suspended:
        raise ApiError(
            "FORBIDDEN",
            "the studio is suspended by the platform: no keys can be generated until it is reinstated",
            {"reason": "STUDIO_SUSPENDED"},
        )
    if action is Action.GENERATE and owner.verification_status != "verified":
        raise ApiError(
            "FORBIDDEN",
            "keys can only be generated for games of verified studios",
            {"verificationStatus": owner.verification_status or "unknown"},
        )
    return owner


def batch_for(session: Session, batch_id: uuid.UUID, action: Action, *, for_update: bool = False) -> Row:
    batch = batches_repo.get_batch(session, batch_id, for_update=for_update)
    if batch is None:
        raise _not_found("batch")
    _team_check(session, current_principal(), batch.developer_id, action, batch.key_type, "batch")
    return batch


def key_for(session: Session, key_id: uuid.UUID, action: Action, *, for_update: bool = False) -> Row:
    key = keys_repo.get_key(session, key_id, for_update=for_update)
    if key is None:
        raise ApiError("KEY_NOT_FOUND", "key not found")
    try:
        _team_check(session, current_principal(), key.developer_id, action, key.key_type, "key")
    except ApiError as exc:
        if exc.code == "NOT_FOUND":
            raise ApiError("KEY_NOT_FOUND", "key not found") from None
        raise
    return key


def may_read_key(session: Session, principal: Principal, key: Row) -> bool:
    """For /validate: is the caller entitled to see this key's state?"""
    if principal.has_scope("keys:read") or platform_role_allows(principal.roles, Action.READ):
        return True
    if not principal.roles:
        return False
    role = projection.member_role(session, key.developer_id, principal.subject)
    return team_role_allows(role, Action.READ, key.key_type)


def visible_studios(session: Session) -> list[uuid.UUID] | None:
    """None: every studio (platform admin or support); else the caller's studios."""
    principal = current_principal()
    if platform_role_allows(principal.roles, Action.READ):
        return None
    return projection.member_studios(session, principal.subject)
