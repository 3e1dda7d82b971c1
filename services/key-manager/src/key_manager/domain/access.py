"""Who may do what with keys (ARCHITECTURE.md §7), as plain rules over roles.

Team roles come from the studio's membership (developer-portal owns them; we keep a projection):
admin and developer do everything with their studio's keys; marketing works with promotional
keys and may export keys; finance only reads. Platform admins act on every studio; platform
support reads key state. Services act with scopes on the internal API.
"""

from __future__ import annotations

from enum import StrEnum

from key_manager.domain.states import KeyType


class Action(StrEnum):
    READ = "read"  # batches, masked key info, key state
    EXPORT = "export"  # decrypted keys: JSON pages and CSV
    GENERATE = "generate"
    MODIFY = "modify"  # revoke, change status


TEAM_ROLES = ("admin", "developer", "marketing", "finance")

SCOPE_READ = "keys:read"
SCOPE_HOLD = "keys:hold"
SCOPE_ACTIVATE = "keys:activate"
SCOPE_ALLOCATE = "keys:allocate"
SCOPE_SELL = "keys:sell"
SCOPE_ISSUE = "keys:issue"  # the Payment Service: store orders and their refunds
SCOPE_CATALOG_READ = "catalog:read"  # the Catalog Service: store stock
SCOPES = (SCOPE_READ, SCOPE_HOLD, SCOPE_ACTIVATE, SCOPE_ALLOCATE, SCOPE_SELL, SCOPE_ISSUE, SCOPE_CATALOG_READ)


def team_role_allows(role: str | None, action: Action, key_type: KeyType | str | None = None) -> bool:
    if role in ("admin", "developer"):
        return True
    if role == "marketing":
        if action in (Action.READ, Action.EXPORT):
            return True
        return key_type is not None and KeyType(key_type) is KeyType.PROMOTIONAL
    if role == "finance":
        return action is Action.READ
    return False


def platform_role_allows(roles: frozenset[str], action: Action) -> bool:
    if "admin" in roles:
        return True
    return "support" in roles and action is Action.READ
