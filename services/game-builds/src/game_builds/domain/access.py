"""Who may do what with builds (ARCHITECTURE.md §7): studio admins and developers write, every
other member of the studio reads, platform admins do everything and support reads."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


def team_role_allows(role: str | None, action: Action) -> bool:
    if role in ("admin", "developer"):
        return True
    return role is not None and action is Action.READ


def platform_role_allows(roles: frozenset[str], action: Action) -> bool:
    return "admin" in roles or ("support" in roles and action is Action.READ)
