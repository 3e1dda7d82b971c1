"""Who may read which figures (ARCHITECTURE.md §5 and §7): every member of a studio, whatever
its team role, reads its own games' figures; platform admins read every game's; support staff
have no analytics; anyone else learns nothing, not even that a game exists."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # platform staff without analytics: existence is no secret to them
    HIDDEN = "hidden"  # a stranger: answered as if there were no such game


def game_access(platform_roles: frozenset[str], team_role: str | None) -> Verdict:
    if "admin" in platform_roles or team_role is not None:
        return Verdict.ALLOWED
    if "support" in platform_roles:
        return Verdict.FORBIDDEN
    return Verdict.HIDDEN
