"""``/blocks`` and ``/activities/{id}/block``: the block list of users, IPs and devices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from antifraud import usecases
from antifraud.api import schemas as s
from antifraud.api.common import PREFIX, REVIEWERS, actor
from antifraud.context import antifraud
from antifraud.db import repository as repo
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError
from gamekeys_platform.errors import format_optional_timestamp as ts
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.pagination import decode_cursor, page_body

blp = Blueprint("blocks", __name__, url_prefix=PREFIX, description="Block list: users, IPs, devices")


def block(row) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "blockId": row.id,
        "entityType": row.entity_type,
        "value": row.value,
        "reason": row.reason,
        "assessmentId": row.assessment_id,
        "createdBy": row.created_by,
        "createdAt": ts(row.created_at),
        "expiresAt": ts(row.expires_at),
        "liftedAt": ts(row.lifted_at),
        "liftedBy": row.lifted_by,
        "active": row.lifted_at is None and (row.expires_at is None or row.expires_at > now),
    }


def _future_or_422(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ApiError(
            "VALIDATION_ERROR",
            "expiresAt must be in the future",
            {"fields": {"json": {"expiresAt": ["in the past"]}}},
        )


@blp.route("/blocks", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.arguments(s.BlockQuerySchema, location="query")
@blp.response(200, s.BlockListSchema)
def list_blocks(query):
    """Block list entries (users, IPs, devices), newest first; ``active=false`` includes lifted
    and expired ones."""
    page = repo.list_blocks(
        request_session(),
        entity_type=query["entityType"],
        value=query["value"],
        active_only=query["active"],
        limit=query["limit"],
        after=decode_cursor(query["cursor"], repo.BLOCK_CURSOR),
    )
    return page_body(page, block, lambda row: (row.created_at, row.id))


@blp.route("/blocks", methods=["POST"])
@require_roles(*REVIEWERS)
@idempotent
@blp.arguments(s.BlockRequestSchema)
@blp.response(201, s.BlockSchema)
def add_block(body):
    """Block a user, IP or device, until ``expiresAt`` or for good (null)."""
    _future_or_422(body["expiresAt"])
    row = usecases.add_block(
        antifraud(),
        request_session(),
        entity_type=body["entityType"],
        value=body["value"],
        reason=body["reason"],
        expires_at=body["expiresAt"],
        actor=actor(),
    )
    return block(row)


@blp.route("/blocks/<uuid:block_id>/lift", methods=["POST"])
@require_roles(*REVIEWERS)
@transactional
@blp.arguments(s.LiftRequestSchema)
@blp.response(200, s.BlockSchema)
def lift_block(body, block_id):
    """Lift a block (an appeal granted); the entry stays in the list as history. Emits
    fraud.block_lifted, which the activation-gateway's projection of blocks follows."""
    row = usecases.lift_block(antifraud(), request_session(), block_id, reason=body["reason"], actor=actor())
    return block(row)


@blp.route("/activities/<uuid:activity_id>/block", methods=["POST"])
@require_roles(*REVIEWERS)
@idempotent
@blp.arguments(s.ActivityBlockRequestSchema)
@blp.response(201, s.BlockListSchema)
def block_activity(body, activity_id):
    """Block the user / device / IP behind an assessment (blockSuspiciousActivity)."""
    _future_or_422(body["expiresAt"])
    rows = usecases.block_activity(
        antifraud(),
        request_session(),
        activity_id,
        entities=body["entities"],
        reason=body["reason"],
        expires_at=body["expiresAt"],
        actor=actor(),
    )
    return {"items": [block(row) for row in rows], "nextCursor": None}
