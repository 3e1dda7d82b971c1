"""Who may do what with builds and media (ARCHITECTURE.md §7): studio admins and developers
write builds, marketing also writes media (store-page metadata), every other member of the studio
reads, platform admins do everything and support reads.

A CI credential of developer-portal (an API key, or an upload token from trusted publishing) acts
for its studio on the games it names only, within its scopes: ``builds:write`` creates and
uploads versions, edits and deletes them and writes media, and also reads (a CI job that pushes
follows its build until it is ready); ``builds:read`` lists, reads and downloads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    WRITE_MEDIA = "write_media"


SCOPE_READ = "builds:read"
SCOPE_WRITE = "builds:write"

# Platform roles a JWT needs before the studio's own roles are looked at.
WRITER_ROLES = ("developer", "admin")
READER_ROLES = ("developer", "admin", "support")


def team_role_allows(role: str | None, action: Action) -> bool:
    if role in ("admin", "developer"):
        return True
    if role == "marketing" and action is Action.WRITE_MEDIA:
        return True
    return role is not None and action is Action.READ


def platform_role_allows(roles: frozenset[str], action: Action) -> bool:
    return "admin" in roles or ("support" in roles and action is Action.READ)


def platform_roles_for(action: Action) -> tuple[str, ...]:
    return READER_ROLES if action is Action.READ else WRITER_ROLES


def key_scope_for(action: Action) -> str:
    """The scope a CI credential needs for ``action`` (named in a 403)."""
    return SCOPE_READ if action is Action.READ else SCOPE_WRITE


def key_scopes_allow(scopes: Iterable[str], action: Action) -> bool:
    granted = frozenset(scopes)
    if action is Action.READ:
        return not granted.isdisjoint((SCOPE_READ, SCOPE_WRITE))
    return SCOPE_WRITE in granted


def key_covers_game(
    key_developer_id: uuid.UUID,
    key_game_ids: Iterable[uuid.UUID],
    *,
    game_id: uuid.UUID,
    developer_id: uuid.UUID,
) -> bool:
    """A credential names the games it may touch, all of its own studio; a game it does not name,
    or one that has changed hands since, is not its."""
    return key_developer_id == developer_id and game_id in frozenset(key_game_ids)
