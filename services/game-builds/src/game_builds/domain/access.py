"""Who may do what with builds and media (ARCHITECTURE.md §7): studio admins and developers
write builds, marketing also writes media (store-page metadata), every other member of the studio
reads, platform admins do everything and support reads."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    WRITE_MEDIA = "write_media"


def team_role_allows(role: str | None, action: Action) -> bool:
    if role in ("admin", "developer"):
        return True
    if role == "marketing" and action is Action.WRITE_MEDIA:
        return True
    return role is not None and action is Action.READ


def platform_role_allows(roles: frozenset[str], action: Action) -> bool:
    return "admin" in roles or ("support" in roles and action is Action.READ)
