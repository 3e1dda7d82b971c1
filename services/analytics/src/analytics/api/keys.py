"""A key's timeline, ``GET /api/v1/analytics/keys/{keyId}/timeline`` (ARCHITECTURE.md §5), and
its internal twin for other services (key-manager's provenance, say; scope ``analytics:read``)."""

from __future__ import annotations

import uuid

from analytics.api import access
from analytics.api import schemas as s
from analytics.context import analytics
from analytics.db.tables import studio_projection as projection
from analytics.usecases.timeline import key_timeline
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles, require_scopes
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses

SCOPE_READ = "analytics:read"

blp = Blueprint("keys", __name__, url_prefix="/api/v1/analytics/keys", description="A key's timeline")
internal_blp = Blueprint(
    "internal-keys",
    __name__,
    url_prefix="/internal/v1/analytics/keys",
    description="A key's timeline, for other services (scope analytics:read)",
)


@blp.route("/<uuid:key_id>/timeline", methods=["GET"])
@require_roles("developer", "admin", "support")
@error_responses({404: "KEY_NOT_FOUND: no event names the key, or it is not of the caller's studios"})
@blp.response(200, s.TimelineSchema)
def timeline(key_id: uuid.UUID):
    """Every event about the key, oldest first: its batch, allocation, sale and order, each
    redemption attempt, fraud assessments, activation, return or revocation. Support and
    admins see the player and each event's data; the owning studio's members see the rest."""
    found = key_timeline(analytics().clickhouse, key_id)
    if found is None:
        raise access.key_not_found(key_id)
    details = access.key_reader(request_session(), key_id, found.game_id)
    return found.to_dict(with_details=details)


@internal_blp.route("/<uuid:key_id>/timeline", methods=["GET"])
@require_scopes(SCOPE_READ)
@error_responses({404: "KEY_NOT_FOUND: no event names the key (or not of developerId's games)"})
@internal_blp.arguments(s.TimelineQuerySchema, location="query")
@internal_blp.response(200, s.TimelineSchema)
def internal_timeline(args, key_id: uuid.UUID):
    """As the public route, with every detail; the calling service authorizes its user
    (``developerId``: 404 unless that studio owns the key's game)."""
    found = key_timeline(analytics().clickhouse, key_id)
    if found is None:
        raise access.key_not_found(key_id)
    developer_id = args.get("developerId")
    if developer_id is not None:
        owner = projection.game_owner(request_session(), found.game_id) if found.game_id else None
        if owner is None or owner.developer_id != developer_id:
            raise access.key_not_found(key_id)
    return found.to_dict(with_details=True)
