"""Who may do what (ARCHITECTURE.md §7) inside the developer portal.

Studio roles come from the studio's team; platform roles from the caller's token. A member
acts on their own studio as their studio role allows (403 when it does not); a platform
``admin`` may read every studio (403 on writes); anyone else gets 404 for a studio they are
not in, so even its existence does not leak.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class StudioRole(StrEnum):
    ADMIN = "admin"
    DEVELOPER = "developer"
    MARKETING = "marketing"
    FINANCE = "finance"


STUDIO_ROLES: tuple[str, ...] = tuple(role.value for role in StudioRole)

# Platform roles carried by user tokens (§3); services carry scopes instead.
PLATFORM_USER_ROLES: tuple[str, ...] = ("user", "developer", "admin", "support")
PLATFORM_ADMIN = "admin"


class Action(StrEnum):
    STUDIO_READ = "studio.read"
    STUDIO_UPDATE = "studio.update"
    TEAM_READ = "team.read"
    TEAM_MANAGE = "team.manage"
    AUDIT_READ = "audit.read"
    GAME_READ = "game.read"
    GAME_CREATE = "game.create"
    GAME_UPDATE = "game.update"
    GAME_DELETE = "game.delete"
    METADATA_READ = "metadata.read"
    METADATA_UPDATE = "metadata.update"
    PRICING_READ = "pricing.read"
    PRICING_UPDATE = "pricing.update"
    SUBMISSION_READ = "submission.read"
    GAME_SUBMIT = "game.submit"
    GAME_PUBLISH = "game.publish"
    FINANCE_READ = "finance.read"
    FINANCE_MANAGE = "finance.manage"
    ANALYTICS_READ = "analytics.read"
    APIKEY_READ = "apikey.read"
    APIKEY_MANAGE = "apikey.manage"
    TRUSTED_PUBLISHER_READ = "trusted_publisher.read"
    TRUSTED_PUBLISHER_MANAGE = "trusted_publisher.manage"


READ_ACTIONS = frozenset(
    {
        Action.STUDIO_READ,
        Action.TEAM_READ,
        Action.AUDIT_READ,
        Action.GAME_READ,
        Action.METADATA_READ,
        Action.PRICING_READ,
        Action.SUBMISSION_READ,
        Action.FINANCE_READ,
        Action.APIKEY_READ,
        Action.TRUSTED_PUBLISHER_READ,
        Action.ANALYTICS_READ,
    }
)
# CI credentials (API keys, trusted publishers) are seen by those who build: admins and developers.
_CI_READS = frozenset({Action.APIKEY_READ, Action.TRUSTED_PUBLISHER_READ})
# The audit log is for studio admins, money for admins and the finance role.
_MEMBER_READS = READ_ACTIONS - {Action.AUDIT_READ, Action.FINANCE_READ} - _CI_READS

# The role matrix. admin: everything for the studio, team management, and alone creates, rolls
# and revokes CI API keys and trusted publishers (credentials that act for the whole studio);
# developer: games with their metadata and prices, submits and publishes them, sees the CI
# credentials; marketing: metadata;
# finance: money (balance, transactions, payouts and their settings), so prices; read-only
# elsewhere. The audit log is for studio admins. Analytics (activation reports) every role reads:
# developers watch a launch, marketing its promotional keys, finance the reports (§7), as the
# analytics service itself lets any member read.
STUDIO_PERMISSIONS: dict[StudioRole, frozenset[Action]] = {
    StudioRole.ADMIN: frozenset(Action),
    StudioRole.DEVELOPER: _MEMBER_READS
    | _CI_READS
    | {
        Action.GAME_CREATE,
        Action.GAME_UPDATE,
        Action.GAME_DELETE,
        Action.METADATA_UPDATE,
        Action.PRICING_UPDATE,
        Action.GAME_SUBMIT,
        Action.GAME_PUBLISH,
    },
    StudioRole.MARKETING: _MEMBER_READS | {Action.METADATA_UPDATE},
    StudioRole.FINANCE: _MEMBER_READS | {Action.PRICING_UPDATE, Action.FINANCE_READ, Action.FINANCE_MANAGE},
}

# What platform roles may do on a studio they are not a member of.
PLATFORM_PERMISSIONS: dict[str, frozenset[Action]] = {PLATFORM_ADMIN: READ_ACTIONS}


class Decision(StrEnum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"  # 403: the caller may know the resource exists
    NOT_FOUND = "not_found"  # 404: existence must not leak


def studio_allows(role: str, action: Action) -> bool:
    try:
        return action in STUDIO_PERMISSIONS[StudioRole(role)]
    except ValueError:
        return False


def decide(action: Action, *, studio_role: str | None, platform_roles: Iterable[str] = ()) -> Decision:
    """The decision for a caller on one studio's resource.

    ``studio_role`` is the caller's role in that studio, or None if not a member of it.
    """
    if studio_role is not None:
        return Decision.ALLOW if studio_allows(studio_role, action) else Decision.FORBIDDEN
    roles = set(platform_roles)
    if any(action in PLATFORM_PERMISSIONS.get(role, frozenset()) for role in roles):
        return Decision.ALLOW
    if PLATFORM_ADMIN in roles:
        return Decision.FORBIDDEN
    return Decision.NOT_FOUND
