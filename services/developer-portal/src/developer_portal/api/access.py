"""Who the caller is and what they may touch (§7), resolved per request from the token and the
studio's team. Views call one of ``own_studio``, ``studio`` or ``game`` before anything else."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Row

from developer_portal.db import repository
from developer_portal.domain.permissions import PLATFORM_USER_ROLES, Action, Decision, decide
from developer_portal.usecases.common import Actor
from gamekeys_platform.auth import Principal, current_principal, require_roles
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import ApiError, not_found
from gamekeys_platform.request_context import current_request_id

# Every public route needs a user token (any platform role); a service token is 403 there.
require_user = require_roles(*PLATFORM_USER_ROLES)


@dataclass(frozen=True)
class StudioAccess:
    developer: Row
    role: str | None  # the caller's studio role; None for a platform admin reading


# Routes on the caller's own studio answer 404 before the caller has registered one.
NO_STUDIO = {404: "NOT_FOUND: the caller has no studio yet (register it with POST /accounts)"}


def caller() -> Principal:
    return current_principal()


def actor() -> Actor:
    """The caller as the use cases know it: who, and the request it came with."""
    principal = current_principal()
    return Actor(principal.subject, principal.is_service, principal.email, current_request_id())


def caller_user_id() -> uuid.UUID:
    try:
        return uuid.UUID(current_principal().subject)
    except ValueError:
        raise ApiError("FORBIDDEN", "this operation needs a user token whose sub is a user id") from None


def _enforce(decision: Decision, action: Action, what: str) -> None:
    if decision is Decision.NOT_FOUND:
        raise not_found(what)
    if decision is Decision.FORBIDDEN:
        raise ApiError(
            "FORBIDDEN", "your role does not allow this operation", {"requiredPermission": action.value}
        )


def own_studio(action: Action, *, lock: bool = False) -> StudioAccess:
    """The caller's own studio (``/accounts/me``); 404 if they have none. With ``lock`` the studio
    row is locked first and the membership read again under the lock, so concurrent team changes
    (two admins demoting each other) are decided one after the other."""
    session = request_session()
    membership = repository.membership_of(session, caller_user_id())
    if membership is None:
        raise not_found("developer account")
    if lock:
        developer = repository.get_developer(session, membership.developer_id, lock=True)
        membership = repository.get_member(session, membership.developer_id, membership.user_id)
        if membership is None:
            raise not_found("developer account")
    _enforce(decide(action, studio_role=membership.role), action, "developer account")
    if not lock:
        developer = repository.get_developer(session, membership.developer_id)
    return StudioAccess(developer, membership.role)


def studio(developer_id: uuid.UUID, action: Action) -> StudioAccess:
    """A studio by id: its members (as their role allows) and platform admins (reads)."""
    session = request_session()
    principal = caller()
    membership = repository.membership_of(session, caller_user_id())
    role = membership.role if membership is not None and membership.developer_id == developer_id else None
    decision = decide(action, studio_role=role, platform_roles=principal.roles)
    if decision is Decision.NOT_FOUND:
        raise not_found("developer account")
    developer = repository.get_developer(session, developer_id)
    if developer is None:
        raise not_found("developer account")
    _enforce(decision, action, "developer account")
    return StudioAccess(developer, role)


def studio_to_read(developer_id: uuid.UUID | None, action: Action) -> StudioAccess:
    """The caller's own studio, or (platform admins) the one named by ``developerId``."""
    if developer_id is None:
        return own_studio(action)
    return studio(developer_id, action)


@dataclass(frozen=True)
class GameAccess:
    game: Row
    role: str | None


def game(game_id: uuid.UUID, action: Action, *, lock: bool = False) -> GameAccess:
    """A game: its studio's members (as their role allows) and platform admins (reads); 404 for
    everyone else, exactly as for a game that does not exist."""
    session = request_session()
    principal = caller()
    membership = repository.membership_of(session, caller_user_id())
    row = repository.get_game(session, game_id)
    if row is None:
        raise not_found("game")
    role = membership.role if membership is not None and membership.developer_id == row.developer_id else None
    _enforce(decide(action, studio_role=role, platform_roles=principal.roles), action, "game")
    if lock:  # only once the caller may change it: a stranger never holds a lock on it
        row = repository.get_game(session, game_id, lock=True)
        if row is None:
            raise not_found("game")
    return GameAccess(row, role)
